// The in-guest workload runner: `node /pinlab/dist/harness/guest/runner.js < specs.json`.
// Reads a JSON array of WorkloadSpec on stdin, writes RunnerEvent JSON lines on stdout (and
// nothing else there). Counters are read by this process right around the I/O, so no ssh
// traffic sits between the snapshots and the workload.
//
// Per workload: kmsg cursor to the end; function tracer on the spec's traceable path names;
// snapshot; faults on; runWorkloadIO; faults off; sync (file systems); quiesce (poll until the
// pin counters stop moving, bounded); trace -> pathHits; new kmsg lines; snapshot. A workload
// that throws is recorded (ioError) and the next one runs.
//
// Every counter read first folds the per-cpu vmstat deltas into the global counters
// (/proc/sys/vm/stat_refresh): /proc/vmstat alone can lag by up to the per-cpu threshold for a
// second (vm.stat_interval), enough to fake a leak or a shortfall of a few pins.
//
// gup_test (PIN_FAST_BENCHMARK) is not run here: it needs ioctl(2), which Node lacks; see
// harness/verdict/gup-test.ts for the encoding and the control's judgement.
import { spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, realpathSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleepMs } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { BackgroundNoise, EvidenceCounters, PinControl, PinCounters, PinEvidenceInfo, RunnerEvent, WorkloadIO, WorkloadObservation, WorkloadSpec } from '../workloads/types.js';
import { loadAddon } from '../workloads/addon.js';
import { baseName } from './trace-names.js';
import { setupPinEvidence, type PinEvidence } from './pin-evidence.js';
import { encodeGupTest, FOLL_WRITE, GUP_TEST_IOCTL, GUP_TEST_PATH, judgeGupControl } from '../verdict/gup-test.js';

export type RunWorkloadIO = (spec: WorkloadSpec, env: { path: string; tmpDir: string; sizeLimit?: number }) => Promise<WorkloadIO>;

// ---------------------------------------------------------------------------------------------
// Pure helpers

export function parseVmstat(text: string): PinCounters {
  let acquired: number | undefined;
  let released: number | undefined;
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key === 'nr_foll_pin_acquired') acquired = Number(value);
    else if (key === 'nr_foll_pin_released') released = Number(value);
  }
  if (acquired === undefined || released === undefined || !Number.isFinite(acquired) || !Number.isFinite(released)) {
    throw new Error('/proc/vmstat has no nr_foll_pin_acquired/nr_foll_pin_released');
  }
  return { acquired, released };
}

export { baseName };

/** available_filter_functions ("name", "name [module]", "name.isra.0") -> base name -> entries. */
export function parseAvailableFunctions(text: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const entry = line.trim().split(/\s+/)[0];
    if (!entry) continue;
    const b = baseName(entry);
    const list = map.get(b);
    if (list) {
      if (!list.includes(entry)) list.push(entry);
    } else map.set(b, [entry]);
  }
  return map;
}

/** The wanted names that are traceable: base names, and the exact entries for set_ftrace_filter. */
export function resolveTraceable(wanted: Iterable<string>, available: Map<string, string[]>): { traceable: string[]; filter: string[] } {
  const traceable: string[] = [];
  const filter: string[] = [];
  for (const name of new Set(wanted)) {
    const entries = available.get(baseName(name));
    if (!entries) continue;
    traceable.push(name);
    filter.push(...entries);
  }
  return { traceable, filter: [...new Set(filter)] };
}

/** Function-tracer output -> distinct base names of traced functions, in order of first hit. */
export function parseTrace(text: string): string[] {
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /\s\d+\.\d+:\s+([A-Za-z_][A-Za-z0-9_.$]*)(?:\s+<-|\s*$)/.exec(line);
    if (m) seen.add(baseName(m[1]!));
  }
  return [...seen];
}

export interface KmsgRecord {
  level: number;
  seq: number;
  usec: number;
  text: string;
}

