// `pinlab parse RUN_DIR`: every verdict recomputed from a saved run directory, without booting,
// in the way kunit.py parses saved logs. The judging itself lives in harness/verdict/ and is
// passed in, so re-judging always uses the current rules and this module stays a pure reader.
//
// Read here (through rundir.ts): run.json, meta.json's background (the idle-window pin noise) and
// control, and observations/, one WorkloadObservation per workload that ran.
// Verdicts without an observation (build/boot errors, skips) cannot be re-judged and are kept.
import { UserError } from '../errors.js';
import { backgroundOf, controlOf, readObservations, readRunJson, readRunMeta } from '../rundir.js';
import type { KernelIdentity, RunResult, Verdict } from '../verdict/types.js';
import type { BackgroundNoise, PinControl, WorkloadObservation } from '../workloads/types.js';
import { sortVerdicts } from './common.js';

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

export async function recomputeRun(runDir: string, deps: RecomputeDeps, opts: RecomputeOptions = {}): Promise<RecomputeResult> {
  const original = readRunJson(runDir);
  const meta = readRunMeta(runDir);
  const background = backgroundOf(runDir, meta);
  const observations = readObservations(runDir);
  const strict = opts.strict ?? original.strict;

  const seen = new Set<string>();
  for (const obs of observations) {
    if (seen.has(obs.spec.name)) throw new UserError(`two observations for workload ${obs.spec.name} in ${runDir}/observations`);
    seen.add(obs.spec.name);
  }
  const control = controlOf(meta);
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
