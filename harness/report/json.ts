// --json FILE and the run directory's run.json: the whole RunResult, versioned by its `schema`
// field ('pinlab.run/1', described by run-schema.ts). Fields in one order and verdicts in name
// order, so the same run always serializes to the same bytes.
import { UserError } from '../errors.js';
import type { RunResult } from '../verdict/types.js';
import { sortVerdicts } from './common.js';
import { RUN_SCHEMA_ID } from './run-schema.js';

/** run.json's fields in the order a live run writes them; any other field follows. */
const FIELD_ORDER = ['schema', 'runId', 'startedAt', 'finishedAt', 'kernel', 'host', 'verdicts', 'strict'] as const;

/** The same run gives the same bytes, however the result was put together (live, parse, merge). */
export function toRunJson(result: RunResult): string {
  const ordered: Record<string, unknown> = {};
  for (const key of FIELD_ORDER) if (result[key] !== undefined) ordered[key] = key === 'verdicts' ? sortVerdicts(result.verdicts) : result[key];
  for (const [key, value] of Object.entries(result)) if (!(key in ordered)) ordered[key] = value;
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/**
 * Parse a saved run. Checks the schema id and the fields every consumer relies on; full
 * validation against RUN_SCHEMA is left to tests and external tools, so pinlab has no
 * runtime dependency on a validator.
 */
export function parseRunJson(text: string, source = 'run.json'): RunResult {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new UserError(`${source} is not JSON: ${(error as Error).message.replace(/\s+/g, ' ')}`);
  }
  if (typeof data !== 'object' || data === null) throw new UserError(`${source} is not a pinlab run result`);
  const r = data as Partial<RunResult>;
  if (typeof r.schema !== 'string' || !r.schema.startsWith('pinlab.run/')) throw new UserError(`${source} is not a pinlab run result (no pinlab.run schema)`);
  if (r.schema !== RUN_SCHEMA_ID) {
    throw new UserError(`${source} has schema ${JSON.stringify(r.schema)}, expected ${RUN_SCHEMA_ID}`, {
      hint: 'it was written by another pinlab version; re-run `pinlab parse` with that version',
    });
  }
  if (typeof r.runId !== 'string' || !Array.isArray(r.verdicts) || typeof r.kernel !== 'object' || r.kernel === null) {
    throw new UserError(`${source} lacks runId, kernel or verdicts`);
  }
  return r as RunResult;
}
