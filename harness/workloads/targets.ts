// Targets and hardware as data: one record per disk (the QEMU device and how the guest finds it),
// one per target (the disk or stack a workload's I/O goes to, the engines it takes, the kernel
// functions that prove the path, the config it needs), and one per hardware variant (extra
// disks, their targets and the workloads that run there). The catalogue, the guest runner
// (targetEnv, prepareTarget), the VM spec (disks -> QEMU devices), the engine's validation and
// the config requirements all read these records, so a new target is one row here plus its
// guest set-up. Pure data; imported by host and guest code.
import type { Engine, WorkloadSpec } from './types.js';

export type DiskBus = 'virtio' | 'nvme' | 'scsi';
export type DiskFs = 'raw' | 'ext4' | 'ext2' | 'vfat' | 'reiserfs' | 'zonefs';

/** One emulated disk: /dev/pinlab/<id> in the guest, mounted at /mnt/<id> when fs is not raw. */
export interface DiskDevice {
  id: string;
  bus: DiskBus;
  /**
   * How the guest finds it: the virtio/NVMe serial, the SCSI product (model) name. <= 16 bytes.
   * NVMe namespaces of one controller share the serial and differ by nsid.
   */
  serial: string;
  fs: DiskFs;
  /** QEMU properties of the disk's device (virtio-blk-pci, nvme-ns or scsi-hd) */
  props?: Readonly<Record<string, string | number>>;
  /** NVMe: the controller's own properties (mdts, max_ioqpairs, ...) */
  controllerProps?: Readonly<Record<string, string | number>>;
  /** NVMe: namespaces of one controller name it here (nsid 1, 2, ... in the order of the disks) */
  controller?: string;
}

export interface Requirement {
  /** the symbol that must be y or m */
  symbol: string;
  why: string;
  /** its module name: a kernel that has it as a module must load it in the guest */
  module?: string;
}

/**
 * How the guest reaches a target:
 *  raw: the block device itself; file: a file on the disk's file system; loop: a loop device
 *  (direct I/O on) over a file on the disk's file system; nvme-passthru / sg-io: passthrough
 *  ioctls on the block device; dm: a device-mapper device over the disk; zone-file: the first
 *  sequential zone's file of a zonefs (append-only: written from its start, reset before use).
 */
export type TargetKind = 'raw' | 'file' | 'loop' | 'nvme-passthru' | 'sg-io' | 'dm' | 'zone-file';

export interface TargetRecord {
  name: string;
  kind: TargetKind;
  /** the DiskDevice id it lives on */
  disk: string;
  /** the hardware variant it belongs to (absent: the default hardware) */
  hw?: string;
  /** engines it takes; absent: every block engine (not the passthrough ones) */
  engines?: readonly Engine[];
  /** groups of "any of" names that prove a read/write of it reached Direct I/O on user memory */
  paths: readonly (readonly string[])[];
  requires: readonly Requirement[];
  /** loop: the loop device's logical block size */
  loopBlockSize?: number;
  /** dm: the table type over the disk */
  dm?: 'linear' | 'crypt';
}

/** Engines that drive their own passthrough target only. */
export const PASSTHROUGH_ENGINES: readonly Engine[] = ['passthru', 'sg-io'];

/** The engines a target takes. */
export function enginesOf(t: TargetRecord): readonly Engine[] | 'block' {
  return t.engines ?? 'block';
}

export const PIN_GROUP: readonly string[] = ['bio_iov_iter_get_pages', 'iov_iter_pin_pages', 'iov_iter_extract_pages'];
export const BLKDEV_GROUP: readonly string[] = ['blkdev_read_iter', 'blkdev_write_iter'];
/** blk-map's user-pages path of every passthrough (NVMe, SG_IO) */
export const MAP_USER_GROUPS: readonly (readonly string[])[] = [['blk_rq_map_user_iov'], ['bio_map_user_iov']];
/** names that only run once user pages are looked up (absent from entry-only paths) */
export const PAGE_LOOKUP_NAMES: ReadonlySet<string> = new Set([...PIN_GROUP, 'bio_map_user_iov']);

