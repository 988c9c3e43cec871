import test from 'ava';
import { BLKDEBUG_SAFE_BYTES, BUFFERS, REAP_EIO_BYTES, DEFAULT_SUITE, ENGINES, HW_SUITE, TARGETS, blkdebugRules, forkRaceTargets, matchesFilter, parseShard, selectWorkloads } from '../../harness/workloads/catalogue.js';
import { ALL_TARGETS } from '../../harness/workloads/targets.js';

test('names are unique and follow target.engine.buffer[.variant][.fault]', (t) => {
  const names = DEFAULT_SUITE.map((s) => s.name);
  t.is(new Set(names).size, names.length);
  for (const s of DEFAULT_SUITE) {
    const prefix = `${s.target}.${s.engine}.${s.buffer}`;
    const suffix = s.fault ? `.${s.fault.kind}` : '';
    t.true(s.name.startsWith(prefix) && s.name.endsWith(suffix), s.name);
    t.regex(s.name.slice(prefix.length, s.name.length - suffix.length), /^(\.[a-z0-9-]+)?$/, s.name);
  }
  t.true(names.includes('raw-virtio.psyncv.anon.subpage'));
  t.true(names.includes('raw-virtio.psync.anon'));
  t.true(names.includes('ext2.psyncv.anon.efault-midway'));
});

test('every target, engine, buffer kind and fault kind is covered', (t) => {
  const has = <T>(xs: readonly T[], f: (s: (typeof DEFAULT_SUITE)[number]) => T) => xs.filter((x) => !DEFAULT_SUITE.some((s) => f(s) === x));
  t.deepEqual(has(TARGETS, (s) => s.target), []);
  t.deepEqual(has(ENGINES, (s) => s.engine), []);
  // SG_IO runs on the scsi variant's disk, which the default suite's vectored SG_IO brings along
  t.true(HW_SUITE.some((s) => s.engine === 'sg-io'));
  t.deepEqual(ALL_TARGETS.filter((x) => ![...DEFAULT_SUITE, ...HW_SUITE].some((s) => s.target === x.name)).map((x) => x.name), [], 'every target record has a workload');
  t.deepEqual(has(BUFFERS, (s) => s.buffer), []);
  const faults = ['efault-midway', 'readonly-dest', 'misaligned', 'past-eod', 'fail-make-request', 'blkdebug-eio', 'zero-page', 'sub-block', 'hugetlb-exhausted', 'cleaned-in-flight', 'hole-read', 'page-status'];
  t.deepEqual(has(faults, (s) => s.fault?.kind), []);
  t.true(HW_SUITE.some((s) => s.fault?.kind === 'over-limit'), 'over-limit: the small-MDTS variant');
});

test('pin models follow the engine', (t) => {
  for (const s of DEFAULT_SUITE) {
    const want = s.engine === 'uring-fixed' || s.engine === 'vmsplice-write' ? 'no-per-io-pins' : s.engine === 'splice-read' ? 'pipe-dio' : s.engine === 'udmabuf' ? 'memfd-pin' : 'user-dio';
    t.is(s.pinModel, want, s.name);
  }
});

test('every spec has non-empty path groups and never names an untraceable 6.1 function', (t) => {
  const untraceable = ['__bio_iov_iter_get_pages', 'pipe_get_pages', 'iov_iter_get_pages2', 'dio_refill_pages', '__blkdev_direct_IO', '__blkdev_direct_IO_async'];
  for (const s of DEFAULT_SUITE) {
    t.true(s.paths.length > 0, s.name);
    for (const g of s.paths) {
      t.true(g.length > 0, s.name);
      for (const n of g) t.false(untraceable.includes(n), `${s.name}: ${n}`);
    }
  }
  const splice = DEFAULT_SUITE.filter((s) => s.engine === 'splice-read');
  for (const s of splice) t.true(s.paths.some((g) => g.includes('generic_file_splice_read') && g.includes('copy_splice_read')));
});

