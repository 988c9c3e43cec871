// Boot a VM to readiness and own it until shutdown. Readiness is explicit: the init's marker on
// the console and then a command answered over ssh. Teardown (QEMU ended by PID, run files
// removed) is registered before anything is set up and runs on success (shutdown), failure,
// timeout and interruption (ctx.signal, which the CLI aborts on SIGINT/SIGTERM).
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunContext } from '../context.js';
import { BootError, InterruptedError, PinlabError, UserError } from '../errors.js';
import { spawnStep, tail } from '../exec.js';
import {
  ChannelLostError,
  GuestChannel,
  commandLine,
  generateRunKeys,
  type GuestExecOptions,
  type GuestExecResult,
} from './channel.js';
import { createDisks } from './disks.js';
import { INIT_MARKS_FILE, READY_MARK } from '../boot-protocol.js';
import { classifyBootFailure, consoleTail, lastConsoleLine, parseConsole, bootFailure } from './console.js';
import { writeRunCpio } from './image.js';
import { registerRun, runStateFiles, sweepStaleRuns, unregisterRun } from './live-runs.js';
import { DEFAULT_LIFETIME_MS, initrdFile, qemuArgv, runFiles, type VmSpec } from './spec.js';

export interface BootTimings {
  /** QEMU start -> first console byte (QEMU start-up, firmware, kernel and initrd loading) */
  firstConsoleMs: number;
  /** QEMU start -> readiness marker on the console */
  markerMs: number;
  /** QEMU start -> first ssh command's output (this is bootMs) */
  firstCommandMs: number;
  /** host-side preparation before QEMU started (keys, cpio, disks) */
  prepareMs: number;
}

export interface Vm {
  readonly spec: VmSpec;
  readonly pid: number;
  readonly consoleLog: string;
  /** QEMU start -> first ssh command output */
  readonly bootMs: number;
  readonly timings: BootTimings;
  /** `uname -r` in the guest */
  readonly kernelRelease: string;
  exec(cmd: string | readonly string[], opts?: GuestExecOptions): Promise<GuestExecResult>;
  copyTo(hostPath: string, guestPath: string): Promise<void>;
  copyFrom(guestPath: string, hostPath: string): Promise<void>;
  /** interactive shell on this terminal (pinlab boot); resolves with its exit status */
  shell(): Promise<number>;
  /** the console so far (for dmesg-style verdicts) */
  consoleText(): Promise<string>;
  /** reboot the guest (QEMU exits: -no-reboot), then tear down. Idempotent. */
  shutdown(): Promise<void>;
}

const POLL_MS = 20;
const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const TERM_GRACE_MS = 3000;
const KILL_GRACE_MS = 5000;
const SHUTDOWN_GRACE_MS = 10_000;
/** the handshake normally completes within ~1 s of the readiness marker, under load too */
const HANDSHAKE_GRACE_MS = 5000;
const HANDSHAKE_ATTEMPTS = 3;
/** with the channel up and no marker on the console, how often init's own log is asked */
const MARKER_ASK_MS = 2000;
/** how long a lost channel waits for QEMU to exit before it is reported as a channel problem */
const DEATH_GRACE_MS = 5000;
/** Unix socket paths are limited to 108 bytes (sun_path). */
const MAX_SOCKET_PATH = 107;

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return '';
  }
}

async function concatenate(parts: readonly string[], out: string): Promise<void> {
  await copyFile(parts[0]!, out);
  const fh = await open(out, 'a');
  try {
    for (const p of parts.slice(1)) await fh.write(await readFile(p));
  } finally {
    await fh.close();
  }
}

/** Make runDir exist, private (0700) and free of a previous run's sockets and disks. */
async function prepareRunDir(spec: VmSpec): Promise<void> {
  const files = runFiles(spec.runDir);
  if (Buffer.byteLength(files.sshSocket) > MAX_SOCKET_PATH) {
    throw new UserError(`run directory path too long for a unix socket: ${files.sshSocket}`, {
      hint: 'use a shorter run directory (PINLAB_RUNS)',
    });
  }
  // disks are created (truncated, formatted) and deleted by the run: never touch files elsewhere
  const outside = spec.disks.filter((d) => dirname(resolve(d.file)) !== resolve(spec.runDir));
  if (outside.length > 0) {
    throw new UserError(`disk files must live in the run directory ${spec.runDir}: ${outside.map((d) => d.file).join(', ')}`);
  }
  await mkdir(spec.runDir, { recursive: true, mode: 0o700 });
  await chmod(spec.runDir, 0o700);
  await rm(files.console, { force: true });
  await rm(files.qemuLog, { force: true });
}

