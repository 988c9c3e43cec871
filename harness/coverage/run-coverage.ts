// A run's coverage on disk and its reports. The run directory keeps what gcov needs, so a saved run
// (or several shards) can be reported again without a VM:
//   kernel/coverage/gcno/<src>.gcno, kernel/coverage/src/<src>   (from the kernel's cache entry)
//   coverage/gcda/<workload>/<src>.gcda (+ a .gcno symlink beside each, for gcov)
// and what this module writes from them: coverage/summary.json, coverage/pinlab.info (an lcov
// tracefile, SF paths relative to the tree) and coverage/html/ (genhtml).
// Kernels without gcov (prebuilt images) get function coverage from the function tracer
// (coverage/ftrace.ts): kernel/coverage/src/<src> from the series' source, the functions the
// kernel could trace in coverage/ftrace-traceable.json, and each workload's hits in its
// observation (functionHits); the same reports follow, functions only.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { runStep, type Step } from '../exec.js';
import { HostError } from '../errors.js';
import type { RunContext } from '../context.js';
import { paths } from '../config.js';
import { readObservations, RUN_LAYOUT } from '../rundir.js';
import { COVERAGE_SOURCES } from './objects.js';
import { ftraceCoverageData, planExtractSources, seriesOf, seriesSource, sourceFunctions, traceFunctionNames } from './ftrace.js';
import { mergeCoverage, parseGcovByDataFile, planGcov, type CoverageData } from './gcov.js';
import { summarizeCoverage, type CoverageSummary } from './summary.js';

export const COVERAGE_RUN_DIR = RUN_LAYOUT.coverage;
/** The counts over the guest's pin-evidence calibration and control, kept like a workload's. */
export const CALIBRATION_COVERAGE = '(calibration)';
const KERNEL_INPUTS = join(RUN_LAYOUT.kernel, 'coverage');

/** Copy the kernel's gcov notes and sources into the run directory. */
export function keepCoverageInputs(kernelCoverageDir: string, runDir: string): void {
  cpSync(kernelCoverageDir, join(runDir, KERNEL_INPUTS), { recursive: true });
}

export function hasCoverageInputs(runDir: string): boolean {
  return existsSync(join(runDir, KERNEL_INPUTS, 'gcno'));
}

const FTRACE_TRACEABLE = join(COVERAGE_RUN_DIR, 'ftrace-traceable.json');

function hasFtraceInputs(runDir: string): boolean {
  return existsSync(join(runDir, FTRACE_TRACEABLE)) && existsSync(join(runDir, KERNEL_INPUTS, 'src'));
}

/**
 * Function coverage for a kernel without gcov: the pin-path sources of its series (Debian's
 * linux-source-X.Y, extracted once into the cache) kept in the run directory, and the names to
 * trace. Throws HostError when the series has no source package here.
 */
export async function prepareFunctionCoverage(release: string, runDir: string, ctx: RunContext): Promise<{ series: string; names: string[] }> {
  const series = seriesOf(release);
  if (!series) throw new HostError(`function coverage: cannot tell the series of kernel release '${release}'`);
  const { pkg, tarball } = seriesSource(series);
  if (!existsSync(tarball)) throw new HostError(`function coverage needs the ${series} source: ${tarball} is missing`, { hint: `apt-get install -y ${pkg}` });
  const dir = join(paths.coverageSources(), `${pkg}-${statSync(tarball).mtimeMs.toFixed(0)}`);
  if (!existsSync(join(dir, '.done'))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    await runStep(planExtractSources(tarball, dir, COVERAGE_SOURCES), { signal: ctx.signal });
    writeFileSync(join(dir, '.done'), `${tarball}\n`);
  }
  const sources = new Map<string, string>();
  for (const src of COVERAGE_SOURCES) {
    const f = join(dir, src);
    if (!existsSync(f)) continue;
    const text = readFileSync(f, 'utf8');
    sources.set(src, text);
    mkdirSync(dirname(join(runDir, KERNEL_INPUTS, 'src', src)), { recursive: true });
    writeFileSync(join(runDir, KERNEL_INPUTS, 'src', src), text);
  }
  return { series, names: traceFunctionNames(sources) };
}