/** One /dev/kmsg record "prio,seq,usec,flags[,...];text\n KEY=value..." (continuations dropped). */
export function parseKmsgRecord(raw: string): KmsgRecord | null {
  const m = /^(\d+),(\d+),(\d+),[^;]*;(.*)$/s.exec(raw);
  if (!m) return null;
  const text = m[4]!.split('\n')[0]!.replace(/\\x([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  return { level: Number(m[1]) & 7, seq: Number(m[2]), usec: Number(m[3]), text };
}

/** dmesg-style line: "[   12.345678] text". */
export function formatKmsgRecord(r: KmsgRecord): string {
  const sec = Math.floor(r.usec / 1e6);
  const frac = String(r.usec % 1e6).padStart(6, '0');
  return `[${String(sec).padStart(5, ' ')}.${frac}] ${r.text}`;
}

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

/** Linux dev_t (as in stat.dev / stat.rdev) -> major, minor. */
export function devMajorMinor(dev: number): { major: number; minor: number } {
  const d = BigInt(dev);
  const major = Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
  const minor = Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
  return { major, minor };
}

export interface TargetPlace {
  /** what the engine opens (device, or a file it creates) */
  path: string;
  /** a path whose backing disk is the one under test (for fail_make_request) */
  diskProbe: string;
  /** a file system to sync before quiesce */
  fileSystem?: string;
}

/** Where each target's I/O goes inside the guest (see images/ for how they are prepared). */
export function targetEnv(spec: WorkloadSpec): TargetPlace {
  const file = (mnt: string, ext: string): string => join(mnt, `pinlab-${spec.name}.${ext}`);
  switch (spec.target) {
    case 'raw-virtio':
      return { path: '/dev/pinlab/raw-virtio', diskProbe: '/dev/pinlab/raw-virtio' };
    case 'raw-nvme':
    case 'nvme-passthru':
      return { path: '/dev/pinlab/raw-nvme', diskProbe: '/dev/pinlab/raw-nvme' };
    case 'ext4':
    case 'ext2':
    case 'vfat':
      return { path: file(`/mnt/${spec.target}`, 'dat'), diskProbe: `/mnt/${spec.target}`, fileSystem: `/mnt/${spec.target}` };
    case 'loop':
      // the engine attaches a loop device (direct I/O on) to this backing file on ext4
      return { path: file('/mnt/ext4', 'loop'), diskProbe: '/mnt/ext4', fileSystem: '/mnt/ext4' };
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
  teardown(): void;
  /** observations of the fault (e.g. failures injected) for WorkloadObservation.extra */
  notes(): Record<string, unknown>;
}

export interface GuestSystem {
  kernelRelease(): string;
  /** refresh per-cpu vmstat, then read the pin counters (throws when they cannot be refreshed) */
  readCounters(): PinCounters;
  /** set up pin evidence (guest/pin-evidence.ts) once; absent: not available on this system */
  setupEvidence?(): PinEvidenceInfo;
  /** evidence totals since set-up; undefined when unavailable */
  readEvidence?(): EvidenceCounters | undefined;
  /** base names traceable on this kernel among `wanted` */
  traceable(wanted: Iterable<string>): string[];
  /** clear the trace and trace exactly these names (no tracing when empty) */
  startTrace(names: string[]): void;
  /** stop tracing and return distinct traced base names */
  stopTrace(): string[];
  /** move the kmsg cursor to the end */
  kmsgSeekEnd(): void;
  /** kernel log lines since the cursor */
  kmsgRead(): string[];
  setupFault(spec: WorkloadSpec, env: TargetPlace): FaultHandle | undefined;
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
}

export interface RunnerOptions {
  backgroundWindowMs?: number;
  /** idle window sampled right before each workload: pins moving there cannot be attributed */
  idleWindowMs?: number;
  /** set by runAll: how this guest counts pins, or why it cannot */
  evidence?: PinEvidenceInfo;
  quiesce?: Omit<QuiesceOptions, 'now' | 'sleep'>;
}

export async function measureBackground(sys: GuestSystem, windowMs: number): Promise<BackgroundNoise> {
  const a = sys.readCounters();
  const t0 = sys.now();
  await sys.sleep(windowMs);
  const b = sys.readCounters();
  return { windowMs: Math.round(sys.now() - t0), acquired: b.acquired - a.acquired, released: b.released - a.released };
}

function errorInfo(e: unknown): { code?: string; message: string } {
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

  // Files get real blocks before the snapshot: a Direct I/O write into a hole may fall back to
  // buffered I/O (ext2 on iomap, 6.12: no pins at all), and a fault injected on the file system
  // must meet the data I/O, not the metadata reads of creating the file.
  if (env.fileSystem && sys.preallocate) guard('preallocate', () => sys.preallocate!(env.path, spec.size));
  guard('kmsg cursor', () => sys.kmsgSeekEnd());
  guard('ftrace setup', () => sys.startTrace(pathTraceable));
  if (spec.fault?.kind === 'fail-make-request' && env.fileSystem) guard('sync', () => sys.sync(env.fileSystem!));
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
  let ioError: { code?: string; message: string } | undefined;
  let fault: FaultHandle | undefined;
  try {
    fault = sys.setupFault(spec, env);
    const tmpDir = sys.prepareTmp(spec);
    const sizeLimit = sys.sizeLimit(env);
    io = await runIO(spec, sizeLimit === undefined ? { path: env.path, tmpDir } : { path: env.path, tmpDir, sizeLimit });
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
  const pathHits = guard('ftrace collect', () => sys.stopTrace()) ?? [];
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
  if (how?.mechanism === 'none') obs.evidence = how;
  else if (how && start.evidence && end.evidence) obs.evidence = { mechanism: how.mechanism, before: start.evidence, after: end.evidence };
  if (io) obs.io = io;
  if (ioError) obs.ioError = ioError;
  if (Object.keys(extra).length > 0) obs.extra = extra;
  return obs;
}

export async function runAll(
  specs: readonly WorkloadSpec[],
  sys: GuestSystem,
  runIO: RunWorkloadIO,
  emit: (e: RunnerEvent) => void,
  opts: RunnerOptions = {},
): Promise<void> {
  const wanted = specs.flatMap((s) => s.paths.flat()).concat(KEY_FUNCTIONS);
  const evidence: PinEvidenceInfo = sys.setupEvidence?.() ?? { mechanism: 'none', unavailable: 'this guest offers no pin evidence' };
  const runOpts: RunnerOptions = { ...opts, evidence };
  const background = await measureBackground(sys, opts.backgroundWindowMs ?? 200);
  const control = sys.pinControl?.();
  emit({ type: 'hello', kernel: sys.kernelRelease(), node: process.version, traceable: sys.traceable(wanted), background, evidence, ...(control ? { control } : {}) });
  for (const spec of specs) {
    emit({ type: 'start', name: spec.name });
    let result: WorkloadObservation;
    try {
      result = await observeWorkload(spec, sys, runIO, runOpts);
    } catch (e) {
      // counters unreadable etc.: still report the workload
      const zero = { acquired: 0, released: 0 };
      result = { spec, before: zero, after: zero, quiesce: { polls: 0, settled: false, ms: 0 }, ioError: errorInfo(e), pathHits: [], pathTraceable: [], kmsg: [] };
    }
    emit({ type: 'result', name: spec.name, result });
  }
  emit({ type: 'done' });
}

// ---------------------------------------------------------------------------------------------
// The real guest

function tracingDir(): string | undefined {
  for (const d of ['/sys/kernel/tracing', '/sys/kernel/debug/tracing']) if (existsSync(join(d, 'trace'))) return d;
  return undefined;
}

/** The whole-disk sysfs directory of the block device holding `probe` (device node or mount point). */
export function sysBlockDir(probe: string): string {
  const st = statSync(probe);
  const { major, minor } = devMajorMinor(st.isBlockDevice() ? st.rdev : st.dev);
  const dir = realpathSync(`/sys/dev/block/${major}:${minor}`);
  return existsSync(join(dir, 'partition')) ? dirname(dir) : dir;
}

class Kmsg {
  private fd: number | undefined;
  private readonly buf = Buffer.alloc(16384);

  private open(): number {
    this.fd ??= openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
    return this.fd;
  }

  /** Read records until EAGAIN; EPIPE means records were overwritten: keep reading. */
  drain(): KmsgRecord[] {
    const fd = this.open();
    const out: KmsgRecord[] = [];
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, this.buf, 0, this.buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') continue;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') break;
        throw e;
      }
      if (n <= 0) break;
      const r = parseKmsgRecord(this.buf.toString('utf8', 0, n));
      if (r) out.push(r);
    }
    return out;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

function writeKnob(path: string, value: string | number): void {
  writeFileSync(path, `${value}\n`);
}

function readKnob(path: string): string {
  return readFileSync(path, 'utf8').trim();
}

/** PIN_FAST_BENCHMARK over a written 64-page buffer, CALLS times: exactly pages*calls pins. */
export function runPinControl(readCounters: () => PinCounters, pages = 64, calls = 4): PinControl {
  if (!existsSync(GUP_TEST_PATH)) {
    return { ok: false, skipped: `${GUP_TEST_PATH} missing (CONFIG_GUP_TEST, debugfs)`, acquired: 0, released: 0, expected: 0, message: 'gup_test control not run' };
  }
  const addon = loadAddon();
  const buf = new addon.AlignedBuffer(pages * 4096, { kind: 'anon' });
  try {
    buf.fill(1, 0);
    const before = readCounters();
    for (let i = 0; i < calls; i++) {
      addon.gupTest(GUP_TEST_PATH, GUP_TEST_IOCTL.PIN_FAST_BENCHMARK, encodeGupTest({ addr: buf.address, size: pages * 4096, nrPagesPerCall: pages, gupFlags: FOLL_WRITE }));
    }
    const v = judgeGupControl({ pages, calls, before, after: readCounters() });
    return { ok: v.ok, acquired: v.acquired, released: v.released, expected: v.expected, message: v.message };
  } catch (e) {
    return { ok: false, acquired: 0, released: 0, expected: pages * calls, message: `gup_test control failed: ${errorInfo(e).message}` };
  } finally {
    buf.free();
  }
}

export function linuxGuest(log: (message: string, name?: string) => void): GuestSystem {
  const kmsg = new Kmsg();
  const tdir = tracingDir();
  let available: Map<string, string[]> | undefined;
  const availableFunctions = (): Map<string, string[]> => {
    if (!available) {
      try {
        available = parseAvailableFunctions(readFileSync(join(tdir ?? '/nonexistent', 'available_filter_functions'), 'utf8'));
      } catch (e) {
        log(`no function tracer (${errorInfo(e).message}): path groups will read as unverifiable`);
        available = new Map();
      }
    }
    return available;
  };
  // a counter read without the refresh may lag by the per-cpu deltas: not a reading to judge on
  const refresh = (): void => {
    try {
      readFileSync('/proc/sys/vm/stat_refresh');
    } catch (e) {
      throw new Error(`/proc/sys/vm/stat_refresh failed (${errorInfo(e).message}): pin counters cannot be read exactly`);
    }
  };
  let evidence: PinEvidence | undefined;
  let tracing = false;

  const readCounters = (): PinCounters => {
    refresh();
    return parseVmstat(readFileSync('/proc/vmstat', 'utf8'));
  };

  return {
    pinControl: () => runPinControl(readCounters),
    setupEvidence() {
      evidence ??= setupPinEvidence(tdir, availableFunctions(), () => {
        const addon = loadAddon();
        const buf = new addon.AlignedBuffer(32 * 4096, { kind: 'anon' });
        try {
          buf.fill(1, 0);
          return addon.uringRegisterBuffer(buf);
        } finally {
          buf.free();
        }
      });
      if (evidence.info.mechanism === 'none') log(`pin evidence unavailable: ${evidence.info.unavailable}; verdicts rest on /proc/vmstat`);
      return evidence.info;
    },
    readEvidence: () => evidence?.read(),
    preallocate(path, bytes) {
      const fd = openSync(path, 'w');
      try {
        const chunk = Buffer.alloc(Math.min(bytes, 1 << 20));
        for (let done = 0; done < bytes; ) done += writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - done));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    },
    kernelRelease: () => readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    readCounters,
    traceable: (wanted) => resolveTraceable(wanted, availableFunctions()).traceable,
    startTrace(names) {
      tracing = false;
      if (!tdir) return;
      writeKnob(join(tdir, 'tracing_on'), 0);
      writeKnob(join(tdir, 'current_tracer'), 'nop');
      const { filter } = resolveTraceable(names, availableFunctions());
      // an empty filter would trace every function: trace nothing instead
      if (filter.length === 0) return;
      writeFileSync(join(tdir, 'set_ftrace_filter'), `${filter.join('\n')}\n`);
      writeFileSync(join(tdir, 'trace'), '');
      writeKnob(join(tdir, 'current_tracer'), 'function');
      writeKnob(join(tdir, 'tracing_on'), 1);
      tracing = true;
    },
    stopTrace() {
      if (!tdir || !tracing) return [];
      writeKnob(join(tdir, 'tracing_on'), 0);
      const hits = parseTrace(readFileSync(join(tdir, 'trace'), 'utf8'));
      writeKnob(join(tdir, 'current_tracer'), 'nop');
      tracing = false;
      return hits;
    },
    kmsgSeekEnd() {
      kmsg.drain();
    },
    kmsgRead: () => kmsg.drain().map(formatKmsgRecord),
    setupFault(spec, env) {
      if (spec.fault?.kind !== 'fail-make-request') return undefined;
      const f = spec.fault;
      const dbg = '/sys/kernel/debug/fail_make_request';
      const disk = sysBlockDir(env.diskProbe);
      const knobs = ['probability', 'interval', 'times', 'verbose'] as const;
      const saved = new Map(knobs.map((k) => [k, readKnob(join(dbg, k))]));
      const restore = (): void => {
        writeKnob(join(disk, 'make-it-fail'), 0);
        for (const [k, v] of saved) writeKnob(join(dbg, k), v);
      };
      try {
        writeKnob(join(dbg, 'verbose'), 1);
        writeKnob(join(dbg, 'interval'), f.interval);
        writeKnob(join(dbg, 'probability'), f.probability);
        writeKnob(join(dbg, 'times'), f.times);
        writeKnob(join(disk, 'make-it-fail'), 1);
      } catch (e) {
        restore();
        throw e;
      }
      let remaining: number | undefined;
      return {
        teardown() {
          remaining = Number(readKnob(join(dbg, 'times')));
          restore();
        },
        notes: () => ({
          failMakeRequest: { disk: basename(disk), ...f },
          ...(remaining === undefined ? {} : { faultsInjected: f.times - remaining }),
        }),
      };
    },
    sync(fileSystem) {
      const r = spawnSync('sync', ['-f', fileSystem], { stdio: 'ignore' });
      if (r.status !== 0) spawnSync('sync', [], { stdio: 'ignore' });
    },
    sizeLimit(env) {
      if (env.fileSystem) return undefined;
      try {
        return Number(readKnob(join(sysBlockDir(env.diskProbe), 'size'))) * 512;
      } catch {
        return undefined;
      }
    },
    prepareTmp(spec) {
      const dir = join('/tmp/pinlab', spec.name);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    cleanup(spec, env) {
      if (env.fileSystem) rmSync(env.path, { force: true });
      rmSync(join('/tmp/pinlab', spec.name), { recursive: true, force: true });
    },
    sleep: (ms) => sleepMs(ms).then(() => undefined),
    now: () => performance.now(),
    log,
  };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function loadEngine(): Promise<RunWorkloadIO> {
  // resolved at run time: the engine module loads the native addon, which unit tests avoid
  const url = new URL('../workloads/engines.js', import.meta.url).href;
  try {
    const mod = (await import(url)) as { runWorkloadIO: RunWorkloadIO };
    return mod.runWorkloadIO;
  } catch (e) {
    const why = errorInfo(e).message;
    return async () => {
      throw new Error(`workload engine unavailable: ${why}`);
    };
  }
}

export async function main(): Promise<number> {
  const emit = (e: RunnerEvent): void => {
    process.stdout.write(`${JSON.stringify(e)}\n`);
  };
  const log = (message: string, name?: string): void => emit(name === undefined ? { type: 'log', message } : { type: 'log', name, message });
  let specs: WorkloadSpec[];
  try {
    const parsed = JSON.parse(await readStdin()) as unknown;
    if (!Array.isArray(parsed)) throw new Error('expected a JSON array of WorkloadSpec');
    specs = parsed as WorkloadSpec[];
  } catch (e) {
    log(`bad input: ${errorInfo(e).message}`);
    return 2;
  }
  await runAll(specs, linuxGuest(log), await loadEngine(), emit);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1])) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stdout.write(`${JSON.stringify({ type: 'log', message: `runner crashed: ${errorInfo(e).message}` })}\n`);
      process.exitCode = 3;
    },
  );
}
