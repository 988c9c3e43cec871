import test from 'ava';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContext } from '../../harness/context.js';
import { HostError } from '../../harness/errors.js';
import { DISK_SPACE_RESERVE_MIB, createDisks, diskSpaceProblem } from '../../harness/vm/disks.js';
import { disksFrom } from '../../harness/vm/spec.js';
import { DEFAULT_DISKS } from '../../harness/workloads/targets.js';

const disks = disksFrom('/r', DEFAULT_DISKS, 256);
const full = disks.length * 256 + DISK_SPACE_RESERVE_MIB;

test('disk space: the guest disks\' full size and a reserve must be free, else one line says how much is missing', (t) => {
  t.is(diskSpaceProblem(disks, full), undefined);
  t.is(diskSpaceProblem([], 0), undefined, 'no disks need no space');
  t.is(diskSpaceProblem(disks, full - 1), `${disks.length} guest disks of ${disks.length * 256} MiB need ${full} MiB free, ${full - 1} MiB are`);
});

test('createDisks refuses a file system without room before it writes a byte (HostError: exit 3)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinlab-disks-'));
  try {
    // a disk larger than any file system here: refused before truncate or mkfs run
    const huge = disksFrom(dir, DEFAULT_DISKS.slice(0, 1), 2 ** 40);
    const e = await t.throwsAsync(createDisks(huge, createContext({ log: () => undefined })));
    t.true(e instanceof HostError);
    t.regex(e!.message, /^no space for the guest's disks in .*: 1 guest disks of \d+ MiB need \d+ MiB free, \d+ MiB are$/);
    t.false(existsSync(huge[0]!.file), 'nothing was created');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
