// Typings and loader for the native addon (native/, built by `node-gyp rebuild` into
// build/Release/pinlab.node). See native/README.md for the semantics of each function.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type AlignedBufferKind = 'anon' | 'private-anon' | 'shared-file' | 'thp' | 'hugetlb' | 'hugetlb-1g' | 'secretmem';

export interface AlignedBufferOptions {
  kind?: AlignedBufferKind;
  /** power of two; the mapping is at least page aligned (2 MiB for thp) */
  alignment?: number;
  /** make this page (index) inaccessible (PROT_NONE) after allocation: I/O over it faults (EFAULT) */
  holePage?: number;
  /** mprotect(PROT_READ) after allocation */
  readOnly?: boolean;
  /** directory for the shared-file kind's backing file (default /dev/shm) */
  dir?: string;
  /** shared-file: map this existing file or block device (its page cache) instead, at fileOffset */
  file?: string;
  fileOffset?: number;
  /** hugetlb only: map without reserving pool pages (MAP_NORESERVE); a fault may find none */
  noReserve?: boolean;
  /** shared-file: leave the mapping untouched (not faulted in): its first I/O faults it in */
  noPrefault?: boolean;
  /** anon, private-anon: MADV_NOHUGEPAGE (small pages, no huge zero page) */
  noHugePage?: boolean;
}

export interface AlignedBuffer {
  readonly size: number;
  /** user virtual address of byte 0 */
  readonly address: bigint;
  readonly kind: AlignedBufferKind;
  /** -1 when none */
  readonly holePage: number;
  readonly readOnly: boolean;
  readonly freed: boolean;
  /** operations in flight that hold this buffer */
  readonly busy: number;
  /** stamp the pattern for file positions [position, position+length) into [offset, offset+length) */
  fill(seed: number, position: number, offset?: number, length?: number): void;
  /** file position of the first byte differing from the pattern, or -1 */
  verify(seed: number, position: number, offset?: number, length?: number): number;
  read(offset?: number, length?: number): Buffer;
  write(offset: number, data: Uint8Array): void;
  setReadOnly(readOnly: boolean): void;
  /** unmap now; throws EBUSY while operations hold it */
  free(): void;
}

export interface AlignedBufferConstructor {
  new (size: number, options?: AlignedBufferOptions): AlignedBuffer;
}

export type Direction = 'read' | 'write';

export interface IoSegment {
  buffer: AlignedBuffer;
  offset: number;
  length: number;
}

export interface IoOp {
  /** file/device byte offset */
  position: number;
  segments: IoSegment[];
}

/**
 * Many single-segment ops of one length into one buffer, as typed arrays: op i moves `length`
 * bytes between buffer[offsets[i]] (0 without offsets) and file position positions[i]. Accepted
 * wherever IoOp[] is; parsed with a constant number of calls into JavaScript, so building and
 * handing over a batch costs little per op (what the bench's addon side uses).
 */
export interface UniformOps {
  buffer: AlignedBuffer;
  length: number;
  positions: Float64Array;
  offsets?: Float64Array;
}

export type IoOps = IoOp[] | UniformOps;

export interface OpFailure {
  index: number;
  errno: number; // negative, as Node's err.errno
  code: string;
  syscall: string;
}

export interface BatchResult {
  /** per op: bytes transferred, or -errno */
  results: Float64Array;
  /** per op: submission to completion */
  latencyNs: Float64Array;
  elapsedNs: number;
  failures: OpFailure[];
}

export interface UringResult extends BatchResult {
  /** pages pinned by IORING_REGISTER_BUFFERS (0 unless fixed) */
  registeredPages: number;
  /** pages of user ring memory the kernel pinned (userRing on a kernel with IORING_SETUP_NO_MMAP; else 0) */
  ringPinnedPages: number;
}

export interface SpliceOptions {
  /** the pipe's size in pages (default: room for a whole op) */
  pipePages?: number;
}

export interface SpliceResult extends BatchResult {
  pipeSize: number;
  /** pipe pages filled by splice(file -> pipe) (reads only) */
  pipePages: number;
}

export interface PassthruResult extends BatchResult {
  lastNvmeStatus: number;
}

export interface SgIoResult extends BatchResult {
  /** (host_status << 16) | (driver_status << 8) | SCSI status of the last refused command, 0 if none */
  lastScsiStatus: number;
}

export interface ForkRaceOptions {
  length: number;
  position?: number;
  span?: number;
  seed: number;
  attempts: number;
  delayUs?: number;
  /** the attempts in a helper process of their own (a new mm that has pinned nothing yet) */
  freshProcess?: boolean;
  /** the pin is gup_test's long-term pin at this debugfs path (see WorkloadSpec.forkPin), not a read */
  gupTestPath?: string;
  /** the pin is an io_uring buffer registration held across the fork (see WorkloadSpec.forkPin) */
  uringRegister?: boolean;
}

export interface ForkRaceResult {
  attempts: number;
  hitWindow: number;
  lostData: number;
  lostPages: number;
  readErrors: number;
  readErrorCode?: string;
  bytesRead: number;
  elapsedNs: number;
  firstBadOffset?: number;
  /** gupTestPath: the kernel's gup_test cannot take the long-term pin (no PIN_LONGTERM_TEST_START) */
  unsupported?: string;
}

export interface DioAlignment {
  memAlign: number;
  offsetAlign: number;
  source: 'statx' | 'BLKSSZGET' | 'sysfs' | 'default';
}

