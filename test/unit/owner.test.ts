import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ownerAlive, ownerToken, stagingPath, sweepStaging } from '../../harness/owner.js';

/** The PID of a process that has exited (and been reaped). */
function deadPid(): number {
  const r = spawnSync('/bin/sh', ['-c', 'echo $$']);
  return Number(r.stdout.toString().trim());
}

test('ownerAlive: this process yes; an exited one no; a live PID with another start time no', (t) => {
  t.true(ownerAlive(ownerToken()));
  t.true(ownerAlive(String(process.pid)), 'a bare PID is judged by the PID');
  t.false(ownerAlive(`${deadPid()}:1`));
  const [pid, start] = ownerToken().split(':');
  t.false(ownerAlive(`${pid}:${Number(start) + 1}`), 'a reused PID is not the owner');
  t.false(ownerAlive('garbage'));
});

test('sweepStaging removes staging entries of gone writers only', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinlab-owner-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const mine = stagingPath(join(dir, 'base-abc'));
  const dead = join(dir, `base-def.tmp-${deadPid()}:42`);
  const legacy = join(dir, `kkk.tmp-${deadPid()}`);
  const entry = join(dir, 'base-abc');
  for (const d of [mine, dead, legacy, entry]) mkdirSync(d);
  const removed = sweepStaging(dir);
  t.deepEqual(removed.sort(), [dead, legacy].map((p) => p.slice(dir.length + 1)).sort());
  t.true(existsSync(mine));
  t.true(existsSync(entry));
});
