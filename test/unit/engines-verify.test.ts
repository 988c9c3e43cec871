import test from 'ava';
import { definedPieces } from '../../harness/workloads/engines.js';

test('verification skips file ranges a faulted write left undefined', (t) => {
  t.deepEqual(definedPieces(0, 100, []), [[0, 100]]);
  t.deepEqual(definedPieces(0, 100, [[40, 60]]), [[0, 40], [60, 100]]);
  t.deepEqual(definedPieces(0, 100, [[0, 100]]), []);
  t.deepEqual(definedPieces(50, 100, [[0, 60], [90, 200]]), [[60, 90]]);
  t.deepEqual(definedPieces(0, 10, [[20, 30]]), [[0, 10]]);
});
