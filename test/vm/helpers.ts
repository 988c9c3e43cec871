// Shared by the QEMU tests: the kernel under test, run directories, and process inspection.
import test from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const kernel = process.env.PINLAB_TEST_KERNEL;
export const SKIP_REASON = kernel
  ? existsSync(kernel)
    ? ''
    : `PINLAB_TEST_KERNEL=${kernel} does not exist`
  : 'PINLAB_TEST_KERNEL is not set (path to a bzImage built with kernel-config/pin-minimal.config)';

/** `test`, or `test.skip` with the reason in the title when there is no kernel to boot. */
export function vmTest(): typeof test.serial {
  if (!SKIP_REASON) return test.serial;
  const skip = ((title: string, ...rest: unknown[]) =>
    (test.skip as (...a: unknown[]) => void)(`${title} [skipped: ${SKIP_REASON}]`, ...rest)) as unknown as typeof test.serial;
  return skip;
}

/** A short private parent directory for run dirs (unix socket paths are limited to 108 bytes). */
export async function tempParent(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'pinlab-vmt-'));
}

/** PIDs of live processes whose command line mentions `needle` (our run dir), except zombies. */
export function processesMentioning(needle: string): { pid: number; cmdline: string }[] {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1];
      if (cmdline.includes(needle) && state !== 'Z') found.push({ pid: Number(entry), cmdline });
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

export function isAlive(pid: number): boolean {
  try {
    const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return state !== 'Z';
  } catch {
    return false;
  }
}

/** Files left in a run dir that are not logs. */
export function leftovers(runDir: string): string[] {
  if (!existsSync(runDir)) return [];
  return readdirSync(runDir).filter((f) => !f.endsWith('.log'));
}
