// What a VM is, and the QEMU argv for it. Pure: no file system access, no processes, so the argv
// can be printed by --dry-run and checked by golden tests. Host networking is never configured:
// the only ways in are a virtio-serial port bound to a unix socket in the private run directory
// and read-only 9p shares.
import { join } from 'node:path';

import { cmdlineWord, REPO_GUEST_PATH, REPO_TAG, SSH_PORT_NAME } from '../boot-protocol.js';
import { ALL_DISKS, DEFAULT_DISKS, type DiskBus, type DiskDevice, type DiskFs } from '../workloads/targets.js';

export type { DiskBus, DiskFs };
export type Accel = 'tcg' | 'kvm';

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

/** A disk of this VM: its device (workloads/targets.ts DiskDevice) and its backing file. */
export interface DiskSpec extends DiskDevice {
  file: string;
  format: 'raw';
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
  /**
   * TCG with one host thread for all vCPUs instead of one each. Under multi-threaded TCG (QEMU
   * 7.2) a vCPU can still run code another vCPU has just patched, from a translation made while
   * the int3 of text_poke_bp was there: Debian's 6.12 image trapped on such a gone int3 twice in
   * about a hundred boots (README, Boot time of a distribution kernel).
   */
  tcgSingleThread?: boolean;
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

/**
 * Kernel command line words a TCG guest needs to be measured fairly and to boot fast. Pure.
 * - tsc=reliable, tsc_early_khz=: keep it off the jiffies clocksource (why: clock.ts).
 * - lpj=: the delay loop's rate, from the same TSC rate and the kernel's HZ (lpj = kHz * 1000 /
 *   HZ, what the boot CPU derives itself). Without it the second CPU calibrates its delay loop
 *   against jiffies ("calibrate_delay_direct() failed"): 60-160 ms of the boot, 30 ms with it.
 * - no_timer_check: skips the IO-APIC timer check (an mdelay of 10 ticks; KVM guests skip it too).
 * - noapictimer: no local APIC timer, so no calibration of it: the boot CPU counts APIC ticks
 *   against jiffies for HZ/10 ticks, and QEMU's TCG offers neither a TSC-deadline timer nor a
 *   CPUID leaf that gives the APIC's rate, so nothing can preset it. Measured here: the stretch
 *   from the alternatives patching to "smpboot: CPU0" went from ~240 ms to ~25 ms, boot to ready
 *   by ~0.2 s. The tick then comes from the PIT (the config has no ACPI, so no HPET), periodic
 *   at HZ=250 and broadcast to the second CPU: no high-resolution timers and no NO_HZ idle in
 *   the guest (timers have 4 ms resolution); clocks and I/O latencies still read the TSC. No
 *   verdict depends on sub-tick timers: the suite and --hw all judge the same with it.
 * - nopku: QEMU's TCG flushes its soft TLB whenever a vCPU restores PKRU, which the kernel does
 *   on the context switches of any process that allocated a protection key. Node (V8) does, and
 *   measured here it cost a plain AIO loop inside the node process ~40 % of its IOPS against the
 *   same loop in a C program (fio pays nothing). Pinning does not depend on PKU.
 * KVM guests need none of it.
 */
export function tcgGuestCmdline(accel: Accel, tscKhz: number | string | undefined, kernelHz?: number): string[] {
  if (accel !== 'tcg') return [];
  const lpj = tscKhz === undefined || kernelHz === undefined ? undefined : typeof tscKhz === 'number' ? String(Math.round((tscKhz * 1000) / kernelHz)) : `<${tscKhz}*1000/${kernelHz}>`;
  return ['tsc=reliable', ...(tscKhz === undefined ? [] : [`tsc_early_khz=${tscKhz}`]), ...(lpj === undefined ? [] : [`lpj=${lpj}`]), 'no_timer_check', 'noapictimer', 'nopku'];
}

/** Kernel command line words telling the guest's init what to set up (parsed by images/init). */
export function guestCmdline(disks: readonly DiskSpec[], shares: readonly ShareSpec[]): string[] {
  const words: string[] = [];
  if (disks.length > 0) words.push(cmdlineWord('disks', disks.map((d) => `${guestSerial(d, disks)}:${d.id}:${d.fs}`)));
  if (shares.length > 0) words.push(cmdlineWord('shares', shares.map((s) => `${s.tag}:${s.guestPath}`)));
  return words;
}

/** NVMe namespaces of one controller: nsid by their order among the VM's disks. */
function nsidOf(disk: DiskDevice, disks: readonly DiskDevice[]): number {
  if (!disk.controller) return 1;
  return disks.filter((d) => d.controller === disk.controller).indexOf(disk) + 1;
}

/** The name images/init finds a disk by: its serial, SERIAL~N for NVMe namespace N > 1. */
export function guestSerial(disk: DiskDevice, disks: readonly DiskDevice[]): string {
  const nsid = nsidOf(disk, disks);
  return nsid > 1 ? `${disk.serial}~${nsid}` : disk.serial;
}

function propList(props: Readonly<Record<string, string | number>> | undefined): string {
  return Object.entries(props ?? {})
    .map(([k, v]) => `,${k}=${optValue(String(v))}`)
    .join('');
}

/**
 * What a virtio-blk or scsi-hd disk does when the host cannot store a write (or read): report
 * it to the guest as an I/O error. QEMU's default for ENOSPC is to pause the VM, which a full
 * host disk turns into a guest that hangs with no word on the console.
 */
const HOST_IO_ERRORS = ',werror=report,rerror=report';

/** The -device options of the VM's disks (controllers once, before their namespaces/disks). */
export function diskDevices(disks: readonly DiskSpec[]): string[] {
  const argv: string[] = [];
  const controllers = new Set<string>();
  disks.forEach((disk, i) => {
    const drive = `drive=disk${i}`;
    const serial = optValue(disk.serial);
    switch (disk.bus) {
      case 'virtio':
        argv.push('-device', `virtio-blk-pci,${drive},serial=${serial}${propList(disk.props)}${HOST_IO_ERRORS}`);
        return;
      case 'nvme':
        if (!disk.controller) {
          argv.push('-device', `nvme,${drive},serial=${serial}${propList(disk.controllerProps)}${propList(disk.props)}`);
          return;
        }
        if (!controllers.has(disk.controller)) {
          controllers.add(disk.controller);
          argv.push('-device', `nvme,id=nvme-${disk.controller},serial=${serial}${propList(disk.controllerProps)}`);
        }
        argv.push('-device', `nvme-ns,${drive},bus=nvme-${disk.controller},nsid=${nsidOf(disk, disks)}${propList(disk.props)}`);
        return;
      case 'scsi':
        if (!controllers.has('scsi')) {
          controllers.add('scsi');
          argv.push('-device', 'virtio-scsi-pci,id=scsi0');
        }
        argv.push('-device', `scsi-hd,${drive},bus=scsi0.0,serial=${serial},product=${serial}${propList(disk.props)}${HOST_IO_ERRORS}`);
        return;
    }
  });
  return argv;
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
  const accel = spec.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', `tcg,thread=${spec.tcgSingleThread ? 'single' : 'multi'}`, '-cpu', 'max'];
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
  });
  argv.push(...diskDevices(spec.disks));
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

