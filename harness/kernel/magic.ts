// What a file handed over as a kernel is, from its first bytes: a bzImage (the x86 boot
// protocol's "HdrS" at 0x202), an ELF vmlinux, or, for the message, what it is instead.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { UserError } from '../errors.js';

export type KernelFileKind = { kind: 'bzImage' } | { kind: 'vmlinux' } | { kind: 'other'; what: string };

const BOOT_HEADER_MAGIC = { offset: 0x202, text: 'HdrS' };

function head(file: string, bytes: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(bytes);
    return b.subarray(0, readSync(fd, b, 0, bytes, 0));
  } finally {
    closeSync(fd);
  }
}

function describe(b: Buffer): string {
  if (b.length === 0) return 'an empty file';
  if (b[0] === 0x1f && b[1] === 0x8b) return 'gzip data';
  if (b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz data';
  if (b.readUInt32LE(0) === 0xfd2fb528) return 'zstd data';
  if (b.subarray(0, 8).toString('latin1') === '!<arch>\n') return 'an ar archive (a .deb? use -p debian-image:PACKAGE)';
  const text = b.toString('utf8');
  if (/^[\t\n\r\x20-\x7e\u00a0-\uffff]*$/.test(text) && !text.includes('\ufffd')) {
    const first = text.split('\n')[0]!.slice(0, 40);
    return `a text file starting ${JSON.stringify(first)}`;
  }
  return `data starting ${b.subarray(0, 8).toString('hex')}`;
}

export function kernelFileKind(file: string): KernelFileKind {
  if (statSync(file).isDirectory()) return { kind: 'other', what: 'a directory' };
  const b = head(file, BOOT_HEADER_MAGIC.offset + BOOT_HEADER_MAGIC.text.length);
  if (b.subarray(BOOT_HEADER_MAGIC.offset).toString('latin1') === BOOT_HEADER_MAGIC.text) return { kind: 'bzImage' };
  if (b.subarray(0, 4).toString('latin1') === '\x7fELF') return { kind: 'vmlinux' };
  return { kind: 'other', what: describe(b) };
}

/** A --kernel file must be a bzImage or an ELF vmlinux: anything else is the user's to fix (exit 2). */
export function checkKernelFile(file: string): void {
  if (!existsSync(file)) throw new UserError(`--kernel ${file}: no such file`);
  const k = kernelFileKind(file);
  if (k.kind === 'other') throw new UserError(`--kernel ${file}: not a kernel (neither a bzImage, "HdrS" at 0x202, nor an ELF vmlinux): it is ${k.what}`);
}
