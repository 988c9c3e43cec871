// Which workloads reach a mutant: the lines it changes, counted per workload by a prior
// `pinlab run --coverage` of the same tree (its saved .gcda files, read again with gcov). Without
// coverage every workload reaches every mutant. Pure but for reading the coverage run.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { CoverageData } from '../coverage/gcov.js';
import { COVERAGE_SOURCES } from '../coverage/objects.js';
import { workloadCoverage } from '../coverage/run-coverage.js';
import { COMPILED_OUT } from '../coverage/summary.js';
import { unreachableReason } from '../coverage/unreachable.js';
import type { Mutant } from './plan.js';

export type Reach =
  | { status: 'reached'; workloads: string[] }
  | { status: 'not-reached' }
  /** no line of the change carries a counter: no code was generated for it in this build */
  | { status: 'compiled-out'; reason: string }
  /** not reached, and its site is reviewed unreachable from user space */
  | { status: 'unreachable'; reason: string }
  /** no coverage given: every workload */
  | { status: 'unknown' };

export interface ReachData {
  perWorkload: ReadonlyMap<string, CoverageData>;
  /** the coverage run directories it came from */
  from: string[];
}

/** How far back a change without a counter of its own may take the reach of the code before it. */
const PROXY_LINES = 5;

/** Flag points (FOLL_PIN, BIO_PAGE_PINNED set or tested), whose code gcc may fold into the block before. */
const FLAG_POINT = /:(FOLL_PIN|BIO_PAGE_PINNED)(#\d+)?$/;

/**
 * The lines whose counts tell whether a change ran: its own, or for a flag point none of whose
 * lines carries a counter (straight-line code gcc folded into the block before, such as
 * `if (c) flag |= X`), the nearest counted line at most PROXY_LINES above it. Undefined: no
 * code was generated there; a call without a counter of its own is compiled out, as the
 * coverage report says of its site.
 */
export function countedLines(m: Pick<Mutant, 'file' | 'line' | 'endLine' | 'site'>, data: ReachData): [number, number] | undefined {
  const counted = (l: number) => [...data.perWorkload.values()].some((cov) => cov[m.file]?.lines[l] !== undefined);
  for (let l = m.line; l <= m.endLine; l++) if (counted(l)) return [m.line, m.endLine];
  if (!FLAG_POINT.test(m.site)) return undefined;
  for (let l = m.line - 1; l >= Math.max(1, m.line - PROXY_LINES); l--) if (counted(l)) return [l, l];
  return undefined;
}

/** A mutant's reach from per-workload line counts. */
export function reachOf(m: Pick<Mutant, 'file' | 'line' | 'endLine' | 'site'>, data: ReachData | undefined): Reach {
  if (!data) return { status: 'unknown' };
  // a flag test runs with the condition around it (`!page && pte_devmap(pte) && (flags & FOLL_PIN)`):
  // a flag point reviewed unreachable is so even where its line ran
  const reviewed = FLAG_POINT.test(m.site) ? unreachableReason({ ...parseSite(m.site), id: m.site }) : undefined;
  if (reviewed) return { status: 'unreachable', reason: reviewed };
  const range = countedLines(m, data);
  if (!range) return { status: 'compiled-out', reason: COMPILED_OUT };
  const workloads: string[] = [];
  for (const [w, cov] of data.perWorkload) {
    const lines = cov[m.file]?.lines;
    if (!lines) continue;
    for (let l = range[0]; l <= range[1]; l++) {
      if ((lines[l] ?? 0) > 0) {
        workloads.push(w);
        break;
      }
    }
  }
  if (workloads.length) return { status: 'reached', workloads: workloads.sort() };
  const why = unreachableReason({ ...parseSite(m.site), id: m.site });
  return why ? { status: 'unreachable', reason: why } : { status: 'not-reached' };
}

function parseSite(id: string): { file: string; function: string; callee: string } {
  const [file = '', fn = '', callee = ''] = id.split(':');
  return { file, function: fn, callee: callee.replace(/#\d+$/, '') };
}

/**
 * The per-workload counts of coverage runs (one run or its shards) of this tree. The run must
 * have been made from the same sources: a kept source that differs from the tree's is refused.
 */
export async function readReach(runDirs: readonly string[], sources: ReadonlyMap<string, string>, signal?: AbortSignal): Promise<ReachData> {
  for (const dir of runDirs) {
    const kept = join(dir, 'kernel', 'coverage', 'src');
    if (!existsSync(kept)) throw new UserError(`${dir}: no coverage inputs there (not a pinlab run --coverage directory)`);
    for (const f of COVERAGE_SOURCES) {
      const p = join(kept, f);
      if (!existsSync(p) || !sources.has(f)) continue;
      if (readFileSync(p, 'utf8') !== sources.get(f)) {
        throw new UserError(`${dir}: its ${f} is not this tree's (the coverage run built other sources)`, { hint: 'run pinlab run --coverage with the same kernel options first' });
      }
    }
  }
  const perWorkload = await workloadCoverage(runDirs, signal);
  if (perWorkload.size === 0) throw new UserError(`${runDirs.join(', ')}: no per-workload counters found`);
  return { perWorkload, from: [...runDirs] };
}
