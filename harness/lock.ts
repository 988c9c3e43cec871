// A lock directory per kernel worktree: two pinlab runs never move the same tree at once.
// A lock whose owner PID is gone is stale and taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunContext } from './context.js';
import { HarnessTimeoutError } from './errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function withLock<T>(path: string, ctx: RunContext, fn: () => Promise<T>, timeoutMs = 60 * 60_000): Promise<T> {
  const dir = `${path}.lock`;
  // the locked thing may not exist yet (a source base's first worktree): its parent must
  mkdirSync(dirname(dir), { recursive: true });
  const t0 = Date.now();
  let announced = false;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let owner = NaN;
      try {
        owner = Number(readFileSync(join(dir, 'pid'), 'utf8'));
      } catch {
        // being created right now: retry
      }
      if (Number.isInteger(owner) && !alive(owner)) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - t0 > timeoutMs) throw new HarnessTimeoutError(`${path} stayed locked by pid ${owner}`, timeoutMs);
      if (!announced) ctx.log(`waiting for pid ${owner}, which holds ${dir}`);
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
