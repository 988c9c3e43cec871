// The host side of the in-guest runner: one ssh command streaming JSON events, watched per
// workload. A workload that gives no result within its bound, or a kernel splat on the console
// while the runner is silent, ends the wait for that guest: the workload is judged from what is
// known (ERROR timeout, FAIL kernel-splat) and the caller boots a fresh guest for the rest.
// Measured before this existed: a kernel that BUGged after the last workload kept pinlab
// waiting for the whole-suite timeout (about 2 hours for 39 workloads), splat already on the console.
import { readFileSync, writeFileSync } from 'node:fs';
import { InterruptedError, PinlabError } from '../errors.js';
import { lineSplitter } from '../exec.js';
import type { Vm } from '../vm/runner.js';
import type { BackgroundNoise, PinControl, PinEvidenceInfo, WorkloadObservation, WorkloadSpec } from '../workloads/types.js';
import { GUEST_RUNNER_ARGV, parseRunnerLine, runnerInputText } from './protocol.js';
import { classifyKernelLog } from '../verdict/dmesg.js';
import type { Splat, Verdict } from '../verdict/types.js';
import type { Reporter } from '../report/events.js';
import type { Stall } from '../rundir.js';

export interface RunnerBounds {
  /** runner start -> hello, and one result -> the next start (setup, idle window, control) */
  setupMs: number;
  /** a workload's start -> its result (fork races under TCG are the slow ones: ~3 minutes) */
  perWorkloadMs: number;
  /** a new splat on the console with no runner output for this long ends the wait */
  splatSilenceMs: number;
}

export const DEFAULT_RUNNER_BOUNDS: RunnerBounds = { setupMs: 60_000, perWorkloadMs: 180_000, splatSilenceMs: 15_000 };



export interface RunnerHandlers {
  reporter: Reporter;
  /** index of each workload in the whole suite (a fresh guest runs a tail of it) */
  index: Map<string, number>;
  total: number;
  onHello: (background: BackgroundNoise, control: PinControl | undefined, evidence?: PinEvidenceInfo, gcda?: Record<string, string>, functionsTraceable?: string[]) => void;
  onObservation: (obs: WorkloadObservation) => void;
}

const POLL_MS = 1000;
/**
 * Splats after which the guest cannot be trusted to go on. Not WARNING or lockdep, and not the
 * stall reports (hung task, soft lockup, RCU stall), which a loaded TCG host can cause on its own:
 * a guest that really wedges is caught by the workload's bound (which then charges them: STUCK)
 * or the channel's keepalive.
 */
const STOPPING: ReadonlySet<Splat['kind']> = new Set(['bug', 'oops', 'gpf', 'bad-page', 'kasan', 'panic']);
/**
 * The kernel's own word that it stopped making progress. Not a reason to stop the guest (see
 * STOPPING), but when the workload running then never finishes, they say why it hung.
 */
const STUCK: ReadonlySet<Splat['kind']> = new Set(['soft-lockup', 'rcu-stall', 'hung-task']);

function consoleSplats(consoleText: string): Splat[] {
  // the serial console ends lines with CRLF; the splat keeps its lines as the kernel wrote them
  const lines = consoleText.replace(/\r\n/g, '\n').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return classifyKernelLog(lines);
}

export function stoppingSplats(consoleText: string): Splat[] {
  return consoleSplats(consoleText).filter((s) => STOPPING.has(s.kind));
}

/**
 * The stuck-kernel reports (soft lockup, RCU stall, hung task) the kernel printed after the
 * running workload started, by the guest's timestamps of both; none without them, so that a
 * report of an earlier workload is never charged to this one. Pure.
 */
export function stuckSplats(consoleText: string, running: { t?: number } | undefined): Splat[] {
  const start = running?.t;
  if (start === undefined) return [];
  return consoleSplats(consoleText).filter((s) => STUCK.has(s.kind) && (splatTime(s) ?? -Infinity) >= start);
}

/** The guest kernel's timestamp of a splat (seconds): its first line's "[  12.345678]" prefix. Pure. */
export function splatTime(s: Splat): number | undefined {
  const m = /^\s*(?:<\d+>)?\[\s*(\d+\.\d+)\]/.exec(s.lines[0] ?? '');
  return m ? Number(m[1]) : undefined;
}

