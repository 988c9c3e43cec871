import test from 'ava';
import { devMajorMinor, formatKmsgRecord, parseAvailableFunctions, parseKmsgRecord, parseMigrationHist, parseTrace, parseVmstat, resolveTraceable } from '../../harness/guest/parse.js';
import {
  quiesce,
  observeWorkload,
  runAll,
  targetEnv,
  type GuestSystem,
} from '../../harness/guest/runner.js';
import { HW_SUITE, makeSpec } from '../../harness/workloads/catalogue.js';
import type { PinCounters, WorkloadIO } from '../../harness/workloads/types.js';
import type { RunnerEvent } from '../../harness/guest-runner/protocol.js';

test('parseMigrationHist sums the succeeded column of mm_migrate_pages over every key', (t) => {
  const hist = [
    '# event histogram',
    '#',
    '# trigger info: hist:keys=mode:vals=hitcount,succeeded:sort=hitcount:size=2048 [active]',
    '#',
    '',
    '{ mode:          2 } hitcount:          3  succeeded:        544',
    '{ mode:          0 } hitcount:          1  succeeded:          8',
    '',
    'Totals:',
    '    Hits: 4',
    '    Entries: 2',
    '    Dropped: 0',
  ].join('\n');
  t.is(parseMigrationHist(hist), 552);
  t.is(parseMigrationHist('# event histogram\n\nTotals:\n    Hits: 0\n'), 0);
});

test('parseVmstat reads the two pin counters', (t) => {
  const text = 'nr_free_pages 5000\nnr_foll_pin_acquired 4092\nnr_foll_pin_released 4090\npgfault 77\n';
  t.deepEqual(parseVmstat(text), { acquired: 4092, released: 4090 });
  t.throws(() => parseVmstat('nr_free_pages 1\n'), { message: /nr_foll_pin_acquired/ });
  t.deepEqual(parseVmstat('nr_foll_pin_acquired 7\nnr_foll_pin_released 7\npgmigrate_success 64\n'), { acquired: 7, released: 7, migrated: 64 });
});

test('parseTrace lists distinct functions in order of first hit, without suffixes', (t) => {
  const trace = [
    '# tracer: function',
    '#',
    '#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION',
    '#              | |         |   |||||     |         |',
    '            node-97      [001] .....    12.345678: blkdev_read_iter <-vfs_read',
    '            node-97      [001] .....    12.345690: __blkdev_direct_IO_simple.constprop.0 <-blkdev_read_iter',
    '            node-97      [001] .....    12.345701: bio_iov_iter_get_pages <-__blkdev_direct_IO_simple',
    '            node-97      [001] .....    12.345800: blkdev_read_iter <-vfs_read',
    ' kworker/1:1H-45      [001] d.s1.    12.346000: lo_rw_aio <-loop_process_work',
  ].join('\n');
  t.deepEqual(parseTrace(trace), ['blkdev_read_iter', '__blkdev_direct_IO_simple', 'bio_iov_iter_get_pages', 'lo_rw_aio']);
  t.deepEqual(parseTrace('# tracer: function\n#\n'), []);
});

test('traceable names are intersected with available_filter_functions, suffixes resolved', (t) => {
  const available = parseAvailableFunctions('blkdev_read_iter\n__blkdev_direct_IO_simple.constprop.0\nlo_rw_aio [loop]\nbio_iov_iter_get_pages\n');
  const r = resolveTraceable(['blkdev_read_iter', '__blkdev_direct_IO_simple', 'pipe_get_pages', 'lo_rw_aio', 'blkdev_read_iter'], available);
  t.deepEqual(r.traceable, ['blkdev_read_iter', '__blkdev_direct_IO_simple', 'lo_rw_aio']);
  t.deepEqual(r.filter, ['blkdev_read_iter', '__blkdev_direct_IO_simple.constprop.0', 'lo_rw_aio']);
});

test('kmsg records parse and format like dmesg', (t) => {
  const r = parseKmsgRecord('4,1234,14388514,-;WARNING: CPU: 1 PID: 97 at mm/gup.c:75 try_grab_folio+0x1a5/0x1d0\n SUBSYSTEM=x\n');
  t.deepEqual(r, { level: 4, seq: 1234, usec: 14388514, text: 'WARNING: CPU: 1 PID: 97 at mm/gup.c:75 try_grab_folio+0x1a5/0x1d0' });
  t.is(formatKmsgRecord(r!), '[   14.388514] WARNING: CPU: 1 PID: 97 at mm/gup.c:75 try_grab_folio+0x1a5/0x1d0');
  t.is(parseKmsgRecord('6,1,2,-;tab\\x09here')?.text, 'tab\there');
  t.is(parseKmsgRecord('garbage'), null);
});

