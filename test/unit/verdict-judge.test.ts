import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import { judge, judgeRun, pathEvidence } from '../../harness/verdict/judge.js';
import { makeSpec } from '../../harness/workloads/catalogue.js';
import type { Verdict } from '../../harness/verdict/types.js';
import type { BackgroundNoise, Fault, WorkloadIO, WorkloadObservation, WorkloadSpec } from '../../harness/workloads/types.js';

const quiet: BackgroundNoise = { windowMs: 500, acquired: 0, released: 0 };
const ctx = { background: quiet };

function io(over: Partial<WorkloadIO> = {}): WorkloadIO {
  return {
    bytes: 2 * 1024 * 1024,
    ops: 16,
    userPageOps: 512,
    fixedPins: 0,
    verify: { ok: true, checkedBytes: 1024 * 1024 },
    errors: [],
    durationMs: 100,
    ...over,
  };
}

/** A raw-virtio psync observation on a kernel where everything on the path is traceable. */
function obs(opts: {
  spec?: WorkloadSpec;
  acquired?: number;
  released?: number;
  io?: Partial<WorkloadIO>;
  hits?: string[];
  traceable?: string[];
  kmsg?: string[];
  settled?: boolean;
  stable?: boolean;
  extra?: Record<string, unknown>;
  /** evidence deltas (kprobe-hist); the counters above are then vmstat's */
  evidence?: { acquired: number; released: number; dropped?: number; vmstatBlind?: string[] };
  idle?: WorkloadObservation['idle'];
}): WorkloadObservation {
  const spec = opts.spec ?? makeSpec({ target: 'raw-virtio', engine: 'psync' });
  const acquired = opts.acquired ?? 512;
  const o: WorkloadObservation = {
    spec,
    before: { acquired: 1000, released: 1000 },
    after: { acquired: 1000 + acquired, released: 1000 + (opts.released ?? acquired) },
    quiesce: { polls: 6, settled: opts.settled ?? true, ms: 120, ...(opts.stable === undefined ? {} : { stable: opts.stable }) },
    io: io(opts.io),
    pathHits: opts.hits ?? ['blkdev_read_iter', 'blkdev_write_iter', 'bio_iov_iter_get_pages'],
    pathTraceable: opts.traceable ?? ['blkdev_read_iter', 'blkdev_write_iter', 'bio_iov_iter_get_pages', 'generic_file_splice_read', 'iter_file_splice_write'],
    kmsg: opts.kmsg ?? [],
  };
  if (opts.extra) o.extra = opts.extra;
  if (opts.evidence) {
    const e = opts.evidence;
    o.evidence = { mechanism: 'kprobe-hist', before: { acquired: 50, released: 50, dropped: 0 }, after: { acquired: 50 + e.acquired, released: 50 + e.released, dropped: e.dropped ?? 0 }, ...(e.vmstatBlind ? { vmstatBlind: e.vmstatBlind } : {}) };
  }
  if (opts.idle) o.idle = opts.idle;
  return o;
}

test('correctly pinned user DIO passes', (t) => {
  const v = judge(obs({}), ctx);
  t.is(v.status, 'PASS', v.message);
  t.is(v.pinning, 'pinned');
  t.deepEqual(v.reasons, []);
  t.is(v.numbers?.acquired, 512);
  t.is(v.numbers?.expectedPins, 512);
  t.deepEqual(v.path, ['blkdev_read_iter', 'blkdev_write_iter', 'bio_iov_iter_get_pages']);
});

test('no pins on user DIO: not-pinned', (t) => {
  const v = judge(obs({ acquired: 0, released: 0 }), ctx);
  t.is(v.status, 'FAIL');
  t.deepEqual(v.reasons, ['not-pinned']);
  t.is(v.pinning, 'not-pinned');
});

test('some pages pinned on a fault-free workload: not-pinned (partial)', (t) => {
  const v = judge(obs({ acquired: 300, released: 300 }), ctx);
  t.deepEqual(v.reasons, ['not-pinned']);
  t.regex(v.message, /partial: 300 of 512/);
});

test('released < acquired: pin-leak', (t) => {
  const v = judge(obs({ acquired: 512, released: 500 }), ctx);
  t.is(v.status, 'FAIL');
  t.deepEqual(v.reasons, ['pin-leak']);
});

test('released > acquired: over-released', (t) => {
  const v = judge(obs({ acquired: 512, released: 520 }), ctx);
  t.deepEqual(v.reasons, ['over-released']);
});

const ext2 = makeSpec({ target: 'ext2', engine: 'psync' });
const dioHits = ['__blockdev_direct_IO', 'iov_iter_pin_pages'];

test('several balanced pins per page on fs/direct-io.c pass, with the ratio noted', (t) => {
  const v = judge(obs({ spec: ext2, acquired: 1536, released: 1536, hits: dioHits, traceable: dioHits }), ctx);
  t.is(v.status, 'PASS', v.message);
  t.is(v.pinning, 'pinned');
  t.regex(v.message, /3\.0 per page-op/);
});

test('extra balanced pins on a path that pins each page-op once: unexpected-pins', (t) => {
  const v = judge(obs({ acquired: 1536, released: 1536 }), ctx);
  t.is(v.status, 'FAIL');
  t.deepEqual(v.reasons, ['unexpected-pins']);
  // one page pinned again per op where a block mapping ends mid-page (ext2 with 1 KiB blocks on 6.12: 514 for 512 in 16 ops)
  const repin = judge(obs({ acquired: 514, released: 514, io: { ops: 16 } }), ctx);
  t.is(repin.status, 'PASS', repin.message);
  t.regex(repin.message, /pinned again where a block mapping ended/);
  t.deepEqual(judge(obs({ acquired: 529, released: 529, io: { ops: 16 } }), ctx).reasons, ['unexpected-pins']);
});

test('a double pin released once is a pin leak', (t) => {
  const v = judge(obs({ spec: ext2, acquired: 1024, released: 512, hits: dioHits, traceable: dioHits }), ctx);
  t.deepEqual(v.reasons, ['pin-leak']);
});

