// The huge-page backing of a buffer, from /proc/self/smaps: the one parser (the addon used to
// count it again in C++, and the two counted different fields).
import { readFileSync } from 'node:fs';

/** smaps fields that count pages mapped by a PMD: anonymous THP and shmem THP. */
const HUGE_FIELDS = /^(?:AnonHugePages|ShmemPmdMapped):\s+(\d+) kB/;

export function readSmaps(): string {
  try {
    return readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return '';
  }
}

/**
 * Bytes of [address, address+length) backed by transparent huge pages: the AnonHugePages and
 * ShmemPmdMapped of the mappings that overlap the range, each mapping capped at its overlap.
 */
export function hugePageBytes(smaps: string, address: bigint, length: number): number {
  const end = address + BigInt(length);
  let total = 0;
  let overlap = 0;
  let counted = 0;
  for (const line of smaps.split('\n')) {
    const range = /^([0-9a-f]+)-([0-9a-f]+)\s/.exec(line);
    if (range) {
      const lo = BigInt(`0x${range[1]}`);
      const hi = BigInt(`0x${range[2]}`);
      const a = lo > address ? lo : address;
      const b = hi < end ? hi : end;
      overlap = b > a ? Number(b - a) : 0;
      counted = 0;
      continue;
    }
    const huge = HUGE_FIELDS.exec(line);
    if (huge && overlap > counted) {
      const add = Math.min(overlap - counted, Number(huge[1]) * 1024);
      total += add;
      counted += add;
    }
  }
  return total;
}