test('sizes keep the suite small and aligned', (t) => {
  const total = DEFAULT_SUITE.reduce((n, s) => n + s.size, 0);
  // 101 MiB since the cross-memory-attach workloads (3 x 256 KiB over 99.4 MiB); 102 MiB since
  // the gate-page and migration-blocked workloads (2 x 256 KiB); 104 MiB since vfat's libaio and
  // the zero-page, sub-block and hugetlb-exhausted faults (5 x 256 KiB); 105 MiB since the
  // cleaned-in-flight fault (1 MiB); 106 MiB since the hole-read and page-status faults (2 x 256 KiB);
  // 108 MiB since the fork-storm, secretmem and zonefs workloads (3 x 256 KiB) and the dax fault
  // (2 MiB: one PMD-mapped huge page of persistent memory)
  t.true(total <= 108 * 1024 * 1024, `${total}`);
  for (const s of DEFAULT_SUITE) {
    // reap-eio needs one request of more than 64 bios: its own size, said once in the catalogue
    t.true(s.size >= 256 * 1024 && s.size <= (s.fault?.kind === 'reap-eio' ? REAP_EIO_BYTES : 4 * 1024 * 1024), s.name);
    t.is(s.size % s.blockSize, 0, s.name);
    if (s.segmentOrder === 'ascending' && s.blockSize < 4096) {
      // sub-page: 512-byte aligned segments that all sit in one page per op
      t.is(s.blockSize % (512 * s.segments), 0, s.name);
      t.is(4096 % s.blockSize, 0, s.name);
    } else {
      t.is(s.blockSize % 4096, 0, s.name);
    }
  }
});

test('only the blkdebug workload touches the blkdebug sector on its disk', (t) => {
  const rules = blkdebugRules(DEFAULT_SUITE);
  t.is(rules.length, 1);
  for (const s of DEFAULT_SUITE) {
    if (s.target === rules[0]!.target && s.fault?.kind !== 'blkdebug-eio') t.true(s.size <= BLKDEBUG_SAFE_BYTES, s.name);
  }
});

test('a read cleaned in flight is throttled like the fork race, and must show the deferred release ran', (t) => {
  const cleaned = DEFAULT_SUITE.filter((s) => s.fault?.kind === 'cleaned-in-flight');
  t.is(cleaned.length, 1);
  t.deepEqual(forkRaceTargets(cleaned), [cleaned[0]!.target], 'alone (a filtered run) it still gets the throttle');
  t.true(cleaned[0]!.paths.some((g) => g.length === 1 && g[0] === 'bio_dirty_fn'));
  // no other workload waits on the deferred release
  t.false(DEFAULT_SUITE.some((s) => s.fault?.kind !== 'cleaned-in-flight' && s.paths.some((g) => g.includes('bio_dirty_fn'))));
  t.deepEqual(forkRaceTargets(DEFAULT_SUITE.filter((s) => s.target === 'ext4')), []);
});

test('filter: words match name parts, globs the whole name, ! excludes', (t) => {
  t.true(matchesFilter('raw-virtio.psync.anon', 'psync'));
  t.false(matchesFilter('raw-virtio.psyncv.anon', 'psync'));
  t.true(matchesFilter('raw-virtio.psync.anon', 'raw-virtio.psync'));
  t.true(matchesFilter('ext2.psyncv.anon.efault-midway', '*efault*'));
  t.false(matchesFilter('ext2.psyncv.anon.efault-midway', 'ext*,!*efault*'));
  const ext4 = selectWorkloads('ext4');
  t.true(ext4.length > 0);
  t.true(ext4.every((s) => s.target === 'ext4'));
});

test('shards cover the selection exactly once, deterministically', (t) => {
  for (const n of [1, 2, 3, 5, 7]) {
    const parts = Array.from({ length: n }, (_, i) => selectWorkloads(undefined, { k: i + 1, n }).map((s) => s.name));
    const all = parts.flat();
    t.is(all.length, DEFAULT_SUITE.length);
    t.deepEqual([...all].sort(), DEFAULT_SUITE.map((s) => s.name).sort());
    t.deepEqual(parts, Array.from({ length: n }, (_, i) => selectWorkloads(undefined, { k: i + 1, n }).map((s) => s.name)));
  }
  const filtered = selectWorkloads('raw-virtio', { k: 2, n: 2 });
  t.true(filtered.every((s) => s.target === 'raw-virtio'));
  t.throws(() => selectWorkloads(undefined, { k: 0, n: 2 }));
  t.deepEqual(parseShard('2/3'), { k: 2, n: 3 });
  t.is(typeof parseShard('4/3'), 'string');
  t.is(typeof parseShard('x'), 'string');
});