/**
 * The splats printed after the last event the runner finished (`since`, guest seconds): by the
 * kernel's timestamps when the runner stamps its events and the console has them, else those
 * past the `seen` first (counted when the host took that event). Pure.
 */
export function splatsAfter(splats: readonly Splat[], since: number | undefined, seen: number): Splat[] {
  if (since !== undefined && splats.every((s) => splatTime(s) !== undefined)) return splats.filter((s) => splatTime(s)! > since);
  return splats.slice(seen);
}

/**
 * Whom a splat is charged to: the workload that had started when the kernel printed it, by the
 * guest timestamps of both; undefined when it came before that workload's start (between two
 * workloads). Without timestamps, the workload that had started as the host saw it. Pure.
 */
export function chargedTo(splat: Splat, current: { name: string; t?: number } | undefined): string | undefined {
  if (!current) return undefined;
  const t = splatTime(splat);
  if (t === undefined || current.t === undefined) return current.name;
  return t >= current.t ? current.name : undefined;
}

/** The stall a splat on a silent runner makes, charged by chargedTo. Pure. */
export function splatStall(fresh: readonly Splat[], current: { name: string; t?: number } | undefined, lastDone: string | undefined, why: 'splat' | 'guest-died', detail: string): Stall {
  const name = chargedTo(fresh[0]!, current);
  if (name !== undefined || !fresh.length) return { name, why, detail, splats: [...fresh] };
  const between = { ...(lastDone ? { after: lastDone } : {}), ...(current ? { before: current.name } : {}) };
  const where = `between workloads (${lastDone ?? 'start'} .. ${current?.name ?? 'next'})`;
  return { why, detail: `${detail}; printed ${where}`, splats: [...fresh], between };
}

/**
 * Run the guest runner on `workloads` and stream its events to the handlers. Resolves when the
 * runner exits, or with a Stall when the watchdog gave up on it (the guest is then unusable: the
 * caller shuts it down). Throws only on interruption (opts.signal).
 */
