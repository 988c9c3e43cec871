// AlignedBuffer: kinds, the pattern (checked against the TypeScript mirror, not the addon
// itself), holes, read-only mappings, and misuse from JS: wrong types, freed and busy buffers.
import { execa } from 'execa';
import { closeSync, constants, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import test from 'ava';

import { loadAddon, type AlignedBuffer } from '../../harness/workloads/addon.js';
import { hugePageBytes } from '../../harness/workloads/smaps.js';
import { GUP_TEST_IOCTL, GUP_TEST_STRUCT_SIZE } from '../../harness/guest/gup-test.js';
import { firstMismatch, patternBytes } from '../../harness/workloads/pattern.js';
import { assertErrno } from './fixture.js';

const addon = loadAddon();
const { AlignedBuffer: Buf } = addon;

test('fill writes exactly the TypeScript mirror of the pattern, at unaligned positions too', (t) => {
  for (const [position, length, seed] of [
    [0, 4096, 1],
    [512 * 1000, 8192, 0xdeadbeef],
    [12345, 3000, 7],
    [2 ** 40 + 100, 1024, 42],
  ] as const) {
    const b = new Buf(length + 100);
    b.fill(seed, position, 100, length);
    t.deepEqual(b.read(100, length), patternBytes(position, length, seed));
    t.is(b.verify(seed, position, 100, length), -1);
    b.free();
  }
});

test('every 512-byte sector carries its own offset and the seed', (t) => {
  const b = new Buf(1024);
  b.fill(0x01020304, 4096);
  const data = b.read();
  t.is(data.toString('latin1', 0, 4), 'PNLB');
  t.is(data.readUInt32LE(4), 0x01020304);
  t.is(data.readBigUInt64LE(8), 4096n);
  t.is(data.readBigUInt64LE(512 + 8), 4608n);
  b.free();
});

test('verify returns the file position of the first bad byte', (t) => {
  const b = new Buf(8192);
  b.fill(9, 65536);
  b.write(5000, Buffer.from([b.read(5000, 1)[0]! ^ 0xff]));
  t.is(b.verify(9, 65536), 65536 + 5000);
  t.is(firstMismatch(b.read(), 65536, 9), 65536 + 5000);
  // the same data, one sector off: stale/misplaced data fails on the offset stamp
  const c = new Buf(1024);
  c.fill(9, 512);
  t.is(c.verify(9, 1024), 1024 + 9); // byte 9: 0x02 (512) vs 0x04 (1024)
  t.is(c.verify(10, 512), 512 + 4);
  b.free();
  c.free();
});

test('buffer kinds: alignment, presence, huge pages', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pinlab-buf-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const sizes = { anon: 10000, 'private-anon': 10000, 'shared-file': 10000, thp: 4 << 20 } as const;
  for (const kind of Object.keys(sizes) as (keyof typeof sizes)[]) {
    const b = new Buf(sizes[kind], { kind, dir });
    t.is(b.kind, kind);
    t.is(b.size, sizes[kind]);
    t.is(Number(b.address % 4096n), 0, `${kind} page aligned`);
    if (kind === 'thp') t.is(Number(b.address % BigInt(2 << 20)), 0, 'thp 2 MiB aligned');
    b.fill(3, 0);
    t.is(b.verify(3, 0), -1);
    b.free();
  }
});

/** A /proc/vmstat counter (the THP fault fallbacks: the kernel had no huge page to give). */
function vmstat(name: string): number {
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(readFileSync('/proc/vmstat', 'utf8'))?.[1] ?? NaN);
}

