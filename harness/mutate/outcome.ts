// What a mutant's run says: killed, survived, timed out, unbuildable (or an infrastructure error,
// tried again on resume), judged on the verdicts `pinlab run` gives, and the scores per file and
// per site. Pure.
import type { ErrorCause, Verdict } from '../verdict/types.js';
import type { Mutant } from './plan.js';

export type MutantOutcome =
  /** a verdict noticed it: FAIL (XFAIL), a splat, ERROR with a pin-path cause, or a workload the kernel now refuses with an errno */
  | 'killed'
  /** every workload that ran it passed */
  | 'survived'
  /** no workload reached its lines in the coverage run: a coverage gap */
  | 'not-reached'
  /** the mutated tree did not compile */
  | 'unbuildable'
  /** a workload hung (ERROR timeout) */
  | 'timed-out'
  /** reviewed: it cannot change what the kernel does with pins (harness/mutate/equivalent.ts), or no code was generated for it */
  | 'equivalent'
  /** its site is reviewed unreachable from user space (harness/coverage/unreachable.ts) */
  | 'unreachable'
  /** the harness or host failed (guest, boot channel): not a verdict on the mutant, run again on resume */
  | 'error';

/** ERROR causes that are the kernel's behaviour on the pin path, so they notice a mutant. */
const NOTICING_ERRORS: readonly ErrorCause[] = ['path-not-reached', 'evidence'];

/** A boot that died of the kernel (a panic, an oops, init killed), not of a slow host. */
const KERNEL_DIED = /\((panic|oops|init-died)\)/;

/** A workload the kernel refused with an errno (io_uring_register: EFAULT), which the unmutated tree ran. */
const KERNEL_REFUSED = /^E[A-Z0-9]+$/;

function notices(v: Verdict): boolean {
  if (v.status === 'FAIL' || v.status === 'XFAIL' || v.splats.length > 0) return true;
  if (v.status !== 'ERROR') return false;
  if (v.cause === 'guest' && KERNEL_REFUSED.test(v.observation?.ioError?.code ?? '')) return true;
  return NOTICING_ERRORS.includes(v.cause!) || (v.cause === 'boot' && KERNEL_DIED.test(v.message));
}

export interface Judgement {
  outcome: MutantOutcome;
  detail: string;
  /** the verdicts that killed it: `name STATUS reasons` */
  killedBy?: string[];
}

const describe = (v: Verdict) => `${v.name} ${v.status}${v.reasons.length ? ` ${v.reasons.join(',')}` : ''}${v.cause ? ` ${v.cause}` : ''}${v.splats.length ? ` splat: ${v.splats[0]!.title}` : ''}`;

/**
 * A mutant's outcome from its run's verdicts (the workloads that reach its site, and the
 * calibration the guest always runs). The unmutated tree passed the same workloads, so whatever
 * they notice is the mutant's doing.
 */
export function judgeMutant(verdicts: readonly Verdict[]): Judgement {
  const build = verdicts.find((v) => v.status === 'ERROR' && v.cause === 'build');
  if (build) return { outcome: 'unbuildable', detail: build.message.split('\n')[0] ?? 'build failed' };
  const killers = verdicts.filter(notices);
  if (killers.length) return { outcome: 'killed', detail: describe(killers[0]!), killedBy: killers.map(describe) };
  const hung = verdicts.find((v) => v.status === 'ERROR' && v.cause === 'timeout');
  if (hung) return { outcome: 'timed-out', detail: describe(hung) };
  const error = verdicts.find((v) => v.status === 'ERROR');
  if (error) return { outcome: 'error', detail: `${describe(error)}: ${error.message.split('\n')[0]}` };
  const judged = verdicts.filter((v) => v.status === 'PASS');
  if (judged.length === 0) return { outcome: 'error', detail: 'no workload was judged (all skipped)' };
  return { outcome: 'survived', detail: `${judged.length} workloads passed` };
}

/** One mutant's line in the state file and the report. */
export interface MutantResult {
  id: string;
  file: string;
  site: string;
  operator: Mutant['operator'];
  line: number;
  outcome: MutantOutcome;
  detail: string;
  killedBy?: string[];
  /** the workloads the run judged it by (calibration included) */
  workloads: string[];
  diff: string;
  /** the mutant's whole time (build, boot, workloads), and the build's */
  elapsedMs?: number;
  buildMs?: number;
  runDir?: string;
  finishedAt?: string;
}

/** Outcomes that are final: a resumed run skips them ('error' is run again). */
export const FINAL: readonly MutantOutcome[] = ['killed', 'survived', 'not-reached', 'unbuildable', 'timed-out', 'equivalent', 'unreachable'];

export interface Score {
  killed: number;
  timedOut: number;
  survived: number;
  notReached: number;
  unbuildable: number;
  equivalent: number;
  unreachable: number;
  error: number;
  /** (killed + timed out) / (killed + timed out + survived + not reached); undefined with none */
  score?: number;
}

/** The score of a set of results: a hang is noticed (ERROR timeout), a coverage gap is not. */
export function scoreOf(results: readonly Pick<MutantResult, 'outcome'>[]): Score {
  const n = (o: MutantOutcome) => results.filter((r) => r.outcome === o).length;
  const s: Score = {
    killed: n('killed'),
    timedOut: n('timed-out'),
    survived: n('survived'),
    notReached: n('not-reached'),
    unbuildable: n('unbuildable'),
    equivalent: n('equivalent'),
    unreachable: n('unreachable'),
    error: n('error'),
  };
  const counted = s.killed + s.timedOut + s.survived + s.notReached;
  return counted ? { ...s, score: (s.killed + s.timedOut) / counted } : s;
}

export function percentOf(s: Score): string {
  return s.score === undefined ? '-' : `${(100 * s.score).toFixed(1)}%`;
}

/** Scores grouped by a key (file, site), keys in order. */
export function scoresBy(results: readonly MutantResult[], key: (r: MutantResult) => string): [string, Score][] {
  const groups = new Map<string, MutantResult[]>();
  for (const r of results) groups.set(key(r), [...(groups.get(key(r)) ?? []), r]);
  return [...groups].sort(([a], [b]) => a.localeCompare(b)).map(([k, rs]) => [k, scoreOf(rs)]);
}
