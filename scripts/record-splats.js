#!/usr/bin/env node
// Makes the runs the splat classifier's recorded kernel logs come from (the `provoked` role of
// scripts/record-fixtures.js): for each provocation of test/fixtures/provoke-runner.ts, a real
// `pinlab run` of patched-6.1 built with test/fixtures/config/lkdtm.config, in-process, as
// `pinlab run -p patched-6.1 --config-fragment test/fixtures/config/lkdtm.config -f WORKLOAD`
// would, except that the in-guest runner is the provoke runner: while WORKLOAD runs, the kernel
// is made to print a real report through LKDTM (warning, BUG, NULL pointer dereference, hung
// task, soft lockup, RCU stall, panic). One run, one fresh guest, per provocation: a soft lockup
// or RCU stall leaves a CPU spinning for good, a panic ends the guest. The report is in the
// workload's kmsg lines (FAIL kernel-splat) when the runner can finish the workload; after a
// spinning CPU it cannot (ERROR timeout), and after a panic there is no guest: then the report is
// read from the console.
//
//   npm run build && node scripts/record-splats.js DIR [PROVOCATION...]
//   node scripts/record-fixtures.js provoked=DIR
//
// DIR/<provocation>/ is each run's directory, with provoke.json saying what was provoked.
// Needs root, QEMU and that kernel (built on a cache miss, like pinlab run).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (m) => import(join(root, 'dist', m));
const [{ createContext }, { kernelRequest }, { runOneKernel }, { selectWorkloads }, { TerminalReporter }, { PROVOCATIONS }, { DEFAULT_RUNNER_BOUNDS }] = await Promise.all([
  dist('harness/context.js'),
  dist('harness/kernel/index.js'),
  dist('harness/pipeline.js'),
  dist('harness/workloads/catalogue.js'),
  dist('harness/report/terminal.js'),
  dist('test/fixtures/provoke-runner.js'),
  dist('harness/guest-runner/watch.js'),
]);

/** The workload each report is provoked under: synchronous Direct I/O on the raw virtio disk. */
export const WORKLOAD = 'raw-virtio.psync.anon';
export const FRAGMENT = join(root, 'test/fixtures/config/lkdtm.config');

const [parent, ...only] = process.argv.slice(2);
if (!parent || only.some((p) => !PROVOCATIONS[p])) {
  process.stderr.write(`usage: record-splats.js DIR [PROVOCATION...] (provocations: ${Object.keys(PROVOCATIONS).join(', ')})\n`);
  process.exit(2);
}
const ctx = createContext({});
for (const what of only.length ? only : Object.keys(PROVOCATIONS)) {
  const runDir = resolve(parent, what);
  mkdirSync(runDir, { recursive: true });
  const { lkdtm, kind, knobs, spins } = PROVOCATIONS[what];
  writeFileSync(join(runDir, 'provoke.json'), `${JSON.stringify({ provocation: what, lkdtm, kind, knobs, workload: WORKLOAD }, null, 2)}\n`);
  const terminal = new TerminalReporter({ stream: process.stdout });
  const out = await runOneKernel(
    {
      kernel: kernelRequest({ profile: 'patched-6.1', configFragment: [FRAGMENT] }),
      workloads: selectWorkloads(WORKLOAD).filter((w) => w.name === WORKLOAD),
      cmdline: [],
      strict: false,
      runDir,
      // a spinning CPU (no preemption) stops RCU and per-CPU work: the runner cannot finish the
      // workload, which ends at its bound (ERROR timeout); the report is on the console
      ...(spins ? { runnerBounds: { ...DEFAULT_RUNNER_BOUNDS, perWorkloadMs: 30_000 } } : {}),
      runnerArgv: ['node', '/pinlab/dist/test/fixtures/provoke-runner.js', what, WORKLOAD],
    },
    ctx,
    terminal,
  );
  await terminal.finish();
  if (out.infraFailure) throw out.infraFailure;
  const v = out.result.verdicts.find((x) => x.name === WORKLOAD);
  process.stdout.write(`${what}: ${out.runDir}: ${v?.status} ${v?.reasons.join(',')} ${v?.splats.map((s) => s.title).join('; ')}\n`);
}
