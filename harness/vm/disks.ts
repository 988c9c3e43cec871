// The guest's disks: sparse raw files in the run directory, formatted on the host (mkfs works on
// regular files without root). Planning is pure (Steps); createDisks runs the plan.
import { statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HostError } from '../errors.js';
import { runStep, type Step } from '../exec.js';
import type { RunContext } from '../context.js';
import type { DiskSpec } from './spec.js';

function mkfsArgv(disk: DiskSpec): string[] | undefined {
  switch (disk.fs) {
    case 'raw':
      return undefined;
    case 'ext4':
    case 'ext2':
      // Initialise inode tables and journal now: otherwise the guest's ext4lazyinit thread
      // writes them in the background, under TCG, during the measurements.
      return [
        `mkfs.${disk.fs}`, '-F', '-q', '-L', disk.id,
        '-E', 'lazy_itable_init=0,lazy_journal_init=0,nodiscard',
        disk.file,
      ];
    case 'vfat':
      return ['mkfs.vfat', '-n', disk.id.toUpperCase().slice(0, 11), disk.file];
    case 'zonefs':
      // no mkzonefs in Debian: pinlab writes the super block itself
      return [process.execPath, join(dirname(fileURLToPath(import.meta.url)), 'mkzonefs.js'), disk.file];
    case 'reiserfs':
      // the smallest journal (513 blocks): the default 32 MiB is written in full at mkfs
      return ['mkfs.reiserfs', '-f', '-q', '-s', '513', '-l', disk.id, disk.file];
  }
}

/** Steps that create (sparse) and format each disk file. */
export function planDisks(disks: readonly DiskSpec[]): Step[] {
  const steps: Step[] = [];
  for (const disk of disks) {
    steps.push({ phase: `vm:disk:${disk.id}`, argv: ['truncate', '-s', `${disk.sizeMiB}M`, disk.file], timeoutMs: 10_000 });
    const mkfs = mkfsArgv(disk);
    if (mkfs) steps.push({ phase: `vm:disk:${disk.id}`, argv: mkfs, timeoutMs: 60_000 });
  }
  return steps;
}

/** Left free beside the disks' full size: their logs, the console, the next run's start. */
export const DISK_SPACE_RESERVE_MIB = 256;

/**
 * The space the disks may take, in MiB, when the guest fills them (they are sparse: a run writes
 * far less, but a write the host cannot store fails the guest's I/O), and why a file system with
 * freeMiB is too small for them, or undefined. Pure.
 */
export function diskSpaceProblem(disks: readonly DiskSpec[], freeMiB: number): string | undefined {
  const disksMiB = disks.reduce((n, d) => n + d.sizeMiB, 0);
  const needMiB = disksMiB + DISK_SPACE_RESERVE_MIB;
  if (disks.length === 0 || freeMiB >= needMiB) return undefined;
  return `${disks.length} guest disks of ${disksMiB} MiB need ${needMiB} MiB free, ${Math.floor(freeMiB)} MiB are`;
}

function freeMiBAt(dir: string): number {
  const st = statfsSync(dir);
  return (st.bavail * st.bsize) / 2 ** 20;
}

/** Run the plan; disks are independent, so each disk's steps run concurrently with the others'. */
export async function createDisks(disks: readonly DiskSpec[], ctx: RunContext): Promise<void> {
  const dir = disks[0] ? dirname(disks[0].file) : undefined;
  const problem = dir ? diskSpaceProblem(disks, freeMiBAt(dir)) : undefined;
  if (problem) {
    throw new HostError(`no space for the guest's disks in ${dir}: ${problem}`, { hint: 'free some space there, or point PINLAB_RUNS (or --run-dir) at a larger file system' });
  }
  await Promise.all(
    disks.map(async (disk) => {
      for (const step of planDisks([disk])) await runStep(step, { signal: ctx.signal });
    }),
  );
}
