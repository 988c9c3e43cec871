// A workload's operation latencies as the run records them (WorkloadIO.latency): nearest-rank
// quantiles of the samples, in microseconds. bench/stats.ts takes the same quantile for its
// figures, so a latency means one thing in a run and in a bench.
import type { Latency } from './types.js';

/** Nearest-rank quantile of an ascending array, p in [0, 100]. */
export function quantileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of no samples');
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function latencyOf(samplesNs: readonly number[]): Latency | undefined {
  if (samplesNs.length === 0) return undefined;
  const us = samplesNs.map((n) => n / 1000).sort((a, b) => a - b);
  const rank = (p: number): number => quantileSorted(us, p);
  const round = (v: number): number => Math.round(v * 10) / 10;
  return { p50us: round(rank(50)), p90us: round(rank(90)), p99us: round(rank(99)), maxus: round(us[us.length - 1]!) };
}
