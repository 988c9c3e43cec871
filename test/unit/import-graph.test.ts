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
    const text = readFileSync(f, 'utf8');
    const deps = [...text.matchAll(/from '(\.[^']+)\.js'/g)].map((m) => resolve(dirname(f), `${m[1]}.ts`));
    // packages as 'pkg:NAME' (node: builtins left out)
    const pkgs = [...text.matchAll(/from '([^.'][^']*)'/g)].map((m) => m[1]!).filter((n) => !n.startsWith('node:')).map((n) => `pkg:${n}`);
    g.set(f, [...deps.filter((d) => files.includes(d)), ...pkgs]);
  }
  return g;
}

/** Every module `from` reaches through its imports (itself excluded). */
function reach(g: Map<string, string[]>, from: string): Set<string> {
  const seen = new Set<string>();
  const todo = [...(g.get(from) ?? [])];
  while (todo.length) {
    const n = todo.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    todo.push(...(g.get(n) ?? []));
  }
  return seen;
}

/** Host-only modules: what the guest must never load (it has no QEMU, no ssh client, no kernel tree). */
const HOST_ONLY = [/^vm\//, /^kernel\//, /^exec\.ts$/, /^pipeline\.ts$/, /^commands\.ts$/, /^cli\.ts$/, /^guest-runner\/watch\.ts$/, /^pkg:(ssh2|execa|commander)$/];

/** Guest files (harness/guest/*) that reach a host-only module, with the first such module. */
function guestViolations(g: Map<string, string[]>, harness: string): string[] {
  const rel = (f: string): string => (f.startsWith('pkg:') ? f : relative(harness, f));
  return [...g.keys()]
    .filter((f) => rel(f).startsWith('guest/'))
    .flatMap((f) => {
      const bad = [...reach(g, f)].map(rel).filter((m) => HOST_ONLY.some((re) => re.test(m)));
      return bad.length ? [`${rel(f)} -> ${bad.sort().join(', ')}`] : [];
    });
}

/**
 * Imports that would run against the data flow (from a stage to one that comes after it, or
 * between the two sides of the guest line), direct ones: each pair of folders kept apart, why.
 */
const AGAINST_FLOW: { from: RegExp; to: RegExp; why: string }[] = [
  { from: /^kernel\//, to: /^vm\//, why: 'the kernel phase comes before the VM (a shared helper goes below both)' },
  { from: /^workloads\//, to: /^bench\//, why: 'bench measures the workloads; they do not build on it' },
  { from: /^workloads\//, to: /^verdict\//, why: 'the workloads report what happened; the verdict judges it afterwards' },
  { from: /^guest\//, to: /^verdict\//, why: 'the guest observes, the host judges' },
  { from: /^verdict\//, to: /^guest\//, why: "verdicts come from what the guest sent, not from the guest's code" },
];

/** Direct imports that break AGAINST_FLOW, as "from -> to (why)". */
function againstFlow(g: Map<string, string[]>, harness: string): string[] {
  const rel = (f: string): string => (f.startsWith('pkg:') ? f : relative(harness, f));
  return [...g].flatMap(([f, deps]) =>
    deps.flatMap((d) => AGAINST_FLOW.filter((r) => r.from.test(rel(f)) && r.to.test(rel(d))).map((r) => `${rel(f)} -> ${rel(d)} (${r.why})`)),
  );
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
  for (const n of g.keys()) if (!n.startsWith('pkg:') && !state.get(n)) dfs(n, []);
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

test('guest code (harness/guest/) imports no host module, directly or through another', (t) => {
  const harness = join(repoRoot, 'harness');
  const g = importGraph(harness);
  t.true([...g.keys()].some((f) => relative(harness, f) === 'guest/main.ts'), 'the guest entry point is guest/main.ts');
  t.deepEqual(guestViolations(g, harness), []);
});

test('the guest check sees a guest module that reaches the VM code through a shared one', (t) => {
  const h = '/h';
  const g = new Map([
    ['/h/guest/main.ts', ['/h/workloads/shared.ts']],
    ['/h/workloads/shared.ts', ['/h/vm/channel.ts']],
    ['/h/vm/channel.ts', ['pkg:ssh2']],
    ['/h/guest/parse.ts', []],
  ]);
  t.deepEqual(guestViolations(g, h), ['guest/main.ts -> pkg:ssh2, vm/channel.ts']);
});

test('no import runs against the data flow (kernel -> vm, workloads -> bench or verdict, guest <-> verdict)', (t) => {
  const harness = join(repoRoot, 'harness');
  t.deepEqual(againstFlow(importGraph(harness), harness), []);
});

test('the flow check sees each kind of backward import', (t) => {
  const g = new Map([
    ['/h/kernel/image.ts', ['/h/vm/image.ts', '/h/cpio.ts']],
    ['/h/workloads/engines.ts', ['/h/bench/stats.ts']],
    ['/h/workloads/faults.ts', ['/h/workloads/ops.ts', '/h/verdict/judge.ts']],
    ['/h/guest/linux.ts', ['/h/verdict/gup-test.ts']],
    ['/h/verdict/judge.ts', ['/h/guest/trace-names.ts', '/h/trace-names.ts']],
  ]);
  t.deepEqual(
    againstFlow(g, '/h').map((l) => l.replace(/ \(.*\)$/, '')),
    ['kernel/image.ts -> vm/image.ts', 'workloads/engines.ts -> bench/stats.ts', 'workloads/faults.ts -> verdict/judge.ts', 'guest/linux.ts -> verdict/gup-test.ts', 'verdict/judge.ts -> guest/trace-names.ts'],
  );
});
