// The run as a stream of events, and the reporters that consume it. The runner emits; reporters
// render. Everything a report needs at the end is in the run-end event's RunResult, so file
// formats are pure functions of it and can be rendered again from a saved run.json.
import type { KernelIdentity, RunResult, Verdict } from '../verdict/types.js';

export type RunEvent =
  | { type: 'run-start'; runId: string; kernel: KernelIdentity; workloads: number; strict: boolean }
  | { type: 'phase-start'; phase: string }
  /** the latest output line of a phase's work (drawn by live views, kept by no report) */
  | { type: 'phase-progress'; phase: string; detail: string }
  | { type: 'phase-end'; phase: string; elapsedMs: number; ok: boolean; detail?: string }
  | { type: 'workload-start'; name: string; index: number; total: number }
  | { type: 'verdict'; verdict: Verdict; elapsedMs?: number }
  | { type: 'run-end'; result: RunResult; elapsedMs: number };

export interface Reporter {
  onEvent(e: RunEvent): void;
  /** Flush and close whatever the reporter writes. Called once, after run-end or on abort. */
  finish(): Promise<void>;
}

/** One reporter that forwards to several; a throwing reporter does not starve the others. */
export function fanout(reporters: readonly Reporter[]): Reporter {
  return {
    onEvent(e) {
      const errors: unknown[] = [];
      for (const r of reporters) {
        try {
          r.onEvent(e);
        } catch (error) {
          errors.push(error);
        }
      }
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) throw new AggregateError(errors, 'several reporters failed');
    },
    async finish() {
      const results = await Promise.allSettled(reporters.map((r) => r.finish()));
      const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) throw new AggregateError(errors, 'several reporters failed to finish');
    },
  };
}
