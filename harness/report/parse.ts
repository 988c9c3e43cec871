// `pinlab parse RUN_DIR`: every verdict recomputed from a saved run directory, without booting,
// in the way kunit.py parses saved logs. The judging itself lives in harness/verdict/ and is
// passed in, so re-judging always uses the current rules and this module stays a pure reader.
//
// Layout read here:
//   RUN_DIR/run.json                 the RunResult written at the end of the run
//   RUN_DIR/meta.json                run facts; `background` (the idle-window pin noise) is used
//   RUN_DIR/observations/<name>.json one WorkloadObservation per workload that ran
// Verdicts without an observation (build/boot errors, skips) cannot be re-judged and are kept.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { KernelIdentity, RunResult, Verdict } from '../verdict/types.js';
import type { BackgroundNoise, PinControl, WorkloadObservation } from '../workloads/types.js';
import { sortVerdicts } from './common.js';
import { parseRunJson } from './json.js';

export type JudgeFn = (obs: WorkloadObservation, opts: { background: BackgroundNoise; control?: PinControl }) => Verdict;
export type ApplyKnownStatesFn = (verdicts: Verdict[], kernel: KernelIdentity, strict: boolean) => Verdict[];

export interface RecomputeDeps {
  judge: JudgeFn;
  applyKnownStates: ApplyKnownStatesFn;
}

export interface RecomputeOptions {
  /** override the run's own --strict */
  strict?: boolean;
}

export interface RecomputeResult {
  original: RunResult;
  recomputed: RunResult;
  /** workloads judged again from their observation */
  rejudged: string[];
  /** workloads whose saved verdict was kept (no observation) */
  kept: string[];
}

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`${file} not found: not a pinlab run directory (${what})`);
    throw error;
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UserError(`${file} is not JSON: ${(error as Error).message.replace(/\s+/g, ' ')}`);
  }
}

/** The run's pin-accounting control from meta.json, when one ran (judgeRun's rule 9). */
function controlOf(meta: unknown): PinControl | undefined {
  const c = (meta as { control?: Partial<PinControl> } | null)?.control;
  if (!c || typeof c.ok !== 'boolean' || typeof c.message !== 'string') return undefined;
  return c as PinControl;
}

function backgroundOf(meta: unknown, file: string): BackgroundNoise {
  const bg = (meta as { background?: Partial<BackgroundNoise> } | null)?.background;
  if (!bg || typeof bg.windowMs !== 'number' || typeof bg.acquired !== 'number' || typeof bg.released !== 'number') {
    throw new UserError(`${file} has no background {windowMs, acquired, released}; cannot account for idle pins`);
  }
  return { windowMs: bg.windowMs, acquired: bg.acquired, released: bg.released };
}

async function readObservations(dir: string): Promise<WorkloadObservation[]> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const observations: WorkloadObservation[] = [];
  for (const f of files) {
    const obs = (await readJson(join(dir, f), 'observation')) as Partial<WorkloadObservation> | null;
    if (!obs?.spec || typeof obs.spec.name !== 'string') throw new UserError(`${join(dir, f)} is not a workload observation (no spec.name)`);
    observations.push(obs as WorkloadObservation);
  }
  return observations;
}

export async function recomputeRun(runDir: string, deps: RecomputeDeps, opts: RecomputeOptions = {}): Promise<RecomputeResult> {
  const runFile = join(runDir, 'run.json');
  let runText: string;
  try {
    runText = await readFile(runFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`${runFile} not found: not a pinlab run directory`);
    throw error;
  }
  const original = parseRunJson(runText, runFile);
  const metaFile = join(runDir, 'meta.json');
  const background = backgroundOf(await readJson(metaFile, 'meta'), metaFile);
  const observations = await readObservations(join(runDir, 'observations'));
  const strict = opts.strict ?? original.strict;

  const seen = new Set<string>();
  for (const obs of observations) {
    if (seen.has(obs.spec.name)) throw new UserError(`two observations for workload ${obs.spec.name} in ${runDir}/observations`);
    seen.add(obs.spec.name);
  }
  const control = controlOf(await readJson(metaFile, 'meta'));
  const judged = observations.map((obs) => deps.judge(obs, { background, ...(control ? { control } : {}) }));
  const kept = original.verdicts.filter((v) => !seen.has(v.name));
  const verdicts = deps.applyKnownStates([...judged, ...kept], original.kernel, strict);
  return {
    original,
    recomputed: { ...original, strict, verdicts: sortVerdicts(verdicts) },
    rejudged: [...seen].sort(),
    kept: kept.map((v) => v.name).sort(),
  };
}
