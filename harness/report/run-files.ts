// What a run directory holds, for the links a report makes (KCIDB's log_url, config_url,
// output_files, patch URLs) and the compiler its kernel was built with. Reading is kept apart
// from the formats, which stay pure functions of the run and of this description.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { RunResult } from '../verdict/types.js';
import type { KcidbRunFiles } from './kcidb.js';

/** The folders of a run directory whose files reports link to; vm/ holds disks, so only its console. */
const LINKED_FOLDERS = ['kernel', 'logs', 'observations'];
const CONSOLE_LOG = 'vm/console.log';

function compilerOf(runDir: string): string | undefined {
  try {
    const meta = JSON.parse(readFileSync(join(runDir, 'kernel', 'meta.json'), 'utf8')) as { compiler?: unknown };
    return typeof meta.compiler === 'string' ? meta.compiler : undefined;
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
  if (existsSync(join(runDir, CONSOLE_LOG))) files.push(CONSOLE_LOG);
  const rel = relative(root, runDir);
  const outside = isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`);
  const compiler = compilerOf(runDir);
  return {
    runId: result.runId,
    path: runDir,
    workloads: result.verdicts.map((v) => v.name),
    ...(outside ? {} : { dir: rel.split(sep).join('/') }),
    files: files.sort(),
    ...(compiler ? { compiler } : {}),
  };
}