test('pins are judged on the evidence; what vmstat missed is a finding, not a failure', (t) => {
  // 6.5+ fs/direct-io.c: folio_add_pin() adds 2 pins per page that nr_foll_pin_acquired never sees
  const v = judge(obs({ spec: ext2, acquired: 512, released: 1536, hits: dioHits, traceable: dioHits, evidence: { acquired: 1536, released: 1536 } }), ctx);
  t.is(v.status, 'PASS', v.message);
  t.is(v.numbers?.evidence, 'kprobe-hist');
  t.is(v.numbers?.acquired, 1536);
  t.is(v.numbers?.vmstatAcquired, 512);
  t.is(v.numbers?.uncountedPins, 1024);
  t.is(v.numbers?.uncountedReleases, 0);
  t.regex(v.message, /uncounted pins 1024/);
});

test('a leak where vmstat undercounts is a leak, though vmstat reads over-released', (t) => {
  const v = judge(obs({ spec: ext2, acquired: 512, released: 1024, hits: dioHits, traceable: dioHits, evidence: { acquired: 1536, released: 1024 } }), ctx);
  t.is(v.status, 'FAIL');
  t.deepEqual(v.reasons, ['pin-leak']);
});

test('vmstat pins never released are a leak though the evidence balances; vmstat releases beyond its pins are not', (t) => {
  // a release that returned without releasing (say, gup_put_folio skipping a page the grab pinned)
  const kept = judge(obs({ acquired: 512, released: 480, evidence: { acquired: 512, released: 512 } }), ctx);
  t.deepEqual(kept.reasons, ['pin-leak'], kept.message);
  t.regex(kept.message, /vmstat counted 512 pins taken and 480 released/);
  // vmstat blind to folio_add_pin(): fewer pins than releases in vmstat, the evidence balanced
  const blind = judge(obs({ acquired: 512, released: 1536, evidence: { acquired: 1536, released: 1536 }, hits: ['__blockdev_direct_IO'] }), ctx);
  t.false(blind.reasons.includes('pin-leak'), blind.message);
  // both agree
  t.is(judge(obs({ acquired: 512, evidence: { acquired: 512, released: 512 } }), ctx).status, 'PASS');
});

test('an over-release seen by the evidence fails, whatever vmstat says', (t) => {
  const v = judge(obs({ acquired: 512, released: 512, evidence: { acquired: 512, released: 1024 } }), ctx);
  t.deepEqual(v.reasons, ['over-released']);
});