export interface PinlabAddon {
  AlignedBuffer: AlignedBufferConstructor;
  dioAlignment(path: string): DioAlignment;
  deviceSize(fd: number): number;
  logicalBlockSize(fd: number): number;
  pread(fd: number, buffer: AlignedBuffer, offset: number, length: number, position: number): Promise<number>;
  pwrite(fd: number, buffer: AlignedBuffer, offset: number, length: number, position: number): Promise<number>;
  preadv(fd: number, segments: IoSegment[], position: number): Promise<number>;
  pwritev(fd: number, segments: IoSegment[], position: number): Promise<number>;
  /** nowait: preadv2/pwritev2 with RWF_NOWAIT */
  syncBatch(fd: number, direction: Direction, ops: IoOps, options?: { vectored?: boolean; nowait?: boolean }): Promise<BatchResult>;
  aioBatch(fd: number, direction: Direction, ops: IoOps, options?: { queueDepth?: number }): Promise<BatchResult>;
  uringBatch(
    fd: number,
    direction: Direction,
    ops: IoOps,
    /** memlockBytes: set up and register without CAP_IPC_LOCK under this RLIMIT_MEMLOCK */
    options?: { queueDepth?: number; fixed?: boolean; vectored?: boolean; memlockBytes?: number; userRing?: boolean },
  ): Promise<UringResult>;
  spliceReadBatch(fd: number, ops: IoOps, options?: SpliceOptions): Promise<SpliceResult>;
  vmspliceWriteBatch(fd: number, ops: IoOps, options?: SpliceOptions): Promise<SpliceResult>;
  loopAttach(backingPath: string, options?: { directIO?: boolean; blockSize?: number }): { device: string; index: number; directIO: boolean };
  loopDetach(device: string): void;
  nvmeNamespace(fd: number): { nsid: number; lbaSize: number };
  passthruBatch(fd: number, direction: Direction, ops: IoOps, options: { nsid: number; lbaSize: number }): Promise<PassthruResult>;
  /** SG_IO READ(16)/WRITE(16) with the user buffer (sd block device or /dev/sgN) */
  sgIoBatch(fd: number, direction: Direction, ops: IoOps, options: { lbaSize: number }): Promise<SgIoResult>;
  forkRace(fd: number, options: ForkRaceOptions): Promise<ForkRaceResult>;
  /** process_vm_readv (write ops) / process_vm_writev (read ops) of the ops' buffers on this process, the file side buffered on `fd` */
  processVmBatch(fd: number, direction: Direction, ops: IoOps): Promise<BatchResult>;
  /**
   * each op through a dma-buf of /dev/udmabuf over a fresh memfd (see native/udmabuf.cc), the file
   * side buffered on `fd`; holdPages: a pipe holds each op's memfd pages (vmsplice) while its
   * dma-buf is created
   */
  udmabufBatch(fd: number, direction: Direction, ops: IoOps, options?: { holdPages?: boolean; hugetlb?: boolean }): Promise<BatchResult>;
  /** fork a child that exits at once: the process's private pages become copy-on-write shared */
  shareCopyOnWrite(): void;
  /** this CPU's TSC rate in kHz against CLOCK_MONOTONIC_RAW (x86-64; undefined when unsure) */
  tscKhz(sampleMs?: number): number | undefined;
  /** one debugfs gup_test ioctl with an encoded struct gup_test (the size the request encodes, updated in place) */
  gupTest(path: string, request: number, struct: Buffer): void;
  /** register the buffer with a fresh io_uring and unregister it: pins and unpins each page; returns pages */
  uringRegisterBuffer(buffer: AlignedBuffer): number;
  /** vmsplice the buffer's pages into a new pipe and leave them there: [readFd, writeFd] (close both) */
  vmspliceHold(buffer: AlignedBuffer): [number, number];
  /** process_vm_readv of this process at a raw address (the vsyscall gate page): the bytes copied */
  processVmReadAddress(address: bigint, length: number): Buffer;
  /** move_pages(2) status query of the buffer's pages: each one's node, or -errno */
  pageStatus(buffer: AlignedBuffer, offset?: number, length?: number): number[];
  /** frames of anonymous buffers freed since clearFrames() still anonymous, mapped nowhere and not free (native/freed_frames.cc) */
  heldFrames(): { recorded: number; held: { pfn: number; flags: bigint }[] };
  /** forget the recorded frames; returns how many there were */
  clearFrames(): number;
  /**
   * a thread that forks (and reaps the child) again and again, racing the process's own I/O; with
   * `protect`, one that flips those buffers between read-only and read-write instead
   */
  forkStormStart(options?: { protect?: AlignedBuffer[] }): void;
  /** ends the storm: the forks (or flips) it made */
  forkStormStop(): number;
  /** finit_module(2) of the file opened O_DIRECT: the kernel reads it into its own memory (ITER_KVEC); throws the errno */
  kernelReadFile(path: string): void;
}

/** Errors the addon throws for errno failures look like Node's own. */
export interface ErrnoError extends Error {
  errno: number;
  code: string;
  syscall: string;
  path?: string;
}

const ADDON_FILE = join('build', 'Release', 'pinlab.node');

/** PINLAB_ADDON, else build/Release/pinlab.node in the nearest directory above this module. */
export function addonPath(): string {
  const fromEnv = process.env['PINLAB_ADDON'];
  if (fromEnv) return fromEnv;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, ADDON_FILE);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error(`native addon not found: no ${ADDON_FILE} above ${dirname(fileURLToPath(import.meta.url))} (run \`npx node-gyp rebuild\`, or set PINLAB_ADDON)`);
    dir = up;
  }
}

let cached: PinlabAddon | undefined;

export function loadAddon(): PinlabAddon {
  cached ??= createRequire(import.meta.url)(addonPath()) as PinlabAddon;
  return cached;
}
