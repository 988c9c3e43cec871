// Outcomes and errors -> exit codes and the lines a user reads. cli.ts applies them (the one
// place that sets the process's exit code); commands return an Outcome and never pick numbers.
// 0 all passed, 1 a test failed, 2 usage error, 3 infrastructure (host/build/boot), 4 nothing
// ran, 130 interrupted.
import { BootError, BuildError, CommandError, InterruptedError, PinlabError, UserError } from './errors.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, infra: 3, nothingRan: 4, interrupted: 130 } as const;

/** Did a `pinlab run` that exited with this code reach verdicts (all passed, or a test failed)? */
export function reachedVerdicts(exitCode: number | undefined): boolean {
  return exitCode === EXIT.ok || exitCode === EXIT.failed;
}

/** Outcome of a command. 'code' is for protocols with their own numbers (git bisect run, a guest command's status). */
export type Outcome = { kind: 'ok' } | { kind: 'failed' } | { kind: 'nothing-ran' } | { kind: 'infra' } | { kind: 'code'; code: number };

export function exitCodeFor(outcome: Outcome): number {
  switch (outcome.kind) {
    case 'ok':
      return EXIT.ok;
    case 'failed':
      return EXIT.failed;
    case 'nothing-ran':
      return EXIT.nothingRan;
    case 'infra':
      return EXIT.infra;
    case 'code':
      return outcome.code;
  }
}

/** Interrupts are 130 and bad input is 2; every other failure (host, build, boot, guest,
 * timeouts, harness) is an infrastructure error. */
export function exitCodeForError(e: unknown): number {
  if (e instanceof InterruptedError) return EXIT.interrupted;
  if (e instanceof UserError) return EXIT.usage;
  return EXIT.infra;
}

/** The lines a user reads for an error: one line (and a hint, build errors, console tail); the stack only with verbose. */
export function describeError(e: unknown, verbose: boolean): string {
  if (!(e instanceof Error)) return `pinlab: ${String(e)}`;
  const lines = [`pinlab: ${e.message}`];
  if (e instanceof PinlabError && e.hint) lines.push(`  hint: ${e.hint}`);
  if (e instanceof BuildError) {
    for (const l of e.firstErrors) lines.push(`  ${l}`);
    if (e.logPath) lines.push(`  full log: ${e.logPath}`);
  }
  if (e instanceof BootError) {
    if (e.consoleTail) lines.push(...e.consoleTail.split('\n').slice(-15).map((l) => `  | ${l}`));
    if (e.logPath) lines.push(`  console log: ${e.logPath}`);
  }
  if (e instanceof CommandError && (e.stderrTail || e.stdoutTail)) {
    lines.push(...(e.stderrTail || e.stdoutTail).trim().split('\n').slice(-10).map((l) => `  | ${l}`));
  }
  if (verbose && e.stack) lines.push(e.stack);
  return lines.join('\n');
}
