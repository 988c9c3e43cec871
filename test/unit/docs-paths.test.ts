// Every repository path the README and docs/ name exists: a renamed or removed file makes the
// guide point at nothing (the README named harness/bench/guest-bench.ts long after it moved).
// Paths are the words that start with a top-level folder of the repository, and the targets of
// relative Markdown links; globs and placeholders (*, [..], <..>) are not paths, nor the kernel's
// scripts/ (pinlab's scripts are .js).
import test from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { repoRoot } from '../../harness/config.js';

const TOP = ['harness', 'native', 'test', 'docs', 'patches', 'images', 'kernel-config', 'scripts', 'examples', 'vendor', 'bin', '.ci'];
const PATH_WORD = new RegExp(`(?<![\\w./~$-])(?:${TOP.map((t) => t.replace('.', '\\.')).join('|')})/[\\w./@+-]*`, 'g');
const LINK = /\]\(([^)\s#]+)(?:#[^)]*)?\)/g;

function docs(): string[] {
  const out = ['README.md'];
  const walk = (dir: string): void => {
    for (const e of readdirSync(join(repoRoot, dir), { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.md')) out.push(join(dir, e.name));
    }
  };
  walk('docs');
  return out;
}

/** The repository paths a Markdown file names, each with the line it is on. */
export function namedPaths(file: string, text: string): { path: string; line: number }[] {
  const found: { path: string; line: number }[] = [];
  text.split('\n').forEach((l, i) => {
    for (const m of l.matchAll(PATH_WORD)) {
      const word = m[0].replace(/[.,:;]+$/, '');
      const next = l[m.index! + m[0].length];
      if (next === '*' || next === '[' || next === '<' || next === '{') continue;
      // the kernel has a scripts/ too (scripts/checkpatch.pl): pinlab's own scripts are node's
      if (word.startsWith('scripts/') && !word.endsWith('.js')) continue;
      found.push({ path: word, line: i + 1 });
    }
    for (const m of l.matchAll(LINK)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      found.push({ path: relative(repoRoot, join(repoRoot, dirname(file), target)), line: i + 1 });
    }
  });
  return found.filter((f, i) => found.findIndex((g) => g.path === f.path && g.line === f.line) === i);
}

test('every repository path named in README.md and docs/ exists', (t) => {
  const missing: string[] = [];
  const files = docs();
  let checked = 0;
  for (const f of files) {
    for (const { path, line } of namedPaths(f, readFileSync(join(repoRoot, f), 'utf8'))) {
      checked++;
      if (!existsSync(join(repoRoot, path))) missing.push(`${f}:${line}: ${path}`);
    }
  }
  t.true(checked > 50, `only ${checked} paths found: the pattern has stopped matching`);
  t.deepEqual(missing, []);
});

test('the check finds a missing path (it can fail)', (t) => {
  const named = namedPaths('README.md', 'the addon (`harness/bench/guest-bench.ts`), see [ci](docs/ci.md#x), `native/*.cc`, the kernel\'s `scripts/checkpatch.pl` and `scripts/test.js`');
  t.deepEqual(named.map((n) => n.path), ['harness/bench/guest-bench.ts', 'docs/ci.md', 'scripts/test.js']);
  t.false(existsSync(join(repoRoot, named[0]!.path)));
});
