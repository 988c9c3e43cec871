// A guest workload that hangs must not stall the run: the watchdog gives up on it within its
// bound (ERROR timeout), or as soon as a splat shows on the console while the runner is silent
// (FAIL kernel-splat), the run's report is still written, and the next workload runs in a fresh
// guest. The hang is made by a test runner (test/fixtures/hang-runner.ts), never a kernel bug.
import type { ExecutionContext } from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createContext } from '../../harness/context.js';
import { kernelRequest } from '../../harness/kernel/index.js';
import { lookupArtifact } from '../../harness/kernel/build.js';
import { runOneKernel } from '../../harness/pipeline.js';
import { selectWorkloads } from '../../harness/workloads/catalogue.js';
import type { RunEvent } from '../../harness/report/events.js';
import type { RunResult, Status } from '../../harness/verdict/types.js';
import { DEFAULT_RUNNER_BOUNDS } from '../../harness/guest-runner/watch.js';
import { kernel, SKIP_REASON, vmTest } from '../vm/helpers.js';
import { testTempDir } from '../tmp.js';

const vmt = vmTest();
// catalogue order: the hung one in the middle
const NAMES = ['raw-virtio.psync.anon', 'raw-nvme.psync.anon', 'ext4.psync.anon'];
const HUNG = NAMES[1]!;

async function runWithHang(mode: 'hang' | 'splat', perWorkloadMs: number, opts: { dir?: string; signal?: AbortSignal; onEvent?: (e: RunEvent) => void } = {}) {
  const { signal, onEvent } = opts;
  const artifact = lookupArtifact(basename(dirname(kernel!)));
  if (!artifact) throw new Error(`${kernel} is not a cached kernel (no meta.json beside it)`);
  const dir = opts.dir ?? testTempDir('pinlab-watchdog-');
  const events: RunEvent[] = [];
  const out = await runOneKernel(
    {
      kernel: kernelRequest({ profile: 'patched-6.1' }),
      prebuilt: artifact,
      workloads: selectWorkloads(NAMES.join(',')).filter((w) => NAMES.includes(w.name)),
      cmdline: [],
      strict: false,
      runDir: join(dir, 'run'),
      runnerBounds: { ...DEFAULT_RUNNER_BOUNDS, perWorkloadMs },
      runnerArgv: ['node', '/pinlab/dist/test/fixtures/hang-runner.js', mode, HUNG],
    },
    createContext({ log: () => undefined, ...(signal ? { signal } : {}) }),
    {
      onEvent: (e) => {
        events.push(e);
        onEvent?.(e);
      },
      finish: async () => undefined,
    },
  );
  return { ...out, dir, events };
}

function check(t: ExecutionContext, r: Awaited<ReturnType<typeof runWithHang>>, hung: { status: Status; why: RegExp }) {
  const saved = JSON.parse(readFileSync(join(r.runDir, 'run.json'), 'utf8')) as RunResult;
  const v = new Map(saved.verdicts.map((x) => [x.name, x]));
  for (const x of saved.verdicts) t.log(`${x.name}: ${x.status} ${x.reasons.join(',')} ${x.cause ?? ''} ${x.message}`);
  t.deepEqual(saved.verdicts.map((x) => x.name).sort(), [...NAMES].sort(), 'the report has every workload');
  t.is(v.get(NAMES[0]!)!.status, 'PASS', 'the workload before the hang');
  t.is(v.get(HUNG)!.status, hung.status);
  t.regex(v.get(HUNG)!.message, hung.why);
  t.is(v.get(NAMES[2]!)!.status, 'PASS', 'the workload after the hang ran, in a fresh guest');
  t.true(existsSync(join(r.runDir, 'vm-2', 'console.log')), 'the second guest has its own console log');
  t.true(existsSync(join(r.runDir, 'vm', 'console.log')), "the hung guest's console log is kept");
  t.true(r.events.some((e) => e.type === 'phase-end' && e.phase === 'boot (guest 2)' && e.ok));
  t.is(r.infraFailure, undefined);
  const meta = JSON.parse(readFileSync(join(r.runDir, 'meta.json'), 'utf8')) as { stalls?: { guest: number; name?: string; why: string }[] };
  t.like(meta.stalls?.[0], { guest: 1, name: HUNG }, 'the stall is kept in meta.json');
}

vmt('a workload that hangs is ERROR timeout after its bound; the next one runs in a fresh guest', async (t) => {
  t.timeout(10 * 60_000);
  if (!kernel || SKIP_REASON) return;
  const r = await runWithHang('hang', 20_000);
  check(t, r, { status: 'ERROR', why: /no result for raw-nvme\.psync\.anon within 20 s/ });
  t.is(r.result.verdicts.find((x) => x.name === HUNG)!.cause, 'timeout');
});

vmt('a splat on the console while the runner is silent ends the wait before the bound: FAIL kernel-splat', async (t) => {
  t.timeout(15 * 60_000);
  if (!kernel || SKIP_REASON) return;
  // a bound far beyond the test's own timeout: only the splat can end this wait in time
  const r = await runWithHang('splat', 60 * 60_000);
  check(t, r, { status: 'FAIL', why: /BUG: pinlab test splat/ });
  const hung = r.result.verdicts.find((x) => x.name === HUNG)!;
  t.deepEqual(hung.reasons, ['kernel-splat']);
  t.true(hung.splats.length > 0);
});

vmt('an interrupted run still writes its report, then passes the interruption on', async (t) => {
  t.timeout(10 * 60_000);
  if (!kernel || SKIP_REASON) return;
  const ac = new AbortController();
  const dir = testTempDir('pinlab-watchdog-');
  const error = await t.throwsAsync(
    runWithHang('hang', 60 * 60_000, {
      dir,
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'workload-start' && e.name === HUNG) setTimeout(() => ac.abort(), 2000);
      },
    }),
  );
  t.is(error?.name, 'InterruptedError');
  const saved = JSON.parse(readFileSync(join(dir, 'run', 'run.json'), 'utf8')) as RunResult;
  const v = new Map(saved.verdicts.map((x) => [x.name, x]));
  t.is(v.get(NAMES[0]!)!.status, 'PASS');
  t.like(v.get(HUNG), { status: 'ERROR', message: 'interrupted before it finished' });
});
