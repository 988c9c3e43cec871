// The in-guest workload loop, behind the GuestSystem interface so it runs in unit tests without a
// kernel (guest/linux.ts is the real system, guest/main.ts the entry point). Counters are read by
// this process right around the I/O, so no ssh traffic sits between the snapshots and the workload.
//
// Per workload: kmsg cursor to the end; function tracer on the spec's traceable path names;
// snapshot; faults on; runWorkloadIO; faults off; sync (file systems); quiesce (poll until the
// pin counters stop moving, bounded); trace -> pathHits; new kmsg lines; snapshot. A workload
// that throws is recorded (ioError) and the next one runs.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleepMs } from 'node:timers/promises';
import { FAIL_MAKE_REQUEST_FAULTS, type BackgroundNoise, type EvidenceCounters, type PinControl, type PinCounters, type PinEvidenceInfo, type WorkloadIO, type WorkloadObservation, type WorkloadSpec } from '../workloads/types.js';
import type { RunnerEvent } from '../guest-runner/protocol.js';
import { diskDevice, diskMount } from '../boot-protocol.js';
import { dmName, targetRecord } from '../workloads/targets.js';
import { baseName } from '../trace-names.js';
import type { TargetEnv } from '../workloads/workload.js';

export type RunWorkloadIO = (spec: WorkloadSpec, env: TargetEnv) => Promise<WorkloadIO>;

