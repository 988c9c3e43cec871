import test from 'ava';
import { parseLdd, usrPath } from '../../harness/vm/image.js';
import { describeAccel, kvmProbeArgv } from '../../harness/vm/accel.js';
import { commandLine, publicKeyBlob } from '../../harness/vm/channel.js';
import { shellQuote } from '../../harness/exec.js';

test('parseLdd: resolved libraries and the loader; vdso and static binaries give nothing', (t) => {
  const out = [
    '\tlinux-vdso.so.1 (0x00007ffd)',
    '\tlibwrap.so.0 => /lib/x86_64-linux-gnu/libwrap.so.0 (0x00007f93)',
    '\tlibceph-common.so.2 => /usr/lib/x86_64-linux-gnu/ceph/libceph-common.so.2 (0x00007f69)',
    '\t/lib64/ld-linux-x86-64.so.2 (0x00007f93e1960000)',
  ].join('\n');
  t.deepEqual(parseLdd(out), [
    '/lib/x86_64-linux-gnu/libwrap.so.0',
    '/usr/lib/x86_64-linux-gnu/ceph/libceph-common.so.2',
    '/lib64/ld-linux-x86-64.so.2',
  ]);
  t.deepEqual(parseLdd('\tnot a dynamic executable\n'), []);
});

test('usrPath: merged /usr', (t) => {
  t.is(usrPath('/lib/x86_64-linux-gnu/libc.so.6'), '/usr/lib/x86_64-linux-gnu/libc.so.6');
  t.is(usrPath('/lib64/ld-linux-x86-64.so.2'), '/usr/lib64/ld-linux-x86-64.so.2');
  t.is(usrPath('/bin/busybox'), '/usr/bin/busybox');
  t.is(usrPath('/usr/sbin/sshd'), '/usr/sbin/sshd');
  t.is(usrPath('/libexec/x'), '/libexec/x');
});

test('KVM probe argv: KVM, no network, console on stdio', (t) => {
  const argv = kvmProbeArgv('/k', '/i');
  t.deepEqual(argv.slice(argv.indexOf('-accel'), argv.indexOf('-accel') + 4), ['-accel', 'kvm', '-cpu', 'host']);
  t.false(argv.some((a) => /net|tcp/.test(a)));
  t.true(argv.includes('-no-reboot'));
});

test('describeAccel says which accelerator and why', (t) => {
  const line = describeAccel({
    accel: 'tcg',
    detail: 'a KVM boot did not reach init: failed to set MSR 0x10a',
    qemuVersion: 'QEMU emulator version 7.2.22',
    kernel: '/k',
    probedAt: '2026-11-25T00:00:00Z',
    cached: true,
  });
  t.regex(line, /^acceleration: TCG .*MSR 0x10a .*cached 2026-11-25/);
});

test('guest command lines are quoted for /bin/sh', (t) => {
  t.is(shellQuote('a b'), `'a b'`);
  t.is(shellQuote(`it's`), `'it'\\''s'`);
  t.is(commandLine(['ls', '-l', '/dev/pinlab']), 'ls -l /dev/pinlab');
  t.is(commandLine('echo $HOME'), 'echo $HOME');
  t.deepEqual(publicKeyBlob('ssh-ed25519 AAAAC3Nz pinlab'), Buffer.from('AAAAC3Nz', 'base64'));
  t.throws(() => publicKeyBlob('garbage'));
});
