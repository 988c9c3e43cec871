// What a VM is, and the QEMU argv for it. Pure: no file system access, no processes, so the argv
// can be printed by --dry-run and checked by golden tests. Host networking is never configured:
// the only ways in are a virtio-serial port bound to a unix socket in the private run directory
// and read-only 9p shares.
import { join } from 'node:path';

export type Accel = 'tcg' | 'kvm';
export type DiskBus = 'virtio' | 'nvme';
export type DiskFs = 'raw' | 'ext4' | 'ext2' | 'vfat';

/** One QEMU blkdebug rule: fail an operation with an errno (EIO by default). */
export interface BlkdebugRule {
  /** blkdebug event; read_aio / write_aio / flush_to_disk are the useful ones for Direct I/O */
  event: 'read_aio' | 'write_aio' | 'flush_to_disk';
  /** 512-byte sector the failing request must touch; omitted = any request */
  sector?: number;
  errno?: number;
  /** fail only the first matching request */
  once?: boolean;
}

/** QEMU throttle-group limits (a slow disk widens the fork-during-DIO race window). */
export interface Throttle {
  iopsTotal?: number;
  bpsTotal?: number;
  iopsRead?: number;
  bpsRead?: number;
  iopsWrite?: number;
  bpsWrite?: number;
}

export interface DiskSpec {
  /** name in the guest: /dev/pinlab/<id>, mounted at /mnt/<id> when fs is not raw */
  id: string;
  file: string;
  format: 'raw';
  bus: DiskBus;
  /** the guest finds the disk by this (virtio: <= 20 bytes) */
  serial: string;
  fs: DiskFs;
  sizeMiB: number;
  blkdebug?: BlkdebugRule[];
  throttle?: Throttle;
}

export interface ShareSpec {
  hostPath: string;
  /** 9p mount tag */
  tag: string;
  /** where the guest's init mounts it */
  guestPath: string;
  readonly: boolean;
}

export interface VmSpec {
  kernel: string;
  /** cpio archives concatenated into one initrd (the cached base first, then per-run ones) */
  initrd: string[];
  /** kernel command line words (BASE_CMDLINE + pinlab.* words from guestCmdline()) */
  cmdline: string[];
  memoryMiB: number;
  cpus: number;
  accel: Accel;
  disks: DiskSpec[];
  shares: ShareSpec[];
  /** private (0700) directory: sockets, disks, keys, console log */
  runDir: string;
  bootTimeoutMs: number;
  /** hard cap on QEMU's life (default DEFAULT_LIFETIME_MS): a forgotten VM still ends */
  lifetimeMs?: number;
  qemuBinary?: string;
  bios?: string;
}

export const QEMU_BINARY = 'qemu-system-x86_64';
export const QBOOT_ROM = '/usr/share/qemu/qboot.rom';
/** name of the virtio-serial port sshd listens on in the guest */
export const SSH_PORT_NAME = 'pinlab.ssh';

/** Files in the run directory, derived from the spec so every part agrees on them. */
export function runFiles(runDir: string) {
  return {
    console: join(runDir, 'console.log'),
    qemuLog: join(runDir, 'qemu.log'),
    sshSocket: join(runDir, 'ssh.sock'),
    initrd: join(runDir, 'initrd.cpio'),
    pid: join(runDir, 'qemu.pid'),
    clientKey: join(runDir, 'id_ed25519'),
    hostKey: join(runDir, 'ssh_host_ed25519_key'),
    runCpio: join(runDir, 'run.cpio'),
    runTree: join(runDir, 'run-tree'),
  };
}

/** The single -initrd file: the archive itself, or the run directory's concatenation. */
export function initrdFile(spec: Pick<VmSpec, 'initrd' | 'runDir'>): string {
  if (spec.initrd.length === 0) throw new Error('VmSpec.initrd is empty');
  return spec.initrd.length === 1 ? spec.initrd[0]! : runFiles(spec.runDir).initrd;
}