export interface QuiesceOptions {
  intervalMs?: number;
  /** consecutive unchanged polls that count as settled */
  stablePolls?: number;
  boundMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** One reading of both pin sources. */
export interface PinSnapshot {
  counters: PinCounters;
  evidence?: EvidenceCounters;
}

export interface QuiesceResult {
  snapshot: PinSnapshot;
  polls: number;
  /** balanced (by the evidence, when there is any) and unchanged */
  settled: boolean;
  /** unchanged over the last stablePolls polls, balanced or not */
  stable: boolean;
  ms: number;
}

function sameSnapshot(a: PinSnapshot, b: PinSnapshot): boolean {
  const ev = (x: PinSnapshot): string => (x.evidence ? `${x.evidence.acquired}/${x.evidence.released}` : '');
  return a.counters.acquired === b.counters.acquired && a.counters.released === b.counters.released && ev(a) === ev(b);
}

/**
 * Poll until the pins have settled, or the bound. With evidence (`from` is the snapshot before
 * the workload) settled means balanced since `from` by the evidence and unchanged for
 * `stablePolls` polls: an asynchronous release still on its way keeps the poll going, so it is
 * never charged to the next workload; a real leak or over-release waits out the bound. Without
 * evidence, unchanged counters for `stablePolls` polls.
 */
export async function quiesce(read: () => PinSnapshot | Promise<PinSnapshot>, opts: QuiesceOptions = {}, from?: PinSnapshot): Promise<QuiesceResult> {
  const intervalMs = opts.intervalMs ?? 20;
  const stablePolls = opts.stablePolls ?? 5;
  const boundMs = opts.boundMs ?? 3000;
  const now = opts.now ?? (() => performance.now());
  const sleep = opts.sleep ?? ((ms: number) => sleepMs(ms).then(() => undefined));
  const balanced = (x: PinSnapshot): boolean => {
    if (!from?.evidence || !x.evidence) return true;
    return x.evidence.acquired - from.evidence.acquired === x.evidence.released - from.evidence.released;
  };
  const t0 = now();
  let prev = await read();
  let polls = 1;
  let stable = 0;
  for (;;) {
    if (stable >= stablePolls && balanced(prev)) return { snapshot: prev, polls, settled: true, stable: true, ms: Math.round(now() - t0) };
    if (now() - t0 >= boundMs) return { snapshot: prev, polls, settled: false, stable: stable >= stablePolls, ms: Math.round(now() - t0) };
    await sleep(intervalMs);
    const cur = await read();
    polls += 1;
    stable = sameSnapshot(cur, prev) ? stable + 1 : 0;
    prev = cur;
  }
}

export interface TargetPlace {
  /** what the engine opens (device, or a file it creates) */
  path: string;
  /** a path whose backing disk is the one under test (for fail_make_request) */
  diskProbe: string;
  /** a file system to sync before quiesce */
  fileSystem?: string;
  /** loop targets: the loop device's logical block size */
  loopBlockSize?: number;
  /** zone-file targets: a zonefs sequential file, reset (truncated to 0) rather than removed */
  zoned?: boolean;
  /** dm targets: the mapping prepareTarget sets up over `lower` */
  dm?: { kind: 'linear' | 'crypt'; lower: string; name: string };
}

/** Where each target's I/O goes inside the guest (workloads/targets.ts; images/init links the disks). */
export function targetEnv(spec: WorkloadSpec): TargetPlace {
  const t = targetRecord(spec.target);
  const dev = diskDevice(t.disk);
  const mnt = diskMount(t.disk);
  switch (t.kind) {
    case 'raw':
    case 'nvme-passthru':
    case 'sg-io':
      return { path: dev, diskProbe: dev };
    case 'file':
      return { path: join(mnt, `pinlab-${spec.name}.dat`), diskProbe: mnt, fileSystem: mnt };
    case 'zone-file':
      return { path: join(mnt, 'seq', '0'), diskProbe: mnt, fileSystem: mnt, zoned: true };
    case 'loop':
      // the engine attaches a loop device (direct I/O on) to this backing file
      return { path: join(mnt, `pinlab-${spec.name}.loop`), diskProbe: mnt, fileSystem: mnt, ...(t.loopBlockSize ? { loopBlockSize: t.loopBlockSize } : {}) };
    case 'dm':
      // prepareTarget creates the mapping over the disk before the workload's window
      return { path: `/dev/mapper/${dmName(t)}`, diskProbe: dev, dm: { kind: t.dm ?? 'linear', lower: dev, name: dmName(t) } };
  }
}

/** Names worth tracing besides the specs' own path groups: pin routines show in the verdict's path. */
export const KEY_FUNCTIONS = [
  'bio_iov_iter_get_pages',
  'iov_iter_pin_pages',
  'pin_page',
  'iov_iter_extract_pages',
  'pin_user_pages_fast',
  'bio_map_user_iov',
  'blk_rq_map_user_iov',
  'generic_file_splice_read',
  'iov_iter_pipe',
  'copy_splice_read',
  'direct_splice_read',
  '__blockdev_direct_IO',
  'iomap_dio_rw',
  '__blkdev_direct_IO_simple',
];

// ---------------------------------------------------------------------------------------------
// The guest system, behind an interface so the loop is testable without a kernel

export interface FaultHandle {
  /** a fault the workload switches on itself, at the moment it chooses (ARMED_FAULTS) */
  arm?(): void;
  teardown(): void;
  /** observations of the fault (e.g. failures injected) for WorkloadObservation.extra */
  notes(): Record<string, unknown>;
}

export interface GuestSystem {
  kernelRelease(): string;
  /** refresh per-cpu vmstat, then read the pin counters (throws when they cannot be refreshed) */
  readCounters(): PinCounters;
  /** set up and calibrate pin evidence (guest/pin-evidence.ts) once; absent: not available on this system */
  setupEvidence?(): PinEvidenceInfo | Promise<PinEvidenceInfo>;
  /** evidence totals since set-up; undefined when unavailable */
  readEvidence?(): EvidenceCounters | undefined;
  /** base names traceable on this kernel among `wanted` */
  traceable(wanted: Iterable<string>): string[];
  /** clear the trace and trace exactly these names (no tracing when empty) */
  startTrace(names: string[]): void;
  /** stop tracing and return distinct traced base names */
  stopTrace(): string[];
  /** room for this many KiB of trace per CPU (function coverage traces hundreds of functions) */
  growTraceBuffer?(kb: number): void;
  /** move the kmsg cursor to the end */
  kmsgSeekEnd(): void;
  /** kernel log lines since the cursor */
  kmsgRead(): string[];
  /**
   * Write "pinlab: TEXT" into the kernel log and return the kernel's timestamp of it (seconds, the
   * console's clock); absent or undefined: this guest gives none. Stamps the runner's events, so
   * the host charges a splat on the console to the workload that ran when it was printed.
   */
  logMark?(text: string): number | undefined;
  setupFault(spec: WorkloadSpec, env: TargetPlace): FaultHandle | undefined;
  /** set up the target's stack (env.dm: device-mapper) once, before the workload's window; nothing for plain targets */
  prepareTarget?(env: TargetPlace): void;
  sync(fileSystem: string): void;
  /** bytes of the target device, for raw targets */
  sizeLimit(env: TargetPlace): number | undefined;
  prepareTmp(spec: WorkloadSpec): string;
  cleanup(spec: WorkloadSpec, env: TargetPlace): void;
  sleep(ms: number): Promise<void>;
  now(): number;
  log(message: string, name?: string): void;
  /** the gup_test control (absent: not available on this system) */
  pinControl?(): PinControl;
  /** write a file's blocks for real (buffered, fsync'd) before the measurement */
  preallocate?(path: string, bytes: number): void;
  /** the gcov counters of the instrumented pin-path objects; undefined: not a coverage build */
  gcov?(): GcovCounters | undefined;
}

export interface GcovCounters {
  /** zero every counter (/sys/kernel/debug/gcov/reset) */
  reset(): void;
  /** the .gcda of each instrumented source, base64, keyed by <src>.gcda (coverage/objects.ts) */
  read(): Record<string, string>;
}

export interface RunnerOptions {
  backgroundWindowMs?: number;
  /** idle window sampled right before each workload: pins moving there cannot be attributed */
  idleWindowMs?: number;
  /** set by runAll: how this guest counts pins, or why it cannot */
  evidence?: PinEvidenceInfo;
  /** set by runAll on a coverage build: counters reset before each workload, read after it */
  gcov?: GcovCounters;
  /** function coverage (kernels without gcov): trace these too, report which ran per workload */
  traceFunctions?: string[];
  quiesce?: Omit<QuiesceOptions, 'now' | 'sleep'>;
}

export async function measureBackground(sys: GuestSystem, windowMs: number): Promise<BackgroundNoise> {
  const a = sys.readCounters();
  const t0 = sys.now();
  await sys.sleep(windowMs);
  const b = sys.readCounters();
  return { windowMs: Math.round(sys.now() - t0), acquired: b.acquired - a.acquired, released: b.released - a.released };
}

export function errorInfo(e: unknown): { code?: string; message: string } {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return code ? { code, message: e.message } : { message: e.message };
  }
  return { message: String(e) };
}

