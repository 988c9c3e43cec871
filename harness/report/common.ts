// Pieces every report format shares, so a verdict reads the same in all of them: ordering, the
// one-line reason, the workload's parts, and what XFAIL becomes under --strict.
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

export interface WorkloadParts {
  /** the hardware variant (absent: default hardware); `target` is then the part after `<hw>.` */
  hw?: string;
  target: string;
  engine: string;
  buffer: string;
  /** the name part after the buffer kind that tells same-shaped workloads apart (e.g. subpage) */
  variant?: string;
  /** absent when the workload injects no fault */
  fault?: string;
}

/**
 * target/engine/buffer/fault of a verdict. The spec in the observation is authoritative; verdicts
 * without one (build/boot errors, skips) fall back to the catalogue's "target.engine.buffer[.fault]"
 * naming.
 */
export function workloadParts(v: Verdict): WorkloadParts {
  const spec = v.observation?.spec;
  if (spec) {
    let fault: string | undefined;
    if (spec.fault) fault = spec.fault.kind === 'misaligned' ? `misaligned-${spec.fault.what}` : spec.fault.kind;
    const stem = `${spec.target}.${spec.engine}.${spec.buffer}`;
    const tail = spec.name.startsWith(stem) ? spec.name.slice(stem.length) : '';
    const variant = (spec.fault && tail.endsWith(`.${spec.fault.kind}`) ? tail.slice(0, -spec.fault.kind.length - 1) : tail).replace(/^\./, '');
    const hw = spec.hw && spec.target.startsWith(`${spec.hw}.`) ? spec.hw : undefined;
    return {
      ...(hw ? { hw } : {}),
      target: hw ? spec.target.slice(hw.length + 1) : spec.target,
      engine: spec.engine,
      buffer: spec.buffer,
      ...(variant ? { variant } : {}),
      fault,
    };
  }
  const prefix = `${v.target}.${v.engine}.`;
  const rest = v.name.startsWith(prefix) ? v.name.slice(prefix.length).split('.') : [];
  const buffer = rest[0] || 'unknown';
  const fault = rest.length > 1 ? rest.slice(1).join('.') : undefined;
  return { target: v.target, engine: v.engine, buffer, fault };
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
