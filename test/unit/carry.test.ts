import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import { cannotRunGuest, carryFiles, missing9p, repoPayload } from '../../harness/vm/carry.js';
import { vmSpecFor } from '../../harness/vm/session.js';
import { testTempDir } from '../tmp.js';

const BUILT = readFileSync(join(repoRoot, 'kernel-config/pin-minimal.config'), 'utf8');
// as Debian's cloud flavour ships it (6.1.0-57-cloud-amd64 and 6.12.NNN+deb12-cloud-amd64)
const CLOUD = 'CONFIG_BLK_DEV_INITRD=y\nCONFIG_DEVTMPFS=y\n# CONFIG_NET_9P is not set\nCONFIG_VIRTIO_PCI=m\nCONFIG_VIRTIO_CONSOLE=m\nCONFIG_UNIX98_PTYS=y\nCONFIG_HZ=250\n';
const GENERIC = 'CONFIG_BLK_DEV_INITRD=y\nCONFIG_DEVTMPFS=y\nCONFIG_NET_9P=m\nCONFIG_NET_9P_VIRTIO=m\nCONFIG_9P_FS=m\nCONFIG_VIRTIO_PCI=m\nCONFIG_VIRTIO_CONSOLE=m\nCONFIG_UNIX98_PTYS=y\n';

test('9p: the built config and the generic flavour have it, the cloud flavour names the symbol it lacks', (t) => {
  t.is(missing9p(BUILT), undefined);
  t.is(missing9p(GENERIC), undefined);
  t.is(missing9p(CLOUD), 'CONFIG_NET_9P');
  // a module the image does not ship is as good as unset
  t.is(missing9p(GENERIC, ['9pnet_virtio']), 'CONFIG_NET_9P_VIRTIO');
  // an unknown config (no text) is not judged: the boot tells
  t.is(missing9p(''), undefined);
});

test('what no carrying replaces is one line naming the symbol', (t) => {
  t.is(cannotRunGuest(BUILT), undefined);
  t.is(cannotRunGuest(CLOUD), undefined);
  const noChannel = CLOUD.replace('CONFIG_VIRTIO_CONSOLE=m\n', '# CONFIG_VIRTIO_CONSOLE is not set\n');
  const why = cannotRunGuest(noChannel);
  t.regex(why ?? '', /^this kernel cannot run pinlab's guest: CONFIG_VIRTIO_CONSOLE is not set \(/);
  t.false((why ?? '').includes('\n'));
  t.regex(cannotRunGuest(CLOUD, ['virtio_pci']) ?? '', /CONFIG_VIRTIO_PCI/);
});

test('the repository part the guest runs: the runner, the protocol, the addon, package.json', (t) => {
  const files = repoPayload(repoRoot);
  for (const f of ['package.json', 'build/Release/pinlab.node', 'dist/harness/guest/main.js', 'dist/harness/guest-runner/protocol.js']) t.true(files.includes(f), f);
  t.false(files.some((f) => f.startsWith('dist/test/') || f.startsWith('node_modules/')));
});

function kernelDir(config: string): string {
  const dir = testTempDir('pinlab-carry-');
  writeFileSync(join(dir, 'bzImage'), 'not booted');
  writeFileSync(join(dir, 'config'), config);
  return join(dir, 'bzImage');
}

test('a kernel without 9p: no shares, the tools and the repository in the initramfs', (t) => {
  const base = join(testTempDir('pinlab-base-'), 'base.cpio');
  const tools = { hostPath: '/x/tools', tag: 'pinlab-tools', guestPath: '/tools', readonly: true };
  const opts = { accel: 'tcg' as const, cmdline: [], workloads: [], tools, tscKhz: '<tsc>' };
  const cloud = vmSpecFor(kernelDir(CLOUD), '/r/vm', base, opts);
  const carried = carryFiles({ dir: join(base, '..') }, '/r/vm');
  t.deepEqual(cloud.shares, []);
  t.deepEqual(cloud.initrd, [base, carried.tools, carried.repo]);
  t.false(cloud.cmdline.some((w) => w.startsWith('pinlab.shares=')));

  const generic = vmSpecFor(kernelDir(GENERIC), '/r/vm', base, opts);
  t.deepEqual(generic.shares.map((s) => s.guestPath), ['/pinlab', '/tools']);
  t.deepEqual(generic.initrd, [base]);
});
