// One workload's resources and its accounted I/O: the target it opened (attaching a loop device
// for a loop target), its buffers and descriptors, and the operations it runs through its engine
// (or the buffered helper), with what each moved and the user pages it spanned counted for
// WorkloadIO. release() frees it all. engines.ts runs the phases over a Workload; faults.ts and
// fork-race.ts add operations of their own.
import { randomInt } from 'node:crypto';
import { closeSync, constants, fsyncSync, ftruncateSync, fstatSync, openSync, readFileSync, statSync, statfsSync, truncateSync, writeFileSync } from 'node:fs';

import { loadAddon, type AlignedBuffer, type AlignedBufferOptions, type BatchResult, type Direction, type IoOp, type PinlabAddon } from './addon.js';
import type { WorkloadSpec } from './types.js';
import { enginesOf, PASSTHROUGH_ENGINES, targetRecord, ZONE_MIB } from './targets.js';
import { bufferBacking } from './buffers.js';
import { hugePageBytes, readSmaps } from './smaps.js';
import { engineBatch, helperDirection, needsBufferedFd, SEGMENTED, type EngineTarget, type FaultOptions } from './engine-calls.js';
import { Tally } from './tally.js';
import { opAt, opPages, opSpan, PAGE } from './ops.js';

export interface TargetEnv {
  /** block device or file; for target 'loop' the backing file of the loop device */
  path: string;
  /** bytes usable on the target (e.g. a raw device's size); the workload must fit */
  sizeLimit?: number;
  /** scratch directory (shared-file buffers live here) */
  tmpDir: string;
  /** loop targets: the loop device's logical block size */
  loopBlockSize?: number;
  /** switch on the fault the runner prepared but left off (metadata-eio) */
  armFault?: () => void;
}

/** The target as Workload.open() left it. */
export interface OpenTarget extends EngineTarget {
  /** what was opened: the block device (a loop target's loop device) or the file */
  device: string;
  isBlock: boolean;
  /** the buffered descriptor (needsBufferedFd: the helper's direction, the file side of process-vm and udmabuf), else -1 */
  bufferedFd: number;
  /** bytes on the device, or in the file */
  capacity: number;
  /** what offsets and lengths must be whole multiples of: the NVMe LBA, else offsetAlign */
  unit: number;
}

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

export const HUGE_PAGE = 2 * 1024 * 1024;
const HUGEPAGES_2M = '/sys/kernel/mm/hugepages/hugepages-2048kB';

const HUGEPAGES_1G = '/sys/kernel/mm/hugepages/hugepages-1048576kB';

/** A 1 GiB page cannot be allocated in a small guest later: the VM reserves it at boot (vm/session.ts giganticPages). */
function checkGiganticPage(): void {
  const free = Number(readFileSync(`${HUGEPAGES_1G}/free_hugepages`, 'utf8').trim());
  if (free < 1) throw new RangeError('no free 1 GiB hugetlb page (the kernel was booted without hugepagesz=1G hugepages=1, or could not reserve it)');
}

const readPool = (f: string): number => Number(readFileSync(`${HUGEPAGES_2M}/${f}`, 'utf8').trim());

/** Grow the hugetlb pool (vm.nr_hugepages) so that `bytes` more of it are free. */
function reserveHugePages(bytes: number): void {
  const need = Math.ceil(bytes / HUGE_PAGE);
  const free = readPool('free_hugepages');
  if (free < need) writeFileSync(`${HUGEPAGES_2M}/nr_hugepages`, `${readPool('nr_hugepages') + need - free}\n`);
}

function isErrno(e: unknown): e is Error & { code: string; syscall: string } {
  return e instanceof Error && typeof (e as { syscall?: unknown }).syscall === 'string' && typeof (e as { code?: unknown }).code === 'string';
}

export class Workload {
  readonly addon: PinlabAddon;
  readonly seed = randomInt(1, 2 ** 32 - 1);
  readonly tally = new Tally();
  private readonly buffers: AlignedBuffer[] = [];
  private readonly fds: number[] = [];
  private loopDevice: string | undefined;
  private opened: OpenTarget | undefined;
  /** a tmpfs directory for shared-file buffers (shmem pages), or the run's tmp directory */
  readonly sharedDir: string;

  constructor(
    readonly spec: WorkloadSpec,
    private readonly env: TargetEnv,
  ) {
    this.addon = loadAddon();
    this.sharedDir = sharedFileDir(env.tmpDir);
  }

  /** Switches on the fault the runner prepared but left off; fails the workload when there is none. */
  armFault(): void {
    if (!this.env.armFault) this.fail(`${this.spec.fault?.kind ?? 'this'} fault needs the runner to prepare it (no arm)`);
    this.env.armFault!();
  }

  get target(): OpenTarget {
    if (!this.opened) throw new Error(`workload ${this.spec.name}: the target is not open yet`);
    return this.opened;
  }

  /** Segments per operation: spec.segments for the engines that split them, else 1. */
  get segmentsPerOp(): number {
    return SEGMENTED.has(this.spec.engine) ? this.spec.segments : 1;
  }

