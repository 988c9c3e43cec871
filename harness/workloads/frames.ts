// The freed-frame check: after a workload has unmapped its anonymous buffers, closed its
// descriptors and given its I/O time to complete, each page those buffers had must be free
// again. One that is still anonymous, mapped by no process and outside the buddy allocator is
// held by the kernel: a page reference or a pin that was never given back. This sees leaks the
// pin counters cannot (a leaked get_page() of an ITER_BVEC or pipe page) and leaked pins too,
// with no probe and no calibration. The addon records the frames (native/freed_frames.cc); which
// of its candidates count as held, and how long to wait for deferred releases, is decided here.
import type { PinlabAddon } from './addon.js';
import type { FrameCheck } from './types.js';

/** /proc/kpageflags bits (include/uapi/linux/kernel-page-flags.h). */
export const KPF: Record<string, number> = {
  locked: 0, error: 1, referenced: 2, uptodate: 3, dirty: 4, lru: 5, active: 6, slab: 7, writeback: 8, reclaim: 9,
  buddy: 10, mmap: 11, anon: 12, swapcache: 13, swapbacked: 14, compound_head: 15, compound_tail: 16, huge: 17,
  unevictable: 18, hwpoison: 19, nopage: 20, ksm: 21, thp: 22, offline: 23, zero_page: 24, idle: 25, pgtable: 26,
};

/**
 * Pages that can stay anonymous and unmapped without a leak: in the swap cache (freed when the
 * swap slot is), under writeback (a swap-out in flight), the zero pages. Not KSM: the runner
 * never asks for merging, and 6.9+'s stable_page_flags() reports KPF_KSM for every anonymous
 * page (it tests `mapping & PAGE_MAPPING_KSM`, which the anon bit alone satisfies), so excusing
 * it would blind the check there.
 */
const EXCUSED = ['swapcache', 'writeback', 'zero_page'];

export function flagNames(flags: bigint): string[] {
  return Object.entries(KPF).filter(([, bit]) => (flags >> BigInt(bit)) & 1n).map(([name]) => name);
}

/** The candidates the addon returned that no state of a correct kernel explains. */
export function heldOf(candidates: readonly { pfn: number; flags: bigint }[]): { pfn: number; flags: string[] }[] {
  return candidates.map((c) => ({ pfn: c.pfn, flags: flagNames(c.flags) })).filter((c) => c.flags.includes('anon') && !c.flags.some((f) => EXCUSED.includes(f)));
}

export interface SettleOptions {
  /** give deferred releases this long (a bio's dirtying work, an io_uring ring's exit work) */
  deadlineMs?: number;
  pollMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /**
   * Drains every CPU's LRU batches the kernel's own way (lru_add_drain_all), tried once when pages
   * are still held at the deadline: a batch on an idle CPU is the one innocent holder the
   * addon's per-CPU drain could miss.
   */
  drainAll?: () => void;
}

/**
 * Waits until no recorded frame is held, or the deadline; then forgets the frames. Never throws:
 * a check that cannot run says why in `unavailable`.
 */
export async function settleFrames(addon: Pick<PinlabAddon, 'heldFrames' | 'clearFrames'>, opts: SettleOptions = {}): Promise<FrameCheck> {
  const now = opts.now ?? (() => performance.now());
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = opts.deadlineMs ?? 2000;
  const t0 = now();
  let drainAll = opts.drainAll;
  try {
    for (;;) {
      const { recorded, held } = addon.heldFrames();
      const kept = heldOf(held);
      const waited = now() - t0;
      if (kept.length > 0 && waited >= deadline && drainAll) {
        drainAll();
        drainAll = undefined;
        continue;
      }
      if (kept.length === 0 || waited >= deadline) {
        return { recorded, held: kept.length, sample: kept.slice(0, 8), waitedMs: Math.round(waited), ...(opts.drainAll && !drainAll ? { drainedAll: true } : {}) };
      }
      await sleep(opts.pollMs ?? 50);
    }
  } catch (e) {
    return { recorded: 0, held: 0, sample: [], waitedMs: Math.round(now() - t0), unavailable: e instanceof Error ? e.message : String(e) };
  } finally {
    addon.clearFrames();
  }
}
