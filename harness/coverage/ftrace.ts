// Function-level coverage of kernels built without gcov (prebuilt images): the function tracer,
// which already records each workload's path, also records which of the pin-path sources'
// functions that hold a pin site ran. The functions and the pin sites come from the source of the kernel's series
// (Debian's linux-source-X.Y, the same finder as gcov coverage); a function the running kernel
// cannot trace (inlined, or absent from this version) is reported as such, never as not run.
// Pure but for the plans.
import { basename, dirname } from 'node:path';
import type { Step } from '../exec.js';
import type { CoverageData } from './gcov.js';
import { blankComments, findPinSites, functionBodies, type FunctionBody } from './sites.js';

/** "6.1" of "6.1.0-57-amd64", "6.12" of "6.12.118+" */
export function seriesOf(release: string): string | undefined {
  return /^(\d+\.\d+)/.exec(release)?.[1];
}

/** Debian's source package of a series, and where its tarball lands. */
export function seriesSource(series: string): { pkg: string; tarball: string } {
  return { pkg: `linux-source-${series}`, tarball: `/usr/src/linux-source-${series}.tar.xz` };
}

/**
 * Extract the directories holding `sources` from a linux-source tarball into `dest` (its top
 * directory, the tarball's name, stripped). Whole directories: a file that one series lacks
 * (e.g. io_uring/memmap.c before 6.10) must not fail the extraction; one pattern a directory, not
 * matching across slashes, so no pattern is left without a match.
 */
export function planExtractSources(tarball: string, dest: string, sources: readonly string[]): Step {
  const top = basename(tarball).replace(/\.tar(\.\w+)?$/, '');
  const dirs = [...new Set(sources.map((s) => dirname(s)))].sort();
  return {
    phase: 'coverage:sources',
    argv: ['tar', '-xf', tarball, '-C', dest, '--strip-components=1', '--wildcards', '--no-wildcards-match-slash', ...dirs.map((d) => `${top}/${d}/*.c`)],
    timeoutMs: 300_000,
  };
}

/** Every function body of each source, by file. */
export function sourceFunctions(sources: ReadonlyMap<string, string>): Map<string, FunctionBody[]> {
  return new Map([...sources].map(([file, text]) => [file, functionBodies(blankComments(text).split('\n'))]));
}

/**
 * The names to give the function tracer: the functions that hold a pin site, once. Not every
 * function of the sources: set_ftrace_filter matches each name against every traceable function
 * of the kernel, and ~400 names took minutes on a Debian 6.12 image under TCG.
 */
export function traceFunctionNames(sources: ReadonlyMap<string, string>): string[] {
  return [...new Set([...sources].flatMap(([file, text]) => findPinSites(file, text).map((s) => s.function)))].filter((n) => n !== '(unknown)').sort();
}

/**
 * One workload's function hits as coverage data: per source, its traceable functions with count
 * 1 (ran) or 0; no line or branch counts (the tracer sees functions only).
 */
export function ftraceCoverageData(hits: Iterable<string>, traceable: ReadonlySet<string>, functions: ReadonlyMap<string, readonly FunctionBody[]>): CoverageData {
  const ran = new Set(hits);
  const data: CoverageData = {};
  for (const [file, fns] of functions) {
    data[file] = {
      lines: {},
      branches: {},
      functions: fns.filter((f) => traceable.has(f.name)).map((f) => ({ name: f.name, startLine: f.startLine, endLine: f.endLine, count: ran.has(f.name) ? 1 : 0 })),
    };
  }
  return data;
}
