import test from 'ava';
import type { AlignedBuffer } from '../../harness/workloads/addon.js';
import { DEFAULT_SUITE } from '../../harness/workloads/catalogue.js';
import { BIO_TRIM_OFFSET, PAGE, opAt, opPages, opSpan } from '../../harness/workloads/ops.js';

const BIO_MAX_VECS = 256;
// a 2 MiB hugetlb buffer as the addon maps it: its address is huge-page aligned
const buffer = { address: 0x40000000n, size: 2 * 1024 * 1024 } as unknown as AlignedBuffer;

test("bio-trim layout: BIO_MAX_VECS - 1 one-page segments with a gap page each, then one that starts 512 bytes into a page and spans two", (t) => {
  const w = DEFAULT_SUITE.find((x) => x.segmentOrder === 'bio-trim');
  t.truthy(w, 'the default suite has the bio-trim workload');
  t.is(w!.buffer, 'hugetlb', 'huge pages: no two segments are physically adjacent, each is one bio_vec');
  const op = opAt(0, w!.blockSize, w!.segments, buffer, 0, 'bio-trim');
  t.is(op.segments.length, BIO_MAX_VECS);
  const starts = op.segments.map((s) => s.offset);
  t.deepEqual(starts.slice(0, 3), [0, 2 * PAGE, 4 * PAGE]);
  t.true(op.segments.slice(0, -1).every((s, j) => s.offset === 2 * PAGE * j && s.length === PAGE));
  const last = op.segments.at(-1)!;
  t.is(last.offset % PAGE, BIO_TRIM_OFFSET);
  t.is(last.length, PAGE);
  // every segment a whole logical block of 4 KiB (a DIO the device accepts), the last one on two pages
  t.is(opPages(op, w!.blockSize), BIO_MAX_VECS - 1 + 2, 'pages a correct kernel pins: 255 + 2');
  // iov_iter_npages is over BIO_MAX_VECS: the multi-bio path (__blkdev_direct_IO)
  t.true(opPages(op, w!.blockSize) > BIO_MAX_VECS);
  // it fits its buffer and stays inside one 2 MiB huge page
  t.true(last.offset + last.length <= opSpan(w!.blockSize, 'bio-trim'));
  t.true(opSpan(w!.size, 'bio-trim') <= 2 * 1024 * 1024);
});

test('bio-trim ops of a longer range take consecutive buffer regions of twice their length', (t) => {
  const a = opAt(0, 8 * PAGE, 8, buffer, opSpan(0, 'bio-trim'), 'bio-trim');
  const b = opAt(8 * PAGE, 8 * PAGE, 8, buffer, opSpan(8 * PAGE, 'bio-trim'), 'bio-trim');
  t.is(a.segments.at(-1)!.offset, 14 * PAGE + BIO_TRIM_OFFSET);
  t.true(a.segments.at(-1)!.offset + PAGE <= b.segments[0]!.offset, 'no overlap');
  t.is(b.segments[0]!.offset, 16 * PAGE);
  t.throws(() => opAt(0, PAGE + 512, 2, buffer, 0, 'bio-trim'), { instanceOf: RangeError });
});
