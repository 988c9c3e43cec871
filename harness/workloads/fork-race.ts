// The fork-race engine: after the pattern is written with buffered I/O, the addon forks while an
// O_DIRECT read is in flight and the parent writes to the read's pages, attempt after attempt
// (native/README.md, fork race). A kernel that takes page references instead of pins lets the
// parent's write break copy-on-write away from the page the read fills, and the data is lost.
// The device is read back (buffered) afterwards, so lost data cannot be blamed on a bad write.
import type { WorkloadIO } from './types.js';
import { PAGE } from './ops.js';
import { verifyRead } from './verify.js';
import type { Workload } from './workload.js';

/** debugfs gup_test (CONFIG_GUP_TEST): the long-term pin of forkPin 'gup-test-longterm', and the pin evidence's controls */
export const GUP_TEST_PATH = '/sys/kernel/debug/gup_test';

/** How long after the read starts the fork comes (see FORK_RACE_THROTTLE in catalogue.ts). */
export const FORK_DELAY_US = 20_000;

export async function forkRace(w: Workload): Promise<Omit<WorkloadIO, 'durationMs'>> {
  const { spec, tally, target } = w;
  const { size, blockSize } = spec;
  await w.writePattern(1);

  const race = await w.addon.forkRace(target.directFd, {
    length: blockSize,
    span: Math.floor(size / blockSize) * blockSize,
    seed: w.seed,
    attempts: spec.repeat ?? 20,
    // fork once the read has looked its pages up (well under a millisecond for 256 pages) and
    // while the throttled disk (FORK_RACE_THROTTLE) is still filling them
    delayUs: FORK_DELAY_US,
    ...(spec.freshProcess ? { freshProcess: true } : {}),
    ...(spec.forkPin === 'gup-test-longterm' ? { gupTestPath: GUP_TEST_PATH } : {}),
    ...(spec.forkPin === 'uring-register' ? { uringRegister: true } : {}),
  });
  if (race.readErrors > 0) tally.errors.set('race', { code: race.readErrorCode ?? 'EIO', syscall: 'pread', count: race.readErrors });
  const good = race.attempts - race.readErrors;
  tally.ops = race.attempts;
  tally.bytes = race.bytesRead;
  tally.userPageOps = good * (blockSize / PAGE);
  tally.engineNs = race.elapsedNs;

  // the device itself must hold the pattern, or lost data would mean nothing
  const check = w.buffer(size);
  const readOps = w.rangeOps(1, check);
  const read = await w.addon.syncBatch(target.bufferedFd, 'read', readOps);
  for (const f of read.failures) tally.recordError(f.code, f.syscall);
  const verify = verifyRead(
    readOps,
    read,
    readOps.map((op) => op.segments[0]!.length),
    w.seed,
    [],
  );
  check.free();
  const io = tally.result(verify);
  io.fork = { attempts: race.attempts, hitWindow: race.hitWindow, lostData: race.lostData, ...(race.unsupported ? { unsupported: race.unsupported } : {}) };
  return io;
}