export { DEFAULT_DISKS };

export function defaultDisks(runDir: string, sizeMiB: number = DEFAULT_DISK_MIB): DiskSpec[] {
  return disksFrom(runDir, DEFAULT_DISKS, sizeMiB);
}

/** Backing files in the run directory for these devices. */
export function disksFrom(runDir: string, devices: readonly DiskDevice[], sizeMiB: number = DEFAULT_DISK_MIB): DiskSpec[] {
  return devices.map((d) => ({ ...d, format: 'raw', file: join(runDir, `disk-${d.id}.raw`), sizeMiB }));
}

export { ALL_DISKS };

// defined in boot-protocol.ts; importable from here too for the VM code that names them so
export { REPO_GUEST_PATH, REPO_TAG };

export interface VmOptions {
  kernel: string;
  runDir: string;
  /** the cached base initramfs (ensureBaseImage) */
  baseInitrd: string;
  /** 9p shares: the repo tree (mounted at /pinlab) and the image's tools tree */
  repoDir?: string;
  toolsShare?: ShareSpec;
  accel?: Accel;
  tcgSingleThread?: boolean;
  memoryMiB?: number;
  cpus?: number;
  disks?: DiskSpec[];
  diskSizeMiB?: number;
  /** kernel command line: BASE_CMDLINE from config.ts, then user words */
  baseCmdline: readonly string[];
  extraCmdline?: readonly string[];
  /** the host TSC rate (TCG: see clock.ts), or a placeholder in plans */
  tscKhz?: number | string;
  /** the guest kernel's CONFIG_HZ, when known (TCG: lpj=, see tcgGuestCmdline) */
  kernelHz?: number;
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
    cmdline: [...o.baseCmdline, ...tcgGuestCmdline(o.accel ?? 'tcg', o.tscKhz, o.kernelHz), ...guestCmdline(disks, shares), ...(o.extraCmdline ?? [])],
    memoryMiB: o.memoryMiB ?? 1024,
    cpus: o.cpus ?? 2,
    accel: o.accel ?? 'tcg',
    ...(o.tcgSingleThread ? { tcgSingleThread: true } : {}),
    disks,
    shares,
    runDir: o.runDir,
    bootTimeoutMs: o.bootTimeoutMs ?? DEFAULT_BOOT_TIMEOUT_MS,
  };
}
