// Each engine as the workload plans and runs it: whether it splits an operation into segments,
// which direction it leaves to buffered I/O (see engines.ts), and the addon call that runs one
// batch of operations with it.
import type { BatchResult, Direction, IoOp, PinlabAddon } from './addon.js';
import type { Engine, WorkloadSpec } from './types.js';

/** Engines that split each operation's block into `spec.segments` iovec segments. */
export const SEGMENTED: ReadonlySet<Engine> = new Set(['psyncv', 'libaio', 'uring', 'splice-read', 'vmsplice-write', 'sg-io', 'process-vm']);

/** The direction an engine does with buffered I/O instead of itself. */
export function helperDirection(engine: Engine): Direction | undefined {
  switch (engine) {
    case 'splice-read':
    case 'fork-race':
      return 'write';
    case 'vmsplice-write':
      return 'read';
    default:
      return undefined;
  }
}

/** Engines whose ops move their file data with buffered I/O themselves (besides the helper direction). */
export function needsBufferedFd(engine: Engine): boolean {
  return helperDirection(engine) !== undefined || engine === 'process-vm' || engine === 'udmabuf';
}

/** What an engine's call needs of the open target. */
export interface EngineTarget {
  directFd: number;
  /** buffered descriptor (needsBufferedFd), else -1 */
  bufferedFd: number;
  offsetAlign: number;
  /** passthru: the NVMe namespace */
  nvme: { nsid: number; lbaSize: number } | undefined;
}

/** What a fault phase asks of its own operations only: RWF_NOWAIT, a registration's RLIMIT_MEMLOCK. */
export interface FaultOptions {
  nowait?: boolean;
  memlockBytes?: number;
  /** udmabuf: a pipe holds each op's memfd pages (vmsplice) while the dma-buf is created */
  holdPages?: boolean;
  /** udmabuf: each op's memfd a hugetlbfs file of unallocated 2 MiB pages (MFD_HUGETLB) */
  hugetlbMemfd?: boolean;
}

/** One batch's result and the pages the engine pinned besides the ops' own buffers. */
export interface EngineBatch {
  result: BatchResult;
  /** splice-read: the Direct I/O fills pipe pages, counted by the addon per splice call */
  pipePages?: number;
  /** uring: the ring's own pages, pinned once for the ring's life */
  ringPages?: number;
  /** uring-fixed: the pages the buffer registration pinned */
  registeredPages?: number;
}

export async function engineBatch(addon: PinlabAddon, spec: WorkloadSpec, target: EngineTarget, direction: Direction, ops: IoOp[], faultOpts: FaultOptions): Promise<EngineBatch> {
  const { directFd: fd, nvme, offsetAlign } = target;
  const queueDepth = spec.queueDepth;
  switch (spec.engine) {
    case 'psync':
    case 'psyncv':
      return { result: await addon.syncBatch(fd, direction, ops, { vectored: spec.engine === 'psyncv', ...(faultOpts.nowait ? { nowait: true } : {}) }) };
    case 'libaio':
      return { result: await addon.aioBatch(fd, direction, ops, { queueDepth }) };
    case 'uring': {
      const r = await addon.uringBatch(fd, direction, ops, { queueDepth, vectored: true, ...(spec.ringMemory === 'user' ? { userRing: true } : {}) });
      return { result: r, ringPages: r.ringPinnedPages };
    }
    case 'uring-fixed': {
      const memlock = faultOpts.memlockBytes;
      const r = await addon.uringBatch(fd, direction, ops, { queueDepth, fixed: true, ...(memlock ? { memlockBytes: memlock } : {}) });
      return { result: r, registeredPages: r.registeredPages };
    }
    case 'splice-read': {
      const r = await addon.spliceReadBatch(fd, ops);
      return { result: r, pipePages: r.pipePages };
    }
    case 'vmsplice-write':
      return { result: await addon.vmspliceWriteBatch(fd, ops, spec.pipePages ? { pipePages: spec.pipePages } : {}) };
    case 'passthru':
      return { result: await addon.passthruBatch(fd, direction, ops, nvme!) };
    case 'sg-io':
      return { result: await addon.sgIoBatch(fd, direction, ops, { lbaSize: offsetAlign }) };
    case 'process-vm':
      return { result: await addon.processVmBatch(target.bufferedFd, direction, ops) };
    case 'udmabuf':
      return {
        result: await addon.udmabufBatch(target.bufferedFd, direction, ops, {
          ...(faultOpts.holdPages ? { holdPages: true } : {}),
          ...(faultOpts.hugetlbMemfd ? { hugetlb: true } : {}),
        }),
      };
    case 'fork-race':
      throw new Error('fork-race has no batch engine');
  }
}
