// Live progress on the terminal: phase name + elapsed time (+ the latest output line), using ora
// on a TTY and plain start/end lines otherwise (CI logs).
import ora, { type Ora } from 'ora';

export interface Phase {
  update(detail: string): void;
  succeed(summary?: string): void;
  fail(summary?: string): void;
}

function elapsed(t0: number): string {
  const s = (Date.now() - t0) / 1000;
  return s < 60 ? `${s.toFixed(1)}s` : `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}

export function startPhase(name: string, stream: NodeJS.WriteStream = process.stderr): Phase {
  const t0 = Date.now();
  if (!stream.isTTY) {
    stream.write(`[${name}] ...\n`);
    return {
      update: () => {},
      succeed: (s) => stream.write(`[${name}] done in ${elapsed(t0)}${s ? `: ${s}` : ''}\n`),
      fail: (s) => stream.write(`[${name}] FAILED after ${elapsed(t0)}${s ? `: ${s}` : ''}\n`),
    };
  }
  let detail = '';
  const spinner: Ora = ora({ text: name, stream }).start();
  const timer = setInterval(() => {
    spinner.text = `${name} ${elapsed(t0)}${detail ? `  ${detail.slice(0, Math.max(10, (stream.columns ?? 80) - name.length - 16))}` : ''}`;
  }, 250);
  const stop = () => clearInterval(timer);
  return {
    update: (d) => (detail = d.trim()),
    succeed: (s) => {
      stop();
      spinner.succeed(`${name} ${elapsed(t0)}${s ? `: ${s}` : ''}`);
    },
    fail: (s) => {
      stop();
      spinner.fail(`${name} ${elapsed(t0)}${s ? `: ${s}` : ''}`);
    },
  };
}

/** Run fn inside a phase; the phase fails (and rethrows) when fn throws. */
export async function inPhase<T>(name: string, fn: (p: Phase) => Promise<T>, summary?: (r: T) => string): Promise<T> {
  const p = startPhase(name);
  try {
    const r = await fn(p);
    p.succeed(summary?.(r));
    return r;
  } catch (e) {
    p.fail(e instanceof Error ? e.message.split('\n')[0] : String(e));
    throw e;
  }
}
