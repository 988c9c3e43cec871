// Pure statistics for `pinlab bench`: min/median/max of repeated figures, quantiles of latency
// samples, addon/fio ratios and a plain rule for "is this difference within noise".

export interface Summary {
  n: number;
  min: number;
  median: number;
  max: number;
}

/** min/median/max (median of an even count: mean of the middle two). Undefined for no samples. */
export function summarize(samples: readonly number[]): Summary | undefined {
  const xs = samples.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (xs.length === 0) return undefined;
  const mid = Math.floor(xs.length / 2);
  const median = xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
  return { n: xs.length, min: xs[0]!, median, max: xs[xs.length - 1]! };
}

/** Nearest-rank quantile of an ascending array, p in [0, 100]. */
export function quantileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of no samples');
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** The percentiles the bench records for latency distributions (and asks fio for). */
export const LATENCY_PERCENTILES: readonly number[] = [1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.9];

export function quantiles(samples: ArrayLike<number>, ps: readonly number[] = LATENCY_PERCENTILES): number[] {
  const sorted = Float64Array.from(samples).sort();
  return ps.map((p) => quantileSorted(sorted as unknown as number[], p));
}

/**
 * Average several runs' quantile curves point by point (all taken at the same percentiles):
 * the typical distribution of a repeated measurement, without keeping every sample.
 */
export function meanCurve(curves: readonly (readonly number[])[]): number[] {
  if (curves.length === 0) return [];
  const len = curves[0]!.length;
  if (curves.some((c) => c.length !== len)) throw new RangeError('quantile curves of different lengths');
  return Array.from({ length: len }, (_, i) => curves.reduce((s, c) => s + c[i]!, 0) / curves.length);
}

/** Per-repeat ratios num[i]/den[i] (repeats paired by index), summarized. */
export function ratioSummary(num: readonly number[], den: readonly number[]): Summary | undefined {
  const n = Math.min(num.length, den.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) if (den[i]! > 0) ratios.push(num[i]! / den[i]!);
  return summarize(ratios);
}

export type SpreadVerdict = 'within-noise' | 'a-higher' | 'b-higher' | 'undecidable';

export interface SpreadComparison {
  verdict: SpreadVerdict;
  /** (median a - median b) / median b, in percent */
  deltaPct: number;
  /** one sentence a reader can quote */
  text: string;
}

/**
 * Two sets of repeated measurements of the same figure. The difference counts as real only when
 * the ranges [min, max] do not overlap (with 2+ repeats each); otherwise it is within the
 * run-to-run spread. Deliberately simple: with 3-5 repeats a t-test would claim more than we know.
 */
export function compareSpread(a: readonly number[], b: readonly number[], names: [string, string] = ['a', 'b']): SpreadComparison {
  const sa = summarize(a);
  const sb = summarize(b);
  if (!sa || !sb) return { verdict: 'undecidable', deltaPct: NaN, text: 'no samples' };
  const deltaPct = sb.median === 0 ? NaN : ((sa.median - sb.median) / sb.median) * 100;
  const pct = `${deltaPct >= 0 ? '+' : ''}${deltaPct.toFixed(1)}%`;
  if (sa.n < 2 || sb.n < 2) return { verdict: 'undecidable', deltaPct, text: `${pct}; 1 repeat: no spread, cannot tell noise from a difference` };
  const overlap = sa.min <= sb.max && sb.min <= sa.max;
  if (overlap) return { verdict: 'within-noise', deltaPct, text: `${pct}, within noise (ranges overlap)` };
  const higher = sa.min > sb.max ? names[0] : names[1];
  return { verdict: sa.min > sb.max ? 'a-higher' : 'b-higher', deltaPct, text: `${pct}, beyond the spread: ${higher} higher in every repeat` };
}
