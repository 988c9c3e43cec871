// Temporary directories for tests, removed when the test file's process exits (ava runs each
// file in a process of its own), whether its assertions passed or not: npm test leaves nothing
// under /tmp (scripts/test.js checks).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];
process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

export function testTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
