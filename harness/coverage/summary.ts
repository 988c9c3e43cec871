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
  /** function coverage (ftrace): the site's function cannot be traced on this kernel */
  untraceable?: string;
}

/** The run's figures (run.json's coverage, without its file names) and every site's row. */
export interface CoverageSummary extends Pick<RunCoverage, 'method' | 'files' | 'total' | 'pinFunctionLines' | 'pinFunctions' | 'sites'> {
  siteRows: SiteRow[];
}

/** run.json's coverage: the figures, the gaps by id, and where the reports are. */
export function runCoverage(s: CoverageSummary, files: { tracefile: string; html?: string; htmlProblem?: string }): RunCoverage {
  const { siteRows, ...figures } = s;
  return { ...figures, notReached: siteRows.filter((r) => !r.reached && !r.unreachable && !r.untraceable).map((r) => r.id), ...files };
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

export const UNTRACEABLE = 'the function holding it is not traceable on this kernel (inlined, or not in this version): the function tracer cannot tell';

/** A site ran when any line of its call ran. */
export function siteReached(site: PinSite, fc: FileCoverage | undefined): boolean {
  if (!fc) return false;
  for (let l = site.line; l <= site.endLine; l++) if ((fc.lines[l] ?? 0) > 0) return true;
  return false;
}

/**
 * The run's coverage. `perWorkload` holds each workload's own counts (counters reset before it,
 * read after it); the run's counts are their sum. `sources` maps each instrumented source to its
 * text (the pin-site finder reads the tree that was built). method 'ftrace': the counts are
 * function hits from the function tracer (coverage/ftrace.ts), so a site counts as reached when
 * its function ran, and a site whose function the kernel cannot trace is untraceable.
 */
export function summarizeCoverage(perWorkload: ReadonlyMap<string, CoverageData>, total: CoverageData, sources: ReadonlyMap<string, string>, method: RunCoverage['method'] = 'gcov'): CoverageSummary {
  const files = [...sources.keys()].filter((f) => total[f]).sort().map((f) => fileSummary(f, total[f]!));
  const sum = files.reduce((acc, f) => ({ lines: add(acc.lines, f.lines), functions: add(acc.functions, f.functions), branches: add(acc.branches, f.branches) }), {
    lines: ratio(0, 0),
    functions: ratio(0, 0),
    branches: ratio(0, 0),
  });
  const siteRows: SiteRow[] = [];
  let pinFunctionLines = ratio(0, 0);
  const pinFunctionsSeen = new Map<string, boolean>();
  for (const [file, text] of [...sources].sort(([a], [b]) => a.localeCompare(b))) {
    const fc = total[file];
    if (!fc) continue; // not built into this kernel
    const sites = withIds(findPinSites(file, text));
    for (const s of sites) {
      if (method === 'ftrace') {
        const fn = fc.functions.find((f) => f.name === s.function);
        const ranIn = (d: CoverageData): boolean => (d[file]?.functions.find((f) => f.name === s.function)?.count ?? 0) > 0;
        const workloads = [...perWorkload].filter(([, d]) => ranIn(d)).map(([w]) => w).sort();
        const reached = (fn?.count ?? 0) > 0;
        if (fn) pinFunctionsSeen.set(`${file}:${fn.name}`, reached);
        const extra = reached ? {} : !fn ? { untraceable: UNTRACEABLE } : unreachableReason(s) ? { unreachable: unreachableReason(s)! } : {};
        siteRows.push({ ...s, reached, workloads, ...extra });
        continue;
      }
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
  const untraceable = siteRows.filter((s) => !s.reached && s.untraceable).length;
  const compiledOut = siteRows.filter((s) => !s.reached && s.unreachable === COMPILED_OUT).length;
  const seen = [...pinFunctionsSeen.values()];
  return {
    method,
    files,
    total: sum,
    pinFunctionLines,
    ...(method === 'ftrace' ? { pinFunctions: ratio(seen.filter(Boolean).length, seen.length) } : {}),
    sites: {
      total: siteRows.length,
      reached,
      unreachable,
      notReached: siteRows.length - reached - unreachable - untraceable,
      ...(method === 'ftrace' ? { untraceable } : { compiledOut }),
    },
    siteRows,
  };
}

/** The terminal's short table (per file: lines, functions, branches hit) and the reachable pin sites no workload ran. */
export function formatCoverageTable(c: RunCoverage): string {
  // the function tracer sees functions only: no line or branch figures to show
  const cell = (r: Ratio): string => (c.method === 'ftrace' && r.total === 0 ? '-' : fmt(r));
  const rows = c.files.map((f) => [f.file, cell(f.lines), fmt(f.functions), cell(f.branches)]);
  rows.push(['total', cell(c.total.lines), fmt(c.total.functions), cell(c.total.branches)]);
  // ftrace: the functions traced are those holding a pin site (coverage/ftrace.ts)
  const head = ['FILE', 'LINES', c.method === 'ftrace' ? 'PIN-SITE FUNCTIONS' : 'FUNCTIONS', 'BRANCHES'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
  const out = [line(head), ...rows.map(line)];
  if (c.method === 'ftrace') {
    out.push(
      `pin sites (function level, from the function tracer): ${c.sites.reached}/${c.sites.total} in a function that ran, ${c.sites.unreachable} unreachable (reviewed), ${c.sites.untraceable ?? 0} in functions this kernel cannot trace, ${c.sites.notReached} reachable but not reached; functions holding a pin site ${fmt(c.pinFunctions ?? ratio(0, 0))} ran`,
    );
  } else {
    out.push(
      `pin sites: ${c.sites.reached}/${c.sites.total} reached, ${c.sites.unreachable} unreachable (${unreachableParts(c.sites)}), ${c.sites.notReached} reachable but not reached; lines of the functions holding a pin site ${fmt(c.pinFunctionLines)}`,
    );
  }
  for (const id of c.notReached) out.push(`  not reached: ${id}`);
  out.push(c.html ? `coverage report: ${c.html} (tracefile ${c.tracefile})` : `coverage tracefile: ${c.tracefile}${c.htmlProblem ? ` (no HTML: ${c.htmlProblem})` : ''}`);
  return `${out.join('\n')}\n`;
}

/**
 * The unreachable sites split: those with no code in this build (a config or architecture folds
 * their condition to a constant) and the reviewed rest, also as a share of the sites the build
 * has code for. Runs saved before the split say only "compiled out, or reviewed".
 */
function unreachableParts(s: CoverageSummary['sites']): string {
  const share = reviewedShare(s);
  if (!share) return 'compiled out, or reviewed: harness/coverage/unreachable.ts';
  return `${s.compiledOut} compiled out of this build, ${share.hit} reviewed: harness/coverage/unreachable.ts, ${fmt(share)} of the ${share.total} sites built`;
}

/**
 * The sites left to the reviewed unreachable list (not reached, listed, with code in this build)
 * over the sites the build has code for; undefined for runs saved before the compiled-out split.
 */
export function reviewedShare(s: CoverageSummary['sites']): Ratio | undefined {
  if (s.compiledOut === undefined) return undefined;
  return ratio(s.unreachable - s.compiledOut, s.total - s.compiledOut);
}

function fmt(r: Ratio): string {
  return `${r.hit}/${r.total} ${percent(r)}`;
}
