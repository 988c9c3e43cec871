// Verdicts: what pinlab concludes per workload, with the numbers behind it.
import type { CalibrationOutcome, WorkloadObservation } from '../workloads/types.js';

// The vocabularies below are arrays so that report/run-schema.ts derives its enums from them:
// one list each, the union types follow.
export const STATUSES = ['PASS', 'FAIL', 'XFAIL', 'ERROR', 'SKIP'] as const;
export type Status = (typeof STATUSES)[number];

export const FAIL_REASONS = [
  'pin-leak', // released < acquired after quiesce
  'not-pinned', // user memory reached Direct I/O and was not pinned (plain references)
  'over-released', // released > acquired
  'unexpected-pins', // a path that must not pin per I/O did
  'data-corruption', // read-back did not match what was written
  'fork-data-loss', // fork during in-flight DIO lost the read's data in the parent
  'wrong-errno', // a fault case returned another error than expected
  'kernel-splat', // WARNING/BUG/Oops/... attributed to the workload
  'pages-held', // anonymous buffer pages the kernel still held after they were unmapped (a leaked reference or pin)
] as const;
export type FailReason = (typeof FAIL_REASONS)[number];

export const ERROR_CAUSES = ['build', 'boot', 'guest', 'timeout', 'path-not-reached', 'harness', 'background', 'evidence'] as const;
export type ErrorCause = (typeof ERROR_CAUSES)[number];

export const SPLAT_KINDS = ['warning', 'bug', 'oops', 'gpf', 'bad-page', 'lockdep', 'hung-task', 'soft-lockup', 'rcu-stall', 'panic', 'kasan', 'other'] as const;

export const PINNINGS = ['pinned', 'not-pinned', 'no-per-io-pins', 'unknown'] as const;

export interface Splat {
  kind: (typeof SPLAT_KINDS)[number];
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
  /** what judged the pins: 'kprobe-hist' (every pin primitive), 'vmstat', or 'none' (neither can: ERROR evidence) */
  evidence?: string;
  /** /proc/vmstat's deltas when the evidence was something else */
  vmstatAcquired?: number;
  vmstatReleased?: number;
  /** pins (releases) the evidence saw and nr_foll_pin_acquired (released) did not count */
  uncountedPins?: number;
  uncountedReleases?: number;
  /** pages the kernel migrated in the workload's window (a long-term pin of movable pages re-pins them) */
  pagesMigrated?: number;
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
  pinning: (typeof PINNINGS)[number];
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
  /** pinlab run --coverage: what the workloads ran of the pin-path sources */
  coverage?: RunCoverage;
  /** how pins were counted: the evidence, its calibration sources and findings (verdict/calibration.ts) */
  evidence?: EvidenceHealth;
}

/** How the run's pins were counted, for run.json, the terminal summary and KCIDB. */
export interface EvidenceHealth {
  /** 'kprobe-hist', or 'none' (then `unavailable`) */
  mechanism: string;
  unavailable?: string;
  follPin?: number;
  probes?: string[];
  grabsCounted?: string;
  /** pin primitives on this kernel that nr_foll_pin_acquired does not count */
  vmstatBlind?: string[];
  /** calibration sources FOLL_PIN was taken from */
  agreed: string[];
  /** calibration sources that did not add up (each also a FAIL verdict) */
  findings: string[];
  calibration: CalibrationOutcome[];
  /** workloads by what judged their pins: kprobe-hist, vmstat, none */
  judgedBy: Record<string, number>;
}


export interface CoverageRatio {
  hit: number;
  total: number;
}

/** The run's coverage in run.json (the full site list is the run directory's coverage/summary.json). */
export interface RunCoverage {
  method: 'gcov' | 'ftrace';
  files: { file: string; lines: CoverageRatio; functions: CoverageRatio; branches: CoverageRatio }[];
  total: { lines: CoverageRatio; functions: CoverageRatio; branches: CoverageRatio };
  pinFunctionLines: CoverageRatio;
  /** ftrace: the functions holding a pin site that ran, of those the kernel can trace */
  pinFunctions?: CoverageRatio;
  /** ftrace: untraceable = sites in functions the kernel cannot trace */
  /**
   * unreachable: not reached and not reachable, of which compiledOut (gcov) had no code in this
   * build at all (the rest are reviewed: coverage/unreachable.ts)
   */
  sites: { total: number; reached: number; unreachable: number; notReached: number; untraceable?: number; compiledOut?: number };
  /** reachable pin sites no workload ran (file:function:callee) */
  notReached: string[];
  tracefile: string;
  html?: string;
  htmlProblem?: string;
}
