// runWorkloadIO: one workload's user-space side, run inside the guest (or on a host O_DIRECT file
// system in tests). It writes the pattern over the workload's range with the workload's engine,
// provokes its fault, reads the range back into fresh buffers and verifies it, while counting
// the user pages each operation's buffers span, which is what a correct kernel pins.
//
// The caller snapshots the pin counters around this call, so everything that pins is released
// before it returns: buffers unmapped, io_uring buffers unregistered and rings closed (inside
// the addon), fds closed, loop devices detached.
//
// Single-direction engines (splice-read reads, vmsplice-write writes) do their other direction
// with buffered I/O on a second descriptor, which copies and pins nothing, so the counters show
// only the engine's own path. fork-race writes its pattern the same way.
import { randomInt } from 'node:crypto';
import { closeSync, constants, fsyncSync, ftruncateSync, fstatSync, openSync, readFileSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';

import { loadAddon, type AlignedBuffer, type BatchResult, type Direction, type IoOp, type PinlabAddon } from './addon.js';
import type { Engine, WorkloadIO, WorkloadSpec } from './types.js';
import { enginesOf, PASSTHROUGH_ENGINES, targetRecord } from './targets.js';
import { bufferBacking } from './buffers.js';
import { hugePageBytes, readSmaps } from './smaps.js';
import { latencyOf } from './latency.js';

export interface TargetEnv {
  /** block device or file; for target 'loop' the backing file of the loop device */
  path: string;
  /** bytes usable on the target (e.g. a raw device's size); the workload must fit */
  sizeLimit?: number;
  /** scratch directory (shared-file buffers live here) */
  tmpDir: string;
  /** loop targets: the loop device's logical block size */
  loopBlockSize?: number;
}

export const PAGE = 4096;
const TMPFS_MAGIC = 0x01021994;

/**
 * Where shared-file buffers live: a tmpfs (shmem) file, which io_uring can register as a fixed
 * buffer (FOLL_LONGTERM refuses MAP_SHARED pages of most disk file systems). env.tmpDir when it
 * is tmpfs, else /dev/shm when that is, else env.tmpDir anyway.
 */
export function sharedFileDir(tmpDir: string): string {
  for (const dir of [tmpDir, '/dev/shm']) {
    try {
      if (statfsSync(dir).type === TMPFS_MAGIC) return dir;
    } catch {
      // absent: try the next
    }
  }
  return tmpDir;
}

/** Engines that split each operation's block into `spec.segments` iovec segments. */
const SEGMENTED: ReadonlySet<Engine> = new Set(['psyncv', 'libaio', 'uring', 'splice-read', 'vmsplice-write']);

/** The direction an engine does with buffered I/O instead of itself (see the header). */
function helperDirection(engine: Engine): Direction | undefined {
  switch (engine) {
    case 'splice-read':
    case 'fork-race':
      return 'write';
    case 'vmsplice-write':
      return 'read';
    default:
      return undefined;
  }
}

/**
 * Pages a correct kernel pins for one op that moved `bytes`: for each iovec segment (in order,
 * up to `bytes`), the 4 KiB pages it spans, counting page-unaligned starts and ends. A page
 * shared by two segments of one op counts once per segment: Direct I/O pins segment by segment
 * (measured on 6.18: 8 ops of 4 x 512-byte segments inside one page each took 32 pins, not 8).
 * Buffers are pattern-filled before writes and read destinations are pinned for writing, so
 * the zero page never appears here.
 */
export function opPages(op: IoOp, bytes: number): number {
  let pages = 0;
  let left = bytes;
  for (const s of op.segments) {
    if (left <= 0) break;
    const take = Math.min(left, s.length);
    const start = Number(s.buffer.address) + s.offset;
    pages += Math.floor((start + take - 1) / PAGE) - Math.floor(start / PAGE) + 1;
    left -= take;
  }
  return pages;
}

/**
 * One op over file bytes [position, position+length) split into `nseg` segments; by default the
 * segments sit in reverse order inside the op's region of the buffer, so a vectored engine that
 * places a segment's data wrongly is caught by the pattern; 'ascending' lays them out
 * contiguously (adjacent sub-page segments then merge into one bio_vec in the kernel).
 */
export function opAt(position: number, length: number, nseg: number, buffer: AlignedBuffer, bufOffset: number, order: 'reverse' | 'ascending' = 'reverse'): IoOp {
  const n = Math.max(1, Math.min(nseg, length));
  const base = Math.floor(length / n);
  const lengths = Array.from({ length: n }, (_, j) => (j === n - 1 ? length - base * (n - 1) : base));
  let after = length;
  let before = 0;
  const segments = lengths.map((len) => {
    after -= len;
    const offset = order === 'ascending' ? before : after;
    before += len;
    return { buffer, offset: bufOffset + offset, length: len };
  });
  return { position, segments };
}

/** How long after the read starts the fork comes (see FORK_RACE_THROTTLE in catalogue.ts). */
export const FORK_DELAY_US = 20_000;

const HUGE_PAGE = 2 * 1024 * 1024;
const HUGEPAGES_2M = '/sys/kernel/mm/hugepages/hugepages-2048kB';

/** Grow the hugetlb pool (vm.nr_hugepages) so that `bytes` more of it are free. */
function reserveHugePages(bytes: number): void {
  const read = (f: string) => Number(readFileSync(`${HUGEPAGES_2M}/${f}`, 'utf8').trim());
  const need = Math.ceil(bytes / HUGE_PAGE);
  const free = read('free_hugepages');
  if (free < need) writeFileSync(`${HUGEPAGES_2M}/nr_hugepages`, `${read('nr_hugepages') + need - free}\n`);
}

/** [from, to) minus the undefined ranges, as a list of pieces. */
export function definedPieces(from: number, to: number, undefinedRanges: readonly [number, number][]): [number, number][] {
  let pieces: [number, number][] = [[from, to]];
  for (const [u0, u1] of undefinedRanges) {
    pieces = pieces.flatMap(([a, b]): [number, number][] => {
      if (u1 <= a || u0 >= b) return [[a, b]];
      const out: [number, number][] = [];
      if (u0 > a) out.push([a, u0]);
      if (u1 < b) out.push([u1, b]);
      return out;
    });
  }
  return pieces;
}

function isErrno(e: unknown): e is Error & { code: string; syscall: string } {
  return e instanceof Error && typeof (e as { syscall?: unknown }).syscall === 'string' && typeof (e as { code?: unknown }).code === 'string';
}

/** What a fault phase asks of its own operations only: RWF_NOWAIT, a registration's RLIMIT_MEMLOCK. */
interface FaultOptions {
  nowait?: boolean;
  memlockBytes?: number;
}

class Workload {
  private readonly addon: PinlabAddon;
  private readonly buffers: AlignedBuffer[] = [];
  private readonly fds: number[] = [];
  private loopDevice: string | undefined;
  private directFd = -1;
  private bufferedFd = -1;
  private device = '';
  private isBlock = false;
  private capacity = 0;
  private offsetAlign = 512;
  private nvme: { nsid: number; lbaSize: number } | undefined;
  private readonly seed = randomInt(1, 2 ** 32 - 1);
  private readonly sharedDir: string;

  // what WorkloadIO reports: engine operations only, never the buffered helper's
  private ops = 0;
  private bytes = 0;
  private userPageOps = 0;
  private fixedPins = 0;
  private readonly latencies: number[] = [];
  /**
   * File ranges a failed or short fault-phase write left undefined: fs/direct-io.c zero-fills the
   * blocks it had already mapped when the user buffer faults ("to avoid leaking stale data"),
   * so after an EFAULT write those bytes are legitimately neither old nor new data.
   */
  private readonly undefinedRanges: [number, number][] = [];
  private engineNs = 0;
  /** thp buffers: huge-page-backed bytes of the least backed buffer (smaps.ts) */
  private hugeBytes: number | undefined;
  private readonly errors = new Map<string, { code: string; syscall: string; count: number }>();

  constructor(
    private readonly spec: WorkloadSpec,
    private readonly env: TargetEnv,
  ) {
    this.addon = loadAddon();
    this.sharedDir = sharedFileDir(env.tmpDir);
  }

  async run(): Promise<Omit<WorkloadIO, 'durationMs'>> {
    this.validateShape();
    this.open();
    this.validateFit();
    if (this.spec.engine === 'fork-race') return this.forkRace();

    const { size, blockSize } = this.spec;
    const nseg = SEGMENTED.has(this.spec.engine) ? this.spec.segments : 1;

    const source = this.buffer(size);
    const writeOps = this.rangeOps(size, blockSize, nseg, source);
    for (const op of writeOps) this.fillOp(op);
    const wrote = await this.exec('write', writeOps, false);
    const written = writeOps.map((_, i) => Math.max(0, wrote!.results[i]!));
    source.free();

    await this.fault();

    const sink = this.buffer(size);
    const readOps = this.rangeOps(size, blockSize, nseg, sink);
    const read = await this.exec('read', readOps, false);
    const verify = this.verify(readOps, read!, written);
    sink.free();
    return this.result(verify);
  }

  /** Releases in dependency order; returns the first failure instead of throwing. */
  release(): unknown {
    let first: unknown;
    const attempt = (fn: () => void): void => {
      try {
        fn();
      } catch (e) {
        first ??= e;
      }
    };
    for (const b of this.buffers) if (!b.freed) attempt(() => b.free());
    for (const fd of this.fds) attempt(() => closeSync(fd));
    if (this.loopDevice) attempt(() => this.addon.loopDetach(this.loopDevice!));
    return first;
  }

  private fail(message: string): never {
    throw new RangeError(`workload ${this.spec.name}: ${message}`);
  }

  private validateShape(): void {
    const { size, blockSize, segments, queueDepth, engine } = this.spec;
    for (const [k, v] of Object.entries({ size, blockSize, segments, queueDepth }))
      if (!Number.isSafeInteger(v) || v < 1) this.fail(`${k} must be a positive integer, got ${v}`);
    if (engine === 'fork-race' && blockSize % PAGE !== 0) this.fail(`fork-race reads whole pages: blockSize ${blockSize} is no multiple of ${PAGE}`);
    if (engine === 'fork-race' && size < blockSize) this.fail(`fork-race reads blockSize ${blockSize} bytes from a range of size ${size}`);
    const target = targetRecord(this.spec.target);
    const takes = enginesOf(target);
    if (takes === 'block' && PASSTHROUGH_ENGINES.includes(engine)) {
      this.fail(`the ${engine} engine needs a ${engine === 'passthru' ? 'nvme-passthru' : 'sg-io'} target; ${target.name} (${target.kind}) takes the block engines`);
    }
    if (takes !== 'block' && !takes.includes(engine)) this.fail(`target ${target.name} (${target.kind}) takes ${takes.join(', ')}, not ${engine}`);
  }

  private open(): void {
    const { spec, env } = this;
    let path = env.path;
    if (targetRecord(spec.target).kind === 'loop') {
      this.ensureFile(path);
      const attached = this.addon.loopAttach(path, { directIO: true, ...(this.env.loopBlockSize ? { blockSize: this.env.loopBlockSize } : {}) });
      this.loopDevice = attached.device;
      path = attached.device;
    }
    const exists = (() => {
      try {
        return statSync(path);
      } catch {
        return undefined;
      }
    })();
    this.isBlock = exists?.isBlockDevice() ?? false;
    if (!this.isBlock) this.ensureFile(path);
    this.device = path;
    this.directFd = this.openFd(path, constants.O_RDWR | constants.O_DIRECT);
    this.capacity = this.addon.deviceSize(this.directFd);
    this.offsetAlign = this.addon.dioAlignment(path).offsetAlign;
    if (spec.engine === 'passthru') this.nvme = this.addon.nvmeNamespace(this.directFd);
    if (helperDirection(spec.engine)) this.bufferedFd = this.openFd(path, constants.O_RDWR);
  }

  /** Files are created at the workload's size: vfat must not fall back to buffered writes
   * past its allocated size, and a loop device takes its size from the file. */
  private ensureFile(path: string): void {
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    try {
      if (fstatSync(fd).size < this.spec.size) ftruncateSync(fd, this.spec.size);
    } finally {
      closeSync(fd);
    }
  }

  private openFd(path: string, flags: number): number {
    const fd = openSync(path, flags);
    this.fds.push(fd);
    return fd;
  }

  private validateFit(): void {
    const { size, blockSize, engine } = this.spec;
    const limit = Math.min(this.capacity, this.env.sizeLimit ?? Infinity);
    if (size > limit) this.fail(`size ${size} does not fit ${this.device} (${limit} bytes usable)`);
    const unit = this.nvme?.lbaSize ?? this.offsetAlign;
    const nseg = SEGMENTED.has(engine) ? this.spec.segments : 1;
    if (blockSize % (unit * nseg) !== 0)
      this.fail(`blockSize ${blockSize} must split into ${nseg} segment(s) of whole ${unit}-byte units on ${this.device}`);
    if (size % unit !== 0) this.fail(`size ${size} is no multiple of ${unit} on ${this.device}`);
  }

  private buffer(size: number, extra: { holePage?: number; readOnly?: boolean } = {}): AlignedBuffer {
    if (this.spec.buffer === 'hugetlb') reserveHugePages(size);
    const b = new this.addon.AlignedBuffer(size, { kind: bufferBacking(this.spec.buffer).allocation, dir: this.sharedDir, ...extra });
    this.buffers.push(b);
    if (bufferBacking(this.spec.buffer).thp) {
      // the smallest backing over the workload's buffers: one without a huge page proves nothing
      const huge = hugePageBytes(readSmaps(), b.address, b.size);
      this.hugeBytes = this.hugeBytes === undefined ? huge : Math.min(this.hugeBytes, huge);
    }
    return b;
  }

  private rangeOps(size: number, blockSize: number, nseg: number, buffer: AlignedBuffer): IoOp[] {
    const ops: IoOp[] = [];
    for (let pos = 0; pos < size; pos += blockSize) ops.push(opAt(pos, Math.min(blockSize, size - pos), nseg, buffer, pos, this.spec.segmentOrder));
    return ops;
  }

  /** Stamps each segment with the pattern of the file bytes it carries (skipping a hole). */
  private fillOp(op: IoOp): void {
    let pos = op.position;
    for (const s of op.segments) {
      const b = s.buffer;
      if (b.holePage < 0) {
        b.fill(this.seed, pos, s.offset, s.length);
      } else {
        const hs = b.holePage * PAGE;
        const he = hs + PAGE;
        const end = s.offset + s.length;
        if (s.offset < hs) b.fill(this.seed, pos, s.offset, Math.min(end, hs) - s.offset);
        if (end > he) {
          const from = Math.max(s.offset, he);
          b.fill(this.seed, pos + (from - s.offset), from, end - from);
        }
      }
      pos += s.length;
    }
  }

  private recordError(code: string, syscall: string): void {
    const key = `${code}\0${syscall}`;
    const e = this.errors.get(key);
    if (e) e.count++;
    else this.errors.set(key, { code, syscall, count: 1 });
  }

  /**
   * Runs ops with the engine (or the buffered helper for the engine's other direction) and
   * accounts for them. In the fault phase an errno rejection of the whole batch (e.g.
   * io_uring_register on a buffer with a hole) is the outcome and is recorded; otherwise it
   * fails the workload.
   */
  private async exec(direction: Direction, ops: IoOp[], faultPhase: boolean, faultOpts: FaultOptions = {}): Promise<BatchResult | undefined> {
    const helper = helperDirection(this.spec.engine) === direction;
    let result: BatchResult;
    let pipePages: number | undefined;
    try {
      if (helper) {
        result = await this.addon.syncBatch(this.bufferedFd, direction, ops);
        if (direction === 'write') fsyncSync(this.bufferedFd);
      } else {
        if (bufferBacking(this.spec.buffer).cowShared) this.addon.shareCopyOnWrite();
        const r = await this.engineBatch(direction, ops, faultOpts);
        result = r.result;
        pipePages = r.pipePages;
      }
    } catch (e) {
      if (faultPhase && isErrno(e)) {
        this.recordError(e.code, e.syscall);
        return undefined;
      }
      throw e;
    }
    for (const f of result.failures) this.recordError(f.code, f.syscall);
    if (helper) return result;
    this.ops += ops.length;
    this.engineNs += result.elapsedNs;
    result.latencyNs.forEach((ns) => this.latencies.push(ns));
    // a write into a hole may complete as buffered I/O (iomap's fallback pins nothing), so the
    // hole-write fault's pages count against balance only
    const countPages = pipePages === undefined && !(faultPhase && this.spec.fault?.kind === 'hole-write');
    ops.forEach((op, i) => {
      const r = result.results[i]!;
      if (r <= 0) return;
      this.bytes += r;
      if (countPages) this.userPageOps += opPages(op, r);
    });
    // splice-read: the Direct I/O fills pipe pages, counted by the addon per splice call
    if (pipePages !== undefined) this.userPageOps += pipePages;
    return result;
  }

  private async engineBatch(direction: Direction, ops: IoOp[], faultOpts: FaultOptions): Promise<{ result: BatchResult; pipePages?: number }> {
    const { addon, directFd: fd, spec } = this;
    const queueDepth = spec.queueDepth;
    switch (spec.engine) {
      case 'psync':
      case 'psyncv':
        return { result: await addon.syncBatch(fd, direction, ops, { vectored: spec.engine === 'psyncv', ...(faultOpts.nowait ? { nowait: true } : {}) }) };
      case 'libaio':
        return { result: await addon.aioBatch(fd, direction, ops, { queueDepth }) };
      case 'uring': {
        const r = await addon.uringBatch(fd, direction, ops, { queueDepth, vectored: true, ...(spec.ringMemory === 'user' ? { userRing: true } : {}) });
        // the ring's own pages, pinned once for the ring's life
        this.userPageOps += r.ringPinnedPages ?? 0;
        return { result: r };
      }
      case 'uring-fixed': {
        const memlock = faultOpts.memlockBytes;
        const r = await addon.uringBatch(fd, direction, ops, { queueDepth, fixed: true, ...(memlock ? { memlockBytes: memlock } : {}) });
        this.fixedPins += r.registeredPages;
        return { result: r };
      }
      case 'splice-read': {
        const r = await addon.spliceReadBatch(fd, ops);
        return { result: r, pipePages: r.pipePages };
      }
      case 'vmsplice-write':
        return { result: await addon.vmspliceWriteBatch(fd, ops) };
      case 'passthru':
        return { result: await addon.passthruBatch(fd, direction, ops, this.nvme!) };
      case 'sg-io':
        return { result: await addon.sgIoBatch(fd, direction, ops, { lbaSize: this.offsetAlign }) };
      case 'fork-race':
        throw new Error('fork-race has no batch engine');
    }
  }

  /** The engine's own directions, for fault operations. */
  private engineDirections(): Direction[] {
    const helper = helperDirection(this.spec.engine);
    return (['write', 'read'] as Direction[]).filter((d) => d !== helper);
  }

  private async fault(): Promise<void> {
    const fault = this.spec.fault;
    if (!fault) return;
    const { blockSize } = this.spec;
    const nseg = SEGMENTED.has(this.spec.engine) ? this.spec.segments : 1;
    const dirs = this.engineDirections();
    const run = async (direction: Direction, op: IoOp, faultOpts: FaultOptions = {}): Promise<void> => {
      if (!dirs.includes(direction)) return;
      if (direction === 'write') this.fillOp(op);
      const r = await this.exec(direction, [op], true, faultOpts);
      const length = op.segments.reduce((n, seg) => n + seg.length, 0);
      const done = r ? Math.max(0, r.results[0] ?? 0) : 0;
      // only a fault inside the user buffer leaves written-but-undefined blocks behind (a
      // rejected write, e.g. EINVAL, writes nothing)
      if (fault.kind === 'efault-midway' && direction === 'write' && done < length) this.undefinedRanges.push([op.position + done, op.position + length]);
    };
    switch (fault.kind) {
      case 'efault-midway': {
        // at least three pages, so the hole has mapped pages on both sides
        const len = Math.min(this.spec.size, Math.max(blockSize, 3 * PAGE));
        const pages = Math.ceil(len / PAGE);
        const b = this.buffer(len, { holePage: Math.floor(pages / 2) });
        for (const d of ['write', 'read'] as Direction[]) await run(d, opAt(0, len, nseg, b, 0));
        b.free();
        return;
      }
      case 'readonly-dest': {
        const b = this.buffer(blockSize, { readOnly: true });
        await run('read', opAt(0, blockSize, nseg, b, 0));
        b.free();
        return;
      }
      case 'misaligned': {
        // one byte off (default): below any DIO alignment (offset, length or DMA/memory); 512
        // bytes off: aligned for a 512-byte-block device, not for a 4 KiB one
        const by = fault.by ?? 1;
        const b = this.buffer(blockSize + PAGE);
        const position = fault.what === 'offset' ? by : 0;
        const length = fault.what === 'length' ? blockSize - by : blockSize;
        const bufOffset = fault.what === 'address' ? by : 0;
        for (const d of ['write', 'read'] as Direction[]) await run(d, opAt(position, length, nseg, b, bufOffset));
        b.free();
        return;
      }
      case 'past-eod': {
        const cap = this.capacity;
        const unit = this.nvme?.lbaSize ?? this.offsetAlign;
        const straddle = Math.max(0, Math.floor((cap - blockSize / 2) / unit) * unit);
        const b = this.buffer(blockSize);
        await run('read', opAt(straddle, blockSize, nseg, b, 0));
        await run('read', opAt(cap, blockSize, nseg, b, 0));
        // writing at the end of a file just extends it; only a device has an end to write past
        if (this.isBlock) await run('write', opAt(cap, blockSize, nseg, b, 0));
        b.free();
        return;
      }
      case 'over-limit': {
        // one command above the device's transfer limit: refused after the kernel mapped (and
        // pinned) as much of the buffer as fits one bio; every page must be released
        const b = this.buffer(fault.bytes);
        for (const d of ['write', 'read'] as Direction[]) await run(d, opAt(0, fault.bytes, 1, b, 0));
        b.free();
        return;
      }
      case 'nowait': {
        if (this.spec.engine !== 'psync' && this.spec.engine !== 'psyncv') this.fail(`the nowait fault needs psync or psyncv, not ${this.spec.engine}`);
        const b = this.buffer(fault.bytes);
        for (const d of ['write', 'read'] as Direction[]) await run(d, opAt(0, fault.bytes, nseg, b, 0), { nowait: true });
        b.free();
        return;
      }
      case 'hole-write': {
        // grow the file by a hole and write into its middle; the tail goes again afterwards
        if (this.isBlock) this.fail('the hole-write fault needs a file target');
        const end = fstatSync(this.directFd).size;
        const b = this.buffer(blockSize);
        ftruncateSync(this.directFd, end + 3 * blockSize);
        try {
          await run('write', opAt(end + blockSize, blockSize, nseg, b, 0));
        } finally {
          ftruncateSync(this.directFd, end);
        }
        b.free();
        return;
      }
      case 'memlock': {
        if (this.spec.engine !== 'uring-fixed') this.fail(`the memlock fault needs uring-fixed, not ${this.spec.engine}`);
        // a limit of one page: the registration's first accounting already exceeds it
        const b = this.buffer(blockSize);
        for (const d of ['write', 'read'] as Direction[]) await run(d, opAt(0, blockSize, 1, b, 0), { memlockBytes: PAGE });
        b.free();
        return;
      }
      case 'longterm-file': {
        if (this.spec.engine !== 'uring-fixed' || this.isBlock) this.fail('the longterm-file fault needs uring-fixed on a file target');
        // the buffer is a shared mapping of a file beside the target, on the same file system;
        // the write phase's fill faults its pages in, so gup-fast finds them mapped
        const b = new this.addon.AlignedBuffer(blockSize, { kind: 'shared-file', dir: dirname(this.device) });
        this.buffers.push(b);
        for (const d of ['write', 'read'] as Direction[]) await run(d, opAt(0, blockSize, 1, b, 0));
        b.free();
        return;
      }
      case 'fail-make-request':
      case 'blkdebug-eio':
        return; // injected below the engine by the runner/VM; the normal phases meet it
    }
  }

  /** Checks each read op over the bytes both its write and its read moved. */
  private verify(ops: IoOp[], read: BatchResult, written: number[]): WorkloadIO['verify'] {
    let checked = 0;
    let firstBad: number | undefined;
    let unchecked = 0;
    ops.forEach((op, i) => {
      const bytes = Math.min(Math.max(0, read.results[i]!), written[i]!);
      const length = op.segments.reduce((n, s) => n + s.length, 0);
      if (bytes < length) unchecked += length - bytes;
      let left = bytes;
      let pos = op.position;
      for (const s of op.segments) {
        if (left <= 0) break;
        const take = Math.min(left, s.length);
        let defined = 0;
        for (const [from, to] of definedPieces(pos, pos + take, this.undefinedRanges)) {
          const bad = s.buffer.verify(this.seed, from, s.offset + (from - pos), to - from);
          if (bad >= 0 && (firstBad === undefined || bad < firstBad)) firstBad = bad;
          defined += to - from;
        }
        checked += defined;
        unchecked += take - defined;
        left -= take;
        pos += s.length;
      }
    });
    const out: WorkloadIO['verify'] = { ok: firstBad === undefined, checkedBytes: checked };
    if (firstBad !== undefined) out.firstBadOffset = firstBad;
    const notes: string[] = [];
    if (firstBad !== undefined) notes.push(`data at byte ${firstBad} is not the pattern (seed ${this.seed})`);
    if (unchecked > 0) notes.push(`${unchecked} bytes not checked: their write or read failed or was short`);
    if (notes.length > 0) out.detail = notes.join('; ');
    return out;
  }

  private result(verify: WorkloadIO['verify']): Omit<WorkloadIO, 'durationMs'> {
    const io: Omit<WorkloadIO, 'durationMs'> = {
      bytes: this.bytes,
      ops: this.ops,
      userPageOps: this.userPageOps,
      fixedPins: this.fixedPins,
      verify,
      errors: [...this.errors.values()],
    };
    const latency = latencyOf(this.latencies);
    if (latency) io.latency = latency;
    if (this.hugeBytes !== undefined) io.hugePageBytes = this.hugeBytes;
    if (this.engineNs > 0) io.iops = Math.round((this.ops / this.engineNs) * 1e9);
    return io;
  }

  private async forkRace(): Promise<Omit<WorkloadIO, 'durationMs'>> {
    const { size, blockSize } = this.spec;
    const source = this.buffer(size);
    const ops = this.rangeOps(size, blockSize, 1, source);
    for (const op of ops) this.fillOp(op);
    await this.exec('write', ops, false);
    source.free();

    const race = await this.addon.forkRace(this.directFd, {
      length: blockSize,
      span: Math.floor(size / blockSize) * blockSize,
      seed: this.seed,
      attempts: this.spec.repeat ?? 20,
      // fork once the read has looked its pages up (well under a millisecond for 256 pages) and
      // while the throttled disk (FORK_RACE_THROTTLE) is still filling them
      delayUs: FORK_DELAY_US,
    });
    if (race.readErrors > 0) this.errors.set('race', { code: race.readErrorCode ?? 'EIO', syscall: 'pread', count: race.readErrors });
    const good = race.attempts - race.readErrors;
    this.ops = race.attempts;
    this.bytes = race.bytesRead;
    this.userPageOps = good * (blockSize / PAGE);
    this.engineNs = race.elapsedNs;

    // the device itself must hold the pattern, or lost data would mean nothing
    const check = this.buffer(size);
    const readOps = this.rangeOps(size, blockSize, 1, check);
    const read = await this.addon.syncBatch(this.bufferedFd, 'read', readOps);
    for (const f of read.failures) this.recordError(f.code, f.syscall);
    const verify = this.verify(
      readOps,
      read,
      readOps.map((op) => op.segments[0]!.length),
    );
    check.free();
    const io = this.result(verify);
    io.fork = { attempts: race.attempts, hitWindow: race.hitWindow, lostData: race.lostData };
    return io;
  }
}

/**
 * Performs one workload against env.path (see the header). Rejects for a workload that cannot
 * run as specified (RangeError) or an I/O setup failure (Node-style errno Error); I/O errors of
 * single operations are results, counted in `errors`.
 */
export async function runWorkloadIO(spec: WorkloadSpec, env: TargetEnv): Promise<WorkloadIO> {
  const started = performance.now();
  const workload = new Workload(spec, env);
  let io: Omit<WorkloadIO, 'durationMs'> | undefined;
  let failure: unknown;
  try {
    io = await workload.run();
  } catch (e) {
    failure = e;
  }
  const releaseFailure = workload.release();
  if (failure !== undefined) throw failure;
  if (releaseFailure !== undefined) throw releaseFailure;
  return { ...io!, durationMs: Math.round((performance.now() - started) * 10) / 10 };
}
