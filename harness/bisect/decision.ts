// Is this kernel good or bad for the chosen workloads? Pure: repeats of a verdict list in,
// a decision with its evidence out. Modelled on syzkaller's bisection decision (pkg/bisect):
// a deterministic pin leak fails every time, so one failure is enough for "bad"; a flaky race may
// pass by chance, so "good" needs enough valid repeats; infrastructure errors (build, boot,
// guest, timeouts) are counted apart and never make a kernel bad.
import { outcomeOf } from '../report/common.js';
import type { ErrorCause, FailReason, Numbers, Verdict } from '../verdict/types.js';
import { splitRepeatName } from '../workloads/repeat.js';

/** The `git bisect run` protocol: 0 good, 1..124 and 126..127 bad, 125 skip, >= 128 abort. */
export const CHECK_EXIT = { good: 0, bad: 1, skip: 125, abort: 255 } as const;

export type Decision = 'good' | 'bad' | 'skip';

export interface Thresholds {
  /** bad when at least this many repeats failed (default 1: one pin leak is a pin leak) */
  badAt: number;
  /** a decision needs at least this many repeats that ran to a PASS or FAIL */
  minValid: number;
}

/** Defaults for R repeats: syzkaller wants half of the runs to be usable before it decides. */
export function defaultThresholds(repeat: number): Thresholds {
  return { badAt: 1, minValid: Math.max(1, Math.ceil(repeat / 2)) };
}

/** A usage problem in the thresholds, or undefined when they make sense for R repeats. */
export function thresholdProblem(t: Thresholds, repeat: number): string | undefined {
  if (!Number.isInteger(repeat) || repeat < 1) return `--repeat ${repeat}: expected a positive integer`;
  if (!Number.isInteger(t.badAt) || t.badAt < 1) return `--bad-threshold ${t.badAt}: expected a positive integer`;
  if (!Number.isInteger(t.minValid) || t.minValid < 1) return `--min-valid ${t.minValid}: expected a positive integer`;
  if (t.badAt > repeat) return `--bad-threshold ${t.badAt} can never be reached with --repeat ${repeat}`;
  if (t.minValid > repeat) return `--min-valid ${t.minValid} can never be reached with --repeat ${repeat}`;
  return undefined;
}

export type RoundOutcome = 'fail' | 'pass' | 'error';

/** What counts as a failure in this check. */
export interface Judging {
  /** XFAIL (a known state) counts as a failure too */
  strict: boolean;
  /**
   * Only FAILs with one of these reasons count (`--reason pin-leak`): the failure being bisected.
   * A FAIL with other reasons is another problem of the tree, not this one, and reads as a pass;
   * like syzkaller, which bisects on the crash it is after. Empty: every FAIL counts.
   */
  reasons?: readonly FailReason[];
}

export function countsAsFailure(v: Verdict, j: Judging): boolean {
  if (outcomeOf(v, j.strict) !== 'fail') return false;
  return !j.reasons?.length || v.reasons.some((r) => j.reasons!.includes(r));
}

/** A FAIL this check does not count (other reasons than --reason). */
function otherFailure(v: Verdict, j: Judging): boolean {
  return outcomeOf(v, j.strict) === 'fail' && !countsAsFailure(v, j);
}

export interface Round {
  round: number;
  outcome: RoundOutcome;
  verdicts: Verdict[];
}

/**
 * One round's outcome: fail when any workload failed in a way that counts (countsAsFailure);
 * otherwise error when any workload could not be judged (ERROR) or nothing ran (all SKIP);
 * otherwise pass.
 */
export function roundOutcome(verdicts: readonly Verdict[], j: Judging): RoundOutcome {
  if (verdicts.some((v) => countsAsFailure(v, j))) return 'fail';
  const outcomes = verdicts.map((v) => outcomeOf(v, j.strict));
  if (outcomes.includes('error')) return 'error';
  if (outcomes.length === 0 || outcomes.every((o) => o === 'skip')) return 'error';
  return 'pass';
}

/** Verdicts of a repeated run, grouped back into rounds. */
export function groupRounds(verdicts: readonly Verdict[], j: Judging): Round[] {
  const byRound = new Map<number, Verdict[]>();
  for (const v of verdicts) {
    const { round } = splitRepeatName(v.name);
    byRound.set(round, [...(byRound.get(round) ?? []), v]);
  }
  return [...byRound.entries()]
    .sort(([a], [b]) => a - b)
    .map(([round, vs]) => ({ round, outcome: roundOutcome(vs, j), verdicts: vs }));
}

export interface Evidence {
  workload: string;
  round: number;
  status: Verdict['status'];
  reasons: string[];
  cause?: ErrorCause;
  numbers?: Numbers;
  message: string;
  path: string[];
}

