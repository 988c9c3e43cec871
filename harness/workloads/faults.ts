// The fault phase, between writing the pattern and reading it back: each fault kind provokes its
// error with operations of its own, in the engine's own directions, over a buffer or a file
// range set up for it (a buffer with a hole, a read-only one, a misaligned op, a file grown by a
// hole, ...). The errno outcomes land in the workload's errors (Workload.exec); the faults that
// the runner or the VM inject below the engine need nothing here.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { encodeGupTest, GUP_TEST_IOCTL } from '../guest/gup-test.js';
import type { AlignedBuffer, BatchResult, Direction, IoOp } from './addon.js';
import type { FaultOptions } from './engine-calls.js';
import { GUP_TEST_PATH } from './fork-race.js';
import { opAt, PAGE } from './ops.js';
import { targetRecord } from './targets.js';
import { HUGE_PAGE } from './workload.js';
import type { UndefinedRange } from './verify.js';
import type { Workload } from './workload.js';

/** Where the metadata-eio read starts: past ext2's twelve direct blocks, at 4 KiB blocks too. */
export const METADATA_EIO_AT = 64 * 1024;

/** The x86-64 vsyscall page (the gate area GUP serves from get_gate_page). */
const GATE_ADDRESS = 0xffffffffff600000n;
/** Its first bytes (arch/x86/entry/vsyscall/vsyscall_emu_64.S): mov $__NR_gettimeofday, %rax; syscall; ret */
const VSYSCALL_GETTIMEOFDAY = Buffer.from('48c7c0600000000f05c3', 'hex');
/** process_vm_readv calls of the gate page: one pin each */
const GATE_READS = 16;

/** cleaned-in-flight: where its mapping of the device's page cache starts, and how often writeback comes. */
const CLEANED_SCRATCH_AT = 8 * 1024 * 1024;
const CLEAN_EVERY_MS = 5;

/** fork-storm: rounds of a write from and a read into each of its buffers while the forks run */
const FORK_STORM_ROUNDS = 48;
/**
 * fork-storm: gup_test pins of one long walk each (PIN_FAST_BENCHMARK, every page in one
 * pin_user_pages_fast call) over a shared buffer of this size while the forks run. gup-fast
 * reads the mm's write_protect_seq before its walk and again after; a fork that copies a
 * copy-on-write mapping in between makes it give back every pin of the walk. A Direct I/O call
 * walks at most 256 pages, too short for a fork to land in; 16384 small shmem pages (no
 * copy-on-write, so no unshare cuts the walk short) give it milliseconds under TCG.
 */
const FORK_STORM_WALK_BYTES = 64 * 1024 * 1024;
const FORK_STORM_WALKS = 16;
/** protect-storm: rounds of a write from each of its buffers while their protection flips */
const PROTECT_STORM_ROUNDS = 128;

/** The device block size fs/direct-io.c falls back to for I/O finer than the file system's blocks. */
const SECTOR = 512;

/** Bios fs/direct-io.c lets pile up before it reaps the finished ones (dio_bio_reap). */
export const DIO_REAP_BATCH = 64;

/** A file rewritten by fragmentFile: its cluster size and count, and the spacer to remove. */
export interface Fragmented {
  cluster: number;
  clusters: number;
  remove(): void;
}

/**
 * Rewrites a file in place with the same bytes, one cluster at a time, each cluster followed by
 * one of a spacer file beside it, so that no two of the file's clusters are adjacent on disk
 * (vfat allocates a cluster at the write that needs it, from the next free one). The cluster is
 * the file system's block size (statfs f_bsize, vfat's cluster size).
 */
