// A prebuilt kernel small enough for unit tests, shaped like a Debian image: a bzImage whose
// setup header names its release and whose payload (gzip, with the uncompressed size appended
// as the build does) is an ELF with the PVH entry note, a config beside it
// (/boot/config-RELEASE), and a lib/modules/RELEASE tree with one guest module and modules.dep.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const FAKE_RELEASE = '6.1.0-99-amd64';

export interface FakeImage {
  kernel: string;
  modules: string;
  /** what vmlinux.pvh must hold */
  elf: Buffer;
}

export function fakeImageKernel(dir: string): FakeImage {
  // an ELF with XEN_ELFNOTE_PHYS32_ENTRY (namesz 4, descsz 8, type 18, "Xen") and some body
  const note = Buffer.from([4, 0, 0, 0, 8, 0, 0, 0, 18, 0, 0, 0, 0x58, 0x65, 0x6e, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
  const elf = Buffer.concat([Buffer.from('\x7fELF', 'latin1'), Buffer.alloc(60), note, Buffer.alloc(64 * 1024, 0x90)]);
  const size = Buffer.alloc(4);
  size.writeUInt32LE(elf.length);
  const payload = Buffer.concat([gzipSync(elf), size]);
  const head = Buffer.alloc(0x600);
  head.write('HdrS', 0x202, 'latin1');
  head[0x1f1] = 1; // setup_sects: protected-mode code at (1 + 1) * 512
  head.writeUInt16LE(0x100, 0x20e); // kernel_version at 0x100 + 0x200
  head.write(`${FAKE_RELEASE} (fake@test) #1 SMP`, 0x300, 'latin1');
  head.writeUInt32LE(0x200, 0x248); // payload_offset from 0x400
  head.writeUInt32LE(payload.length, 0x24c);
  const boot = join(dir, 'boot');
  mkdirSync(boot, { recursive: true });
  const kernel = join(boot, `vmlinuz-${FAKE_RELEASE}`);
  writeFileSync(kernel, Buffer.concat([head, payload]));
  writeFileSync(join(boot, `config-${FAKE_RELEASE}`), 'CONFIG_PVH=y\nCONFIG_VIRTIO_BLK=m\n');
  const modules = join(dir, 'lib/modules', FAKE_RELEASE);
  mkdirSync(join(modules, 'kernel/drivers/block'), { recursive: true });
  writeFileSync(join(modules, 'kernel/drivers/block/virtio_blk.ko'), Buffer.alloc(8192, 0x4b));
  writeFileSync(join(modules, 'modules.dep'), 'kernel/drivers/block/virtio_blk.ko:\n');
  writeFileSync(join(modules, 'modules.builtin'), 'kernel/fs/ext4/ext4.ko\n');
  return { kernel, modules, elf };
}
