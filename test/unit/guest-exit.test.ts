// The exit file behind a command whose exit sshd did not report (harness/guest/channel.ts).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { EventEmitter } from 'node:events';
import type { Client } from 'ssh2';
import { GuestChannel, statusFromExitFile, wrapCommand } from '../../harness/vm/channel.js';

test('statusFromExitFile: exit codes, deaths by signal, nothing yet', (t) => {
  t.deepEqual(statusFromExitFile('0\n'), { exitCode: 0, signal: null });
  t.deepEqual(statusFromExitFile('3\n'), { exitCode: 3, signal: null });
  t.deepEqual(statusFromExitFile('137\n'), { exitCode: null, signal: 'SIGKILL' });
  t.deepEqual(statusFromExitFile('141'), { exitCode: null, signal: 'SIGPIPE' });
  t.is(statusFromExitFile(''), undefined);
  t.is(statusFromExitFile('cat: no such file'), undefined);
});

// The wrapper is plain sh: run it here with /run/pinlab-exit.ID pointed at a temp dir.
function runWrapped(line: string): { status: number | null; signal: NodeJS.Signals | null; stdout: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pinlab-exit-'));
  try {
    const script = wrapCommand('t-1', line).replace('/run/pinlab-exit.', `${dir}/pinlab-exit.`);
    const r = spawnSync('/bin/sh', ['-c', script], { input: 'in\n', encoding: 'utf8' });
    return { status: r.status, signal: r.signal, stdout: r.stdout, file: readFileSync(join(dir, 'pinlab-exit.t-1'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('wrapCommand keeps stdin, stdout, the exit code and a death by signal, and writes the status', (t) => {
  const ok = runWrapped('cat; echo "$PINLAB_CMD"; exit 3');
  t.is(ok.status, 3);
  t.is(ok.stdout, 'in\nt-1\n');
  t.is(ok.file.trim(), '3');
  const killed = runWrapped('kill -9 $$');
  t.is(killed.signal, 'SIGKILL');
  t.is(killed.file.trim(), '137');
  t.deepEqual(statusFromExitFile(killed.file), { exitCode: null, signal: 'SIGKILL' });
  t.is(execFileSync('/bin/sh', ['-c', wrapCommand('t-2', "echo 'quoted; $HOME'").replace(/echo \$s >\S+/, 'true')], { encoding: 'utf8' }), 'quoted; $HOME\n');
});

// A stand-in for ssh2: the command's channel brings its output and EOF but, like the guest's
// sshd now and then, never an exit-status; the exit file holds the status.
class FakeChannel extends EventEmitter {
  stderr = Object.assign(new EventEmitter(), { resume() {} });
  constructor(private readonly onEnd: (ch: FakeChannel) => void) {
    super();
  }
  end(): void {
    setImmediate(() => this.onEnd(this));
  }
  close(): void {
    setImmediate(() => this.emit('close'));
  }
}

test('a command whose exit sshd never reports resolves from the exit file after its EOF', async (t) => {
  const execs: string[] = [];
  const client = Object.assign(new EventEmitter(), {
    exec(cmd: string, cb: (err: Error | undefined, ch: FakeChannel) => void) {
      execs.push(cmd);
      const exitFile = cmd.startsWith('cat /run/pinlab-exit.');
      cb(
        undefined,
        new FakeChannel((ch) => {
          ch.emit('data', Buffer.from(exitFile ? '3\n' : 'out\n'));
          ch.emit('end');
        }),
      );
    },
  });
  const channel = GuestChannel.fromClient(client as unknown as Client);
  const r = await channel.exec('echo out; exit 3', { timeoutMs: 20_000 });
  t.like(r, { exitCode: 3, signal: null, stdout: 'out\n', recoveredExit: true });
  t.is(execs.length, 2);
  t.regex(execs[0]!, /^export PINLAB_CMD=\d+-1; \/bin\/sh -c 'echo out; exit 3'; s=\$\?; echo \$s >\/run\/pinlab-exit\.\d+-1; /);
  t.regex(execs[1]!, /^cat \/run\/pinlab-exit\.\d+-1 /);
});