/** A fake clock whose sleep advances time. */
function clock() {
  let t = 0;
  return { now: () => t, sleep: async (ms: number) => void (t += ms) };
}

test('quiesce settles after N unchanged polls', async (t) => {
  const values: PinCounters[] = [
    { acquired: 10, released: 5 },
    { acquired: 10, released: 8 },
    { acquired: 10, released: 10 },
  ];
  let i = 0;
  const read = () => ({ counters: values[Math.min(i++, values.length - 1)]! });
  const r = await quiesce(read, { ...clock(), intervalMs: 20, stablePolls: 3, boundMs: 3000 });
  t.true(r.settled);
  t.true(r.stable);
  t.deepEqual(r.snapshot.counters, { acquired: 10, released: 10 });
  t.is(r.polls, 6);
  t.is(r.ms, 100);
});

test('quiesce gives up at the bound when counters keep moving', async (t) => {
  let n = 0;
  const r = await quiesce(() => ({ counters: { acquired: n++, released: 0 } }), { ...clock(), intervalMs: 20, stablePolls: 3, boundMs: 200 });
  t.false(r.settled);
  t.false(r.stable);
  t.is(r.ms, 200);
  t.is(r.polls, 11);
});

test('quiesce with evidence waits for balance: a late release is not left to the next workload', async (t) => {
  const from = { counters: { acquired: 0, released: 0 }, evidence: { acquired: 100, released: 100, dropped: 0 } };
  // the release arrives on the 8th poll; stable counters before that are not enough
  let i = 0;
  const read = () => {
    i++;
    return { counters: { acquired: 0, released: 0 }, evidence: { acquired: 132, released: i < 8 ? 100 : 132, dropped: 0 } };
  };
  const r = await quiesce(read, { ...clock(), intervalMs: 20, stablePolls: 2, boundMs: 3000 }, from);
  t.true(r.settled);
  t.is(r.snapshot.evidence!.released, 132);
  t.true(r.polls >= 10);
});

test('quiesce with evidence: an unbalanced but still state runs to the bound and reads stable, not settled', async (t) => {
  const from = { counters: { acquired: 0, released: 0 }, evidence: { acquired: 0, released: 0, dropped: 0 } };
  const r = await quiesce(() => ({ counters: { acquired: 0, released: 0 }, evidence: { acquired: 8, released: 4, dropped: 0 } }), { ...clock(), intervalMs: 20, stablePolls: 2, boundMs: 200 }, from);
  t.false(r.settled);
  t.true(r.stable);
  t.is(r.ms, 200);
});

test('devMajorMinor decodes Linux dev_t', (t) => {
  t.deepEqual(devMajorMinor((253 << 8) | 0), { major: 253, minor: 0 });
  t.deepEqual(devMajorMinor((259 << 8) | 1), { major: 259, minor: 1 });
  // minor above 255: high bits at 12..
  t.deepEqual(devMajorMinor((7 << 8) | (300 & 0xff) | ((300 & ~0xff) << 12)), { major: 7, minor: 300 });
});

test('targetEnv maps targets to guest paths', (t) => {
  t.is(targetEnv(makeSpec({ target: 'raw-virtio', engine: 'psync' })).path, '/dev/pinlab/raw-virtio');
  t.is(targetEnv(makeSpec({ target: 'nvme-passthru', engine: 'passthru' })).path, '/dev/pinlab/raw-nvme');
  const ext2 = targetEnv(makeSpec({ target: 'ext2', engine: 'psync' }));
  t.is(ext2.path, '/mnt/ext2/pinlab-ext2.psync.anon.dat');
  t.is(ext2.fileSystem, '/mnt/ext2');
  t.is(targetEnv(makeSpec({ target: 'loop', engine: 'psync' })).diskProbe, '/mnt/ext4');
});

function fakeSystem(): GuestSystem & { counters: PinCounters; calls: string[] } {
  const c = clock();
  const sys = {
    counters: { acquired: 100, released: 100 },
    calls: [] as string[],
    kernelRelease: () => '6.1.0-pinlab',
    readCounters: () => ({ ...sys.counters }),
    traceable: (wanted: Iterable<string>) => [...new Set(wanted)].filter((n) => n.startsWith('blkdev') || n === 'bio_iov_iter_get_pages'),
    startTrace: (names: string[]) => void sys.calls.push(`trace ${names.length}`),
    stopTrace: () => ['blkdev_read_iter', 'bio_iov_iter_get_pages'],
    kmsgSeekEnd: () => void sys.calls.push('kmsg end'),
    kmsgRead: () => [],
    setupFault: () => undefined,
    sync: (fs: string) => void sys.calls.push(`sync ${fs}`),
    sizeLimit: () => 64 * 1024 * 1024,
    prepareTmp: () => '/tmp/x',
    cleanup: () => undefined,
    sleep: c.sleep,
    now: c.now,
    log: (m: string) => void sys.calls.push(`log ${m}`),
  };
  return sys;
}