test('a thp buffer reports its huge-page backing as smaps shows it; huge unless the kernel fell back', (t) => {
  const thpMode = readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8');
  const processThp = /^THP_enabled:\s+(\d)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  const fallbacks = vmstat('thp_fault_fallback');
  const thp = new Buf(4 << 20, { kind: 'thp' });
  t.teardown(() => thp.free());
  thp.fill(5, 0);
  const fellBack = vmstat('thp_fault_fallback') - fallbacks;
  const smapsBytes = hugePageBytes(readFileSync('/proc/self/smaps', 'utf8'), thp.address, thp.size);
  // what the run records (io.hugePageBytes, the judge's SKIP for an unbacked thp buffer) is
  // this count; the addon does not count it again
  t.false('hugePageBytes' in thp, 'the addon leaves the huge-page count to smaps.ts');
  if (!/\[(always|madvise)\]/.test(thpMode) || processThp === '0') {
    t.log(`THP unavailable here (${thpMode.trim()}, THP_enabled ${processThp}): backing not required`);
  } else if (smapsBytes === 0 && fellBack > 0) {
    // a busy or fragmented host: the fault fell back to small pages (the judge SKIPs such a run)
    t.log(`no huge page available: thp_fault_fallback +${fellBack}`);
  } else {
    t.true(smapsBytes >= 2 << 20, `thp backed by huge pages (${smapsBytes} bytes, thp_fault_fallback +${fellBack})`);
  }
});

test('a hole: accessors refuse it, the kernel faults on it', async (t) => {
  const b = new Buf(3 * 4096, { holePage: 1 });
  t.is(b.holePage, 1);
  t.throws(() => b.read(0, 8192), { instanceOf: RangeError, message: /unmapped page 1/ });
  t.throws(() => b.fill(1, 0), { instanceOf: RangeError });
  b.fill(1, 0, 0, 4096);
  b.fill(1, 8192, 8192, 4096);
  const fd = openSync('/dev/zero', constants.O_RDONLY);
  t.teardown(() => closeSync(fd));
  // a copy stops at the hole (short), or faults when it starts there
  t.is(await addon.pread(fd, b, 0, 3 * 4096, 0), 4096);
  const first = new Buf(2 * 4096, { holePage: 0 });
  await assertErrno(t, addon.pread(fd, first, 0, 2 * 4096, 0), 'EFAULT', -14, 'pread');
  t.is(b.busy, 0);
  b.free();
  first.free();
});

test('read-only mapping: fill refuses, a read into it faults', async (t) => {
  const b = new Buf(8192, { readOnly: true });
  t.true(b.readOnly);
  t.throws(() => b.fill(1, 0), { code: 'ERR_PINLAB_READ_ONLY' });
  const fd = openSync('/dev/zero', constants.O_RDONLY);
  t.teardown(() => closeSync(fd));
  await assertErrno(t, addon.pread(fd, b, 0, 8192, 0), 'EFAULT', -14, 'pread');
  b.setReadOnly(false);
  b.fill(1, 0);
  t.is(b.verify(1, 0), -1);
  b.free();
});

test('gupTest and the device queries check their arguments like every binding', (t) => {
  t.throws(() => addon.gupTest(1 as unknown as string, 0, Buffer.alloc(GUP_TEST_STRUCT_SIZE)), { instanceOf: TypeError, message: 'The "path" argument must be of type string' });
  t.throws(() => addon.gupTest('/nonexistent', -1, Buffer.alloc(GUP_TEST_STRUCT_SIZE)), { instanceOf: RangeError, message: /"request" is out of range/ });
  t.throws(() => addon.gupTest('/nonexistent', 0, 'x' as unknown as Buffer), { instanceOf: TypeError, message: /"struct"/ });
  // the struct's size comes from the request, as the kernel reads it (_IOC_SIZE)
  t.throws(() => addon.gupTest('/nonexistent', GUP_TEST_IOCTL.PIN_FAST_BENCHMARK, Buffer.alloc(8)), {
    instanceOf: RangeError,
    message: `gupTest: the request's struct needs ${GUP_TEST_STRUCT_SIZE} bytes`,
  });
  t.throws(() => addon.deviceSize(-1), { instanceOf: RangeError });
  t.throws(() => addon.dioAlignment(3 as unknown as string), { instanceOf: TypeError });
});

