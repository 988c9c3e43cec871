// The import graph of harness/: no cycle (a type that lives in the CLI once tied six files into
// one), and the exit-code vocabulary lives in outcome.ts, not in cli.ts.
import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { repoRoot } from '../../harness/config.js';

function importGraph(dir: string): Map<string, string[]> {
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) files.push(resolve(p));
    }
  };
  walk(dir);
  const g = new Map<string, string[]>();
  for (const f of files) {
    const deps = [...readFileSync(f, 'utf8').matchAll(/from '(\.[^']+)\.js'/g)].map((m) => resolve(dirname(f), `${m[1]}.ts`));
    g.set(f, deps.filter((d) => files.includes(d)));
  }
  return g;
}

function cycles(g: Map<string, string[]>): string[][] {
  const state = new Map<string, 1 | 2>();
  const found: string[][] = [];
  const dfs = (n: string, stack: string[]): void => {
    state.set(n, 1);
    stack.push(n);
    for (const d of g.get(n) ?? []) {
      if (state.get(d) === 1) found.push(stack.slice(stack.indexOf(d)));
      else if (!state.get(d)) dfs(d, stack);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of g.keys()) if (!state.get(n)) dfs(n, []);
  return found;
}

test('harness/ has no import cycle', (t) => {
  const harness = join(repoRoot, 'harness');
  const found = cycles(importGraph(harness)).map((c) => c.map((f) => relative(harness, f)).join(' -> '));
  t.deepEqual(found, []);
});

test('the cycle check sees a cycle when there is one', (t) => {
  const g = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['a']],
  ]);
  t.deepEqual(cycles(g), [['a', 'b', 'c']]);
});

test('no module but cli.ts imports cli.ts', (t) => {
  const harness = join(repoRoot, 'harness');
  const cli = resolve(harness, 'cli.ts');
  const importers = [...importGraph(harness)].filter(([, deps]) => deps.includes(cli)).map(([f]) => relative(harness, f));
  t.deepEqual(importers, []);
});
