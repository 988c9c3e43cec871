// Who owns a piece of state on disk (a lock, a run's VM files, a cache entry being written): a
// PID plus that process's start time from /proc, so a PID reused after a crash is not taken for
// the owner. State whose owner is gone is stale: the next pinlab removes it.
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** The process's start time in clock ticks since boot (/proc/PID/stat field 22), if it exists. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: count fields after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[22 - 3];
  } catch {
    return undefined;
  }
}

/** "PID:STARTTIME" of a live process (this one by default). */
export function ownerToken(pid = process.pid): string {
  return `${pid}:${processStartTime(pid) ?? '0'}`;
}

/** Is the owner still running? A bare PID (older state) is judged by the PID alone. */
export function ownerAlive(token: string): boolean {
  const m = /^(\d+)(?::(\d+))?$/.exec(token.trim());
  if (!m) return false;
  const start = processStartTime(Number(m[1]));
  if (start === undefined) return false;
  return m[2] === undefined || m[2] === start;
}

const STAGING = /\.tmp-(\d+(?::\d+)?)$/;

/** Where a cache entry is written before it is renamed into place: owned by this process. */
export function stagingPath(finalPath: string): string {
  return `${finalPath}.tmp-${ownerToken()}`;
}

/** Remove the staging entries in dir whose writer is gone (a killed build or image creation). */
export function sweepStaging(dir: string, log?: (m: string) => void): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const owner = STAGING.exec(name)?.[1];
    if (owner === undefined || ownerAlive(owner)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(name);
    log?.(`removed ${join(dir, name)}: left by pinlab ${owner.split(':')[0]}, which is gone`);
  }
  return removed;
}