export function fragmentFile(path: string): Fragmented {
  const cluster = statfsSync(dirname(path)).bsize;
  const spacerPath = join(dirname(path), '.pinlab-spacer');
  const remove = (): void => rmSync(spacerPath, { force: true });
  const fd = openSync(path, 'r+');
  const spacer = openSync(spacerPath, 'w');
  try {
    const data = readFileSync(fd);
    ftruncateSync(fd, 0);
    const pad = Buffer.alloc(cluster);
    for (let at = 0; at < data.length; at += cluster) {
      writeSync(fd, data, at, Math.min(cluster, data.length - at), at);
      writeSync(spacer, pad);
    }
    fsyncSync(fd);
    fsyncSync(spacer);
    return { cluster, clusters: Math.ceil(data.length / cluster), remove };
  } catch (e) {
    remove();
    throw e;
  } finally {
    closeSync(spacer);
    closeSync(fd);
  }
}

/**
 * A fresh anonymous mapping that is only read, so each of its pages maps the shared zero page
 * (small pages only: not the huge zero page).
 */
function zeroPageBuffer(w: Workload, size: number): AlignedBuffer {
  const b = w.allocate(size, { kind: 'private-anon', noHugePage: true });
  if (b.read(0, size).some((x) => x !== 0)) w.fail('a fresh anonymous mapping read back non-zero bytes');
  return b;
}

/** Bytes the first op of a fault phase's batch moved: 0 for a refused batch or a failed op. */
function movedBy(r: BatchResult | undefined): number {
  return r ? Math.max(0, r.results[0] ?? 0) : 0;
}

/** File position of the first byte a read into `b` (from file offset 0) moved that is not the pattern; -1 when all match or nothing moved. */
function patternMismatch(w: Workload, b: AlignedBuffer, r: BatchResult | undefined): number {
  const moved = movedBy(r);
  return moved > 0 ? b.verify(w.seed, 0, 0, moved) : -1;
}

/**
 * Runs `body` while the addon's storm thread runs (forks; with `protect`, flips of the buffers'
 * protection), then stops the storm before it frees the buffers, and fails the workload when the
 * storm did nothing while the I/O ran.
 */
async function underStorm(w: Workload, bufs: AlignedBuffer[], protect: boolean, body: () => Promise<void>): Promise<void> {
  w.addon.forkStormStart(protect ? { protect: bufs } : undefined);
  let count = 0;
  try {
    await body();
  } finally {
    count = w.addon.forkStormStop();
    for (const b of bufs) b.free();
  }
  if (count === 0) w.fail(protect ? 'the protection storm flipped nothing while the I/O ran' : 'the fork storm forked nothing while the I/O ran');
}

/**
 * FORK_STORM_WALKS gup_test pins of a FORK_STORM_WALK_BYTES shared buffer, each one walk (the
 * pages written first, so gup-fast finds them mapped). gup_test unpins what it pinned; the pins
 * are balanced and not page-ops of the workload (its model's lower bound stays the Direct I/O).
 */
function longWalksUnderStorm(w: Workload): void {
  const b = w.allocate(FORK_STORM_WALK_BYTES, { kind: 'shared-file', dir: w.sharedDir });
  b.fill(w.seed, 0, 0, FORK_STORM_WALK_BYTES);
  const pages = FORK_STORM_WALK_BYTES / PAGE;
  const request = encodeGupTest({ addr: b.address, size: FORK_STORM_WALK_BYTES, nrPagesPerCall: pages, gupFlags: 0 });
  for (let i = 0; i < FORK_STORM_WALKS; i++) w.addon.gupTest(GUP_TEST_PATH, GUP_TEST_IOCTL.PIN_FAST_BENCHMARK, request);
  b.free();
}

/** Offset of the first non-zero byte among a buffer's first `bytes` (none moved: -1). */
function firstNonZero(b: AlignedBuffer, bytes: number): number {
  return bytes > 0 ? b.read(0, Math.min(bytes, b.size)).findIndex((x) => x !== 0) : -1;
}

/**
 * Runs `fn` with the file's end (its size now), the file first grown by `grow` bytes (a hole), and
 * cuts the file back to that end afterwards, whatever `fn` did past it.
 */
