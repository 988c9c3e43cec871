import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SUITE, selectWorkloads } from '../../harness/workloads/catalogue.js';
import { bufferBacking } from '../../harness/workloads/buffers.js';
import { gatePageWords, giganticPages, vmSpecFor } from '../../harness/vm/session.js';
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