/** Kernel command line words telling the guest's init what to set up (parsed by images/init). */
/**
 * Kernel command line words a TCG guest needs to be measured fairly. Pure.
 * - tsc=reliable, tsc_early_khz=: keep it off the jiffies clocksource (why: clock.ts).
 * - nopku: QEMU's TCG flushes its soft TLB whenever a vCPU restores PKRU, which the kernel does
 *   on the context switches of any process that allocated a protection key. Node (V8) does, and
 *   measured here it cost a plain AIO loop inside the node process ~40 % of its IOPS against the
 *   same loop in a C program (fio pays nothing). Pinning does not depend on PKU.
 * KVM guests need none of it.
 */
export function tcgGuestCmdline(accel: Accel, tscKhz: number | string | undefined): string[] {
  if (accel !== 'tcg') return [];
  return ['tsc=reliable', ...(tscKhz === undefined ? [] : [`tsc_early_khz=${tscKhz}`]), 'nopku'];
}

export function guestCmdline(disks: readonly DiskSpec[], shares: readonly ShareSpec[]): string[] {
  const words: string[] = [];
  if (disks.length > 0) words.push(`pinlab.disks=${disks.map((d) => `${d.serial}:${d.id}:${d.fs}`).join(',')}`);
  if (shares.length > 0) words.push(`pinlab.shares=${shares.map((s) => `${s.tag}:${s.guestPath}`).join(',')}`);
  return words;
}

function blockdevNode(disk: DiskSpec, index: number): Record<string, unknown> {
  // cache=none: O_DIRECT on the host file, so guest Direct I/O reaches the backing file
  // without the host page cache in between.
  let node: Record<string, unknown> = { driver: 'file', filename: disk.file, cache: { direct: true, 'no-flush': false } };
  if (disk.blkdebug && disk.blkdebug.length > 0) {
    node = {
      driver: 'blkdebug',
      image: node,
      'inject-error': disk.blkdebug.map((r) => ({
        event: r.event,
        errno: r.errno ?? 5,
        ...(r.sector === undefined ? {} : { sector: r.sector }),
        once: r.once ?? false,
        immediately: false,
      })),
    };
  }
  node = { driver: disk.format, 'node-name': `fmt${index}`, file: node };
  if (disk.throttle) {
    node = { driver: 'throttle', 'node-name': `disk${index}`, 'throttle-group': `tg${index}`, file: node };
  } else {
    node['node-name'] = `disk${index}`;
  }
  return node;
}

function throttleObject(t: Throttle, index: number): string {
  const limits: [string, number | undefined][] = [
    ['x-iops-total', t.iopsTotal],
    ['x-bps-total', t.bpsTotal],
    ['x-iops-read', t.iopsRead],
    ['x-bps-read', t.bpsRead],
    ['x-iops-write', t.iopsWrite],
    ['x-bps-write', t.bpsWrite],
  ];
  const set = limits.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  if (set.length === 0) throw new Error(`disk ${index}: throttle without any limit`);
  return [`throttle-group`, `id=tg${index}`, ...set].join(',');
}

/** QEMU option values are comma-separated; a literal comma is written twice. */
function optValue(v: string): string {
  return v.replace(/,/g, ',,');
}

export function qemuArgv(spec: VmSpec): string[] {
  const files = runFiles(spec.runDir);
  const accel = spec.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max'];
  const argv = [
    spec.qemuBinary ?? QEMU_BINARY,
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-no-reboot',
    '-machine', 'pc',
    ...accel,
    '-smp', String(spec.cpus),
    '-m', `${spec.memoryMiB}M`,
    '-bios', spec.bios ?? QBOOT_ROM,
    '-kernel', spec.kernel,
    '-initrd', optValue(initrdFile(spec)),
    '-append', spec.cmdline.join(' '),
    '-chardev', `file,id=con,path=${optValue(files.console)}`,
    '-serial', 'chardev:con',
    '-device', 'virtio-serial-pci,id=vser0',
    '-chardev', `socket,id=ssh,path=${optValue(files.sshSocket)},server=on,wait=off`,
    '-device', `virtserialport,bus=vser0.0,chardev=ssh,name=${SSH_PORT_NAME}`,
  ];
  spec.disks.forEach((disk, i) => {
    if (disk.throttle) argv.push('-object', throttleObject(disk.throttle, i));
    argv.push('-blockdev', JSON.stringify(blockdevNode(disk, i)));
    const dev = disk.bus === 'virtio' ? 'virtio-blk-pci' : 'nvme';
    argv.push('-device', `${dev},drive=disk${i},serial=${optValue(disk.serial)}`);
  });
  spec.shares.forEach((share, i) => {
    argv.push(
      '-fsdev',
      `local,id=fs${i},path=${optValue(share.hostPath)},security_model=none,multidevs=remap${share.readonly ? ',readonly=on' : ''}`,
      '-device',
      `virtio-9p-pci,fsdev=fs${i},mount_tag=${optValue(share.tag)}`,
    );
  });
  return argv;
}