const goodIO: WorkloadIO = { bytes: 4096, ops: 1, userPageOps: 1, fixedPins: 0, verify: { ok: true, checkedBytes: 4096 }, errors: [], durationMs: 1 };

test('runAll: hello, start/result per workload, done; a throwing workload does not stop the rest', async (t) => {
  const sys = fakeSystem();
  const specs = [makeSpec({ target: 'raw-virtio', engine: 'psync' }), makeSpec({ target: 'ext2', engine: 'psync' }), makeSpec({ target: 'raw-nvme', engine: 'psync' })];
  const events: RunnerEvent[] = [];
  await runAll(
    specs,
    sys,
    async (spec) => {
      if (spec.target === 'ext2') throw Object.assign(new Error('EFAULT: bad address'), { code: 'EFAULT' });
      sys.counters = { acquired: sys.counters.acquired + 1, released: sys.counters.released + 1 };
      return goodIO;
    },
    (e) => events.push(e),
    { backgroundWindowMs: 500, quiesce: { stablePolls: 2 } },
  );
  t.deepEqual(
    events.map((e) => e.type),
    ['hello', 'start', 'result', 'start', 'result', 'start', 'result', 'done'],
  );
  const hello = events[0] as Extract<RunnerEvent, { type: 'hello' }>;
  t.deepEqual(hello.background, { windowMs: 500, acquired: 0, released: 0 });
  const results = events.filter((e): e is Extract<RunnerEvent, { type: 'result' }> => e.type === 'result').map((e) => e.result);
  t.deepEqual(results[0]!.before, { acquired: 100, released: 100 });
  t.deepEqual(results[0]!.after, { acquired: 101, released: 101 });
  t.true(results[0]!.quiesce.settled);
  t.deepEqual(results[0]!.idle && { a: results[0]!.idle.acquired, r: results[0]!.idle.released }, { a: 0, r: 0 });
  t.deepEqual(hello.evidence, { mechanism: 'none', unavailable: 'this guest offers no pin evidence' });
  t.deepEqual(results[0]!.evidence, { mechanism: 'none', unavailable: 'this guest offers no pin evidence' });
  t.deepEqual(results[0]!.pathHits, ['blkdev_read_iter', 'bio_iov_iter_get_pages']);
  t.deepEqual(results[1]!.ioError, { code: 'EFAULT', message: 'EFAULT: bad address' });
  t.is(results[1]!.io, undefined);
  t.truthy(results[2]!.io);
  t.true(sys.calls.includes('sync /mnt/ext2'));
});

test('a target whose stack cannot be set up runs no I/O and records why (the verdict is ERROR, not FAIL)', async (t) => {
  const sys = Object.assign(fakeSystem(), {
    prepareTarget: () => {
      throw new Error('dmsetup create pinlab-dm-crypt: reload ioctl failed');
    },
  });
  let ran = false;
  const spec = HW_SUITE.find((w) => w.name === 'dm.crypt.psync.anon')!;
  const obs = await observeWorkload(spec, sys, async () => {
    ran = true;
    return goodIO;
  }, { quiesce: { stablePolls: 2 } });
  t.false(ran, 'no I/O on a target that is not there');
  t.is(obs.io, undefined);
  t.deepEqual(obs.ioError, { message: 'target set-up: dmsetup create pinlab-dm-crypt: reload ioctl failed' });
});

test('runAll on a coverage build: gcov counters reset before each workload and read after it, per workload', async (t) => {
  const sys = fakeSystem();
  let count = 0;
  sys.gcov = () => ({
    reset: () => {
      count = 0;
      sys.calls.push('gcov reset');
    },
    read: () => ({ 'mm/gup.gcda': Buffer.from(`count=${count}`).toString('base64') }),
  });
  const specs = [makeSpec({ target: 'raw-virtio', engine: 'psync' }), makeSpec({ target: 'raw-nvme', engine: 'psync' })];
  const events: RunnerEvent[] = [];
  await runAll(specs, sys, async () => {
    count += specs.length; // what the kernel's counters would gather during this workload
    return goodIO;
  }, (e) => events.push(e), { backgroundWindowMs: 10, quiesce: { stablePolls: 1 } });
  const results = events.filter((e): e is Extract<RunnerEvent, { type: 'result' }> => e.type === 'result').map((e) => e.result);
  t.deepEqual(results.map((r) => Buffer.from(r.gcda?.['mm/gup.gcda'] ?? '', 'base64').toString()), ['count=2', 'count=2'], 'each workload reads only its own counts');
  const hello = events.find((e): e is Extract<RunnerEvent, { type: 'hello' }> => e.type === 'hello')!;
  t.is(Buffer.from(hello.gcda?.['mm/gup.gcda'] ?? '', 'base64').toString(), 'count=0', 'the calibration is counted apart (reset before it, read at hello)');
  t.is(sys.calls.filter((c) => c === 'gcov reset').length, 3, 'one reset before the calibration, one before each workload');
});

