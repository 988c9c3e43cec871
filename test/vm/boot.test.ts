// End to end: boot the kernel under test (PINLAB_TEST_KERNEL) and use the guest.
import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContext } from '../../harness/context.js';
import { BootError, HarnessTimeoutError } from '../../harness/errors.js';
import { bootFormOf } from '../../harness/kernel/boot-form.js';
import type { VmSpec } from '../../harness/vm/spec.js';
import { bootToReady, type Vm } from '../../harness/vm/runner.js';
import { isAlive, kernel, leftovers, processesMentioning, SKIP_REASON, tempParent, vmTest } from './helpers.js';
import { productionSpec } from './production-spec.js';

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
let spec: VmSpec | undefined;
let runDir = '';
let parent = '';
/** wall time around bootToReady, which includes QEMU's start */
let bootWallMs = 0;

test.before(async () => {
  if (!kernel || SKIP_REASON) return;
  parent = await tempParent();
  runDir = join(parent, 'run');
  spec = await productionSpec(ctx, { kernel, runDir });
  const t0 = Date.now();
  vm = await bootToReady(spec, ctx);
  bootWallMs = Date.now() - t0;
});

test.after.always(async () => {
  await vm?.shutdown();
  await ctx.teardown.runAll();
  if (parent) rmSync(parent, { recursive: true, force: true });
});

vmt('boots to ready and reports a boot time the wall clock bounds, marker before the first command', (t) => {
  t.truthy(vm);
  const { markerMs, prepareMs } = vm!.timings;
  t.log(`boot to first command: ${vm!.bootMs} ms (marker ${markerMs} ms, prepare ${prepareMs} ms), wall ${bootWallMs} ms`);
  t.true(markerMs > 0 && markerMs <= vm!.bootMs, `the ready marker (${markerMs} ms) comes before the first command's output (${vm!.bootMs} ms)`);
  t.true(vm!.bootMs + prepareMs <= bootWallMs, `bootMs ${vm!.bootMs} + prepare ${prepareMs} within the ${bootWallMs} ms bootToReady took`);
  t.regex(vm!.kernelRelease, /^\d+\.\d+/);
});

vmt('boots what pinlab run boots: vmlinux.pvh when there is one, the TCG clock words, the TSC as clocksource', async (t) => {
  const qemu = processesMentioning(runDir).find((p) => p.cmdline.startsWith('qemu-system'));
  t.truthy(qemu, 'QEMU is running');
  t.true(qemu!.cmdline.includes(` -kernel ${bootFormOf(kernel!).kernel} `), `QEMU boots ${bootFormOf(kernel!).kernel}: ${qemu!.cmdline.slice(0, 300)}`);
  const cmdline = (await vm!.exec('cat /proc/cmdline')).stdout.trim().split(/\s+/);
  if (spec!.accel === 'tcg') {
    for (const word of ['tsc=reliable', 'noapictimer']) t.true(cmdline.includes(word), `${word} in ${cmdline.join(' ')}`);
    t.true(cmdline.some((w) => /^tsc_early_khz=\d+$/.test(w)), `tsc_early_khz= in ${cmdline.join(' ')}`);
    t.true(cmdline.some((w) => /^lpj=\d+$/.test(w)), `lpj= (from the kernel's HZ) in ${cmdline.join(' ')}`);
  }
  // the TSC clocksource registers about a second after tsc_init (guest/bench.ts): wait for it
  let clocksource = '';
  for (const t0 = Date.now(); clocksource !== 'tsc' && Date.now() - t0 < 10_000; ) {
    clocksource = (await vm!.exec('cat /sys/devices/system/clocksource/clocksource0/current_clocksource')).stdout.trim();
    if (clocksource !== 'tsc') await new Promise((r) => setTimeout(r, 200));
  }
  t.is(clocksource, 'tsc', 'the guest did not stay on jiffies or the HPET');
});

vmt('/proc/vmstat has the FOLL_PIN counters', async (t) => {
  const r = await vm!.exec('cat /proc/vmstat');
  t.is(r.exitCode, 0);
  t.regex(r.stdout, /^nr_foll_pin_acquired \d+$/m);
  t.regex(r.stdout, /^nr_foll_pin_released \d+$/m);
});

vmt('/dev has the virtio, NVMe and SCSI disks of the default suite (reiserfs\'s and the zoned namespace on demand too), linked by serial under /dev/pinlab', async (t) => {
  const dev = (await vm!.exec(['ls', '/dev'])).stdout.split(/\s+/);
  t.true(dev.includes('vda'));
  t.true(dev.includes('nvme0n1'));
  const links = await vm!.exec('for l in /dev/pinlab/*; do echo "${l##*/} $(readlink $l)"; done');
  const map = Object.fromEntries(links.stdout.trim().split('\n').map((l) => l.split(' ')));
  t.deepEqual(Object.keys(map).sort(), ['ext2', 'ext4', 'raw-nvme', 'raw-virtio', 'reiserfs', 'scsi-hd', 'vfat', 'virtio-lbs4k', 'zns']);
  t.is(map['raw-nvme'], '/dev/nvme0n1');
  // the zoned namespace is zoned, and zonefs is mounted on it
  const zoned = await vm!.exec(`cat /sys/block/${map.zns!.replace('/dev/', '')}/queue/zoned`);
  t.is(zoned.stdout.trim(), 'host-managed');
  t.regex((await vm!.exec('cat /proc/mounts')).stdout, /^\S+ \/mnt\/zns zonefs /m);
  t.regex(map['raw-virtio']!, /^\/dev\/vd[a-f]$/);
  t.regex(map['scsi-hd']!, /^\/dev\/sd[a-z]$/);
  // the 4 KiB-block disk says so
  const lbs = await vm!.exec(`cat /sys/block/${map['virtio-lbs4k']!.replace('/dev/', '')}/queue/logical_block_size`);
  t.is(lbs.stdout.trim(), '4096');
});

vmt('file systems are mounted, debugfs/tracefs too, and the repo share is read-only', async (t) => {
  const mounts = (await vm!.exec('cat /proc/mounts')).stdout;
  for (const [dir, fs] of [
    ['/mnt/ext4', 'ext4'],
    ['/mnt/ext2', 'ext2'],
    ['/mnt/vfat', 'vfat'],
    ['/mnt/reiserfs', 'reiserfs'],
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
  // the timed-out command is killed in the guest (asynchronously: the channel's close reaches
  // sshd, which signals it), and the channel still works; the bound is the command's own 31 s
  const t0 = Date.now();
  let left = true;
  while (left && Date.now() - t0 < 25_000) {
    left = (await vm!.exec('ps -o args | grep -c "^sleep 31"')).stdout.trim() !== '0';
    if (left) await new Promise((r) => setTimeout(r, 100));
  }
  t.log(`sleep 31 gone from the guest ${Date.now() - t0} ms after its timeout`);
  t.false(left, 'sleep 31 still runs in the guest 25 s after its timeout');
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
