// runWorkloadIO end to end on a file on ext4 (and a loop device over one): every engine moves
// and verifies the pattern, reports the pages its buffers span (computed here independently
// from the layout), raises the fault cases' errnos, and releases everything before returning.
// Pin counts are judged in the guest, where the pin evidence is counted at the kernel's
// primitives on a machine that runs nothing else (e2e/suite.test.ts): the host's /proc/vmstat
// counters are global, so an assertion on them here would depend on what else the host does.
import { execa } from 'execa';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';

import { runWorkloadIO } from '../../harness/workloads/engines.js';
import { opAt, opPages } from '../../harness/workloads/ops.js';
import type { TargetEnv } from '../../harness/workloads/workload.js';
import { loadAddon } from '../../harness/workloads/addon.js';
import type { Engine, Fault, WorkloadIO, WorkloadSpec } from '../../harness/workloads/types.js';
import { FORK_RACE_THROTTLE } from '../../harness/workloads/catalogue.js';
import { mountExt4, throttleReads, when } from './fixture.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const ext4 = mountExt4(test);
const it = when(test, ext4);

function spec(over: Partial<WorkloadSpec> & { engine: Engine }): WorkloadSpec {
  const s: WorkloadSpec = {
    name: '',
    target: 'ext4',
    buffer: 'anon',
    blockSize: 128 * KiB,
    size: 1 * MiB,
    queueDepth: 4,
    segments: 1,
    pinModel: 'user-dio',
    paths: [],
    ...over,
  };
  s.name = `${s.target}.${s.engine}.${s.buffer}${s.fault ? `.${s.fault.kind}` : ''}.${s.blockSize}x${s.segments}`;
  return s;
}