  /** Checks the spec's shape, opens the target and checks that the workload fits it. */
  open(): void {
    this.validateShape();
    this.openTarget();
    this.validateFit();
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

  fail(message: string): never {
    throw new RangeError(`workload ${this.spec.name}: ${message}`);
  }

  private validateShape(): void {
    const { size, blockSize, segments, queueDepth, engine } = this.spec;
    for (const [k, v] of Object.entries({ size, blockSize, segments, queueDepth }))
      if (!Number.isSafeInteger(v) || v < 1) this.fail(`${k} must be a positive integer, got ${v}`);
    if (engine === 'fork-race' && blockSize % PAGE !== 0) this.fail(`fork-race reads whole pages: blockSize ${blockSize} is no multiple of ${PAGE}`);
    if (engine === 'fork-race' && size < blockSize) this.fail(`fork-race reads blockSize ${blockSize} bytes from a range of size ${size}`);
    if (this.spec.pipePages !== undefined && engine !== 'vmsplice-write') this.fail(`pipePages sizes the vmsplice-write pipe; the ${engine} engine has none`);
    if (this.spec.freshProcess && engine !== 'fork-race') this.fail(`freshProcess is a fork-race option, not one of ${engine}`);
    // in the runner's own process MMF_HAS_PINNED was set long ago: the check would prove nothing
    if (this.spec.forkPin && !(engine === 'fork-race' && this.spec.freshProcess)) this.fail('forkPin is a fork-race option that needs freshProcess');
    const target = targetRecord(this.spec.target);
    const takes = enginesOf(target);
    if (takes === 'block' && PASSTHROUGH_ENGINES.includes(engine)) {
      this.fail(`the ${engine} engine needs a ${engine === 'passthru' ? 'nvme-passthru' : 'sg-io'} target; ${target.name} (${target.kind}) takes the block engines`);
    }
    if (takes !== 'block' && !takes.includes(engine)) this.fail(`target ${target.name} (${target.kind}) takes ${takes.join(', ')}, not ${engine}`);
  }

  private openTarget(): void {
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
    const isBlock = exists?.isBlockDevice() ?? false;
    const zoned = targetRecord(spec.target).kind === 'zone-file';
    // a zone's file exists already and only grows by appending: truncating it to 0 resets the
    // zone, and it holds up to the zone's size
    if (zoned) truncateSync(path, 0);
    else if (!isBlock) this.ensureFile(path);
    const directFd = this.openFd(path, constants.O_RDWR | constants.O_DIRECT);
    const capacity = zoned ? ZONE_MIB * 2 ** 20 : this.addon.deviceSize(directFd);
    const offsetAlign = this.addon.dioAlignment(path).offsetAlign;
    const nvme = spec.engine === 'passthru' ? this.addon.nvmeNamespace(directFd) : undefined;
    const bufferedFd = needsBufferedFd(spec.engine) ? this.openFd(path, constants.O_RDWR) : -1;
    this.opened = { device: path, isBlock, directFd, bufferedFd, capacity, offsetAlign, nvme, unit: nvme?.lbaSize ?? offsetAlign };
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
    const { size, blockSize } = this.spec;
    const { capacity, device, unit } = this.target;
    const limit = Math.min(capacity, this.env.sizeLimit ?? Infinity);
    if (size > limit) this.fail(`size ${size} does not fit ${device} (${limit} bytes usable)`);
    const nseg = this.segmentsPerOp;
    if (blockSize % (unit * nseg) !== 0) this.fail(`blockSize ${blockSize} must split into ${nseg} segment(s) of whole ${unit}-byte units on ${device}`);
    if (size % unit !== 0) this.fail(`size ${size} is no multiple of ${unit} on ${device}`);
  }

  /** A problem with the data a fault phase read back (judged as data-corruption), if any. */
  faultDataProblem: string | undefined;

  /** Records a fault phase's data problem; the read-back phase still runs. */
  dataProblem(message: string): void {
    this.faultDataProblem ??= message;
  }

  /**
   * Leaves exactly `pages` 2 MiB pages of the hugetlb pool to take (free and not reserved): the
   * pool grown if it has fewer, the rest reserved by a mapping that is never touched (a mapping
   * reserves its pages at mmap). Returns that mapping, to free once done (undefined: none needed).
   */
  hugePoolWithFree(pages: number): AlignedBuffer | undefined {
    const available = (): number => readPool('free_hugepages') - readPool('resv_hugepages');
    // free pages count the reserved ones too
    if (available() < pages) reserveHugePages((pages + readPool('resv_hugepages')) * HUGE_PAGE);
    const extra = available() - pages;
    if (extra < 0) this.fail(`the hugetlb pool could not grow to ${pages} free page(s)`);
    const hog = extra > 0 ? this.allocate(extra * HUGE_PAGE, { kind: 'hugetlb' }) : undefined;
    if (available() !== pages) this.fail(`the hugetlb pool has ${available()} pages to take, not ${pages}, after reserving ${extra}`);
    return hog;
  }

  /** A 2 MiB hugetlb buffer, the pool grown first where it has too few free pages. */
  hugetlbBuffer(size: number, extra: { holePage?: number; readOnly?: boolean } = {}): AlignedBuffer {
    reserveHugePages(size);
    return this.allocate(size, { kind: 'hugetlb', ...extra });
  }

  /** A buffer of the workload's kind (spec.buffer); a thp one's huge-page backing is recorded. */
  buffer(size: number, extra: { holePage?: number; readOnly?: boolean } = {}): AlignedBuffer {
    const backing = bufferBacking(this.spec.buffer);
    if (backing.allocation === 'hugetlb') return this.hugetlbBuffer(size, extra);
    if (backing.allocation === 'hugetlb-1g') checkGiganticPage();
    const b = this.allocate(size, { kind: backing.allocation, dir: this.sharedDir, ...extra });
    if (backing.thp) {
      // the smallest backing over the workload's buffers: one without a huge page proves nothing
      const huge = hugePageBytes(readSmaps(), b.address, b.size);
      this.tally.hugeBytes = this.tally.hugeBytes === undefined ? huge : Math.min(this.tally.hugeBytes, huge);
    }
    return b;
  }

  /** Any buffer, freed by release() if not before: buffer()'s, or one of another kind (longterm-file's). */
  allocate(size: number, options: AlignedBufferOptions): AlignedBuffer {
    const b = new this.addon.AlignedBuffer(size, options);
    this.buffers.push(b);
    return b;
  }

  /** The buffer bytes the workload's range takes in its segment layout (rangeOps' buffer). */
  get rangeBytes(): number {
    return opSpan(this.spec.size, this.spec.segmentOrder);
  }

  /** The workload's range (spec.size) as blockSize ops of `nseg` segments over `buffer` (of rangeBytes). */
  rangeOps(nseg: number, buffer: AlignedBuffer): IoOp[] {
    const { size, blockSize, segmentOrder } = this.spec;
    const ops: IoOp[] = [];
    for (let pos = 0; pos < size; pos += blockSize) ops.push(opAt(pos, Math.min(blockSize, size - pos), nseg, buffer, opSpan(pos, segmentOrder), segmentOrder));
    return ops;
  }

  /** Writes the pattern over the workload's range; returns the bytes each op wrote. */
  async writePattern(nseg: number): Promise<number[]> {
    const source = this.buffer(this.rangeBytes);
    const ops = this.rangeOps(nseg, source);
    for (const op of ops) this.fillOp(op);
    const wrote = await this.exec('write', ops, false);
    const written = ops.map((_, i) => Math.max(0, wrote!.results[i]!));
    source.free();
    return written;
  }

  /** Stamps each segment with the pattern of the file bytes it carries (skipping a hole). */
  fillOp(op: IoOp): void {
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

  /** The engine's own directions, for fault operations. */
  engineDirections(): Direction[] {
    const helper = helperDirection(this.spec.engine);
    return (['write', 'read'] as Direction[]).filter((d) => d !== helper);
  }

  /**
   * Runs ops with the engine (or the buffered helper for the engine's other direction) and
   * accounts for them. In the fault phase an errno rejection of the whole batch (e.g.
   * io_uring_register on a buffer with a hole) is the outcome and is recorded; otherwise it
   * fails the workload.
   */
  async exec(direction: Direction, ops: IoOp[], faultPhase: boolean, faultOpts: FaultOptions = {}): Promise<BatchResult | undefined> {
    const { tally } = this;
    const helper = helperDirection(this.spec.engine) === direction;
    let result: BatchResult;
    let pipePages: number | undefined;
    try {
      if (helper) {
        const { bufferedFd } = this.target;
        result = await this.addon.syncBatch(bufferedFd, direction, ops);
        if (direction === 'write') fsyncSync(bufferedFd);
      } else {
        if (bufferBacking(this.spec.buffer).cowShared) this.addon.shareCopyOnWrite();
        const r = await engineBatch(this.addon, this.spec, this.target, direction, ops, faultOpts);
        result = r.result;
        pipePages = r.pipePages;
        tally.userPageOps += r.ringPages ?? 0;
        tally.fixedPins += r.registeredPages ?? 0;
      }
    } catch (e) {
      if (faultPhase && isErrno(e)) {
        tally.recordError(e.code, e.syscall);
        return undefined;
      }
      throw e;
    }
    for (const f of result.failures) tally.recordError(f.code, f.syscall);
    if (helper) return result;
    tally.ops += ops.length;
    tally.engineNs += result.elapsedNs;
    result.latencyNs.forEach((ns) => tally.latencies.push(ns));
    // a write into a hole may complete as buffered I/O (iomap's fallback pins nothing), so the
    // hole-write fault's pages count against balance only
    const countPages = pipePages === undefined && !(faultPhase && this.spec.fault?.kind === 'hole-write');
    ops.forEach((op, i) => {
      const r = result.results[i]!;
      if (r <= 0) return;
      tally.bytes += r;
      if (countPages) tally.userPageOps += opPages(op, r);
    });
    // splice-read: the pipe pages the Direct I/O filled stand for the ops' own
    if (pipePages !== undefined) tally.userPageOps += pipePages;
    return result;
  }
}
