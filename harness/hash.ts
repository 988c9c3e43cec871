// The one sha256 of a string or bytes (patch files, cache records, KCIDB ids), and the one
// patchset hash (run.json's kernel.patchsetHash and KCIDB's checkout patchset_hash).
import { createHash } from 'node:crypto';

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * KCIDB's patchset hash: sha256 over each patch's sha256 hex followed by a newline, in order
 * (`sha256sum 0001.patch 0002.patch | cut -c-64 | sha256sum`); '' when no patch was applied.
 */
export function patchsetHash(patchSha256s: readonly string[]): string {
  if (patchSha256s.length === 0) return '';
  return sha256(patchSha256s.map((h) => `${h}\n`).join(''));
}
