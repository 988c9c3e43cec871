import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import { judge, pathEvidence } from '../../harness/verdict/judge.js';
import { makeSpec } from '../../harness/workloads/catalogue.js';
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
  extra?: Record<string, unknown>;
}): WorkloadObservation {
  const spec = opts.spec ?? makeSpec({ target: 'raw-virtio', engine: 'psync' });
  const acquired = opts.acquired ?? 512;
  const o: WorkloadObservation = {
    spec,
    before: { acquired: 1000, released: 1000 },
    after: { acquired: 1000 + acquired, released: 1000 + (opts.released ?? acquired) },
    quiesce: { polls: 6, settled: opts.settled ?? true, ms: 120 },
    io: io(opts.io),
    pathHits: opts.hits ?? ['blkdev_read_iter', 'blkdev_write_iter', 'bio_iov_iter_get_pages'],
    pathTraceable: opts.traceable ?? ['blkdev_read_iter', 'blkdev_write_iter', 'bio_iov_iter_get_pages', 'generic_file_splice_read', 'iter_file_splice_write'],
    kmsg: opts.kmsg ?? [],
  };
  if (opts.extra) o.extra = opts.extra;
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

test('several balanced pins per page (fs/direct-io.c) pass, with the ratio noted', (t) => {
  const v = judge(obs({ acquired: 1536, released: 1536 }), ctx);
  t.is(v.status, 'PASS', v.message);
  t.is(v.pinning, 'pinned');
  t.regex(v.message, /3\.0 per page-op/);
});

test('a double pin released once is a pin leak', (t) => {
  const v = judge(obs({ acquired: 1024, released: 512 }), ctx);
  t.deepEqual(v.reasons, ['pin-leak']);
});

test('a leak that was still settling is an ERROR timeout, not a FAIL', (t) => {
  const v = judge(obs({ acquired: 512, released: 500, settled: false }), ctx);
  t.is(v.status, 'ERROR');
  t.is(v.cause, 'timeout');
});

test('background noise is scaled and subtracted', (t) => {
  // 5 pins per 500 ms idle; workload window 100 + 120 ms -> ceil(2.2) = 3
  const v = judge(obs({ acquired: 515, released: 514 }), { background: { windowMs: 500, acquired: 5, released: 5 } });
  t.is(v.status, 'PASS', v.message);
  t.is(v.numbers?.background, 3);
  t.is(v.numbers?.acquired, 512);
});

test('no-per-io-pins: registration pins only', (t) => {
  const spec = makeSpec({ target: 'raw-virtio', engine: 'uring-fixed' });
  t.is(judge(obs({ spec, acquired: 256, io: { fixedPins: 256 } }), ctx).status, 'PASS');
  const v = judge(obs({ spec, acquired: 768, io: { fixedPins: 256 } }), ctx);
  t.deepEqual(v.reasons, ['unexpected-pins']);
  t.is(v.pinning, 'pinned');
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
  const hits = ['generic_file_splice_read', 'blkdev_read_iter', 'bio_iov_iter_get_pages'];
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
});

test('pipe-dio with no traceable splice function and no pins: SKIP', (t) => {
  const spec = makeSpec({ target: 'raw-virtio', engine: 'splice-read' });
  const v = judge(obs({ spec, acquired: 0, hits: ['blkdev_read_iter'], traceable: ['blkdev_read_iter', 'blkdev_write_iter'] }), ctx);
  t.is(v.status, 'SKIP');
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

test('fault cases: balance required, fewer pins than pages is fine', (t) => {
  const spec = faultSpec({ kind: 'efault-midway' });
  const v = judge(obs({ spec, acquired: 100, io: { errors: [{ code: 'EFAULT', syscall: 'pread', count: 1 }] } }), ctx);
  t.is(v.status, 'PASS', v.message);
  t.deepEqual(judge(obs({ spec, acquired: 100, released: 90 }), ctx).reasons, ['pin-leak']);
  t.deepEqual(judge(obs({ spec, acquired: 0 }), ctx).reasons, ['not-pinned']);
});

test('fault cases: wrong or missing errno', (t) => {
  const eio = faultSpec({ kind: 'fail-make-request', times: 1, probability: 100, interval: 1 });
  const ok = judge(obs({ spec: eio, acquired: 400, io: { errors: [{ code: 'EIO', syscall: 'pread', count: 1 }] }, extra: { faultsInjected: 1 } }), ctx);
  t.is(ok.status, 'PASS', ok.message);
  const missing = judge(obs({ spec: eio, acquired: 400, extra: { faultsInjected: 1 } }), ctx);
  t.deepEqual(missing.reasons, ['wrong-errno']);
  const other = judge(obs({ spec: eio, acquired: 400, io: { errors: [{ code: 'EFAULT', syscall: 'pread', count: 1 }] } }), ctx);
  t.deepEqual(other.reasons, ['wrong-errno']);
  const misaligned = faultSpec({ kind: 'misaligned', what: 'offset' });
  const mis = judge(
    obs({ spec: misaligned, acquired: 0, hits: ['blkdev_read_iter'], io: { bytes: 0, errors: [{ code: 'EINVAL', syscall: 'pread', count: 8 }] } }),
    ctx,
  );
  t.is(mis.status, 'PASS', mis.message);
});

test('fail_make_request that never fired: ERROR harness', (t) => {
  const eio = faultSpec({ kind: 'fail-make-request', times: 1, probability: 100, interval: 1 });
  const v = judge(obs({ spec: eio, acquired: 512, extra: { faultsInjected: 0 } }), ctx);
  t.is(v.status, 'ERROR');
  t.is(v.cause, 'harness');
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
  o.kmsg = readFileSync(join(repoRoot, 'test/fixtures/verdict/dmesg/bug-null-deref.log'), 'utf8').split('\n');
  const v = judge(o, ctx);
  t.is(v.status, 'FAIL');
  t.deepEqual(v.reasons, ['kernel-splat']);
});

test('saved observations re-judge to the recorded statuses', (t) => {
  const dir = join(repoRoot, 'test/fixtures/verdict/observations');
  for (const [file, status, reasons] of [
    ['stock-6.1.raw-virtio.psync.anon.json', 'FAIL', ['not-pinned']],
    ['patched-6.1.ext2.psyncv.anon.efault-midway.json', 'PASS', []],
  ] as const) {
    const saved = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { background: BackgroundNoise; observation: WorkloadObservation };
    const v = judge(saved.observation, { background: saved.background });
    t.is(v.status, status, `${file}: ${v.message}`);
    t.deepEqual(v.reasons, [...reasons], file);
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
