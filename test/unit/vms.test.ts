import test from 'ava';
import { dealLanes, runPool, serialGate } from '../../harness/pool.js';
import { describeVms, maxVms, planVms, vmBounds, VM_MEMORY_MIB, VM_FOOTPRINT_MIB, HOST_RESERVE_MIB } from '../../harness/vm/slots.js';

const host = (cores: number, availableMiB: number) => ({ cores, availableMiB, totalMiB: availableMiB });
const perVm = VM_FOOTPRINT_MIB;

test('K defaults to the cores, as memory allows; never past either', (t) => {
  t.is(maxVms(host(2, 23000)), 2);
  t.is(maxVms(host(16, 64000)), 16);
  t.is(maxVms(host(16, HOST_RESERVE_MIB + 3 * perVm)), 3, 'memory bounds a big-core host');
  t.is(maxVms(host(1, 500)), 1, 'at least one');
  t.is(vmBounds(undefined, host(2, 23000)).vms, 2);
  // one kernel: its multi-threaded guest already uses every core, so its suite is not split by default
  t.is(vmBounds(undefined, host(2, 23000), 1).vms, 1);
  t.is(vmBounds(2, host(2, 23000), 1).vms, 2, 'asked for, a single kernel suite is split');
  t.throws(() => vmBounds(3, host(2, 23000)), { message: /--vms 3: this host runs at most 2 at once \(2 cores/ });
  t.regex(describeVms(host(2, 23000)), /^VMs at once \(--vms default\): 2 for several kernels \(a matrix, a sweep\), 1 for one kernel.s suite \(2 cores/);
});

test('several VMs at once: one host thread each; one VM: as before', (t) => {
  t.deepEqual(vmBounds(1, host(2, 23000)), { vms: 1, hostThreads: 2, memoryMiB: VM_MEMORY_MIB });
  t.is(vmBounds(2, host(2, 23000)).hostThreads, 1);
  t.deepEqual(planVms(3, vmBounds(1, host(2, 23000))), { kernelsAtOnce: 1, guestsPerKernel: 1 });
  const two = vmBounds(2, host(2, 23000));
  t.like(planVms(1, two), { kernelsAtOnce: 1, guestsPerKernel: 2 }, 'one kernel: its suite over two guests');
  t.like(planVms(4, two), { kernelsAtOnce: 2, guestsPerKernel: 1 }, 'a sweep: two images side by side');
  t.like(planVms(2, vmBounds(4, host(4, 23000))), { kernelsAtOnce: 2, guestsPerKernel: 2 });
});

test('runPool: at most K at once, results in input order, the first failure after all ended', async (t) => {
  let running = 0;
  let peak = 0;
  const delays = [30, 5, 20, 1, 10];
  const out = await runPool(delays, 2, async (ms, i) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, ms));
    running--;
    return i * 10;
  });
  t.deepEqual(out, [0, 10, 20, 30, 40]);
  t.is(peak, 2);
  const ended: number[] = [];
  await t.throwsAsync(
    runPool([1, 2, 3], 3, async (x) => {
      await new Promise((r) => setTimeout(r, x * 5));
      ended.push(x);
      if (x === 1) throw new Error('one failed');
      return x;
    }),
    { message: 'one failed' },
  );
  t.deepEqual(ended.sort(), [1, 2, 3], 'the others were not abandoned half-way');
});

test('serialGate: one section at a time, in order; a failure does not block the next', async (t) => {
  const gate = serialGate();
  const log: string[] = [];
  const job = (name: string, ms: number, fail = false) =>
    gate(async () => {
      log.push(`${name}+`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`${name}-`);
      if (fail) throw new Error(name);
      return name;
    });
  const r = await Promise.allSettled([job('a', 20, true), job('b', 1), job('c', 5)]);
  t.deepEqual(log, ['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
  t.is(r[0].status, 'rejected');
  t.deepEqual(r.slice(1).map((x) => (x.status === 'fulfilled' ? x.value : '')), ['b', 'c']);
});

test('dealLanes: round-robin, each lane in suite order, no empty lanes', (t) => {
  t.deepEqual(dealLanes([1, 2, 3, 4, 5], 2), [[1, 3, 5], [2, 4]]);
  t.deepEqual(dealLanes([1], 3), [[1]]);
  t.deepEqual(dealLanes([1, 2], 1), [[1, 2]]);
});
