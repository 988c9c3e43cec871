// The contract between the workload catalogue (host), the guest runner (guest) and the verdict
// logic (host). Everything here is plain JSON so it crosses the ssh channel and is saved in the
// run directory unchanged; `pinlab parse` re-judges saved results with the same types.

/** Where the I/O goes: the name of a TargetRecord (workloads/targets.ts), e.g. "raw-virtio". */
export type Target = string;

/** Faults made with fail_make_request (debugfs), and those of them the workload arms itself. */
export const FAIL_MAKE_REQUEST_FAULTS: readonly Fault['kind'][] = ['fail-make-request', 'metadata-eio', 'reap-eio'];
export const ARMED_FAULTS: readonly Fault['kind'][] = ['metadata-eio', 'reap-eio'];

export type SegmentOrder = 'reverse' | 'ascending' | 'bio-trim';

export type Engine =
  | 'psync' // pread/pwrite: ITER_UBUF on 6.1
  | 'psyncv' // preadv/pwritev with several segments: ITER_IOVEC
  | 'libaio' // io_submit, queue depth
  | 'uring' // io_uring readv/writev-like ops on normal buffers: ITER_IOVEC/UBUF
  | 'uring-fixed' // io_uring READ_FIXED/WRITE_FIXED on registered buffers: ITER_BVEC
  | 'splice-read' // splice(O_DIRECT file -> pipe): ITER_PIPE on 6.1
  | 'vmsplice-write' // vmsplice(user -> pipe) + splice(pipe -> O_DIRECT file): ITER_BVEC
  | 'passthru' // NVMe passthrough ioctl with a user buffer
  | 'sg-io' // SCSI SG_IO READ/WRITE(16) with a user buffer
  | 'fork-race' // fork while an O_DIRECT read is in flight
  | 'process-vm' // process_vm_readv/writev of the ops' buffers (pin_user_pages_remote), buffered file I/O
  | 'udmabuf'; // each op through a dma-buf over a memfd (/dev/udmabuf: memfd_pin_folios, 6.11+), buffered file I/O

export type BufferKind =
  | 'anon' // posix_memalign'd / mmap'd private anonymous memory, pre-faulted
  | 'shared-file' // MAP_SHARED mapping of a tmpfs file
  | 'private-anon' // fresh MAP_PRIVATE|MAP_ANONYMOUS mapping, faulted by the I/O itself
  | 'thp' // 2 MiB aligned MADV_HUGEPAGE region: folio pin accounting
  | 'hugetlb' // MAP_HUGETLB region from the hugetlb pool, faulted by the pin (follow_hugetlb_page)
  | 'hugetlb-1g' // a 1 GiB (PUD-mapped) hugetlb page, reserved at boot (vm/session.ts gigantic pages)
  | 'cow-shared' // anon, made copy-on-write shared by a fork right before each I/O: the pin unshares
  | 'thp-cow-shared' // thp, shared the same way: the huge pmd is unshared (gup_huge_pmd)
  | 'hugetlb-1g-cow-shared'; // the 1 GiB page, shared the same way: its PUD leaf is unshared (gup_huge_pud)

