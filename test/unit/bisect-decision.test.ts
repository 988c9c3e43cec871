// The good/bad/skip decision of `pinlab check` and the exit protocol git bisect run speaks.
import test from 'ava';
import {
  bisectVerb,
  CHECK_EXIT,
  decide,
  defaultThresholds,
  exitCodeOfDecision,
  formatDecisionLine,
  groupRounds,
  roundOutcome,
  thresholdProblem,
} from '../../harness/bisect/decision.js';
import { repeatWorkloads, splitRepeatName } from '../../harness/workloads/repeat.js';
import type { ErrorCause, Status, Verdict } from '../../harness/verdict/types.js';
import { DEFAULT_SUITE } from '../../harness/workloads/catalogue.js';
import { checkRequest } from '../../harness/bisect/check.js';
import { COVERAGE_SOURCES } from '../../harness/coverage/objects.js';

function verdict(name: string, status: Status, extra: Partial<Verdict> = {}): Verdict {
  return {
    name,
    target: 'ext2',
    engine: 'psync',
    status,
    reasons: status === 'FAIL' || status === 'XFAIL' ? ['pin-leak'] : [],
    path: [],
    pinning: 'pinned',
    splats: [],
    message: `${name} ${status}`,
    ...extra,
  };
}
const leak = (name: string) =>
  verdict(name, 'FAIL', { numbers: { acquired: 1024, released: 512, expectedPins: 1024, background: 0, userPageOps: 1024, bytes: 4 << 20 } });
const error = (name: string, cause: ErrorCause) => verdict(name, 'ERROR', { cause });

/** R rounds of one workload with the given statuses, named as a repeated run names them. */
function rounds(statuses: ('P' | 'F' | 'E' | 'S')[], strict = false) {
  const vs = statuses.map((s, i) => {
    const name = `ext2.psync.anon#${i + 1}`;
    return s === 'P' ? verdict(name, 'PASS') : s === 'F' ? leak(name) : s === 'E' ? error(name, 'boot') : verdict(name, 'SKIP');
  });
  return groupRounds(vs, { strict: strict });
}

test('defaults: one failure is bad; half of the repeats must be judged', (t) => {
  t.deepEqual(defaultThresholds(1), { badAt: 1, minValid: 1 });
  t.deepEqual(defaultThresholds(5), { badAt: 1, minValid: 3 });
  t.deepEqual(defaultThresholds(10), { badAt: 1, minValid: 5 });
});