async function pastFileEnd(fd: number, grow: number, fn: (end: number) => Promise<void>): Promise<void> {
  const end = fstatSync(fd).size;
  if (grow > 0) ftruncateSync(fd, end + grow);
  try {
    await fn(end);
  } finally {
    ftruncateSync(fd, end);
  }
}

/** The dax fault's persistent memory (memmap=, vm/session.ts) and where its file system goes. */
const PMEM_DEVICE = '/dev/pmem0';
const DAX_MOUNT = '/mnt/dax';

/**
 * A fresh ext4 on the guest's persistent memory, mounted with -o dax (checked in /proc/mounts):
 * its directory. 4 KiB blocks and a 2 MiB stripe, so that the allocator hands out 2 MiB-aligned
 * extents, which DAX maps by PMD.
 */
function mountDax(w: Workload): string {
  if (!existsSync(PMEM_DEVICE)) w.fail(`no ${PMEM_DEVICE}: the guest has no persistent memory (memmap= on the kernel command line, CONFIG_X86_PMEM_LEGACY)`);
  const sh = (argv: string[]): void => {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) w.fail(`${argv.join(' ')}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
  };
  sh(['mke2fs', '-q', '-F', '-t', 'ext4', '-b', '4096', '-E', 'stride=512,stripe_width=512', PMEM_DEVICE]);
  mkdirSync(DAX_MOUNT, { recursive: true });
  sh(['mount', '-t', 'ext4', '-o', 'dax', PMEM_DEVICE, DAX_MOUNT]);
  const line = readFileSync('/proc/mounts', 'utf8').split('\n').find((l) => l.split(' ')[1] === DAX_MOUNT);
  if (!line || !/(^|,)dax(=always)?(,|$)/.test(line.split(' ')[3] ?? '')) {
    spawnSync('umount', [DAX_MOUNT], { timeout: 30_000 });
    w.fail(`${DAX_MOUNT} is not mounted with dax: ${line ?? 'not mounted'}`);
  }
  return DAX_MOUNT;
}

/**
 * Provokes the workload's fault, if it has one. Returns the file ranges its failed or short
 * writes left undefined: fs/direct-io.c zero-fills the blocks it had already mapped when the
 * user buffer faults ("to avoid leaking stale data"), so after an EFAULT write those bytes are
 * legitimately neither old nor new data.
 */
export async function provokeFault(w: Workload): Promise<UndefinedRange[]> {
  const undefinedRanges: UndefinedRange[] = [];
  const { spec, target } = w;
  const fault = spec.fault;
  if (!fault) return undefinedRanges;
  const { blockSize } = spec;
  const nseg = w.segmentsPerOp;
  const dirs = w.engineDirections();
  const run = async (direction: Direction, op: IoOp, faultOpts: FaultOptions = {}): Promise<void> => {
    if (!dirs.includes(direction)) return;
    if (direction === 'write') w.fillOp(op);
    const r = await w.exec(direction, [op], true, faultOpts);
    const length = op.segments.reduce((n, seg) => n + seg.length, 0);
    const done = movedBy(r);
    // only a fault inside the user buffer leaves written-but-undefined blocks behind (a
    // rejected write, e.g. EINVAL, writes nothing)
    if (fault.kind === 'efault-midway' && direction === 'write' && done < length) undefinedRanges.push([op.position + done, op.position + length]);
  };
  switch (fault.kind) {
    case 'efault-midway': {
      // at least three pages, so the hole has mapped pages on both sides
      const len = Math.min(spec.size, Math.max(blockSize, 3 * PAGE));
      const pages = Math.ceil(len / PAGE);
      const b = w.buffer(len, { holePage: Math.floor(pages / 2) });
      for (const d of ['write', 'read'] as Direction[]) await run(d, opAt(0, len, nseg, b, 0));
      b.free();
      break;
    }
    case 'readonly-dest': {
      const b = w.buffer(blockSize, { readOnly: true });
      await run('read', opAt(0, blockSize, nseg, b, 0));
      b.free();
      break;
    }
    case 'misaligned': {
      // one byte off (default): below any DIO alignment (offset, length or DMA/memory); 512
      // bytes off: aligned for a 512-byte-block device, not for a 4 KiB one
      const by = fault.by ?? 1;
      const b = w.buffer(blockSize + PAGE);
      const position = fault.what === 'offset' ? by : 0;
      const length = fault.what === 'length' ? blockSize - by : blockSize;
      const bufOffset = fault.what === 'address' ? by : 0;
      for (const d of ['write', 'read'] as Direction[]) await run(d, opAt(position, length, nseg, b, bufOffset));
      b.free();
      break;
    }
    case 'past-eod': {
      const cap = target.capacity;
      const straddle = Math.max(0, Math.floor((cap - blockSize / 2) / target.unit) * target.unit);
      const b = w.buffer(blockSize);
      await run('read', opAt(straddle, blockSize, nseg, b, 0));
      await run('read', opAt(cap, blockSize, nseg, b, 0));
      // writing at the end of a file just extends it; only a device has an end to write past
      if (target.isBlock) await run('write', opAt(cap, blockSize, nseg, b, 0));
      b.free();
      break;
    }
    case 'over-limit': {
      // one command above the device's transfer limit: refused after the kernel mapped (and
      // pinned) as much of the buffer as fits one bio; every page must be released
      const b = w.buffer(fault.bytes);
      for (const d of ['write', 'read'] as Direction[]) await run(d, opAt(0, fault.bytes, 1, b, 0));
      b.free();
      break;
    }
    case 'nowait': {
      if (spec.engine !== 'psync' && spec.engine !== 'psyncv') w.fail(`the nowait fault needs psync or psyncv, not ${spec.engine}`);
      const b = w.buffer(fault.bytes);
      for (const d of ['write', 'read'] as Direction[]) await run(d, opAt(0, fault.bytes, nseg, b, 0), { nowait: true });
      b.free();
      break;
    }
    case 'hole-write': {
      // grow the file by a hole and write into its middle; the tail goes again afterwards
      if (target.isBlock) w.fail('the hole-write fault needs a file target');
      const b = w.buffer(blockSize);
      await pastFileEnd(target.directFd, 3 * blockSize, (end) => run('write', opAt(end + blockSize, blockSize, nseg, b, 0)));
      b.free();
      break;
    }
    case 'memlock': {
      if (spec.engine !== 'uring-fixed') w.fail(`the memlock fault needs uring-fixed, not ${spec.engine}`);
      // a limit of one page: the registration's first accounting already exceeds it
      const b = w.buffer(blockSize);
      for (const d of ['write', 'read'] as Direction[]) await run(d, opAt(0, blockSize, 1, b, 0), { memlockBytes: PAGE });
      b.free();
      break;
    }
    case 'longterm-file': {
      if (spec.engine !== 'uring-fixed' || target.isBlock) w.fail('the longterm-file fault needs uring-fixed on a file target');
      // the buffer is a shared mapping of a file beside the target, on the same file system;
      // the write phase's fill faults its pages in, so gup-fast finds them mapped. Not
      // w.buffer(): that makes spec.buffer's kind (and reserves or measures huge pages for it).
      const b = w.allocate(blockSize, { kind: 'shared-file', dir: dirname(target.device) });
      for (const d of ['write', 'read'] as Direction[]) await run(d, opAt(0, blockSize, 1, b, 0));
      // Page cache comes from ZONE_MOVABLE first (the guest has one), where gup-fast refuses a
      // long-term pin before it looks at the mapping. A read-only long-term pin (allowed on a
      // file; gup_test) migrates the pages out of it: then gup-fast refuses them for being
      // file-backed (6.5+), the check the first round could not reach. Its pins are balanced.
      if (existsSync(GUP_TEST_PATH)) {
        w.addon.gupTest(GUP_TEST_PATH, GUP_TEST_IOCTL.PIN_LONGTERM_BENCHMARK, encodeGupTest({ addr: b.address, size: blockSize, nrPagesPerCall: blockSize / PAGE, gupFlags: 0 }));
        for (const d of ['write', 'read'] as Direction[]) await run(d, opAt(0, blockSize, 1, b, 0));
      }
      b.free();
      break;
    }
    case 'migration-blocked': {
      if (spec.engine === 'udmabuf') {
        // the addon holds each op's memfd pages in a pipe while it creates the dma-buf
        const b = w.buffer(blockSize);
        for (const d of ['write', 'read'] as Direction[]) await run(d, opAt(0, blockSize, 1, b, 0), { holdPages: true });
        b.free();
        break;
      }
      if (spec.engine !== 'uring-fixed') w.fail(`the migration-blocked fault needs uring-fixed or udmabuf, not ${spec.engine}`);
      // the pages are faulted in (ZONE_MOVABLE first), then a pipe takes a reference to each:
      // the registration's migration cannot move them
      const b = w.buffer(blockSize);
      b.fill(0x6d, 0);
      const [rd, wr] = w.addon.vmspliceHold(b);
      try {
        for (const d of ['write', 'read'] as Direction[]) await run(d, opAt(0, blockSize, 1, b, 0));
      } finally {
        closeSync(rd);
        closeSync(wr);
      }
      b.free();
      break;
    }
    case 'gate-page': {
      if (spec.engine !== 'process-vm') w.fail(`the gate-page fault needs process-vm, not ${spec.engine}`);
      const maps = readFileSync('/proc/self/maps', 'utf8').split('\n').find((l) => l.endsWith('[vsyscall]'));
      if (!maps) w.fail('no [vsyscall] mapping here (CONFIG_X86_VSYSCALL_EMULATION off, or vsyscall=none)');
      const perms = maps.split(/\s+/)[1] ?? '';
      if (!perms.startsWith('r')) w.fail(`the vsyscall page is mapped ${perms}, not readable: boot with vsyscall=emulate`);
      for (let i = 0; i < GATE_READS; i++) {
        const page = w.addon.processVmReadAddress(GATE_ADDRESS, PAGE);
        w.tally.ops++;
        w.tally.bytes += page.length;
        w.tally.userPageOps += 1;
        if (page.length !== PAGE || !page.subarray(0, VSYSCALL_GETTIMEOFDAY.length).equals(VSYSCALL_GETTIMEOFDAY)) {
          w.fail(`process_vm_readv of the gate page read ${page.length} bytes starting ${page.subarray(0, 10).toString('hex')}, not the vsyscall stub ${VSYSCALL_GETTIMEOFDAY.toString('hex')}`);
        }
      }
      break;
    }
    case 'zero-page': {
      // the write is not run(): its fill would break the sharing
      const b = zeroPageBuffer(w, blockSize);
      const zeros = opAt(0, blockSize, nseg, b, 0);
      const wrote = await w.exec('write', [zeros], true);
      const sink = w.buffer(blockSize);
      await w.exec('read', [opAt(0, blockSize, nseg, sink, 0)], true);
      const bad = firstNonZero(sink, movedBy(wrote));
      if (bad >= 0) w.dataProblem(`the write from the zero page left a non-zero byte at file offset ${bad}`);
      // the pattern back over the range, for the read-back phase
      await run('write', opAt(0, blockSize, nseg, sink, 0));
      b.free();
      sink.free();
      break;
    }
    case 'sub-block': {
      if (target.isBlock) w.fail('the sub-block fault needs a file target');
      const by = SECTOR;
      const b = w.buffer(blockSize + PAGE);
      for (const d of ['write', 'read'] as Direction[]) await run(d, opAt(by, blockSize, nseg, b, by));
      // past the end: the new blocks' heads and tails are zeroed, then the file is cut back
      await pastFileEnd(target.directFd, 0, (end) => run('write', opAt(end + by, blockSize, nseg, b, by)));
      b.free();
      break;
    }
    case 'hugetlb-exhausted': {
      const hog = w.hugePoolWithFree(1);
      try {
        if (spec.engine === 'udmabuf') {
          // two 2 MiB pages of memfd for a read of just over one (below 3 MiB of the device): the
          // addon faults the first in (the pool's one page), memfd_pin_folios pins it, fails to
          // allocate the second and must unpin the first
          const len = HUGE_PAGE + PAGE;
          const b = w.allocate(len, { kind: 'anon' });
          await run('read', opAt(0, len, 1, b, 0), { hugetlbMemfd: true });
          b.free();
        } else {
          // from 128 pages before the first huge page's end: the block layer pins a bio's worth
          // (256 pages) per GUP call, so the first call spans both huge pages, none faulted in
          // yet (gup-fast finds nothing): GUP's slow path faults in and pins the first's last 128,
          // then meets the failed fault of the second, in one call
          const into = HUGE_PAGE - 128 * PAGE;
          const b = w.allocate(2 * HUGE_PAGE, { kind: 'hugetlb', noReserve: true });
          await run('read', opAt(0, 2 * HUGE_PAGE - into, nseg, b, into));
          b.free();
        }
      } finally {
        hog?.free();
      }
      break;
    }
    case 'cleaned-in-flight': {
      if (!target.isBlock) w.fail('the cleaned-in-flight fault needs a block device target');
      if (CLEANED_SCRATCH_AT + spec.size > target.capacity) w.fail(`the device ends before its scratch range (${CLEANED_SCRATCH_AT + spec.size} bytes)`);
      // the device's own page cache, past the workload's range: pre-faulted (dirty), then clean
      const b = w.allocate(spec.size, { kind: 'shared-file', file: target.device, fileOffset: CLEANED_SCRATCH_AT });
      const fd = openSync(target.device, 'r+');
      try {
        fsyncSync(fd);
        // the read pins its pages and dirties them before its bio goes out; the disk then takes
        // up to ~330 ms a MiB (FORK_RACE_THROTTLE), during which writeback cleans them, again
        // and again until the read is back
        let done = false;
        const read = w.exec('read', [opAt(0, spec.size, 1, b, 0)], true).finally(() => {
          done = true;
        });
        while (!done) {
          await sleep(CLEAN_EVERY_MS);
          fsyncSync(fd);
        }
        const bad = patternMismatch(w, b, await read);
        if (bad >= 0) w.dataProblem(`the read cleaned in flight left file offset ${bad} unlike the pattern`);
      } finally {
        closeSync(fd);
      }
      b.free();
      break;
    }
    case 'hole-read': {
      if (target.isBlock) w.fail('the hole-read fault needs a file target');
      const b = w.buffer(blockSize);
      // not zeros beforehand, so that zeros read back were written by the read
      b.fill(w.seed, 0);
      await pastFileEnd(target.directFd, 3 * blockSize, async (end) => {
        const bad = firstNonZero(b, movedBy(await w.exec('read', [opAt(end + blockSize, blockSize, nseg, b, 0)], true)));
        if (bad >= 0) w.dataProblem(`a read of a hole returned a non-zero byte at file offset ${end + blockSize + bad}`);
      });
      b.free();
      break;
    }
    case 'page-status': {
      // each buffer faulted in as its kind needs: written (on a node), or only read (zero page)
      const own = w.buffer(blockSize);
      own.fill(w.seed, 0, 0, PAGE);
      const huge = w.hugetlbBuffer(HUGE_PAGE);
      huge.fill(w.seed, 0, 0, PAGE);
      const zero = zeroPageBuffer(w, 4 * PAGE);
      const plain = w.allocate(4 * PAGE, { kind: 'anon' });
      const wrong: string[] = [];
      for (const [name, b, mapped] of [['own', own, true], ['hugetlb', huge, true], ['zero-page', zero, false], ['anon', plain, true]] as const) {
        const status = w.addon.pageStatus(b);
        w.tally.ops++;
        const bad = status.findIndex((s) => (mapped ? s < 0 : s >= 0));
        if (bad >= 0) wrong.push(`${name} page ${bad}: ${status[bad]}`);
        b.free();
      }
      if (wrong.length > 0) w.dataProblem(`move_pages status: ${wrong.join(', ')} (a mapped page on no node, or the zero page on one)`);
      break;
    }
    case 'fork-storm': {
      // small pages (gup-fast's PTE walk) and a transparent huge page (its PMD leaf), each written
      // from and read into again and again while a thread of this process forks
      const bufs = [w.allocate(blockSize, { kind: 'anon', noHugePage: true }), w.allocate(Math.max(blockSize, HUGE_PAGE), { kind: 'thp' })];
      await underStorm(w, bufs, false, async () => {
        for (let round = 0; round < FORK_STORM_ROUNDS; round++) {
          for (const b of bufs) {
            await run('write', opAt(0, blockSize, nseg, b, 0));
            b.write(0, Buffer.alloc(blockSize));
            const bad = patternMismatch(w, b, await w.exec('read', [opAt(0, blockSize, nseg, b, 0)], true));
            if (bad >= 0) w.dataProblem(`a read during the fork storm (${b.kind} buffer, round ${round}) left file offset ${bad} unlike the pattern`);
          }
        }
        if (existsSync(GUP_TEST_PATH)) longWalksUnderStorm(w);
      });
      break;
    }
    case 'protect-storm': {
      if (!dirs.includes('write')) w.fail(`the protect-storm fault needs an engine that writes, not ${spec.engine}`);
      // the pattern goes in first: while the storm runs a buffer may be read-only at any moment,
      // and only the kernel reads it (a write's pins take no FOLL_WRITE). The huge pages are
      // written 2 MiB at a time: gup-fast's window between reading the PMD or PUD and reading it
      // again spans a record of every subpage, so a longer op gives the race more room
      const bufs = [
        { b: w.allocate(blockSize, { kind: 'anon', noHugePage: true }), len: blockSize },
        { b: w.allocate(HUGE_PAGE, { kind: 'thp' }), len: HUGE_PAGE },
        { b: w.buffer(HUGE_PAGE), len: HUGE_PAGE },
      ];
      for (const { b, len } of bufs) b.fill(w.seed, 0, 0, len);
      await underStorm(
        w,
        bufs.map(({ b }) => b),
        true,
        async () => {
          for (let round = 0; round < PROTECT_STORM_ROUNDS; round++) {
            for (const { b, len } of bufs) await w.exec('write', [opAt(0, len, nseg, b, 0)], true);
          }
        },
      );
      break;
    }
    case 'secretmem': {
      // the pages are faulted in (mapped): gup-fast finds them and must give them back
      const b = w.allocate(blockSize, { kind: 'secretmem' });
      for (const d of ['write', 'read'] as Direction[]) await run(d, opAt(0, blockSize, nseg, b, 0));
      b.free();
      break;
    }
    case 'dax': {
      const dir = mountDax(w);
      try {
        // a huge page's worth of a file on it, mapped untouched: the first read faults it in
        // (GUP's slow path pins from the PMD), the next I/O finds it mapped (gup-fast's devmap leaf)
        const len = Math.max(spec.size, HUGE_PAGE);
        const b = w.allocate(len, { kind: 'shared-file', dir, noPrefault: true });
        try {
          for (let pass = 0; pass < 2; pass++) {
            const bad = patternMismatch(w, b, await w.exec('read', [opAt(0, len, nseg, b, 0)], true));
            if (bad >= 0) w.dataProblem(`a read into the DAX mapping (pass ${pass}) left file offset ${bad} unlike the pattern`);
            b.write(0, Buffer.alloc(PAGE));
          }
          await run('write', opAt(0, len, nseg, b, 0));
        } finally {
          b.free();
        }
      } finally {
        spawnSync('umount', [dir], { timeout: 30_000 });
      }
      break;
    }
    case 'kernel-read': {
      if (target.isBlock) w.fail('the kernel-read fault needs a file target');
      // a file of its own beside the target, closed: the kernel refuses to read a file someone
      // has open for writing (ETXTBSY), as the workload has its target. Its bytes are no module:
      // the read is the point, and its errno
      const file = join(dirname(target.device), '.pinlab-kernel-read');
      writeFileSync(file, Buffer.alloc(spec.size, 0x5a), { flush: true });
      try {
        w.addon.kernelReadFile(file);
        w.dataProblem(`finit_module loaded ${file}, which holds no module`);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (typeof err.code !== 'string' || err.syscall !== 'finit_module') throw e;
        w.tally.recordError(err.code, 'finit_module');
      } finally {
        rmSync(file, { force: true });
      }
      w.tally.ops++;
      break;
    }
    case 'zone-append':
      // the appends are the workload's own writes (the zone-file target)
      if (targetRecord(spec.target).kind !== 'zone-file') w.fail('the zone-append fault needs a zone-file target');
      break;
    case 'metadata-eio': {
      if (target.isBlock) w.fail('the metadata-eio fault needs a file target');
      // fragmented (vfat): its cluster cache keeps the last eight runs the writes walked, near
      // the file's end; a read at METADATA_EIO_AT must walk the FAT from the first cluster
      const frag = fault.fragmented ? fragmentFile(target.device) : undefined;
      if (frag && METADATA_EIO_AT + blockSize > frag.clusters * frag.cluster) w.fail(`the fragmented metadata-eio read ends past the file (${frag.clusters} clusters of ${frag.cluster} bytes)`);
      try {
        // the block map on disk, and out of every cache: the next read must ask the disk for it
        fsyncSync(target.directFd);
        writeFileSync('/proc/sys/vm/drop_caches', '3\n');
        w.armFault();
        // past the twelve direct blocks of ext2 (1 KiB or 4 KiB blocks): the first thing this
        // read asks of the disk is the indirect block (vfat fragmented: a FAT sector), so it is
        // that request which fails
        const b = w.buffer(blockSize);
        await run('read', opAt(METADATA_EIO_AT, blockSize, nseg, b, 0));
        b.free();
      } finally {
        frag?.remove();
      }
      break;
    }
    case 'reap-eio': {
      if (target.isBlock) w.fail('the reap-eio fault needs a file target');
      // the file's blocks written and its block map cached: the first request after arming is
      // the first data bio of this read, the rest of its bios (ext2 with 1 KiB blocks ends one at
      // every indirect block, 256 KiB; a fragmented file one at every cluster) pile up until the
      // 65th reaps the failed one
      const frag = fault.fragmented ? fragmentFile(target.device) : undefined;
      let length = spec.size;
      if (frag) {
        const clusters = fault.at === 'last' ? DIO_REAP_BATCH + 1 : DIO_REAP_BATCH + 2;
        if (clusters > frag.clusters) w.fail(`the fragmented reap-eio read needs ${clusters} clusters, the file has ${frag.clusters} of ${frag.cluster} bytes`);
        length = clusters * frag.cluster;
      }
      try {
        fsyncSync(target.directFd);
        w.armFault();
        const b = w.buffer(length);
        await run('read', opAt(0, length, 1, b, 0));
        b.free();
      } finally {
        frag?.remove();
      }
      break;
    }
    case 'fail-make-request':
    case 'blkdebug-eio':
      break; // injected below the engine by the runner/VM; the normal phases meet it
  }
  return undefinedRanges;
}
