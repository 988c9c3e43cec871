import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import { classifyBootFailure, consoleTail, lastConsoleLine, parseConsole } from '../../harness/vm/console.js';
import { classifyKernelLog } from '../../harness/verdict/dmesg.js';

const fixture = (name: string) => readFileSync(join(repoRoot, 'test/fixtures/vm', name), 'utf8');

test('panic: classified with the panic message as title', (t) => {
  t.deepEqual(classifyBootFailure(fixture('recorded.sysrq-panic.log'), 'qemu-exited'), { kind: 'panic', title: 'sysrq triggered crash' });
});

test('oops: the oops wins over the "Fatal exception" panic it caused', (t) => {
  t.deepEqual(classifyBootFailure(fixture('oops.log'), 'qemu-exited'), {
    kind: 'oops',
    title: 'BUG: kernel NULL pointer dereference in __bio_release_pages',
  });
  const state = parseConsole(fixture('oops.log'));
  t.true(state.ready);
  t.deepEqual(
    state.reports.map((r) => r.kind),
    ['oops', 'panic'],
  );
});

test('boot failures and workload splats come from one table: the same titles', (t) => {
  // a splat a workload would be judged by is, on the console during boot, the same report
  const dmesg = (name: string) => readFileSync(join(repoRoot, 'test/fixtures/verdict/dmesg', name), 'utf8');
  for (const name of ['recorded.patched-6.1.raw-virtio.psync.anon.null-deref.log', 'gpf.log', 'recorded.patched-6.1.raw-virtio.psync.anon.soft-lockup.log']) {
    const splat = classifyKernelLog(dmesg(name).split('\n'))[0]!;
    t.deepEqual(parseConsole(dmesg(name)).reports[0], { kind: 'oops', title: splat.title }, name);
  }
  // warnings are not boot failures, but a panic they cause (panic_on_warn) is
  const warn = dmesg('warning-bio-release.log');
  t.deepEqual(parseConsole(warn).reports, []);
  t.deepEqual(parseConsole(`${warn}\n[   99.000000] Kernel panic - not syncing: kernel: panic_on_warn set ...\n`).reports, [
    { kind: 'panic', title: 'kernel: panic_on_warn set ...' },
  ]);
});

test('init died: a missing rdinit falls through to "unable to mount root"', (t) => {
  t.deepEqual(classifyBootFailure(fixture('recorded.init-died.log'), 'qemu-exited'), {
    kind: 'init-died',
    title: 'VFS: Unable to mount root fs on unknown-block(0,0)',
  });
});

test('init died: init exiting is "Attempted to kill init"', (t) => {
  t.deepEqual(classifyBootFailure(fixture('init-exited.log'), 'qemu-exited'), {
    kind: 'init-died',
    title: 'Attempted to kill init! exitcode=0x00000200',
  });
});

test('no failure: timeout or qemu-exited, depending on why the boot ended', (t) => {
  t.is(classifyBootFailure(fixture('ready.log'), 'timeout').kind, 'timeout');
  t.regex(classifyBootFailure(fixture('ready.log'), 'timeout').title, /readiness marker but ssh/);
  t.is(classifyBootFailure('', 'timeout').title, 'no readiness marker from the guest');
  t.is(classifyBootFailure('', 'qemu-exited').kind, 'qemu-exited');
});

test('readiness marker and init warnings are parsed; timestamps and CRs do not matter', (t) => {
  const state = parseConsole(fixture('ready.log').replace(/\n/g, '\r\n'));
  t.true(state.ready);
  t.deepEqual(state.initWarnings, ['no disk with serial pinlab-vfat']);
  t.deepEqual(state.reports, []);
  t.false(parseConsole('echo PINLAB-READY-not\n').ready);
});

test('console tail keeps the last lines', (t) => {
  t.is(consoleTail('a\nb\nc\n', 2), 'c\n');
  t.is(consoleTail('a\r\nb\r\nc', 2), 'b\nc');
});

test('consoles of real failed boots classify as the live harness classified them', (t) => {
  // scripts/record-boot-failures.js: the kernel booted as pinlab run boots it, failed on purpose
  const { cases } = JSON.parse(fixture('recorded.json')) as { cases: { file: string; kind: string; title: string }[] };
  t.deepEqual(cases.map((c) => c.kind).sort(), ['init-died', 'panic']);
  for (const c of cases) {
    const text = fixture(c.file);
    t.true(text.includes('\r\n'), `${c.file}: the serial console's CRLF, as recorded`);
    t.deepEqual(classifyBootFailure(text, 'qemu-exited'), { kind: c.kind, title: c.title }, c.file);
  }
  // the panic came after the readiness marker: the guest had booted
  t.true(parseConsole(fixture('recorded.sysrq-panic.log')).ready);
});

test('a boot that timed out says where the console stopped: its last line, without timestamp, shortened', (t) => {
  t.is(lastConsoleLine('[    0.100000] one\r\n[    1.250000] EXT4-fs (vdb): mounted filesystem\r\n\r\n'), 'EXT4-fs (vdb): mounted filesystem');
  t.is(lastConsoleLine(''), undefined);
  t.is(lastConsoleLine('\n \n'), undefined);
  const long = lastConsoleLine(`x${'y'.repeat(300)}`, 40)!;
  t.is(long.length, 40);
  t.true(long.endsWith('…'));
});

test('the readiness marker counts when a kernel message shares its line (recorded: a 6.12 boot that timed out on it)', (t) => {
  const text = fixture('recorded.ready-interleaved.log');
  t.true(text.includes('PINLAB-READY[ '), 'the recorded console has the marker glued to a printk');
  t.false(text.split('\n').some((l) => l.trim() === 'PINLAB-READY'), 'and no line of the marker alone');
  t.true(parseConsole(text).ready);
  t.true(parseConsole('[    0.9] x\n[    1.0] clocksource: tsc unstablePINLAB-READY\n').ready, 'a message tail before it');
  t.false(parseConsole('[    1.0] PINLAB-READ\n').ready);
});
