// Verification of read-back data: each read op's bytes against the pattern its write stamped,
// over the bytes both the write and the read moved, skipping file ranges a fault left undefined.
import type { BatchResult, IoOp } from './addon.js';
import type { WorkloadIO } from './types.js';

/** A file range [from, to) that holds neither the old nor the new data (faults.ts says when). */
export type UndefinedRange = [number, number];

/** [from, to) minus the undefined ranges, as a list of pieces. */
export function definedPieces(from: number, to: number, undefinedRanges: readonly UndefinedRange[]): [number, number][] {
  let pieces: [number, number][] = [[from, to]];
  for (const [u0, u1] of undefinedRanges) {
    pieces = pieces.flatMap(([a, b]): [number, number][] => {
      if (u1 <= a || u0 >= b) return [[a, b]];
      const out: [number, number][] = [];
      if (u0 > a) out.push([a, u0]);
      if (u1 < b) out.push([u1, b]);
      return out;
    });
  }
  return pieces;
}

/** Checks each read op over the bytes both its write (`written[i]`) and its read moved. */
export function verifyRead(ops: IoOp[], read: BatchResult, written: number[], seed: number, undefinedRanges: readonly UndefinedRange[]): WorkloadIO['verify'] {
  let checked = 0;
  let firstBad: number | undefined;
  let unchecked = 0;
  ops.forEach((op, i) => {
    const bytes = Math.min(Math.max(0, read.results[i]!), written[i]!);
    const length = op.segments.reduce((n, s) => n + s.length, 0);
    if (bytes < length) unchecked += length - bytes;
    let left = bytes;
    let pos = op.position;
    for (const s of op.segments) {
      if (left <= 0) break;
      const take = Math.min(left, s.length);
      let defined = 0;
      for (const [from, to] of definedPieces(pos, pos + take, undefinedRanges)) {
        const bad = s.buffer.verify(seed, from, s.offset + (from - pos), to - from);
        if (bad >= 0 && (firstBad === undefined || bad < firstBad)) firstBad = bad;
        defined += to - from;
      }
      checked += defined;
      unchecked += take - defined;
      left -= take;
      pos += s.length;
    }
  });
  const out: WorkloadIO['verify'] = { ok: firstBad === undefined, checkedBytes: checked };
  if (firstBad !== undefined) out.firstBadOffset = firstBad;
  const notes: string[] = [];
  if (firstBad !== undefined) notes.push(`data at byte ${firstBad} is not the pattern (seed ${seed})`);
  if (unchecked > 0) notes.push(`${unchecked} bytes not checked: their write or read failed or was short`);
  if (notes.length > 0) out.detail = notes.join('; ');
  return out;
}