const VIRTIO_BLK: Requirement = { symbol: 'CONFIG_VIRTIO_BLK', why: 'the virtio-blk disk', module: 'virtio_blk' };
const NVME: Requirement = { symbol: 'CONFIG_BLK_DEV_NVME', why: 'the NVMe disk', module: 'nvme' };
const EXT4: Requirement = { symbol: 'CONFIG_EXT4_FS', why: 'the ext4 file system', module: 'ext4' };
const LOOP: Requirement = { symbol: 'CONFIG_BLK_DEV_LOOP', why: 'the loop device', module: 'loop' };
const SCSI: Requirement[] = [
  { symbol: 'CONFIG_SCSI_VIRTIO', why: 'the virtio-scsi host', module: 'virtio_scsi' },
  { symbol: 'CONFIG_BLK_DEV_SD', why: 'the SCSI disk driver (sd)', module: 'sd_mod' },
];
const DM: Requirement = { symbol: 'CONFIG_BLK_DEV_DM', why: 'device-mapper', module: 'dm_mod' };

const KiB = 1024;

/** The zoned namespace's zone size: a zonefs sequential file holds at most this much. */
export const ZONE_MIB = 4;

/** The default hardware: raw virtio, ext4, ext2, vfat on virtio, raw NVMe (images/README.md). */
export const DEFAULT_DISKS: readonly DiskDevice[] = [
  { id: 'raw-virtio', bus: 'virtio', serial: 'pinlab-raw', fs: 'raw' },
  { id: 'ext4', bus: 'virtio', serial: 'pinlab-ext4', fs: 'ext4' },
  { id: 'ext2', bus: 'virtio', serial: 'pinlab-ext2', fs: 'ext2' },
  { id: 'vfat', bus: 'virtio', serial: 'pinlab-vfat', fs: 'vfat' },
  { id: 'raw-nvme', bus: 'nvme', serial: 'pinlab-nvme', fs: 'raw' },
];

/**
 * Disks of default targets attached only when a workload on them runs, so that a kernel without
 * their file system (its workloads SKIP on the config) boots without them.
 */
export const ON_DEMAND_DISKS: readonly DiskDevice[] = [
  { id: 'reiserfs', bus: 'virtio', serial: 'pinlab-reiser', fs: 'reiserfs' },
  // a zoned NVMe namespace (ZNS) of sequential-write-required zones, zonefs on it (vm/mkzonefs.ts)
  { id: 'zns', bus: 'nvme', serial: 'pinlab-zns', fs: 'zonefs', controller: 'zns', props: { zoned: 'true', 'zoned.zone_size': `${ZONE_MIB}M` } },
];

/** A raw block device target (block/fops.c). */
function rawTarget(name: string, disk: string, requires: Requirement[], extra: Partial<TargetRecord> = {}): TargetRecord {
  return { name, kind: 'raw', disk, paths: [BLKDEV_GROUP, PIN_GROUP], requires, ...extra };
}

function nvmePassthru(name: string, disk: string, hw?: string): TargetRecord {
  return { name, kind: 'nvme-passthru', disk, ...(hw ? { hw } : {}), engines: ['passthru'], paths: [['nvme_submit_user_cmd'], ...MAP_USER_GROUPS], requires: [NVME] };
}

export const DEFAULT_TARGETS: readonly TargetRecord[] = [
  rawTarget('raw-virtio', 'raw-virtio', [VIRTIO_BLK]),
  rawTarget('raw-nvme', 'raw-nvme', [NVME]),
  { name: 'ext4', kind: 'file', disk: 'ext4', paths: [['iomap_dio_rw', '__iomap_dio_rw'], PIN_GROUP], requires: [EXT4] },
  // ext2's own driver (fs/direct-io.c on 6.1): ext4 serving ext2 (CONFIG_EXT4_USE_FOR_EXT2)
  // reaches iomap instead, a path the ext4 workloads already cover
  {
    name: 'ext2',
    kind: 'file',
    disk: 'ext2',
    paths: [['__blockdev_direct_IO', 'iomap_dio_rw', '__iomap_dio_rw']],
    requires: [{ symbol: 'CONFIG_EXT2_FS', why: "ext2's own driver (with CONFIG_EXT4_USE_FOR_EXT2 ext4 serves ext2, another path)" }],
  },
  { name: 'vfat', kind: 'file', disk: 'vfat', paths: [['__blockdev_direct_IO']], requires: [{ symbol: 'CONFIG_VFAT_FS', why: 'the vfat file system' }] },
  // fs/direct-io.c on 6.7+ beside vfat: the one such file system whose block map has holes and
  // marks mapping boundaries (the last block of an indirect item), where a bio is sent at once
  {
    name: 'reiserfs',
    kind: 'file',
    disk: 'reiserfs',
    paths: [['__blockdev_direct_IO']],
    requires: [{ symbol: 'CONFIG_REISERFS_FS', why: 'the reiserfs file system (deprecated; gone in 6.13)', module: 'reiserfs' }],
  },
  { name: 'loop', kind: 'loop', disk: 'ext4', paths: [['lo_rw_aio'], BLKDEV_GROUP, PIN_GROUP], requires: [LOOP, { symbol: 'CONFIG_EXT4_FS', why: 'the ext4 file backing the loop device' }] },
  nvmePassthru('nvme-passthru', 'raw-nvme'),
  // zonefs: 6.1 writes a sequential file with REQ_OP_ZONE_APPEND bios of the user pages
  // (zonefs_file_dio_append, bio_iov_add_zone_append_page); 6.12 with regular iomap writes
  {
    name: 'zonefs',
    kind: 'zone-file',
    disk: 'zns',
    engines: ['psync', 'psyncv'],
    paths: [['zonefs_file_dio_append', 'zonefs_file_dio_write', 'iomap_dio_rw', '__iomap_dio_rw'], PIN_GROUP],
    requires: [
      NVME,
      { symbol: 'CONFIG_BLK_DEV_ZONED', why: 'zoned block devices (the ZNS namespace)' },
      { symbol: 'CONFIG_ZONEFS_FS', why: 'the zonefs file system', module: 'zonefs' },
    ],
  },
  // 4 KiB logical blocks (the virtio-lbs4k variant's disk, attached only when a workload needs it)
  rawTarget('raw-lbs4k', 'virtio-lbs4k', [VIRTIO_BLK]),
  // SCSI passthrough (SG_IO) on the scsi variant's disk: blk_rq_map_user_iov without NVMe's virt
  // boundary, which turns sub-page segments into a copy
  { name: 'sg-io', kind: 'sg-io', disk: 'scsi-hd', engines: ['sg-io'], paths: [['sg_io', 'scsi_ioctl', 'sd_ioctl'], ...MAP_USER_GROUPS], requires: SCSI },
];

