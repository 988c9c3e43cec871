// The one sha256 of a string or bytes (patch files, cache records, KCIDB ids, the patchset hash).
import { createHash } from 'node:crypto';

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
