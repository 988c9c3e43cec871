import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  calibrateSources,
  histDelta,
  histTrigger,
  learnZeroMeans,
  parseHist,
  PROBES,
  probeLine,
  returnProbeOf,
  selectProbes,
  setupPinEvidence,
  sumPins,
  vmstatBlindOf,
  type CalibrationSource,
  type HistTable,
  type ProbeDef,
  type SourceRun,
  parseKprobeMisses,
} from '../../harness/guest/pin-evidence.js';

// hist output as 6.1 prints it for `hist:keys=flags:vals=hitcount,refs`
const GRAB_HIST = `# event histogram
#
# trigger info: hist:keys=flags:vals=hitcount,refs:sort=hitcount:size=2048 [active]
#

{ flags:          4 } hitcount:          3  refs:          3
{ flags:     327683 } hitcount:        256  refs:        256
{ flags:     262145 } hitcount:         64  refs:        512

Totals:
    Hits: 323
    Entries: 3
    Dropped: 0
`;

const ADD_PIN_HIST = `# event histogram
{ common_pid:        301 } hitcount:         10
{ common_pid:        302 } hitcount:          6

Totals:
    Hits: 16
    Entries: 2
    Dropped: 2
`;

const FOLL_PIN_61 = 0x40000;

test('parseHist reads keys, hitcount, refs and the dropped total', (t) => {
  const grab = parseHist(GRAB_HIST);
  t.deepEqual(grab.entries, [
    { flags: 4, hits: 3, refs: 3 },
    { flags: 327683, hits: 256, refs: 256 },
    { flags: 262145, hits: 64, refs: 512 },
  ]);
  t.is(grab.dropped, 0);
  const add = parseHist(ADD_PIN_HIST);
  t.deepEqual(add.entries, [
    { hits: 10, refs: 10 },
    { hits: 6, refs: 6 },
  ]);
  t.is(add.dropped, 2);
});

test('sumPins counts FOLL_PIN calls only, and every call of a probe without flags', (t) => {
  const tables = new Map<string, HistTable>([
    ['grab_folio', parseHist(GRAB_HIST)],
    ['add_pin', parseHist(ADD_PIN_HIST)],
    ['put_folio', { entries: [{ flags: FOLL_PIN_61, hits: 700, refs: 784 }, { flags: 4, hits: 3, refs: 3 }], dropped: 0 }],
  ]);
  // 327683 = 0x50003 (PIN|LONGTERM|WRITE|TOUCH), 262145 = 0x40001: pins; 4 = FOLL_GET: not
  t.deepEqual(sumPins(tables, PROBES, FOLL_PIN_61), { acquired: 256 + 512 + 16, released: 784, dropped: 2 });
  // with 6.12's FOLL_PIN (1 << 19) none of the 6.1 flag values is a pin
  t.deepEqual(sumPins(tables, PROBES, 1 << 19), { acquired: 16, released: 0, dropped: 2 });
});

test('histDelta subtracts running totals per flags value', (t) => {
  const before: HistTable = { entries: [{ flags: 1, hits: 5, refs: 5 }], dropped: 0 };
  const after: HistTable = { entries: [{ flags: 1, hits: 7, refs: 9 }, { flags: 2, hits: 1, refs: 1 }], dropped: 1 };
  t.deepEqual(histDelta(after, before), { entries: [{ flags: 1, hits: 2, refs: 4 }, { flags: 2, hits: 1, refs: 1 }], dropped: 1 });
});

function calDelta(follPin: number, pages: number, extra: Partial<Record<string, HistTable>> = {}): Map<string, HistTable> {
  return new Map<string, HistTable>([
    ['grab_page', { entries: [{ flags: follPin | 0x10000 | 0x1, hits: pages, refs: pages }], dropped: 0 }],
    ['put_folio', { entries: [{ flags: follPin, hits: pages, refs: pages }], dropped: 0 }],
    ...Object.entries(extra).map(([k, v]) => [k, v!] as [string, HistTable]),
  ]);
}

const run = (source: string, pages: number, delta: Map<string, HistTable>, more: Partial<SourceRun> = {}): SourceRun => ({ source, path: `${source} path`, pages, delta, ...more });

