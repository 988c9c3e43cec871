// The addon's engines called directly on an O_DIRECT file on ext4: bytes checked against the
// TypeScript pattern, every engine as writer and as reader, and misuse: wrong types, zero
// lengths, closed fds, misalignment, missing files.
import { closeSync, constants, existsSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';

import { loadAddon, type AlignedBuffer, type BatchResult, type Direction, type IoOp, type IoOps } from '../../harness/workloads/addon.js';
import { patternBytes } from '../../harness/workloads/pattern.js';
import { assertErrno, mountExt4, when } from './fixture.js';

const addon = loadAddon();
const ext4 = mountExt4(test);
const it = when(test, ext4);
const KiB = 1024;

function directFile(name: string): number {
  if (!ext4.ok) throw new Error('unreachable');
  return openSync(join(ext4.fs.mnt, name), constants.O_RDWR | constants.O_CREAT | constants.O_DIRECT, 0o644);
}

function ops(buffer: AlignedBuffer, count: number, block: number, base: number): IoOp[] {
  return Array.from({ length: count }, (_, i) => ({ position: base + i * block, segments: [{ buffer, offset: i * block, length: block }] }));
}

type BatchEngine = (fd: number, d: Direction, o: IoOps) => Promise<BatchResult>;
const writers: Record<string, BatchEngine> = {
  psync: (fd, d, o) => addon.syncBatch(fd, d, o),
  psyncv: (fd, d, o) => addon.syncBatch(fd, d, o, { vectored: true }),
  libaio: (fd, d, o) => addon.aioBatch(fd, d, o, { queueDepth: 4 }),
  uring: (fd, d, o) => addon.uringBatch(fd, d, o, { queueDepth: 4 }),
  'uring-fixed': (fd, d, o) => addon.uringBatch(fd, d, o, { queueDepth: 4, fixed: true }),
  'vmsplice-write': (fd, _d, o) => addon.vmspliceWriteBatch(fd, o),
  'process-vm': (fd, d, o) => addon.processVmBatch(fd, d, o),
};
const readers: Record<string, BatchEngine> = { ...writers, 'splice-read': (fd, _d, o) => addon.spliceReadBatch(fd, o) };
delete readers['vmsplice-write'];

it('dioAlignment reports the file system DIO alignment', (t) => {
  if (!ext4.ok) return;
  const fd = directFile('align.dat');
  closeSync(fd);
  const a = addon.dioAlignment(join(ext4.fs.mnt, 'align.dat'));
  t.true(['statx', 'sysfs'].includes(a.source), a.source);
  t.true(a.offsetAlign >= 512 && (a.offsetAlign & (a.offsetAlign - 1)) === 0);
  t.is(addon.dioAlignment(ext4.fs.loop).offsetAlign, 512);
});

it('pwrite/pread with O_DIRECT move exactly the pattern bytes', async (t) => {
  const fd = directFile('single.dat');
  t.teardown(() => closeSync(fd));
  const src = new addon.AlignedBuffer(64 * KiB);
  src.fill(77, 1 << 20);
  t.is(await addon.pwrite(fd, src, 0, 64 * KiB, 1 << 20), 64 * KiB);
  const dst = new addon.AlignedBuffer(64 * KiB, { kind: 'private-anon' });
  t.is(await addon.pread(fd, dst, 0, 64 * KiB, 1 << 20), 64 * KiB);
  t.deepEqual(dst.read(), patternBytes(1 << 20, 64 * KiB, 77));
  src.free();
  dst.free();
});

it('pwritev/preadv place each segment at its file position', async (t) => {
  const fd = directFile('vector.dat');
  t.teardown(() => closeSync(fd));
  const a = new addon.AlignedBuffer(8 * KiB);
  const b = new addon.AlignedBuffer(16 * KiB, { kind: 'shared-file' });
  a.fill(5, 0, 0, 4 * KiB);
  b.fill(5, 4 * KiB, 8 * KiB, 8 * KiB);
  a.fill(5, 12 * KiB, 4 * KiB, 4 * KiB);
  const segs = [
    { buffer: a, offset: 0, length: 4 * KiB },
    { buffer: b, offset: 8 * KiB, length: 8 * KiB },
    { buffer: a, offset: 4 * KiB, length: 4 * KiB },
  ];
  t.is(await addon.pwritev(fd, segs, 0), 16 * KiB);
  const back = new addon.AlignedBuffer(16 * KiB);
  t.is(await addon.pread(fd, back, 0, 16 * KiB, 0), 16 * KiB);
  t.deepEqual(back.read(), patternBytes(0, 16 * KiB, 5));
  const r1 = new addon.AlignedBuffer(4 * KiB);
  const r2 = new addon.AlignedBuffer(12 * KiB);
  t.is(await addon.preadv(fd, [{ buffer: r2, offset: 4 * KiB, length: 8 * KiB }, { buffer: r1, offset: 0, length: 4 * KiB }], 4 * KiB), 12 * KiB);
  t.deepEqual(r2.read(4 * KiB, 8 * KiB), patternBytes(4 * KiB, 8 * KiB, 5));
  t.deepEqual(r1.read(), patternBytes(12 * KiB, 4 * KiB, 5));
});

for (const [name, write] of Object.entries(writers)) {
  it(`${name} writes: pread finds the pattern`, async (t) => {
    const fd = directFile(`w-${name}.dat`);
    t.teardown(() => closeSync(fd));
    const src = new addon.AlignedBuffer(256 * KiB);
    src.fill(11, 0);
    const r = await write(fd, 'write', ops(src, 8, 32 * KiB, 0));
    t.deepEqual([...r.results], Array(8).fill(32 * KiB));
    t.deepEqual(r.failures, []);
    const dst = new addon.AlignedBuffer(256 * KiB);
    t.is(await addon.pread(fd, dst, 0, 256 * KiB, 0), 256 * KiB);
    t.deepEqual(dst.read(), patternBytes(0, 256 * KiB, 11));
  });
}

for (const [name, read] of Object.entries(readers)) {
  it(`${name} reads what pwrite wrote`, async (t) => {
    const fd = directFile(`r-${name}.dat`);
    t.teardown(() => closeSync(fd));
    const src = new addon.AlignedBuffer(256 * KiB);
    src.fill(12, 0);
    t.is(await addon.pwrite(fd, src, 0, 256 * KiB, 0), 256 * KiB);
    const dst = new addon.AlignedBuffer(256 * KiB, { kind: 'private-anon' });
    // read the 8 blocks in reverse order into forward slots: misplacement shows
    const o = ops(dst, 8, 32 * KiB, 0).map((op, i) => ({ ...op, position: (7 - i) * 32 * KiB }));
    const r = await read(fd, 'read', o);
    t.deepEqual([...r.results], Array(8).fill(32 * KiB));
    for (let i = 0; i < 8; i++) t.deepEqual(dst.read(i * 32 * KiB, 32 * KiB), patternBytes((7 - i) * 32 * KiB, 32 * KiB, 12));
    // the io_uring engines report their registration, splice its pipe pages: required, so a
    // result that lost the field fails instead of skipping the check
    const extra = r as BatchResult & { registeredPages?: number; pipePages?: number };
    if (name.startsWith('uring')) t.is(extra.registeredPages, name === 'uring-fixed' ? 64 : 0);
    if (name === 'splice-read') t.is(extra.pipePages, 64);
  });
}

for (const [name, read] of Object.entries(readers)) {
  it(`${name} reads the uniform form { buffer, length, positions, offsets } like the op array`, async (t) => {
    const fd = directFile(`u-${name}.dat`);
    t.teardown(() => closeSync(fd));
    const src = new addon.AlignedBuffer(128 * KiB);
    src.fill(14, 0);
    t.is(await addon.pwrite(fd, src, 0, 128 * KiB, 0), 128 * KiB);
    const dst = new addon.AlignedBuffer(128 * KiB);
    // block i of the file into slot (i * 5) % 8 of the buffer: a misplaced op shows
    const positions = Float64Array.from({ length: 8 }, (_, i) => i * 16 * KiB);
    const offsets = Float64Array.from({ length: 8 }, (_, i) => ((i * 5) % 8) * 16 * KiB);
    const r = await read(fd, 'read', { buffer: dst, length: 16 * KiB, positions, offsets });
    t.deepEqual([...r.results], Array(8).fill(16 * KiB));
    t.is(r.latencyNs.length, 8);
    for (let i = 0; i < 8; i++) t.deepEqual(dst.read(offsets[i]!, 16 * KiB), patternBytes(i * 16 * KiB, 16 * KiB, 14), `op ${i}`);
    t.is(dst.busy, 0);
  });
}

it('the uniform form checks its arrays: TypeError for the wrong kind, RangeError for bad values', (t) => {
  const b = new addon.AlignedBuffer(8 * KiB);
  const positions = new Float64Array([0, 4096]);
  const u = (o: object): IoOps => ({ buffer: b, length: 4096, positions, ...o }) as IoOps;
  t.throws(() => addon.syncBatch(0, 'read', u({ positions: [0, 4096] })), { instanceOf: TypeError, message: /"positions" field must be a Float64Array/ });
  t.throws(() => addon.aioBatch(0, 'read', u({ offsets: new Uint32Array(2) })), { instanceOf: TypeError, message: /"offsets"/ });
  t.throws(() => addon.syncBatch(0, 'read', u({ positions: new Float64Array(0) })), { instanceOf: RangeError, message: /empty/ });
  t.throws(() => addon.syncBatch(0, 'read', u({ offsets: new Float64Array(3) })), { instanceOf: RangeError, message: /has 3 elements/ });
  t.throws(() => addon.syncBatch(0, 'read', u({ positions: new Float64Array([0, 0.5]) })), { instanceOf: RangeError, message: /positions\[1\]/ });
  t.throws(() => addon.syncBatch(0, 'read', u({ positions: new Float64Array([-4096]) })), { instanceOf: RangeError });
  t.throws(() => addon.uringBatch(0, 'read', u({ offsets: new Float64Array([0, 8 * KiB]) })), { instanceOf: RangeError, message: /of op 1 exceeds the buffer size/ });
  t.throws(() => addon.syncBatch(0, 'read', u({ length: 0 })), { instanceOf: RangeError, message: /length/ });
  t.throws(() => addon.syncBatch(0, 'read', u({ buffer: {} })), { instanceOf: TypeError });
  t.is(b.busy, 0, 'a rejected call holds nothing');
  b.free();
});

it('misaligned O_DIRECT offset, length and address fail with EINVAL', async (t) => {
  const fd = directFile('misaligned.dat');
  t.teardown(() => closeSync(fd));
  const b = new addon.AlignedBuffer(16 * KiB);
  b.fill(1, 0);
  t.is(await addon.pwrite(fd, b, 0, 16 * KiB, 0), 16 * KiB, 'data first: reads past EOF return 0 before any check');
  await assertErrno(t, addon.pread(fd, b, 0, 4 * KiB, 1), 'EINVAL', -22, 'pread');
  await assertErrno(t, addon.pread(fd, b, 0, 4 * KiB - 1, 0), 'EINVAL', -22, 'pread');
  await assertErrno(t, addon.pwrite(fd, b, 1, 4 * KiB, 0), 'EINVAL', -22, 'pwrite');
  const r = await addon.aioBatch(fd, 'read', [{ position: 1, segments: [{ buffer: b, offset: 0, length: 4096 }] }]);
  t.is(r.results[0], -22);
  t.like(r.failures[0], { index: 0, errno: -22, code: 'EINVAL' });
});

it('a closed fd gives EBADF from every engine, as a Node-style error or a per-op failure', async (t) => {
  const fd = directFile('closed.dat');
  closeSync(fd);
  const b = new addon.AlignedBuffer(4 * KiB);
  await assertErrno(t, addon.pread(fd, b, 0, 4096, 0), 'EBADF', -9, 'pread');
  await assertErrno(t, addon.pwritev(fd, [{ buffer: b, offset: 0, length: 4096 }], 0), 'EBADF', -9, 'pwritev');
  // Engines open descriptors of their own (pipes, rings) that would reuse a just-closed number,
  // so they get one that cannot be open.
  const never = 2 ** 30;
  for (const [name, engine] of Object.entries(readers)) {
    const r = await engine(never, 'read', ops(b, 1, 4096, 0));
    t.is(r.results[0], -9, name);
    t.like(r.failures[0], { index: 0, errno: -9, code: 'EBADF' }, name);
  }
  const race = await addon.forkRace(never, { length: 4096, seed: 1, attempts: 1 });
  t.like(race, { attempts: 1, readErrors: 1, readErrorCode: 'EBADF', lostData: 0 });
  // the same attempts in a helper process: its counts come back over the pipe
  const fresh = await addon.forkRace(never, { length: 4096, seed: 1, attempts: 2, freshProcess: true });
  t.like(fresh, { attempts: 2, readErrors: 2, readErrorCode: 'EBADF', lostData: 0 });
  t.is(b.busy, 0);
});

it('wrong types throw TypeError, bad ranges and zero lengths RangeError, synchronously', (t) => {
  const b = new addon.AlignedBuffer(4 * KiB);
  const seg = { buffer: b, offset: 0, length: 4096 };
  t.throws(() => addon.pread('3' as unknown as number, b, 0, 4096, 0), { instanceOf: TypeError, message: /"fd"/ });
  t.throws(() => addon.pread(-1, b, 0, 4096, 0), { instanceOf: RangeError });
  t.throws(() => addon.pread(0, b, 0, 0, 0), { instanceOf: RangeError, message: /length/ });
  t.throws(() => addon.pread(0, b, 0, 8192, 0), { instanceOf: RangeError, message: /out of range/ });
  t.throws(() => addon.pread(0, b, 0, 4096, -512), { instanceOf: RangeError });
  t.throws(() => addon.pread(0, b, 0.5, 4096, 0), { instanceOf: RangeError });
  t.throws(() => addon.syncBatch(0, 'sideways' as Direction, [{ position: 0, segments: [seg] }]), { instanceOf: RangeError });
  t.throws(() => addon.syncBatch(0, 'read', {} as IoOp[]), { instanceOf: TypeError });
  t.throws(() => addon.syncBatch(0, 'read', []), { instanceOf: RangeError });
  t.throws(() => addon.aioBatch(0, 'read', [{ position: 0, segments: [] }]), { instanceOf: RangeError });
  t.throws(() => addon.uringBatch(0, 'read', [{ position: 0, segments: [seg] }], { queueDepth: 0 }), { instanceOf: RangeError });
  t.throws(() => addon.uringBatch(0, 'read', [{ position: 0, segments: [seg, seg] }], { fixed: true }), { instanceOf: RangeError });
  t.throws(() => addon.uringBatch(0, 'read', [{ position: 0, segments: [seg] }], { fixed: 'yes' as unknown as boolean }), { instanceOf: TypeError });
  t.throws(() => addon.passthruBatch(0, 'read', [{ position: 0, segments: [seg] }], {} as { nsid: number; lbaSize: number }), { instanceOf: TypeError });
  t.throws(() => addon.forkRace(0, { length: 1000, seed: 1, attempts: 1 }), { instanceOf: RangeError });
  t.throws(() => addon.loopAttach(5 as unknown as string), { instanceOf: TypeError });
  t.is(b.busy, 0, 'a rejected call holds nothing');
});

it('missing files and devices give errno errors with the path', (t) => {
  if (!ext4.ok) return;
  const missing = join(ext4.fs.mnt, 'no-such-file');
  const e = t.throws(() => addon.loopAttach(missing), { code: 'ENOENT' }) as Error & { path?: string; syscall?: string; errno?: number };
  t.is(e.path, missing);
  t.is(e.syscall, 'open');
  t.is(e.errno, -2);
  t.is(e.message, `ENOENT: no such file or directory, open '${missing}'`);
  t.throws(() => addon.dioAlignment(missing), { code: 'ENOENT' });
});

function bufferedFile(name: string): number {
  if (!ext4.ok) throw new Error('unreachable');
  return openSync(join(ext4.fs.mnt, name), constants.O_RDWR | constants.O_CREAT, 0o644);
}

it('process-vm copies up to a hole in the buffer, and a read-only destination fails with EFAULT', async (t) => {
  const fd = bufferedFile('process-vm-faults.dat');
  t.teardown(() => closeSync(fd));
  const src = new addon.AlignedBuffer(16 * KiB);
  src.fill(21, 0);
  t.deepEqual([...(await addon.processVmBatch(fd, 'write', ops(src, 1, 16 * KiB, 0))).results], [16 * KiB]);
  // pages 0 and 1 before the hole: process_vm_readv copies them and stops
  const holed = new addon.AlignedBuffer(16 * KiB, { holePage: 2 });
  const short = await addon.processVmBatch(fd, 'write', ops(holed, 1, 16 * KiB, 64 * KiB));
  t.deepEqual([...short.results], [8 * KiB]);
  const readOnly = new addon.AlignedBuffer(16 * KiB, { readOnly: true });
  const refused = await addon.processVmBatch(fd, 'read', ops(readOnly, 1, 16 * KiB, 0));
  t.deepEqual([...refused.results], [-14]);
  t.like(refused.failures[0], { code: 'EFAULT', syscall: 'process_vm_writev' });
  for (const b of [src, holed, readOnly]) b.free();
});

it('udmabuf moves the pattern through a dma-buf over a memfd, or names /dev/udmabuf where the kernel has none', async (t) => {
  const fd = bufferedFile('udmabuf.dat');
  t.teardown(() => closeSync(fd));
  const src = new addon.AlignedBuffer(32 * KiB);
  src.fill(31, 0);
  if (!existsSync('/dev/udmabuf')) {
    // the host's kernel (CONFIG_UDMABUF unset): the guest's kernel is where this engine runs
    const e = t.throws(() => addon.udmabufBatch(fd, 'write', ops(src, 2, 16 * KiB, 0)), { code: 'ENOENT' }) as Error & { syscall?: string; path?: string };
    t.is(e.syscall, 'open');
    t.is(e.path, '/dev/udmabuf');
    src.free();
    return;
  }
  t.deepEqual([...(await addon.udmabufBatch(fd, 'write', ops(src, 2, 16 * KiB, 0))).results], [16 * KiB, 16 * KiB]);
  const dst = new addon.AlignedBuffer(32 * KiB);
  t.deepEqual([...(await addon.udmabufBatch(fd, 'read', ops(dst, 2, 16 * KiB, 0))).results], [16 * KiB, 16 * KiB]);
  t.deepEqual(dst.read(), patternBytes(0, 32 * KiB, 31));
  src.free();
  dst.free();
});

test('processVmReadAddress copies from an address no Buffer names, and an unmapped one is EFAULT', (t) => {
  const b = new addon.AlignedBuffer(8 * KiB);
  b.fill(33, 0);
  const copy = addon.processVmReadAddress(b.address, 8 * KiB);
  t.true(copy.equals(patternBytes(0, 8 * KiB, 33)));
  const holed = new addon.AlignedBuffer(8 * KiB, { holePage: 0 });
  t.throws(() => addon.processVmReadAddress(holed.address, 4 * KiB), { code: 'EFAULT', message: /process_vm_readv/ });
  t.throws(() => addon.processVmReadAddress(0 as unknown as bigint, 1), { instanceOf: TypeError });
  for (const x of [b, holed]) x.free();
});

test('vmspliceHold leaves the buffer\'s pages in a pipe until both ends close', (t) => {
  const b = new addon.AlignedBuffer(16 * KiB);
  b.fill(44, 0);
  const [rd, wr] = addon.vmspliceHold(b);
  try {
    const got = Buffer.alloc(16 * KiB);
    let n = 0;
    while (n < got.length) n += readSync(rd, got, n, got.length - n, null);
    t.true(got.equals(patternBytes(0, 16 * KiB, 44)));
  } finally {
    closeSync(rd);
    closeSync(wr);
    b.free();
  }
});