/** The shape of one workload (the catalogue turns it into a WorkloadSpec). */
export interface Shape {
  target: string;
  engine: Engine;
  buffer?: import('./types.js').BufferKind;
  blockSize?: number;
  size?: number;
  queueDepth?: number;
  segments?: number;
  fault?: import('./types.js').Fault;
  repeat?: number;
  segmentOrder?: import('./types.js').SegmentOrder;
  ringMemory?: 'user';
  pipePages?: number;
  freshProcess?: boolean;
  forkPin?: WorkloadSpec['forkPin'];
  /** a name part after the buffer kind, for shapes that differ only in size or layout */
  variant?: string;
}

/** A named set of emulated hardware with the workloads that exercise what only it can show. */
export interface HwVariant {
  name: string;
  /** what it exercises, for `pinlab hw` and the README */
  exercises: string;
  disks: readonly DiskDevice[];
  targets: readonly TargetRecord[];
  shapes: readonly Shape[];
}

/** NVMe MDTS of the small-transfer variant: 2^3 x 4 KiB pages = 32 KiB per command. */
export const SMALL_MDTS = 3;
export const SMALL_MDTS_BYTES = 2 ** SMALL_MDTS * 4 * KiB;

const hw = (name: string, v: Omit<HwVariant, 'name' | 'targets'> & { targets: Omit<TargetRecord, 'hw'>[] }): HwVariant => ({
  name,
  exercises: v.exercises,
  disks: v.disks,
  targets: v.targets.map((t) => ({ ...t, hw: name })),
  shapes: v.shapes,
});

const LBS4K = { logical_block_size: 4096, physical_block_size: 4096 };

