// A saved run directory read back as everything needed to run its cases again: the verdicts
// (run.json), the request (meta.json: kernel source, patches, fragments, command line), the
// kernel that ran (kernel/meta.json: build key) and the exact workload specs (observations/).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { KernelMeta } from '../kernel/build.js';
import { readKernelMeta, readObservations, readRunJson, readRunMeta, RUN_LAYOUT, type RecordedRequest } from '../rundir.js';
import type { RunResult, Verdict } from '../verdict/types.js';
import { ALL_WORKLOADS } from '../workloads/catalogue.js';
import type { WorkloadSpec } from '../workloads/types.js';
import { splitRepeatName } from '../workloads/repeat.js';

export interface RecordedRun {
  dir: string;
  result: RunResult;
  request: RecordedRequest;
  kernelMeta?: KernelMeta;
  /** base workload name -> the spec that ran (from the observation, else the catalogue) */
  specs: Map<string, WorkloadSpec>;
}

export function loadRecordedRun(dir: string): RecordedRun {
  if (!existsSync(join(dir, RUN_LAYOUT.run))) throw new UserError(`${dir}: no run.json there (not a pinlab run directory)`);
  const result = readRunJson(dir);
  if (!existsSync(join(dir, RUN_LAYOUT.meta))) throw new UserError(`${dir}: no meta.json (the run's request is not recorded)`);
  const request = readRunMeta(dir).request;
  const kernelMeta = readKernelMeta(dir);
  const specs = new Map<string, WorkloadSpec>();
  for (const obs of readObservations(dir)) {
    const base = splitRepeatName(obs.spec.name).workload;
    if (!specs.has(base)) specs.set(base, { ...obs.spec, name: base });
  }
  for (const v of result.verdicts) {
    const base = splitRepeatName(v.name).workload;
    const fromCatalogue = ALL_WORKLOADS.find((s) => s.name === base);
    if (!specs.has(base) && fromCatalogue) specs.set(base, fromCatalogue);
  }
  return { dir, result, request, kernelMeta, specs };
}

/** A case worth replaying: it did not pass. */
export function failedCase(v: Verdict): boolean {
  return v.status === 'FAIL' || v.status === 'XFAIL' || v.status === 'ERROR';
}

/** The cases to replay: the named ones, else every case that did not pass (repeats folded). */
export function pickCases(run: RecordedRun, names?: string[]): WorkloadSpec[] {
  const bases = [...new Set(run.result.verdicts.map((v) => splitRepeatName(v.name).workload))];
  let chosen: string[];
  if (names && names.length > 0) {
    for (const n of names) {
      if (!bases.includes(n)) throw new UserError(`--case ${n}: not a case of ${run.dir}`, { hint: `its cases: ${bases.join(', ')}` });
    }
    chosen = names;
  } else {
    chosen = bases.filter((b) => run.result.verdicts.some((v) => splitRepeatName(v.name).workload === b && failedCase(v)));
    if (chosen.length === 0) throw new UserError(`${run.dir}: every case passed; name one with --case`, { hint: `its cases: ${bases.join(', ')}` });
  }
  return chosen.map((n) => {
    const spec = run.specs.get(n);
    if (!spec) throw new UserError(`case ${n}: its workload spec is neither in ${run.dir}/observations nor in the catalogue`);
    return spec;
  });
}

/** The recorded verdict of a case (the first failing repeat when it was repeated). */
export function recordedVerdict(run: Pick<RecordedRun, 'result'>, name: string): Verdict | undefined {
  const all = run.result.verdicts.filter((v) => splitRepeatName(v.name).workload === name);
  return all.find(failedCase) ?? all[0];
}

/** "FAIL pin-leak", "PASS", "ERROR boot" */
export function verdictWords(v: Pick<Verdict, 'status' | 'reasons' | 'cause'>): string {
  const why = v.status === 'ERROR' ? (v.cause ?? '') : v.reasons.join(',');
  return why ? `${v.status} ${why}` : v.status;
}
