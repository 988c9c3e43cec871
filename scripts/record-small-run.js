#!/usr/bin/env node
// Makes the run the report tests render every status from (the `small` role of
// scripts/record-fixtures.js): a real `pinlab run` of the stock-6.1 kernel, in-process, as
// `pinlab run -p stock-6.1 --cmdline transparent_hugepage=never -f WORKLOADS` would, except that
// the in-guest runner is test/fixtures/hang-runner.ts, which hangs one workload (ERROR timeout)
// and writes a BUG line to the kernel log under another (FAIL kernel-splat). Each status comes
// from what the harness did with a real guest:
//
//   XFAIL  raw-virtio.psync.anon, vfat.psync.anon: stock 6.1 takes references, not pins
//   PASS   raw-virtio.uring-fixed.anon: registered buffers pin on any kernel
//   SKIP   raw-virtio.uring-fixed.thp: THP off on the command line, no huge page behind the buffer
//   ERROR  nvme-passthru.passthru.anon: the runner goes silent; the watchdog's bound (20 s) ends it
//   FAIL   ext4.libaio.anon.efault-midway: a BUG line on the console while the runner is silent
//
//   npm run build && node scripts/record-small-run.js RUN_DIR
//   node scripts/record-fixtures.js small=RUN_DIR stock=RUN_DIR
//
// Needs root, QEMU and the stock-6.1 kernel (built on a cache miss, like pinlab run).
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (m) => import(join(root, 'dist', m));
const [{ createContext }, { kernelRequest }, { runOneKernel }, { selectWorkloads }, { DEFAULT_RUNNER_BOUNDS }, { TerminalReporter }] = await Promise.all([
  dist('harness/context.js'),
  dist('harness/kernel/index.js'),
  dist('harness/pipeline.js'),
  dist('harness/workloads/catalogue.js'),
  dist('harness/runner-watch.js'),
  dist('harness/report/terminal.js'),
]);

/** The runner's misbehaviour, per workload (hang-runner.ts arguments). */
export const HUNG = { 'nvme-passthru.passthru.anon': 'hang', 'ext4.libaio.anon.efault-midway': 'splat' };
export const WORKLOADS = ['raw-virtio.psync.anon', 'vfat.psync.anon', 'raw-virtio.uring-fixed.anon', 'raw-virtio.uring-fixed.thp', ...Object.keys(HUNG)];

const runDir = process.argv[2];
if (!runDir) {
  process.stderr.write('usage: record-small-run.js RUN_DIR\n');
  process.exit(2);
}
const terminal = new TerminalReporter({ stream: process.stdout });
const out = await runOneKernel(
  {
    kernel: kernelRequest({ profile: 'stock-6.1' }),
    workloads: selectWorkloads(WORKLOADS.join(',')).filter((w) => WORKLOADS.includes(w.name)),
    cmdline: ['transparent_hugepage=never'],
    strict: false,
    runDir,
    runnerBounds: { ...DEFAULT_RUNNER_BOUNDS, perWorkloadMs: 20_000 },
    runnerArgv: ['node', '/pinlab/dist/test/fixtures/hang-runner.js', ...Object.entries(HUNG).flatMap(([name, mode]) => [mode, name])],
  },
  createContext({}),
  terminal,
);
await terminal.finish();
if (out.infraFailure) throw out.infraFailure;
process.stdout.write(`run directory: ${out.runDir}\n`);
