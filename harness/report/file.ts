// Reporters that render the final RunResult (JSON, JUnit, KCIDB, KTAP) at finish. Files are
// written to a temporary name and renamed, so a crash never leaves half a report behind.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RunResult } from '../verdict/types.js';
import type { Reporter } from './events.js';

export async function writeFileAtomic(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

/** Renders the final result once, at finish, and hands the text to `write` (a file, stdout). */
export function renderReporter(write: (text: string) => Promise<void> | void, render: (result: RunResult) => string): Reporter {
  let result: RunResult | undefined;
  return {
    onEvent(e) {
      if (e.type === 'run-end') result = e.result;
    },
    async finish() {
      // An aborted run has no run-end: writing nothing is better than writing an empty report
      // that CI would read as "all passed".
      if (result) await write(render(result));
    },
  };
}

export function fileReporter(file: string, render: (result: RunResult) => string): Reporter {
  return renderReporter((text) => writeFileAtomic(file, text), render);
}
