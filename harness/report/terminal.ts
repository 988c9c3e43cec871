// What a person watching `pinlab run` sees: one live line per phase and workload (a spinner on a
// TTY, plain lines in CI logs), then a summary table. The formatting is pure and tested; the
// reporter only decides where lines go.
import ora, { type Ora } from 'ora';
import type { RunResult, Verdict } from '../verdict/types.js';
import { countStatuses, kernelLabel, reasonText, sortVerdicts } from './common.js';
import type { Reporter, RunEvent } from './events.js';
import { formatEvidenceHealth } from '../verdict/calibration.js';

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const totalSeconds = Math.round(ms / 1000);
  const minutes = Math.floor(totalSeconds / 60);
  return `${minutes}m${String(totalSeconds % 60).padStart(2, '0')}s`;
}

export function formatPhaseEnd(phase: string, elapsedMs: number, ok: boolean, detail?: string): string {
  const tail = detail ? `: ${detail}` : '';
  return `${phase} ${ok ? 'done' : 'FAILED'} in ${formatDuration(elapsedMs)}${tail}`;
}

export function formatVerdictLine(v: Verdict, index?: number, total?: number, elapsedMs?: number): string {
  const pos = index !== undefined && total !== undefined ? `[${index}/${total}] ` : '';
  const reason = reasonText(v);
  const time = elapsedMs !== undefined ? ` ${formatDuration(elapsedMs)}` : '';
  return `${pos}${v.name} ${v.status}${reason ? ` ${reason}` : ''}${time}`;
}

const PATH_WIDTH = 40;

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/** Left-aligned columns separated by two spaces; trailing blanks trimmed. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

function pinsCell(v: Verdict): string {
  const n = v.numbers;
  return n ? `${n.acquired}/${n.released}/${n.expectedPins}` : '-';
}

/** The words at the end of the counts line; the exit code itself is decided in cli.ts. */
export function runOutcomeWord(result: RunResult): string {
  const c = countStatuses(result.verdicts);
  if (c.FAIL > 0 || (result.strict && c.XFAIL > 0)) return 'FAILED';
  if (c.ERROR > 0) return 'ERROR';
  if (result.verdicts.length === c.SKIP) return 'NOTHING RAN';
  return 'PASSED';
}

export function formatCounts(result: RunResult): string {
  const c = countStatuses(result.verdicts);
  const n = result.verdicts.length;
  const parts = [`${c.PASS} passed`, `${c.FAIL} failed`, `${c.XFAIL} xfail`, `${c.ERROR} error`, `${c.SKIP} skipped`];
  let note = '';
  if (c.XFAIL > 0) note = result.strict ? ' (--strict: xfail counts as failure)' : ' (xfail: a known state, not counted as a failure)';
  return `${n} workload${n === 1 ? '' : 's'} on ${kernelLabel(result)}: ${parts.join(', ')} -> ${runOutcomeWord(result)}${note}`;
}

export function formatSummary(result: RunResult): string {
  const rows = sortVerdicts(result.verdicts).map((v) => [
    v.name,
    v.target,
    v.engine,
    v.path.length > 0 ? truncate(v.path.join(','), PATH_WIDTH) : '-',
    pinsCell(v),
    v.status,
    reasonText(v),
  ]);
  const table = formatTable(['WORKLOAD', 'TARGET', 'ENGINE', 'PATH', 'ACQ/REL/EXP', 'STATUS', 'REASON'], rows);
  const evidence = result.evidence ? `${formatEvidenceHealth(result.evidence)}\n` : '';
  return `${table}\n${formatCounts(result)}\n${evidence}`;
}

/** Without a TTY a phase's progress and the suite's are printed at most this often: a CI log
 * gets the facts between a phase's start and end without a line per object compiled. */
export const PLAIN_PROGRESS_EVERY_MS = 15_000;

/** "12/42 workloads, 40.0s, about 1m40s left" (no estimate before the first verdict) */
export function formatSuiteProgress(done: number, total: number, elapsedMs: number): string {
  const head = `${done}/${total} workloads, ${formatDuration(elapsedMs)}`;
  return done > 0 && done < total ? `${head}, about ${formatDuration((elapsedMs / done) * (total - done))} left` : head;
}

export interface TerminalOptions {
  stream?: NodeJS.WriteStream;
  /** spinner and live-updated line; defaults to whether the stream is a TTY */
  interactive?: boolean;
  /** the clock (tests) */
  now?: () => number;
}