test('calibrateSources finds FOLL_PIN from the unpins of known pages, on either generation', (t) => {
  for (const bit of [0x40000, 1 << 19]) {
    const cal = calibrateSources([run('a', 32, calDelta(bit, 32)), run('b', 64, calDelta(bit, 64))], PROBES);
    t.is(cal.follPin, bit);
    t.deepEqual(cal.outcomes.map((o) => o.state), ['agrees', 'agrees']);
  }
});

test('calibrateSources: a source that does not add up is a finding with its numbers, the others still give FOLL_PIN', (t) => {
  const bit = 1 << 19;
  // io_uring unregistration leaks: its 32 pins never come back
  const leak = new Map<string, HistTable>([['grab_page', { entries: [{ flags: bit | 0x1, hits: 32, refs: 32 }], dropped: 0 }]]);
  const cal = calibrateSources([run('io_uring-register', 32, leak, { vmstat: { acquired: 32, released: 0 } }), run('gup_test-longterm', 64, calDelta(bit, 64))], PROBES);
  t.is(cal.follPin, bit);
  t.like(cal.outcomes[0], { source: 'io_uring-register', state: 'disagrees', pages: 32, acquired: 32, released: 0, vmstatAcquired: 32, vmstatReleased: 0 });
  t.like(cal.outcomes[1], { state: 'agrees', acquired: 64, released: 64 });
});

test('calibrateSources: no source adds up (a primitive inlined) -> no FOLL_PIN, every source says why', (t) => {
  const noRelease = new Map<string, HistTable>([['grab_page', { entries: [{ flags: 0x40001, hits: 32, refs: 32 }], dropped: 0 }]]);
  const cal = calibrateSources([run('a', 32, noRelease), run('b', 16, noRelease), { source: 'c', path: 'c', pages: { skipped: 'no gup_test' } }], PROBES);
  t.is(cal.follPin, undefined);
  t.deepEqual(cal.outcomes.map((o) => o.state), ['disagrees', 'disagrees', 'skipped']);
  t.regex(cal.outcomes[0]!.why ?? '', /single-bit release flags seen: none/);
});

test('calibrateSources: a source that may pin nothing (stock Direct I/O) stands aside instead of failing', (t) => {
  const bit = 0x40000;
  const none = new Map<string, HistTable>();
  const cal = calibrateSources([run('io_uring-register', 32, calDelta(bit, 32)), run('odirect-loop', 16, none, { mayPinNothing: 'references, not pins' })], PROBES);
  t.is(cal.follPin, bit);
  t.like(cal.outcomes[1], { state: 'skipped', why: 'references, not pins' });
});

test('calibrateSources: the bit most sources agree on wins; a source counting otherwise is the finding', (t) => {
  const bit = 1 << 19;
  const doubled = calDelta(bit, 16);
  doubled.set('put_folio', { entries: [{ flags: bit, hits: 32, refs: 32 }], dropped: 0 }); // over-released
  const cal = calibrateSources([run('odirect-loop', 16, doubled), run('io_uring-register', 32, calDelta(bit, 32)), run('gup_test-longterm', 64, calDelta(bit, 64))], PROBES);
  t.is(cal.follPin, bit);
  t.like(cal.outcomes[0], { state: 'disagrees', acquired: 16, released: 32 });
});

