// How many VMs run at once (--vms K) and what each may use, so K VMs never oversubscribe the
// host. A TCG guest costs one host core per vCPU thread; pinlab's VMs run TCG with one thread for
// all vCPUs when several run at once (the guest still sees its 2 vCPUs, so the workloads and
// their verdicts are those of a sequential run), so a VM takes one host core at most. Memory: the
// guest's RAM plus QEMU's own (measured: docs/benchmarks.md). Pure, but for hostCapacity().
import { availableParallelism, freemem, totalmem } from 'node:os';
import { UserError } from '../errors.js';

/** Guest RAM of one VM (vm/spec.ts makeVmSpec's default). */
export const VM_MEMORY_MIB = 1024;
/** Guest RAM of a VM that holds a 1 GiB page (a hugetlb-1g workload: vm/session.ts giganticPages). */
export const GIGANTIC_GUEST_MIB = 3072;
/** QEMU's own resident memory beside the guest's RAM, rounded up from the measured peak. */
export const QEMU_OVERHEAD_MIB = 384;
/** What one VM may take of the host: the largest guest a suite asks for, and QEMU's own. */
export const VM_FOOTPRINT_MIB = Math.max(VM_MEMORY_MIB, GIGANTIC_GUEST_MIB) + QEMU_OVERHEAD_MIB;
/** Left to the host (pinlab itself, ssh, the page cache the disks need). */
export const HOST_RESERVE_MIB = 2048;

export interface HostCapacity {
  cores: number;
  /** memory the host can give VMs now: free plus reclaimable, as os.freemem() reports it */
  availableMiB: number;
  totalMiB: number;
}

export function hostCapacity(): HostCapacity {
  return { cores: availableParallelism(), availableMiB: Math.floor(freemem() / 2 ** 20), totalMiB: Math.floor(totalmem() / 2 ** 20) };
}

/** What one of K VMs at once may use. */
export interface VmBounds {
  vms: number;
  /** host threads for the guest's vCPUs: 1 (TCG single-threaded) whenever K > 1 */
  hostThreads: number;
  memoryMiB: number;
}

/** The most VMs this host runs at once without oversubscribing its cores or memory. Pure. */
export function maxVms(host: HostCapacity): number {
  const byMemory = Math.floor((host.availableMiB - HOST_RESERVE_MIB) / VM_FOOTPRINT_MIB);
  return Math.max(1, Math.min(host.cores, byMemory));
}

/**
 * The default K: every core, as memory allows, for several kernels (a matrix, a sweep); one VM
 * for a single kernel, whose multi-threaded TCG guest already keeps every core busy (measured:
 * `--hw all` on patched-6.1, K=2/K=1 wall time 1.03, no gain; docs/benchmarks.md), so splitting
 * its suite would only add boots. Pure.
 */
export function defaultVms(host: HostCapacity, kernels = 2): number {
  return kernels > 1 ? maxVms(host) : 1;
}

/** K as asked (undefined: the default for that many kernels), refused past what the host holds. Pure. */
export function vmBounds(asked: number | undefined, host: HostCapacity, kernels = 2): VmBounds {
  const most = maxVms(host);
  const vms = asked ?? defaultVms(host, kernels);
  if (!Number.isInteger(vms) || vms < 1) throw new UserError(`--vms ${asked}: expected a whole number >= 1`);
  if (vms > most) {
    throw new UserError(`--vms ${vms}: this host runs at most ${most} at once (${host.cores} cores, ${host.availableMiB} MiB available; a VM takes 1 core and up to ${VM_FOOTPRINT_MIB} MiB)`);
  }
  return { vms, hostThreads: vms > 1 ? 1 : 2, memoryMiB: VM_MEMORY_MIB };
}

/** The line `pinlab doctor` prints. Pure. */
export function describeVms(host: HostCapacity): string {
  return `VMs at once (--vms default): ${defaultVms(host)} for several kernels (a matrix, a sweep), 1 for one kernel's suite (${host.cores} cores, ${host.availableMiB} MiB available; each VM: 1 host core when several run, ${VM_MEMORY_MIB} MiB guest RAM (${GIGANTIC_GUEST_MIB} MiB with a 1 GiB page) + ~${QEMU_OVERHEAD_MIB} MiB QEMU)`;
}

/** How K VMs are spent on N kernels: kernels side by side first, the rest splits each kernel's suite. */
export interface VmPlan {
  kernelsAtOnce: number;
  guestsPerKernel: number;
  /** what each VM may use (absent: one VM at a time, as before --vms) */
  bounds?: VmBounds;
}

/** Pure. */
export function planVms(kernels: number, b: VmBounds): VmPlan {
  if (b.vms <= 1) return { kernelsAtOnce: 1, guestsPerKernel: 1 };
  const kernelsAtOnce = Math.max(1, Math.min(b.vms, kernels));
  return { kernelsAtOnce, guestsPerKernel: Math.max(1, Math.floor(b.vms / kernelsAtOnce)), bounds: b };
}
