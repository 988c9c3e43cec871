// One guest session, the only boot sequence: guest image -> accelerator -> VM spec -> boot to
// readiness, and the guest shut down however the session ends (the teardown is registered before
// the boot, so a setup that fails half-way or an interrupt still ends it). `pinlab boot`, the run
// (and so repro) and bench boot through here; the spec alone (vmSpecFor) serves --dry-run and
// repro bundles.
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { cmdlineWord } from '../boot-protocol.js';
import { BASE_CMDLINE, repoRoot } from '../config.js';
import type { RunContext } from '../context.js';
import { bootFormOf, type BootForm } from '../kernel/boot-form.js';
import { missingModulesOf } from '../kernel/image.js';
import { inPhase, silentPhases, type PhaseEvents } from '../progress.js';
import { blkdebugRules, FORK_RACE_THROTTLE, forkRaceTargets } from '../workloads/catalogue.js';
import { bufferBacking } from '../workloads/buffers.js';
import type { WorkloadSpec } from '../workloads/types.js';
import { disksOfTargets, targetRecord } from '../workloads/targets.js';
import { probeAccel } from './accel.js';
import { hostTscKhz, kernelHz } from './clock.js';
import { assertCanRunGuest, carryFiles, missing9p, prepareCarry } from './carry.js';
import { ensureBaseImage, toolsShare, type BaseImage } from './image.js';
import { bootToReady, type Vm } from './runner.js';
import { GIGANTIC_GUEST_MIB, type VmBounds } from './slots.js';
import { DEFAULT_DISKS, disksFrom, makeVmSpec, type Accel, type DiskSpec, type VmSpec } from './spec.js';

/**
 * The default disks plus those of the workloads' hardware variants (workloads/targets.ts), with
 * the workloads' blkdebug rules and throttles on the disk each target lives on.
 */
export function disksFor(runDir: string, workloads: readonly WorkloadSpec[]): DiskSpec[] {
  const wanted = disksOfTargets(workloads.map((w) => w.target));
  const disks = disksFrom(runDir, [...DEFAULT_DISKS, ...wanted.filter((d) => !DEFAULT_DISKS.some((x) => x.id === d.id))]);
  const diskOf = (target: string): string => targetRecord(target).disk;
  for (const rule of blkdebugRules(workloads)) {
    const disk = disks.find((d) => d.id === diskOf(rule.target));
    if (!disk) continue;
    disk.blkdebug = [...(disk.blkdebug ?? []), { event: rule.op === 'read' ? 'read_aio' : 'write_aio', sector: rule.sector, errno: constants.errno.EIO }];
  }
  for (const target of forkRaceTargets(workloads)) {
    const disk = disks.find((d) => d.id === diskOf(target));
    if (disk) disk.throttle = { ...FORK_RACE_THROTTLE };
  }
  return disks;
}

/**
 * `pinlab.modules=` for the guest init: the on-demand modules of an image kernel that these
 * workloads' targets need (their requirements name the modules), so a run without a SCSI disk
 * or a device-mapper stack loads neither.
 */
export function onDemandWords(boot: Pick<BootForm, 'onDemandModules'>, workloads: readonly WorkloadSpec[]): string[] {
  const shipped = boot.onDemandModules;
  if (shipped.length === 0) return [];
  const needed = new Set(workloads.flatMap((w) => targetRecord(w.target).requires.flatMap((r) => (r.module ? [r.module] : []))));
  const load = shipped.filter((m) => needed.has(m));
  return load.length ? [cmdlineWord('modules', load)] : [];
}

/** The dax workload's persistent memory: its size and where it sits in guest RAM. */
export const PMEM_MIB = 64;
export const PMEM_AT_MIB = 256;

/**
 * What a 1 GiB-page buffer (hugetlb-1g) asks of the VM: one gigantic page reserved at boot (it
 * cannot be allocated later in a small guest) and the RAM to hold it beside the rest (a 2 GiB
 * guest could not: QEMU's initrd sits in its only 1 GiB-aligned GiB); nothing for workloads
 * without one. Pure.
 */