test('runAll on a kernel without gcov: no counters, nothing reset, no gcda in the results', async (t) => {
  const sys = fakeSystem();
  sys.gcov = () => undefined;
  const events: RunnerEvent[] = [];
  await runAll([makeSpec({ target: 'raw-virtio', engine: 'psync' })], sys, async () => goodIO, (e) => events.push(e), { backgroundWindowMs: 10, quiesce: { stablePolls: 1 } });
  const result = events.find((e): e is Extract<RunnerEvent, { type: 'result' }> => e.type === 'result')!.result;
  t.is(result.gcda, undefined);
  t.false(sys.calls.includes('gcov reset'));
});

test('runAll with function coverage: the traceable functions are traced too, and each result splits path hits from function hits', async (t) => {
  const sys = fakeSystem();
  const traced: string[][] = [];
  let buffer = 0;
  Object.assign(sys, {
    traceable: (wanted: Iterable<string>) => [...new Set(wanted)].filter((n) => n.startsWith('blkdev') || n === 'bio_iov_iter_get_pages' || n === 'gup_pte_range' || n === 'try_grab_folio'),
    startTrace: (names: string[]) => void traced.push([...names].sort()),
    stopTrace: () => ['blkdev_read_iter', 'bio_iov_iter_get_pages', 'gup_pte_range'],
    growTraceBuffer: (kb: number) => void (buffer = kb),
  });
  const events: RunnerEvent[] = [];
  await runAll([makeSpec({ target: 'raw-virtio', engine: 'psync' })], sys, async () => goodIO, (e) => events.push(e), {
    backgroundWindowMs: 10,
    quiesce: { stablePolls: 1 },
    traceFunctions: ['gup_pte_range', 'try_grab_folio', 'an_inlined_helper'],
  });
  const hello = events[0] as Extract<RunnerEvent, { type: 'hello' }>;
  t.deepEqual(hello.functionsTraceable, ['gup_pte_range', 'try_grab_folio'], 'only what the kernel can trace');
  t.true(buffer > 0, 'the trace buffer grows for hundreds of functions');
  t.true(traced[0]!.includes('gup_pte_range') && traced[0]!.includes('blkdev_read_iter'));
  const result = (events.find((e) => e.type === 'result') as Extract<RunnerEvent, { type: 'result' }>).result;
  t.deepEqual(result.pathHits, ['blkdev_read_iter', 'bio_iov_iter_get_pages']);
  t.deepEqual(result.functionHits, ['gup_pte_range']);
});

test('runAll without function coverage: no function hits, the trace list is the path alone', async (t) => {
  const sys = fakeSystem();
  const events: RunnerEvent[] = [];
  await runAll([makeSpec({ target: 'raw-virtio', engine: 'psync' })], sys, async () => goodIO, (e) => events.push(e), { backgroundWindowMs: 10, quiesce: { stablePolls: 1 } });
  const result = (events.find((e) => e.type === 'result') as Extract<RunnerEvent, { type: 'result' }>).result;
  t.is(result.functionHits, undefined);
  t.is((events[0] as Extract<RunnerEvent, { type: 'hello' }>).functionsTraceable, undefined);
});

test('a fault the workload arms itself (metadata-eio): the runner prepares it, hands arm() to the workload and tears it down after', async (t) => {
  const steps: string[] = [];
  const sys = Object.assign(fakeSystem(), {
    setupFault: () => ({ arm: () => void steps.push('arm'), teardown: () => void steps.push('teardown'), notes: () => ({ faultsInjected: 1 }) }),
  });
  const spec = makeSpec({ target: 'ext2', engine: 'psync', fault: { kind: 'metadata-eio' } });
  const obs = await observeWorkload(spec, sys, async (_spec, env) => {
    steps.push('io');
    t.is(typeof env.armFault, 'function');
    env.armFault!();
    return goodIO;
  }, { quiesce: { stablePolls: 2 } });
  t.deepEqual(steps, ['io', 'arm', 'teardown'], 'armed by the workload, during its I/O, never by the runner');
  t.like(obs.extra, { faultsInjected: 1 });
  // a workload without such a fault gets no arm
  const plain = await observeWorkload(makeSpec({ target: 'ext2', engine: 'psync' }), fakeSystem(), async (_spec, env) => {
    t.is(env.armFault, undefined);
    return goodIO;
  }, { quiesce: { stablePolls: 2 } });
  t.truthy(plain.io);
});