/** Live progress and the final summary. */
export class TerminalReporter implements Reporter {
  private readonly stream: NodeJS.WriteStream;
  private readonly spinner: Ora | undefined;
  private workload: { index: number; total: number } | undefined;
  private result: RunResult | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  /** the latest progress of the current phase (a build's objects), shown after its label */
  private detail = '';
  /** when each phase (or 'suite') last printed a plain progress line */
  private readonly plainAt = new Map<string, number>();
  private suite: { t0: number; done: number; total: number } | undefined;

  constructor(opts: TerminalOptions = {}) {
    this.stream = opts.stream ?? process.stdout;
    this.now = opts.now ?? Date.now;
    // A zero-width pseudo-terminal (some CI runners) makes the spinner redraw forever.
    const interactive = opts.interactive ?? Boolean(this.stream.isTTY && (this.stream.columns ?? 0) > 0);
    this.spinner = interactive ? ora({ stream: this.stream, discardStdin: false, isEnabled: true }) : undefined;
  }

  /** On a TTY the spinner line shows the time spent so far in the current phase or workload. */
  private startTicking(label: string): void {
    const s = this.spinner;
    if (!s) return;
    this.stopTicking();
    const started = this.now();
    s.start(label);
    this.ticker = setInterval(() => {
      const suite = this.suite ? `  (${formatSuiteProgress(this.suite.done, this.suite.total, this.now() - this.suite.t0)})` : '';
      s.text = `${label} ${formatDuration(this.now() - started)}${this.detail ? `  ${this.detail}` : suite}`;
    }, 1000);
    this.ticker.unref();
  }

  private stopTicking(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
  }

  private print(line: string): void {
    this.stream.write(`${line}\n`);
  }

  /** A plain progress line for `key`, unless one was printed less than PLAIN_PROGRESS_EVERY_MS ago. */
  private printThrottled(key: string, line: string): void {
    const now = this.now();
    if (now - (this.plainAt.get(key) ?? 0) < PLAIN_PROGRESS_EVERY_MS) return;
    this.plainAt.set(key, now);
    this.print(line);
  }

  onEvent(e: RunEvent): void {
    const s = this.spinner;
    switch (e.type) {
      case 'run-start':
        this.print(`pinlab run ${e.runId}: ${e.kernel.profile ?? e.kernel.source}, ${e.workloads} workloads${e.strict ? ' (strict)' : ''}`);
        break;
      case 'phase-start':
        this.detail = '';
        // the first plain progress line comes PLAIN_PROGRESS_EVERY_MS into the phase
        this.plainAt.set(e.phase, this.now());
        if (s) this.startTicking(e.phase);
        else this.print(`${e.phase} ...`);
        break;
      case 'phase-progress':
        if (s) this.detail = e.detail;
        else this.printThrottled(e.phase, `${e.phase}: ${e.detail}`);
        break;
      case 'phase-end': {
        const line = formatPhaseEnd(e.phase, e.elapsedMs, e.ok, e.detail);
        this.stopTicking();
        if (!s) this.print(line);
        else if (e.ok) s.succeed(line);
        else s.fail(line);
        break;
      }
      case 'workload-start':
        this.workload = { index: e.index, total: e.total };
        if (!this.suite) {
          this.suite = { t0: this.now(), done: 0, total: e.total };
          this.plainAt.set('suite', this.suite.t0);
        }
        this.detail = '';
        if (s) this.startTicking(`[${e.index}/${e.total}] ${e.name}`);
        break;
      case 'verdict': {
        const line = formatVerdictLine(e.verdict, this.workload?.index, this.workload?.total, e.elapsedMs);
        if (this.workload && this.suite) this.suite.done++;
        this.workload = undefined;
        this.stopTicking();
        if (!s) {
          this.print(line);
          if (this.suite) this.printThrottled('suite', `workloads: ${formatSuiteProgress(this.suite.done, this.suite.total, this.now() - this.suite.t0)}`);
        } else if (e.verdict.status === 'PASS') s.succeed(line);
        else if (e.verdict.status === 'SKIP' || e.verdict.status === 'XFAIL') s.warn(line);
        else s.fail(line);
        break;
      }
      case 'run-end':
        this.result = e.result;
        break;
    }
  }

  async finish(): Promise<void> {
    this.stopTicking();
    this.spinner?.stop();
    if (this.result) this.stream.write(`\n${formatSummary(this.result)}`);
  }
}