export function giganticPages(workloads: readonly WorkloadSpec[]): { words: string[]; memoryMiB?: number } {
  if (!workloads.some((w) => bufferBacking(w.buffer).allocation === 'hugetlb-1g')) return { words: [] };
  return { words: ['hugepagesz=1G', 'hugepages=1'], memoryMiB: GIGANTIC_GUEST_MIB };
}

/**
 * The vsyscall page readable (vsyscall=emulate) when a gate-page workload runs: GUP serves it from
 * get_gate_page, and the default mode (xonly) maps nothing there. Nothing for other workloads. Pure.
 */
export function gatePageWords(workloads: readonly WorkloadSpec[]): string[] {
  return workloads.some((w) => w.fault?.kind === 'gate-page') ? ['vsyscall=emulate'] : [];
}

/**
 * Persistent memory when a dax workload runs: 64 MiB of guest RAM at 256 MiB marked as legacy
 * pmem (e820 type 12, memmap=nn!ss): /dev/pmem0, with struct pages (ZONE_DEVICE) for DAX.
 * Below the initramfs QEMU loads at the top of RAM, above the kernel. Nothing for other
 * workloads. Pure.
 */
export function persistentMemoryWords(workloads: readonly WorkloadSpec[]): string[] {
  return workloads.some((w) => w.fault?.kind === 'dax') ? [`memmap=${PMEM_MIB}M!${PMEM_AT_MIB}M`] : [];
}

/** The config beside a kernel file ('' when there is none: unknown). */
function configBeside(kernel: string): string {
  try {
    return readFileSync(join(dirname(kernel), 'config'), 'utf8');
  } catch {
    return '';
  }
}

/** The 9p symbol this kernel lacks (then the guest's files travel in the initramfs: carry.ts), or undefined. */
export function kernelMissing9p(kernel: string): string | undefined {
  return missing9p(configBeside(kernel), missingModulesOf(kernel));
}

/**
 * The VM for a kernel and its workloads (their disks, fault rules and throttles). A TCG guest
 * gets the host TSC rate (hostTscKhz: measured on the first call in the process) unless the
 * caller passes one (plans pass a placeholder, and stay pure).
 */
export function vmSpecFor(
  kernel: string,
  vmDir: string,
  baseInitrd: string,
  opts: { accel: Accel; cmdline: readonly string[]; workloads: readonly WorkloadSpec[]; tools?: ReturnType<typeof toolsShare>; tscKhz?: number | string; bounds?: VmBounds },
): VmSpec {
  // a kernel without 9p gets the repository and the tools in the initramfs instead (carry.ts)
  const carry = kernelMissing9p(kernel) ? carryFiles({ dir: dirname(baseInitrd) }, vmDir) : undefined;
  const boot = bootFormOf(kernel);
  const gigantic = giganticPages(opts.workloads);
  const memoryMiB = Math.max(opts.bounds?.memoryMiB ?? 0, gigantic.memoryMiB ?? 0);
  const spec = makeVmSpec({
    kernel: boot.kernel,
    runDir: vmDir,
    baseInitrd,
    ...(carry ? {} : { repoDir: repoRoot, toolsShare: opts.tools }),
    accel: opts.accel,
    // one host thread for the vCPUs when several VMs share the host (vm/slots.ts)
    tcgSingleThread: boot.tcgSingleThread || opts.bounds?.hostThreads === 1,
    ...(memoryMiB ? { memoryMiB } : {}),
    disks: disksFor(vmDir, opts.workloads),
    baseCmdline: BASE_CMDLINE,
    extraCmdline: [...opts.cmdline, ...onDemandWords(boot, opts.workloads), ...gigantic.words, ...gatePageWords(opts.workloads), ...persistentMemoryWords(opts.workloads)],
    tscKhz: 'tscKhz' in opts ? opts.tscKhz : opts.accel === 'tcg' ? hostTscKhz() : undefined,
    kernelHz: kernelHz(kernel),
  });
  // a prebuilt image's modules travel beside its bzImage (kernel/image.ts)
  spec.initrd.push(...boot.initrds, ...(carry ? [carry.tools, carry.repo] : []));
  return spec;
}