/** Fault to provoke on this workload (error paths leak pins). */
export type Fault =
  | { kind: 'efault-midway' } // an unmapped page in the middle of the buffer
  | { kind: 'readonly-dest' } // read into a PROT_READ mapping
  | { kind: 'misaligned'; what: 'offset' | 'length' | 'address'; by?: number } // by: bytes off (default 1)
  | { kind: 'past-eod' } // I/O that starts/ends beyond the end of the device/file
  | { kind: 'fail-make-request'; times: number; probability: number; interval: number }
  // the block mapping's own read fails: after the write, the file's metadata is dropped from the
  // cache and one Direct I/O read past the direct blocks meets an I/O error on the indirect block
  // (fail_make_request, once), so the file system's get_block fails after pages were pinned
  // fragmented: the file is first rewritten with no two clusters adjacent on disk (see below)
  | { kind: 'metadata-eio'; fragmented?: boolean }
  // one read of the whole file in more bios than fs/direct-io.c reaps at once (64): the first
  // bio fails (fail_make_request, once), and the reap before the 65th bio returns its error in the
  // middle of the request, where the page being submitted must be given back.
  // fragmented: the file is first rewritten with the same bytes, no two of its clusters adjacent
  // on disk, so fs/direct-io.c ends a bio at every cluster and vfat's in-memory cluster cache
  // (eight runs a file) cannot hold its block map; the read is then of 66 clusters, or with
  // at 'last' of exactly 65, so that the reap comes with the request's final page (the send
  // after do_direct_IO, whose page must be given back too)
  | { kind: 'reap-eio'; fragmented?: boolean; at?: 'last' }
  | { kind: 'blkdebug-eio'; sector: number; op: 'read' | 'write' }
  | { kind: 'over-limit'; bytes: number } // one op of `bytes`, above the device's transfer limit
  // one RWF_NOWAIT op of `bytes`, more pages than one bio holds: the block layer pins the first
  // bio's pages, releases them and refuses (EAGAIN) rather than block for a second bio
  | { kind: 'nowait'; bytes: number }
  // a write into a hole inside the file's size: fs/direct-io.c (DIO_SKIP_HOLES) gives back the
  // pages it pinned (-ENOTBLK) and the write completes as buffered I/O
  | { kind: 'hole-write' }
  // fixed-buffer registration without CAP_IPC_LOCK over a tiny RLIMIT_MEMLOCK: io_uring pins the
  // pages, fails to account them (ENOMEM) and must unpin every one
  | { kind: 'memlock' }
  // a fixed-buffer registration of a MAP_SHARED mapping of a file on the target's disk file
  // system: long-term pins of such pages are refused (gup-fast drops what it grabbed, 6.5+;
  // io_uring gives back what it pinned, 6.1): EFAULT or EOPNOTSUPP
  | { kind: 'longterm-file' }
  // a fixed-buffer registration (uring-fixed) or a dma-buf (udmabuf: memfd_pin_folios) over pages
  // a pipe holds references to (vmsplice): their migration out of ZONE_MOVABLE fails, so the
  // long-term pin gives back every pin and fails (ENOMEM), or succeeds where the pages needed no
  // migration (or, 6.1's udmabuf, were never pinned)
  | { kind: 'migration-blocked' }
  // process_vm_readv of the vsyscall gate page (vsyscall=emulate): GUP's get_gate_page route,
  // one pin each, the bytes checked against a read of /proc/self/mem
  | { kind: 'gate-page' }
  // a Direct I/O write from a fresh anonymous mapping that was only read, so every page maps the
  // shared zero page: gup-fast leaves such (special) PTEs to GUP's slow path, whose zero-page
  // branch pins it (6.5+: the grab and its release skip the zero page's count); the range must
  // read back as zeros, then the pattern goes back over it
  | { kind: 'zero-page' }
  // ops at a file offset and buffer address 512 bytes into a block, on a file system of larger
  // blocks: fs/direct-io.c falls back to the device's 512-byte blocks (blkfactor), and an
  // appending write of the same alignment gets a new block whose head and tail it zeroes
  | { kind: 'sub-block' }
  // the 2 MiB hugetlb pool with one free page: a read into two huge pages mapped without a
  // reservation (psync: one GUP call faults in and pins the first's last pages, then the fault
  // of the second fails, EFAULT or a short read, every pin given back), or a dma-buf over a hugetlb memfd of two pages, the first faulted in
  // (udmabuf, 6.11+: memfd_pin_folios pins the first, fails to allocate the second, ENOMEM, and
  // gives the first's pin back on its error exit; before 6.11 udmabuf takes only pages already
  // there: EINVAL)
  | { kind: 'hugetlb-exhausted' }
  // an asynchronous read into a shared mapping of the device's own page cache (past the
  // workload's range), whose pages writeback cleans while the read is in flight (fsync, on a
  // read-throttled disk): the completion finds them clean and defers (bio_check_pages_dirty),
  // and a workqueue dirties and releases them (bio_dirty_fn)
  | { kind: 'cleaned-in-flight' }
  // a read of a hole inside the file's size (the file grown by ftruncate): fs/direct-io.c zero-
  // fills the pinned pages itself (no bio), and the bytes must read back as zeros
  | { kind: 'hole-read' }
  // move_pages(2)'s status query (no target nodes) over pages of every kind the process maps: the
  // workload's own hugetlb buffer (6.1: follow_page()'s hugetlb leaves, follow_huge_pud for a
  // 1 GiB page), a 2 MiB hugetlb page (follow_huge_pmd_pte), pages mapping the zero page
  // (refused: FOLL_DUMP) and plain anonymous pages (a page reference each, put back): no pins,
  // every mapped page on a node, no zero page on one
  | { kind: 'page-status' }
  // a thread of the process forks again and again while its Direct I/O runs, over small pages
  // and a transparent huge page: each fork write-protects the buffer's page table entries (the
  // entry gup-fast read changes before its recheck) and bumps the mm's write_protect_seq (gup-fast
  // gives every pin of its walk back when it changed); the data of every op is checked
  | { kind: 'fork-storm' }
  // Direct I/O from and into memfd_secret(2) pages: gup-fast grabs them, sees secretmem and gives
  // them back, and the slow path refuses their VMA: EFAULT, no pin kept
  | { kind: 'secretmem' }
  // the buffer is a file on persistent memory (memmap=, an ext4 mounted -o dax), whose mapped
  // pages are ZONE_DEVICE pages mapped by PMD: a read into the untouched mapping (GUP's slow
  // path faults each huge page in and pins it from the PMD: follow_devmap_pmd), then I/O on the
  // mapped pages (gup-fast's devmap leaf); the data of every op is checked
  | { kind: 'dax' }
  // synchronous appends to a zonefs sequential file (the zone-file target: no fault phase): 6.1
  // sends them as zone-append bios. EIO is allowed: stable 6.1's zonefs_file_dio_append checks
  // the sector the append returns against the write pointer its caller already advanced, so every
  // such append fails EIO after its data was written ("Corrupted write pointer" in the log, which
  // the judge requires for the EIO; the file system is mounted errors=repair, so the next append
  // goes on; the fix: patches/upstream/0002-*); the pins still balance
  | { kind: 'zone-append' }
  // the kernel reads the target file itself, opened O_DIRECT, into its own memory
  // (finit_module(2): kernel_read_file, an ITER_KVEC Direct I/O read): 6.1 cannot take KVEC
  // pages (iov_iter_get_pages2: EFAULT), 6.12 extracts them without pins and refuses the file
  // afterwards (no module: ENOEXEC; unsigned where signatures are enforced: EKEYREJECTED); no pin
  // either way
  | { kind: 'kernel-read' }
  // writes from small pages, a transparent huge page and the workload's own buffer (a 1 GiB page)
  // while a thread flips their protection between read-only and read-write: the page table entry
  // (PTE, PMD, PUD) gup-fast read changes before its recheck, and gup-fast gives the page back
  | { kind: 'protect-storm' };

