// What a run covered: per file lines/functions/branches hit, the line coverage of the functions
// that hold a pin site, and every pin site reached or not, with the workloads that reached it and
// the reviewed reason of each site user space cannot reach. Pure: counts and sources in.
import { functionHit, type CoverageData, type FileCoverage } from './gcov.js';
import { findPinSites, withIds, type PinSite } from './sites.js';
import { unreachableReason } from './unreachable.js';
import type { CoverageRatio as Ratio, RunCoverage } from '../verdict/types.js';

export type { CoverageRatio as Ratio } from '../verdict/types.js';
export type FileSummary = RunCoverage['files'][number];

export interface SiteRow extends PinSite {
  id: string;
  reached: boolean;
  /** workloads whose counts ran the site's lines */
  workloads: string[];
  /** reviewed: why user space cannot reach it (harness/coverage/unreachable.ts) */
  unreachable?: string;
}

/** The run's figures (run.json's coverage, without its file names) and every site's row. */
export interface CoverageSummary extends Pick<RunCoverage, 'method' | 'files' | 'total' | 'pinFunctionLines' | 'sites'> {
  siteRows: SiteRow[];
}

/** run.json's coverage: the figures, the gaps by id, and where the reports are. */
export function runCoverage(s: CoverageSummary, files: { tracefile: string; html?: string; htmlProblem?: string }): RunCoverage {
  const { siteRows, ...figures } = s;
  return { ...figures, notReached: siteRows.filter((r) => !r.reached && !r.unreachable).map((r) => r.id), ...files };
}

const ratio = (hit: number, total: number): Ratio => ({ hit, total });
const add = (a: Ratio, b: Ratio): Ratio => ratio(a.hit + b.hit, a.total + b.total);

export function percent(r: Ratio): string {
  return r.total === 0 ? '-' : `${((100 * r.hit) / r.total).toFixed(1)}%`;
}

function fileSummary(file: string, fc: FileCoverage): FileSummary {
  const lines = Object.values(fc.lines);
  const arcs = Object.values(fc.branches).flat();
  return {
    file,
    lines: ratio(lines.filter((c) => c > 0).length, lines.length),
    functions: ratio(fc.functions.filter((f) => functionHit(f, fc)).length, fc.functions.length),
    branches: ratio(arcs.filter((c) => c > 0).length, arcs.length),
  };
}

/** No line of the site's call carries a counter: the compiler generated no code for it in this
 * build (a config-dependent helper folded to a constant, a branch proven dead). */
export function siteCompiledOut(site: PinSite, fc: FileCoverage): boolean {
  for (let l = site.line; l <= site.endLine; l++) if (fc.lines[l] !== undefined) return false;
  return true;
}

export const COMPILED_OUT = 'no code was generated for this call in this build (its condition is constant under this config)';

/** A site ran when any line of its call ran. */
export function siteReached(site: PinSite, fc: FileCoverage | undefined): boolean {
  if (!fc) return false;
  for (let l = site.line; l <= site.endLine; l++) if ((fc.lines[l] ?? 0) > 0) return true;
  return false;
}

/**
 * The run's coverage. `perWorkload` holds each workload's own counts (counters reset before it,
 * read after it); the run's counts are their sum. `sources` maps each instrumented source to its
 * text (the pin-site finder reads the tree that was built).
 */
export function summarizeCoverage(perWorkload: ReadonlyMap<string, CoverageData>, total: CoverageData, sources: ReadonlyMap<string, string>): CoverageSummary {
  const files = [...sources.keys()].filter((f) => total[f]).sort().map((f) => fileSummary(f, total[f]!));
  const sum = files.reduce((acc, f) => ({ lines: add(acc.lines, f.lines), functions: add(acc.functions, f.functions), branches: add(acc.branches, f.branches) }), {
    lines: ratio(0, 0),
    functions: ratio(0, 0),
    branches: ratio(0, 0),
  });
  const siteRows: SiteRow[] = [];
  let pinFunctionLines = ratio(0, 0);
  for (const [file, text] of [...sources].sort(([a], [b]) => a.localeCompare(b))) {
    const fc = total[file];
    if (!fc) continue; // not built into this kernel
    const sites = withIds(findPinSites(file, text));
    for (const s of sites) {
      const workloads = [...perWorkload].filter(([, d]) => siteReached(s, d[file])).map(([w]) => w).sort();
      const reached = siteReached(s, fc);
      const why = reached ? undefined : siteCompiledOut(s, fc) ? COMPILED_OUT : unreachableReason(s);
      siteRows.push({ ...s, reached, workloads, ...(why ? { unreachable: why } : {}) });
    }
    const siteLines = new Set(sites.map((s) => s.line));
    for (const fn of fc.functions) {
      if (![...siteLines].some((l) => l >= fn.startLine && l <= fn.endLine)) continue;
      const ls = Object.entries(fc.lines).filter(([l]) => Number(l) >= fn.startLine && Number(l) <= fn.endLine);
      pinFunctionLines = add(pinFunctionLines, ratio(ls.filter(([, c]) => c > 0).length, ls.length));
    }
  }
  const reached = siteRows.filter((s) => s.reached).length;
  const unreachable = siteRows.filter((s) => !s.reached && s.unreachable).length;
  return {
    method: 'gcov',
    files,
    total: sum,
    pinFunctionLines,
    sites: { total: siteRows.length, reached, unreachable, notReached: siteRows.length - reached - unreachable },
    siteRows,
  };
}

/** The terminal's short table (per file: lines, functions, branches hit) and the reachable pin sites no workload ran. */
export function formatCoverageTable(c: RunCoverage): string {
  const rows = c.files.map((f) => [f.file, fmt(f.lines), fmt(f.functions), fmt(f.branches)]);
  rows.push(['total', fmt(c.total.lines), fmt(c.total.functions), fmt(c.total.branches)]);
  const head = ['FILE', 'LINES', 'FUNCTIONS', 'BRANCHES'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
  const out = [line(head), ...rows.map(line)];
  out.push(
    `pin sites: ${c.sites.reached}/${c.sites.total} reached, ${c.sites.unreachable} unreachable (compiled out, or reviewed: harness/coverage/unreachable.ts), ${c.sites.notReached} reachable but not reached; lines of the functions holding a pin site ${fmt(c.pinFunctionLines)}`,
  );
  for (const id of c.notReached) out.push(`  not reached: ${id}`);
  out.push(c.html ? `coverage report: ${c.html} (tracefile ${c.tracefile})` : `coverage tracefile: ${c.tracefile}${c.htmlProblem ? ` (no HTML: ${c.htmlProblem})` : ''}`);
  return `${out.join('\n')}\n`;
}

function fmt(r: Ratio): string {
  return `${r.hit}/${r.total} ${percent(r)}`;
}