test('without evidence the verdict says it rests on vmstat, and why', (t) => {
  const o = obs({});
  o.evidence = { mechanism: 'none', unavailable: 'no kprobe events (CONFIG_KPROBE_EVENTS)' };
  const v = judge(o, ctx);
  t.is(v.status, 'PASS');
  t.is(v.numbers?.evidence, 'vmstat');
  t.regex(v.message, /vmstat only \(no kprobe events/);
});

test('rule 1: evidence unavailable on a kernel with folio_add_pin, fs/direct-io.c ran: ERROR evidence, never a vmstat FAIL', (t) => {
  const vfat = makeSpec({ target: 'vfat', engine: 'psync' });
  const hits = ['__blockdev_direct_IO', 'iov_iter_extract_pages'];
  // vmstat 512/1536 on a correct kernel: read on vmstat this was a false over-released
  const o = obs({ spec: vfat, acquired: 512, released: 1536, hits, traceable: hits });
  o.evidence = { mechanism: 'none', unavailable: 'calibration: no source adds up: ...', vmstatBlind: ['folio_add_pin'] };
  const v = judge(o, ctx);
  t.is(v.status, 'ERROR', v.message);
  t.is(v.cause, 'evidence');
  t.is(v.numbers?.evidence, 'none');
  t.regex(v.message, /fs\/direct-io\.c ran, and this kernel has folio_add_pin/);
  t.regex(v.message, /vmstat read 512 acquired \/ 1536 released/);
  // not traceable, but the workload's path names fs/direct-io.c: still not judged on vmstat
  const untraced = obs({ spec: vfat, acquired: 512, released: 1536, hits: [], traceable: [] });
  untraced.evidence = { mechanism: 'none', unavailable: 'no kprobe events', vmstatBlind: ['folio_add_pin'] };
  t.is(judge(untraced, ctx).cause, 'evidence');
  // pin-independent evidence still fails
  const corrupt = obs({ spec: vfat, acquired: 512, released: 1536, hits, traceable: hits, io: { verify: { ok: false, checkedBytes: 4096, firstBadOffset: 8 } } });
  corrupt.evidence = { mechanism: 'none', unavailable: 'x', vmstatBlind: ['folio_add_pin'] };
  const c = judge(corrupt, ctx);
  t.is(c.status, 'FAIL');
  t.deepEqual(c.reasons, ['data-corruption']);
});

test('rule 1: evidence unavailable, no blind primitive or another path: judged on vmstat as before', (t) => {
  const o = obs({});
  o.evidence = { mechanism: 'none', unavailable: 'no kprobe events', vmstatBlind: ['folio_add_pin'] };
  const v = judge(o, ctx); // raw block device: block/fops.c, counted by vmstat
  t.is(v.status, 'PASS', v.message);
  t.is(v.numbers?.evidence, 'vmstat');
  const vfat = makeSpec({ target: 'vfat', engine: 'psync' });
  const hits = ['__blockdev_direct_IO'];
  const old = obs({ spec: vfat, acquired: 1536, released: 1536, hits, traceable: hits });
  old.evidence = { mechanism: 'none', unavailable: 'no kprobe events' }; // a kernel without folio_add_pin (6.1)
  t.is(judge(old, ctx).numbers?.evidence, 'vmstat');
});

test('rule 9: a failed vmstat control does not touch workloads judged on the pin evidence', (t) => {
  const control = { ok: false, acquired: 0, released: 256, expected: 256, message: 'gup_test PIN benchmark: pin accounting does not add up' };
  const v = judgeRun(obs({ evidence: { acquired: 512, released: 512 } }), { background: quiet, control });
  t.is(v.status, 'PASS', v.message);
  t.is(judgeRun(obs({}), { background: quiet, control }).cause, 'harness');
});

test('evidence that lost hits (dropped, missed probes) gives way to vmstat where vmstat counts the path; ERROR harness where it cannot', (t) => {
  // recorded on 6.12 (raw-virtio.libaio.anon.fail-make-request): evidence 512/448, vmstat 512/512
  const v = judge(obs({ acquired: 512, released: 512, evidence: { acquired: 512, released: 448, dropped: 1 } }), ctx);
  t.is(v.status, 'PASS', v.message);
  t.is(v.numbers?.evidence, 'vmstat');
  t.regex(v.message, /lost 1 hits .*judged on vmstat/);
  // a real leak still shows on vmstat
  const leak = judge(obs({ acquired: 512, released: 448, evidence: { acquired: 512, released: 448, dropped: 1 } }), ctx);
  t.is(leak.status, 'FAIL');
  t.deepEqual(leak.reasons, ['pin-leak']);
  // fs/direct-io.c on a kernel with folio_add_pin: vmstat is blind there, so nothing can judge
  const dio = makeSpec({ target: 'vfat', engine: 'psync' });
  const blind = judge(obs({ spec: dio, hits: ['__blockdev_direct_IO'], traceable: ['__blockdev_direct_IO'], evidence: { acquired: 512, released: 512, dropped: 3, vmstatBlind: ['folio_add_pin'] } }), ctx);
  t.is(blind.status, 'ERROR');
  t.is(blind.cause, 'harness');
  t.regex(blind.message, /vmstat cannot stand in \(folio_add_pin/);
});

test('a leak that was still settling is an ERROR timeout, not a FAIL', (t) => {
  const v = judge(obs({ acquired: 512, released: 500, settled: false }), ctx);
  t.is(v.status, 'ERROR');
  t.is(v.cause, 'timeout');
  const moving = judge(obs({ acquired: 512, released: 500, settled: false, stable: false }), ctx);
  t.is(moving.cause, 'timeout');
});

test('an imbalance that stood still until the bound is a FAIL', (t) => {
  const v = judge(obs({ acquired: 512, released: 500, settled: false, stable: true }), ctx);
  t.is(v.status, 'FAIL');
  t.deepEqual(v.reasons, ['pin-leak']);
});

test('pins moving in the idle window before the workload: ERROR background, never a tolerance', (t) => {
  const idle = { windowMs: 30, acquired: 0, released: 0, evidenceAcquired: 4, evidenceReleased: 0 };
  const v = judge(obs({ acquired: 512, released: 512, idle }), ctx);
  t.is(v.status, 'ERROR');
  t.is(v.cause, 'background');
  t.is(v.numbers?.background, 4);
  // the run-wide idle sample of older observations counts the same way
  const old = judge(obs({ acquired: 515, released: 514 }), { background: { windowMs: 500, acquired: 5, released: 5 } });
  t.is(old.status, 'ERROR');
  t.is(old.cause, 'background');
  // evidence that does not depend on pins still fails
  const corrupt = judge(obs({ idle, io: { verify: { ok: false, checkedBytes: 4096, firstBadOffset: 0 } } }), ctx);
  t.is(corrupt.status, 'FAIL');
  t.deepEqual(corrupt.reasons, ['data-corruption']);
});

test('a failed pin-accounting control makes every workload ERROR, live and re-parsed alike', (t) => {
  const control = { ok: false, acquired: 0, released: 0, expected: 256, message: 'gup_test pinned 0 of 256' };
  const v = judgeRun(obs({}), { background: quiet, control });
  t.is(v.status, 'ERROR');
  t.is(v.cause, 'harness');
  t.is(judgeRun(obs({}), { background: quiet, control: { ...control, ok: true } }).status, 'PASS');
});

test('no-per-io-pins: registration pins only', (t) => {
  const spec = makeSpec({ target: 'raw-virtio', engine: 'uring-fixed' });
  t.is(judge(obs({ spec, acquired: 256, io: { fixedPins: 256 } }), ctx).status, 'PASS');
  const v = judge(obs({ spec, acquired: 768, io: { fixedPins: 256 } }), ctx);
  t.deepEqual(v.reasons, ['unexpected-pins']);
  t.is(v.pinning, 'pinned');
});

/** The observation with `n` pages migrated in its window (vmstat pgmigrate_success). */
function migrated(o: WorkloadObservation, n: number): WorkloadObservation {
  return { ...o, before: { ...o.before, migrated: 40 }, after: { ...o.after, migrated: 40 + n } };
}

test('a long-term pin of movable pages pinned twice around a migration is a re-pin, not unexpected-pins', (t) => {
  const spec = makeSpec({ target: 'raw-virtio', engine: 'uring-fixed' });
  const twice = obs({ spec, acquired: 512, io: { fixedPins: 256 } });
  // without a migration the second set of pins is unexpected
  t.deepEqual(judge(twice, ctx).reasons, ['unexpected-pins']);
  const v = judge(migrated(twice, 256), ctx);
  t.is(v.status, 'PASS', v.message);
  t.regex(v.message, /256 page\(s\) migrated/);
  t.is(v.numbers?.pagesMigrated, 256);
  t.is(judge(twice, ctx).numbers?.pagesMigrated, undefined);
  // a migration allows one re-pin of each page, no more
  t.deepEqual(judge(migrated(obs({ spec, acquired: 513, io: { fixedPins: 256 } }), 256), ctx).reasons, ['unexpected-pins']);
  // and never a leak: one pin kept after the migration still fails
  t.deepEqual(judge(migrated(obs({ spec, acquired: 512, released: 511, io: { fixedPins: 256 } }), 256), ctx).reasons, ['pin-leak']);
});

test('user DIO with a migration in its window: up to twice the page-ops, balanced', (t) => {
  const o = obs({ acquired: 1024 });
  t.deepEqual(judge(o, ctx).reasons, ['unexpected-pins']);
  t.is(judge(migrated(o, 512), ctx).status, 'PASS');
  t.deepEqual(judge(migrated(obs({ acquired: 1025 }), 512), ctx).reasons, ['unexpected-pins']);
  t.deepEqual(judge(migrated(obs({ acquired: 1024, released: 1000 }), 512), ctx).reasons, ['pin-leak']);
});

test('vmsplice into O_DIRECT: any pin is unexpected', (t) => {
  const spec = makeSpec({ target: 'ext4', engine: 'vmsplice-write' });
  const hits = ['iter_file_splice_write', 'iomap_dio_rw', 'bio_iov_iter_get_pages'];
  const traceable = ['iter_file_splice_write', 'iomap_dio_rw', 'bio_iov_iter_get_pages'];
  t.is(judge(obs({ spec, acquired: 0, hits, traceable }), ctx).pinning, 'no-per-io-pins');
  t.deepEqual(judge(obs({ spec, acquired: 16, hits, traceable }), ctx).reasons, ['unexpected-pins']);
});

test('pipe-dio on the ITER_PIPE DIO path (6.1) is judged like user DIO', (t) => {
  const spec = makeSpec({ target: 'raw-virtio', engine: 'splice-read' });
  const hits = ['generic_file_splice_read', 'iov_iter_pipe', 'blkdev_read_iter', 'bio_iov_iter_get_pages'];
  const pinned = judge(obs({ spec, acquired: 256, hits, io: { userPageOps: 256 } }), ctx);
  t.is(pinned.status, 'PASS', pinned.message);
  const stock = judge(obs({ spec, acquired: 0, hits, io: { userPageOps: 256 } }), ctx);
  t.deepEqual(stock.reasons, ['not-pinned']);
});

test('pipe-dio on the copy path (6.4+) is judged as no per-I/O pins', (t) => {
  const spec = makeSpec({ target: 'raw-virtio', engine: 'splice-read' });
  const hits = ['copy_splice_read', 'blkdev_read_iter', 'bio_iov_iter_get_pages'];
  const traceable = ['copy_splice_read', 'blkdev_read_iter', 'blkdev_write_iter', 'bio_iov_iter_get_pages'];
  const v = judge(obs({ spec, acquired: 0, hits, traceable, io: { userPageOps: 256 } }), ctx);
  t.is(v.status, 'PASS', v.message);
  t.is(v.pinning, 'no-per-io-pins');
  t.deepEqual(judge(obs({ spec, acquired: 256, hits, traceable, io: { userPageOps: 256 } }), ctx).reasons, ['unexpected-pins']);
  // 6.4's name for the same copy
  const v64 = judge(obs({ spec, acquired: 0, hits: ['direct_splice_read', ...hits.slice(1)], traceable: ['direct_splice_read', ...traceable.slice(1)], io: { userPageOps: 256 } }), ctx);
  t.is(v64.pinning, 'no-per-io-pins', v64.message);
});

test('pipe-dio with no traceable splice function and no pins: SKIP', (t) => {
  const spec = makeSpec({ target: 'raw-virtio', engine: 'splice-read' });
  const v = judge(obs({ spec, acquired: 0, hits: ['blkdev_read_iter'], traceable: ['blkdev_read_iter', 'blkdev_write_iter'] }), ctx);
  t.is(v.status, 'SKIP');
});

test('memfd-pin (udmabuf): pinned where memfd_pin_folios exists, no pins expected where it does not', (t) => {
  const spec = makeSpec({ target: 'raw-virtio', engine: 'udmabuf', blockSize: 64 * 1024, size: 256 * 1024 });
  const io612 = { userPageOps: 128 };
  // 6.12: the pin route ran; every memfd page pinned once per op, or a leak, or too few
  const hits612 = ['udmabuf_ioctl', 'memfd_pin_folios'];
  const traceable612 = ['udmabuf_ioctl', 'memfd_pin_folios'];
  const pinned = judge(obs({ spec, acquired: 128, hits: hits612, traceable: traceable612, io: io612 }), ctx);
  t.is(pinned.status, 'PASS', pinned.message);
  t.is(pinned.numbers?.expectedPins, 128);
  t.deepEqual(judge(obs({ spec, acquired: 128, released: 96, hits: hits612, traceable: traceable612, io: io612 }), ctx).reasons, ['pin-leak']);
  t.deepEqual(judge(obs({ spec, acquired: 64, hits: hits612, traceable: traceable612, io: io612 }), ctx).reasons, ['not-pinned']);
  // 6.1: no memfd_pin_folios in the kernel, page references only: no pins is a PASS
  const hits61 = ['udmabuf_ioctl'];
  const ref = judge(obs({ spec, acquired: 0, hits: hits61, traceable: hits61, io: io612 }), ctx);
  t.is(ref.status, 'PASS', ref.message);
  t.is(ref.pinning, 'no-per-io-pins');
  // ... but pins taken there are judged as pins: a leak is never hidden by the kernel's age
  t.deepEqual(judge(obs({ spec, acquired: 128, released: 120, hits: hits61, traceable: hits61, io: io612 }), ctx).reasons, ['pin-leak']);
});

test('read-back mismatch: data-corruption', (t) => {
  const v = judge(obs({ io: { verify: { ok: false, checkedBytes: 4096, firstBadOffset: 8192 } } }), ctx);
  t.deepEqual(v.reasons, ['data-corruption']);
  t.regex(v.message, /8192/);
});

test('fork race lost data: fork-data-loss (with not-pinned on a reference kernel)', (t) => {
  const spec = makeSpec({ target: 'raw-virtio', engine: 'fork-race', repeat: 20 });
  const v = judge(obs({ spec, acquired: 0, io: { fork: { attempts: 20, hitWindow: 3, lostData: 1 } } }), ctx);
  t.deepEqual(v.reasons.sort(), ['fork-data-loss', 'not-pinned']);
});

test('fork race: gup-fast retries under fork() are extra pins, balanced, not a failure', (t) => {
  const spec = makeSpec({ target: 'raw-virtio', engine: 'fork-race', repeat: 20 });
  const v = judge(obs({ spec, acquired: 5185, released: 5185, io: { userPageOps: 5120, ops: 20, fork: { attempts: 20, hitWindow: 19, lostData: 0 } } }), ctx);
  t.is(v.status, 'PASS', v.message);
});

test('splice from an O_DIRECT file where iov_iter_pipe is not traceable: generic_file_splice_read is ITER_PIPE', (t) => {
  const spec = makeSpec({ target: 'raw-virtio', engine: 'splice-read' });
  const hits = ['generic_file_splice_read', 'blkdev_read_iter', 'bio_iov_iter_get_pages'];
  const traceable = ['generic_file_splice_read', 'blkdev_read_iter', 'blkdev_write_iter', 'bio_iov_iter_get_pages'];
  const stock = judge(obs({ spec, acquired: 0, hits, traceable, io: { userPageOps: 256 } }), ctx);
  t.deepEqual(stock.reasons, ['not-pinned'], stock.message);
});

test('fork race that never hit the window decides nothing: ERROR harness', (t) => {
  const spec = makeSpec({ target: 'raw-virtio', engine: 'fork-race', repeat: 20 });
  const v = judge(obs({ spec, io: { fork: { attempts: 20, hitWindow: 0, lostData: 0 } } }), ctx);
  t.is(v.status, 'ERROR');
  t.regex(v.message, /never hit the window/);
  t.is(judge(obs({ spec, io: { fork: { attempts: 20, hitWindow: 5, lostData: 0 } } }), ctx).status, 'PASS');
});

test('kmsg WARNING: kernel-splat with the title in the message', (t) => {
  const kmsg = readFileSync(join(repoRoot, 'test/fixtures/verdict/dmesg/warning-bio-release.log'), 'utf8').split('\n');
  const v = judge(obs({ kmsg }), ctx);
  t.deepEqual(v.reasons, ['kernel-splat']);
  t.is(v.splats[0]?.title, 'WARNING in try_grab_folio');
  t.regex(v.message, /WARNING in try_grab_folio/);
});

test('a traceable path group with no hit: ERROR path-not-reached', (t) => {
  const v = judge(obs({ hits: ['blkdev_read_iter'] }), ctx);
  t.is(v.status, 'ERROR');
  t.is(v.cause, 'path-not-reached');
  t.regex(v.message, /bio_iov_iter_get_pages/);
});

test('a group none of whose names is traceable is unverifiable, not a miss', (t) => {
  const v = judge(obs({ hits: ['blkdev_read_iter'], traceable: ['blkdev_read_iter', 'blkdev_write_iter'] }), ctx);
  t.is(v.status, 'PASS', v.message);
  t.regex(v.message, /unverifiable: bio_iov_iter_get_pages/);
});

test('a leak is a FAIL even when the path was not reached', (t) => {
  const v = judge(obs({ hits: ['blkdev_read_iter'], acquired: 10, released: 4 }), ctx);
  t.is(v.status, 'FAIL');
  t.deepEqual(v.reasons, ['pin-leak']);
  t.regex(v.message, /path not reached/);
});

function faultSpec(fault: Fault): WorkloadSpec {
  return makeSpec({ target: 'raw-virtio', engine: 'psync', fault });
}

test('fault cases: balance required, and a pin for every page-op of the bytes moved', (t) => {
  const spec = faultSpec({ kind: 'efault-midway' });
  const efault = [{ code: 'EFAULT', syscall: 'pread', count: 1 }];
  const v = judge(obs({ spec, acquired: 100, io: { userPageOps: 100, errors: efault } }), ctx);
  t.is(v.status, 'PASS', v.message);
  t.deepEqual(judge(obs({ spec, acquired: 100, released: 90, io: { userPageOps: 100, errors: efault } }), ctx).reasons, ['pin-leak']);
  t.deepEqual(judge(obs({ spec, acquired: 0, io: { errors: efault } }), ctx).reasons, ['not-pinned']);
  // a kernel that pins only some of what moved (a partial conversion) is caught on a fault workload too
  const partial = judge(obs({ spec, acquired: 60, io: { userPageOps: 100, errors: efault } }), ctx);
  t.deepEqual(partial.reasons, ['not-pinned']);
  t.regex(partial.message, /partial: 60 of 100/);
});

test('fault cases: wrong or missing errno', (t) => {
  const eio = faultSpec({ kind: 'fail-make-request', times: 1, probability: 100, interval: 1 });
  const ok = judge(obs({ spec: eio, acquired: 400, io: { userPageOps: 400, errors: [{ code: 'EIO', syscall: 'pread', count: 1 }] }, extra: { faultsInjected: 1 } }), ctx);
  t.is(ok.status, 'PASS', ok.message);
  const missing = judge(obs({ spec: eio, acquired: 400, io: { userPageOps: 400 }, extra: { faultsInjected: 1 } }), ctx);
  t.deepEqual(missing.reasons, ['wrong-errno']);
  const other = judge(obs({ spec: eio, acquired: 400, io: { userPageOps: 400, errors: [{ code: 'EFAULT', syscall: 'pread', count: 1 }] } }), ctx);
  t.deepEqual(other.reasons, ['wrong-errno']);
  const misaligned = faultSpec({ kind: 'misaligned', what: 'offset' });
  const mis = judge(
    obs({ spec: misaligned, acquired: 0, hits: ['blkdev_read_iter'], io: { bytes: 0, userPageOps: 0, errors: [{ code: 'EINVAL', syscall: 'pread', count: 8 }] } }),
    ctx,
  );
  t.is(mis.status, 'PASS', mis.message);
});

test('nowait, hole-write, memlock: their errnos, and the pins a refused op took and gave back', (t) => {
  const nowait = faultSpec({ kind: 'nowait', bytes: 2 * 1024 * 1024 });
  const again = [{ code: 'EAGAIN', syscall: 'preadv2', count: 1 }];
  // the refused op pinned a bio's worth (256 pages) and moved nothing: balance decides
  t.is(judge(obs({ spec: nowait, acquired: 768, io: { userPageOps: 512, errors: again } }), ctx).status, 'PASS');
  t.deepEqual(judge(obs({ spec: nowait, acquired: 768, released: 512, io: { userPageOps: 512, errors: again } }), ctx).reasons, ['pin-leak']);
  // a kernel that issues several bios without blocking may just do the I/O
  t.is(judge(obs({ spec: nowait, acquired: 512, io: { userPageOps: 512 } }), ctx).status, 'PASS');
  t.deepEqual(judge(obs({ spec: nowait, acquired: 512, io: { userPageOps: 512, errors: [{ code: 'EIO', syscall: 'preadv2', count: 1 }] } }), ctx).reasons, ['wrong-errno']);
  const hole = faultSpec({ kind: 'hole-write' });
  t.is(judge(obs({ spec: hole, acquired: 544, io: { userPageOps: 544 } }), ctx).status, 'PASS');
  t.deepEqual(judge(obs({ spec: hole, acquired: 544, io: { userPageOps: 544, errors: [{ code: 'ENOTBLK', syscall: 'pwrite', count: 1 }] } }), ctx).reasons, ['wrong-errno']);
  const memlock = makeSpec({ target: 'raw-virtio', engine: 'uring-fixed', fault: { kind: 'memlock' } });
  const enomem = [{ code: 'ENOMEM', syscall: 'io_uring_register', count: 2 }];
  t.is(judge(obs({ spec: memlock, acquired: 576, io: { fixedPins: 512, userPageOps: 0, errors: enomem } }), ctx).status, 'PASS');
  t.deepEqual(judge(obs({ spec: memlock, acquired: 576, released: 544, io: { fixedPins: 512, userPageOps: 0, errors: enomem } }), ctx).reasons, ['pin-leak']);
  // a registration that was never refused did not test the accounting failure
  t.deepEqual(judge(obs({ spec: memlock, acquired: 512, io: { fixedPins: 512, userPageOps: 0 } }), ctx).reasons, ['wrong-errno']);
  // a refused long-term pin of a disk file: EFAULT (6.5+) or EOPNOTSUPP, which Node calls ENOTSUP
  const longterm = makeSpec({ target: 'ext4', engine: 'uring-fixed', fault: { kind: 'longterm-file' } });
  for (const code of ['EFAULT', 'ENOTSUP']) {
    const v = judge(obs({ spec: longterm, acquired: 576, io: { fixedPins: 512, userPageOps: 0, errors: [{ code, syscall: 'io_uring_register', count: 2 }] } }), ctx);
    t.is(v.status, 'PASS', `${code}: ${v.message}`);
  }
  t.deepEqual(judge(obs({ spec: longterm, acquired: 512, io: { fixedPins: 512, userPageOps: 0 } }), ctx).reasons, ['wrong-errno']);
});

test('zero-page, sub-block, hugetlb-exhausted: their errnos per engine, and the pins a failed op gave back', (t) => {
  // the zero page's pins count like any page's: a write from it that pinned nothing is not-pinned
  const zero = makeSpec({ target: 'raw-virtio', engine: 'psync', size: 256 * 1024, fault: { kind: 'zero-page' } });
  t.is(judge(obs({ spec: zero, acquired: 224, io: { userPageOps: 224 } }), ctx).status, 'PASS');
  t.deepEqual(judge(obs({ spec: zero, acquired: 192, io: { userPageOps: 224 } }), ctx).reasons, ['not-pinned']);
  t.deepEqual(judge(obs({ spec: zero, acquired: 224, io: { userPageOps: 224, verify: { ok: false, checkedBytes: 0, detail: 'non-zero' } } }), ctx).reasons, ['data-corruption']);
  const sub = makeSpec({ target: 'reiserfs', engine: 'psync', fault: { kind: 'sub-block' } });
  t.deepEqual(judge(obs({ spec: sub, acquired: 544, io: { userPageOps: 544, errors: [{ code: 'EINVAL', syscall: 'pwrite', count: 1 }] } }), ctx).reasons, ['wrong-errno']);
  // Direct I/O: the huge page pinned before the failed fault (512 pins) went back, EFAULT
  const dio = makeSpec({ target: 'raw-nvme', engine: 'psync', fault: { kind: 'hugetlb-exhausted' } });
  const efault = [{ code: 'EFAULT', syscall: 'pread', count: 1 }];
  t.is(judge(obs({ spec: dio, acquired: 640, io: { userPageOps: 128, errors: efault } }), ctx).status, 'PASS');
  t.deepEqual(judge(obs({ spec: dio, acquired: 640, released: 128, io: { userPageOps: 128, errors: efault } }), ctx).reasons, ['pin-leak']);
  t.deepEqual(judge(obs({ spec: dio, acquired: 128, io: { userPageOps: 128, errors: [{ code: 'ENOMEM', syscall: 'pread', count: 1 }] } }), ctx).reasons, ['wrong-errno']);
  // udmabuf: the refusal must reach user space, ENOMEM (memfd_pin_folios) or EINVAL (older udmabuf)
  const memfd = makeSpec({ target: 'raw-virtio', engine: 'udmabuf', fault: { kind: 'hugetlb-exhausted' } });
  for (const code of ['ENOMEM', 'EINVAL']) {
    const v = judge(obs({ spec: memfd, acquired: 129, io: { userPageOps: 128, errors: [{ code, syscall: 'ioctl', count: 1 }] } }), ctx);
    t.is(v.status, 'PASS', `${code}: ${v.message}`);
  }
  t.deepEqual(judge(obs({ spec: memfd, acquired: 128, io: { userPageOps: 128 } }), ctx).reasons, ['wrong-errno']);
  t.deepEqual(judge(obs({ spec: memfd, acquired: 128, io: { userPageOps: 128, errors: efault } }), ctx).reasons, ['wrong-errno']);
});

test('fail_make_request that never fired: ERROR harness, also when the workload arms it (metadata-eio, reap-eio)', (t) => {
  for (const fault of [{ kind: 'fail-make-request', times: 1, probability: 100, interval: 1 }, { kind: 'metadata-eio' }, { kind: 'reap-eio' }] as const) {
    const v = judge(obs({ spec: faultSpec(fault), acquired: 512, extra: { faultsInjected: 0 } }), ctx);
    t.is(v.status, 'ERROR', `${fault.kind}: ${v.message}`);
    t.is(v.cause, 'harness');
  }
});

test('errors on a fault-free workload: wrong-errno', (t) => {
  const v = judge(obs({ io: { errors: [{ code: 'EFAULT', syscall: 'pwrite', count: 1 }] } }), ctx);
  t.deepEqual(v.reasons, ['wrong-errno']);
});

test('workload crashed: ERROR guest, or FAIL kernel-splat with a splat', (t) => {
  const o = obs({});
  delete o.io;
  o.ioError = { code: 'ENOMEM', message: 'mmap failed' };
  t.is(judge(o, ctx).status, 'ERROR');
  t.is(judge(o, ctx).cause, 'guest');
  o.kmsg = readFileSync(join(repoRoot, 'test/fixtures/verdict/dmesg/recorded.patched-6.1.raw-virtio.psync.anon.null-deref.log'), 'utf8').split('\n');
  const v = judge(o, ctx);
  t.is(v.status, 'FAIL');
  t.deepEqual(v.reasons, ['kernel-splat']);
});

// pinlab mutate, patched-6.1 with gup_huge_pud's try_grab_folio taking one ref too many: the
// first 1 GiB buffer's pin was never all given back, the page never went back to its pool, and
// the workload failed allocating the next one (the runner's numbers: evidence and vmstat
// 368/368 -> 628/624, still after quiesce)
function failedWithKeptPins(): WorkloadObservation {
  const o = obs({ spec: makeSpec({ target: 'raw-virtio', engine: 'psync', buffer: 'hugetlb-1g', blockSize: 256 * 1024, size: 1024 * 1024 }), acquired: 260, released: 256, evidence: { acquired: 260, released: 256 }, settled: false, stable: true });
  delete o.io;
  o.ioError = { message: 'no free 1 GiB hugetlb page (the kernel was booted without hugepagesz=1G hugepages=1, or could not reserve it)' };
  return o;
}

test('a workload that failed with its pins unbalanced and standing still: FAIL pin-leak, not ERROR guest', (t) => {
  const v = judge(failedWithKeptPins(), ctx);
  t.is(v.status, 'FAIL', v.message);
  t.deepEqual(v.reasons, ['pin-leak']);
  t.regex(v.message, /the workload failed \(no free 1 GiB hugetlb page.*260 acquired \/ 256 released \(kprobe-hist\)/);
});

test('a failed workload stays ERROR guest when its pins balance, still moved, or moved while idle', (t) => {
  const balanced = failedWithKeptPins();
  balanced.evidence = { mechanism: 'kprobe-hist', before: { acquired: 0, released: 0, dropped: 0 }, after: { acquired: 256, released: 256, dropped: 0 } };
  t.is(judge(balanced, ctx).cause, 'guest');
  const moving = failedWithKeptPins();
  moving.quiesce = { ...moving.quiesce, stable: false };
  t.is(judge(moving, ctx).cause, 'guest');
  const noisy = failedWithKeptPins();
  noisy.idle = { windowMs: 50, acquired: 4, released: 0 };
  t.is(judge(noisy, ctx).cause, 'guest');
});

test('saved observations re-judge to the statuses their runs gave them', (t) => {
  // recorded from real run directories by scripts/record-fixtures.js, with the run's verdict
  const dir = join(repoRoot, 'test/fixtures/verdict/observations');
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { file: string; status: Verdict['status']; reasons: Verdict['reasons'] }[];
  t.true(index.length >= 4, 'a patched kernel with pin evidence, a fork race, the unpatched reference');
  for (const { file, status, reasons } of index) {
    const saved = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { background: BackgroundNoise; observation: WorkloadObservation };
    const v = judge(saved.observation, { background: saved.background });
    t.is(v.status, status, `${file}: ${v.message}`);
    t.deepEqual(v.reasons, reasons, file);
  }
});

test('pathEvidence classifies groups and ignores compiler suffixes', (t) => {
  const e = pathEvidence([['a'], ['b', 'c'], ['d']], ['a.isra.0'], ['a', 'c']);
  t.deepEqual(
    e.groups.map((g) => g.state),
    ['reached', 'not-reached', 'unverifiable'],
  );
  t.false(e.ok);
});

test('a thp workload whose buffer got no huge page SKIPs with the reason', (t) => {
  const spec = makeSpec({ target: 'raw-virtio', engine: 'psync', buffer: 'thp', blockSize: 1024 * 1024, size: 2 * 1024 * 1024 });
  const v = judge(obs({ spec, io: { hugePageBytes: 0 } }), ctx);
  t.is(v.status, 'SKIP');
  t.regex(v.skipReason ?? '', /not huge-page backed/);
  t.is(judge(obs({ spec, io: { hugePageBytes: 2 * 1024 * 1024 } }), ctx).status, 'PASS');
  // the SKIP never hides pins left unbalanced
  t.deepEqual(judge(obs({ spec, acquired: 512, released: 500, io: { hugePageBytes: 0 } }), ctx).reasons, ['pin-leak']);
});

test('a fork check the kernel cannot run SKIPs, unless its pins stand unbalanced', (t) => {
  const spec = makeSpec({ target: 'raw-virtio', engine: 'fork-race', blockSize: 64 * 1024, size: 256 * 1024, repeat: 4, freshProcess: true, forkPin: 'gup-test-longterm', variant: 'longterm-pin' });
  const unsupported = 'the kernel\'s gup_test has no PIN_LONGTERM_TEST_START (6.2+)';
  const io0 = { userPageOps: 0, fork: { attempts: 0, hitWindow: 0, lostData: 0, unsupported } };
  const hits = ['gup_test_ioctl'];
  const skip = judge(obs({ spec, acquired: 0, hits, traceable: hits, io: io0 }), ctx);
  t.is(skip.status, 'SKIP');
  t.is(skip.skipReason, unsupported);
  t.deepEqual(judge(obs({ spec, acquired: 16, released: 0, hits, traceable: hits, io: io0 }), ctx).reasons, ['pin-leak']);
});

test('re-pins a workload is built to cause are balanced pins, up to twice the page-ops; beyond that, unexpected-pins', (t) => {
  const cow = makeSpec({ target: 'raw-virtio', engine: 'psync', buffer: 'thp-cow-shared', blockSize: 1024 * 1024, size: 2 * 1024 * 1024 });
  const thp = { userPageOps: 1024, hugePageBytes: 2 * 1024 * 1024 };
  t.is(judge(obs({ spec: cow, acquired: 1280, io: thp }), ctx).status, 'PASS', 'the unshared THP re-pinned by the slow path');
  t.deepEqual(judge(obs({ spec: cow, acquired: 3072, io: thp }), ctx).reasons, ['unexpected-pins']);
  t.deepEqual(judge(obs({ spec: cow, acquired: 1280, released: 1024, io: thp }), ctx).reasons, ['pin-leak'], 'a re-pin that is never given back is a leak');
  const plain = makeSpec({ target: 'raw-virtio', engine: 'psync', buffer: 'thp', blockSize: 1024 * 1024, size: 2 * 1024 * 1024 });
  t.deepEqual(judge(obs({ spec: plain, acquired: 1280, io: thp }), ctx).reasons, ['unexpected-pins'], 'the same count without the fork is not excused');
  const multi = makeSpec({ target: 'raw-nvme', engine: 'uring', blockSize: 2 * 1024 * 1024, size: 4 * 1024 * 1024, variant: 'multi-bio' });
  t.true(multi.nowaitRetry, 'io_uring ops larger than one bio are retried after IOCB_NOWAIT');
  t.false(makeSpec({ target: 'raw-nvme', engine: 'uring' }).nowaitRetry ?? false);
  t.is(judge(obs({ spec: multi, acquired: 4096, io: { userPageOps: 2048, ops: 4 } }), ctx).status, 'PASS');
});

test('a fixed-buffer registration that met a fault: its given-back pins are not unexpected, a kept one is a leak', (t) => {
  const spec = makeSpec({ target: 'raw-virtio', engine: 'uring-fixed', fault: { kind: 'efault-midway' } });
  const hits = ['blkdev_read_iter', 'blkdev_write_iter', 'bio_iov_bvec_set'];
  const faulted = { fixedPins: 512, errors: [{ code: 'EFAULT', syscall: 'io_uring_register', count: 1 }] };
  t.false(judge(obs({ spec, acquired: 544, hits, io: faulted }), ctx).reasons.includes("unexpected-pins"));
  t.true(judge(obs({ spec, acquired: 544, released: 512, hits, io: faulted }), ctx).reasons.includes('pin-leak'));
  const clean = makeSpec({ target: 'raw-virtio', engine: 'uring-fixed' });
  t.deepEqual(judge(obs({ spec: clean, acquired: 544, hits, io: { fixedPins: 512 } }), ctx).reasons, ['unexpected-pins']);
});

test('zone-append: EIO passes only with zonefs\'s write-pointer diagnosis in the kernel log', (t) => {
  const spec = makeSpec({ target: 'zonefs', engine: 'psyncv', segments: 4, blockSize: 2048, size: 256 * 1024, fault: { kind: 'zone-append' } });
  const eio = { errors: [{ code: 'EIO', syscall: 'pwritev', count: 128 }] };
  const hits = ['zonefs_file_write_iter', 'bio_iov_iter_get_pages'];
  const diagnosed = judge(obs({ spec, io: eio, hits, kmsg: ['zonefs (nvme1n1) WARNING: Corrupted write pointer 524288 for zone at 524288'] }), ctx);
  t.is(diagnosed.status, 'PASS', diagnosed.message);
  const bare = judge(obs({ spec, io: eio, hits, kmsg: ['nvme1n1: I/O error, dev nvme1n1, sector 8'] }), ctx);
  t.is(bare.status, 'FAIL', bare.message);
  t.deepEqual(bare.reasons, ['wrong-errno']);
  t.regex(bare.message, /Corrupted write pointer/);
  t.is(judge(obs({ spec, hits }), ctx).status, 'PASS', 'appends that succeed need no diagnosis');
});

test('pages the kernel still held after their buffer was unmapped: pages-held, even with balanced pins', (t) => {
  const frames = { recorded: 512, held: 16, sample: [{ pfn: 0x4a000, flags: ['lru', 'anon', 'swapbacked'] }], waitedMs: 2000 };
  const v = judge(obs({ io: { frames } }), ctx);
  t.is(v.status, 'FAIL');
  t.deepEqual(v.reasons, ['pages-held']);
  t.regex(v.message, /16 of 512 anonymous buffer pages still held by the kernel 2000 ms after they were unmapped.*0x4a000 \[lru,anon,swapbacked\]/);
  t.is(judge(obs({ io: { frames: { ...frames, held: 0, sample: [] } } }), ctx).status, 'PASS', 'every page freed: nothing to say');
});

test('a freed-frame check that could not run is named in the verdict message, and decides nothing', (t) => {
  const frames = { recorded: 0, held: 0, sample: [], waitedMs: 0, unavailable: "ENOENT: no such file or directory, open '/proc/kpageflags'" };
  const v = judge(obs({ io: { frames } }), ctx);
  t.is(v.status, 'PASS', 'the pins still judge the workload');
  t.regex(v.message, /freed-frame check not run \(ENOENT.*kpageflags'\): a leaked page reference would go unseen/);
  t.notRegex(judge(obs({ io: { frames: { recorded: 4, held: 0, sample: [], waitedMs: 3 } } }), ctx).message, /freed-frame/, 'a check that ran says nothing');
});
