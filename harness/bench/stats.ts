// Pure statistics for `pinlab bench`: min/median/max of repeated figures, quantiles of latency
// samples, addon/fio ratios, and whether two kernels differ: the Mann-Whitney U test with the
// Hodges-Lehmann shift and its confidence interval (compareShift).
import { quantileSorted } from '../workloads/latency.js';

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

/** The standard normal CDF (erfc after Numerical Recipes' erfcc: relative error < 1.2e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc =
    t *
    Math.exp(
      -x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normal quantile of ${p}`);
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (q: number) => (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/** Exact null distribution of Mann-Whitney U for sample sizes n and m (no ties) is used up to here. */
const EXACT_MAX = 50;

/**
 * P(U <= k), k = 0..n*m, under the null hypothesis, without ties: the count of orderings with
 * U = k follows f(n, m, k) = f(n-1, m, k-m) + f(n, m-1, k), computed row by row over n.
 */
export function mannWhitneyCdf(n: number, m: number): Float64Array {
  const size = n * m + 1;
  // prev[j] = counts for (i-1, j); cur[j] = counts for (i, j)
  let prev: Float64Array[] = Array.from({ length: m + 1 }, () => Float64Array.from({ length: size }, (_, k) => (k === 0 ? 1 : 0)));
  for (let i = 1; i <= n; i++) {
    const cur: Float64Array[] = [Float64Array.from({ length: size }, (_, k) => (k === 0 ? 1 : 0))];
    for (let j = 1; j <= m; j++) {
      const f = new Float64Array(size);
      const left = prev[j]!;
      const down = cur[j - 1]!;
      for (let k = 0; k < size; k++) f[k] = (k >= j ? left[k - j]! : 0) + down[k]!;
      cur.push(f);
    }
    prev = cur;
  }
  const counts = prev[m]!;
  const total = counts.reduce((s, v) => s + v, 0);
  const cdf = new Float64Array(size);
  let acc = 0;
  for (let k = 0; k < size; k++) cdf[k] = Math.min(1, (acc += counts[k]!) / total);
  return cdf;
}

export interface MannWhitney {
  /** U of a: pairs with a_i > b_j, ties counting one half */
  u: number;
  /** two-sided p-value */
  p: number;
  /** exact null distribution (no ties, both samples <= 50), or the normal approximation with tie and continuity corrections */
  method: 'exact' | 'normal';
}

function hasTies(xs: readonly number[]): boolean {
  const s = [...xs].sort((x, y) => x - y);
  return s.some((v, i) => i > 0 && v === s[i - 1]);
}

/** Two-sided Mann-Whitney U test of a against b (R's wilcox.test and SciPy's mannwhitneyu agree on these p-values). */
export function mannWhitney(a: readonly number[], b: readonly number[]): MannWhitney {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) throw new RangeError('Mann-Whitney U of an empty sample');
  let u = 0;
  for (const x of a) for (const y of b) u += x > y ? 1 : x === y ? 0.5 : 0;
  const all = [...a, ...b];
  if (n <= EXACT_MAX && m <= EXACT_MAX && !hasTies(all)) {
    const cdf = mannWhitneyCdf(n, m);
    const k = Math.min(u, n * m - u);
    return { u, p: Math.min(1, 2 * cdf[k]!), method: 'exact' };
  }
  const N = n + m;
  const counts = new Map<number, number>();
  for (const v of all) counts.set(v, (counts.get(v) ?? 0) + 1);
  let tieTerm = 0;
  for (const t of counts.values()) tieTerm += t * t * t - t;
  const sigma = Math.sqrt(((n * m) / 12) * (N + 1 - tieTerm / (N * (N - 1))));
  if (sigma === 0) return { u, p: 1, method: 'normal' };
  const z = Math.max(0, Math.abs(u - (n * m) / 2) - 0.5) / sigma;
  return { u, p: Math.min(1, 2 * (1 - normalCdf(z))), method: 'normal' };
}

export interface ShiftInterval {
  /** Hodges-Lehmann estimate: the median of all pairwise differences a_i - b_j */
  estimate: number;
  low: number;
  high: number;
  /** the coverage the interval achieves (the exact distribution is discrete: >= the asked one, or the most there is) */
  confidence: number;
}

/**
 * The Hodges-Lehmann shift of a against b with its distribution-free confidence interval, the
 * interval that goes with the Mann-Whitney test (as R's wilcox.test(conf.int = TRUE) computes
 * it): order statistics of the sorted pairwise differences, taken at the U distribution's
 * alpha/2 quantile (exact without ties and up to 50 per sample, normal otherwise).
 */
