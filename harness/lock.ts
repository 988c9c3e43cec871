// A lock directory per kernel worktree: two pinlab runs never move the same tree at once.
// A lock whose owner is gone (PID and its start time, owner.ts) is stale and taken over.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunContext } from './context.js';
import { HarnessTimeoutError } from './errors.js';
import { ownerAlive, ownerToken } from './owner.js';

export async function withLock<T>(path: string, ctx: RunContext, fn: () => Promise<T>, timeoutMs = 60 * 60_000): Promise<T> {
  const dir = `${path}.lock`;
  // the locked thing may not exist yet (a source base's first worktree): its parent must
  mkdirSync(dirname(dir), { recursive: true });
  const t0 = Date.now();
  let announced = false;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, 'pid'), ownerToken());
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let owner = '';
      try {
        owner = readFileSync(join(dir, 'pid'), 'utf8').trim();
      } catch {
        // being created right now: retry
      }
      // no owner file 10 s after the directory appeared: its creator died between the two
      const orphan = !owner && Date.now() - (statSync(dir, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > 10_000;
      if ((owner && !ownerAlive(owner)) || orphan) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - t0 > timeoutMs) throw new HarnessTimeoutError(`${path} stayed locked by pid ${owner.split(':')[0]}`, timeoutMs);
      if (!announced) ctx.log(`waiting for pid ${owner.split(':')[0]}, which holds ${dir}`);
      announced = true;
      await sleep(500, undefined, { signal: ctx.signal });
    }
  }
  const release = ctx.teardown.add(`unlock ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  try {
    return await fn();
  } finally {
    await release();
  }
}
