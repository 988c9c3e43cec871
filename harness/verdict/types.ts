// Verdicts: what pinlab concludes per workload, with the numbers behind it.
import type { WorkloadObservation } from '../workloads/types.js';

export type Status = 'PASS' | 'FAIL' | 'XFAIL' | 'ERROR' | 'SKIP';

export type FailReason =
  | 'pin-leak' // released < acquired after quiesce
  | 'not-pinned' // user memory reached Direct I/O and was not pinned (plain references)
  | 'over-released' // released > acquired
  | 'unexpected-pins' // a path that must not pin per I/O did
  | 'data-corruption' // read-back did not match what was written
  | 'fork-data-loss' // fork during in-flight DIO lost the read's data in the parent
  | 'wrong-errno' // a fault case returned another error than expected
  | 'kernel-splat'; // WARNING/BUG/Oops/... attributed to the workload

export type ErrorCause = 'build' | 'boot' | 'guest' | 'timeout' | 'path-not-reached' | 'harness' | 'background';

export interface Splat {
  kind: 'warning' | 'bug' | 'oops' | 'gpf' | 'bad-page' | 'lockdep' | 'hung-task' | 'soft-lockup' | 'rcu-stall' | 'panic' | 'kasan' | 'other';
  title: string; // e.g. "WARNING in __bio_release_pages"
  lines: string[];
}

export interface Numbers {
  acquired: number; // pins taken over the workload, by `evidence`
  released: number;
  expectedPins: number; // from the workload's own page accounting
  background: number; // pins that moved in the idle window before the workload (non-zero: ERROR)
  userPageOps: number;
  bytes: number;
  iops?: number;
  /** what acquired/released were counted by: 'kprobe-hist' (every pin primitive) or 'vmstat' */
  evidence?: string;
  /** /proc/vmstat's deltas when the evidence was something else */
  vmstatAcquired?: number;
  vmstatReleased?: number;
  /** pins (releases) the evidence saw and nr_foll_pin_acquired (released) did not count */
  uncountedPins?: number;
  uncountedReleases?: number;
}

export interface Verdict {
  name: string; // workload name
  target: string;
  engine: string;
  status: Status;
  reasons: FailReason[]; // non-empty for FAIL/XFAIL
  cause?: ErrorCause; // for ERROR
  skipReason?: string; // for SKIP
  /** for XFAIL: the known-state entry that matched */
  knownState?: string;
  /** the path the kernel took: key functions that ran */
  path: string[];
  /** "pinned" | "referenced" (not pinned) | "none" (no per-I/O pins expected and none seen) */
  pinning: 'pinned' | 'not-pinned' | 'no-per-io-pins' | 'unknown';
  numbers?: Numbers;
  splats: Splat[];
  message: string; // one line a human reads first
  observation?: WorkloadObservation;
}

export interface KernelIdentity {
  profile?: string; // absent for --source kernels
  source: string; // e.g. "debian:linux-source-6.1=6.1.192-2" or "git:/src/linux@<sha>"
  release?: string; // uname -r
  patches: { file: string; sha256: string }[];
  patchsetHash?: string;
  configSha256?: string;
  buildKey?: string;
}

export interface RunResult {
  schema: 'pinlab.run/1';
  runId: string;
  startedAt: string;
  finishedAt?: string;
  kernel: KernelIdentity;
  host: { accel: string; qemu?: string; node: string };
  verdicts: Verdict[];
  strict: boolean;
}
