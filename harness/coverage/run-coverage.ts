// A run's coverage on disk and its reports. The run directory keeps what gcov needs, so a saved run
// (or several shards) can be reported again without a VM:
//   kernel/coverage/gcno/<src>.gcno, kernel/coverage/src/<src>   (from the kernel's cache entry)
//   coverage/gcda/<workload>/<src>.gcda (+ a .gcno symlink beside each, for gcov)
// and what this module writes from them: coverage/summary.json, coverage/pinlab.info (an lcov
// tracefile, SF paths relative to the tree) and coverage/html/ (genhtml).
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { runStep, type Step } from '../exec.js';
import { COVERAGE_SOURCES } from './objects.js';
import { mergeCoverage, parseGcovByDataFile, planGcov, type CoverageData } from './gcov.js';
import { summarizeCoverage, type CoverageSummary } from './summary.js';

export const COVERAGE_RUN_DIR = 'coverage';
/** The counts over the guest's pin-evidence calibration and control, kept like a workload's. */
export const CALIBRATION_COVERAGE = '(calibration)';
const KERNEL_INPUTS = join('kernel', 'coverage');

/** Copy the kernel's gcov notes and sources into the run directory. */
export function keepCoverageInputs(kernelCoverageDir: string, runDir: string): void {
  cpSync(kernelCoverageDir, join(runDir, KERNEL_INPUTS), { recursive: true });
}

export function hasCoverageInputs(runDir: string): boolean {
  return existsSync(join(runDir, KERNEL_INPUTS, 'gcno'));
}

/** The sources this run's kernel was built with (the instrumented ones it has). */
function keptSources(runDir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const src of COVERAGE_SOURCES) {
    const f = join(runDir, KERNEL_INPUTS, 'src', src);
    if (existsSync(f)) out.set(src, readFileSync(f, 'utf8'));
  }
  return out;
}

/** Store one workload's .gcda files (base64, keyed by <src>.gcda) and link the notes beside them. */
export function writeWorkloadGcda(runDir: string, workload: string, gcda: Record<string, string>): void {
  const dir = join(runDir, COVERAGE_RUN_DIR, 'gcda', workload);
  rmSync(dir, { recursive: true, force: true });
  for (const [rel, b64] of Object.entries(gcda)) {
    const file = join(dir, rel);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, Buffer.from(b64, 'base64'));
    const note = join(runDir, KERNEL_INPUTS, 'gcno', rel.replace(/\.gcda$/, '.gcno'));
    if (existsSync(note)) symlinkSync(relative(dirname(file), note), file.replace(/\.gcda$/, '.gcno'));
  }
}

function gcdaFilesOf(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[])
    .map((rel) => join(dir, rel))
    .filter((p) => p.endsWith('.gcda') && existsSync(p.replace(/\.gcda$/, '.gcno')))
    .sort();
}

/** Each workload's counts, from the .gcda files of one or more run directories (shards). */
export async function workloadCoverage(runDirs: readonly string[], signal?: AbortSignal): Promise<Map<string, CoverageData>> {
  const owner = new Map<string, string>();
  for (const runDir of runDirs) {
    const root = join(runDir, COVERAGE_RUN_DIR, 'gcda');
    if (!existsSync(root)) continue;
    for (const w of readdirSync(root).sort()) for (const f of gcdaFilesOf(join(root, w))) owner.set(f, w);
  }
  const files = [...owner.keys()];
  const parts = new Map<string, CoverageData[]>();
  // a few gcov processes side by side over all workloads' files (one per workload spent its
  // time starting up; one for all used a single core)
  const n = Math.max(1, Math.min(availableParallelism(), Math.ceil(files.length / 50)));
  const size = Math.ceil(files.length / n);
  const batches = Array.from({ length: n }, (_, i) => files.slice(i * size, (i + 1) * size)).filter((b) => b.length > 0);
  const outputs = await Promise.all(batches.map((b) => runStep(planGcov(b), { signal })));
  for (const r of outputs) {
    for (const [dataFile, data] of parseGcovByDataFile(r.stdout, COVERAGE_SOURCES)) {
      const w = owner.get(dataFile);
      if (w === undefined) throw new Error(`gcov reported ${dataFile}, which was not asked for`);
      parts.set(w, [...(parts.get(w) ?? []), data]);
    }
  }
  return new Map([...parts].sort(([a], [b]) => a.localeCompare(b)).map(([w, p]) => [w, mergeCoverage(p)]));
}

