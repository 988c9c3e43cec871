// The default workload suite: name -> target, engine, buffer, size, pin model and the kernel
// functions that prove the path was reached. Pure data plus selection helpers.
//
// Path groups are "any of" lists of function names. A group counts as reached when one of its
// names ran, as unverifiable when none of its names is traceable on the running kernel, and as
// not reached otherwise. So a group must only hold names that lie on *this workload's* path on
// some kernel (alternatives across versions), never alternatives across code paths that this
// workload may or may not take: if the path actually went through an untraceable member while
// another member is traceable, the group would read as "not reached".
//
// Names chosen (NOTES.md: traceable on the 6.1 build; 6.12 names from upstream):
//  - block device DIO entry: blkdev_read_iter / blkdev_write_iter (both kernels)
//  - user pages into a bio: bio_iov_iter_get_pages (6.1 and 6.12), iov_iter_pin_pages (patched),
//    iov_iter_extract_pages (6.5+). NOT __bio_iov_iter_get_pages / iov_iter_get_pages2 (inlined).
//  - ext4: iomap_dio_rw / __iomap_dio_rw; ext2: __blockdev_direct_IO on 6.1, iomap since 6.7;
//    vfat: __blockdev_direct_IO everywhere. NOT dio_refill_pages (static).
//  - loop: lo_rw_aio (static; the runner finds out whether it is traceable)
//  - NVMe passthrough: nvme_submit_user_cmd (static), blk_rq_map_user_iov (exported),
//    bio_map_user_iov (static)
//  - splice from O_DIRECT: generic_file_splice_read (<= 6.3; ITER_PIPE DIO when iov_iter_pipe
//    ran), direct_splice_read (6.4) or copy_splice_read (6.5+): a copy into kernel pages; the
//    verdict keys the pin model on iov_iter_pipe / the copy, not on the entry name;
//    vmsplice -> O_DIRECT file: iter_file_splice_write
import type { Engine, Fault, PinModel, Target, WorkloadSpec } from './types.js';
import { DEFAULT_TARGETS, HW_VARIANTS, PAGE_LOOKUP_NAMES, PIN_GROUP, hwVariant, targetRecord, type HwVariant, type Shape } from './targets.js';

export type { Shape } from './targets.js';

export const TARGETS: readonly Target[] = DEFAULT_TARGETS.map((t) => t.name);
export const ENGINES: readonly Engine[] = [
  'psync',
  'psyncv',
  'libaio',
  'uring',
  'uring-fixed',
  'splice-read',
  'vmsplice-write',
  'passthru',
  'sg-io',
  'fork-race',
  'process-vm',
  'udmabuf',
];
export const BUFFERS = ['anon', 'shared-file', 'private-anon', 'thp', 'hugetlb', 'hugetlb-1g', 'cow-shared', 'thp-cow-shared', 'hugetlb-1g-cow-shared'] as const;

const KiB = 1024;
/** pages of one bio (include/linux/bio.h BIO_MAX_VECS) */
const BIO_MAX_VECS = 256;
const MiB = 1024 * KiB;

/** The reap-eio workload's file: 80 bios of 256 KiB on ext2's 1 KiB blocks, more than the 64 fs/direct-io.c lets pile up before it reaps. */
export const REAP_EIO_BYTES = 20 * MiB;

/**
 * QEMU blkdebug rule the VM must configure at boot for the blkdebug-eio workload: reads of this
 * sector of the raw-virtio disk fail with EIO. Every other raw-virtio workload stays below
 * BLKDEBUG_SAFE_BYTES so it never touches the sector; the blkdebug workload's I/O covers it.
 */
export const BLKDEBUG_SECTOR = 6144; // 3 MiB
export const BLKDEBUG_SAFE_BYTES = BLKDEBUG_SECTOR * 512;

/** The groups that prove a read/write of this target reached Direct I/O on user memory. */
function targetPaths(target: Target): string[][] {
  return targetRecord(target).paths.map((g) => [...g]);
}

/** The entry groups only: for faults rejected before any page is looked up (EINVAL, EOD). */
function entryPaths(target: Target): string[][] {
  return targetPaths(target).filter((g) => !g.some((n) => PAGE_LOOKUP_NAMES.has(n)));
}