export interface VmRequest {
  /** the bzImage to boot */
  kernel: string;
  /** the first guest's directory (console log, disks, sockets) */
  vmDir: string;
  /** extra kernel command line words */
  cmdline: readonly string[];
  /** the workloads the guest is for: its disks, fault rules and throttles follow from them */
  workloads: readonly WorkloadSpec[];
  /** known already (bench boots many times in one process); otherwise looked up */
  image?: BaseImage;
  accel?: Accel;
  /** where the 'guest image' and 'boot' phases go (default: nowhere) */
  events?: PhaseEvents;
  /** called with the spec once it is known, before the boot */
  beforeBoot?: (spec: VmSpec) => void;
  /** what this VM may use when several run at once (vm/slots.ts) */
  bounds?: VmBounds;
}

export interface VmSession {
  readonly image: BaseImage;
  readonly accel: Accel;
  /** the first guest's spec */
  readonly spec: VmSpec;
  /** the running guest (throws after shutdown, until fresh) */
  readonly vm: Vm;
  /** Shut the running guest down, if any, and boot a fresh one in vmDir with its own disks. */
  fresh(vmDir: string, phase?: string, detail?: (vm: Vm) => string): Promise<Vm>;
  /** Shut the running guest down; idempotent. */
  shutdown(): Promise<void>;
}

const readyIn = (spec: VmSpec) => (vm: Vm) => `ready in ${(vm.bootMs / 1000).toFixed(2)} s (${spec.accel})`;

async function openVm(req: VmRequest, ctx: RunContext, adopt: (s: VmSession) => void): Promise<VmSession> {
  const events = req.events ?? silentPhases;
  const image = req.image ?? (await inPhase('guest image', () => ensureBaseImage(ctx), (i) => `${(i.sizeBytes / 1e6).toFixed(0)} MB ${i.key.slice(0, 12)}`, events));
  // what no carrying replaces is said before the boot, naming the symbol
  assertCanRunGuest(configBeside(req.kernel), missingModulesOf(req.kernel));
  const accel = req.accel ?? (await probeAccel(ctx, req.kernel)).accel;
  if (kernelMissing9p(req.kernel)) await prepareCarry(image, repoRoot, req.vmDir, ctx);
  const spec = vmSpecFor(req.kernel, req.vmDir, image.cpio, { accel, cmdline: req.cmdline, workloads: req.workloads, tools: toolsShare(image), ...(req.bounds ? { bounds: req.bounds } : {}) });
  req.beforeBoot?.(spec);
  let current: Vm | undefined;
  const session: VmSession = {
    image,
    accel,
    spec,
    get vm(): Vm {
      if (!current) throw new Error('the session has no running guest');
      return current;
    },
    async fresh(vmDir, phase = 'boot', detail = readyIn(spec)) {
      await session.shutdown();
      const next: VmSpec = { ...spec, runDir: vmDir, disks: disksFor(vmDir, req.workloads) };
      current = await inPhase(phase, () => bootToReady(next, ctx), detail, events);
      return current;
    },
    async shutdown() {
      const vm = current;
      current = undefined;
      await vm?.shutdown();
    },
  };
  adopt(session);
  current = await inPhase('boot', () => bootToReady(spec, ctx), readyIn(spec), events);
  return session;
}

/** fn with a booted guest; the guest (the fresh one, if fn booted another) is shut down when fn ends, throws or is interrupted. */
export async function withVm<T>(req: VmRequest, ctx: RunContext, fn: (s: VmSession) => Promise<T>): Promise<T> {
  let session: VmSession | undefined;
  const end = ctx.teardown.add(`vm:session ${req.vmDir}`, () => session?.shutdown());
  try {
    return await fn(await openVm(req, ctx, (s) => (session = s)));
  } finally {
    await end();
  }
}
