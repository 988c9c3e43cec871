// `pinlab merge`: the shards of one CI run (--shard K/N) back into the report an unsharded run
// would have written. Shards of one kernel merge into one RunResult; several kernels (a matrix)
// stay separate results. Verdicts are deduplicated and ordered by workload name, the same order
// every report format uses.
import { isDeepStrictEqual } from 'node:util';
import { UserError } from '../errors.js';
import type { EvidenceHealth, KernelIdentity, RunResult, Verdict } from '../verdict/types.js';
import { sortVerdicts } from './common.js';
import { CALIBRATION_TARGET } from '../verdict/calibration.js';

const SHARD_RUN_ID_SEPARATOR = '+';

/** The run ids of the runs a (possibly merged) result came from. */
export function shardRunIds(r: RunResult): string[] {
  return r.runId.split(SHARD_RUN_ID_SEPARATOR);
}

/** Kernels are the same when every identifying field is; key order in the JSON does not matter. */
export function kernelKey(k: KernelIdentity): string {
  return JSON.stringify([k.profile ?? null, k.source, k.release ?? null, k.patches.map((p) => [p.file, p.sha256]), k.patchsetHash ?? null, k.configSha256 ?? null, k.buildKey ?? null]);
}

/**
 * The shards' pin evidence as one: the first shard's calibration stands for all (each calibrated
 * its own guest the same way), findings of any shard are kept, and the workloads judged are
 * counted again from the merged verdicts (a shard passed twice counts once).
 */
function mergeEvidence(ordered: readonly RunResult[], verdicts: readonly Verdict[]): EvidenceHealth | undefined {
  const all = ordered.flatMap((s) => (s.evidence ? [s.evidence] : []));
  if (all.length === 0) return undefined;
  const judgedBy: Record<string, number> = {};
  for (const v of verdicts) {
    if (v.target === CALIBRATION_TARGET || !v.numbers?.evidence) continue;
    judgedBy[v.numbers.evidence] = (judgedBy[v.numbers.evidence] ?? 0) + 1;
  }
  return { ...all[0]!, findings: [...new Set(all.flatMap((e) => e.findings))], judgedBy };
}

function mergeOneKernel(shards: readonly RunResult[]): RunResult {
  const first = shards[0]!;
  const strict = new Set(shards.map((s) => s.strict));
  if (strict.size > 1) throw new UserError('cannot merge shards run with and without --strict', { hint: 'run every shard with the same flags' });

  const byName = new Map<string, { verdict: Verdict; runId: string }>();
  for (const shard of shards) {
    for (const v of shard.verdicts) {
      const seen = byName.get(v.name);
      if (!seen) byName.set(v.name, { verdict: v, runId: shard.runId });
      else if (!isDeepStrictEqual(seen.verdict, v)) {
        throw new UserError(`workload ${v.name} has different verdicts in runs ${seen.runId} and ${shard.runId}`, {
          hint: 'shards must split the workloads without overlap; pass each shard file once',
        });
      }
    }
  }
  const ordered = [...shards].sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : 0));
  const runIds = [...new Set(shards.map((s) => s.runId))].sort();
  const finished = shards.map((s) => s.finishedAt);
  const merged: RunResult = {
    schema: first.schema,
    // every shard's run id is kept (shardRunIds reads them back)
    runId: runIds.join(SHARD_RUN_ID_SEPARATOR),
    startedAt: ordered[0]!.startedAt,
    kernel: ordered[0]!.kernel,
    host: ordered[0]!.host,
    verdicts: sortVerdicts([...byName.values()].map((e) => e.verdict)),
    strict: first.strict,
  };
  if (finished.every((f): f is string => f !== undefined)) merged.finishedAt = finished.sort().at(-1)!;
  const evidence = mergeEvidence(ordered, merged.verdicts);
  if (evidence) merged.evidence = evidence;
  return merged;
}

/** Merge shard results; one RunResult per kernel, ordered by first start time. */
export function mergeRuns(shards: readonly RunResult[]): RunResult[] {
  if (shards.length === 0) throw new UserError('nothing to merge: no run results given');
  const groups = new Map<string, RunResult[]>();
  for (const s of shards) {
    const key = kernelKey(s.kernel);
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  return [...groups.values()].map(mergeOneKernel).sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : 0));
}

/**
 * The parts of a run that a sharded and an unsharded run must agree on: kernel, strictness and
 * the verdicts in name order. Times, hosts and run ids legitimately differ.
 */
export function comparableRun(r: RunResult): Pick<RunResult, 'schema' | 'kernel' | 'strict' | 'verdicts'> {
  return { schema: r.schema, kernel: r.kernel, strict: r.strict, verdicts: sortVerdicts(r.verdicts) };
}
