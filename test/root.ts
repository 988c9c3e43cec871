// Tests that need root (apt-get, loop devices, mounts): `test.serial`, or as a non-root user a
// test.skip whose title carries the reason, so the skip that scripts/test.js fails on says why.
import test from 'ava';

export function rootOnly(why: string): typeof test.serial {
  if (process.getuid?.() === 0) return test.serial;
  return ((title: string, ...rest: unknown[]) =>
    (test.skip as (...a: unknown[]) => void)(`${title} (skipped: not root: ${why})`, ...rest)) as unknown as typeof test.serial;
}
