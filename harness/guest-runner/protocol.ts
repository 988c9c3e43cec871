// The guest <-> host protocol: what the in-guest programs (guest/main.ts, the workload runner;
// guest/bench.ts, the addon side of `pinlab bench`) read on stdin and write on stdout, one JSON
// object per line. Both sides use these types, and the host parses every line here, live or
// from a saved log (the run directory's runner.log), so a log can be re-read without a VM.
// Pure: imported by guest and host code alike, so it imports only types and boot-protocol.ts.
import { REPO_GUEST_PATH } from '../boot-protocol.js';
import type { BackgroundNoise, PinControl, PinEvidenceInfo, WorkloadObservation, WorkloadSpec } from '../workloads/types.js';

/** Where the built harness is in the guest (the repository's share). */
export const GUEST_DIST = `${REPO_GUEST_PATH}/dist/harness`;
/** The workload runner: a JSON array of WorkloadSpec on stdin, RunnerEvent lines on stdout. */
export const GUEST_RUNNER_ARGV: readonly string[] = ['node', `${GUEST_DIST}/guest/main.js`];
/** The bench side: a GuestBenchInput on stdin, BenchEvent lines on stdout. */
export const GUEST_BENCH_ARGV: readonly string[] = ['node', `${GUEST_DIST}/guest/bench.js`];

/**
 * The runner's stdin: the workloads, and for function coverage (kernels without gcov) the
 * functions of the pin-path sources to trace as well. A plain array is the workloads alone.
 */
export interface RunnerInput {
  workloads: WorkloadSpec[];
  traceFunctions?: string[];
}

export function runnerInputText(input: RunnerInput): string {
  return JSON.stringify(input.traceFunctions ? input : input.workloads);
}

export function parseRunnerInput(text: string): RunnerInput {
  const parsed = JSON.parse(text) as unknown;
  if (Array.isArray(parsed)) return { workloads: parsed as WorkloadSpec[] };
  const o = parsed as Partial<RunnerInput> | null;
  if (o && Array.isArray(o.workloads) && (o.traceFunctions === undefined || Array.isArray(o.traceFunctions))) return o as RunnerInput;
  throw new Error('expected a JSON array of WorkloadSpec, or { workloads, traceFunctions }');
}

/**
 * One line of the workload runner's output stream. `t` on hello, start and result: the guest
 * kernel's timestamp of the event (seconds, the clock of the console's "[  12.345678]" prefixes;
 * absent when the guest could not stamp it), so a splat is charged by when the kernel printed it.
 */
export type RunnerEvent =
  | {
      type: 'hello';
      kernel: string;
      node: string;
      traceable: string[];
      background: BackgroundNoise;
      control?: PinControl;
      evidence?: PinEvidenceInfo;
      /** coverage builds: the gcov counters over the calibration and the control (as WorkloadObservation.gcda) */
      gcda?: Record<string, string>;
      /** function coverage: the traceFunctions this kernel can trace */
      functionsTraceable?: string[];
      t?: number;
    }
  | { type: 'start'; name: string; t?: number }
  | { type: 'result'; name: string; result: WorkloadObservation; t?: number }
  | { type: 'log'; name?: string; message: string }
  | { type: 'done' };

export type BenchEngine = 'psync' | 'libaio' | 'uring';
export type BenchRw = 'randread' | 'read';

/** One I/O job of `pinlab bench`, run both by fio and by the addon. */
export interface IoJob {
  /** e.g. "libaio.4k-randread-qd32" */
  name: string;
  engine: BenchEngine;
  rw: BenchRw;
  blockSize: number;
  queueDepth: number;
  /** bytes of the device the job reads (from offset 0) */
  sizeBytes: number;
  runtimeMs: number;
  /** block device in the guest */
  device: string;
}

export interface IoFigures {
  iops: number;
  ios: number;
  runtimeMs: number;
  /** guest CPU time (user + system) per I/O, microseconds */
  cpuUsPerIo: number;
  /** completion latency in microseconds at LATENCY_PERCENTILES */
  latencyUs: number[];
}

export interface GuestBenchInput {
  prefill?: { device: string; sizeBytes: number };
  jobs: IoJob[];
}

/** One line of the bench side's output stream. */
export type BenchEvent =
  | { type: 'clocksource'; name: string }
  | { type: 'result'; name: string; figures: IoFigures }
  | { type: 'error'; name: string; message: string };

const RUNNER_TYPES = new Set(['hello', 'start', 'result', 'log', 'done']);
const BENCH_TYPES = new Set(['clocksource', 'result', 'error']);

function parseLine(line: string, types: Set<string>): { type: string } | undefined {
  const text = line.trim();
  if (!text.startsWith('{')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const type = (value as { type?: unknown }).type;
  return typeof type === 'string' && types.has(type) ? (value as { type: string }) : undefined;
}

function hasString(v: object, key: string): boolean {
  return typeof (v as Record<string, unknown>)[key] === 'string';
}

/**
 * One runner line as an event, or undefined for a line that is not one (node's warnings, a
 * crash's stack: kept in the log by the caller, never an event). The fields each type's
 * consumer reads first are checked, so a truncated or foreign object is not taken for an event.
 */
export function parseRunnerLine(line: string): RunnerEvent | undefined {
  const ev = parseLine(line, RUNNER_TYPES);
  if (!ev) return undefined;
  switch (ev.type) {
    case 'hello':
      return typeof (ev as { background?: unknown }).background === 'object' ? (ev as RunnerEvent) : undefined;
    case 'start':
      return hasString(ev, 'name') ? (ev as RunnerEvent) : undefined;
    case 'result': {
      const r = (ev as { result?: { spec?: unknown; before?: unknown; after?: unknown } }).result;
      return hasString(ev, 'name') && typeof r === 'object' && r !== null && r.spec && r.before && r.after ? (ev as RunnerEvent) : undefined;
    }
    case 'log':
      return hasString(ev, 'message') ? (ev as RunnerEvent) : undefined;
    default:
      return ev as RunnerEvent;
  }
}

/** Every event of a saved runner log, in order (lines that are not events are skipped). */
export function parseRunnerLog(text: string): RunnerEvent[] {
  return text.split('\n').flatMap((line) => parseRunnerLine(line) ?? []);
}

export function parseBenchLine(line: string): BenchEvent | undefined {
  const ev = parseLine(line, BENCH_TYPES);
  if (!ev || !hasString(ev, 'name')) return undefined;
  if (ev.type === 'result' && typeof (ev as { figures?: unknown }).figures !== 'object') return undefined;
  if (ev.type === 'error' && !hasString(ev, 'message')) return undefined;
  return ev as BenchEvent;
}

/** One event as the line the guest writes. */
export function eventLine(e: RunnerEvent | BenchEvent): string {
  return `${JSON.stringify(e)}\n`;
}