test('return probes: failed grabs are not pins; what 0 means is learned from grabs that succeeded', (t) => {
  const bit = 1 << 19;
  const fast: ProbeDef = PROBES.find((p) => p.fn === 'try_grab_folio_fast')!;
  const ret = returnProbeOf(fast)!;
  t.is(probeLine(ret), 'r:pinlab/grab_folio_fast_ret try_grab_folio_fast refs=$arg2:s32 flags=$arg3:u32 ret=$retval:s32');
  t.is(histTrigger(ret), 'hist:keys=flags:vals=hitcount,refs if ret == 0');
  const put = PROBES.find((p) => p.fn === 'gup_put_folio')!;
  const probes = [fast, ret, put];
  // try_grab_folio_fast returns a folio pointer: at calibration no call returned 0
  const cal = new Map<string, HistTable>([
    ['grab_folio_fast', { entries: [{ flags: bit, hits: 32, refs: 32 }], dropped: 0 }],
    ['put_folio', { entries: [{ flags: bit, hits: 32, refs: 32 }], dropped: 0 }],
  ]);
  const zeroMeans = learnZeroMeans([cal], probes);
  t.is(zeroMeans.get('try_grab_folio_fast'), 'failure');
  // a workload: 10 grabs tried, 3 failed (returned NULL), 7 pins released
  const w = new Map<string, HistTable>([
    ['grab_folio_fast', { entries: [{ flags: bit, hits: 10, refs: 10 }], dropped: 0 }],
    ['grab_folio_fast_ret', { entries: [{ flags: bit, hits: 3, refs: 3 }], dropped: 0 }],
    ['put_folio', { entries: [{ flags: bit, hits: 7, refs: 7 }], dropped: 0 }],
  ]);
  t.deepEqual(sumPins(w, probes, bit, zeroMeans), { acquired: 7, released: 7, dropped: 0 });
  // counted at entry the failed grabs read as a leak of 3
  t.is(sumPins(w, probes, bit).acquired, 10);
  // an int-returning grab (0 = success, 6.2+ try_grab_folio): every calibration call returned 0
  const slow = PROBES.find((p) => p.fn === 'try_grab_folio')!;
  const slowRet = returnProbeOf(slow)!;
  const m2 = learnZeroMeans([new Map([['grab_folio', { entries: [{ flags: bit, hits: 64, refs: 64 }], dropped: 0 }], ['grab_folio_ret', { entries: [{ flags: bit, hits: 64, refs: 64 }], dropped: 0 }]])], [slow, slowRet]);
  t.is(m2.get('try_grab_folio'), 'success');
  const w2 = new Map<string, HistTable>([
    ['grab_folio', { entries: [{ flags: bit, hits: 5, refs: 5 }], dropped: 0 }],
    ['grab_folio_ret', { entries: [{ flags: bit, hits: 4, refs: 4 }], dropped: 0 }],
  ]);
  t.is(sumPins(w2, [slow, slowRet, put], bit, m2).acquired, 4);
});

test('vmstatBlindOf: folio_add_pin from the traceable functions or, without them, kallsyms', (t) => {
  t.deepEqual(vmstatBlindOf({ available: new Map([['folio_add_pin', ['folio_add_pin']]]) }), ['folio_add_pin']);
  t.deepEqual(vmstatBlindOf({ available: new Map(), hasSymbol: (n) => n === 'folio_add_pin' }), ['folio_add_pin']);
  t.deepEqual(vmstatBlindOf({ available: new Map([['try_grab_page', ['try_grab_page']]]), hasSymbol: () => false }), []);
});

/** A fake tracefs: kprobe_events, and per event a trigger file and a hist file the sources rewrite as the kernel would. */
function fakeTracefs(events: string[]): { tdir: string; setHist(event: string, entries: { flags?: number; hits: number; refs: number }[]): void; cleanup(): void } {
  const tdir = mkdtempSync(join(tmpdir(), 'pinlab-tracefs-'));
  writeFileSync(join(tdir, 'kprobe_events'), '');
  const totals = new Map<string, Map<string, { flags?: number; hits: number; refs: number }>>();
  const write = (event: string): void => {
    const lines = [...(totals.get(event)?.values() ?? [])].map((e) => (e.flags === undefined ? `{ common_pid: 1 } hitcount: ${e.hits}` : `{ flags: ${e.flags} } hitcount: ${e.hits}  refs: ${e.refs}`));
    writeFileSync(join(tdir, 'events', 'pinlab', event, 'hist'), `# event histogram\n${lines.join('\n')}\n\nTotals:\n    Dropped: 0\n`);
  };
  for (const e of events) {
    mkdirSync(join(tdir, 'events', 'pinlab', e), { recursive: true });
    write(e);
  }
  return {
    tdir,
    setHist(event, entries) {
      const t = totals.get(event) ?? new Map();
      for (const e of entries) {
        const k = String(e.flags ?? '*');
        const cur = t.get(k) ?? { ...(e.flags === undefined ? {} : { flags: e.flags }), hits: 0, refs: 0 };
        t.set(k, { ...cur, hits: cur.hits + e.hits, refs: cur.refs + e.refs });
      }
      totals.set(event, t);
      write(event);
    },
    cleanup: () => rmSync(tdir, { recursive: true, force: true }),
  };
}

