// The one gateway to child processes. Every external command is first a planned Step (an argv
// array), so --dry-run can print it and tests can inspect it; execution adds cancellation,
// timeouts, per-phase log files and errors that carry the command and its output tails.
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { CommandError, HarnessTimeoutError, InterruptedError } from './errors.js';

export interface Step {
  /** short phase name used for logging, e.g. "kernel:build" */
  phase: string;
  argv: string[];
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** text written to stdin */
  input?: string;
  /** append combined output here */
  logFile?: string;
  /** the process dies with pinlab, even when pinlab is SIGKILLed (QEMU, make): see dieWithParent */
  diesWithParent?: boolean;
}

export interface StepResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface ExecOptions {
  signal?: AbortSignal;
  /** resolve with the exit code instead of throwing on non-zero exit */
  allowFailure?: boolean;
  /** called with each output line (stdout and stderr) as it arrives */
  onLine?: (line: string) => void;
}

/** A word as /bin/sh reads it: as is when it is plain, single-quoted otherwise. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The argv the way a shell user would type it (--dry-run, logs, error messages, guest commands). */
export function formatArgv(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

/** Chunks of output in, whole lines out; end() gives the last line when it had no newline. */
export function lineSplitter(onLine: (line: string) => void): { push(chunk: Buffer | string): void; end(): void } {
  let pending = '';
  return {
    push(chunk) {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      lines.forEach((l) => onLine(l));
    },
    end() {
      if (pending) onLine(pending);
      pending = '';
    },
  };
}

export function tail(text: string, lines = 20): string {
  const all = text.split('\n');
  return all.slice(Math.max(0, all.length - lines)).join('\n');
}

/**
 * argv that runs `argv` so that it dies with the process spawning it (pinlab), even by SIGKILL:
 * setpriv sets the parent-death signal, which survives the exec; the shell then checks that its
 * parent is still that process, since pinlab may have died before the signal was set. The
 * parent-death signal fires when the spawning *thread* exits: spawn from the main thread. Pure.
 */
export function dieWithParent(argv: readonly string[], parentPid: number): string[] {
  return ['setpriv', '--pdeathsig', 'KILL', '--', '/bin/sh', '-c', '[ "$PPID" = "$0" ] || exit 125; exec "$@"', String(parentPid), ...argv];
}

function start(step: Step, opts: ExecOptions): ResultPromise<{ all: true; reject: false }> {
  const [file, ...args] = step.diesWithParent ? dieWithParent(step.argv, process.pid) : step.argv;
  if (!file) throw new Error(`step ${step.phase} has an empty argv`);
  if (step.logFile) mkdirSync(dirname(step.logFile), { recursive: true });
  const child = execa(file, args, {
    cwd: step.cwd,
    env: step.env,
    input: step.input,
    all: true,
    reject: false,
    stripFinalNewline: false,
    timeout: step.timeoutMs,
    cancelSignal: opts.signal,
    forceKillAfterDelay: 5000,
    killSignal: 'SIGTERM',
    buffer: true,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (step.logFile) {
    const log = createWriteStream(step.logFile, { flags: 'a' });
    log.write(`$ ${formatArgv(step.argv)}\n`);
    child.all?.pipe(log);
  }
  if (opts.onLine) {
    const lines = lineSplitter(opts.onLine);
    child.all?.on('data', (chunk: Buffer) => lines.push(chunk));
  }
  return child;
}

/** Run a step to completion. Throws CommandError / HarnessTimeoutError / InterruptedError. */
export async function runStep(step: Step, opts: ExecOptions = {}): Promise<StepResult> {
  const t0 = Date.now();
  const r = await start(step, opts);
  const durationMs = Date.now() - t0;
  const stdout = String(r.stdout ?? '');
  const stderr = String(r.stderr ?? '');
  if (r.isCanceled) throw new InterruptedError(`interrupted: ${step.phase}`);
  if (r.timedOut) {
    throw new HarnessTimeoutError(
      `${step.phase}: '${formatArgv(step.argv)}' did not finish within ${Math.round((step.timeoutMs ?? 0) / 1000)} s`,
      step.timeoutMs ?? 0,
    );
  }
  if (r.failed && r.exitCode === undefined) {
    // spawn failure (ENOENT etc.) or killed by a signal
    const why = r.signal ? `killed by ${r.signal}` : (r.cause as Error | undefined)?.message ?? r.shortMessage;
    throw new CommandError(`${step.phase}: ${step.argv[0]}: ${why}`, step.argv, undefined, r.signal, tail(stdout), tail(stderr));
  }
  const exitCode = r.exitCode ?? 0;
  if (exitCode !== 0 && !opts.allowFailure) {
    throw new CommandError(
      `${step.phase}: '${formatArgv(step.argv)}' exited with ${exitCode}`,
      step.argv,
      exitCode,
      r.signal,
      tail(stdout),
      tail(stderr),
    );
  }
  return { exitCode, stdout, stderr, durationMs };
}

/** Start a long-running step (QEMU) and hand back the child; the caller owns its teardown. */
export function spawnStep(step: Step, opts: ExecOptions = {}): ResultPromise<{ all: true; reject: false }> {
  return start(step, opts);
}