export interface CheckDecision {
  decision: Decision;
  counts: { fail: number; pass: number; error: number; total: number };
  /** ERROR causes over all rounds (build, boot, guest, timeout, path-not-reached, harness) */
  errorCauses: Partial<Record<ErrorCause | 'nothing-ran', number>>;
  thresholds: Thresholds;
  /** why this decision, in words */
  why: string;
  /** the failing workloads (bad), else the errors (skip); empty for good */
  evidence: Evidence[];
}

function evidenceOf(v: Verdict): Evidence {
  const { workload, round } = splitRepeatName(v.name);
  return {
    workload,
    round,
    status: v.status,
    reasons: v.reasons,
    ...(v.cause ? { cause: v.cause } : {}),
    ...(v.numbers ? { numbers: v.numbers } : {}),
    message: v.message,
    path: v.path,
  };
}

export function decide(rounds: readonly Round[], t: Thresholds, j: Judging = { strict: false }): CheckDecision {
  const count = (o: RoundOutcome) => rounds.filter((r) => r.outcome === o).length;
  const counts = { fail: count('fail'), pass: count('pass'), error: count('error'), total: rounds.length };
  const errorCauses: CheckDecision['errorCauses'] = {};
  for (const r of rounds) {
    if (r.outcome !== 'error') continue;
    const errors = r.verdicts.filter((v) => v.status === 'ERROR');
    if (errors.length === 0) errorCauses['nothing-ran'] = (errorCauses['nothing-ran'] ?? 0) + 1;
    for (const v of errors) errorCauses[v.cause ?? 'harness'] = (errorCauses[v.cause ?? 'harness'] ?? 0) + 1;
  }
  const valid = counts.fail + counts.pass;
  const failing = rounds.flatMap((r) => r.verdicts.filter((v) => countsAsFailure(v, j))).map(evidenceOf);
  const others = rounds.flatMap((r) => r.verdicts.filter((v) => otherFailure(v, j))).map(evidenceOf);
  const erroring = rounds.flatMap((r) => r.verdicts.filter((v) => v.status === 'ERROR')).map(evidenceOf);
  const base = { counts, errorCauses, thresholds: t };
  if (valid < t.minValid) {
    return {
      ...base,
      decision: 'skip',
      why: `only ${valid} of ${counts.total} repeats could be judged (need ${t.minValid}); ${counts.error} hit errors`,
      evidence: erroring.length > 0 ? erroring : failing,
    };
  }
  if (counts.fail >= t.badAt) {
    return { ...base, decision: 'bad', why: `${counts.fail} of ${valid} judged repeats failed (bad at >= ${t.badAt})`, evidence: failing };
  }
  const noise = counts.fail > 0 ? `, ${counts.fail} failure(s) below the bad threshold ${t.badAt}` : '';
  const ignored = others.length > 0 ? `, ${others.length} FAIL(s) with other reasons than ${j.reasons!.join(',')} not counted` : '';
  return { ...base, decision: 'good', why: `${counts.pass} of ${valid} judged repeats passed${noise}${ignored}`, evidence: [...failing, ...others] };
}

export function exitCodeOfDecision(d: Decision): number {
  return d === 'good' ? CHECK_EXIT.good : d === 'bad' ? CHECK_EXIT.bad : CHECK_EXIT.skip;
}

/** What `git bisect run` makes of an exit code (git's own rules). */
export function bisectVerb(exitCode: number): 'good' | 'bad' | 'skip' | 'abort' {
  if (exitCode === CHECK_EXIT.good) return 'good';
  if (exitCode === CHECK_EXIT.skip) return 'skip';
  if (exitCode >= CHECK_EXIT.bad && exitCode < 128) return 'bad';
  return 'abort';
}

/** "acq=1024 rel=512 exp=1024" */
export function pinNumbers(n?: Numbers): string {
  return n ? `acq=${n.acquired} rel=${n.released} exp=${n.expectedPins}` : 'no pin numbers';
}

export function evidenceText(e: Evidence): string {
  const why = e.status === 'ERROR' ? (e.cause ?? 'error') : e.reasons.join(',');
  return `${e.workload}${e.round > 1 ? ` (repeat ${e.round})` : ''} ${e.status} ${why} ${pinNumbers(e.numbers)}`;
}

/** The one line `pinlab check` ends with. */
export function formatDecisionLine(d: CheckDecision, kernel: string): string {
  const c = d.counts;
  const tally = `${c.fail} fail, ${c.pass} pass, ${c.error} error of ${c.total}`;
  const causes = Object.entries(d.errorCauses)
    .map(([k, n]) => `${k}=${n}`)
    .join(' ');
  const first = d.evidence[0];
  const evidence = first ? `: ${evidenceText(first)}` : '';
  return `check: ${d.decision.toUpperCase()} ${kernel} (${tally}${causes ? `; errors ${causes}` : ''}; ${d.why})${evidence}`;
}