test('setupPinEvidence on a fake 6.12 guest: an io_uring unregistration leak is a finding, the evidence stays on', async (t) => {
  const bit = 1 << 19;
  const fs = fakeTracefs(['grab_folio', 'grab_folio_ret', 'grab_folio_fast', 'grab_folio_fast_ret', 'add_pin', 'put_folio']);
  const available = new Map(['try_grab_folio', 'try_grab_folio_fast', 'folio_add_pin', 'gup_put_folio'].map((f) => [f, [f]]));
  const pin = (event: 'grab_folio_fast' | 'grab_folio', n: number, zeroIsSuccess: boolean): void => {
    fs.setHist(event, [{ flags: bit | 0x1, hits: n, refs: n }]);
    if (zeroIsSuccess) fs.setHist(`${event}_ret`, [{ flags: bit | 0x1, hits: n, refs: n }]);
  };
  const sources: CalibrationSource[] = [
    // the planted bug: unregistration never unpins
    { source: 'io_uring-register', path: 'io_uring', run: async () => (pin('grab_folio_fast', 32, false), 32) },
    { source: 'gup_test-longterm', path: 'gup_test', run: async () => (pin('grab_folio', 64, true), fs.setHist('put_folio', [{ flags: bit, hits: 64, refs: 64 }]), 64) },
    { source: 'odirect-loop', path: 'loop', run: async () => (pin('grab_folio_fast', 16, false), fs.setHist('put_folio', [{ flags: bit, hits: 16, refs: 16 }]), 16) },
  ];
  try {
    const ev = await setupPinEvidence({ tdir: fs.tdir, available }, sources);
    const info = ev.info;
    t.is(info.mechanism, 'kprobe-hist');
    if (info.mechanism !== 'kprobe-hist') return;
    t.is(info.follPin, bit);
    t.deepEqual(info.agreed, ['gup_test-longterm', 'odirect-loop']);
    t.like(info.calibration[0], { source: 'io_uring-register', state: 'disagrees', acquired: 32, released: 0 });
    t.is(info.grabsCounted, 'on success');
    t.deepEqual(info.vmstatBlind, ['folio_add_pin']);
    t.regex(readFileSync(join(fs.tdir, 'kprobe_events'), 'utf8'), /^r:pinlab\/grab_folio_ret try_grab_folio /m);
    // a failed fast grab afterwards is no pin
    const before = ev.read()!;
    fs.setHist('grab_folio_fast', [{ flags: bit | 0x1, hits: 3, refs: 3 }]);
    fs.setHist('grab_folio_fast_ret', [{ flags: bit | 0x1, hits: 1, refs: 1 }]);
    t.is(ev.read()!.acquired - before.acquired, 2);
  } finally {
    fs.cleanup();
  }
});

test('setupPinEvidence counts only what a source runs inside counted(): a migrating first pin stays out', async (t) => {
  const bit = 1 << 19;
  const fs = fakeTracefs(['grab_folio', 'grab_folio_ret', 'grab_folio_fast', 'grab_folio_fast_ret', 'put_folio']);
  const available = new Map(['try_grab_folio', 'try_grab_folio_fast', 'gup_put_folio'].map((f) => [f, [f]]));
  // a long-term pin of ZONE_MOVABLE pages: pinned, given back, migrated, pinned again, unpinned
  const longterm = (n: number, times: number): void => {
    fs.setHist('grab_folio_fast', [{ flags: bit | 0x1, hits: n * times, refs: n * times }]);
    fs.setHist('put_folio', [{ flags: bit, hits: n * times, refs: n * times }]);
  };
  const sources = (warmUp: boolean): CalibrationSource[] => [
    {
      source: 'io_uring-register',
      path: 'io_uring',
      run: async (counted) => {
        if (warmUp) longterm(32, 2);
        await counted(() => longterm(32, warmUp ? 1 : 2));
        return 32;
      },
    },
    { source: 'odirect-loop', path: 'loop', run: async () => (longterm(16, 1), 16) },
  ];
  try {
    const warm = await setupPinEvidence({ tdir: fs.tdir, available }, sources(true));
    t.is(warm.info.mechanism, 'kprobe-hist');
    if (warm.info.mechanism !== 'kprobe-hist') return;
    t.deepEqual(warm.info.agreed, ['io_uring-register', 'odirect-loop']);
    // the same migration inside the counted window: twice the pins, a disagreeing source
    const cold = await setupPinEvidence({ tdir: fs.tdir, available }, sources(false));
    if (cold.info.mechanism !== 'kprobe-hist') return t.fail(cold.info.mechanism);
    t.like(cold.info.calibration[0], { source: 'io_uring-register', state: 'disagrees', acquired: 64, released: 64 });
  } finally {
    fs.cleanup();
  }
});