/** Kernel pages (ITER_BVEC) reach the bio through bio_iov_bvec_set, directly (async block
 * device DIO) or from bio_iov_iter_get_pages: no user page lookup, no pin per I/O. */
const BVEC_GROUP = ['bio_iov_bvec_set', 'bio_iov_iter_get_pages'];

const samePinGroup = (g: readonly string[]): boolean => g.length === PIN_GROUP.length && g.every((n, i) => n === PIN_GROUP[i]);

function pathsFor(target: Target, engine: Engine, fault?: Fault, forkPin?: WorkloadSpec['forkPin']): string[][] {
  const entry = fault && (fault.kind === 'misaligned' || fault.kind === 'past-eod');
  const bvec = engine === 'uring-fixed' || engine === 'vmsplice-write';
  const io = entry ? entryPaths(target) : bvec ? targetPaths(target).map((g) => (samePinGroup(g) ? BVEC_GROUP : g)) : targetPaths(target);
  // the deferred release is the point of cleaned-in-flight: a read that finished before
  // writeback cleaned its pages tested nothing
  const base = fault?.kind === 'cleaned-in-flight' ? [...io, ['bio_dirty_fn']] : io;
  switch (engine) {
    case 'splice-read':
      return [['generic_file_splice_read', 'copy_splice_read', 'direct_splice_read'], ...base];
    case 'vmsplice-write':
      return [['iter_file_splice_write'], ...base];
    case 'process-vm':
      // no Direct I/O: the file side is buffered; the pins are the cross-memory copy's (nested
      // calls, so whichever of them is traceable ran)
      return [['process_vm_rw_single_vec', 'process_vm_rw_core', 'process_vm_rw'], ['pin_user_pages_remote']];
    case 'udmabuf':
      // memfd_pin_folios is the pin route where it exists (6.11+); unverifiable where it does not
      return [['udmabuf_create', 'udmabuf_ioctl_create', 'udmabuf_ioctl'], ['memfd_pin_folios']];
    case 'fork-race':
      // a long-term pin held across the fork: no Direct I/O, the pin's own route
      if (forkPin === 'gup-test-longterm') return [['pin_longterm_test_start', 'pin_longterm_test_ioctl', 'gup_test_ioctl'], ['pin_user_pages']];
      if (forkPin === 'uring-register') return [['io_sqe_buffers_register'], ['pin_user_pages', 'pin_user_pages_fast']];
      return base;
    default:
      return base;
  }
}

function pinModelFor(engine: Engine): PinModel {
  switch (engine) {
    case 'uring-fixed':
    case 'vmsplice-write':
      return 'no-per-io-pins';
    case 'splice-read':
      return 'pipe-dio';
    case 'udmabuf':
      return 'memfd-pin';
    default:
      return 'user-dio';
  }
}

function faultSuffix(fault: Fault | undefined): string {
  return fault ? `.${fault.kind}` : '';
}

export function makeSpec(s: Shape): WorkloadSpec {
  const buffer = s.buffer ?? 'anon';
  const engine = s.engine;
  const spec: WorkloadSpec = {
    name: `${s.target}.${engine}.${buffer}${s.variant ? `.${s.variant}` : ''}${faultSuffix(s.fault)}`,
    target: s.target,
    engine,
    buffer,
    blockSize: s.blockSize ?? 128 * KiB,
    size: s.size ?? 1 * MiB,
    queueDepth: s.queueDepth ?? (engine === 'libaio' || engine.startsWith('uring') ? 8 : 1),
    segments: s.segments ?? (engine === 'psyncv' ? 4 : 1),
    pinModel: pinModelFor(engine),
    paths: pathsFor(s.target, engine, s.fault, s.forkPin),
  };
  const hw = targetRecord(s.target).hw;
  if (hw) spec.hw = hw;
  if (s.fault) spec.fault = s.fault;
  if (s.repeat !== undefined) spec.repeat = s.repeat;
  if (s.segmentOrder) spec.segmentOrder = s.segmentOrder;
  if (s.ringMemory) spec.ringMemory = s.ringMemory;
  if (s.pipePages !== undefined) spec.pipePages = s.pipePages;
  if (s.freshProcess) spec.freshProcess = true;
  if (s.forkPin) spec.forkPin = s.forkPin;
  // io_uring issues each op with IOCB_NOWAIT first; an op of more pages than one bio holds
  // (BIO_MAX_VECS) cannot be issued without blocking, so its pins are released and retaken
  if (engine.startsWith('uring') && spec.blockSize > BIO_MAX_VECS * 4 * KiB) spec.nowaitRetry = true;
  return spec;
}

