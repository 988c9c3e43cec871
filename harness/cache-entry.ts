// A cache entry (a built kernel, a guest image) is a directory that appears whole or not at all:
// it is written under a staging name owned by this process (owner.ts), the size and sha256 of
// the files a later run trusts are recorded in it, and it is renamed into place. A lookup checks
// that record, so a truncated or corrupted entry is found, removed and rebuilt; a full disk
// while writing leaves only a staging directory, which the next pinlab removes.
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HostError } from './errors.js';
import { sha256 } from './hash.js';
import { stagingPath } from './owner.js';

export const CONTENT_FILE = 'content.json';

interface ContentRecord {
  files: Record<string, { size: number; sha256: string }>;
}

/** Record the size and sha256 of `files` (names inside dir) in dir/content.json. */
export function recordContent(dir: string, files: readonly string[]): void {
  const record: ContentRecord = { files: {} };
  for (const f of files) record.files[f] = { size: statSync(join(dir, f)).size, sha256: sha256(readFileSync(join(dir, f))) };
  const tmp = stagingPath(join(dir, CONTENT_FILE));
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(tmp, join(dir, CONTENT_FILE));
}

/** Why the entry in dir cannot be trusted, or undefined when every recorded file matches. */
export function contentProblem(dir: string): string | undefined {
  let record: ContentRecord;
  try {
    record = JSON.parse(readFileSync(join(dir, CONTENT_FILE), 'utf8')) as ContentRecord;
  } catch {
    return `no readable ${CONTENT_FILE}`;
  }
  for (const [name, want] of Object.entries(record.files ?? {})) {
    const file = join(dir, name);
    const size = statSync(file, { throwIfNoEntry: false })?.size;
    if (size === undefined) return `${name} is missing`;
    if (size !== want.size) return `${name} has ${size} bytes, ${want.size} were recorded`;
    if (sha256(readFileSync(file)) !== want.sha256) return `${name} does not match its recorded sha256`;
  }
  return undefined;
}

export function hasContentRecord(dir: string): boolean {
  return existsSync(join(dir, CONTENT_FILE));
}

/**
 * Rename a finished staging directory into place. When another pinlab published the same entry
 * meanwhile and it checks out, ours is dropped (the content is the same by construction of the
 * key); a bad one is replaced.
 */
export function publishEntry(staging: string, final: string): void {
  try {
    renameSync(staging, final);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
  }
  if (contentProblem(final) === undefined) {
    rmSync(staging, { recursive: true, force: true });
    return;
  }
  rmSync(final, { recursive: true, force: true });
  renameSync(staging, final);
}

export function isNoSpace(e: unknown): boolean {
  const err = e as { code?: string; message?: string; stderrTail?: string };
  return err?.code === 'ENOSPC' || /No space left on device/.test(`${err?.message ?? ''} ${err?.stderrTail ?? ''}`);
}

/** The one line a full disk gets (exit 3): what was being written, and where. */
export function noSpaceError(what: string, dir: string, cause: unknown): HostError {
  return new HostError(`${what}: no space left on device in ${dir}`, { hint: 'free some space there (or point PINLAB_CACHE elsewhere) and run again', cause });
}
