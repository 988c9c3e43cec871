// NVMe passthrough (NVME_IOCTL_IO_CMD). It writes raw LBAs, so it runs only on a device named
// as scratch in PINLAB_NVME_SCRATCH (e.g. QEMU's /dev/nvme0n1); elsewhere it is skipped with the
// reason. Misuse checks need no device.
import { closeSync, constants, existsSync, openSync, readdirSync } from 'node:fs';
import test from 'ava';

import { loadAddon } from '../../harness/workloads/addon.js';
import { runWorkloadIO } from '../../harness/workloads/engines.js';
import type { WorkloadSpec } from '../../harness/workloads/types.js';
import { mountExt4, when, type Body } from './fixture.js';

const addon = loadAddon();
const nvmes = readdirSync('/dev').filter((d) => /^nvme\d+n\d+$/.test(d));
const scratch = process.env['PINLAB_NVME_SCRATCH'];
const skip =
  nvmes.length === 0
    ? 'no /dev/nvme* namespace on this host'
    : !scratch
      ? `${nvmes.map((n) => `/dev/${n}`).join(', ')} present but PINLAB_NVME_SCRATCH is unset: passthrough writes would destroy its data`
      : !existsSync(scratch)
        ? `PINLAB_NVME_SCRATCH=${scratch} does not exist`
        : undefined;
const ext4 = mountExt4(test, 64);

test('nvmeNamespace on something that is no NVMe device: ENOTTY, Node-style', (t) => {
  const fd = openSync('/dev/null', constants.O_RDONLY);
  t.teardown(() => closeSync(fd));
  const e = t.throws(() => addon.nvmeNamespace(fd), { code: 'ENOTTY' }) as Error & { errno: number; syscall: string };
  t.is(e.errno, -25);
  t.is(e.syscall, 'ioctl');
});

test('passthruBatch refuses ops that are no whole LBAs', (t) => {
  const b = new addon.AlignedBuffer(8192);
  t.throws(() => addon.passthruBatch(0, 'read', [{ position: 100, segments: [{ buffer: b, offset: 0, length: 4096 }] }], { nsid: 1, lbaSize: 512 }), {
    instanceOf: RangeError,
    message: /whole LBAs/,
  });
  t.is(b.busy, 0);
  b.free();
});

when(test, ext4)('the passthru engine refuses a target that is no NVMe namespace', async (t) => {
  if (!ext4.ok) return;
  const spec: WorkloadSpec = {
    name: 'nvme-passthru.passthru.anon',
    target: 'nvme-passthru',
    engine: 'passthru',
    buffer: 'anon',
    blockSize: 64 * 1024,
    size: 1 << 20,
    queueDepth: 1,
    segments: 1,
    pinModel: 'user-dio',
    paths: [],
  };
  await t.throwsAsync(runWorkloadIO(spec, { path: `${ext4.fs.mnt}/not-nvme.dat`, tmpDir: ext4.fs.dir }), { code: 'ENOTTY' });
});

const passthru = (title: string, fn: Body): void => {
  if (skip) test.skip(`${title} (skipped: ${skip})`, fn);
  else test.serial(title, fn);
};

passthru('passthru workload on the scratch namespace: writes, reads back, verifies', async (t) => {
  const spec: WorkloadSpec = {
    name: 'nvme-passthru.passthru.anon',
    target: 'nvme-passthru',
    engine: 'passthru',
    buffer: 'anon',
    blockSize: 64 * 1024,
    size: 1 << 20,
    queueDepth: 1,
    segments: 1,
    pinModel: 'user-dio',
    paths: [],
  };
  const io = await runWorkloadIO(spec, { path: scratch!, tmpDir: '/tmp' });
  t.deepEqual(io.verify, { ok: true, checkedBytes: 1 << 20 });
  t.is(io.userPageOps, 2 * 256);
  t.deepEqual(io.errors, []);
});
