// The guest's disks: sparse raw files in the run directory, formatted on the host (mkfs works on
// regular files without root). Planning is pure (Steps); createDisks runs the plan.
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

/** Run the plan; disks are independent, so each disk's steps run concurrently with the others'. */
export async function createDisks(disks: readonly DiskSpec[], ctx: RunContext): Promise<void> {
  await Promise.all(
    disks.map(async (disk) => {
      for (const step of planDisks([disk])) await runStep(step, { signal: ctx.signal });
    }),
  );
}
