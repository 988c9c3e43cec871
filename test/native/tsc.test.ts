// tscKhz: the host TSC rate passed to TCG guests as tsc_early_khz (harness/vm/clock.ts).
import { arch } from 'node:os';
import test from 'ava';

import { loadAddon } from '../../harness/workloads/addon.js';

const addon = loadAddon();
const x86 = arch() === 'x64';

(x86 ? test : test.skip)('tscKhz measures a plausible, repeatable TSC rate', (t) => {
  const a = addon.tscKhz();
  const b = addon.tscKhz(50);
  t.is(typeof a, 'number', 'two 20 ms samples agreed within 0.1 %');
  t.true(a! > 100_000 && a! < 10_000_000, `${a} kHz`);
  t.true(Number.isInteger(a));
  t.true(Math.abs(a! - b!) < a! / 500, `${a} vs ${b}`);
});

test('tscKhz checks its sample length', (t) => {
  t.throws(() => addon.tscKhz(0), { instanceOf: RangeError });
  t.throws(() => addon.tscKhz(5000), { instanceOf: RangeError });
  t.throws(() => addon.tscKhz('20' as unknown as number), { instanceOf: TypeError });
});
