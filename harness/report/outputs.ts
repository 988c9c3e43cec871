// The report files a command was asked for (--json, --junit, --ktap [FILE], --kcidb), written the
// same way by `pinlab run`, `parse` and `merge`: a run and a parse of its directory give the same
// bytes. With --ktap and no file, KTAP is the only thing on stdout; the caller then draws its
// progress and tables on stderr (reportStream).
import type { RunResult } from '../verdict/types.js';
import { writeFileAtomic } from './file.js';
import { toRunJson } from './json.js';
import { toJUnit } from './junit.js';
import { toKcidbJson, unlinkedRunWarnings } from './kcidb.js';
import { kcidbOptionsFrom, type KcidbCliOptions } from './kcidb-options.js';
import type { KcidbRunFiles } from './kcidb-schema.js';
import { toKtap } from './ktap.js';

export interface ReportOptions extends KcidbCliOptions {
  json?: string;
  junit?: string;
  /** true: KTAP on stdout; a string: the file */
  ktap?: string | boolean;
  kcidb?: string;
}

/** Where a command's own lines (progress, tables) go: stderr when stdout carries KTAP. */
export function reportStream(opts: Pick<ReportOptions, 'ktap'>): NodeJS.WriteStream {
  return opts.ktap === true ? process.stderr : process.stdout;
}

/** One result as run.json, several (a matrix) as a JSON array. */
export function runsJson(results: readonly RunResult[]): string {
  return results.length === 1 ? toRunJson(results[0]!) : `${JSON.stringify(results, null, 2)}\n`;
}

/**
 * Write every report asked for. `runFiles` describes the run directories behind the results
 * (read only for KCIDB's links); `warn` gets one line per thing that has no link.
 */
export async function writeReports(results: readonly RunResult[], opts: ReportOptions, runFiles: () => KcidbRunFiles[], warn: (line: string) => void): Promise<void> {
  if (opts.json) await writeFileAtomic(opts.json, runsJson(results));
  if (opts.junit) await writeFileAtomic(opts.junit, toJUnit(results));
  if (opts.kcidb) {
    const kcidb = kcidbOptionsFrom(opts, runFiles());
    for (const line of unlinkedRunWarnings(kcidb)) warn(line);
    await writeFileAtomic(opts.kcidb, toKcidbJson(results, kcidb));
  }
  if (typeof opts.ktap === 'string') await writeFileAtomic(opts.ktap, toKtap(results));
  else if (opts.ktap) process.stdout.write(toKtap(results));
}
