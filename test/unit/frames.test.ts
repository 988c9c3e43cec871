import test from 'ava';
import { flagNames, heldOf, KPF, settleFrames } from '../../harness/workloads/frames.js';

const bits = (...names: string[]): bigint => names.reduce((a, n) => a | (1n << BigInt(KPF[n]!)), 0n);

test('flagNames reads /proc/kpageflags bits by their uapi names', (t) => {
  t.deepEqual(flagNames(bits('uptodate', 'anon', 'swapbacked')), ['uptodate', 'anon', 'swapbacked']);
  t.deepEqual(flagNames(0n), []);
});

test('heldOf: an unmapped anonymous page is held unless the swap cache, writeback or the zero page explain it', (t) => {
  const held = heldOf([
    { pfn: 1, flags: bits('anon', 'lru', 'swapbacked') },
    { pfn: 2, flags: bits('anon', 'swapcache', 'swapbacked') },
    { pfn: 3, flags: bits('anon', 'writeback') },
    { pfn: 4, flags: bits('zero_page') },
    { pfn: 5, flags: bits('anon', 'ksm') },
    { pfn: 6, flags: bits('lru', 'uptodate') },
    { pfn: 7, flags: bits('anon', 'huge', 'compound_head') },
  ]);
  // KPF_KSM is no excuse: 6.12 sets it on every anonymous page (0x40020502c, a leaked pipe page)
  t.deepEqual(held.map((h) => h.pfn), [1, 5, 7]);
  t.deepEqual(heldOf([{ pfn: 8, flags: 0x40020502cn }]).map((h) => h.flags), [['referenced', 'uptodate', 'lru', 'anon', 'swapbacked', 'ksm']]);
  t.deepEqual(held[0]!.flags, ['lru', 'anon', 'swapbacked']);
});

function fakeAddon(rounds: { pfn: number; flags: bigint }[][]) {
  let call = 0;
  let cleared = 0;
  return {
    addon: {
      heldFrames: () => ({ recorded: 64, held: rounds[Math.min(call++, rounds.length - 1)]! }),
      clearFrames: () => (cleared++, 64),
    },
    calls: () => call,
    cleared: () => cleared,
  };
}

function clock() {
  let t = 0;
  return { now: () => t, sleep: async (ms: number) => void (t += ms) };
}

test('settleFrames waits for deferred releases: pages freed before the deadline are not held', async (t) => {
  const page = { pfn: 0x1234, flags: bits('anon', 'swapbacked') };
  const f = fakeAddon([[page], [page], []]);
  const r = await settleFrames(f.addon, { ...clock(), deadlineMs: 1000, pollMs: 50 });
  t.deepEqual(r, { recorded: 64, held: 0, sample: [], waitedMs: 100 });
  t.is(f.calls(), 3);
  t.is(f.cleared(), 1, 'the frames are forgotten once judged');
});

test('settleFrames: a page still held at the deadline is reported, with its flags', async (t) => {
  const page = { pfn: 0x1234, flags: bits('anon', 'lru') };
  const f = fakeAddon([[page]]);
  const r = await settleFrames(f.addon, { ...clock(), deadlineMs: 200, pollMs: 50 });
  t.is(r.held, 1);
  t.is(r.waitedMs, 200);
  t.deepEqual(r.sample, [{ pfn: 0x1234, flags: ['lru', 'anon'] }]);
});

test('settleFrames never throws: a check that cannot read the page flags says why', async (t) => {
  const addon = { heldFrames: () => { throw new Error('open /proc/kpageflags: EACCES'); }, clearFrames: () => 0 };
  const r = await settleFrames(addon, clock());
  t.is(r.held, 0);
  t.regex(r.unavailable ?? '', /kpageflags/);
});

test('settleFrames drains every CPU\'s LRU batches once before it calls a page held', async (t) => {
  const page = { pfn: 0x99, flags: bits('anon', 'swapbacked') };
  let drained = 0;
  const base = fakeAddon([[page]]);
  const addon = { ...base.addon, heldFrames: () => (drained > 0 ? { recorded: 8, held: [] } : base.addon.heldFrames()) };
  const r = await settleFrames(addon, { ...clock(), deadlineMs: 100, pollMs: 50, drainAll: () => void drained++ });
  t.is(drained, 1);
  t.is(r.held, 0);
  t.true(r.drainedAll);
  const still = await settleFrames(fakeAddon([[page]]).addon, { ...clock(), deadlineMs: 100, pollMs: 50, drainAll: () => undefined });
  t.is(still.held, 1, 'a page the drain did not free is held');
  t.true(still.drainedAll);
});