test('a deterministic pin leak: bad with the failing workload as evidence', (t) => {
  const d = decide(rounds(['F']), defaultThresholds(1));
  t.is(d.decision, 'bad');
  t.deepEqual(d.counts, { fail: 1, pass: 0, error: 0, total: 1 });
  t.is(d.evidence[0]!.workload, 'ext2.psync.anon');
  t.deepEqual(d.evidence[0]!.reasons, ['pin-leak']);
  t.is(exitCodeOfDecision(d.decision), 1);
  const line = formatDecisionLine(d, 'git:/src/linux@abc');
  t.regex(line, /^check: BAD git:\/src\/linux@abc \(1 fail, 0 pass, 0 error of 1;/);
  t.regex(line, /ext2\.psync\.anon FAIL pin-leak acq=1024 rel=512 exp=1024$/);
});

test('a flaky race: one failure in five is still bad (syzkaller: any crash with enough valid runs)', (t) => {
  t.is(decide(rounds(['P', 'P', 'F', 'P', 'P']), defaultThresholds(5)).decision, 'bad');
  t.is(decide(rounds(['P', 'P', 'P', 'P', 'P']), defaultThresholds(5)).decision, 'good');
});

test('failures below a raised --bad-threshold count as noise: good, and the line says so', (t) => {
  const d = decide(rounds(['P', 'F', 'P', 'P']), { badAt: 2, minValid: 2 });
  t.is(d.decision, 'good');
  t.regex(d.why, /1 failure\(s\) below the bad threshold 2/);
  t.is(decide(rounds(['F', 'F', 'P', 'P']), { badAt: 2, minValid: 2 }).decision, 'bad');
});

test('infrastructure errors are never bad: all errors skip (125), too few judged repeats skip', (t) => {
  const all = decide(rounds(['E', 'E', 'E']), defaultThresholds(3));
  t.is(all.decision, 'skip');
  t.is(exitCodeOfDecision(all.decision), 125);
  t.deepEqual(all.errorCauses, { boot: 3 });
  t.is(all.evidence[0]!.cause, 'boot');
  // one pass among errors: not enough to call it good
  t.is(decide(rounds(['P', 'E', 'E', 'E']), defaultThresholds(4)).decision, 'skip');
  // errors alongside enough judged repeats do not change the decision
  t.is(decide(rounds(['P', 'P', 'E']), defaultThresholds(3)).decision, 'good');
  t.is(decide(rounds(['F', 'P', 'E']), defaultThresholds(3)).decision, 'bad');
  // a failure with too few judged repeats is a skip too: the kernel may be too broken to tell
  t.is(decide(rounds(['F', 'E', 'E', 'E']), defaultThresholds(4)).decision, 'skip');
});

test('a round that only skipped did not run: it counts as an error, not a pass', (t) => {
  t.is(roundOutcome([verdict('a', 'SKIP')], { strict: false }), 'error');
  t.is(roundOutcome([], { strict: false }), 'error');
  const d = decide(rounds(['S']), defaultThresholds(1));
  t.is(d.decision, 'skip');
  t.deepEqual(d.errorCauses, { 'nothing-ran': 1 });
});

test('a round fails when any workload fails; XFAIL is good unless --strict', (t) => {
  t.is(roundOutcome([verdict('a', 'PASS'), leak('b')], { strict: false }), 'fail');
  t.is(roundOutcome([verdict('a', 'PASS'), error('b', 'guest')], { strict: false }), 'error');
  t.is(roundOutcome([leak('b'), error('c', 'timeout')], { strict: false }), 'fail');
  t.is(roundOutcome([verdict('a', 'XFAIL')], { strict: false }), 'pass');
  t.is(roundOutcome([verdict('a', 'XFAIL')], { strict: true }), 'fail');
});

test('repeats run in one boot as renamed copies, grouped back into rounds', (t) => {
  const specs = DEFAULT_SUITE.filter((s) => s.name === 'ext2.psync.anon' || s.name === 'raw-virtio.psync.anon');
  t.is(specs.length, 2);
  t.deepEqual(repeatWorkloads(specs, 1).map((s) => s.name), specs.map((s) => s.name));
  const three = repeatWorkloads(specs, 3);
  t.is(three.length, 6);
  t.deepEqual(three.slice(0, 2).map((s) => s.name), specs.map((s) => `${s.name}#1`));
  t.deepEqual(three.map((s) => splitRepeatName(s.name).round), [1, 1, 2, 2, 3, 3]);
  t.deepEqual(splitRepeatName('ext2.psync.anon'), { workload: 'ext2.psync.anon', round: 1 });
  const grouped = groupRounds(three.map((s) => verdict(s.name, s.name.endsWith('#2') && s.name.startsWith('ext2') ? 'FAIL' : 'PASS')), { strict: false });
  t.deepEqual(grouped.map((r) => r.outcome), ['pass', 'fail', 'pass']);
});

test('threshold problems are usage errors', (t) => {
  t.is(thresholdProblem({ badAt: 1, minValid: 1 }, 1), undefined);
  t.regex(thresholdProblem({ badAt: 3, minValid: 1 }, 2)!, /can never be reached/);
  t.regex(thresholdProblem({ badAt: 1, minValid: 4 }, 3)!, /--min-valid 4/);
  t.regex(thresholdProblem({ badAt: 1, minValid: 1 }, 0)!, /--repeat/);
});

test("git bisect run's exit protocol", (t) => {
  t.is(bisectVerb(CHECK_EXIT.good), 'good');
  t.is(bisectVerb(CHECK_EXIT.bad), 'bad');
  t.is(bisectVerb(CHECK_EXIT.skip), 'skip');
  t.is(bisectVerb(CHECK_EXIT.abort), 'abort');
  // what pinlab's usual codes would mean to git: 2 (usage) and 3 (infra) would read as bad
  t.is(bisectVerb(2), 'bad');
  t.is(bisectVerb(3), 'bad');
  t.is(bisectVerb(130), 'abort');
});

test('--reason: only the failure being bisected makes a kernel bad; other FAILs read as passes', (t) => {
  const splat = (name: string) => verdict(name, 'FAIL', { reasons: ['kernel-splat'] });
  const leakAndSplat = (name: string) => verdict(name, 'FAIL', { reasons: ['kernel-splat', 'pin-leak'] });
  const j = { strict: false, reasons: ['pin-leak' as const] };
  t.is(roundOutcome([splat('a')], j), 'pass');
  t.is(roundOutcome([splat('a')], { strict: false }), 'fail', 'without --reason every FAIL counts');
  t.is(roundOutcome([leakAndSplat('a')], j), 'fail');
  const good = decide(groupRounds([splat('w#1'), splat('w#2')], j), defaultThresholds(2), j);
  t.is(good.decision, 'good');
  t.regex(good.why, /2 FAIL\(s\) with other reasons than pin-leak not counted/);
  t.is(good.evidence[0]!.reasons[0], 'kernel-splat', 'the ignored failures stay visible as evidence');
  t.is(decide(groupRounds([leak('w#1'), splat('w#2')], j), defaultThresholds(2), j).decision, 'bad');
});

test('check --coverage asks for the gcov build of the pin-path objects; without it, the normal build', (t) => {
  const withCov = checkRequest({ profile: 'patched-6.1', filter: 'raw-virtio.psync.anon', coverage: true });
  t.deepEqual(withCov.kernel.coverage, COVERAGE_SOURCES);
  t.is(checkRequest({ profile: 'patched-6.1', filter: 'raw-virtio.psync.anon' }).kernel.coverage, undefined);
});
