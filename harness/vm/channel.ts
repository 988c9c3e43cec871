// The control channel: ssh2 over the VM's virtio-serial port (a unix socket in the private run
// directory; no network at all). A fresh ed25519 key pair per run, the guest's per-run host key
// pinned, no passwords. One ssh connection per VM (the port takes one client at a time); every
// command is its own channel on it.
import { connect as netConnect } from 'node:net';
import { constants as osConstants } from 'node:os';
import { readFile, rm } from 'node:fs/promises';
import { appendFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Client, type ClientChannel, type SFTPWrapper } from 'ssh2';
import { formatArgv, runStep, shellQuote } from '../exec.js';
import type { RunContext } from '../context.js';
import { HarnessTimeoutError, InterruptedError, PinlabError } from '../errors.js';

export interface RunKeys {
  /** OpenSSH private key of the host-side client (kept in memory) */
  clientPrivateKey: Buffer;
  /** the client's public key line, for the guest's authorized_keys */
  authorizedKey: string;
  /** the guest's private host key file (goes into the per-run cpio) */
  hostKeyFile: string;
  /** the guest host key's public blob: the only key the client accepts */
  hostKeyBlob: Buffer;
}

export interface GuestExecOptions {
  timeoutMs?: number;
  input?: string | Buffer;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  signal?: AbortSignal;
}

export interface GuestExecResult {
  /** null when the command was killed by a signal */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** the status came from the guest's exit file: sshd lost the exit (see exec()) */
  recoveredExit?: true;
}

/** The connection or a command's channel ended without a result (the guest died or sshd did). */
export class ChannelLostError extends PinlabError {}

export const DEFAULT_COMMAND_TIMEOUT_MS = 120_000;
/**
 * A keepalive every second, and a guest whose sshd answers none for a minute is gone. Why: the
 * guest's sshd sometimes acts on the host's last bytes only once more bytes follow (a wake-up
 * lost on the way host -> virtio-serial -> sshd). Measured 2026-11-29 with PINLAB_SSH_DEBUG: a
 * CHANNEL_OPEN sent at 20.557 s was confirmed at 80.656 s, 2 ms after the next packet the host
 * sent (pinlab-kill's, at the command's timeout). With nothing else to send, pinlab waited out
 * the command's whole timeout (an hour for `pinlab boot -- CMD`): 5 stalls in 5193 quick commands
 * under load without keepalives (virtio-serial event_idx=off did not help: 2 in 2000), 0 in 3000
 * with them, where two channel opens waited 0.95 s and were confirmed 2 and 21 ms after a
 * keepalive. A keepalive is that next packet, and sshd's reply a write the other way.
 */
const KEEPALIVE_MS = 1000;
const KEEPALIVE_MAX_UNANSWERED = 60;
const KILL_TIMEOUT_MS = 30_000;
/** after the command's EOF, how long to wait for sshd's exit-status before asking the exit file */
const EXIT_GRACE_MS = 2_000;
const EXIT_RECHECK_MS = 5_000;

/**
 * The shell line sshd runs for a command: the command in a child /bin/sh, its status written to
 * /run/pinlab-exit.ID, and a death by signal passed on (the wrapper kills itself with the same
 * signal), so the channel reports what it would report for the command itself. Pure.
 */
export function wrapCommand(id: string, line: string): string {
  return [
    `export PINLAB_CMD=${id}`,
    `/bin/sh -c ${shellQuote(line)}`,
    's=$?',
    `echo $s >/run/pinlab-exit.${id}`,
    '[ $s -gt 128 ] && kill -$((s - 128)) $$',
    'exit $s',
  ].join('; ');
}

/** The status in an exit file ("137" -> SIGKILL), or undefined when it holds no status. */
export function statusFromExitFile(text: string): { exitCode: number | null; signal: string | null } | undefined {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  if (n > 128) {
    const name = Object.entries(osConstants.signals).find(([, v]) => v === n - 128)?.[0];
    if (name) return { exitCode: null, signal: name };
  }
  return { exitCode: n, signal: null };
}

/** The public key blob of an OpenSSH public key line ("ssh-ed25519 AAAA... comment"). */
export function publicKeyBlob(line: string): Buffer {
  const b64 = line.trim().split(/\s+/)[1];
  if (!b64) throw new Error(`not an OpenSSH public key: ${line.slice(0, 40)}`);
  return Buffer.from(b64, 'base64');
}

/** What the guest's /bin/sh runs: a string as is, an argv quoted word by word. */
export function commandLine(cmd: string | readonly string[]): string {
  return typeof cmd === 'string' ? cmd : formatArgv(cmd);
}