export function hodgesLehmann(a: readonly number[], b: readonly number[], confidence = 0.95): ShiftInterval {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) throw new RangeError('Hodges-Lehmann shift of an empty sample');
  const diffs = Float64Array.from(a.flatMap((x) => b.map((y) => x - y))).sort();
  const nm = n * m;
  const mid = Math.floor(nm / 2);
  const estimate = nm % 2 === 1 ? diffs[mid]! : (diffs[mid - 1]! + diffs[mid]!) / 2;
  const alpha = 1 - confidence;
  if (n <= EXACT_MAX && m <= EXACT_MAX && !hasTies([...a, ...b])) {
    const cdf = mannWhitneyCdf(n, m);
    let qu = cdf.findIndex((p) => p >= alpha / 2);
    if (qu < 1) qu = 1;
    const achieved = 1 - 2 * cdf[qu - 1]!;
    return { estimate, low: diffs[qu - 1]!, high: diffs[nm - qu]!, confidence: achieved };
  }
  const z = normalQuantile(1 - alpha / 2);
  const c = Math.max(0, Math.floor(nm / 2 - z * Math.sqrt((nm * (n + m + 1)) / 12)));
  // nothing excluded: the whole range, whose coverage is 1 - 2 / C(n+m, n) (ties aside), which
  // small samples keep below the asked confidence (3 a side: 90 %)
  let orders = 1;
  for (let i = 1; i <= Math.min(n, m); i++) orders = (orders * (n + m - Math.min(n, m) + i)) / i;
  const achieved = c > 0 ? confidence : Math.min(confidence, 1 - 2 / orders);
  return { estimate, low: diffs[c]!, high: diffs[nm - 1 - c]!, confidence: achieved };
}

/** A difference the pinned figure must be able to resolve, in percent. */
export const RESOLVE_PCT = 5;

export type ShiftVerdict = 'a-higher' | 'b-higher' | 'same' | 'unresolved' | 'undecidable';

export interface ShiftComparison {
  verdict: ShiftVerdict;
  n: [number, number];
  /** a relative to b, in percent: the Hodges-Lehmann shift of log(a) - log(b), as exp(shift) - 1 */
  deltaPct: number;
  /** its confidence interval, in percent */
  ciPct: [number, number];
  confidence: number;
  /** Mann-Whitney U test, two-sided */
  p: number;
  method: MannWhitney['method'];
  /** effect size: P(a > b) + P(a = b)/2 over all pairs (0.5: no tendency), U / (n m) */
  superiority: number;
  /** one sentence a reader can quote */
  text: string;
}

const pct = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(1)}%`;

/**
 * Two sets of repeated measurements of the same figure (positive: IOPS, CPU time per I/O),
 * compared on the log scale, so the shift is a ratio: "a is X % above b, 95 % interval [L, H]".
 * A difference is real when the Mann-Whitney test rejects at 1 - confidence; "same" means the
 * whole interval lies within +-resolvePct, so a difference of that size would have been seen;
 * otherwise the repeats do not resolve it ("unresolved": more repeats narrow the interval).
 */
export function compareShift(a: readonly number[], b: readonly number[], names: [string, string] = ['a', 'b'], opts: { confidence?: number; resolvePct?: number } = {}): ShiftComparison {
  const confidence = opts.confidence ?? 0.95;
  const resolvePct = opts.resolvePct ?? RESOLVE_PCT;
  const xs = a.filter((v) => Number.isFinite(v) && v > 0);
  const ys = b.filter((v) => Number.isFinite(v) && v > 0);
  const base = { n: [xs.length, ys.length] as [number, number], confidence, method: 'exact' as const };
  if (xs.length < 2 || ys.length < 2) {
    return { ...base, verdict: 'undecidable', deltaPct: NaN, ciPct: [NaN, NaN], p: NaN, superiority: NaN, text: 'fewer than 2 repeats a side: no test' };
  }
  const la = xs.map(Math.log);
  const lb = ys.map(Math.log);
  const mw = mannWhitney(la, lb);
  const hl = hodgesLehmann(la, lb, confidence);
  const toPct = (v: number) => (Math.exp(v) - 1) * 100;
  const deltaPct = toPct(hl.estimate);
  const ciPct: [number, number] = [toPct(hl.low), toPct(hl.high)];
  const superiority = mw.u / (xs.length * ys.length);
  const alpha = 1 - confidence;
  // too few repeats for the asked coverage (3 a side reach 90 % at most): nothing is claimed
  const reachable = hl.confidence >= confidence - 1e-9;
  const verdict: ShiftVerdict = !reachable
    ? 'undecidable'
    : mw.p < alpha
      ? deltaPct > 0
        ? 'a-higher'
        : 'b-higher'
      : ciPct[0] > -resolvePct && ciPct[1] < resolvePct
        ? 'same'
        : 'unresolved';
  const head = `${pct(deltaPct)} [${pct(ciPct[0])}, ${pct(ciPct[1])}] p=${mw.p < 0.001 ? mw.p.toExponential(0) : mw.p.toFixed(3)}`;
  const tail =
    verdict === 'a-higher' || verdict === 'b-higher'
      ? `${verdict === 'a-higher' ? names[0] : names[1]} higher`
      : verdict === 'same'
        ? `no difference, +-${resolvePct}% resolved`
        : verdict === 'unresolved'
          ? `not resolved to +-${resolvePct}%`
          : `${xs.length}+${ys.length} repeats reach ${Math.round(hl.confidence * 100)}% at most: no verdict`;
  return { ...base, verdict, deltaPct, ciPct, confidence: hl.confidence, p: mw.p, method: mw.method, superiority, text: `${head}: ${tail}` };
}
