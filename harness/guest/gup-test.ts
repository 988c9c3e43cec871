// debugfs gup_test as a control: does pin accounting itself work on this kernel? The
// PIN_FAST_BENCHMARK / PIN_LONGTERM_BENCHMARK ioctls on /sys/kernel/debug/gup_test pin every
// page of a user buffer with pin_user_pages(_fast) and unpin them again, so over N calls on a
// pre-faulted (written) buffer of P pages nr_foll_pin_acquired and _released must each rise by
// exactly N * P. If they do not, counter verdicts on this kernel mean nothing.
//
// Node cannot issue ioctl(2) itself: the request is encoded here so the native addon (or a
// small helper) can pass the bytes through; decoding and judging are pure.
import type { PinCounters } from '../workloads/types.js';

/** struct gup_test (mm/gup_test.h, 6.1 and 6.12): 4 x u64, 3 x u32, u32[8], padded to 8. */
export const GUP_TEST_STRUCT_SIZE = 80;
const IOC_READ_WRITE = 3;
function iowr(type: number, nr: number, size: number): number {
  return ((IOC_READ_WRITE << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}
export const GUP_TEST_IOCTL = {
  GUP_FAST_BENCHMARK: iowr(0x67, 1, GUP_TEST_STRUCT_SIZE),
  PIN_FAST_BENCHMARK: iowr(0x67, 2, GUP_TEST_STRUCT_SIZE),
  PIN_LONGTERM_BENCHMARK: iowr(0x67, 3, GUP_TEST_STRUCT_SIZE),
} as const;
export const FOLL_WRITE = 0x01;
export { GUP_TEST_PATH } from '../workloads/fork-race.js';

export interface GupTestRequest {
  addr: bigint;
  size: number;
  nrPagesPerCall: number;
  gupFlags: number;
}

export interface GupTestResult {
  getDeltaUsec: number;
  putDeltaUsec: number;
  addr: bigint;
  size: number;
}

export function encodeGupTest(req: GupTestRequest): Buffer {
  const b = Buffer.alloc(GUP_TEST_STRUCT_SIZE);
  b.writeBigUInt64LE(req.addr, 16);
  b.writeBigUInt64LE(BigInt(req.size), 24);
  b.writeUInt32LE(req.nrPagesPerCall, 32);
  b.writeUInt32LE(req.gupFlags, 36);
  return b;
}

export function decodeGupTest(b: Buffer): GupTestResult {
  if (b.length < GUP_TEST_STRUCT_SIZE) throw new RangeError(`gup_test result: ${b.length} bytes, expected ${GUP_TEST_STRUCT_SIZE}`);
  return {
    getDeltaUsec: Number(b.readBigUInt64LE(0)),
    putDeltaUsec: Number(b.readBigUInt64LE(8)),
    addr: b.readBigUInt64LE(16),
    size: Number(b.readBigUInt64LE(24)),
  };
}

export interface GupControlInput {
  /** pages in the (written, so not zero-page) buffer */
  pages: number;
  /** benchmark ioctls issued */
  calls: number;
  before: PinCounters;
  after: PinCounters;
  /** background pins expected over the control's window (already scaled) */
  background?: number;
}

export interface GupControlVerdict {
  ok: boolean;
  acquired: number;
  released: number;
  expected: number;
  message: string;
}

export function judgeGupControl(c: GupControlInput): GupControlVerdict {
  const expected = c.pages * c.calls;
  const slack = c.background ?? 0;
  const acquired = c.after.acquired - c.before.acquired;
  const released = c.after.released - c.before.released;
  const problems: string[] = [];
  if (Math.abs(acquired - expected) > slack) problems.push(`acquired ${acquired}, expected ${expected}`);
  if (Math.abs(released - acquired) > slack) problems.push(`released ${released} != acquired ${acquired}`);
  const ok = problems.length === 0;
  return {
    ok,
    acquired,
    released,
    expected,
    message: ok
      ? `gup_test PIN benchmark: ${acquired} pins acquired and released for ${c.calls} x ${c.pages} pages`
      : `gup_test PIN benchmark: pin accounting does not add up: ${problems.join('; ')}`,
  };
}