/** The functions of the trace list this kernel could trace (the runner's hello). */
export function writeFtraceTraceable(runDir: string, names: readonly string[]): void {
  mkdirSync(join(runDir, COVERAGE_RUN_DIR), { recursive: true });
  writeFileSync(join(runDir, FTRACE_TRACEABLE), `${JSON.stringify([...names].sort(), null, 1)}\n`);
}

/** Each workload's function hits as coverage data, from the observations of one or more run directories. */
function ftraceWorkloadCoverage(runDirs: readonly string[], sources: ReadonlyMap<string, string>): Map<string, CoverageData> {
  const functions = sourceFunctions(sources);
  const out = new Map<string, CoverageData>();
  for (const runDir of runDirs) {
    if (!existsSync(join(runDir, FTRACE_TRACEABLE))) continue;
    const traceable = new Set(JSON.parse(readFileSync(join(runDir, FTRACE_TRACEABLE), 'utf8')) as string[]);
    for (const obs of readObservations(runDir)) {
      if (obs.functionHits) out.set(obs.spec.name, ftraceCoverageData(obs.functionHits, traceable, functions));
    }
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
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
    // function coverage (the tracer) has no line counts: each function's first line stands for
    // its entry, so genhtml has lines to show
    const entries = Object.keys(fc.lines).length === 0 ? Object.fromEntries(fc.functions.map((f) => [String(f.startLine), f.count])) : fc.lines;
    const lines = Object.entries(entries).sort(([a], [b]) => Number(a) - Number(b));
    for (const [line, c] of lines) out.push(`DA:${line},${c}`);
    out.push(`LF:${lines.length}`, `LH:${lines.filter(([, c]) => c > 0).length}`, 'end_of_record');
  }
  return `${out.join('\n')}\n`;
}

export function planGenhtml(runDir: string, method: 'gcov' | 'ftrace' = 'gcov'): Step {
  const what = method === 'gcov' ? ['--branch-coverage', '--title', 'pinlab pin-path coverage'] : ['--title', 'pinlab pin-path function coverage (function tracer)'];
  return {
    phase: 'coverage:genhtml',
    argv: ['genhtml', '--quiet', ...what, '--output-directory', join(runDir, COVERAGE_RUN_DIR, 'html'), join(runDir, COVERAGE_RUN_DIR, 'pinlab.info')],
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
  const gcovFrom = runDirs.find(hasCoverageInputs);
  const inputsFrom = gcovFrom ?? runDirs.find(hasFtraceInputs);
  if (!inputsFrom) return undefined;
  const method = gcovFrom ? 'gcov' : 'ftrace';
  if (outDir !== inputsFrom && !existsSync(join(outDir, KERNEL_INPUTS, 'src'))) cpSync(join(inputsFrom, KERNEL_INPUTS), join(outDir, KERNEL_INPUTS), { recursive: true });
  const perWorkload = method === 'gcov' ? await workloadCoverage(runDirs, signal) : ftraceWorkloadCoverage(runDirs, keptSources(outDir));
  const total = mergeCoverage([...perWorkload.values()]);
  const summary = summarizeCoverage(perWorkload, total, keptSources(outDir), method);
  const dir = join(outDir, COVERAGE_RUN_DIR);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(dir, 'pinlab.info'), lcovTracefile(total));
  const report: CoverageReport = { summary, tracefile: `${COVERAGE_RUN_DIR}/pinlab.info` };
  const r = await runStep(planGenhtml(outDir, method), { signal, allowFailure: true }).catch((e: Error) => ({ exitCode: -1, stderr: e.message, stdout: '', durationMs: 0 }));
  if (r.exitCode === 0) report.html = `${COVERAGE_RUN_DIR}/html/index.html`;
  else report.htmlProblem = `genhtml exited ${r.exitCode}: ${r.stderr.trim().split('\n').pop() ?? ''}`;
  return report;
}