const SHAPES: Shape[] = [
  // one plain synchronous workload per target: the paths a conversion must cover
  { target: 'raw-virtio', engine: 'psync', blockSize: 4 * KiB },
  { target: 'raw-nvme', engine: 'psync' },
  { target: 'ext4', engine: 'psync' },
  { target: 'ext2', engine: 'psync' },
  { target: 'vfat', engine: 'psync' },
  // reiserfs ends its block map's indirect items with a boundary: the read of the file's last
  // block sends its bio at once (submit_page_section's boundary branch)
  { target: 'reiserfs', engine: 'psync' },
  { target: 'loop', engine: 'psync' },
  { target: 'nvme-passthru', engine: 'passthru', blockSize: 64 * KiB },
  // vectored (ITER_IOVEC), asynchronous and io_uring engines
  { target: 'raw-virtio', engine: 'psyncv' },
  { target: 'ext4', engine: 'psyncv' },
  { target: 'ext2', engine: 'psyncv' },
  // four contiguous 512-byte segments inside one page per op: the block layer merges them into
  // one bio_vec, and each merge must release the pin its duplicate page took
  { target: 'raw-virtio', engine: 'psyncv', blockSize: 2 * KiB, size: 256 * KiB, segments: 4, segmentOrder: 'ascending', variant: 'subpage' },
  { target: 'ext4', engine: 'psyncv', blockSize: 2 * KiB, size: 256 * KiB, segments: 4, segmentOrder: 'ascending', variant: 'subpage' },
  // the same appended to a zonefs sequential file: 6.1 sends zone-append bios, whose merges are
  // released in bio_iov_add_zone_append_page; 6.12 writes the zone with regular bios
  { target: 'zonefs', engine: 'psyncv', blockSize: 2 * KiB, size: 256 * KiB, segments: 4, segmentOrder: 'ascending', variant: 'subpage', fault: { kind: 'zone-append' } },
  // a bio with one slot left meets a segment that spans two pages, on 4 KiB logical blocks: the
  // one page it takes is trimmed away and released (__bio_iov_iter_get_pages' error exit), the
  // segment goes whole into the next bio; hugetlb pages keep every segment one bio_vec
  { target: 'raw-lbs4k', engine: 'psyncv', buffer: 'hugetlb', blockSize: 1 * MiB, size: 1 * MiB, segments: BIO_MAX_VECS, segmentOrder: 'bio-trim', variant: 'bio-trim' },
  // a vectored SG_IO of four 512-byte segments inside one page: bio_map_user_iov merges them into
  // one bio_vec and releases each merged segment's extra pin
  { target: 'sg-io', engine: 'sg-io', blockSize: 2 * KiB, size: 256 * KiB, segments: 4, segmentOrder: 'ascending', variant: 'subpage' },
  // passthrough of <= 32 KiB: the on-stack page array branch of bio_map_user_iov (6.x)
  { target: 'nvme-passthru', engine: 'passthru', blockSize: 32 * KiB, size: 256 * KiB, variant: 'small' },
  { target: 'raw-virtio', engine: 'libaio' },
  { target: 'ext4', engine: 'libaio' },
  // asynchronous Direct I/O on fs/direct-io.c (vfat: both trees): its aio completion. One op
  // in flight: completions that interrupt a pin's probe handler are lost to the evidence, and
  // 6.5+ fs/direct-io.c pins where vmstat cannot stand in (measured at 8 in flight: 32 of 384)
  { target: 'vfat', engine: 'libaio', blockSize: 64 * KiB, size: 256 * KiB, queueDepth: 1 },
  { target: 'raw-nvme', engine: 'uring' },
  { target: 'ext4', engine: 'uring' },
  { target: 'raw-virtio', engine: 'uring-fixed' },
  // fixed buffers on huge pages: 6.10+ coalesces each folio's pins at registration
  { target: 'raw-virtio', engine: 'uring-fixed', buffer: 'thp', blockSize: 1 * MiB, size: 2 * MiB },
  // a buffer over two huge folios: the coalescing drops the extra pins of every folio after the first
  { target: 'raw-nvme', engine: 'uring-fixed', buffer: 'thp', blockSize: 1 * MiB, size: 4 * MiB, variant: 'two-folios' },
  // ops of more pages than one bio holds: __blkdev_direct_IO's bio chain, and io_uring's first
  // (IOCB_NOWAIT) attempt, which releases its bios and asks for a blocking retry
  { target: 'raw-nvme', engine: 'uring', blockSize: 2 * MiB, size: 4 * MiB, variant: 'multi-bio' },
  { target: 'ext4', engine: 'uring-fixed' },
  // the ring's own memory from user space (IORING_SETUP_NO_MMAP, 6.5+): pinned for the ring's life
  { target: 'raw-nvme', engine: 'uring', ringMemory: 'user', variant: 'user-ring' },
  // splice: ITER_PIPE from O_DIRECT files (6.1), BVEC into them
  { target: 'raw-virtio', engine: 'splice-read', blockSize: 64 * KiB },
  { target: 'ext4', engine: 'splice-read', blockSize: 64 * KiB },
  { target: 'ext2', engine: 'splice-read', blockSize: 64 * KiB },
  { target: 'raw-virtio', engine: 'vmsplice-write', blockSize: 64 * KiB },
  { target: 'ext4', engine: 'vmsplice-write', blockSize: 64 * KiB },
  // BVEC into fs/direct-io.c: dio_refill_pages takes page references, not pins
  { target: 'ext2', engine: 'vmsplice-write', blockSize: 64 * KiB },
  // a pipe of 8 pages under one vmsplice's 16: the referenced pages that did not fit go back
  { target: 'ext4', engine: 'vmsplice-write', blockSize: 64 * KiB, size: 256 * KiB, pipePages: 8, variant: 'small-pipe' },
  // buffer kinds
  { target: 'raw-virtio', engine: 'psync', buffer: 'shared-file' },
  { target: 'raw-virtio', engine: 'psync', buffer: 'private-anon' },
  { target: 'raw-virtio', engine: 'psync', buffer: 'thp', blockSize: 1 * MiB, size: 2 * MiB },
  { target: 'ext4', engine: 'psyncv', buffer: 'thp', blockSize: 1 * MiB, size: 2 * MiB },
  { target: 'ext2', engine: 'psync', buffer: 'private-anon' },
  // hugetlb pages faulted in by the pin: follow_hugetlb_page's grab (mm/hugetlb.c)
  { target: 'raw-virtio', engine: 'psync', buffer: 'hugetlb', blockSize: 1 * MiB, size: 2 * MiB },
  // a 1 GiB page (PUD-mapped hugetlb, reserved at boot): gup-fast's PUD leaf, and with the pin
  // of a fixed buffer the slow path's PUD walk (6.9+: follow_huge_pud)
  { target: 'raw-virtio', engine: 'psync', buffer: 'hugetlb-1g', blockSize: 256 * KiB, size: 1 * MiB },
  { target: 'raw-virtio', engine: 'uring-fixed', buffer: 'hugetlb-1g', blockSize: 256 * KiB, size: 1 * MiB },
  // the 1 GiB page made copy-on-write shared by a fork before each I/O: gup-fast meets a PUD leaf
  // it may not pin as it is and gives back what it grabbed; the slow path unshares it in place
  // (the child has gone: one mapping left, no second 1 GiB page needed)
  { target: 'raw-virtio', engine: 'psync', buffer: 'hugetlb-1g-cow-shared', size: 256 * KiB },
  // pages shared copy-on-write by a fork: a read-only pin (DIO write) must unshare them
  { target: 'raw-virtio', engine: 'psync', buffer: 'cow-shared' },
  { target: 'raw-virtio', engine: 'psync', buffer: 'thp-cow-shared', blockSize: 1 * MiB, size: 2 * MiB },
  // fork during in-flight DIO (MMF_HAS_PINNED copy-on-fork)
  { target: 'raw-virtio', engine: 'fork-race', blockSize: 1 * MiB, size: 1 * MiB, repeat: 20 },
  // the same in a helper process whose only pins are the race's own (gup-fast): the runner's
  // process set MMF_HAS_PINNED long ago on every path, which hid a path that fails to set it
  { target: 'raw-virtio', engine: 'fork-race', blockSize: 1 * MiB, size: 1 * MiB, repeat: 10, freshProcess: true, variant: 'fresh-process' },
  // the same rule on GUP's slow path: a long-term pin from pin_user_pages (debugfs gup_test,
  // 6.2+) held across the fork, in a fresh process; then the pinned pages must hold the parent's
  // write (no race: every attempt is in the window)
  { target: 'raw-virtio', engine: 'fork-race', blockSize: 64 * KiB, size: 256 * KiB, repeat: 4, freshProcess: true, forkPin: 'gup-test-longterm', variant: 'longterm-pin' },
  // and with an io_uring buffer registration as the long-term pin (6.1's is from the slow path)
  { target: 'raw-virtio', engine: 'fork-race', blockSize: 64 * KiB, size: 256 * KiB, repeat: 4, freshProcess: true, forkPin: 'uring-register', variant: 'uring-register' },
  // cross-memory attach, process_vm_readv/writev of the runner's own buffers: GUP's remote route
  // (pin_user_pages_remote, slow path only), whose release dirties the pages process_vm_writev
  // filled (unpin_user_pages_dirty_lock); the file side is buffered
  { target: 'raw-virtio', engine: 'process-vm', blockSize: 64 * KiB, size: 256 * KiB, segments: 4 },
  // a dma-buf over memfd pages (/dev/udmabuf): memfd_pin_folios pins them at creation (6.11+),
  // unpin_folio at the dma-buf's release; 6.1's udmabuf takes page references (no pins)
  { target: 'raw-virtio', engine: 'udmabuf', blockSize: 64 * KiB, size: 256 * KiB },
  // fault injection: error paths are where pins leak
  { target: 'raw-virtio', engine: 'psync', fault: { kind: 'efault-midway' } },
  // registering a buffer with a hole: io_pin_pages unpins the pages it got
  { target: 'raw-virtio', engine: 'uring-fixed', fault: { kind: 'efault-midway' } },
  { target: 'ext2', engine: 'psyncv', fault: { kind: 'efault-midway' } },
  { target: 'ext4', engine: 'libaio', fault: { kind: 'efault-midway' } },
  { target: 'nvme-passthru', engine: 'passthru', blockSize: 64 * KiB, fault: { kind: 'efault-midway' } },
  { target: 'raw-nvme', engine: 'psync', fault: { kind: 'readonly-dest' } },
  // the remote route's errors: a hole part-way (the pages pinned before it go back, a short
  // copy), and a read-only destination (the FOLL_WRITE pin of its first page fails: EFAULT)
  { target: 'raw-virtio', engine: 'process-vm', size: 256 * KiB, fault: { kind: 'efault-midway' } },
  { target: 'raw-virtio', engine: 'process-vm', size: 256 * KiB, fault: { kind: 'readonly-dest' } },
  { target: 'vfat', engine: 'psync', fault: { kind: 'readonly-dest' } },
  { target: 'raw-virtio', engine: 'psync', fault: { kind: 'misaligned', what: 'offset' } },
  { target: 'ext4', engine: 'psync', fault: { kind: 'misaligned', what: 'length' } },
  { target: 'raw-nvme', engine: 'psync', fault: { kind: 'past-eod' } },
  // a read across a file's end on fs/direct-io.c: the pages pinned past EOF are given back
  // (ext2 on 6.1; vfat on 6.7+, where ext2 moved to iomap)
  { target: 'ext2', engine: 'psync', fault: { kind: 'past-eod' } },
  { target: 'vfat', engine: 'psync', fault: { kind: 'past-eod' } },
  // fs/direct-io.c meets a hole inside the file's size on a write: -ENOTBLK, pins given back,
  // the write completes buffered
  { target: 'ext2', engine: 'psync', fault: { kind: 'hole-write' } },
  { target: 'reiserfs', engine: 'psync', fault: { kind: 'hole-write' } },
  // RWF_NOWAIT over more bio_vecs than one bio holds: __blkdev_direct_IO releases the first
  // bio. One page per segment, in reverse order, so no two pages merge into one bio_vec (a
  // plain 2 MiB buffer is often physically contiguous and fits one bio)
  { target: 'raw-virtio', engine: 'psyncv', blockSize: 2 * MiB, size: 2 * MiB, segments: 512, fault: { kind: 'nowait', bytes: 2 * MiB } },
  // a registration io_uring cannot account (no CAP_IPC_LOCK, RLIMIT_MEMLOCK of one page)
  { target: 'raw-virtio', engine: 'uring-fixed', fault: { kind: 'memlock' } },
  // long-term pins of a disk file's shared mapping are refused: what was grabbed goes back
  { target: 'ext4', engine: 'uring-fixed', fault: { kind: 'longterm-file' } },
  // a long-term pin whose migration out of ZONE_MOVABLE fails (a pipe holds the pages): every
  // pin given back on the migration's error exit, the registration refused
  { target: 'raw-virtio', engine: 'uring-fixed', blockSize: 64 * KiB, size: 256 * KiB, fault: { kind: 'migration-blocked' } },
  // the same on the memfd route (memfd_pin_folios, 6.11+), whose error exit unpins folios
  { target: 'raw-virtio', engine: 'udmabuf', blockSize: 64 * KiB, size: 256 * KiB, fault: { kind: 'migration-blocked' } },
  // a write from pages that map the shared zero page: GUP's slow path pins the zero page
  { target: 'raw-virtio', engine: 'psync', size: 256 * KiB, fault: { kind: 'zero-page' } },
  // sector-aligned I/O on 4 KiB blocks: fs/direct-io.c in 512-byte device blocks, and an
  // appending write that zeroes the rest of its new blocks
  { target: 'reiserfs', engine: 'psync', blockSize: 64 * KiB, size: 256 * KiB, fault: { kind: 'sub-block' } },
  // the hugetlb pool runs out part-way through a pin: the huge page faulted in before the
  // failure gives its pins back (GUP's hugetlb fault error), and on the memfd route
  // (memfd_pin_folios, 6.11+) the folios pinned before the failed allocation
  { target: 'raw-nvme', engine: 'psync', size: 256 * KiB, fault: { kind: 'hugetlb-exhausted' } },
  { target: 'raw-virtio', engine: 'udmabuf', blockSize: 64 * KiB, size: 256 * KiB, fault: { kind: 'hugetlb-exhausted' } },
  // pages a read has pinned and dirtied, cleaned by writeback before it completes: their release
  // is deferred to a workqueue, which dirties them again (bio_dirty_fn)
  { target: 'raw-virtio', engine: 'libaio', blockSize: 1 * MiB, size: 1 * MiB, fault: { kind: 'cleaned-in-flight' } },
  // a Direct I/O read of a hole inside the file: fs/direct-io.c zero-fills the pinned pages
  { target: 'reiserfs', engine: 'psync', blockSize: 64 * KiB, size: 256 * KiB, fault: { kind: 'hole-read' } },
  // move_pages(2)'s status query of the 1 GiB page, a 2 MiB page, zero and plain pages: on 6.1
  // follow_page()'s hugetlb leaves (page references, no pins)
  { target: 'raw-virtio', engine: 'psync', buffer: 'hugetlb-1g', blockSize: 256 * KiB, size: 256 * KiB, fault: { kind: 'page-status' } },
  // Direct I/O racing forks of its own process: gup-fast sees page table entries change under
  // it, or the mm's fork sequence move after its walk, and gives back what it grabbed
  { target: 'raw-virtio', engine: 'psync', blockSize: 256 * KiB, size: 256 * KiB, fault: { kind: 'fork-storm' } },
  // the kernel's own O_DIRECT read of a file into its memory (finit_module): an ITER_KVEC bio
  { target: 'ext4', engine: 'psync', size: 256 * KiB, fault: { kind: 'kernel-read' } },
  // writes while a thread flips the buffers' protection: the PTE, PMD or PUD gup-fast read
  // changes before its recheck, and it gives the page back
  { target: 'raw-nvme', engine: 'psync', buffer: 'hugetlb-1g', blockSize: 256 * KiB, size: 256 * KiB, fault: { kind: 'protect-storm' } },
  // memfd_secret(2) pages: grabbed by gup-fast, given back, refused by the slow path (EFAULT)
  { target: 'raw-nvme', engine: 'psync', blockSize: 64 * KiB, size: 256 * KiB, fault: { kind: 'secretmem' } },
  // a buffer mapped from a file on persistent memory (DAX): ZONE_DEVICE pages under a PMD
  { target: 'raw-nvme', engine: 'psync', blockSize: 2 * MiB, size: 2 * MiB, fault: { kind: 'dax' } },
  // the vsyscall gate page through cross-memory attach: GUP's get_gate_page route
  { target: 'raw-virtio', engine: 'process-vm', size: 256 * KiB, fault: { kind: 'gate-page' } },
  // passthrough above the controller's MDTS (QEMU's default: 512 KiB): blk-map fills one bio,
  // releases the pages it could not add, and the command is refused
  { target: 'nvme-passthru', engine: 'passthru', blockSize: 64 * KiB, fault: { kind: 'over-limit', bytes: 2 * MiB } },
  {
    target: 'raw-virtio',
    engine: 'libaio',
    fault: { kind: 'fail-make-request', times: 2, probability: 100, interval: 3 },
  },
  {
    target: 'ext2',
    engine: 'psync',
    fault: { kind: 'fail-make-request', times: 1, probability: 100, interval: 1 },
  },
  // the file system's block mapping fails (its indirect block cannot be read) after the pages of
  // the read were pinned: fs/direct-io.c's get_block error path (6.1), iomap_begin's (6.12)
  { target: 'ext2', engine: 'psync', fault: { kind: 'metadata-eio' } },
  // a reaped bio's error in the middle of a request: one read of more than 64 bios (ext2's 1 KiB
  // blocks end a bio at every indirect block, 256 KiB), whose first bio fails (6.1 fs/direct-io.c)
  { target: 'ext2', engine: 'psync', blockSize: 1 * MiB, size: REAP_EIO_BYTES, fault: { kind: 'reap-eio' } },
  // the same two on vfat (fs/direct-io.c on 6.12 too), its file first rewritten with no two
  // clusters adjacent: vfat's cluster cache then misses, so get_block reads the FAT (metadata),
  // and every cluster is a bio of its own (reap: 66 clusters; 65 for the reap at the final page)
  { target: 'vfat', engine: 'psync', size: 256 * KiB, variant: 'fragmented', fault: { kind: 'metadata-eio', fragmented: true } },
  { target: 'vfat', engine: 'psync', blockSize: 64 * KiB, size: 320 * KiB, variant: 'fragmented', fault: { kind: 'reap-eio', fragmented: true } },
  { target: 'vfat', engine: 'psync', blockSize: 64 * KiB, size: 320 * KiB, variant: 'fragmented-last', fault: { kind: 'reap-eio', fragmented: true, at: 'last' } },
  {
    target: 'raw-virtio',
    engine: 'psyncv',
    size: 4 * MiB,
    blockSize: 256 * KiB,
    fault: { kind: 'blkdebug-eio', sector: BLKDEBUG_SECTOR, op: 'read' },
  },
];

