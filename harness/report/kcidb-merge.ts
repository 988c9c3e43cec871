// KCIDB reports merged into one (CI shards, a matrix of kernels): objects with one id are one
// object, times widened to cover every shard, a build's pin evidence merged over its shards.
import { CALIBRATION_TARGET } from '../verdict/calibration.js';
import type { EvidenceHealth } from '../verdict/types.js';
import { KCIDB_VERSION, type KcidbBuild, type KcidbReport, type KcidbTest } from './kcidb-schema.js';

function byId<T extends { id: string }>(items: readonly T[], combine: (a: T, b: T) => T = (a, b) => ({ ...a, ...b })): T[] {
  const seen = new Map<string, T>();
  // The same checkout/build/issue arrives from every shard; objects with one id are the same
  // object, so the later one's fields only fill in what the earlier lacked.
  for (const item of items) {
    const earlier = seen.get(item.id);
    seen.set(item.id, earlier ? combine(earlier, item) : item);
  }
  return [...seen.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** ISO 8601 UTC times of one format compare as strings. */
function extreme(pick: 'first' | 'last', a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  return (pick === 'first') === a < b ? a : b;
}

/** A field set to value, or left out when there is none (KCIDB objects never hold undefined). */
function field<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

/**
 * A merged build's pin evidence: one shard's calibration stands for all (each calibrated its own
 * guest the same way), findings of any shard are kept, and the workloads judged are counted again
 * from the merged tests of that build (a shard passed twice counts once).
 */
function withMergedEvidence(build: KcidbBuild, all: readonly KcidbBuild[], tests: readonly KcidbTest[]): KcidbBuild {
  const evidence = build.misc?.['pin_evidence'] as EvidenceHealth | undefined;
  if (!evidence) return build;
  const findings = new Set(all.filter((b) => b.id === build.id).flatMap((b) => (b.misc?.['pin_evidence'] as EvidenceHealth | undefined)?.findings ?? []));
  const judgedBy: Record<string, number> = {};
  for (const x of tests) {
    const by = x.misc?.['pin_evidence'];
    if (x.build_id !== build.id || typeof by !== 'string' || String(x.misc?.['workload']).startsWith(`${CALIBRATION_TARGET}.`)) continue;
    judgedBy[by] = (judgedBy[by] ?? 0) + 1;
  }
  return { ...build, misc: { ...build.misc, pin_evidence: { ...evidence, findings: [...findings], judgedBy } } };
}

/**
 * Merge KCIDB reports (e.g. one per CI shard) into one: objects deduplicated by id, sorted by
 * id; tests sorted by path then id. A checkout starts when its first shard started and its tests
 * finish when the last one finished; a build starts with its first shard. Only reports of major
 * version 5 are accepted.
 */
export function mergeKcidb(reports: readonly KcidbReport[]): KcidbReport {
  for (const r of reports) {
    if (r.version.major !== KCIDB_VERSION.major) {
      throw new Error(`cannot merge KCIDB v${r.version.major} data with v${KCIDB_VERSION.major}`);
    }
  }
  const minor = Math.max(0, ...reports.map((r) => r.version.minor ?? 0));
  const allBuilds = reports.flatMap((r) => r.builds ?? []);
  const tests = byId(reports.flatMap((r) => r.tests ?? [])).sort((a, b) => {
    const pa = a.path ?? '';
    const pb = b.path ?? '';
    return pa < pb ? -1 : pa > pb ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
  return {
    version: { major: KCIDB_VERSION.major, minor },
    checkouts: byId(reports.flatMap((r) => r.checkouts ?? []), (a, b) => ({
      ...a,
      ...b,
      ...field('start_time', extreme('first', a.start_time, b.start_time)),
      ...field('origin_tests_finish_time', extreme('last', a.origin_tests_finish_time, b.origin_tests_finish_time)),
    })),
    builds: byId(allBuilds, (a, b) => ({ ...a, ...b, ...field('start_time', extreme('first', a.start_time, b.start_time)) })).map((b) => withMergedEvidence(b, allBuilds, tests)),
    tests,
    issues: byId(reports.flatMap((r) => r.issues ?? [])),
    incidents: byId(reports.flatMap((r) => r.incidents ?? [])),
  };
}
