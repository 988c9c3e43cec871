// A bzImage read as bytes: its setup header's release and compressed payload, and the ELF with a
// PVH note decompressed from it on the host.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunContext } from '../context.js';
import { runStep } from '../exec.js';

/** The PVH entry note QEMU boots an ELF by: XEN_ELFNOTE_PHYS32_ENTRY (type 18, name "Xen"). */
const PVH_NOTE_TAIL = Buffer.from([18, 0, 0, 0, 0x58, 0x65, 0x6e, 0]);

export function hasPvhNote(elf: Buffer): boolean {
  if (elf.subarray(0, 4).toString('latin1') !== '\x7fELF') return false;
  // namesz 4, descsz 4 or 8 (a .long or .quad entry address), then the tail
  for (let i = elf.indexOf(PVH_NOTE_TAIL); i >= 8; i = elf.indexOf(PVH_NOTE_TAIL, i + 1)) {
    if (elf.readUInt32LE(i - 8) === 4 && [4, 8].includes(elf.readUInt32LE(i - 4))) return true;
  }
  return false;
}

/** The compressed payload of a bzImage (setup header payload_offset/length) and its format. Pure. */
export function bzImagePayload(image: Buffer): { data: Buffer; tool: 'xz' | 'zstd' | 'gzip' | 'lz4' } | undefined {
  if (image.length < 0x250 || image.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined;
  const setupSects = image[0x1f1] || 4;
  const start = (setupSects + 1) * 512 + image.readUInt32LE(0x248);
  const data = image.subarray(start, start + image.readUInt32LE(0x24c));
  const magic = data.subarray(0, 6).toString('hex');
  const tool = magic.startsWith('fd377a585a00') ? 'xz' : magic.startsWith('28b52ffd') ? 'zstd' : magic.startsWith('1f8b') ? 'gzip' : magic.startsWith('02214c18') ? 'lz4' : undefined;
  return tool && data.length > 0 ? { data, tool } : undefined;
}

/**
 * The shipped kernel decompressed on the host, for QEMU's PVH entry. Under TCG the bzImage's
 * own decompressor (xz on Debian 6.1, zstd on 6.12) is what took most of the boot: measured on
 * linux-image-6.1.0-57-amd64, QEMU start to ready 26.7/34.1 s with the bzImage vs 8.6/17.6 s with
 * the same kernel decompressed (a loaded host, load average ~12). The code that runs is the
 * same; what is lost is the decompressor's KASLR placement (PVH starts the kernel at its link
 * address). Only when the kernel has a PVH note (CONFIG_PVH).
 */
export async function writePvhKernel(image: Buffer, out: string, work: string, ctx: RunContext): Promise<boolean> {
  const payload = bzImagePayload(image);
  if (!payload) return false;
  mkdirSync(work, { recursive: true });
  // the build appends the uncompressed size (le32) to the payload (size_append): the decompressors
  // call it trailing garbage and exit non-zero, so the size is the integrity check instead
  const size = payload.data.readUInt32LE(payload.data.length - 4);
  const compressed = join(work, 'payload');
  writeFileSync(compressed, payload.data.subarray(0, payload.data.length - 4));
  await runStep(
    { phase: 'kernel:image', argv: ['sh', '-c', `${payload.tool} -dc <"$1" >"$2"`, 'sh', compressed, out], timeoutMs: 120_000 },
    { signal: ctx.signal, allowFailure: true },
  );
  rmSync(compressed, { force: true });
  const elf = existsSync(out) ? readFileSync(out) : undefined;
  const ok = !!elf && elf.length === size && hasPvhNote(elf);
  if (!ok) rmSync(out, { force: true });
  return ok;
}

/** Linux release string from a bzImage's setup header (kernel_version), or undefined. */
export function bzImageRelease(image: Buffer): string | undefined {
  if (image.length < 0x210 || image.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined;
  const off = image.readUInt16LE(0x20e) + 0x200;
  if (off >= image.length) return undefined;
  const end = image.indexOf(0, off);
  const text = image.toString('latin1', off, end < 0 ? Math.min(image.length, off + 256) : end);
  return text.split(' ')[0] || undefined;
}
