import test from 'ava';
import { bzImagePayload, bzImageRelease, hasPvhNote } from '../../harness/kernel/bzimage.js';
import { parseDebianImageProfile } from '../../harness/kernel/debian-images.js';
import { imageIdentity } from '../../harness/kernel/image.js';
import { moduleName, planModules } from '../../harness/kernel/image-modules.js';
import { kernelRequest } from '../../harness/kernel/index.js';
import { partitionByConfig } from '../../harness/kernel/requirements.js';
import { applyKnownStates } from '../../harness/verdict/known-states.js';
import { makeSpec } from '../../harness/workloads/catalogue.js';
import type { KernelIdentity, Verdict } from '../../harness/verdict/types.js';

test('debian-image profile: package, optional version, bad spellings rejected', (t) => {
  t.deepEqual(parseDebianImageProfile('debian-image:linux-image-6.1.0-57-amd64'), { kind: 'debian', pkg: 'linux-image-6.1.0-57-amd64' });
  t.deepEqual(parseDebianImageProfile('debian-image:linux-image-6.12.117+deb12-rt-amd64=6.12.117-1~deb12u1'), {
    kind: 'debian',
    pkg: 'linux-image-6.12.117+deb12-rt-amd64',
    version: '6.12.117-1~deb12u1',
  });
  t.throws(() => parseDebianImageProfile('debian-image:linux-source-6.1'), { message: /expected debian-image:linux-image-/ });
  t.throws(() => parseDebianImageProfile('debian-image:linux-image-6.1.0-57-amd64='));
});

test('an image request carries no patches or fragments, and refuses them', (t) => {
  const req = kernelRequest({ profile: 'debian-image:linux-image-6.1.0-57-amd64' });
  t.deepEqual(req.source, { kind: 'image', image: { kind: 'debian', pkg: 'linux-image-6.1.0-57-amd64' } });
  t.deepEqual(req.patchFiles, []);
  t.deepEqual(req.fragments, []);
  t.throws(() => kernelRequest({ profile: 'debian-image:linux-image-6.1.0-57-amd64', configFragment: ['kernel-config/pin-minimal.config'] }), { message: /prebuilt image/ });
});

test('identity names package and version (what known states and reports read)', (t) => {
  t.is(imageIdentity({ kind: 'debian', pkg: 'linux-image-6.1.0-57-amd64' }, 'ab'.repeat(32), '6.1.192-3'), 'debian-image:linux-image-6.1.0-57-amd64=6.1.192-3');
  t.is(imageIdentity({ kind: 'file', kernel: '/boot/vmlinuz-6.1.0-57-amd64' }, '0123456789abcdef'.repeat(4)), 'image:vmlinuz-6.1.0-57-amd64@sha256:0123456789abcdef');
});

const DEP = [
  'kernel/fs/ext4/ext4.ko.xz: kernel/lib/crc16.ko.xz kernel/fs/mbcache.ko.xz kernel/fs/jbd2/jbd2.ko.xz',
  'kernel/lib/crc16.ko.xz:',
  'kernel/fs/mbcache.ko.xz:',
  'kernel/fs/jbd2/jbd2.ko.xz:',
  'kernel/drivers/block/virtio_blk.ko.xz: kernel/drivers/virtio/virtio_ring.ko.xz',
  'kernel/drivers/virtio/virtio_ring.ko.xz:',
  'kernel/net/9p/9pnet_virtio.ko.xz: kernel/net/9p/9pnet.ko.xz kernel/drivers/virtio/virtio_ring.ko.xz',
  'kernel/net/9p/9pnet.ko.xz:',
  'kernel/fs/unrelated.ko.xz:',
].join('\n');

test('planModules: dependency closure, dependencies first, built-in and missing told apart', (t) => {
  const p = planModules(['virtio_pci', 'virtio_blk', '9pnet_virtio', 'ext4', 'vfat'], DEP, 'kernel/drivers/virtio/virtio_pci.ko\n');
  t.deepEqual(p.load, ['virtio_blk', '9pnet_virtio', 'ext4']);
  t.deepEqual(p.builtin, ['virtio_pci']);
  t.deepEqual(p.missing, ['vfat']);
  t.false(p.files.includes('kernel/fs/unrelated.ko.xz'));
  t.is(p.files.filter((f) => f.endsWith('virtio_ring.ko.xz')).length, 1);
  for (const [dep, user] of [
    ['kernel/drivers/virtio/virtio_ring.ko.xz', 'kernel/drivers/block/virtio_blk.ko.xz'],
    ['kernel/fs/jbd2/jbd2.ko.xz', 'kernel/fs/ext4/ext4.ko.xz'],
  ] as const) {
    t.true(p.files.indexOf(dep) < p.files.indexOf(user), `${dep} before ${user}`);
  }
  t.is(moduleName('kernel/drivers/nvme/host/nvme-core.ko.zst'), 'nvme_core');
});

test('bzImageRelease reads the setup header, and nothing from a non-bzImage', (t) => {
  const img = Buffer.alloc(0x400);
  img.write('HdrS', 0x202, 'latin1');
  img.writeUInt16LE(0x100, 0x20e); // kernel_version at 0x100 + 0x200
  img.write('6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP\0', 0x300, 'latin1');
  t.is(bzImageRelease(img), '6.1.0-57-amd64');
  t.is(bzImageRelease(Buffer.alloc(0x400)), undefined);
});