/**
 * What pinning the workload implies, independent of any kernel:
 *  - 'user-dio': user memory handed to Direct I/O: a correct kernel pins every page exactly once
 *    per operation that covers it.
 *  - 'no-per-io-pins': the block layer sees kernel pages (BVEC/KVEC) or pre-registered buffers;
 *    only `fixedPins` (e.g. io_uring registration) may appear.
 *  - 'pipe-dio': ITER_PIPE Direct I/O: pinned page-by-page with pin_page() when the kernel
 *    reaches the ITER_PIPE DIO path; a copy (no DIO on pipe pages) when it doesn't (6.4+).
 *  - 'memfd-pin': /dev/udmabuf over a memfd: each op's memfd pages pinned once, when the kernel
 *    pins them (memfd_pin_folios, 6.11+); page references, not pins, before (6.1: none expected).
 */
export type PinModel = 'user-dio' | 'no-per-io-pins' | 'pipe-dio' | 'memfd-pin';

export interface WorkloadSpec {
  name: string; // unique, e.g. "raw-virtio.psync.anon"
  target: Target;
  /** the hardware variant it runs on (workloads/targets.ts HW_VARIANTS); absent: default hardware */
  hw?: string;
  engine: Engine;
  buffer: BufferKind;
  /** bytes per operation (block-size multiple unless a misaligned fault is planned) */
  blockSize: number;
  /** total bytes written then read back */
  size: number;
  queueDepth: number;
  /** segments per operation for vectored engines */
  segments: number;
  /**
   * Where an op's segments sit in its buffer region: 'reverse' (default: a misplaced segment
   * shows in the pattern) or 'ascending' (contiguous, so sub-page segments of one page merge
   * into one bio_vec and each merge must release its duplicate pin), or 'bio-trim' (one-page
   * segments with a page between them, BIO_MAX_VECS - 1 of them, then a segment that starts
   * 512 bytes into a page: on a device of 4 KiB logical blocks the bio's last slot takes one
   * page of it, which __bio_iov_iter_get_pages trims to nothing and must release).
   */
  segmentOrder?: SegmentOrder;
  /**
   * io_uring engines: 'user' puts the ring and SQE memory in the workload's own pages
   * (IORING_SETUP_NO_MMAP, 6.5+), which the kernel pins for the ring's life and unpins when the
   * ring goes; a kernel without it (EINVAL) gets a normal ring.
   */
  ringMemory?: 'user';
  /**
   * vmsplice-write: the pipe's size in pages. Fewer than the 16 pages one vmsplice takes at a
   * time, so the pages that did not fit are put back (fs/splice.c iter_to_pipe); default: room
   * for a whole op.
   */
  pipePages?: number;
  /**
   * fork-race: race in a helper process of its own, whose mm has pinned nothing before (the
   * runner's has, long ago, through every GUP path): fork's copy of pinned pages then rests on
   * the flag this race's own pins set (MMF_HAS_PINNED, gup-fast)
   */
  freshProcess?: boolean;
  /**
   * fork-race: what holds the pin across the fork. Default: an O_DIRECT read in flight (gup-fast).
   * 'gup-test-longterm': debugfs gup_test's PIN_LONGTERM_TEST_START (6.2+), a long-term pin from
   * GUP's slow path (pin_user_pages), held while the process forks and writes, then read back
   * from the pinned pages: fork's copy then rests on the flag the slow path sets.
   * 'uring-register': an io_uring buffer registration held the same way (6.1: pin_user_pages, the
   * slow path; 6.5+: pin_user_pages_fast), read back by a WRITE_FIXED into a memfd
   */
  forkPin?: 'gup-test-longterm' | 'uring-register';
  pinModel: PinModel;
  /** key kernel functions; each inner list is "any of these" (names differ across versions) */
  paths: string[][];
  fault?: Fault;
  /** fork-race: attempts */
  repeat?: number;
  /** ops of more pages than one bio holds on an io_uring engine: the first (IOCB_NOWAIT)
   * attempt pins, releases and asks for a blocking retry, which pins again */
  nowaitRetry?: boolean;
}

