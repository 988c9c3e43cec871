// Pieces every report format shares, so a verdict reads the same in all of them: ordering, the
// one-line reason, the workload's name in each format, and what XFAIL becomes under --strict.
import type { RunResult, Status, Verdict } from '../verdict/types.js';

/** Reports list workloads by name, so a merged sharded run renders exactly like an unsharded one. */
export function sortVerdicts(verdicts: readonly Verdict[]): Verdict[] {
  return [...verdicts].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

/**
 * The outcome a consumer of the report should act on. XFAIL is a known state of a reference
 * kernel and does not fail the run, unless the run was --strict, where it counts as a failure.
 */
export type Outcome = 'pass' | 'fail' | 'xfail' | 'error' | 'skip';

export function outcomeOf(v: Verdict, strict: boolean): Outcome {
  switch (v.status) {
    case 'PASS':
      return 'pass';
    case 'FAIL':
      return 'fail';
    case 'XFAIL':
      return strict ? 'fail' : 'xfail';
    case 'ERROR':
      return 'error';
    case 'SKIP':
      return 'skip';
  }
}

export type StatusCounts = Record<Status, number>;

export function countStatuses(verdicts: readonly Verdict[]): StatusCounts {
  const counts: StatusCounts = { PASS: 0, FAIL: 0, XFAIL: 0, ERROR: 0, SKIP: 0 };
  for (const v of verdicts) counts[v.status]++;
  return counts;
}

/** The short "why" of a verdict: fail reasons, the error cause, the skip reason. Empty for PASS. */
export function reasonText(v: Verdict): string {
  switch (v.status) {
    case 'PASS':
      return '';
    case 'FAIL':
      return v.reasons.join(',');
    case 'XFAIL':
      return `${v.reasons.join(',')} (known: ${v.knownState ?? 'unnamed'})`;
    case 'ERROR':
      return v.cause ?? 'error';
    case 'SKIP':
      return v.skipReason ?? 'skipped';
  }
}

/** "acquired=.. released=.. expected=.. background=.." or '' when the workload produced no numbers. */
export function numbersText(v: Verdict): string {
  const n = v.numbers;
  if (!n) return '';
  const parts = [
    `acquired=${n.acquired}`,
    `released=${n.released}`,
    `expected=${n.expectedPins}`,
    `background=${n.background}`,
    `userPageOps=${n.userPageOps}`,
    `bytes=${n.bytes}`,
  ];
  if (n.iops !== undefined) parts.push(`iops=${n.iops}`);
  return parts.join(' ');
}

/** Every form of a workload's name a report uses, all derived from the one workload name. */
export interface ReportNames {
  /** the terminal, JSON and KTAP name: the workload name, each dot-separated part reduced to
   * [A-Za-z0-9_-] (the catalogue's names already are; a repeat's `#2` becomes `_2`) */
  name: string;
  /** JUnit: classname pinlab.<target>, name the rest, so classname.name is the KCIDB path */
  junitClassname: string;
  junitName: string;
  /** KCIDB test path: pinlab.<name> */
  kcidbPath: string;
}

/** KCIDB path segments (and KTAP names, which may hold no '#' or blank) are [a-zA-Z0-9_-]. */
function nameSegment(text: string): string {
  return text.replace(/[^a-zA-Z0-9_-]/g, '_') || '_';
}

export function reportNames(v: Pick<Verdict, 'name' | 'target'>): ReportNames {
  const name = v.name.split('.').map(nameSegment).join('.');
  const target = v.target.split('.').map(nameSegment).join('.');
  const underTarget = name.startsWith(`${target}.`);
  return {
    name,
    junitClassname: underTarget ? `pinlab.${target}` : 'pinlab',
    junitName: underTarget ? name.slice(target.length + 1) : name,
    kcidbPath: `pinlab.${name}`,
  };
}

/** A short human label for the kernel a run tested. */
export function kernelLabel(r: RunResult): string {
  const k = r.kernel;
  const base = k.profile ?? k.source;
  return k.release ? `${base} (${k.release})` : base;
}

/** Milliseconds the workload's I/O took, when known. */
export function workloadDurationMs(v: Verdict): number | undefined {
  return v.observation?.io?.durationMs;
}