export async function runWorkloadsInGuest(
  vm: Vm,
  workloads: readonly WorkloadSpec[],
  h: RunnerHandlers,
  logFile: string,
  opts: { signal: AbortSignal; bounds?: RunnerBounds; runnerArgv?: readonly string[]; traceFunctions?: string[] },
): Promise<{ exitCode: number | null; stderr: string; stall?: Stall }> {
  const bounds = opts.bounds ?? DEFAULT_RUNNER_BOUNDS;
  const log: string[] = [];
  /** the workload that started and has no result yet, with the guest's timestamp of its start */
  let running: { name: string; t?: number } | undefined;
  /** the last event the runner finished (hello, a result): guest timestamp and workload */
  let doneAt: number | undefined;
  let lastDone: string | undefined;
  let deadline = Date.now() + bounds.setupMs;
  let lastOutput = Date.now();
  /**
   * Stopping splats on the console when the runner last finished something (hello, a result):
   * only later ones count. Not recounted at a workload's start: the guest prints the start event
   * and goes on, so a kernel that BUGs at once can put the splat on the console (a serial line,
   * fast) before the start event has come through ssh; counted then, that splat would be taken
   * as old and the wait would run to the workload's bound instead of ending on the splat.
   */
  let splatsSeen = 0;
  const countSplats = () => {
    try {
      splatsSeen = stoppingSplats(readFileSync(vm.consoleLog, 'utf8')).length;
    } catch {
      splatsSeen = 0;
    }
  };
  let stall: Stall | undefined;
  const watchdog = new AbortController();
  const give = (s: Stall) => {
    if (stall) return;
    stall = s;
    watchdog.abort();
  };

  const onLine = (line: string) => {
    if (!line.trim()) return;
    log.push(line);
    const ev = parseRunnerLine(line);
    if (!ev) return; // not an event: kept in the log
    if (ev.type === 'hello' || ev.type === 'result') {
      countSplats();
      doneAt = ev.t;
    }
    if (ev.type === 'hello') {
      h.onHello(ev.background, ev.control, ev.evidence, ev.gcda, ev.functionsTraceable);
      deadline = Date.now() + bounds.setupMs;
    } else if (ev.type === 'start') {
      running = { name: ev.name, ...(ev.t === undefined ? {} : { t: ev.t }) };
      deadline = Date.now() + bounds.perWorkloadMs;
      h.reporter.onEvent({ type: 'workload-start', name: ev.name, index: h.index.get(ev.name) ?? 0, total: h.total });
    } else if (ev.type === 'result') {
      running = undefined;
      lastDone = ev.name;
      deadline = Date.now() + bounds.setupMs;
      h.onObservation(ev.result);
    }
  };
  const lines = lineSplitter(onLine);

  // the console is read while the runner is quiet: a splat there explains the silence
  const poll = setInterval(() => {
    void vm.consoleText().then((text) => {
      const now = Date.now();
      const fresh = splatsAfter(stoppingSplats(text), doneAt, splatsSeen);
      if (fresh.length > 0 && now - lastOutput >= bounds.splatSilenceMs) {
        give(splatStall(fresh, running, lastDone, 'splat', `${fresh[0]!.title} on the console, runner silent for ${Math.round((now - lastOutput) / 1000)} s`));
      } else if (now > deadline) {
        const what = running ? `no result for ${running.name}` : 'the runner did not go on';
        const bound = running ? bounds.perWorkloadMs : bounds.setupMs;
        // a workload past its bound while the kernel reported itself stuck: the report is why
        give({ name: running?.name, why: 'timeout', detail: `${what} within ${Math.round(bound / 1000)} s`, splats: stuckSplats(text, running) });
      }
    });
  }, POLL_MS);

  const signal = AbortSignal.any([opts.signal, watchdog.signal]);
  try {
    const r = await vm.exec([...(opts.runnerArgv ?? GUEST_RUNNER_ARGV)], {
      input: runnerInputText({ workloads: [...workloads], ...(opts.traceFunctions ? { traceFunctions: opts.traceFunctions } : {}) }),
      // a backstop only: the watchdog above bounds every step
      timeoutMs: bounds.setupMs + workloads.length * (bounds.perWorkloadMs + bounds.setupMs),
      signal,
      onStdout: (chunk) => {
        lastOutput = Date.now();
        lines.push(chunk);
      },
    });
    lines.end();
    writeFileSync(logFile, `${log.join('\n')}\n--- stderr ---\n${r.stderr}`);
    return { exitCode: r.exitCode, stderr: r.stderr };
  } catch (error) {
    if (opts.signal.aborted) throw error instanceof InterruptedError ? error : new InterruptedError('interrupted while the workloads ran', { cause: error });
    if (!stall) {
      if (!(error instanceof PinlabError)) throw error;
      // the guest died (panic, reboot) or its channel did: what the console says is the cause
      const fresh = splatsAfter(stoppingSplats(await vm.consoleText()), doneAt, splatsSeen);
      const detail = error.message.split('\n')[0]!;
      give(fresh.length ? splatStall(fresh, running, lastDone, 'guest-died', detail) : { name: running?.name, why: 'guest-died', detail, splats: [] });
    }
    writeFileSync(logFile, `${log.join('\n')}\n--- the wait ended: ${stall!.why}: ${stall!.detail} ---\n`);
    return { exitCode: null, stderr: '', stall };
  } finally {
    clearInterval(poll);
  }
}

/** The verdict of the workload a stall caught: FAIL kernel-splat when the console explains it. */
export function stalledVerdict(spec: WorkloadSpec, stall: Stall): Verdict {
  const base = { name: spec.name, target: spec.target, engine: spec.engine, path: [], pinning: 'unknown' as const, splats: stall.splats };
  if (stall.splats.length > 0) {
    return { ...base, status: 'FAIL', reasons: ['kernel-splat'], message: `${stall.splats[0]!.title} while it ran; the guest was replaced (${stall.detail})` };
  }
  return { ...base, status: 'ERROR', reasons: [], cause: stall.why === 'timeout' ? 'timeout' : 'guest', message: `${stall.detail}; the guest was replaced` };
}