export interface Latency {
  p50us: number;
  p90us: number;
  p99us: number;
  maxus: number;
}

/** What one workload did in user space, measured by the addon (no counters here). */
export interface WorkloadIO {
  bytes: number; // bytes moved by successful operations
  ops: number; // operations issued
  /** sum over operations of distinct user pages that operation's buffers span, plus the pages
   * of user-provided io_uring ring memory (pinned once per ring) */
  userPageOps: number;
  /** pins expected regardless of I/O count (io_uring buffer registration) */
  fixedPins: number;
  verify: { ok: boolean; checkedBytes: number; firstBadOffset?: number; detail?: string };
  /** errno code names seen (e.g. ["EFAULT"]) for fault cases, with the syscall */
  errors: { code: string; syscall: string; count: number }[];
  latency?: Latency;
  iops?: number;
  /** fork-race only */
  /** unsupported: why the kernel cannot run this fork check at all (judged SKIP) */
  fork?: { attempts: number; hitWindow: number; lostData: number; unsupported?: string };
  /** thp buffers only: huge-page-backed bytes of the least backed buffer (0: THP never happened) */
  hugePageBytes?: number;
  /** the anonymous buffers' pages after the workload unmapped them (workloads/frames.ts) */
  frames?: FrameCheck;
  durationMs: number;
}

/** Pages the kernel still held after their buffer was unmapped: a leaked page reference or pin. */
export interface FrameCheck {
  /** frames recorded when the buffers were freed (0: none present, or no CAP_SYS_ADMIN) */
  recorded: number;
  /** frames still held when the check gave up waiting (0: every page was freed) */
  held: number;
  /** up to 8 of them: frame number and page flags (/proc/kpageflags names) */
  sample: { pfn: number; flags: string[] }[];
  /** how long the pages were given to go free */
  waitedMs: number;
  /** pages were still held at the deadline, so every CPU's LRU batches were drained and they were looked at again */
  drainedAll?: boolean;
  /** the check could not run (e.g. no /proc/kpageflags) */
  unavailable?: string;
}