/** Everything the run put in runDir except its logs. */
async function removeRunFiles(spec: VmSpec): Promise<void> {
  await Promise.all(runStateFiles(spec).map((v) => rm(v, { recursive: true, force: true })));
}

export async function bootToReady(spec: VmSpec, ctx: RunContext): Promise<Vm> {
  if (ctx.signal.aborted) throw new InterruptedError('interrupted before boot');
  const files = runFiles(spec.runDir);
  const tPrep = Date.now();
  // what a pinlab killed without its teardown left behind (its QEMU, sockets, disks)
  await sweepStaleRuns(ctx.log);

  let qemu: ReturnType<typeof spawnStep> | undefined;
  let exited = false;
  let exitedPromise: Promise<unknown> = Promise.resolve();
  let channel: GuestChannel | undefined;

  const stopQemu = async () => {
    channel?.close();
    if (!qemu || exited) return;
    qemu.kill('SIGTERM');
    const gone = await Promise.race([exitedPromise.then(() => true), sleep(TERM_GRACE_MS).then(() => false)]);
    if (!gone) {
      qemu.kill('SIGKILL');
      await Promise.race([exitedPromise, sleep(KILL_GRACE_MS)]);
    }
  };
  // Teardown first: the registry entry (runs last), files, then QEMU (runs first).
  const entry = registerRun(spec);
  const unregister = ctx.teardown.add(`vm:registry ${entry}`, () => unregisterRun(entry));
  const removeFiles = ctx.teardown.add(`vm:files ${spec.runDir}`, () => removeRunFiles(spec));
  const endQemu = ctx.teardown.add('vm:qemu', stopQemu);
  const teardown = async () => {
    await endQemu();
    await removeFiles();
    await unregister();
  };

  const fail = async (error: unknown): Promise<never> => {
    await teardown();
    if (ctx.signal.aborted && !(error instanceof InterruptedError)) throw new InterruptedError('interrupted during boot', { cause: error });
    throw error;
  };

  const bootAbort = new AbortController();
  const onCtxAbort = () => bootAbort.abort();
  ctx.signal.addEventListener('abort', onCtxAbort, { once: true });
  try {
    await prepareRunDir(spec);
    const effective: VmSpec = { ...spec, initrd: [...spec.initrd, files.runCpio] };
    const [keys] = await Promise.all([
      (async () => {
        const k = await generateRunKeys(files.clientKey, files.hostKey, ctx);
        await writeRunCpio(files.runTree, files.runCpio, { authorizedKey: k.authorizedKey, hostKeyFile: k.hostKeyFile }, ctx);
        await concatenate(effective.initrd, initrdFile(effective));
        return k;
      })(),
      createDisks(spec.disks, ctx),
    ]);
    const prepareMs = Date.now() - tPrep;

    const argv = qemuArgv(effective);
    const t0 = Date.now();
    const deadline = t0 + spec.bootTimeoutMs;
    // QEMU must not outlive pinlab, whatever kills it: a parent-death signal, set in the child
    qemu = spawnStep({ phase: 'vm:qemu', argv, diesWithParent: true, logFile: files.qemuLog, timeoutMs: spec.lifetimeMs ?? DEFAULT_LIFETIME_MS }, { signal: ctx.signal });
    exitedPromise = qemu.then(
      () => undefined,
      () => undefined,
    );
    void exitedPromise.then(() => {
      exited = true;
    });
    if (qemu.pid === undefined) throw new BootError(`could not start ${argv[0]}`, 'qemu-exited', '', files.qemuLog);
    const pid = qemu.pid;
    await writeFile(files.pid, `${pid}\n`);

    const bootError = async (kind: 'timeout' | 'qemu-exited' | 'channel', detail?: string): Promise<BootError> => {
      if (kind === 'qemu-exited') await exitedPromise;
      const text = await readText(files.console);
      const judged = kind === 'channel' ? { kind: 'channel' as const, title: detail ?? 'ssh channel failed' } : classifyBootFailure(text, kind);
      let message = `boot failed (${judged.kind}): ${judged.title}`;
      if (judged.kind === 'qemu-exited') message += `\n${tail(await readText(files.qemuLog), 10)}`;
      if (judged.kind === 'timeout') {
        // where the guest stopped, in the one line a verdict keeps
        const last = lastConsoleLine(text);
        message += ` within ${Math.round(spec.bootTimeoutMs / 1000)} s (${last === undefined ? 'the console is empty' : `the console ends: ${last}`})`;
      }
      return new BootError(message, judged.kind, consoleTail(text), files.console);
    };

    // The socket appears as soon as QEMU has parsed its options.
    while (!existsSync(files.sshSocket)) {
      if (bootAbort.signal.aborted) throw new InterruptedError('interrupted during boot');
      if (exited) throw await bootError('qemu-exited');
      if (Date.now() > deadline) throw await bootError('timeout');
      await sleep(POLL_MS);
    }

    // Connect now: the handshake completes when the guest's sshd starts. The guest's sshd may
    // not act on the host's last handshake bytes until more follow (the stall the channel's
    // keepalive is for; keepalives only start after authentication), so a handshake still open
    // HANDSHAKE_GRACE_MS after the readiness marker is dropped and tried again on a fresh
    // connection, which the guest serves with a fresh sshd -i.
    let connectError: Error | undefined;
    let attempt: AbortController | undefined;
    let attempts = 0;
    let attemptStarted = 0;
    let connecting: Promise<void> = Promise.resolve();
    const connect = () => {
      attempt?.abort();
      const mine = new AbortController();
      attempt = mine;
      attempts++;
      attemptStarted = Date.now();
      connecting = GuestChannel.connect(files.sshSocket, keys, {
        // a little past the boot deadline, so that the deadline (and its classification) fires first
        readyTimeoutMs: Math.max(1000, deadline - Date.now()) + 2000,
        signal: AbortSignal.any([bootAbort.signal, mine.signal]),
      }).then(
        (c) => {
          if (attempt === mine) channel = c;
          else c.close();
        },
        (e: Error) => {
          if (attempt === mine) connectError = e;
        },
      );
    };
    connect();

    let markerMs = 0;
    let firstConsoleMs = 0;
    let channelUpAt = 0;
    let marksAskedAt = 0;
    for (;;) {
      if (bootAbort.signal.aborted) throw new InterruptedError('interrupted during boot');
      if (exited) throw await bootError('qemu-exited');
      const text = await readText(files.console);
      if (text && firstConsoleMs === 0) firstConsoleMs = Date.now() - t0;
      const state = parseConsole(text);
      if (state.ready && markerMs === 0) markerMs = Date.now() - t0;
      const failure = bootFailure(state);
      // a panic ends QEMU (panic=-1, -no-reboot) and is judged on exit; an oops may not, so
      // stop here (bootError classifies from the console: the oops wins over 'timeout')
      if (failure?.kind === 'oops') throw await bootError('timeout');
      if (channel && markerMs > 0) break;
      // a kernel message can cut the marker's line on the shared serial console: with the
      // channel up and no marker after a while, init's own log says whether it printed it
      if (channel && markerMs === 0) {
        channelUpAt ||= Date.now();
        if (Date.now() - channelUpAt >= MARKER_ASK_MS && Date.now() - marksAskedAt >= MARKER_ASK_MS) {
          marksAskedAt = Date.now();
          const marks = await channel.exec(['cat', INIT_MARKS_FILE], { timeoutMs: MARKER_ASK_MS, signal: bootAbort.signal }).catch(() => undefined);
          if (marks?.stdout.split('\n').some((l) => l.trim().endsWith(` ${READY_MARK}`))) {
            markerMs = Date.now() - t0;
            ctx.log(`vm: no readiness marker on the console, but init logged '${READY_MARK}' (${INIT_MARKS_FILE}): ready`);
            break;
          }
        }
      }
      const handshakeOpenMs = Date.now() - Math.max(t0 + markerMs, attemptStarted);
      if (!channel && !connectError && markerMs > 0 && handshakeOpenMs > HANDSHAKE_GRACE_MS && attempts < HANDSHAKE_ATTEMPTS) {
        ctx.log(`vm: ssh handshake still open ${secs(handshakeOpenMs)} after the readiness marker: connecting again`);
        connect();
      }
      // QEMU's socket file appears at bind(), before listen(): a connect in between is refused
      // (seen once in 16 boots at load 11). Not a handshake attempt: connect again.
      if ((connectError as NodeJS.ErrnoException | undefined)?.code === 'ECONNREFUSED' && !exited && Date.now() < deadline) {
        connectError = undefined;
        attempts -= 1;
        await sleep(POLL_MS);
        connect();
        continue;
      }
      if (connectError) {
        // a failed handshake caused by a dying guest is reported as that death
        await Promise.race([exitedPromise, sleep(1000)]);
        if (exited) throw await bootError('qemu-exited');
        if (Date.now() > deadline) throw await bootError('timeout');
        throw await bootError('channel', `ssh over ${files.sshSocket}: ${connectError.message}`);
      }
      if (Date.now() > deadline) throw await bootError('timeout');
      await sleep(POLL_MS);
    }
    await connecting;
    const ch = channel as GuestChannel | undefined;
    if (!ch) throw await bootError('channel', 'ssh connection lost');

    const first = await ch.exec('uname -r', { timeoutMs: Math.max(1000, deadline - Date.now()), signal: bootAbort.signal });
    if (first.exitCode !== 0) throw await bootError('channel', `'uname -r' in the guest exited with ${first.exitCode}: ${first.stderr.trim()}`);
    const bootMs = Date.now() - t0;
    ctx.signal.removeEventListener('abort', onCtxAbort);
    ctx.log(
      `vm: ready in ${(bootMs / 1000).toFixed(2)} s (kernel ${first.stdout.trim()}, ${spec.accel}; console ${secs(firstConsoleMs)}, init ready ${secs(markerMs)}, ssh ${secs(bootMs)})`,
    );
    return makeVm(spec, pid, ch, { firstConsoleMs, markerMs, firstCommandMs: bootMs, prepareMs }, first.stdout.trim(), {
      isExited: () => exited,
      exitedPromise: () => exitedPromise,
      teardown,
      signal: ctx.signal,
    });
  } catch (error) {
    ctx.signal.removeEventListener('abort', onCtxAbort);
    bootAbort.abort();
    return fail(error);
  }
}

