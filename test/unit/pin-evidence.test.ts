import test from 'ava';
import { calibrate, histDelta, histTrigger, parseHist, PROBES, probeLine, selectProbes, sumPins, type HistTable } from '../../harness/guest/pin-evidence.js';

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

test('calibrate finds FOLL_PIN from the unpins of a known number of pages, on either generation', (t) => {
  t.deepEqual(calibrate(calDelta(0x40000, 32), PROBES, 32), { follPin: 0x40000 });
  t.deepEqual(calibrate(calDelta(1 << 19, 32), PROBES, 32), { follPin: 1 << 19 });
});

test('calibrate refuses when the probes do not add up (a primitive inlined or cloned)', (t) => {
  const noRelease = new Map<string, HistTable>([['grab_page', { entries: [{ flags: 0x40001, hits: 32, refs: 32 }], dropped: 0 }]]);
  const r1 = calibrate(noRelease, PROBES, 32);
  t.true('why' in r1);
  t.regex('why' in r1 ? r1.why : '', /single-bit flags none/);
  const short = calDelta(0x40000, 32);
  short.set('grab_page', { entries: [{ flags: 0x40001, hits: 20, refs: 20 }], dropped: 0 });
  const r2 = calibrate(short, PROBES, 32);
  t.regex('why' in r2 ? r2.why : '', /counted 20 acquired \/ 32 released/);
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
