// Every VM's run state (QEMU, its socket, disks, keys, initrd) is registered in the cache's state
// directory while it exists, with its owner (owner.ts). A pinlab that dies without its teardown
// (SIGKILL, OOM, power loss) leaves the entry behind; the next boot on the same cache finds it,
// ends that QEMU if it still runs (QEMU normally dies with pinlab: parent-death signal, see
// runner.ts) and removes the files, so a stale socket, disk or lock never outlives its run.
import { readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { paths } from '../config.js';
import { ownerAlive, ownerToken } from '../owner.js';
import { runFiles, type VmSpec } from './spec.js';

export interface LiveRun {
  owner: string;
  runDir: string;
  /** what teardown would remove: sockets, disks, keys, initrd, pid file */
  files: string[];
}

const registryDir = (): string => join(paths.state(), 'live-vms');

/** The files of a VM's run that are not logs (the same list teardown removes). */
export function runStateFiles(spec: Pick<VmSpec, 'runDir' | 'disks'>): string[] {
  const f = runFiles(spec.runDir);
  return [f.sshSocket, f.initrd, f.pid, f.clientKey, `${f.clientKey}.pub`, f.hostKey, `${f.hostKey}.pub`, f.runCpio, f.runTree, ...spec.disks.map((d) => d.file)];
}

/** Register this process's VM run state; returns the entry file (removed by unregisterRun). */
export function registerRun(spec: Pick<VmSpec, 'runDir' | 'disks'>): string {
  mkdirSync(registryDir(), { recursive: true });
  const entry = join(registryDir(), `${ownerToken().replace(':', '-')}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.json`);
  const run: LiveRun = { owner: ownerToken(), runDir: spec.runDir, files: runStateFiles(spec) };
  writeFileSync(entry, `${JSON.stringify(run)}\n`);
  return entry;
}

export function unregisterRun(entry: string): void {
  rmSync(entry, { force: true });
}

/** The PID in a run's qemu.pid if that process is alive and is the QEMU of that run. */
function qemuOf(run: LiveRun): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(runFiles(run.runDir).pid, 'utf8').trim());
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return cmdline.includes(run.runDir) && state !== 'Z' ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * End the QEMUs and remove the run files of every registered run whose owner is gone. Returns
 * the run directories it cleaned. Runs of live pinlab processes are left alone.
 */
export async function sweepStaleRuns(log?: (m: string) => void): Promise<string[]> {
  let names: string[];
  try {
    names = readdirSync(registryDir()).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  const cleaned: string[] = [];
  for (const name of names) {
    const entry = join(registryDir(), name);
    let run: LiveRun;
    try {
      run = JSON.parse(readFileSync(entry, 'utf8')) as LiveRun;
    } catch {
      // written by a process killed mid-write: nothing in it can be trusted or cleaned
      rmSync(entry, { force: true });
      continue;
    }
    if (ownerAlive(run.owner)) continue;
    const qemu = qemuOf(run);
    if (qemu !== undefined) {
      process.kill(qemu, 'SIGKILL');
      for (let i = 0; i < 100 && qemuOf(run) !== undefined; i++) await sleep(20);
    }
    for (const f of run.files) rmSync(f, { recursive: true, force: true });
    rmSync(entry, { force: true });
    cleaned.push(run.runDir);
    log?.(`removed the stale VM state of pinlab ${run.owner.split(':')[0]}, which is gone${qemu ? ` (killed its QEMU ${qemu})` : ''}: ${run.runDir}`);
  }
  return cleaned;
}
