// A zonefs super block (fs/zonefs/zonefs.h, struct zonefs_super) at byte 0 of a disk file, written
// on the host before the guest boots: Debian has no zonefs-tools, and the format is one 4 KiB
// block in the first zone (which zonefs keeps for it). No feature flags, files owned by root with
// mode 0640. The checksum is the kernel's crc32(~0, super block with s_crc = 0): the CRC-32
// register without zlib's final inversion. Run as a script: `node mkzonefs.js DISK-FILE`.
import { closeSync, openSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export const ZONEFS_MAGIC = 0x5a4f4653;
export const ZONEFS_SUPER_SIZE = 4096;
const LABEL_LEN = 64;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** The kernel's crc32(seed, data): little-endian CRC-32, no inversion at either end. */
export function crc32Kernel(seed: number, data: Uint8Array): number {
  let c = seed >>> 0;
  for (const b of data) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

/** The super block's 4096 bytes. Pure, given the uuid. */
export function zonefsSuper(label: string, uuid: Uint8Array): Buffer {
  const sb = Buffer.alloc(ZONEFS_SUPER_SIZE);
  sb.writeUInt32LE(ZONEFS_MAGIC, 0);
  sb.write(label.slice(0, LABEL_LEN - 1), 8, 'latin1');
  Buffer.from(uuid).copy(sb, 8 + LABEL_LEN, 0, 16);
  // s_features (le64) 0, s_uid, s_gid 0, s_perm 0 (unused without ZONEFS_F_PERM)
  sb.writeUInt32LE(crc32Kernel(0xffffffff, sb), 4);
  return sb;
}

export function writeZonefsSuper(file: string, label = 'pinlab'): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, zonefsSuper(label, randomBytes(16)), 0, ZONEFS_SUPER_SIZE, 0);
  } finally {
    closeSync(fd);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: mkzonefs DISK-FILE\n');
    process.exit(2);
  }
  writeZonefsSuper(file);
}
