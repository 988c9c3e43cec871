// The state of a mutation run, in the cache: one JSON line per finished mutant, appended as each
// finishes, so a killed or interrupted `pinlab mutate` goes on where it stopped. The directory is
// named by the tree (source identity, patches, fragments), so shards on one machine share it.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from '../config.js';
import { sha256 } from '../hash.js';
import { FINAL, type MutantResult } from './outcome.js';

export function mutateStateDir(treeKey: string): string {
  return join(cacheRoot(), 'mutate', treeKey);
}

/** A tree's key: what decides the source the mutants change, and how they are built. */
export function treeKey(identity: string, tree: string, fragments: readonly string[]): string {
  return sha256(JSON.stringify({ v: 1, identity, tree, fragments: fragments.map((f) => sha256(readFileSync(f))) })).slice(0, 16);
}

const STATE_FILE = 'results.jsonl';

/** The finished results by mutant id (the last line of an id wins); a torn last line is skipped. */
export function readState(dir: string): Map<string, MutantResult> {
  const file = join(dir, STATE_FILE);
  const out = new Map<string, MutantResult>();
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as MutantResult;
      out.set(r.id, r);
    } catch {
      // a line cut short when the process was killed mid-write: that mutant runs again
    }
  }
  return out;
}

export function appendState(dir: string, r: MutantResult): void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, STATE_FILE);
  // after a torn last line, start on a line of its own
  const torn = existsSync(file) && !readFileSync(file, 'utf8').endsWith('\n') && readFileSync(file, 'utf8').length > 0;
  appendFileSync(file, `${torn ? '\n' : ''}${JSON.stringify(r)}\n`);
}

export function isFinal(r: MutantResult | undefined): boolean {
  return r !== undefined && FINAL.includes(r.outcome);
}
