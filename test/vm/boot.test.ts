// End to end: boot the kernel under test (PINLAB_TEST_KERNEL) and use the guest.
import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContext } from '../../harness/context.js';
import { BASE_CMDLINE, repoRoot } from '../../harness/config.js';
import { BootError, HarnessTimeoutError } from '../../harness/errors.js';
import { ensureBaseImage, toolsShare } from '../../harness/vm/image.js';
import { makeVmSpec } from '../../harness/vm/spec.js';
import { bootToReady, type Vm } from '../../harness/vm/runner.js';
import { isAlive, kernel, leftovers, processesMentioning, SKIP_REASON, tempParent, vmTest } from './helpers.js';

const vmt = vmTest();
const readlinkSafe = (p: string) => {
  try {
    return readlinkSync(p);
  } catch {
    return '';
  }
};
const ctx = createContext({ log: () => undefined });
let vm: Vm | undefined;
let runDir = '';
let parent = '';

test.before(async () => {
  if (!kernel || SKIP_REASON) return;
  const image = await ensureBaseImage(ctx);
  parent = await tempParent();
  runDir = join(parent, 'run');
  vm = await bootToReady(
    makeVmSpec({ kernel, runDir, baseInitrd: image.cpio, repoDir: repoRoot, toolsShare: toolsShare(image), baseCmdline: BASE_CMDLINE }),
    ctx,
  );
});

test.after.always(async () => {
  await vm?.shutdown();
  await ctx.teardown.runAll();
  if (parent) rmSync(parent, { recursive: true, force: true });
});

vmt('boots to ready within the boot timeout and reports the boot time', (t) => {
  t.truthy(vm);
  t.log(`boot to first command: ${vm!.bootMs} ms (marker ${vm!.timings.markerMs} ms, prepare ${vm!.timings.prepareMs} ms)`);
  t.true(vm!.bootMs < 60_000);
  t.regex(vm!.kernelRelease, /^\d+\.\d+/);
});

vmt('/proc/vmstat has the FOLL_PIN counters', async (t) => {
  const r = await vm!.exec('cat /proc/vmstat');
  t.is(r.exitCode, 0);
  t.regex(r.stdout, /^nr_foll_pin_acquired \d+$/m);
  t.regex(r.stdout, /^nr_foll_pin_released \d+$/m);
});

vmt('/dev has the virtio and NVMe disks, linked by serial under /dev/pinlab', async (t) => {
  const dev = (await vm!.exec(['ls', '/dev'])).stdout.split(/\s+/);
  t.true(dev.includes('vda'));
  t.true(dev.includes('nvme0n1'));
  const links = await vm!.exec('for l in /dev/pinlab/*; do echo "${l##*/} $(readlink $l)"; done');
  const map = Object.fromEntries(links.stdout.trim().split('\n').map((l) => l.split(' ')));
  t.deepEqual(Object.keys(map).sort(), ['ext2', 'ext4', 'raw-nvme', 'raw-virtio', 'vfat']);
  t.is(map['raw-nvme'], '/dev/nvme0n1');
  t.regex(map['raw-virtio']!, /^\/dev\/vd[a-e]$/);
});

vmt('file systems are mounted, debugfs/tracefs too, and the repo share is read-only', async (t) => {
  const mounts = (await vm!.exec('cat /proc/mounts')).stdout;
  for (const [dir, fs] of [
    ['/mnt/ext4', 'ext4'],
    ['/mnt/ext2', 'ext2'],
    ['/mnt/vfat', 'vfat'],
    ['/sys/kernel/debug', 'debugfs'],
    ['/sys/kernel/tracing', 'tracefs'],
    ['/pinlab', '9p'],
  ]) {
    t.regex(mounts, new RegExp(`^\\S+ ${dir} ${fs} `, 'm'), `${dir} ${fs}`);
  }
  const w = await vm!.exec('touch /pinlab/should-fail');
  t.not(w.exitCode, 0);
  const dd = await vm!.exec('dd if=/dev/pinlab/raw-nvme of=/dev/null bs=1M count=4 iflag=direct 2>&1');
  t.is(dd.exitCode, 0, dd.stdout);
});

