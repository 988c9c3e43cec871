// What a workload needs from the kernel's config, and which workloads a given config cannot run.
// Pure. Decided from the kernel's own .config (a built kernel's, or an image's /boot/config-*),
// never from its name: a workload whose requirement is off is SKIP naming the symbol.
import { FAIL_MAKE_REQUEST_FAULTS, type WorkloadSpec } from '../workloads/types.js';
import { targetRecord, type Requirement } from '../workloads/targets.js';
import type { Verdict } from '../verdict/types.js';
import { bufferBacking } from '../workloads/buffers.js';

/** CONFIG_X -> 'y' | 'm' for every symbol set on; an empty config (unknown) gives an empty map. */
export function parseKernelConfig(text: string): Map<string, string> {
  const on = new Map<string, string>();
  for (const m of text.matchAll(/^(CONFIG_\w+)=(\S+)$/gm)) on.set(m[1]!, m[2]!);
  return on;
}

export type { Requirement };

export function requirementsOf(spec: WorkloadSpec): Requirement[] {
  const req: Requirement[] = [];
  req.push(...targetRecord(spec.target).requires);
  if (spec.engine === 'libaio') req.push({ symbol: 'CONFIG_AIO', why: 'io_submit' });
  if (spec.engine === 'uring' || spec.engine === 'uring-fixed') req.push({ symbol: 'CONFIG_IO_URING', why: 'io_uring' });
  if (spec.engine === 'process-vm') req.push({ symbol: 'CONFIG_CROSS_MEMORY_ATTACH', why: 'process_vm_readv/writev' });
  if (spec.forkPin === 'gup-test-longterm') req.push({ symbol: 'CONFIG_GUP_TEST', why: 'debugfs gup_test' });
  if (spec.forkPin === 'uring-register') req.push({ symbol: 'CONFIG_IO_URING', why: 'io_uring' });
  if (spec.engine === 'udmabuf') req.push({ symbol: 'CONFIG_UDMABUF', why: '/dev/udmabuf' });
  if (spec.fault?.kind === 'gate-page') req.push({ symbol: 'CONFIG_X86_VSYSCALL_EMULATION', why: 'the vsyscall gate page' });
  if (spec.fault?.kind === 'page-status') req.push({ symbol: 'CONFIG_NUMA', why: 'move_pages(2)' });
  if (spec.fault?.kind === 'kernel-read') req.push({ symbol: 'CONFIG_MODULES', why: 'finit_module(2), whose kernel_read_file reads the file' });
  if (spec.fault?.kind === 'secretmem') req.push({ symbol: 'CONFIG_SECRETMEM', why: 'memfd_secret(2)' });
  if (spec.fault?.kind === 'dax') {
    req.push(
      { symbol: 'CONFIG_FS_DAX', why: 'DAX file mappings' },
      { symbol: 'CONFIG_X86_PMEM_LEGACY', why: 'persistent memory from memmap=', module: 'nd_e820' },
      { symbol: 'CONFIG_BLK_DEV_PMEM', why: 'the /dev/pmem0 block device', module: 'nd_pmem' },
      { symbol: 'CONFIG_EXT4_FS', why: 'the ext4 on it', module: 'ext4' },
    );
  }
  if (spec.fault?.kind === 'fork-storm' || spec.fault?.kind === 'protect-storm') req.push({ symbol: 'CONFIG_TRANSPARENT_HUGEPAGE', why: "the storm's huge-page buffer" });
  if (spec.fault?.kind === 'hugetlb-exhausted') req.push({ symbol: 'CONFIG_HUGETLBFS', why: 'the hugetlb pool (MAP_HUGETLB, MFD_HUGETLB)' });
  if (bufferBacking(spec.buffer).thp) req.push({ symbol: 'CONFIG_TRANSPARENT_HUGEPAGE', why: 'huge-page buffers' });
  if (['hugetlb', 'hugetlb-1g'].includes(bufferBacking(spec.buffer).allocation)) req.push({ symbol: 'CONFIG_HUGETLBFS', why: 'hugetlb buffers (MAP_HUGETLB)' });
  if (spec.fault && FAIL_MAKE_REQUEST_FAULTS.includes(spec.fault.kind)) {
    req.push({ symbol: 'CONFIG_FAIL_MAKE_REQUEST', why: 'fault injection (debugfs fail_make_request)' });
  }
  return req;
}

/**
 * The requirements `config` does not meet (none when the config is unknown: empty text). With
 * `loaded` (the modules the guest loads, for kernels with modules), a symbol built as a module
 * is met only when the guest loads that module: its device would never appear otherwise.
 */
export function unmetRequirements(spec: WorkloadSpec, config: ReadonlyMap<string, string>, loaded?: ReadonlySet<string>): Requirement[] {
  if (config.size === 0) return [];
  return requirementsOf(spec).flatMap((r) => {
    if (!config.has(r.symbol)) return [r];
    if (loaded && config.get(r.symbol) === 'm' && r.module && !loaded.has(r.module)) {
      return [{ ...r, why: `${r.why}: built as module ${r.module}, which the guest does not load` }];
    }
    return [];
  });
}

export function skipVerdict(spec: WorkloadSpec, unmet: readonly Requirement[]): Verdict {
  const why = `kernel config lacks ${unmet.map((r) => `${r.symbol} (${r.why})`).join(', ')}`;
  return { name: spec.name, target: spec.target, engine: spec.engine, status: 'SKIP', reasons: [], skipReason: why, path: [], pinning: 'unknown', splats: [], message: why };
}

/** Split a suite into what this kernel's config can run and SKIP verdicts for the rest. */
export function partitionByConfig(specs: readonly WorkloadSpec[], configText: string, loadedModules?: readonly string[]): { runnable: WorkloadSpec[]; skipped: Verdict[] } {
  const config = parseKernelConfig(configText);
  const loaded = loadedModules ? new Set(loadedModules.map((m) => m.replace(/-/g, '_'))) : undefined;
  const runnable: WorkloadSpec[] = [];
  const skipped: Verdict[] = [];
  for (const s of specs) {
    const unmet = unmetRequirements(s, config, loaded);
    if (unmet.length) skipped.push(skipVerdict(s, unmet));
    else runnable.push(s);
  }
  return { runnable, skipped };
}
