// A fake guest for the runner's watcher (guest-runner/watch.ts): its runner writes `script` (stdout
// lines and console lines, in that order) and then stays silent until the watcher gives up.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_RUNNER_BOUNDS, runWorkloadsInGuest, type RunnerBounds } from '../harness/guest-runner/watch.js';
import type { Vm } from '../harness/vm/runner.js';
import type { WorkloadSpec } from '../harness/workloads/types.js';
import { testTempDir } from './tmp.js';

export type ScriptStep = { out: string } | { console: string };

/** Watch the scripted guest run `names`; returns the watcher's outcome and how long it took. */
export async function watchScripted(script: readonly ScriptStep[], names: readonly string[], bounds: Partial<RunnerBounds> = {}) {
  const dir = testTempDir('pinlab-watch-');
  const consoleLog = join(dir, 'console.log');
  writeFileSync(consoleLog, 'PINLAB-READY\n');
  const vm = {
    consoleLog,
    consoleText: async () => readFileSync(consoleLog, 'utf8'),
    exec: (_argv: readonly string[], opts: { onStdout?: (chunk: Buffer) => void; signal?: AbortSignal }) =>
      new Promise((_resolve, reject) => {
        for (const step of script) {
          if ('out' in step) opts.onStdout?.(Buffer.from(step.out));
          else appendFileSync(consoleLog, step.console);
        }
        opts.signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      }),
  } as unknown as Vm;
  const t0 = Date.now();
  const r = await runWorkloadsInGuest(
    vm,
    names.map((name) => ({ name }) as WorkloadSpec),
    { reporter: { onEvent: () => undefined, finish: async () => undefined }, index: new Map(), total: names.length, onHello: () => undefined, onObservation: () => undefined },
    join(dir, 'runner.log'),
    { signal: new AbortController().signal, bounds: { ...DEFAULT_RUNNER_BOUNDS, ...bounds } },
  );
  return { ...r, ms: Date.now() - t0 };
}
