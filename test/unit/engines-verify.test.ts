import test from 'ava';
import { definedPieces } from '../../harness/workloads/verify.js';
import { hugePageBytes } from '../../harness/workloads/smaps.js';

test('verification skips file ranges a faulted write left undefined', (t) => {
  t.deepEqual(definedPieces(0, 100, []), [[0, 100]]);
  t.deepEqual(definedPieces(0, 100, [[40, 60]]), [[0, 40], [60, 100]]);
  t.deepEqual(definedPieces(0, 100, [[0, 100]]), []);
  t.deepEqual(definedPieces(50, 100, [[0, 60], [90, 200]]), [[60, 90]]);
  t.deepEqual(definedPieces(0, 10, [[20, 30]]), [[0, 10]]);
});

test('hugePageBytes: AnonHugePages and ShmemPmdMapped of the mappings over the range, capped at the overlap', (t) => {
  const smaps = [
    '7f0000000000-7f0000400000 rw-p 00000000 00:00 0',
    'Size:               4096 kB',
    'AnonHugePages:      4096 kB',
    '7f0000400000-7f0000600000 rw-p 00000000 00:00 0',
    'AnonHugePages:         0 kB',
    '',
  ].join('\n');
  t.is(hugePageBytes(smaps, 0x7f0000000000n, 2 * 1024 * 1024), 2 * 1024 * 1024);
  t.is(hugePageBytes(smaps, 0x7f0000400000n, 2 * 1024 * 1024), 0);
  t.is(hugePageBytes('', 0x7f0000000000n, 4096), 0);
  const shmem = [
    '7f0000000000-7f0000400000 rw-s 00000000 00:05 12 /dev/shm/x',
    'AnonHugePages:         0 kB',
    'ShmemPmdMapped:     4096 kB',
    '',
  ].join('\n');
  t.is(hugePageBytes(shmem, 0x7f0000000000n, 4 * 1024 * 1024), 4 * 1024 * 1024);
  // both fields on one mapping still count no more than the overlap
  t.is(hugePageBytes(shmem.replace('AnonHugePages:         0', 'AnonHugePages:      4096'), 0x7f0000000000n, 2 * 1024 * 1024), 2 * 1024 * 1024);
});
