import test from 'ava';
import { decodeGupTest, encodeGupTest, FOLL_WRITE, GUP_TEST_IOCTL, judgeGupControl } from '../../harness/guest/gup-test.js';

test('ioctl numbers match _IOWR(\'g\', n, struct gup_test)', (t) => {
  t.is(GUP_TEST_IOCTL.GUP_FAST_BENCHMARK, 0xc0506701);
  t.is(GUP_TEST_IOCTL.PIN_FAST_BENCHMARK, 0xc0506702);
  t.is(GUP_TEST_IOCTL.PIN_LONGTERM_BENCHMARK, 0xc0506703);
});

test('request encodes and the result decodes', (t) => {
  const b = encodeGupTest({ addr: 0x7f0000000000n, size: 1 << 20, nrPagesPerCall: 64, gupFlags: FOLL_WRITE });
  t.is(b.length, 80);
  b.writeBigUInt64LE(1234n, 0);
  b.writeBigUInt64LE(56n, 8);
  t.deepEqual(decodeGupTest(b), { getDeltaUsec: 1234, putDeltaUsec: 56, addr: 0x7f0000000000n, size: 1 << 20 });
  t.is(b.readUInt32LE(32), 64);
  t.is(b.readUInt32LE(36), FOLL_WRITE);
});

test('control passes when every page is pinned and unpinned once per call', (t) => {
  const ok = judgeGupControl({ pages: 256, calls: 4, before: { acquired: 10, released: 10 }, after: { acquired: 1034, released: 1034 } });
  t.true(ok.ok, ok.message);
  const broken = judgeGupControl({ pages: 256, calls: 4, before: { acquired: 10, released: 10 }, after: { acquired: 10, released: 10 } });
  t.false(broken.ok);
  t.regex(broken.message, /acquired 0, expected 1024/);
  const leak = judgeGupControl({ pages: 256, calls: 1, before: { acquired: 0, released: 0 }, after: { acquired: 256, released: 200 } });
  t.false(leak.ok);
});
