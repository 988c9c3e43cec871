import test from 'ava';
import { compareSpread, meanCurve, quantiles, quantileSorted, ratioSummary, summarize } from '../../harness/bench/stats.js';

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

test('compareSpread: overlapping ranges are noise, disjoint ranges a difference', (t) => {
  const noise = compareSpread([100, 110, 105], [104, 98, 101], ['pinned', 'stock']);
  t.is(noise.verdict, 'within-noise');
  t.regex(noise.text, /within noise/);
  t.is(Math.round(noise.deltaPct * 10) / 10, 4);
  const real = compareSpread([80, 82, 81], [100, 99, 101], ['pinned', 'stock']);
  t.is(real.verdict, 'b-higher');
  t.regex(real.text, /stock higher in every repeat/);
  t.is(compareSpread([120, 121], [100, 101]).verdict, 'a-higher');
  t.is(compareSpread([1], [2]).verdict, 'undecidable');
  t.is(compareSpread([], [2]).verdict, 'undecidable');
});
