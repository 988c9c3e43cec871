// What a run directory holds, for the links a report makes (KCIDB's log_url, config_url,
// output_files, patch URLs) and the compiler its kernel was built with. Reading is kept apart
// from the formats, which stay pure functions of the run and of this description.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { readKernelMeta, RUN_LAYOUT } from '../rundir.js';
import type { RunResult } from '../verdict/types.js';
import type { KcidbRunFiles } from './kcidb-schema.js';

/** The folders of a run directory whose files reports link to; vm/ holds disks, so only its console. */
const LINKED_FOLDERS = [RUN_LAYOUT.kernel, RUN_LAYOUT.logs, RUN_LAYOUT.observations];
/** Each guest's console: vm/ for the first, vm-N/ for the fresh guest after a stall. */
const CONSOLE_DIR = /^vm(-\d+)?$/;
/** Each guest's runner log: logs/runner.log for the first, logs/runner-N.log after. */
const RUNNER_LOG = /^runner(?:-(\d+))?\.log$/;

/** Which guest ran each workload, from the start events in the runner logs (guest 1 when none). */
function guestsOf(runDir: string): Record<string, number> {
  const guests: Record<string, number> = {};
  const logs = join(runDir, RUN_LAYOUT.logs);
  if (!existsSync(logs)) return guests;
  for (const name of readdirSync(logs)) {
    const m = RUNNER_LOG.exec(name);
    if (!m || !m[1]) continue;
    for (const s of readFileSync(join(logs, name), 'utf8').matchAll(/"type":"start","name":"([^"]+)"/g)) guests[s[1]!] = Number(m[1]);
  }
  return guests;
}

/** The compiler of the kernel that ran; none when the run did not get a kernel or its meta is unreadable. */
function compilerOf(runDir: string): string | undefined {
  try {
    const compiler = readKernelMeta(runDir)?.compiler;
    return typeof compiler === 'string' ? compiler : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The run directory of `result` as published: `root` is the directory the artifacts URL names
 * (the current directory: a CI job publishes paths relative to its working directory). A run
 * directory outside it gets no links.
 */
export function readRunFiles(runDir: string, result: RunResult, root = process.cwd()): KcidbRunFiles {
  const files: string[] = [];
  for (const folder of LINKED_FOLDERS) {
    const dir = join(runDir, folder);
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isFile()) files.push(`${folder}/${entry.name}`);
  }
  for (const entry of readdirSync(runDir, { withFileTypes: true })) {
    if (entry.isDirectory() && CONSOLE_DIR.test(entry.name) && existsSync(join(runDir, entry.name, 'console.log'))) files.push(`${entry.name}/console.log`);
  }
  const guests = guestsOf(runDir);
  const rel = relative(root, runDir);
  const outside = isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`);
  const compiler = compilerOf(runDir);
  return {
    runId: result.runId,
    path: runDir,
    workloads: result.verdicts.map((v) => v.name),
    ...(outside ? {} : { dir: rel.split(sep).join('/') }),
    files: files.sort(),
    ...(Object.keys(guests).length > 0 ? { guests } : {}),
    ...(compiler ? { compiler } : {}),
  };
}
