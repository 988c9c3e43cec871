import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SUITE, selectWorkloads } from '../../harness/workloads/catalogue.js';
import { bufferBacking } from '../../harness/workloads/buffers.js';
import { gatePageWords, giganticPages, persistentMemoryWords, PMEM_AT_MIB, PMEM_MIB, vmSpecFor } from '../../harness/vm/session.js';
import { expectedErrnos } from '../../harness/verdict/judge.js';
import { requirementsOf } from '../../harness/kernel/requirements.js';
import { GIGANTIC_GUEST_MIB } from '../../harness/vm/slots.js';
import { testTempDir } from '../tmp.js';

const giant = DEFAULT_SUITE.filter((w) => bufferBacking(w.buffer).allocation === 'hugetlb-1g');
const small = selectWorkloads('raw-virtio.psync.anon').filter((w) => w.name === 'raw-virtio.psync.anon');

test('a 1 GiB-page workload gets one gigantic page reserved at boot and a guest large enough to hold it; others get neither', (t) => {
  t.true(giant.length >= 1, 'the default suite has a 1 GiB-page workload');
  t.deepEqual(giganticPages(giant), { words: ['hugepagesz=1G', 'hugepages=1'], memoryMiB: GIGANTIC_GUEST_MIB });
  t.deepEqual(giganticPages(small), { words: [] });
  const dir = testTempDir('pinlab-gigantic-');
  writeFileSync(join(dir, 'bzImage'), 'not booted');
  writeFileSync(join(dir, 'config'), 'CONFIG_NET_9P=y\nCONFIG_NET_9P_VIRTIO=y\nCONFIG_9P_FS=y\n');
  const opts = { accel: 'tcg' as const, cmdline: [], tscKhz: '<tsc>' };
  const withPage = vmSpecFor(join(dir, 'bzImage'), '/r/vm', '/b/base.cpio', { ...opts, workloads: [...small, ...giant] });
  t.is(withPage.memoryMiB, GIGANTIC_GUEST_MIB);
  t.true(withPage.cmdline.includes('hugepagesz=1G') && withPage.cmdline.includes('hugepages=1'));
  const without = vmSpecFor(join(dir, 'bzImage'), '/r/vm', '/b/base.cpio', { ...opts, workloads: small });
  t.is(without.memoryMiB, 1024);
  t.false(without.cmdline.some((w) => w.startsWith('hugepage')));
  // several VMs at once bound each VM's memory; the gigantic page still gets its guest
  const bounded = vmSpecFor(join(dir, 'bzImage'), '/r/vm', '/b/base.cpio', { ...opts, workloads: giant, bounds: { vms: 2, hostThreads: 1, memoryMiB: 1024 } });
  t.is(bounded.memoryMiB, GIGANTIC_GUEST_MIB);
});

test('the gate-page workload boots with vsyscall=emulate and needs the vsyscall emulation; others get neither', (t) => {
  const gate = DEFAULT_SUITE.filter((w) => w.fault?.kind === 'gate-page');
  t.is(gate.length, 1);
  t.deepEqual(gatePageWords(gate), ['vsyscall=emulate']);
  t.deepEqual(gatePageWords(small), []);
  t.deepEqual(gatePageWords(DEFAULT_SUITE), ['vsyscall=emulate']);
  t.true(requirementsOf(gate[0]!).some((r) => r.symbol === 'CONFIG_X86_VSYSCALL_EMULATION'));
  t.false(requirementsOf(small[0]!).some((r) => r.symbol === 'CONFIG_X86_VSYSCALL_EMULATION'));
});

test('move_pages needs NUMA; the hugetlb pool faults need hugetlbfs, whatever their buffer kind', (t) => {
  const status = DEFAULT_SUITE.find((w) => w.fault?.kind === 'page-status')!;
  t.true(requirementsOf(status).some((r) => r.symbol === 'CONFIG_NUMA'));
  t.is(status.buffer, 'hugetlb-1g', 'it walks the 1 GiB page: the VM reserves one');
  for (const w of DEFAULT_SUITE.filter((x) => x.fault?.kind === 'hugetlb-exhausted')) {
    t.is(w.buffer, 'anon', w.name);
    t.true(requirementsOf(w).some((r) => r.symbol === 'CONFIG_HUGETLBFS'), w.name);
  }
  t.false(requirementsOf(small[0]!).some((r) => r.symbol === 'CONFIG_NUMA'));
});

test('the dax workload boots with 64 MiB of legacy persistent memory and needs the pmem and DAX symbols; others get neither', (t) => {
  const dax = DEFAULT_SUITE.filter((w) => w.fault?.kind === 'dax');
  t.is(dax.length, 1);
  t.deepEqual(persistentMemoryWords(dax), [`memmap=${PMEM_MIB}M!${PMEM_AT_MIB}M`]);
  t.deepEqual(persistentMemoryWords(small), []);
  const syms = requirementsOf(dax[0]!).map((r) => r.symbol);
  for (const s of ['CONFIG_FS_DAX', 'CONFIG_X86_PMEM_LEGACY', 'CONFIG_BLK_DEV_PMEM', 'CONFIG_EXT4_FS']) t.true(syms.includes(s), s);
  t.false(requirementsOf(small[0]!).some((r) => r.symbol === 'CONFIG_FS_DAX'));
  // the range lies above the kernel and well below the 1 GiB guest's top, where the initramfs goes
  t.true(PMEM_AT_MIB >= 64 && PMEM_AT_MIB + PMEM_MIB <= 512);
});

test('secretmem needs CONFIG_SECRETMEM and EFAULT; the fork storm needs no errno and THP for its huge-page buffer', (t) => {
  const secret = DEFAULT_SUITE.find((w) => w.fault?.kind === 'secretmem')!;
  t.true(requirementsOf(secret).some((r) => r.symbol === 'CONFIG_SECRETMEM'));
  t.deepEqual(expectedErrnos(secret.fault, secret.engine), { allowed: ['EFAULT'], required: true });
  const storm = DEFAULT_SUITE.find((w) => w.fault?.kind === 'fork-storm')!;
  t.true(requirementsOf(storm).some((r) => r.symbol === 'CONFIG_TRANSPARENT_HUGEPAGE'));
  t.deepEqual(expectedErrnos(storm.fault, storm.engine), { allowed: [], required: false });
  t.false(requirementsOf(small[0]!).some((r) => r.symbol === 'CONFIG_SECRETMEM'));
});

test('the kernel-read workload needs modules and EFAULT, ENOEXEC or EKEYREJECTED; the protect storm writes from a 1 GiB page, so its VM reserves one', (t) => {
  const read = DEFAULT_SUITE.find((w) => w.fault?.kind === 'kernel-read')!;
  t.true(requirementsOf(read).some((r) => r.symbol === 'CONFIG_MODULES'));
  t.deepEqual(expectedErrnos(read.fault, read.engine), { allowed: ['EFAULT', 'ENOEXEC', 'EKEYREJECTED'], required: true });
  const protect = DEFAULT_SUITE.find((w) => w.fault?.kind === 'protect-storm')!;
  t.is(protect.buffer, 'hugetlb-1g');
  t.deepEqual(giganticPages([protect]).words, ['hugepagesz=1G', 'hugepages=1']);
  t.deepEqual(expectedErrnos(protect.fault, protect.engine), { allowed: [], required: false });
});
