// A built kernel with CONFIG_PVH keeps its vmlinux (the ELF QEMU boots through the PVH entry)
// in its cache entry, recorded and checked like the bzImage.
// PINLAB_CACHE points at a temporary directory for this file's process (ava: one per file).
import test from 'ava';
import { existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lookupArtifact, PVH_KERNEL, storeKernel, type KernelMeta } from '../../harness/kernel/build.js';
import { bootFormOf } from '../../harness/kernel/boot-form.js';
import { testTempDir } from '../tmp.js';

const cache = testTempDir('pinlab-cache-pvh-');
process.env.PINLAB_CACHE = cache;

const meta = (key: string): KernelMeta => ({ key, identity: 'test', patches: [], configSha256: 'x', compiler: 'gcc', release: '6.1.0-test', builtAt: new Date(0).toISOString(), buildMs: 1 });

function files(dir: string): { bzImage: string; pvhKernel: string } {
  const bz = Buffer.alloc(64 * 1024, 0x5a);
  bz.write('HdrS', 0x202, 'latin1');
  writeFileSync(join(dir, 'bzImage.src'), bz);
  writeFileSync(join(dir, 'vmlinux.bin'), Buffer.concat([Buffer.from('\x7fELF', 'latin1'), Buffer.alloc(128 * 1024, 0x11)]));
  return { bzImage: join(dir, 'bzImage.src'), pvhKernel: join(dir, 'vmlinux.bin') };
}

test('the PVH kernel is stored beside the bzImage, booted instead of it, and a truncated one is not trusted', (t) => {
  const src = testTempDir('pinlab-pvh-src-');
  const key = 'd'.repeat(32);
  const stored = storeKernel(key, { ...files(src), configText: 'CONFIG_PVH=y\n', patches: [] }, meta(key));
  const pvh = join(stored.dir, PVH_KERNEL);
  t.deepEqual(readFileSync(pvh), readFileSync(join(src, 'vmlinux.bin')));
  t.like(bootFormOf(stored.bzImage), { kernel: pvh, pvh: true });
  const recorded = JSON.parse(readFileSync(join(stored.dir, 'content.json'), 'utf8')) as { files: Record<string, unknown> };
  t.deepEqual(Object.keys(recorded.files).sort(), ['bzImage', 'config', 'meta.json', PVH_KERNEL].sort());
  t.truthy(lookupArtifact(key, () => undefined));
  truncateSync(pvh, 4096);
  const logs: string[] = [];
  t.is(lookupArtifact(key, (m) => logs.push(m)), undefined);
  t.regex(logs.join('\n'), /vmlinux\.pvh has 4096 bytes/);
  t.false(existsSync(stored.dir));
});

test('without a PVH kernel the entry boots its bzImage', (t) => {
  const src = testTempDir('pinlab-pvh-src-');
  const key = 'e'.repeat(32);
  const stored = storeKernel(key, { bzImage: files(src).bzImage, configText: '', patches: [] }, meta(key));
  t.false(existsSync(join(stored.dir, PVH_KERNEL)));
  t.like(bootFormOf(stored.bzImage), { kernel: stored.bzImage, pvh: false });
  t.truthy(lookupArtifact(key, () => undefined));
});