/** Run one workload; never throws (failures are recorded in the observation). */
export async function observeWorkload(spec: WorkloadSpec, sys: GuestSystem, runIO: RunWorkloadIO, opts: RunnerOptions = {}): Promise<WorkloadObservation> {
  const env = targetEnv(spec);
  const extra: Record<string, unknown> = {};
  const pathTraceable = sys.traceable(spec.paths.flat().concat(KEY_FUNCTIONS));
  const guard = <T>(what: string, fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (e) {
      sys.log(`${what}: ${errorInfo(e).message}`, spec.name);
      return undefined;
    }
  };

  // The target's stack first (device-mapper): a target that cannot be set up yields no I/O, so
  // ERROR guest with the reason, never a FAIL.
  let ioError: { code?: string; message: string } | undefined;
  try {
    sys.prepareTarget?.(env);
  } catch (e) {
    ioError = { message: `target set-up: ${errorInfo(e).message}` };
  }
  // Files get real blocks before the snapshot: a Direct I/O write into a hole may fall back to
  // buffered I/O (ext2 on iomap, 6.12: no pins at all), and a fault injected on the file system
  // must meet the data I/O, not the metadata reads of creating the file.
  if (env.fileSystem && sys.preallocate) guard('preallocate', () => sys.preallocate!(env.path, spec.size));
  guard('kmsg cursor', () => sys.kmsgSeekEnd());
  const gcov = opts.gcov;
  if (gcov) guard('gcov reset', () => gcov.reset());
  // function coverage: the pin-path sources' functions are traced along with the path
  const coverFns = new Set(opts.traceFunctions);
  guard('ftrace setup', () => sys.startTrace(coverFns.size > 0 ? [...new Set([...pathTraceable, ...coverFns])] : pathTraceable));
  if (spec.fault && FAIL_MAKE_REQUEST_FAULTS.includes(spec.fault.kind) && env.fileSystem) guard('sync', () => sys.sync(env.fileSystem!));
  const snap = (): PinSnapshot => {
    const counters = sys.readCounters();
    const evidence = sys.readEvidence?.();
    return evidence ? { counters, evidence } : { counters };
  };
  // an idle window right before the workload: any pin moving there is not the workload's, and
  // would hide a leak or fake one, so the verdict turns it into ERROR (never a wider tolerance)
  const idleStart = snap();
  const tIdle = sys.now();
  await sys.sleep(opts.idleWindowMs ?? 30);
  const start = snap();
  const idle: NonNullable<WorkloadObservation['idle']> = {
    windowMs: Math.round(sys.now() - tIdle),
    acquired: start.counters.acquired - idleStart.counters.acquired,
    released: start.counters.released - idleStart.counters.released,
  };
  if (start.evidence && idleStart.evidence) {
    idle.evidenceAcquired = start.evidence.acquired - idleStart.evidence.acquired;
    idle.evidenceReleased = start.evidence.released - idleStart.evidence.released;
  }
  const before = start.counters;
  let io: WorkloadIO | undefined;
  let fault: FaultHandle | undefined;
  if (!ioError) try {
    fault = sys.setupFault(spec, env);
    const tmpDir = sys.prepareTmp(spec);
    const sizeLimit = sys.sizeLimit(env);
    const arm = fault?.arm?.bind(fault);
    io = await runIO(spec, { path: env.path, tmpDir, ...(sizeLimit === undefined ? {} : { sizeLimit }), ...(env.loopBlockSize ? { loopBlockSize: env.loopBlockSize } : {}), ...(arm ? { armFault: arm } : {}) });
  } catch (e) {
    ioError = errorInfo(e);
  } finally {
    if (fault) {
      const f = fault;
      guard('fault teardown', () => f.teardown());
      Object.assign(extra, guard('fault notes', () => f.notes()) ?? {});
    }
  }
  if (spec.fault?.kind === 'blkdebug-eio') extra.blkdebug = { ...spec.fault, note: 'configured by QEMU at boot' };
  if (env.fileSystem) guard('sync', () => sys.sync(env.fileSystem!));
  const q = await quiesce(snap, { ...opts.quiesce, now: () => sys.now(), sleep: (ms) => sys.sleep(ms) }, start);
  const hits = guard('ftrace collect', () => sys.stopTrace()) ?? [];
  const pathNames = new Set(pathTraceable.map(baseName));
  const pathHits = coverFns.size > 0 ? hits.filter((h) => pathNames.has(h)) : hits;
  const functionHits = coverFns.size > 0 ? hits.filter((h) => coverFns.has(h)).sort() : undefined;
  const gcda = gcov ? guard('gcov read', () => gcov.read()) : undefined;
  const kmsg = guard('kmsg read', () => sys.kmsgRead()) ?? [];
  const end = q.snapshot;
  guard('cleanup', () => sys.cleanup(spec, env));
  const obs: WorkloadObservation = {
    spec,
    before,
    after: end.counters,
    quiesce: { polls: q.polls, settled: q.settled, stable: q.stable, ms: q.ms },
    idle,
    pathHits,
    pathTraceable,
    kmsg,
  };
  const how = opts.evidence;
  if (how?.mechanism === 'none') obs.evidence = { mechanism: 'none', unavailable: how.unavailable, ...(how.vmstatBlind ? { vmstatBlind: how.vmstatBlind } : {}) };
  else if (how && start.evidence && end.evidence) obs.evidence = { mechanism: how.mechanism, before: start.evidence, after: end.evidence, ...(how.vmstatBlind?.length ? { vmstatBlind: how.vmstatBlind } : {}) };
  if (io) obs.io = io;
  if (ioError) obs.ioError = ioError;
  if (gcda) obs.gcda = gcda;
  if (functionHits) obs.functionHits = functionHits;
  if (Object.keys(extra).length > 0) obs.extra = extra;
  return obs;
}