export const DEFAULT_DISK_MIB = 256;

/** The default disk set (images/README.md): raw virtio, ext4, ext2, vfat on virtio, raw NVMe. */
export const DEFAULT_DISKS: readonly Pick<DiskSpec, 'id' | 'bus' | 'serial' | 'fs'>[] = [
  { id: 'raw-virtio', bus: 'virtio', serial: 'pinlab-raw', fs: 'raw' },
  { id: 'ext4', bus: 'virtio', serial: 'pinlab-ext4', fs: 'ext4' },
  { id: 'ext2', bus: 'virtio', serial: 'pinlab-ext2', fs: 'ext2' },
  { id: 'vfat', bus: 'virtio', serial: 'pinlab-vfat', fs: 'vfat' },
  { id: 'raw-nvme', bus: 'nvme', serial: 'pinlab-nvme', fs: 'raw' },
];

export function defaultDisks(runDir: string, sizeMiB: number = DEFAULT_DISK_MIB): DiskSpec[] {
  return DEFAULT_DISKS.map((d) => ({ ...d, format: 'raw', file: join(runDir, `disk-${d.id}.raw`), sizeMiB }));
}

export const REPO_TAG = 'pinlab';
export const REPO_GUEST_PATH = '/pinlab';

export interface VmOptions {
  kernel: string;
  runDir: string;
  /** the cached base initramfs (ensureBaseImage) */
  baseInitrd: string;
  /** 9p shares: the repo tree (mounted at /pinlab) and the image's tools tree */
  repoDir?: string;
  toolsShare?: ShareSpec;
  accel?: Accel;
  memoryMiB?: number;
  cpus?: number;
  disks?: DiskSpec[];
  diskSizeMiB?: number;
  /** kernel command line: BASE_CMDLINE from config.ts, then user words */
  baseCmdline: readonly string[];
  extraCmdline?: readonly string[];
  /** the host TSC rate (TCG: see clock.ts), or a placeholder in plans */
  tscKhz?: number | string;
  bootTimeoutMs?: number;
}

export const DEFAULT_BOOT_TIMEOUT_MS = 60_000;
export const DEFAULT_LIFETIME_MS = 4 * 3600_000;

/** A VmSpec with pinlab's defaults. Pure. */
export function makeVmSpec(o: VmOptions): VmSpec {
  const disks = o.disks ?? defaultDisks(o.runDir, o.diskSizeMiB);
  const shares: ShareSpec[] = [];
  if (o.repoDir) shares.push({ hostPath: o.repoDir, tag: REPO_TAG, guestPath: REPO_GUEST_PATH, readonly: true });
  if (o.toolsShare) shares.push(o.toolsShare);
  return {
    kernel: o.kernel,
    initrd: [o.baseInitrd],
    cmdline: [...o.baseCmdline, ...tcgGuestCmdline(o.accel ?? 'tcg', o.tscKhz), ...guestCmdline(disks, shares), ...(o.extraCmdline ?? [])],
    memoryMiB: o.memoryMiB ?? 1024,
    cpus: o.cpus ?? 2,
    accel: o.accel ?? 'tcg',
    disks,
    shares,
    runDir: o.runDir,
    bootTimeoutMs: o.bootTimeoutMs ?? DEFAULT_BOOT_TIMEOUT_MS,
  };
}