vmt('node and fio run in the guest', async (t) => {
  const node = await vm!.exec(['node', '-e', 'console.log(process.versions.napi)']);
  t.is(node.exitCode, 0, node.stderr);
  t.regex(node.stdout.trim(), /^\d+$/);
  const fio = await vm!.exec('fio --version');
  t.is(fio.exitCode, 0, fio.stderr);
  t.regex(fio.stdout, /^fio-/);
});

vmt('exec: exit codes, stderr, stdin, streaming and timeout; success is never judged from stderr', async (t) => {
  const r = await vm!.exec('echo out; echo err >&2; exit 3');
  t.is(r.exitCode, 3);
  t.is(r.stdout, 'out\n');
  t.is(r.stderr, 'err\n');
  const ok = await vm!.exec('echo warning >&2');
  t.is(ok.exitCode, 0);
  const cat = await vm!.exec('cat', { input: 'hello\n' });
  t.is(cat.stdout, 'hello\n');
  const chunks: string[] = [];
  await vm!.exec('echo a; echo b', { onStdout: (b) => chunks.push(b.toString()) });
  t.is(chunks.join(''), 'a\nb\n');
  const killed = await vm!.exec('kill -9 $$');
  t.is(killed.exitCode, null);
  t.is(killed.signal, 'SIGKILL');
  await t.throwsAsync(vm!.exec('sleep 31', { timeoutMs: 500 }), { instanceOf: HarnessTimeoutError });
  // the timed-out command was killed in the guest, and the channel still works
  let left = 0;
  for (let i = 0; i < 20; i++) {
    left = (await vm!.exec('ps -o args | grep -c "^sleep 31"')).stdout.trim() === '0' ? 0 : 1;
    if (left === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.is(left, 0, 'sleep 31 still runs in the guest');
});

vmt('copyTo and copyFrom round-trip a binary file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinlab-copy-'));
  try {
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff;
    writeFileSync(join(dir, 'in.bin'), data);
    await vm!.copyTo(join(dir, 'in.bin'), '/tmp/in.bin');
    t.is((await vm!.exec('wc -c < /tmp/in.bin')).stdout.trim(), String(data.length));
    await vm!.copyFrom('/tmp/in.bin', join(dir, 'out.bin'));
    t.true(readFileSync(join(dir, 'out.bin')).equals(data));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

vmt('no TCP socket at all; the only listening unix socket is in the private run directory', (t) => {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${vm!.pid}/fd`)) {
    const m = /^socket:\[(\d+)\]$/.exec(readlinkSafe(`/proc/${vm!.pid}/fd/${fd}`));
    if (m) inodes.add(m[1]!);
  }
  for (const table of ['tcp', 'tcp6', 'udp', 'udp6']) {
    const rows = readFileSync(`/proc/net/${table}`, 'utf8').trim().split('\n').slice(1);
    t.deepEqual(rows.filter((r) => inodes.has(r.trim().split(/\s+/)[9]!)), [], table);
  }
  const unix = readFileSync('/proc/net/unix', 'utf8').trim().split('\n').slice(1).map((r) => r.trim().split(/\s+/));
  // columns: Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 = listening
  const listening = unix.filter((c) => inodes.has(c[6]!) && c[3] === '00010000').map((c) => c[7]);
  t.deepEqual(listening, [join(runDir, 'ssh.sock')]);
  t.is(statSync(runDir).mode & 0o777, 0o700);
});

vmt('a guest crash during a command is a classified BootError; shutdown cleans up', async (t) => {
  const e = await t.throwsAsync(vm!.exec('echo c > /proc/sysrq-trigger'), { instanceOf: BootError });
  t.is((e as BootError).kind, 'panic');
  t.regex((e as BootError).consoleTail, /sysrq triggered crash/);
  const pid = vm!.pid;
  await vm!.shutdown();
  t.false(isAlive(pid));
  t.deepEqual(processesMentioning(runDir), []);
  t.deepEqual(leftovers(runDir), []);
});