/** Two ed25519 key pairs in the run directory: the client's and the guest's host key. */
export async function generateRunKeys(clientKeyFile: string, hostKeyFile: string, ctx: RunContext): Promise<RunKeys> {
  for (const [file, comment] of [
    [clientKeyFile, 'pinlab-client'],
    [hostKeyFile, 'pinlab-guest'],
  ] as const) {
    await rm(file, { force: true });
    await rm(`${file}.pub`, { force: true });
    await runStep(
      { phase: 'vm:keys', argv: ['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], timeoutMs: 30_000 },
      { signal: ctx.signal },
    );
  }
  return {
    clientPrivateKey: await readFile(clientKeyFile),
    authorizedKey: (await readFile(`${clientKeyFile}.pub`, 'utf8')).trim(),
    hostKeyFile,
    hostKeyBlob: publicKeyBlob(await readFile(`${hostKeyFile}.pub`, 'utf8')),
  };
}

/** ssh2's protocol trace, timestamped, appended to a file (PINLAB_SSH_DEBUG=1): for hangs. */
function sshDebugLog(file: string): (msg: string) => void {
  const t0 = Date.now();
  return (msg) => appendFileSync(file, `${((Date.now() - t0) / 1000).toFixed(3)} ${msg}\n`);
}

export class GuestChannel {
  private closed = false;
  private commands = 0;

  private constructor(private readonly client: Client) {
    client.on('close', () => {
      this.closed = true;
    });
  }

  /** Over an ssh2 Client that is already authenticated (tests drive one that is not real). */
  static fromClient(client: Client): GuestChannel {
    return new GuestChannel(client);
  }

  /**
   * Connect over the unix socket and authenticate. May be called before the guest has booted:
   * bytes sent before the guest opens its port are delivered later, so this also waits for
   * the guest's sshd (readyTimeoutMs bounds it).
   */
  static connect(socketPath: string, keys: RunKeys, opts: { readyTimeoutMs: number; signal?: AbortSignal }): Promise<GuestChannel> {
    return new Promise((resolve, reject) => {
      const client = new Client();
      const sock = netConnect(socketPath);
      let settled = false;
      const settle = (error?: Error) => {
        if (settled) return;
        settled = true;
        opts.signal?.removeEventListener('abort', onAbort);
        if (error) {
          client.end();
          sock.destroy();
          reject(error);
        } else resolve(new GuestChannel(client));
      };
      const onAbort = () => settle(new InterruptedError('interrupted while connecting to the guest'));
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      sock.on('error', (e) => settle(e));
      client.on('ready', () => settle());
      client.on('error', (e) => settle(e));
      client.on('close', () => settle(new Error('the guest closed the ssh connection')));
      client.connect({
        sock,
        username: 'root',
        privateKey: keys.clientPrivateKey,
        hostVerifier: (key: Buffer) => key.equals(keys.hostKeyBlob),
        readyTimeout: opts.readyTimeoutMs,
        keepaliveInterval: KEEPALIVE_MS,
        keepaliveCountMax: KEEPALIVE_MAX_UNANSWERED,
        // the only method the guest accepts: ssh2 would try 'none' first, a round trip (~35 ms
        // under TCG) on every boot's critical path
        authHandler: ['publickey'],
        algorithms: { serverHostKey: ['ssh-ed25519'] },
        ...(process.env.PINLAB_SSH_DEBUG ? { debug: sshDebugLog(join(dirname(socketPath), 'ssh-debug.log')) } : {}),
      });
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Run a command. Resolves with its status whatever it is; throws only on timeout/interrupt/
   * channel loss. A command that times out is killed in the guest, with everything it started:
   * each command runs with a PINLAB_CMD=<id> environment marker that images/pinlab-kill finds.
   * (ssh "signal" requests cannot be used: ssh2 sends none once stdin is closed, and commands
   * need EOF on stdin.)
   */
  exec(cmd: string | readonly string[], opts: GuestExecOptions = {}): Promise<GuestExecResult> {
    const line = commandLine(cmd);
    const id = `${process.pid}-${++this.commands}`;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const t0 = Date.now();
    return new Promise((resolve, reject) => {
      // The clock starts before the channel opens: a wedged guest may never confirm the open.
      let stream: ClientChannel | undefined;
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      let exitCode: number | null = null;
      let signal: string | null = null;
      let done = false;
      let recheck: NodeJS.Timeout | undefined;
      let recovered = false;
      const finish = (error?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (recheck) clearTimeout(recheck);
        opts.signal?.removeEventListener('abort', onAbort);
        if (error) {
          stream?.close();
          if (error instanceof HarnessTimeoutError && !this.closed) {
            // wait for the kill, so the next command does not share the guest with this one
            void this.kill(id).finally(() => reject(error));
          } else reject(error);
          return;
        }
        if (recovered) stream?.close();
        resolve({
          exitCode,
          signal,
          stdout: Buffer.concat(out).toString(),
          stderr: Buffer.concat(errOut).toString(),
          durationMs: Date.now() - t0,
          ...(recovered ? { recoveredExit: true as const } : {}),
        });
      };
      const timer = setTimeout(
        () => finish(new HarnessTimeoutError(`guest command '${line}' did not finish within ${Math.round(timeoutMs / 1000)} s (its threads' kernel stacks: PINLAB-STUCK in the console log)`, timeoutMs)),
        timeoutMs,
      );
      const onAbort = () => finish(new InterruptedError(`interrupted: guest command '${line}'`));
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      // sshd (OpenSSH 9.2 in the guest) sometimes never reports a command's exit: the command
      // is gone, its output and EOF arrived, and the channel stays open (seen about once in
      // 50-100 quick commands under TCG). So after EOF, a missing exit-status is read from the
      // exit file the wrapper wrote, on a fresh channel.
      const recover = () => {
        recheck = undefined;
        if (done) return;
        void this.readExitFile(id).then((st) => {
          if (done) return;
          if (!st) {
            recheck = setTimeout(recover, EXIT_RECHECK_MS);
            return;
          }
          exitCode = st.exitCode;
          signal = st.signal;
          recovered = true;
          finish();
        });
      };
      this.client.exec(wrapCommand(id, line), (err, ch) => {
        if (err) return finish(new ChannelLostError(`no channel for '${line}': ${err.message}`));
        if (done) return void ch.close();
        stream = ch;
        ch.on('end', () => {
          if (!done && exitCode === null && signal === null) recheck = setTimeout(recover, EXIT_GRACE_MS);
        });
        ch.on('data', (b: Buffer) => {
          out.push(b);
          opts.onStdout?.(b);
        });
        ch.stderr.on('data', (b: Buffer) => {
          errOut.push(b);
          opts.onStderr?.(b);
        });
        ch.on('exit', (code: number | null, sig?: string) => {
          exitCode = code ?? null;
          signal = sig ?? null;
        });
        ch.on('close', () =>
          exitCode === null && signal === null ? finish(new ChannelLostError(`the ssh channel closed without an exit status: '${line}'`)) : finish(),
        );
        ch.end(opts.input ?? undefined);
      });
    });
  }

  /**
   * A helper command on a channel of its own, unwrapped: its stdout once it reaches EOF (not the
   * channel close, which sshd may never send), or undefined on error or after KILL_TIMEOUT_MS.
   */
  private helper(line: string): Promise<string | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), KILL_TIMEOUT_MS);
      this.client.exec(line, (err, ch) => {
        if (err) {
          clearTimeout(timer);
          return resolve(undefined);
        }
        const out: Buffer[] = [];
        ch.on('data', (b: Buffer) => out.push(b));
        ch.stderr.resume();
        ch.on('end', () => {
          clearTimeout(timer);
          resolve(Buffer.concat(out).toString());
          ch.close();
        });
        ch.end();
      });
    });
  }

  /** The status in /run/pinlab-exit.ID; undefined if there is none yet. */
  private async readExitFile(id: string): Promise<ReturnType<typeof statusFromExitFile>> {
    return statusFromExitFile((await this.helper(`cat /run/pinlab-exit.${id} 2>/dev/null`)) ?? '');
  }

  private async kill(id: string): Promise<void> {
    await this.helper(`pinlab-kill ${id}`);
  }

  /** One sftp session for one transfer, ended afterwards. */
  private async withSftp(op: (sftp: SFTPWrapper, done: (e?: Error | null) => void) => void): Promise<void> {
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) => this.client.sftp((err, s) => (err ? reject(err) : resolve(s))));
    try {
      await new Promise<void>((resolve, reject) => op(sftp, (e) => (e ? reject(e) : resolve())));
    } finally {
      sftp.end();
    }
  }

  copyTo(hostPath: string, guestPath: string): Promise<void> {
    return this.withSftp((sftp, done) => sftp.fastPut(hostPath, guestPath, done));
  }

  copyFrom(guestPath: string, hostPath: string): Promise<void> {
    return this.withSftp((sftp, done) => sftp.fastGet(guestPath, hostPath, done));
  }

  /** An interactive shell on the caller's terminal; resolves with the shell's exit status. */
  shell(): Promise<number> {
    const stdin = process.stdin;
    const stdout = process.stdout;
    return new Promise((resolve, reject) => {
      const window = { term: process.env.TERM ?? 'vt100', rows: stdout.rows ?? 24, cols: stdout.columns ?? 80 };
      this.client.shell(window, (err, stream: ClientChannel) => {
        if (err) return reject(err);
        let code = 0;
        const wasRaw = stdin.isTTY ? stdin.isRaw : false;
        if (stdin.isTTY) stdin.setRawMode(true);
        const onResize = () => stream.setWindow(stdout.rows ?? 24, stdout.columns ?? 80, 0, 0);
        stdout.on('resize', onResize);
        stdin.pipe(stream);
        stream.pipe(stdout, { end: false });
        stream.stderr.pipe(process.stderr, { end: false });
        stream.on('exit', (c: number | null) => {
          code = c ?? 1;
        });
        stream.on('close', () => {
          stdin.unpipe(stream);
          stdout.off('resize', onResize);
          if (stdin.isTTY) stdin.setRawMode(wasRaw);
          stdin.pause();
          resolve(code);
        });
      });
    });
  }

  close(): void {
    this.client.end();
  }
}
