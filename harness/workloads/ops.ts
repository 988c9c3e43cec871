// How a workload's I/O operations are laid out over its buffers (opAt), and the user pages one
// of them spans (opPages), which is what a correct kernel pins for it.
import type { AlignedBuffer, IoOp } from './addon.js';
import type { SegmentOrder } from './types.js';

export const PAGE = 4096;

/** Where the last segment of a 'bio-trim' op starts inside its page (a DMA-aligned, not block-aligned, address). */
export const BIO_TRIM_OFFSET = 512;

/** Buffer bytes an op of `length` bytes takes in the given layout: 'bio-trim' leaves a page after each segment. */
export function opSpan(length: number, order: SegmentOrder | undefined): number {
  return order === 'bio-trim' ? 2 * length : length;
}

/**
 * Pages a correct kernel pins for one op that moved `bytes`: for each iovec segment (in order,
 * up to `bytes`), the 4 KiB pages it spans, counting page-unaligned starts and ends. A page
 * shared by two segments of one op counts once per segment: Direct I/O pins segment by segment
 * (measured on 6.18: 8 ops of 4 x 512-byte segments inside one page each took 32 pins, not 8).
 * Buffers are pattern-filled before writes and read destinations are pinned for writing, so
 * the zero page never appears here.
 */
export function opPages(op: IoOp, bytes: number): number {
  let pages = 0;
  let left = bytes;
  for (const s of op.segments) {
    if (left <= 0) break;
    const take = Math.min(left, s.length);
    const start = Number(s.buffer.address) + s.offset;
    pages += Math.floor((start + take - 1) / PAGE) - Math.floor(start / PAGE) + 1;
    left -= take;
  }
  return pages;
}

/**
 * One op over file bytes [position, position+length) split into `nseg` segments; by default the
 * segments sit in reverse order inside the op's region of the buffer, so a vectored engine that
 * places a segment's data wrongly is caught by the pattern; 'ascending' lays them out
 * contiguously (adjacent sub-page segments then merge into one bio_vec in the kernel).
 */
export function opAt(position: number, length: number, nseg: number, buffer: AlignedBuffer, bufOffset: number, order: SegmentOrder = 'reverse'): IoOp {
  if (order === 'bio-trim') return bioTrimOp(position, length, buffer, bufOffset);
  const n = Math.max(1, Math.min(nseg, length));
  const base = Math.floor(length / n);
  const lengths = Array.from({ length: n }, (_, j) => (j === n - 1 ? length - base * (n - 1) : base));
  let after = length;
  let before = 0;
  const segments = lengths.map((len) => {
    after -= len;
    const offset = order === 'ascending' ? before : after;
    before += len;
    return { buffer, offset: bufOffset + offset, length: len };
  });
  return { position, segments };
}

/**
 * The 'bio-trim' layout (types.ts SegmentOrder): one-page segments with a page between them, so
 * none merges with the next (on a huge page the gap is physical too), and a last segment that
 * starts BIO_TRIM_OFFSET into its page and so spans two. With BIO_MAX_VECS one-page segments
 * before it in one bio, the bio has a single slot left for the last one. Takes
 * opSpan(length) buffer bytes from bufOffset.
 */
export function bioTrimOp(position: number, length: number, buffer: AlignedBuffer, bufOffset: number): IoOp {
  if (length % PAGE !== 0) throw new RangeError(`a bio-trim op moves whole pages, not ${length} bytes`);
  const n = length / PAGE;
  const segments = Array.from({ length: n }, (_, j) => ({ buffer, offset: bufOffset + 2 * PAGE * j + (j === n - 1 ? BIO_TRIM_OFFSET : 0), length: PAGE }));
  return { position, segments };
}
