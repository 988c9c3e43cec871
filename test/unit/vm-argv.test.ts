import test from 'ava';
import { defaultDisks, tcgGuestCmdline, guestCmdline, initrdFile, makeVmSpec, qemuArgv, type VmSpec } from '../../harness/vm/spec.js';
import { planDisks } from '../../harness/vm/disks.js';

const runDir = '/r/run1';

function spec(overrides: Partial<VmSpec> = {}): VmSpec {
  return {
    ...makeVmSpec({
      kernel: '/k/bzImage',
      runDir,
      baseInitrd: '/c/base.cpio',
      repoDir: '/repo',
      baseCmdline: ['console=ttyS0', 'random.trust_cpu=on', 'panic=-1'],
      tscKhz: 2445406,
    }),
    ...overrides,
  };
}

/** the value following each occurrence of an option */
function values(argv: string[], opt: string): string[] {
  return argv.flatMap((a, i) => (a === opt ? [argv[i + 1]!] : []));
}

test('TCG guest words: tsc=reliable, the host TSC rate and lpj when known, no_timer_check, noapictimer, nopku; KVM nothing', (t) => {
  t.deepEqual(tcgGuestCmdline('tcg', 2445406), ['tsc=reliable', 'tsc_early_khz=2445406', 'no_timer_check', 'noapictimer', 'nopku']);
  t.deepEqual(tcgGuestCmdline('tcg', 2596146, 250), ['tsc=reliable', 'tsc_early_khz=2596146', 'lpj=10384584', 'no_timer_check', 'noapictimer', 'nopku']);
  t.deepEqual(tcgGuestCmdline('tcg', '<khz>', 250), ['tsc=reliable', 'tsc_early_khz=<khz>', 'lpj=<<khz>*1000/250>', 'no_timer_check', 'noapictimer', 'nopku']);
  t.deepEqual(tcgGuestCmdline('tcg', undefined, 250), ['tsc=reliable', 'no_timer_check', 'noapictimer', 'nopku']);
  t.deepEqual(tcgGuestCmdline('kvm', 2445406), []);
  const kvm = makeVmSpec({ kernel: '/k', runDir, baseInitrd: '/c', baseCmdline: ['console=ttyS0'], accel: 'kvm', tscKhz: 1 });
  t.false(kvm.cmdline.some((w) => w.startsWith('tsc') || w.startsWith('lpj') || w === 'no_timer_check' || w === 'noapictimer' || w === 'nopku'));
});

test('golden argv for the default spec', (t) => {
  const argv = qemuArgv(spec({ disks: defaultDisks(runDir).slice(0, 1) }));
  t.deepEqual(argv, [
    'qemu-system-x86_64',
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-no-reboot',
    '-machine', 'pc',
    '-accel', 'tcg,thread=multi',
    '-cpu', 'max',
    '-smp', '2',
    '-m', '1024M',
    '-bios', '/usr/share/qemu/qboot.rom',
    '-kernel', '/k/bzImage',
    '-initrd', '/c/base.cpio',
    '-append',
    'console=ttyS0 random.trust_cpu=on panic=-1 tsc=reliable tsc_early_khz=2445406 no_timer_check noapictimer nopku pinlab.disks=pinlab-raw:raw-virtio:raw,pinlab-ext4:ext4:ext4,pinlab-ext2:ext2:ext2,pinlab-vfat:vfat:vfat,pinlab-nvme:raw-nvme:raw pinlab.shares=pinlab:/pinlab',
    '-chardev', 'file,id=con,path=/r/run1/console.log',
    '-serial', 'chardev:con',
    '-device', 'virtio-serial-pci,id=vser0',
    '-chardev', 'socket,id=ssh,path=/r/run1/ssh.sock,server=on,wait=off',
    '-device', 'virtserialport,bus=vser0.0,chardev=ssh,name=pinlab.ssh',
    '-blockdev',
    '{"driver":"raw","node-name":"disk0","file":{"driver":"file","filename":"/r/run1/disk-raw-virtio.raw","cache":{"direct":true,"no-flush":false}}}',
    '-device', 'virtio-blk-pci,drive=disk0,serial=pinlab-raw,werror=report,rerror=report',
    '-fsdev', 'local,id=fs0,path=/repo,security_model=none,multidevs=remap,readonly=on',
    '-device', 'virtio-9p-pci,fsdev=fs0,mount_tag=pinlab',
  ]);
});

test('default disks: four virtio and one nvme, all cache=none, each with its serial', (t) => {
  const argv = qemuArgv(spec());
  const devices = values(argv, '-device').filter((d) => /^(virtio-blk-pci|nvme),/.test(d));
  t.deepEqual(devices, [
    'virtio-blk-pci,drive=disk0,serial=pinlab-raw,werror=report,rerror=report',
    'virtio-blk-pci,drive=disk1,serial=pinlab-ext4,werror=report,rerror=report',
    'virtio-blk-pci,drive=disk2,serial=pinlab-ext2,werror=report,rerror=report',
    'virtio-blk-pci,drive=disk3,serial=pinlab-vfat,werror=report,rerror=report',
    'nvme,drive=disk4,serial=pinlab-nvme',
  ]);
  for (const b of values(argv, '-blockdev')) {
    const node = JSON.parse(b) as { file: { cache: { direct: boolean } } };
    t.true(node.file.cache.direct);
  }
});