/** Trace buffer per CPU for function coverage: a workload calls the hot pin-path functions per page. */
const FUNCTION_COVERAGE_TRACE_KB = 16384;

export async function runAll(
  specs: readonly WorkloadSpec[],
  sys: GuestSystem,
  runIO: RunWorkloadIO,
  emit: (e: RunnerEvent) => void,
  opts: RunnerOptions = {},
): Promise<void> {
  const wanted = specs.flatMap((s) => s.paths.flat()).concat(KEY_FUNCTIONS);
  // coverage builds: the calibration's own pins (io_uring registration, gup_test, ...) are a
  // route of their own, counted apart from boot and from the workloads
  const gcov = sys.gcov?.();
  gcov?.reset();
  const evidence: PinEvidenceInfo = (await sys.setupEvidence?.()) ?? { mechanism: 'none', unavailable: 'this guest offers no pin evidence' };
  // function coverage: only what this kernel can trace (inlined functions are not there)
  const traceable = sys.traceable(wanted);
  const functionsTraceable = opts.traceFunctions ? sys.traceable(opts.traceFunctions) : undefined;
  if (functionsTraceable?.length) {
    sys.growTraceBuffer?.(FUNCTION_COVERAGE_TRACE_KB);
    // the filter only grows: add every name now, in the set-up, not in the first workload's time
    sys.startTrace([...new Set([...traceable, ...functionsTraceable])]);
    sys.stopTrace();
  }
  const runOpts: RunnerOptions = { ...opts, evidence, ...(gcov ? { gcov } : {}), ...(functionsTraceable ? { traceFunctions: functionsTraceable } : {}) };
  const background = await measureBackground(sys, opts.backgroundWindowMs ?? 200);
  const control = sys.pinControl?.();
  const gcda = gcov?.read();
  const at = (text: string): { t?: number } => {
    const t = sys.logMark?.(text);
    return t === undefined ? {} : { t };
  };
  emit({
    type: 'hello',
    kernel: sys.kernelRelease(),
    node: process.version,
    traceable,
    background,
    evidence,
    ...(control ? { control } : {}),
    ...(gcda ? { gcda } : {}),
    ...(functionsTraceable ? { functionsTraceable } : {}),
    ...at('ready'),
  });
  for (const spec of specs) {
    emit({ type: 'start', name: spec.name, ...at(`start ${spec.name}`) });
    let result: WorkloadObservation;
    try {
      result = await observeWorkload(spec, sys, runIO, runOpts);
    } catch (e) {
      // counters unreadable etc.: still report the workload
      const zero = { acquired: 0, released: 0 };
      result = { spec, before: zero, after: zero, quiesce: { polls: 0, settled: false, ms: 0 }, ioError: errorInfo(e), pathHits: [], pathTraceable: [], kmsg: [] };
    }
    emit({ type: 'result', name: spec.name, result, ...at(`end ${spec.name}`) });
  }
  emit({ type: 'done' });
}
