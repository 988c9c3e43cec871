// Phases: a named piece of work and its elapsed time, as run events (phase-start, phase-progress,
// phase-end). A run passes its reporter; a command outside a run draws the same events on stderr
// with phaseLines (a spinner with the latest output line on a TTY, start and end lines otherwise).
import ora, { type Ora } from 'ora';
import type { Reporter, RunEvent } from './report/events.js';
import { PLAIN_PROGRESS_EVERY_MS } from './report/terminal.js';

export type PhaseEvents = Pick<Reporter, 'onEvent'>;

export interface Phase {
  /** the latest output line of the work (a build's make line) */
  update(detail: string): void;
}

/** No phase lines (a caller that draws its own, such as bench around a boot). */
export const silentPhases: PhaseEvents = { onEvent: () => undefined };

function elapsed(t0: number): string {
  const s = (Date.now() - t0) / 1000;
  return s < 60 ? `${s.toFixed(1)}s` : `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}

interface PhaseLine {
  update(detail: string): void;
  end(ok: boolean, summary?: string): void;
}

function startLine(name: string, stream: NodeJS.WriteStream): PhaseLine {
  const t0 = Date.now();
  if (!stream.isTTY) {
    stream.write(`[${name}] ...\n`);
    let printedAt = t0;
    return {
      // a CI log gets the progress (a build's objects and time left) at most every 15 s
      update: (d) => {
        if (Date.now() - printedAt < PLAIN_PROGRESS_EVERY_MS) return;
        printedAt = Date.now();
        stream.write(`[${name}] ${elapsed(t0)}: ${d.trim()}\n`);
      },
      end: (ok, s) => stream.write(`[${name}] ${ok ? 'done in' : 'FAILED after'} ${elapsed(t0)}${s ? `: ${s}` : ''}\n`),
    };
  }
  let detail = '';
  const spinner: Ora = ora({ text: name, stream }).start();
  const timer = setInterval(() => {
    spinner.text = `${name} ${elapsed(t0)}${detail ? `  ${detail.slice(0, Math.max(10, (stream.columns ?? 80) - name.length - 16))}` : ''}`;
  }, 250);
  return {
    update: (d) => (detail = d.trim()),
    end: (ok, s) => {
      clearInterval(timer);
      const text = `${name} ${elapsed(t0)}${s ? `: ${s}` : ''}`;
      if (ok) spinner.succeed(text);
      else spinner.fail(text);
    },
  };
}

/** Phase events drawn on a stream, for commands that have no run reporter (build, boot, bench). */
export function phaseLines(stream: NodeJS.WriteStream = process.stderr): PhaseEvents {
  const open = new Map<string, PhaseLine>();
  return {
    onEvent(e: RunEvent) {
      if (e.type === 'phase-start') open.set(e.phase, startLine(e.phase, stream));
      else if (e.type === 'phase-progress') open.get(e.phase)?.update(e.detail);
      else if (e.type === 'phase-end') {
        open.get(e.phase)?.end(e.ok, e.detail);
        open.delete(e.phase);
      }
    },
  };
}

/** Run fn as a phase: phase-start, then phase-end with its elapsed time; a throw ends it failed and is passed on. */
export async function inPhase<T>(name: string, fn: (p: Phase) => Promise<T>, summary?: (r: T) => string, events: PhaseEvents = phaseLines()): Promise<T> {
  const t0 = Date.now();
  events.onEvent({ type: 'phase-start', phase: name });
  try {
    const r = await fn({ update: (detail) => events.onEvent({ type: 'phase-progress', phase: name, detail }) });
    events.onEvent({ type: 'phase-end', phase: name, elapsedMs: Date.now() - t0, ok: true, detail: summary?.(r) });
    return r;
  } catch (e) {
    events.onEvent({ type: 'phase-end', phase: name, elapsedMs: Date.now() - t0, ok: false, detail: e instanceof Error ? e.message.split('\n')[0] : String(e) });
    throw e;
  }
}
