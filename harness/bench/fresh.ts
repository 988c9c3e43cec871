// The fresh-machine figure's reading of a `pinlab run` child's output: when each phase ended and
// when the first verdict came. Pure.

/** one output line of the child and when it arrived (ms since the child started) */
export interface TimedLine {
  ms: number;
  line: string;
}

export interface FreshTimeline {
  /** ms from the start until the first verdict line ("[1/N] NAME STATUS") */
  firstVerdictMs?: number;
  /** each finished phase ("build patched-6.1", "guest image", "boot", "workloads") and its own elapsed ms */
  phasesMs: Record<string, number>;
}

const PHASE_END = /^\[?([a-z][^\]]*?)\]? done in (?:(\d+)m)?([0-9.]+)(m?s)\b/;
const VERDICT = /^\[1\/\d+\] \S+ (PASS|FAIL|XFAIL|ERROR|SKIP)\b/;

/** Read the progress lines of one `pinlab run` (its plain, non-TTY output). */
export function freshTimeline(lines: readonly TimedLine[]): FreshTimeline {
  const out: FreshTimeline = { phasesMs: {} };
  for (const { ms, line } of lines) {
    const l = line.trim();
    const end = PHASE_END.exec(l);
    if (end) out.phasesMs[end[1]!] = Math.round(Number(end[2] ?? 0) * 60_000 + Number(end[3]) * (end[4] === 'ms' ? 1 : 1000));
    if (out.firstVerdictMs === undefined && VERDICT.test(l)) out.firstVerdictMs = ms;
  }
  return out;
}
