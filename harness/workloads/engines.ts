// runWorkloadIO: one workload's user-space side, run inside the guest (or on a host O_DIRECT file
// system in tests). It writes the pattern over the workload's range with the workload's engine,
// provokes its fault (faults.ts), reads the range back into fresh buffers and verifies it
// (verify.ts), while counting the user pages each operation's buffers span, which is what a
// correct kernel pins (workload.ts). The fork-race engine runs its own phases (fork-race.ts).
//
// The caller snapshots the pin counters around this call, so everything that pins is released
// before it returns: buffers unmapped, io_uring buffers unregistered and rings closed (inside
// the addon), fds closed, loop devices detached. Then the anonymous buffers' pages must be free
// (frames.ts): one the kernel still holds is a leaked reference or pin.
//
// Single-direction engines (splice-read reads, vmsplice-write writes) do their other direction
// with buffered I/O on a second descriptor, which copies and pins nothing, so the counters show
// only the engine's own path. fork-race writes its pattern the same way.
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

import type { WorkloadIO, WorkloadSpec } from './types.js';
import { Workload, type TargetEnv } from './workload.js';
import { provokeFault } from './faults.js';
import { forkRace } from './fork-race.js';
import { verifyRead } from './verify.js';
import { settleFrames } from './frames.js';

/** lru_add_drain_all() from user space: compacting memory starts with it (CONFIG_COMPACTION). */
function drainEveryLruBatch(): void {
  try {
    writeFileSync('/proc/sys/vm/compact_memory', '1\n');
  } catch {
    // no compaction on this kernel (or not root): the pages are judged as they stand
  }
}

/** Write the pattern, provoke the fault, read the range back and verify it. */
async function writeFaultRead(w: Workload): Promise<Omit<WorkloadIO, 'durationMs'>> {
  const nseg = w.segmentsPerOp;
  const written = await w.writePattern(nseg);
  const undefinedRanges = await provokeFault(w);
  const sink = w.buffer(w.rangeBytes);
  const readOps = w.rangeOps(nseg, sink);
  const read = await w.exec('read', readOps, false);
  const verify = verifyRead(readOps, read!, written, w.seed, undefinedRanges);
  sink.free();
  if (w.faultDataProblem) {
    verify.ok = false;
    verify.detail = [w.faultDataProblem, verify.detail].filter(Boolean).join('; ');
  }
  return w.tally.result(verify);
}

/**
 * Performs one workload against env.path (see the header). Rejects for a workload that cannot
 * run as specified (RangeError) or an I/O setup failure (Node-style errno Error); I/O errors of
 * single operations are results, counted in `errors`.
 */
export async function runWorkloadIO(spec: WorkloadSpec, env: TargetEnv): Promise<WorkloadIO> {
  const started = performance.now();
  const workload = new Workload(spec, env);
  // the frames of this workload's buffers only: whatever an earlier one left was judged there
  workload.addon.clearFrames();
  let io: Omit<WorkloadIO, 'durationMs'> | undefined;
  let failure: unknown;
  try {
    workload.open();
    io = await (spec.engine === 'fork-race' ? forkRace(workload) : writeFaultRead(workload));
  } catch (e) {
    failure = e;
  }
  const releaseFailure = workload.release();
  if (failure !== undefined) throw failure;
  if (releaseFailure !== undefined) throw releaseFailure;
  // after the release: every anonymous page the buffers had must be free again (a failed
  // workload reports no io, so its frames are not waited for)
  const frames = await settleFrames(workload.addon, { drainAll: drainEveryLruBatch });
  return { ...io!, frames, durationMs: Math.round((performance.now() - started) * 10) / 10 };
}