test('config decides: a workload whose symbol is off is SKIP naming it; an unknown config skips nothing', (t) => {
  const specs = [
    makeSpec({ target: 'raw-virtio', engine: 'psync' }),
    makeSpec({ target: 'ext2', engine: 'psync' }),
    makeSpec({ target: 'raw-virtio', engine: 'libaio', fault: { kind: 'fail-make-request', times: 1, probability: 100, interval: 1 } }),
  ];
  const debianLike = 'CONFIG_VIRTIO_BLK=m\nCONFIG_EXT4_FS=m\n# CONFIG_EXT2_FS is not set\nCONFIG_EXT4_USE_FOR_EXT2=y\nCONFIG_AIO=y\n';
  const { runnable, skipped } = partitionByConfig(specs, debianLike);
  t.deepEqual(runnable.map((s) => s.name), ['raw-virtio.psync.anon']);
  t.deepEqual(skipped.map((v) => v.status), ['SKIP', 'SKIP']);
  t.regex(skipped[0]!.skipReason!, /CONFIG_EXT2_FS/);
  t.regex(skipped[1]!.skipReason!, /CONFIG_FAIL_MAKE_REQUEST/);
  t.notRegex(skipped[1]!.skipReason!, /CONFIG_AIO/);
  t.is(partitionByConfig(specs, '').runnable.length, 3);
});

function fail(name: string): Verdict {
  return { name, target: 'raw-virtio', engine: 'psync', status: 'FAIL', reasons: ['not-pinned'], path: [], pinning: 'not-pinned', splats: [], message: 'not-pinned' };
}

test("Debian's 6.1 images are stock 6.1 (XFAIL not-pinned); 6.12 images and patched builds are not", (t) => {
  const img61: KernelIdentity = { profile: 'debian-image:linux-image-6.1.0-57-rt-amd64', source: 'debian-image:linux-image-6.1.0-57-rt-amd64=6.1.192-3', patches: [] };
  const img612: KernelIdentity = { source: 'debian-image:linux-image-6.12.117+deb12-amd64=6.12.117-1~deb12u1', patches: [] };
  t.is(applyKnownStates([fail('raw-virtio.psync.anon')], img61, false)[0]!.status, 'XFAIL');
  t.is(applyKnownStates([fail('raw-virtio.psync.anon')], img612, false)[0]!.status, 'FAIL');
  t.is(applyKnownStates([fail('raw-virtio.psync.anon')], { ...img61, patches: [{ file: 'x.patch', sha256: 'ab' }] }, false)[0]!.status, 'FAIL');
});

test('soft dependencies load first, an alias resolved to its generic module (ext4 needs crc32c)', (t) => {
  const dep = `${DEP}\nkernel/crypto/crc32c_generic.ko.xz:\nkernel/arch/x86/crypto/crc32c-intel.ko.xz:\n`;
  const softdep = 'softdep ext4 pre: crypto-crc32c\nsoftdep jbd2 pre: crypto-crc32c\n';
  const alias = 'alias crypto-crc32c crc32c_intel\nalias crypto-crc32c crc32c_generic\n';
  const p = planModules(['ext4'], dep, '', softdep, alias);
  t.deepEqual(p.load, ['crc32c_generic', 'ext4']);
  t.true(p.files.includes('kernel/crypto/crc32c_generic.ko.xz'));
  t.false(p.files.includes('kernel/arch/x86/crypto/crc32c-intel.ko.xz'));
  t.deepEqual(planModules(['ext4'], dep, '').load, ['ext4']);
});

test('bzImagePayload finds the compressed kernel by the setup header; hasPvhNote wants an ELF with the PVH entry note', (t) => {
  const img = Buffer.alloc(0x1000);
  img.write('HdrS', 0x202, 'latin1');
  img[0x1f1] = 1; // setup_sects: protected-mode code at (1 + 1) * 512
  img.writeUInt32LE(0x100, 0x248); // payload_offset
  img.writeUInt32LE(8, 0x24c); // payload_length
  Buffer.from('28b52ffd01020304', 'hex').copy(img, 0x400 + 0x100);
  const p = bzImagePayload(img)!;
  t.is(p.tool, 'zstd');
  t.is(p.data.toString('hex'), '28b52ffd01020304');
  t.is(bzImagePayload(Buffer.alloc(0x1000)), undefined);
  const note = Buffer.from([4, 0, 0, 0, 4, 0, 0, 0, 18, 0, 0, 0, 0x58, 0x65, 0x6e, 0]);
  t.true(hasPvhNote(Buffer.concat([Buffer.from('\x7fELF', 'latin1'), Buffer.alloc(60), note])));
  t.false(hasPvhNote(Buffer.concat([Buffer.from('\x7fELF', 'latin1'), Buffer.alloc(60)])));
  t.false(hasPvhNote(Buffer.concat([Buffer.alloc(64), note])));
  const note64 = Buffer.from([4, 0, 0, 0, 8, 0, 0, 0, 18, 0, 0, 0, 0x58, 0x65, 0x6e, 0]); // Debian's: a .quad entry
  t.true(hasPvhNote(Buffer.concat([Buffer.from('\x7fELF', 'latin1'), Buffer.alloc(60), note64])));
});