let serial = 0;
function env(kind = 'dat'): TargetEnv {
  if (!ext4.ok) throw new Error('unreachable');
  return { path: join(ext4.fs.mnt, `w${serial++}.${kind}`), tmpDir: ext4.fs.dir };
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Direct I/O pins user pages upstream since 6.5 (iov_iter_extract_pages). */
function hostPinsDio(): boolean {
  const [maj, min] = readFileSync('/proc/sys/kernel/osrelease', 'utf8').split('.').map(Number);
  return maj! > 6 || (maj === 6 && min! >= 5);
}

/** Runs the workload and checks it closed every descriptor it opened. */
async function measured(s: WorkloadSpec, e: TargetEnv): Promise<{ io: WorkloadIO }> {
  const fds = openFds();
  const io = await runWorkloadIO(s, e);
  if (openFds() !== fds) throw new Error(`runWorkloadIO leaked ${openFds() - fds} fds`);
  return { io };
}

const PAGES_PER_MIB = MiB / 4096;

// Engines that do both directions themselves: write 1 MiB + read 1 MiB from page-aligned
// 128 KiB regions = 2 x 8 ops x 32 pages.
for (const engine of ['psync', 'psyncv', 'libaio', 'uring', 'uring-fixed'] as const) {
  it(`${engine}: writes, reads back and verifies 1 MiB; 512 page-ops`, async (t) => {
    const s = spec({ engine, segments: engine === 'psyncv' ? 4 : 1 });
    const { io } = await measured(s, env());
    t.deepEqual(io.verify, { ok: true, checkedBytes: MiB });
    t.is(io.bytes, 2 * MiB);
    t.is(io.ops, 16);
    t.is(io.userPageOps, 2 * PAGES_PER_MIB);
    t.is(io.fixedPins, engine === 'uring-fixed' ? 2 * PAGES_PER_MIB : 0, 'registration pins both arenas once');
    t.deepEqual(io.errors, []);
    t.truthy(io.latency && io.latency.p50us > 0 && io.latency.p99us >= io.latency.p50us);
    t.true((io.iops ?? 0) > 0);
  });
}

it('splice-read: the Direct I/O fills pipe pages, one per 4 KiB spliced', async (t) => {
  const { io } = await measured(spec({ engine: 'splice-read', blockSize: 64 * KiB }), env());
  t.deepEqual(io.verify, { ok: true, checkedBytes: MiB });
  t.is(io.ops, 16, 'reads only: the write was buffered');
  t.is(io.bytes, MiB);
  t.is(io.userPageOps, PAGES_PER_MIB);
  t.deepEqual(io.errors, []);
});

it('vmsplice-write: user pages reach the file through the pipe, unpinned', async (t) => {
  const { io } = await measured(spec({ engine: 'vmsplice-write', blockSize: 64 * KiB, segments: 2 }), env());
  t.deepEqual(io.verify, { ok: true, checkedBytes: MiB });
  t.is(io.ops, 16, 'writes only: the read-back was buffered');
  t.is(io.userPageOps, PAGES_PER_MIB);
  t.deepEqual(io.errors, []);
});

it('page accounting: per segment, unaligned starts and ends add pages, short ops count what moved', async (t) => {
  // 2 KiB ops of 4 x 512 B segments, each op inside one page: the kernel pins that page once
  // per segment (4 per op), so 2 phases x 8 ops x 4 segments
  const small = spec({ engine: 'psyncv', blockSize: 2 * KiB, segments: 4, size: 16 * KiB });
  const { io } = await measured(small, env());
  t.true(io.verify.ok);
  t.is(io.userPageOps, 2 * 8 * 4);

  // opPages on known layouts in a page-aligned buffer (segments sit in reverse order)
  const b = new (loadAddon().AlignedBuffer)(64 * KiB);
  t.is(opPages(opAt(0, 8 * KiB, 1, b, 0), 8 * KiB), 2);
  t.is(opPages(opAt(0, 8 * KiB, 1, b, 1), 8 * KiB), 3, 'one byte off: spans three pages');
  // 2 KiB segments at buffer offsets 6656, 4608, 2560, 512: 2 + 1 + 2 + 1 pages
  t.is(opPages(opAt(0, 8 * KiB, 4, b, 512), 8 * KiB), 6);
  // 4 KiB + 1 byte moved of [4 KiB at 4096, 4 KiB at 0]: one page each
  t.is(opPages(opAt(0, 8 * KiB, 2, b, 0), 4 * KiB + 1), 2, 'short transfer: only the bytes moved');
  b.free();
});

for (const buffer of ['private-anon', 'shared-file', 'thp'] as const) {
  it(`buffer kind ${buffer}: verified, pages counted`, async (t) => {
    const s = spec({ engine: 'psync', buffer, ...(buffer === 'thp' ? { blockSize: MiB, size: 2 * MiB } : {}) });
    const { io } = await measured(s, env());
    t.deepEqual(io.verify, { ok: true, checkedBytes: s.size });
    t.is(io.userPageOps, (2 * s.size) / 4096);
  });
}

it('uring-fixed registers shared-file (tmpfs) buffers', async (t) => {
  const { io } = await measured(spec({ engine: 'uring-fixed', buffer: 'shared-file' }), env());
  t.true(io.verify.ok);
  t.is(io.fixedPins, 2 * PAGES_PER_MIB);
});

const faults: { fault: Fault; engine: Engine; errors: WorkloadIO['errors'] }[] = [
  { fault: { kind: 'efault-midway' }, engine: 'psync', errors: [{ code: 'EFAULT', syscall: 'pwrite', count: 1 }, { code: 'EFAULT', syscall: 'pread', count: 1 }] },
  { fault: { kind: 'efault-midway' }, engine: 'libaio', errors: [{ code: 'EFAULT', syscall: 'io_getevents', count: 2 }] },
  { fault: { kind: 'efault-midway' }, engine: 'psyncv', errors: [{ code: 'EFAULT', syscall: 'pwritev', count: 1 }, { code: 'EFAULT', syscall: 'preadv', count: 1 }] },
  { fault: { kind: 'readonly-dest' }, engine: 'psync', errors: [{ code: 'EFAULT', syscall: 'pread', count: 1 }] },
  { fault: { kind: 'readonly-dest' }, engine: 'uring', errors: [{ code: 'EFAULT', syscall: 'io_uring_enter', count: 1 }] },
  { fault: { kind: 'readonly-dest' }, engine: 'uring-fixed', errors: [{ code: 'EFAULT', syscall: 'io_uring_register', count: 1 }] },
  { fault: { kind: 'misaligned', what: 'offset' }, engine: 'psync', errors: [{ code: 'EINVAL', syscall: 'pwrite', count: 1 }, { code: 'EINVAL', syscall: 'pread', count: 1 }] },
  { fault: { kind: 'misaligned', what: 'length' }, engine: 'psync', errors: [{ code: 'EINVAL', syscall: 'pwrite', count: 1 }, { code: 'EINVAL', syscall: 'pread', count: 1 }] },
  { fault: { kind: 'misaligned', what: 'address' }, engine: 'psync', errors: [{ code: 'EINVAL', syscall: 'pwrite', count: 1 }, { code: 'EINVAL', syscall: 'pread', count: 1 }] },
  { fault: { kind: 'misaligned', what: 'address' }, engine: 'libaio', errors: [{ code: 'EINVAL', syscall: 'io_getevents', count: 2 }] },
  { fault: { kind: 'past-eod' }, engine: 'psync', errors: [] },
];
for (const { fault, engine, errors } of faults) {
  const what = fault.kind === 'misaligned' ? `${fault.kind} ${fault.what}` : fault.kind;
  it(`fault ${what} with ${engine}: ${errors.map((e) => e.code).join('+') || 'no errno'}, data still verified`, async (t) => {
    const { io } = await measured(spec({ engine, fault }), env());
    t.deepEqual(io.errors, errors);
    t.true(io.verify.ok, io.verify.detail);
    if (fault.kind === 'efault-midway') {
      // the range a faulted write left behind may be zero-filled (fs/direct-io.c): not checked
      t.true(io.verify.checkedBytes >= MiB - 128 * KiB && io.verify.checkedBytes <= MiB, `${io.verify.checkedBytes}`);
    } else {
      t.is(io.verify.checkedBytes, MiB);
    }
    if (fault.kind === 'past-eod') {
      // a read straddling EOF moves 64 KiB (16 pages), one at EOF moves nothing; files have no end to write past
      t.is(io.bytes, 2 * MiB + 64 * KiB);
      t.is(io.userPageOps, 2 * PAGES_PER_MIB + 16);
    } else {
      t.is(io.userPageOps, 2 * PAGES_PER_MIB, 'failed operations count no pages');
    }
  });
}

it('fault memlock: the registration without CAP_IPC_LOCK over a one-page RLIMIT_MEMLOCK fails ENOMEM; limit and capability come back', async (t) => {
  const { io } = await measured(spec({ engine: 'uring-fixed', fault: { kind: 'memlock' } }), env());
  t.deepEqual(io.errors, [{ code: 'ENOMEM', syscall: 'io_uring_register', count: 2 }]);
  t.true(io.verify.ok, io.verify.detail);
  // the normal phases registered afterwards: capability and limit were restored
  t.is(io.fixedPins, 2 * PAGES_PER_MIB);
});

it('fault longterm-file: registering a shared mapping of a disk file is refused (EFAULT 6.5+, EOPNOTSUPP before)', async (t) => {
  const { io } = await measured(spec({ engine: 'uring-fixed', fault: { kind: 'longterm-file' } }), env());
  t.is(io.errors.length, 1, JSON.stringify(io.errors));
  t.is(io.errors[0]!.count, 2);
  t.is(io.errors[0]!.syscall, 'io_uring_register');
  t.true(['EFAULT', 'ENOTSUP'].includes(io.errors[0]!.code), io.errors[0]!.code);
  t.true(io.verify.ok, io.verify.detail);
  t.is(io.fixedPins, 2 * PAGES_PER_MIB);
});

it('fault hole-write: a Direct I/O write into a hole inside the file size completes, and the file keeps its size', async (t) => {
  const e = env();
  const { io } = await measured(spec({ engine: 'psync', fault: { kind: 'hole-write' } }), e);
  t.deepEqual(io.errors, []);
  t.true(io.verify.ok, io.verify.detail);
  t.is(io.bytes, 2 * MiB + 128 * KiB);
  t.is(io.userPageOps, 2 * PAGES_PER_MIB, 'the hole write may complete buffered: its pages count against balance only');
  t.is(statSync(e.path).size, MiB, 'the hole the fault made is truncated away again');
});

it('fault nowait: one RWF_NOWAIT op of 512 one-page segments moves everything or nothing (EAGAIN)', async (t) => {
  const { io } = await measured(spec({ engine: 'psyncv', blockSize: 2 * MiB, size: 2 * MiB, segments: 512, fault: { kind: 'nowait', bytes: 2 * MiB } }), env());
  t.true(io.errors.every((x) => x.code === 'EAGAIN' && /^p(read|write)v2$/.test(x.syscall)), JSON.stringify(io.errors));
  t.true(io.verify.ok, io.verify.detail);
  const moved = 2 - io.errors.reduce((n, x) => n + x.count, 0);
  t.is(io.bytes, 4 * MiB + moved * 2 * MiB);
});

it('uring with user ring memory: the ring pages count as pinned user pages where the kernel has IORING_SETUP_NO_MMAP (6.5+)', async (t) => {
  const { io } = await measured(spec({ engine: 'uring', ringMemory: 'user' }), env());
  t.true(io.verify.ok, io.verify.detail);
  // one ring per batch (write, read), each with one page of rings and one of SQEs
  t.is(io.userPageOps, 2 * PAGES_PER_MIB + (hostPinsDio() ? 4 : 0));
});

it('a misaligned-length spec without a fault is refused before any I/O', async (t) => {
  await t.throwsAsync(runWorkloadIO(spec({ engine: 'psync', blockSize: 1000 }), env()), { instanceOf: RangeError, message: /blockSize 1000/ });
  await t.throwsAsync(runWorkloadIO(spec({ engine: 'psync', size: 2 * MiB }), { ...env(), sizeLimit: MiB }), { instanceOf: RangeError, message: /does not fit/ });
  await t.throwsAsync(runWorkloadIO(spec({ engine: 'passthru' }), env()), { instanceOf: RangeError, message: /nvme-passthru/ });
});

async function attachedTo(backing: string): Promise<string> {
  return (await execa('losetup', ['-j', backing])).stdout.trim();
}

it('loop target: attaches with direct I/O, verifies, pins once, detaches', async (t) => {
  const e = env('loop');
  const { io } = await measured(spec({ target: 'loop', engine: 'psync' }), e);
  t.deepEqual(io.verify, { ok: true, checkedBytes: MiB });
  t.is(io.userPageOps, 2 * PAGES_PER_MIB);
  t.is(await attachedTo(e.path), '', 'no loop device left on the backing file');
});

it('loop target with libaio and past-eod: ENOSPC past the device end', async (t) => {
  const e = env('loop');
  const { io } = await measured(spec({ target: 'loop', engine: 'libaio', fault: { kind: 'past-eod' } }), e);
  t.true(io.verify.ok);
  t.deepEqual(io.errors, [{ code: 'ENOSPC', syscall: 'io_getevents', count: 1 }]);
  t.is(await attachedTo(e.path), '');
});

it('loopAttach/loopDetach directly: direct I/O flag set, device gone afterwards', async (t) => {
  const e = env('loop');
  writeFileSync(e.path, Buffer.alloc(MiB));
  const addon = loadAddon();
  const a = addon.loopAttach(e.path);
  t.teardown(() => {
    if (existsSync(`/sys/block/loop${a.index}/loop`)) addon.loopDetach(a.device);
  });
  t.true(a.directIO);
  t.regex(a.device, /^\/dev\/loop\d+$/);
  t.is(readFileSync(`/sys/block/loop${a.index}/loop/dio`, 'utf8').trim(), '1');
  addon.loopDetach(a.device);
  t.is(await attachedTo(e.path), '');
});

it('fork-race: attempts counted, the window hit, no data lost on a pinning kernel', async (t) => {
  const s = spec({ engine: 'fork-race', blockSize: MiB, size: 4 * MiB, repeat: 12 });
  // the disk must be slow enough for the fork to land while the read is filling the pages, as
  // in the guest; unthrottled, the 1 MiB read beat the 20 ms fork delay in 36 of 36 attempts
  if (!ext4.ok) throw new Error('unreachable');
  const limit = throttleReads(ext4.fs.loop, FORK_RACE_THROTTLE.bpsRead);
  if ('skip' in limit) return t.fail(limit.skip);
  t.teardown(limit.lift);
  const { io } = await measured(s, env());
  t.is(io.fork?.attempts, 12);
  t.log(`hitWindow ${io.fork!.hitWindow}/12, lostData ${io.fork!.lostData}`);
  // as the judge: a race whose forks all came after the read proves nothing
  t.true(io.fork!.hitWindow > 0, `no attempt forked during the read: ${JSON.stringify(io.fork)}`);
  // data can only be lost in an attempt whose read was still in flight at fork()
  t.true(io.fork!.lostData <= io.fork!.hitWindow && io.fork!.hitWindow <= io.fork!.attempts, JSON.stringify(io.fork));
  t.deepEqual(io.verify, { ok: true, checkedBytes: 4 * MiB });
  t.is(io.userPageOps, 12 * 256);
  t.is(io.bytes, 12 * MiB);
  if (hostPinsDio()) t.is(io.fork!.lostData, 0, 'FOLL_PIN: fork copies pinned pages for the child');
});