export const HW_VARIANTS: readonly HwVariant[] = [
  hw('virtio-lbs4k', {
    exercises: 'virtio-blk with 4 KiB logical blocks: Direct I/O in whole 4 KiB blocks; 512-byte misaligned I/O is rejected with EINVAL before any page is pinned',
    disks: [{ id: 'virtio-lbs4k', bus: 'virtio', serial: 'pinlab-v4k', fs: 'raw', props: LBS4K }],
    targets: [rawTarget('virtio-lbs4k.raw', 'virtio-lbs4k', [VIRTIO_BLK])],
    shapes: [
      { target: 'virtio-lbs4k.raw', engine: 'psync', blockSize: 4 * KiB, size: 256 * KiB },
      { target: 'virtio-lbs4k.raw', engine: 'psyncv' },
      { target: 'virtio-lbs4k.raw', engine: 'psync', fault: { kind: 'misaligned', what: 'offset', by: 512 } },
      { target: 'virtio-lbs4k.raw', engine: 'psyncv', fault: { kind: 'misaligned', what: 'length', by: 512 } },
    ],
  }),
  hw('nvme-lbs4k', {
    exercises: 'NVMe namespace with 4 KiB LBAs: block-device Direct I/O and passthrough in 4 KiB LBAs',
    disks: [{ id: 'nvme-lbs4k', bus: 'nvme', serial: 'pinlab-n4k', fs: 'raw', props: LBS4K }],
    targets: [rawTarget('nvme-lbs4k.raw', 'nvme-lbs4k', [NVME]), nvmePassthru('nvme-lbs4k.nvme-passthru', 'nvme-lbs4k')],
    shapes: [
      { target: 'nvme-lbs4k.raw', engine: 'psync' },
      { target: 'nvme-lbs4k.raw', engine: 'psync', fault: { kind: 'misaligned', what: 'offset', by: 512 } },
      { target: 'nvme-lbs4k.nvme-passthru', engine: 'passthru', blockSize: 64 * KiB },
    ],
  }),
  hw('nvme-mdts', {
    exercises: `NVMe with MDTS ${SMALL_MDTS} (${SMALL_MDTS_BYTES / KiB} KiB per command): Direct I/O bios split to the limit; passthrough above it fails with EINVAL after blk-map fills a bio, and must release the pages it could not add`,
    disks: [{ id: 'nvme-mdts', bus: 'nvme', serial: 'pinlab-nmdts', fs: 'raw', controllerProps: { mdts: SMALL_MDTS } }],
    targets: [rawTarget('nvme-mdts.raw', 'nvme-mdts', [NVME]), nvmePassthru('nvme-mdts.nvme-passthru', 'nvme-mdts')],
    shapes: [
      { target: 'nvme-mdts.raw', engine: 'psync', blockSize: 256 * KiB },
      { target: 'nvme-mdts.raw', engine: 'libaio', blockSize: 128 * KiB },
      { target: 'nvme-mdts.nvme-passthru', engine: 'passthru', blockSize: SMALL_MDTS_BYTES, size: 256 * KiB },
      { target: 'nvme-mdts.nvme-passthru', engine: 'passthru', blockSize: SMALL_MDTS_BYTES, size: 256 * KiB, fault: { kind: 'over-limit', bytes: 4 * SMALL_MDTS_BYTES } },
    ],
  }),
  hw('nvme-2ns', {
    exercises: 'NVMe controller with two namespaces and four I/O queue pairs: Direct I/O on the second namespace, completions on several queues',
    disks: [
      { id: 'nvme-ns1', bus: 'nvme', serial: 'pinlab-n2ns', fs: 'raw', controller: 'n2ns', controllerProps: { max_ioqpairs: 4 } },
      { id: 'nvme-ns2', bus: 'nvme', serial: 'pinlab-n2ns', fs: 'raw', controller: 'n2ns' },
    ],
    targets: [rawTarget('nvme-2ns.ns2', 'nvme-ns2', [NVME]), nvmePassthru('nvme-2ns.nvme-passthru', 'nvme-ns2')],
    shapes: [
      { target: 'nvme-2ns.ns2', engine: 'psync' },
      { target: 'nvme-2ns.ns2', engine: 'uring', queueDepth: 16 },
      { target: 'nvme-2ns.nvme-passthru', engine: 'passthru', blockSize: 64 * KiB },
    ],
  }),
  hw('virtio-mq', {
    exercises: 'virtio-blk with four queues: asynchronous Direct I/O completed on several queues (and CPUs)',
    disks: [{ id: 'virtio-mq', bus: 'virtio', serial: 'pinlab-vmq', fs: 'raw', props: { 'num-queues': 4 } }],
    targets: [rawTarget('virtio-mq.raw', 'virtio-mq', [VIRTIO_BLK])],
    shapes: [
      { target: 'virtio-mq.raw', engine: 'libaio', queueDepth: 32, blockSize: 16 * KiB, size: 2 * 1024 * KiB },
      { target: 'virtio-mq.raw', engine: 'uring', queueDepth: 32, blockSize: 16 * KiB, size: 2 * 1024 * KiB },
    ],
  }),
  hw('scsi', {
    exercises: 'virtio-scsi with scsi-hd: Direct I/O through sd, and SG_IO passthrough with user buffers through blk_rq_map_user',
    disks: [{ id: 'scsi-hd', bus: 'scsi', serial: 'pinlab-scsi', fs: 'raw' }],
    targets: [
      rawTarget('scsi.raw', 'scsi-hd', SCSI),
      { name: 'scsi.sg-io', kind: 'sg-io', disk: 'scsi-hd', engines: ['sg-io'], paths: [['sg_io', 'scsi_ioctl', 'sd_ioctl'], ...MAP_USER_GROUPS], requires: SCSI },
    ],
    shapes: [
      { target: 'scsi.raw', engine: 'psync' },
      { target: 'scsi.raw', engine: 'libaio' },
      { target: 'scsi.sg-io', engine: 'sg-io', blockSize: 64 * KiB },
      { target: 'scsi.sg-io', engine: 'sg-io', blockSize: 64 * KiB, fault: { kind: 'efault-midway' } },
    ],
  }),
  hw('dm', {
    exercises: 'device-mapper: dm-linear over virtio-blk (bios cloned and split at the target boundary) and dm-crypt (bios cloned, data through bounce pages)',
    disks: [
      { id: 'dm-lower', bus: 'virtio', serial: 'pinlab-dml', fs: 'raw' },
      { id: 'dm-crypt-lower', bus: 'virtio', serial: 'pinlab-dmc', fs: 'raw' },
    ],
    targets: [
      rawTarget('dm.linear', 'dm-lower', [VIRTIO_BLK, DM], { kind: 'dm', dm: 'linear', paths: [BLKDEV_GROUP, ['dm_submit_bio'], PIN_GROUP] }),
      rawTarget('dm.crypt', 'dm-crypt-lower', [VIRTIO_BLK, DM, { symbol: 'CONFIG_DM_CRYPT', why: 'dm-crypt', module: 'dm_crypt' }, { symbol: 'CONFIG_CRYPTO_ESSIV', why: "the table's aes-cbc-essiv:sha256", module: 'essiv' }], { kind: 'dm', dm: 'crypt', paths: [BLKDEV_GROUP, ['dm_submit_bio'], ['crypt_map'], PIN_GROUP] }),
    ],
    shapes: [
      { target: 'dm.linear', engine: 'psync' },
      { target: 'dm.linear', engine: 'libaio', queueDepth: 16 },
      { target: 'dm.crypt', engine: 'psync' },
    ],
  }),
  hw('loop4k', {
    exercises: 'loop with 4 KiB logical blocks over an ext4 file: Direct I/O in whole blocks through lo_rw_aio; 512-byte misaligned I/O is rejected',
    disks: [],
    targets: [
      { name: 'loop4k.loop', kind: 'loop', disk: 'ext4', loopBlockSize: 4096, paths: [['lo_rw_aio'], BLKDEV_GROUP, PIN_GROUP], requires: [LOOP, EXT4] },
    ],
    shapes: [
      { target: 'loop4k.loop', engine: 'psync' },
      { target: 'loop4k.loop', engine: 'psync', fault: { kind: 'misaligned', what: 'offset', by: 512 } },
    ],
  }),
];