/** The default suite, in run order. */
export const DEFAULT_SUITE: readonly WorkloadSpec[] = Object.freeze(SHAPES.map(makeSpec));

/** The workloads of a hardware variant, named after it (`<hw>.<target part>.<engine>...`). */
export function hwWorkloads(v: HwVariant): WorkloadSpec[] {
  return v.shapes.map(makeSpec);
}

/** Every hardware variant's workloads, in variant order. */
export const HW_SUITE: readonly WorkloadSpec[] = Object.freeze(HW_VARIANTS.flatMap(hwWorkloads));

/**
 * The suite for `--hw` names: the default suite plus each named variant's workloads ('all':
 * every variant). An unknown name is a RangeError naming the known ones.
 */
export function suiteWithHw(names: readonly string[]): WorkloadSpec[] {
  const wanted = names.includes('all') ? HW_VARIANTS : names.map((n) => {
    const v = hwVariant(n);
    if (!v) throw new RangeError(`unknown hardware variant '${n}' (known: ${HW_VARIANTS.map((x) => x.name).join(', ')}, all)`);
    return v;
  });
  return [...DEFAULT_SUITE, ...wanted.flatMap(hwWorkloads)];
}

/** Every workload pinlab knows (the default suite and every variant's), e.g. to look a name up. */
export const ALL_WORKLOADS: readonly WorkloadSpec[] = Object.freeze([...DEFAULT_SUITE, ...HW_SUITE]);