/** The lcov tracefile of counts (SF paths relative to the tree: genhtml runs in the kept sources). */
export function lcovTracefile(data: CoverageData, testName = 'pinlab'): string {
  const out: string[] = [];
  for (const src of Object.keys(data).sort()) {
    const fc = data[src]!;
    out.push(`TN:${testName}`, `SF:${src}`);
    for (const f of fc.functions) out.push(`FN:${f.startLine},${f.name}`);
    for (const f of fc.functions) out.push(`FNDA:${f.count},${f.name}`);
    out.push(`FNF:${fc.functions.length}`, `FNH:${fc.functions.filter((f) => f.count > 0).length}`);
    let brf = 0;
    let brh = 0;
    for (const [line, arcs] of Object.entries(fc.branches).sort(([a], [b]) => Number(a) - Number(b))) {
      const lineRan = (fc.lines[line] ?? 0) > 0;
      arcs.forEach((c, i) => {
        out.push(`BRDA:${line},0,${i},${lineRan ? c : '-'}`);
        brf++;
        if (c > 0) brh++;
      });
    }
    out.push(`BRF:${brf}`, `BRH:${brh}`);
    const lines = Object.entries(fc.lines).sort(([a], [b]) => Number(a) - Number(b));
    for (const [line, c] of lines) out.push(`DA:${line},${c}`);
    out.push(`LF:${lines.length}`, `LH:${lines.filter(([, c]) => c > 0).length}`, 'end_of_record');
  }
  return `${out.join('\n')}\n`;
}

export function planGenhtml(runDir: string): Step {
  return {
    phase: 'coverage:genhtml',
    argv: ['genhtml', '--quiet', '--branch-coverage', '--title', 'pinlab pin-path coverage', '--output-directory', join(runDir, COVERAGE_RUN_DIR, 'html'), join(runDir, COVERAGE_RUN_DIR, 'pinlab.info')],
    cwd: join(runDir, KERNEL_INPUTS, 'src'),
    timeoutMs: 300_000,
  };
}

export interface CoverageReport {
  summary: CoverageSummary;
  /** relative to the run directory */
  tracefile: string;
  html?: string;
  /** why there is no HTML report (genhtml missing or failed) */
  htmlProblem?: string;
}

/**
 * Report the coverage of `runDirs` (one run, or the shards of one) into `outDir`: counts per
 * workload and for the whole, the summary, the lcov tracefile and genhtml's HTML.
 */
export async function reportCoverage(runDirs: readonly string[], outDir: string, signal?: AbortSignal): Promise<CoverageReport | undefined> {
  const inputsFrom = runDirs.find(hasCoverageInputs);
  if (!inputsFrom) return undefined;
  if (outDir !== inputsFrom && !hasCoverageInputs(outDir)) cpSync(join(inputsFrom, KERNEL_INPUTS), join(outDir, KERNEL_INPUTS), { recursive: true });
  const perWorkload = await workloadCoverage(runDirs, signal);
  const total = mergeCoverage([...perWorkload.values()]);
  const summary = summarizeCoverage(perWorkload, total, keptSources(outDir));
  const dir = join(outDir, COVERAGE_RUN_DIR);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(dir, 'pinlab.info'), lcovTracefile(total));
  const report: CoverageReport = { summary, tracefile: `${COVERAGE_RUN_DIR}/pinlab.info` };
  const r = await runStep(planGenhtml(outDir), { signal, allowFailure: true }).catch((e: Error) => ({ exitCode: -1, stderr: e.message, stdout: '', durationMs: 0 }));
  if (r.exitCode === 0) report.html = `${COVERAGE_RUN_DIR}/html/index.html`;
  else report.htmlProblem = `genhtml exited ${r.exitCode}: ${r.stderr.trim().split('\n').pop() ?? ''}`;
  return report;
}
