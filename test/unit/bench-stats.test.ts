import test from 'ava';
import { compareShift, hodgesLehmann, mannWhitney, mannWhitneyCdf, meanCurve, normalCdf, normalQuantile, quantiles, ratioSummary, summarize } from '../../harness/bench/stats.js';
import { quantileSorted } from '../../harness/workloads/latency.js';

test('summarize gives n, min, median, max; even counts average the middle two', (t) => {
  t.deepEqual(summarize([3, 1, 2]), { n: 3, min: 1, median: 2, max: 3 });
  t.deepEqual(summarize([4, 1, 3, 2]), { n: 4, min: 1, median: 2.5, max: 4 });
  t.deepEqual(summarize([7]), { n: 1, min: 7, median: 7, max: 7 });
  t.is(summarize([]), undefined);
  t.deepEqual(summarize([1, NaN, 3]), { n: 2, min: 1, median: 2, max: 3 });
});

test('quantiles are nearest-rank', (t) => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  t.is(quantileSorted(xs, 50), 50);
  t.is(quantileSorted(xs, 99.9), 100);
  t.is(quantileSorted(xs, 1), 1);
  t.deepEqual(quantiles([5, 1, 3], [0, 50, 100]), [1, 3, 5]);
  t.throws(() => quantileSorted([], 50), { instanceOf: RangeError });
});

test('meanCurve averages quantile curves point by point', (t) => {
  t.deepEqual(meanCurve([[1, 2, 3], [3, 4, 5]]), [2, 3, 4]);
  t.deepEqual(meanCurve([]), []);
  t.throws(() => meanCurve([[1], [1, 2]]), { instanceOf: RangeError });
});

test('ratioSummary pairs repeats by index and skips zero denominators', (t) => {
  t.deepEqual(ratioSummary([90, 100, 50], [100, 100, 0]), { n: 2, min: 0.9, median: 0.95, max: 1 });
  t.is(ratioSummary([], []), undefined);
});

// Reference values: R's wilcox.test documentation example (Hollander & Wolfe's depression
// scores) and SciPy 1.17's mannwhitneyu; the confidence intervals from an independent
// enumeration of all C(n+m, n) rank orders in Python, with R's rule (qwilcox(alpha/2) order
// statistics of the sorted pairwise differences).
const X = [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
const Y = [1.15, 0.88, 0.9, 0.74, 1.21];
const close = (a: number, b: number, eps = 1e-6) => Math.abs(a - b) <= eps;

test('normalCdf and normalQuantile agree with the tables', (t) => {
  t.true(close(normalCdf(0), 0.5));
  t.true(close(normalCdf(1.959963985), 0.975));
  t.true(close(normalCdf(-1), 0.158655254));
  t.true(close(normalQuantile(0.975), 1.959963985));
  t.true(close(normalQuantile(0.005), -2.575829304));
  t.throws(() => normalQuantile(1), { instanceOf: RangeError });
});

test('mannWhitneyCdf is the exact null distribution of U', (t) => {
  // n = m = 3: 20 orders; counts of U = 0..9 are 1 1 2 3 3 3 3 2 1 1
  t.deepEqual([...mannWhitneyCdf(3, 3)].map((p) => Math.round(p * 20)), [1, 2, 4, 7, 10, 13, 16, 18, 19, 20]);
  t.true(close(mannWhitneyCdf(4, 4)[0]!, 1 / 70));
});

test('mannWhitney: exact p-values as R and SciPy give them', (t) => {
  const r = mannWhitney(X, Y);
  t.is(r.u, 35);
  t.is(r.method, 'exact');
  t.true(close(r.p, 0.2544122544122544));
  const apart = mannWhitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]);
  t.is(apart.u, 0);
  t.true(close(apart.p, 0.007936507936507936));
});

test('mannWhitney: ties take the normal approximation with tie and continuity corrections (SciPy asymptotic)', (t) => {
  const r = mannWhitney([1, 2, 2, 3, 4, 5, 5, 6], [3, 4, 4, 5, 6, 7, 8, 8, 9]);
  t.is(r.method, 'normal');
  t.is(r.u, 14);
  t.true(close(r.p, 0.03714012623439529, 1e-5));
  t.is(mannWhitney([1, 1], [1, 1]).p, 1);
});

test('hodgesLehmann: the median pairwise difference and R\'s exact interval', (t) => {
  const hl = hodgesLehmann(X, Y);
  t.true(close(hl.estimate, 0.305));
  t.true(close(hl.low, -0.15));
  t.true(close(hl.high, 0.76));
  t.true(close(hl.confidence, 0.9600399600399601));
  // three a side cannot reach 95 %: the widest interval there is, at its own coverage (90 %)
  const small = hodgesLehmann([10, 11, 12], [1, 2, 3]);
  t.deepEqual([small.low, small.high], [7, 11]);
  t.true(close(small.confidence, 0.9));
});

test('compareShift: a 5.8 % difference with five repeats a side is found, with its interval', (t) => {
  const c = compareShift([1000, 1020, 990, 1010, 1005], [940, 950, 960, 945, 955], ['pinned', 'stock']);
  t.is(c.verdict, 'a-higher');
  t.true(close(c.deltaPct, 5.789473684210522, 1e-9));
  t.true(close(c.ciPct[0], 4.16666666666663, 1e-9));
  t.true(close(c.ciPct[1], 7.4468085106382365, 1e-9));
  t.true(close(c.p, 2 / 252));
  t.is(c.superiority, 1);
  t.regex(c.text, /^\+5\.8% \[\+4\.2%, \+7\.4%\] p=0\.008: pinned higher$/);
});

test('compareShift: same within 5 %, unresolved, and too few repeats', (t) => {
  const a = [1000, 1004, 998, 1002, 1001, 999, 1003, 997];
  const b = [1001, 999, 1003, 1000, 998, 1002, 997, 1004];
  const same = compareShift(a, b);
  t.is(same.verdict, 'same');
  t.regex(same.text, /no difference, \+-5% resolved/);
  const wide = compareShift([900, 1100, 1000, 950], [1000, 1080, 920, 1010]);
  t.is(wide.verdict, 'unresolved');
  t.regex(wide.text, /not resolved to \+-5%/);
  t.is(compareShift([1], [2, 3]).verdict, 'undecidable');
  t.is(compareShift([1, NaN, 2], [2, 3]).n[0], 2);
});