/**
 * Read limit of a disk that carries a fork-race workload: 1 MiB then takes ~330 ms to arrive, so
 * a fork 20 ms after the read started (FORK_DELAY_US) falls between the page lookup and the
 * data: the window where a kernel that takes references instead of pins loses the read.
 * Without it the read finished before the fork in all but a few of 20 attempts (hitWindow 0 in
 * 7 of 8 runs measured on stock-6.1), and the reproducer never reproduced. The
 * cleaned-in-flight fault needs the same window, for writeback.
 */
export const FORK_RACE_THROTTLE = { bpsRead: 3 * MiB } as const;

/** Targets whose disk must be read-throttled (fork races, reads cleaned in flight), from a list of workloads. */
export function forkRaceTargets(specs: readonly WorkloadSpec[]): Target[] {
  return [...new Set(specs.filter((s) => s.engine === 'fork-race' || s.fault?.kind === 'cleaned-in-flight').map((s) => s.target))];
}

/** QEMU blkdebug rules implied by a list of workloads (the VM configures them at boot). */
export function blkdebugRules(specs: readonly WorkloadSpec[]): { target: Target; sector: number; op: 'read' | 'write' }[] {
  const rules: { target: Target; sector: number; op: 'read' | 'write' }[] = [];
  for (const s of specs) {
    if (s.fault?.kind === 'blkdebug-eio') rules.push({ target: s.target, sector: s.fault.sector, op: s.fault.op });
  }
  return rules;
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/**
 * Name filter: comma-separated patterns; a workload is kept when any positive pattern matches
 * and no `!pattern` does. A pattern with * or ? must match the whole name; a plain word matches
 * a dot-separated part or prefix of parts (`ext4`, `psync`, `raw-virtio.psync`).
 */
export function matchesFilter(name: string, filter: string): boolean {
  const patterns = filter
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const test = (p: string): boolean => {
    if (/[*?]/.test(p)) return globToRegExp(p).test(name);
    return `.${name}.`.includes(`.${p}.`);
  };
  const positive = patterns.filter((p) => !p.startsWith('!'));
  const negative = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
  if (negative.some(test)) return false;
  return positive.length === 0 || positive.some(test);
}

export interface Shard {
  /** 1-based index of this shard */
  k: number;
  /** number of shards */
  n: number;
}

/** Parse "K/N" (as on the command line). Returns an error string for a bad spelling. */
export function parseShard(text: string): Shard | string {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) return `shard '${text}': expected K/N, e.g. 1/3`;
  const k = Number(m[1]);
  const n = Number(m[2]);
  if (n < 1 || k < 1 || k > n) return `shard '${text}': need 1 <= K <= N`;
  return { k, n };
}

/**
 * The workloads to run: the default suite (or `suite`), filtered by name, then split round-robin
 * into shards over the filtered list, so every selected workload lands in exactly one shard and
 * neighbouring (similar-cost) workloads spread over shards.
 */
export function selectWorkloads(filter?: string, shard?: Shard, suite: readonly WorkloadSpec[] = DEFAULT_SUITE): WorkloadSpec[] {
  const picked = filter ? suite.filter((s) => matchesFilter(s.name, filter)) : [...suite];
  if (!shard) return picked;
  if (!Number.isInteger(shard.k) || !Number.isInteger(shard.n) || shard.n < 1 || shard.k < 1 || shard.k > shard.n) {
    throw new RangeError(`shard ${shard.k}/${shard.n}: need integers 1 <= k <= n`);
  }
  return picked.filter((_, i) => i % shard.n === shard.k - 1);
}