test('misuse: wrong types and ranges throw TypeError / RangeError', (t) => {
  t.throws(() => new Buf('1' as unknown as number), { instanceOf: TypeError });
  t.throws(() => new Buf(0), { instanceOf: RangeError });
  t.throws(() => new Buf(1.5), { instanceOf: RangeError });
  t.throws(() => new Buf(4096, { kind: 'bogus' as 'anon' }), { instanceOf: RangeError });
  t.throws(() => new Buf(4096, { alignment: 3000 }), { instanceOf: RangeError });
  t.throws(() => new Buf(4096, { holePage: 1 }), { instanceOf: RangeError });
  t.throws(() => (Buf as unknown as (n: number) => AlignedBuffer)(4096), { instanceOf: TypeError });
  const b = new Buf(4096);
  t.throws(() => b.fill(-1, 0), { instanceOf: RangeError });
  t.throws(() => b.fill(1, 0, 4000, 200), { instanceOf: RangeError });
  t.throws(() => b.read(0, 0), { instanceOf: RangeError });
  t.throws(() => b.write(0, 'x' as unknown as Uint8Array), { instanceOf: TypeError });
  t.throws(() => b.setReadOnly(1 as unknown as boolean), { instanceOf: TypeError });
  // a look-alike object is no AlignedBuffer (type-tagged, not prototype-checked)
  const fake = Object.create(Object.getPrototypeOf(b)) as AlignedBuffer;
  t.throws(() => addon.pread(0, fake, 0, 1, 0), { instanceOf: TypeError, message: /AlignedBuffer/ });
  t.throws(() => addon.pread(0, {} as AlignedBuffer, 0, 1, 0), { instanceOf: TypeError });
  b.free();
});

test('a freed buffer throws on every use, never crashes', (t) => {
  const b = new Buf(8192);
  b.free();
  t.true(b.freed);
  const freed = { code: 'ERR_PINLAB_BUFFER_FREED' };
  t.throws(() => b.fill(1, 0), freed);
  t.throws(() => b.verify(1, 0), freed);
  t.throws(() => b.read(), freed);
  t.throws(() => b.address, freed);
  t.throws(() => b.free(), freed);
  t.throws(() => addon.pread(0, b, 0, 4096, 0), freed);
  t.throws(() => addon.syncBatch(0, 'read', [{ position: 0, segments: [{ buffer: b, offset: 0, length: 4096 }] }]), freed);
});

test('a buffer in flight refuses free() (EBUSY) and stays usable until the kernel is done', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pinlab-fifo-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'fifo');
  await execa('mkfifo', [fifo]);
  const fd = openSync(fifo, constants.O_RDWR);
  t.teardown(() => closeSync(fd));
  const b = new Buf(4096);
  // io_uring read from an empty FIFO: in flight until something is written
  const pending = addon.uringBatch(fd, 'read', [{ position: 0, segments: [{ buffer: b, offset: 0, length: 4096 }] }]);
  await new Promise((r) => setTimeout(r, 50));
  t.is(b.busy, 1);
  t.throws(() => b.free(), { code: 'EBUSY' });
  t.throws(() => b.setReadOnly(true), { code: 'EBUSY' });
  const { writeSync } = await import('node:fs');
  writeSync(fd, Buffer.from('pinned'));
  const r = await pending;
  t.is(r.results[0], 6);
  t.is(b.busy, 0);
  t.is(b.read(0, 6).toString(), 'pinned');
  b.free();
});

test('JS dropping its last reference while I/O runs does not crash (the op holds the buffer)', async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const fd = openSync('/dev/zero', constants.O_RDONLY);
  t.teardown(() => closeSync(fd));
  const runs: Promise<number>[] = [];
  for (let i = 0; i < 64; i++) runs.push(addon.pread(fd, new Buf(1 << 20), 0, 1 << 20, 0));
  gc();
  const done = await Promise.all(runs);
  gc();
  t.true(done.every((n) => n === 1 << 20));
});