test('no network: no -netdev/-nic, no TCP, sockets only in the run directory', (t) => {
  const argv = qemuArgv(spec());
  const text = argv.join(' ');
  t.false(argv.includes('-netdev'));
  t.false(argv.includes('-nic'));
  t.false(argv.includes('-net'));
  t.false(/tcp|host=|port=|hostfwd|vnc|spice|telnet|websocket/i.test(text));
  for (const chardev of values(argv, '-chardev').filter((c) => c.startsWith('socket'))) {
    t.regex(chardev, /path=\/r\/run1\//);
  }
  t.false(argv.includes('-monitor') || argv.includes('-qmp'));
});

test('blkdebug rules become inject-error entries under the raw format node', (t) => {
  const [disk] = defaultDisks(runDir);
  const argv = qemuArgv(spec({ disks: [{ ...disk!, blkdebug: [{ event: 'read_aio', sector: 2048 }, { event: 'write_aio', errno: 28, once: true }] }] }));
  const node = JSON.parse(values(argv, '-blockdev')[0]!);
  t.deepEqual(node, {
    driver: 'raw',
    'node-name': 'disk0',
    file: {
      driver: 'blkdebug',
      image: { driver: 'file', filename: '/r/run1/disk-raw-virtio.raw', cache: { direct: true, 'no-flush': false } },
      'inject-error': [
        { event: 'read_aio', errno: 5, sector: 2048, once: false, immediately: false },
        { event: 'write_aio', errno: 28, once: true, immediately: false },
      ],
    },
  });
});

test('throttle puts a throttle filter on top, with its throttle-group object before it', (t) => {
  const disks = defaultDisks(runDir);
  const argv = qemuArgv(spec({ disks: [disks[0]!, { ...disks[4]!, throttle: { iopsTotal: 50, bpsRead: 1048576 } }] }));
  t.deepEqual(values(argv, '-object'), ['throttle-group,id=tg1,x-iops-total=50,x-bps-read=1048576']);
  const node = JSON.parse(values(argv, '-blockdev')[1]!);
  t.is(node.driver, 'throttle');
  t.is(node['node-name'], 'disk1');
  t.is(node['throttle-group'], 'tg1');
  t.is(node.file.driver, 'raw');
  t.is(node.file['node-name'], 'fmt1');
  t.true(argv.indexOf('-object') < argv.indexOf(values(argv, '-blockdev')[1]!));
  t.throws(() => qemuArgv(spec({ disks: [{ ...disks[0]!, throttle: {} }] })), { message: /without any limit/ });
});

test('kvm uses -cpu host, tcg uses multi-threaded TCG with -cpu max (single-threaded when asked: image kernels)', (t) => {
  const kvm = qemuArgv(spec({ accel: 'kvm' }));
  t.deepEqual(values(kvm, '-accel'), ['kvm']);
  t.deepEqual(values(kvm, '-cpu'), ['host']);
  const tcg = qemuArgv(spec());
  t.deepEqual(values(tcg, '-accel'), ['tcg,thread=multi']);
  t.deepEqual(values(tcg, '-cpu'), ['max']);
  t.deepEqual(values(qemuArgv(spec({ tcgSingleThread: true })), '-accel'), ['tcg,thread=single']);
});

test('several initrd archives are concatenated in the run directory; commas are escaped', (t) => {
  t.is(initrdFile({ initrd: ['/a.cpio'], runDir }), '/a.cpio');
  t.is(initrdFile({ initrd: ['/a.cpio', '/b.cpio'], runDir }), '/r/run1/initrd.cpio');
  const argv = qemuArgv(spec({ initrd: ['/c/a,b.cpio'] }));
  t.deepEqual(values(argv, '-initrd'), ['/c/a,,b.cpio']);
});

test('guest command line describes disks and shares for the init script', (t) => {
  t.deepEqual(guestCmdline([], []), []);
  t.deepEqual(
    guestCmdline(defaultDisks(runDir).slice(3), [{ hostPath: '/x', tag: 'pinlab-tools', guestPath: '/tools', readonly: true }]),
    ['pinlab.disks=pinlab-vfat:vfat:vfat,pinlab-nvme:raw-nvme:raw', 'pinlab.shares=pinlab-tools:/tools'],
  );
});

test('disk plan: sparse truncate then the matching mkfs, raw disks stay unformatted', (t) => {
  const steps = planDisks(defaultDisks(runDir, 64));
  t.deepEqual(
    steps.map((s) => s.argv.join(' ')),
    [
      'truncate -s 64M /r/run1/disk-raw-virtio.raw',
      'truncate -s 64M /r/run1/disk-ext4.raw',
      'mkfs.ext4 -F -q -L ext4 -E lazy_itable_init=0,lazy_journal_init=0,nodiscard /r/run1/disk-ext4.raw',
      'truncate -s 64M /r/run1/disk-ext2.raw',
      'mkfs.ext2 -F -q -L ext2 -E lazy_itable_init=0,lazy_journal_init=0,nodiscard /r/run1/disk-ext2.raw',
      'truncate -s 64M /r/run1/disk-vfat.raw',
      'mkfs.vfat -n VFAT /r/run1/disk-vfat.raw',
      'truncate -s 64M /r/run1/disk-raw-nvme.raw',
    ],
  );
  for (const s of steps) t.truthy(s.timeoutMs);
});