/** Pin evidence totals (guest/pin-evidence.ts): every pin and unpin the kernel's primitives took. */
export interface EvidenceCounters {
  acquired: number;
  released: number;
  /** hist entries the kernel could not record (a non-zero delta makes the evidence incomplete) */
  dropped: number;
}

/** One calibration source of the pin evidence: a route to the pin primitives over known pages. */
export const CALIBRATION_STATES = ['agrees', 'disagrees', 'skipped', 'error'] as const;

export interface CalibrationOutcome {
  /** e.g. 'io_uring-register', 'gup_test-longterm', 'odirect-loop' */
  source: string;
  /** the kernel path it takes */
  path: string;
  /** pages pinned and unpinned (each side must count exactly these) */
  pages: number;
  /** agrees: added up with FOLL_PIN; disagrees: a kernel finding on `path`; skipped/error: did not run */
  state: (typeof CALIBRATION_STATES)[number];
  /** what the probes counted with the FOLL_PIN the agreeing sources found */
  acquired?: number;
  released?: number;
  vmstatAcquired?: number;
  vmstatReleased?: number;
  why?: string;
}

/** How the guest counts pins independently of /proc/vmstat, or why it cannot. */
export type PinEvidenceInfo =
  | {
      mechanism: 'kprobe-hist';
      /** the pin/unpin primitives probed on this kernel */
      probes: string[];
      /** FOLL_PIN's value on this kernel, found by the calibration */
      follPin: number;
      /** every calibration source, agreeing or not */
      calibration: CalibrationOutcome[];
      /** the sources FOLL_PIN was taken from */
      agreed: string[];
      /** 'on success' (return probes) or 'at entry (why)' */
      grabsCounted?: string;
      /** pin primitives on this kernel that nr_foll_pin_acquired does not count */
      vmstatBlind?: string[];
      /** compiler clones of probed functions (not probed; the calibration passed regardless) */
      clones?: string[];
    }
  | { mechanism: 'none'; unavailable: string; vmstatBlind?: string[]; calibration?: CalibrationOutcome[] };

export interface PinCounters {
  acquired: number; // nr_foll_pin_acquired
  released: number; // nr_foll_pin_released
  /** pgmigrate_success, where the kernel counts migrations (CONFIG_MIGRATION) */
  migrated?: number;
}

/** debugfs gup_test PIN_FAST_BENCHMARK: does pin accounting itself work on this kernel? */
export interface PinControl {
  ok: boolean;
  skipped?: string;
  acquired: number;
  released: number;
  expected: number;
  message: string;
}

export interface BackgroundNoise {
  windowMs: number;
  acquired: number;
  released: number;
}

/** Everything the guest runner observed for one workload; the verdict is computed on the host. */
export interface WorkloadObservation {
  spec: WorkloadSpec;
  before: PinCounters;
  after: PinCounters; // after quiesce
  /** settled: balanced and still; stable: unchanged over the last polls (absent in old observations) */
  quiesce: { polls: number; settled: boolean; ms: number; stable?: boolean };
  /**
   * Pins counted at the kernel's pin/unpin primitives around the workload (same points as
   * before/after). Absent on observations from before the evidence existed; `unavailable` when
   * this kernel cannot give it (the verdict then rests on the counters and says so).
   */
  evidence?: { mechanism: string; before: EvidenceCounters; after: EvidenceCounters; vmstatBlind?: string[] } | { mechanism: 'none'; unavailable: string; vmstatBlind?: string[] };
  /** pin movement in an idle window right before the workload (counters and evidence) */
  idle?: { windowMs: number; acquired: number; released: number; evidenceAcquired?: number; evidenceReleased?: number };
  io?: WorkloadIO; // absent when the workload itself crashed
  ioError?: { code?: string; message: string };
  /** key functions that ran (from the function tracer), and which were traceable at all */
  pathHits: string[];
  pathTraceable: string[];
  /** kernel log lines emitted during the workload (from /dev/kmsg, after a cursor) */
  kmsg: string[];
  /** debugfs values of interest (fail_make_request counters etc.) */
  extra?: Record<string, unknown>;
  /**
   * Coverage builds: the gcov counters of the pin-path objects over this workload (base64 .gcda
   * keyed by <src>.gcda). The host moves them into the run directory's coverage/ and drops them
   * from the saved observation.
   */
  gcda?: Record<string, string>;
  /** function coverage (kernels without gcov): the pin-path sources' functions that ran */
  functionHits?: string[];
}