interface Lifecycle {
  isExited: () => boolean;
  exitedPromise: () => Promise<unknown>;
  teardown: () => Promise<void>;
  signal: AbortSignal;
}

function makeVm(spec: VmSpec, pid: number, channel: GuestChannel, timings: BootTimings, kernelRelease: string, life: Lifecycle): Vm {
  const files = runFiles(spec.runDir);
  let shutdownPromise: Promise<void> | undefined;

  const deathError = async (what: string): Promise<BootError> => {
    const text = await readText(files.console);
    const judged = classifyBootFailure(text, 'qemu-exited');
    return new BootError(`the guest died during ${what} (${judged.kind}): ${judged.title}`, judged.kind, consoleTail(text), files.console);
  };
  /** A command that loses the guest under it reports why the guest died. */
  const guard = async <T>(what: string, op: Promise<T>): Promise<T> => {
    try {
      return await op;
    } catch (error) {
      if (error instanceof ChannelLostError || !(error instanceof PinlabError)) {
        // the channel drops a moment before QEMU exits
        await Promise.race([life.exitedPromise(), sleep(DEATH_GRACE_MS)]);
        if (life.isExited()) throw await deathError(what);
      }
      throw error;
    }
  };

  const vm: Vm = {
    spec,
    pid,
    consoleLog: files.console,
    bootMs: timings.firstCommandMs,
    timings,
    kernelRelease,
    exec: (cmd, opts = {}) => {
      if (life.isExited()) return Promise.reject(new PinlabError('the VM is not running'));
      return guard(`'${commandLine(cmd)}'`, channel.exec(cmd, { ...opts, signal: opts.signal ?? life.signal }));
    },
    copyTo: (hostPath, guestPath) => guard(`copy to ${guestPath}`, channel.copyTo(hostPath, guestPath)),
    copyFrom: (guestPath, hostPath) => guard(`copy from ${guestPath}`, channel.copyFrom(guestPath, hostPath)),
    shell: () => guard('the interactive shell', channel.shell()),
    consoleText: () => readText(files.console),
    shutdown: () => {
      shutdownPromise ??= (async () => {
        if (!life.isExited()) {
          // the guest reboots under this command, so its result never arrives
          channel.exec('pinlab-poweroff', { timeoutMs: SHUTDOWN_GRACE_MS }).catch(() => undefined);
          await Promise.race([life.exitedPromise(), sleep(SHUTDOWN_GRACE_MS)]);
        }
        await life.teardown();
      })();
      return shutdownPromise;
    },
  };
  return vm;
}