test('setupPinEvidence: when no source adds up the evidence is unavailable with every source\'s numbers', async (t) => {
  const fs = fakeTracefs(['grab_page', 'put_folio']);
  const available = new Map(['try_grab_page', 'gup_put_folio'].map((f) => [f, [f]]));
  const sources: CalibrationSource[] = [
    { source: 'io_uring-register', path: 'io_uring', run: async () => (fs.setHist('grab_page', [{ flags: 0x40001, hits: 32, refs: 32 }]), 32) },
    { source: 'gup_test-longterm', path: 'gup_test', unavailable: () => 'no /sys/kernel/debug/gup_test', run: async () => 0 },
    { source: 'odirect-loop', path: 'loop', run: async () => { throw new Error('LOOP_CONFIGURE: ENXIO'); } },
  ];
  try {
    const ev = await setupPinEvidence({ tdir: fs.tdir, available, hasSymbol: () => false }, sources);
    t.is(ev.info.mechanism, 'none');
    if (ev.info.mechanism !== 'none') return;
    t.regex(ev.info.unavailable, /no source adds up: io_uring-register 32 pages: no FOLL_PIN bit adds up .*gup_test-longterm: skipped \(no \/sys\/kernel\/debug\/gup_test\); odirect-loop: error \(LOOP_CONFIGURE: ENXIO\)/);
    t.is(ev.info.calibration?.length, 3);
    t.is(ev.read(), undefined);
  } finally {
    fs.cleanup();
  }
});

test('selectProbes keeps plain names and reports compiler clones', (t) => {
  const available = new Map<string, string[]>([
    ['try_grab_folio', ['try_grab_folio']],
    ['gup_put_folio', ['gup_put_folio', 'gup_put_folio.constprop.0']],
    ['folio_add_pin', ['folio_add_pin']],
  ]);
  const { use, cloned } = selectProbes(available);
  t.deepEqual(
    use.map((p) => p.fn),
    ['try_grab_folio', 'folio_add_pin', 'gup_put_folio'],
  );
  t.deepEqual(cloned, ['gup_put_folio.constprop.0']);
});

test('probe and trigger lines', (t) => {
  const grab = PROBES.find((p) => p.fn === 'try_grab_folio')!;
  t.is(probeLine(grab), 'p:pinlab/grab_folio try_grab_folio refs=$arg2:s32 flags=$arg3:u32');
  t.is(histTrigger(grab), 'hist:keys=flags:vals=hitcount,refs');
  const add = PROBES.find((p) => p.fn === 'folio_add_pin')!;
  t.is(probeLine(add), 'p:pinlab/add_pin folio_add_pin');
  t.is(histTrigger(add), 'hist:keys=common_pid:vals=hitcount');
  const page = PROBES.find((p) => p.fn === 'try_grab_page')!;
  t.is(probeLine(page), 'p:pinlab/grab_page try_grab_page flags=$arg2:u32');
  t.is(histTrigger(page), 'hist:keys=flags:vals=hitcount');
});

test('kprobe_profile: the misses of each probe event, so a pin or release no handler ran for counts as lost', (t) => {
  const text = [
    '  pinlab_pin_user_pages_fast                          1024               0',
    '  pinlab_unpin_user_page                               960              64',
    '  other/some_probe                                        5               2',
    'garbage line',
  ].join('\n');
  const m = parseKprobeMisses(text);
  t.is(m.get('pinlab_unpin_user_page'), 64);
  t.is(m.get('pinlab_pin_user_pages_fast'), 0);
  t.is(m.get('some_probe'), 2, 'a group prefix is not part of the event name');
  t.is(m.size, 3);
});
