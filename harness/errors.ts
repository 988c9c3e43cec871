// Typed errors. cli.ts is the only place that maps them to exit codes.

export class PinlabError extends Error {
  /** a hint line printed under the message */
  hint?: string;
  constructor(message: string, opts?: { hint?: string; cause?: unknown }) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.hint = opts?.hint;
  }
}

/** Something the user can fix: bad flag, missing dir, patch that does not apply. Exit 2 or 3. */
export class UserError extends PinlabError {}

/** The host lacks something (packages, KVM, disk space). Exit 3. */
export class HostError extends PinlabError {}

export class BuildError extends PinlabError {
  constructor(
    message: string,
    readonly logPath?: string,
    readonly firstErrors: string[] = [],
    opts?: { hint?: string; cause?: unknown },
  ) {
    super(message, opts);
  }
}

export type BootFailure = 'panic' | 'oops' | 'init-died' | 'timeout' | 'qemu-exited' | 'channel';

export class BootError extends PinlabError {
  constructor(
    message: string,
    readonly kind: BootFailure,
    readonly consoleTail: string = '',
    readonly logPath?: string,
  ) {
    super(message);
  }
}

export class GuestCommandError extends PinlabError {
  constructor(
    message: string,
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderrTail = '',
  ) {
    super(message);
  }
}

export class HarnessTimeoutError extends PinlabError {
  constructor(
    message: string,
    readonly timeoutMs: number,
  ) {
    super(message);
  }
}

export class InterruptedError extends PinlabError {}

/** A command's failure from the exec gateway: command line, exit code, signal, output tails. */
export class CommandError extends PinlabError {
  constructor(
    message: string,
    readonly argv: string[],
    readonly exitCode: number | undefined,
    readonly signal: string | undefined,
    readonly stdoutTail: string,
    readonly stderrTail: string,
  ) {
    super(message);
  }
}
