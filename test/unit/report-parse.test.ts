// `pinlab parse RUN_DIR`: verdicts recomputed from a saved run directory with injected judging.
import test from 'ava';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../harness/errors.js';
import { diffRuns } from '../../harness/report/diff.js';
import { toRunJson } from '../../harness/report/json.js';
import { recomputeRun, type ApplyKnownStatesFn, type JudgeFn } from '../../harness/report/parse.js';
import type { RunResult, Verdict } from '../../harness/verdict/types.js';
import type { WorkloadObservation } from '../../harness/workloads/types.js';
import { testTempDir } from '../tmp.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const run = JSON.parse(readFileSync(join(root, 'test/fixtures/report/recorded-small/run.json'), 'utf8')) as RunResult;
// the recorded PASS: 512 pins taken and released by registered buffers
const observation = run.verdicts.find((v) => v.name === 'raw-virtio.uring-fixed.anon')!.observation!;

// Stand-ins for harness/verdict/judge.ts and known-states.ts: just enough rules to see that
// parse feeds them the saved observations, the background and the kernel.
const judge: JudgeFn = (obs, { background }) => {
  const acquired = obs.after.acquired - obs.before.acquired - background.acquired;
  const released = obs.after.released - obs.before.released - background.released;
  const leak = acquired > released;
  return {
    name: obs.spec.name,
    target: obs.spec.target,
    engine: obs.spec.engine,
    status: leak ? 'FAIL' : 'PASS',
    reasons: leak ? ['pin-leak'] : [],
    path: obs.pathHits,
    pinning: 'pinned',
    numbers: { acquired, released, expectedPins: obs.io?.userPageOps ?? 0, background: background.acquired, userPageOps: obs.io?.userPageOps ?? 0, bytes: obs.io?.bytes ?? 0 },
    splats: [],
    message: leak ? `${acquired - released} pins not released` : 'balanced',
  };
};
const applyKnownStates: ApplyKnownStatesFn = (verdicts, kernel, strict) =>
  verdicts.map((v): Verdict =>
    v.status === 'FAIL' && kernel.profile === 'stock-6.1' && v.reasons.includes('not-pinned') && !strict ? { ...v, status: 'XFAIL', knownState: 'stock-6.1/dio-not-pinned' } : v,
  );

function runDir(opts: { observations?: WorkloadObservation[]; meta?: unknown } = {}): string {
  const dir = testTempDir('pinlab-parse-');
  writeFileSync(join(dir, 'run.json'), toRunJson(run));
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(opts.meta ?? { background: { windowMs: 1000, acquired: 0, released: 0 } }));
  mkdirSync(join(dir, 'observations'));
  for (const obs of opts.observations ?? [observation]) writeFileSync(join(dir, 'observations', `${obs.spec.name}.json`), JSON.stringify(obs));
  return dir;
}

test('verdicts with an observation are judged again; the others are kept', async (t) => {
  const leaking = structuredClone(observation);
  leaking.after.released -= 3;
  const result = await recomputeRun(runDir({ observations: [leaking] }), { judge, applyKnownStates });
  t.deepEqual(result.rejudged, ['raw-virtio.uring-fixed.anon']);
  t.deepEqual(result.kept, run.verdicts.map((v) => v.name).filter((n) => n !== 'raw-virtio.uring-fixed.anon').sort());
  const d = diffRuns(result.original, result.recomputed);
  t.deepEqual(d.verdicts.map((v) => v.name), ['raw-virtio.uring-fixed.anon']);
  const after = result.recomputed.verdicts.find((v) => v.name === 'raw-virtio.uring-fixed.anon')!;
  t.is(after.status, 'FAIL');
  t.deepEqual(after.reasons, ['pin-leak']);
});

test('the background from meta.json reaches the judge', async (t) => {
  const result = await recomputeRun(runDir({ meta: { background: { windowMs: 1000, acquired: 6, released: 6 } } }), { judge, applyKnownStates });
  t.is(result.recomputed.verdicts.find((v) => v.name === 'raw-virtio.uring-fixed.anon')!.numbers!.acquired, 512 - 6);
});

test('--strict can be overridden when re-judging', async (t) => {
  const result = await recomputeRun(runDir(), { judge, applyKnownStates }, { strict: true });
  t.true(result.recomputed.strict);
  t.false(result.original.strict);
});

test('a directory that is not a run directory is a user error naming the file', async (t) => {
  const empty = testTempDir('pinlab-parse-');
  await t.throwsAsync(recomputeRun(empty, { judge, applyKnownStates }), { instanceOf: UserError, message: /run\.json not found/ });
  await t.throwsAsync(recomputeRun(runDir({ meta: {} }), { judge, applyKnownStates }), { instanceOf: UserError, message: /meta\.json has no background/ });
  const broken = runDir();
  writeFileSync(join(broken, 'observations', 'x.json'), '{"spec": {}}');
  await t.throwsAsync(recomputeRun(broken, { judge, applyKnownStates }), { instanceOf: UserError, message: /not a workload observation/ });
});

test('a run whose pin-accounting control failed re-parses to ERROR, as the live run judged it', async (t) => {
  const { judgeRun } = await import('../../harness/verdict/judge.js');
  const control = { ok: false, acquired: 0, released: 0, expected: 256, message: 'gup_test pinned 0 of 256' };
  const name = 'raw-virtio.uring-fixed.anon';
  // the control only matters for a workload vmstat counted: the recorded one without its pin evidence
  const { evidence: _, ...onVmstat } = observation;
  const meta = (c: typeof control) => ({ background: { windowMs: 1000, acquired: 0, released: 0 }, control: c });
  const result = await recomputeRun(runDir({ observations: [onVmstat], meta: meta(control) }), { judge: judgeRun, applyKnownStates });
  const v = result.recomputed.verdicts.find((x) => x.name === name)!;
  t.is(v.status, 'ERROR');
  t.is(v.cause, 'harness');
  t.regex(v.message, /control failed/);
  // a passing control leaves the judgement to the observation
  const ok = await recomputeRun(runDir({ observations: [onVmstat], meta: meta({ ...control, ok: true }) }), { judge: judgeRun, applyKnownStates });
  t.is(ok.recomputed.verdicts.find((x) => x.name === name)!.status, 'PASS');
  // a workload judged on the pin evidence does not lean on the vmstat control
  const onEvidence = await recomputeRun(runDir({ meta: meta(control) }), { judge: judgeRun, applyKnownStates });
  t.is(onEvidence.recomputed.verdicts.find((x) => x.name === name)!.status, 'PASS');
});