export const ALL_DISKS: readonly DiskDevice[] = [...DEFAULT_DISKS, ...ON_DEMAND_DISKS, ...HW_VARIANTS.flatMap((v) => v.disks)];
export const ALL_TARGETS: readonly TargetRecord[] = [...DEFAULT_TARGETS, ...HW_VARIANTS.flatMap((v) => v.targets)];

const TARGET_BY_NAME = new Map(ALL_TARGETS.map((t) => [t.name, t]));
const DISK_BY_ID = new Map(ALL_DISKS.map((d) => [d.id, d]));

export function targetRecord(name: string): TargetRecord {
  const t = TARGET_BY_NAME.get(name);
  if (!t) throw new RangeError(`unknown target '${name}' (known: ${[...TARGET_BY_NAME.keys()].join(', ')})`);
  return t;
}

export function diskDevice(id: string): DiskDevice {
  const d = DISK_BY_ID.get(id);
  if (!d) throw new RangeError(`unknown disk '${id}'`);
  return d;
}

export function hwVariant(name: string): HwVariant | undefined {
  return HW_VARIANTS.find((v) => v.name === name);
}

/** The disks a set of targets needs, in a stable order (default disks first). */
export function disksOfTargets(targets: Iterable<string>): DiskDevice[] {
  const ids = new Set<string>();
  for (const t of targets) {
    const rec = targetRecord(t);
    ids.add(rec.disk);
    // the namespaces of one NVMe controller come together (nsid follows their order)
    const disk = diskDevice(rec.disk);
    if (disk.controller) for (const d of ALL_DISKS) if (d.controller === disk.controller) ids.add(d.id);
  }
  return ALL_DISKS.filter((d) => ids.has(d.id));
}

/** The device-mapper name of a dm target in the guest (/dev/mapper/<name>). */
export function dmName(t: TargetRecord): string {
  return `pinlab-${t.name.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}
