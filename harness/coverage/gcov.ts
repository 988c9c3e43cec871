// Counts from gcc's own gcov: `gcov -j -t` on .gcda files (the .gcno beside each) prints one JSON
// document per file; this module plans that command and turns its output into per-source line,
// function and branch counts, which add up across workloads and shards. Pure but for the plan.
import type { Step } from '../exec.js';

export interface FunctionCount {
  name: string;
  startLine: number;
  endLine: number;
  count: number;
}

/** One source file's counts: line -> executions, functions, line -> branch-arc counts. */
export interface FileCoverage {
  lines: Record<string, number>;
  functions: FunctionCount[];
  branches: Record<string, number[]>;
}

/** Source path (relative to the tree, e.g. mm/gup.c) -> its counts. */
export type CoverageData = Record<string, FileCoverage>;

export function planGcov(gcdaFiles: readonly string[]): Step {
  return { phase: 'coverage:gcov', argv: ['gcov', '--json-format', '--stdout', '--branch-probabilities', ...gcdaFiles], timeoutMs: 120_000 };
}

interface GcovJsonFile {
  file: string;
  functions: { name: string; start_line: number; end_line: number; execution_count: number }[];
  lines: { line_number: number; count: number; branches: { count: number }[] }[];
}

/** The wanted source a gcov file name is (gcov records it as the compiler saw it: absolute or ../). */
export function sourceOf(recorded: string, sources: readonly string[]): string | undefined {
  const path = recorded.replace(/\\/g, '/');
  return sources.find((s) => path === s || path.endsWith(`/${s}`));
}

/** gcov's JSON lines -> counts of the wanted sources (headers inlined into them are left out). */
export function parseGcovJson(stdout: string, sources: readonly string[]): CoverageData {
  return mergeCoverage([...parseGcovByDataFile(stdout, sources).values()]);
}

/** The same, per .gcda file gcov read (its `data_file`): one gcov call can serve many workloads. */
export function parseGcovByDataFile(stdout: string, sources: readonly string[]): Map<string, CoverageData> {
  const byFile = new Map<string, CoverageData>();
  for (const line of stdout.split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    const doc = JSON.parse(line) as { data_file?: string; files?: GcovJsonFile[] };
    const out: CoverageData = {};
    byFile.set(doc.data_file ?? '', out);
    for (const f of doc.files ?? []) {
      const src = sourceOf(f.file, sources);
      if (!src) continue;
      const fc: FileCoverage = { lines: {}, functions: [], branches: {} };
      for (const l of f.lines) {
        fc.lines[l.line_number] = (fc.lines[l.line_number] ?? 0) + l.count;
        if (l.branches.length) fc.branches[l.line_number] = l.branches.map((b) => b.count);
      }
      fc.functions = f.functions.map((fn) => ({ name: fn.name, startLine: fn.start_line, endLine: fn.end_line, count: fn.execution_count }));
      out[src] = out[src] ? mergeFile(out[src]!, fc) : fc;
    }
  }
  return byFile;
}

function mergeFile(a: FileCoverage, b: FileCoverage): FileCoverage {
  const lines = { ...a.lines };
  for (const [k, v] of Object.entries(b.lines)) lines[k] = (lines[k] ?? 0) + v;
  const branches: Record<string, number[]> = { ...a.branches };
  for (const [k, v] of Object.entries(b.branches)) {
    const prev = branches[k];
    branches[k] = prev && prev.length === v.length ? prev.map((x, i) => x + v[i]!) : [...v];
  }
  const fns = new Map(a.functions.map((f) => [`${f.name}:${f.startLine}`, { ...f }]));
  for (const f of b.functions) {
    const k = `${f.name}:${f.startLine}`;
    const prev = fns.get(k);
    if (prev) prev.count += f.count;
    else fns.set(k, { ...f });
  }
  return { lines, functions: [...fns.values()].sort((x, y) => x.startLine - y.startLine), branches };
}

/** The sum of several workloads' (or shards') counts. */
export function mergeCoverage(parts: readonly CoverageData[]): CoverageData {
  const out: CoverageData = {};
  for (const p of parts) for (const [src, fc] of Object.entries(p)) out[src] = out[src] ? mergeFile(out[src]!, fc) : mergeFile({ lines: {}, functions: [], branches: {} }, fc);
  return out;
}

/** A function ran when gcov counted a call, or any of its lines ran (a static inlined into its callers has no calls of its own). */
export function functionHit(f: FunctionCount, fc: FileCoverage): boolean {
  if (f.count > 0) return true;
  for (let l = f.startLine; l <= f.endLine; l++) if ((fc.lines[l] ?? 0) > 0) return true;
  return false;
}
