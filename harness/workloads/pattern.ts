// The data pattern in TypeScript: a byte-for-byte mirror of native/pattern.cc, so tests (and
// anyone reading raw device bytes) can check what the addon wrote without trusting the addon.
// Every 512-byte sector: "PNLB", u32 seed, u64 byte offset of the sector, then 124 u32 words of
// an LCG seeded from (sector, seed); all little endian.

export const SECTOR = 512;

export function patternSector(sector: number, seed: number): Buffer {
  const out = Buffer.alloc(SECTOR);
  out.write('PNLB', 0, 'latin1');
  out.writeUInt32LE(seed >>> 0, 4);
  out.writeBigUInt64LE(BigInt(sector) * BigInt(SECTOR), 8);
  const lo = sector % 2 ** 32;
  const hi = Math.floor(sector / 2 ** 32);
  let x = (Math.imul(lo, 2654435761) ^ Math.imul(hi, 40503) ^ Math.imul(seed >>> 0, 2246822519) ^ 0x5bd1e995) >>> 0;
  for (let i = 16; i < SECTOR; i += 4) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out.writeUInt32LE(x, i);
  }
  return out;
}

/** The pattern bytes for file positions [position, position + length). */
export function patternBytes(position: number, length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const pos = position + done;
    const within = pos % SECTOR;
    const n = Math.min(SECTOR - within, length - done);
    patternSector(Math.floor(pos / SECTOR), seed).copy(out, done, within, within + n);
    done += n;
  }
  return out;
}

/** File position of the first byte of `data` (read from `position`) that is not the pattern, or -1. */
export function firstMismatch(data: Uint8Array, position: number, seed: number): number {
  const want = patternBytes(position, data.length, seed);
  for (let i = 0; i < data.length; i++) if (data[i] !== want[i]) return position + i;
  return -1;
}
