// --kcidb FILE: KernelCI's KCIDB I/O schema v5.3 (vendor/kcidb/, validated in a test), the way
// pinlab's results reach KernelCI: one checkout (source + patchset), one build, one test per
// workload with path pinlab.<target>.<engine>.<buffer>[.<fault>].
//
// Status mapping:
//   PASS -> PASS; FAIL -> FAIL; SKIP -> SKIP
//   ERROR with cause build or harness -> MISS (the test never ran: nothing is known about the
//     code); other causes (boot, guest, timeout, path-not-reached) -> ERROR (it started and
//     could not conclude). A build failure also sets the build's status to FAIL.
//   XFAIL -> FAIL, plus an `issue` (pinlab:known-state.<id>) and an `incident` linking the test
//     to it, with misc.pinlab_status = "XFAIL" and misc.known_state. Reporting PASS would hide a
//     real defect of the reference kernel (stock 6.1 does not pin); KCIDB's own answer to "this
//     failure is known" is issue + incident, which KernelCI's triage uses to keep known failures
//     out of new-regression reports. A regression there is a status change on the same test path,
//     and a known-state test fails on every revision of that kernel, so it never shows as one.
// `number` carries the pins the workload acquired; all numbers are in misc.numbers.
import { createHash } from 'node:crypto';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RunResult, Verdict } from '../verdict/types.js';
import { numbersText, sortVerdicts, workloadDurationMs, workloadParts } from './common.js';

export const KCIDB_VERSION = { major: 5, minor: 3 } as const;
export const KCIDB_LOG_EXCERPT_MAX = 16384;

export type KcidbStatus = 'FAIL' | 'ERROR' | 'MISS' | 'PASS' | 'DONE' | 'SKIP';

export interface KcidbResource {
  name: string;
  url: string;
}

export interface KcidbCheckout {
  id: string;
  origin: string;
  tree_name?: string;
  git_repository_url?: string;
  git_commit_hash?: string;
  patchset_files?: KcidbResource[];
  patchset_hash?: string;
  comment?: string;
  start_time?: string;
  origin_tests_finish_time?: string;
  valid?: boolean;
  misc?: Record<string, unknown>;
}

export interface KcidbBuild {
  id: string;
  origin: string;
  checkout_id: string;
  architecture?: string;
  config_name?: string;
  status?: KcidbStatus;
  comment?: string;
  misc?: Record<string, unknown>;
}

export interface KcidbTest {
  id: string;
  origin: string;
  build_id: string;
  path?: string;
  status?: KcidbStatus;
  comment?: string;
  number?: { value: number; unit?: string; prefix?: 'metric' | 'binary' };
  duration?: number;
  start_time?: string;
  log_excerpt?: string;
  environment?: { comment?: string; misc?: Record<string, unknown> };
  misc?: Record<string, unknown>;
}

export interface KcidbIssue {
  id: string;
  version: number;
  origin: string;
  comment?: string;
  culprit?: { code?: boolean; tool?: boolean; harness?: boolean };
  misc?: Record<string, unknown>;
}

export interface KcidbIncident {
  id: string;
  origin: string;
  issue_id: string;
  issue_version: number;
  test_id?: string;
  build_id?: string;
  present?: boolean;
  comment?: string;
}

export interface KcidbReport {
  version: { major: number; minor?: number };
  checkouts?: KcidbCheckout[];
  builds?: KcidbBuild[];
  tests?: KcidbTest[];
  issues?: KcidbIssue[];
  incidents?: KcidbIncident[];
}

export interface KcidbOptions {
  /** KCIDB origin (the submitting CI system), [a-z0-9_]+ */
  origin?: string;
  /** e.g. "mainline", "stable"; defaults to the profile name */
  treeName?: string;
  /** the https:// URL of the source repository, when the kernel came from git */
  gitRepositoryUrl?: string;
  /**
   * Base URL where the run directory is published; patch files are linked below it
   * (<url>/patches/<file>). Without it they are file:// URLs, fine for local inspection,
   * to be replaced before submitting to KernelCI.
   */
  artifactsUrl?: string;
  architecture?: string;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** KCIDB's patchset hash: sha256 over the newline-terminated sha256 of each patch, in order. */
export function kcidbPatchsetHash(patchSha256s: readonly string[]): string {
  if (patchSha256s.length === 0) return '';
  return sha256(patchSha256s.map((h) => `${h}\n`).join(''));
}

/** Path segments may only hold [a-zA-Z0-9_-]. */
function pathSegment(text: string): string {
  return text.replace(/[^a-zA-Z0-9_-]/g, '_') || '_';
}

export function kcidbTestPath(v: Verdict): string {
  const p = workloadParts(v);
  return ['pinlab', p.target, p.engine, p.buffer, ...(p.fault ? [p.fault] : [])].map(pathSegment).join('.');
}

export function kcidbStatus(v: Verdict): KcidbStatus {
  switch (v.status) {
    case 'PASS':
      return 'PASS';
    case 'FAIL':
    case 'XFAIL':
      return 'FAIL';
    case 'SKIP':
      return 'SKIP';
    case 'ERROR':
      return v.cause === 'build' || v.cause === 'harness' ? 'MISS' : 'ERROR';
  }
}

/** NUL is the one character KCIDB strings may not hold. */
function kcidbText(text: string): string {
  return text.replace(/\0/g, '\\0');
}

function logExcerpt(v: Verdict): string {
  const lines = [`${v.status} ${v.name}: ${v.message}`];
  const numbers = numbersText(v);
  if (numbers) lines.push(numbers);
  if (v.path.length > 0) lines.push(`path: ${v.path.join(' ')}`);
  for (const s of v.splats) lines.push('', `${s.kind}: ${s.title}`, ...s.lines);
  const text = kcidbText(`${lines.join('\n')}\n`);
  // maxLength counts UTF-16 code units in JSON Schema validators that use JS strings; keep the
  // beginning, where the title and the numbers are.
  return text.length <= KCIDB_LOG_EXCERPT_MAX ? text : `${text.slice(0, KCIDB_LOG_EXCERPT_MAX - 16)}\n[truncated]\n`;
}

function gitCommitOf(source: string): string | undefined {
  const m = /@([0-9a-f]{40})$/.exec(source);
  return m?.[1];
}

export function kcidbCheckoutId(r: RunResult, origin = 'pinlab'): string {
  const k = r.kernel;
  const patchset = k.patchsetHash ?? kcidbPatchsetHash(k.patches.map((p) => p.sha256));
  return `${origin}:${sha256(`${k.source}\n${patchset}`).slice(0, 32)}`;
}

export function kcidbBuildId(r: RunResult, origin = 'pinlab'): string {
  const k = r.kernel;
  const key = k.buildKey ?? sha256(`${kcidbCheckoutId(r, origin)}\n${k.configSha256 ?? ''}`).slice(0, 32);
  return `${origin}:${key}`;
}

function patchUrl(file: string, opts: KcidbOptions): string {
  if (opts.artifactsUrl) return `${opts.artifactsUrl.replace(/\/+$/, '')}/patches/${encodeURIComponent(basename(file))}`;
  return pathToFileURL(resolve(file)).href;
}

function knownStateIssueId(origin: string, knownState: string): string {
  return `${origin}:known-state.${knownState}`;
}

function runToKcidb(r: RunResult, opts: KcidbOptions): Required<Omit<KcidbReport, 'version'>> {
  const origin = opts.origin ?? 'pinlab';
  const k = r.kernel;
  const checkoutId = kcidbCheckoutId(r, origin);
  const buildId = kcidbBuildId(r, origin);
  const gitCommit = gitCommitOf(k.source);
  const treeName = opts.treeName ?? k.profile;
  const checkout: KcidbCheckout = {
    id: checkoutId,
    origin,
    ...(treeName ? { tree_name: treeName } : {}),
    ...(opts.gitRepositoryUrl ? { git_repository_url: opts.gitRepositoryUrl } : {}),
    ...(gitCommit ? { git_commit_hash: gitCommit } : {}),
    patchset_files: k.patches.map((p) => ({ name: basename(p.file), url: patchUrl(p.file, opts) })),
    patchset_hash: k.patchsetHash ?? kcidbPatchsetHash(k.patches.map((p) => p.sha256)),
    comment: kcidbText(k.release ? `${k.source} (${k.release})` : k.source),
    valid: true,
    misc: { source: k.source, ...(k.profile ? { profile: k.profile } : {}) },
  };
  const buildFailed = r.verdicts.some((v) => v.status === 'ERROR' && v.cause === 'build');
  const build: KcidbBuild = {
    id: buildId,
    origin,
    checkout_id: checkoutId,
    architecture: opts.architecture ?? 'x86_64',
    config_name: k.profile ? `pinlab-${k.profile}` : 'pinlab',
    status: buildFailed ? 'FAIL' : 'PASS',
    misc: {
      ...(k.release ? { release: k.release } : {}),
      ...(k.configSha256 ? { config_sha256: k.configSha256 } : {}),
      ...(k.buildKey ? { build_key: k.buildKey } : {}),
    },
  };
  const tests: KcidbTest[] = [];
  const issues = new Map<string, KcidbIssue>();
  const incidents: KcidbIncident[] = [];
  for (const v of sortVerdicts(r.verdicts)) {
    // Unique per build, run and workload: matrix kernels may share a run id, reruns do not.
    const id = `${buildId}/${r.runId}/${v.name}`;
    const status = kcidbStatus(v);
    const ran = status === 'PASS' || status === 'FAIL' || status === 'ERROR';
    const durationMs = workloadDurationMs(v);
    const test: KcidbTest = {
      id,
      origin,
      build_id: buildId,
      path: kcidbTestPath(v),
      status,
      comment: kcidbText(v.message),
      ...(ran && v.numbers ? { number: { value: v.numbers.acquired, unit: 'pins' } } : {}),
      ...(durationMs !== undefined ? { duration: durationMs / 1000 } : {}),
      log_excerpt: logExcerpt(v),
      environment: {
        comment: kcidbText(`QEMU${r.host.qemu ? ` ${r.host.qemu}` : ''} (${r.host.accel}) guest`),
        misc: { ...r.host },
      },
      misc: {
        pinlab_status: v.status,
        workload: v.name,
        run_id: r.runId,
        pinning: v.pinning,
        reasons: v.reasons,
        ...(v.cause ? { cause: v.cause } : {}),
        ...(v.skipReason ? { skip_reason: v.skipReason } : {}),
        ...(v.knownState ? { known_state: v.knownState } : {}),
        ...(v.numbers ? { numbers: { ...v.numbers } } : {}),
        kernel_path: v.path,
        splats: v.splats.map((s) => ({ kind: s.kind, title: s.title })),
      },
    };
    tests.push(test);
    if (v.status === 'XFAIL') {
      const known = v.knownState ?? 'unnamed';
      const issueId = knownStateIssueId(origin, known);
      issues.set(issueId, {
        id: issueId,
        version: 1,
        origin,
        comment: kcidbText(`pinlab known state of a reference kernel: ${known}`),
        culprit: { code: true, tool: false, harness: false },
        misc: { known_state: known },
      });
      incidents.push({
        id: `${id}.known-state`,
        origin,
        issue_id: issueId,
        issue_version: 1,
        test_id: id,
        present: true,
        comment: kcidbText(`${v.reasons.join(',')}: ${v.message}`),
      });
    }
  }
  return { checkouts: [checkout], builds: [build], tests, issues: [...issues.values()], incidents };
}

/** One KCIDB report for one run, or for a matrix of runs (one checkout/build per kernel). */
export function toKcidb(results: RunResult | readonly RunResult[], opts: KcidbOptions = {}): KcidbReport {
  const runs = Array.isArray(results) ? (results as readonly RunResult[]) : [results as RunResult];
  return mergeKcidb(runs.map((r) => ({ version: { ...KCIDB_VERSION }, ...runToKcidb(r, opts) })));
}

function byId<T extends { id: string }>(items: readonly T[]): T[] {
  const seen = new Map<string, T>();
  // The same checkout/build/issue arrives from every shard; objects with one id are the same
  // object, so the later one's fields only fill in what the earlier lacked.
  for (const item of items) seen.set(item.id, { ...seen.get(item.id), ...item });
  return [...seen.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Merge KCIDB reports (e.g. one per CI shard) into one: objects deduplicated by id, sorted by
 * id; tests sorted by path then id. Only reports of major version 5 are accepted.
 */
export function mergeKcidb(reports: readonly KcidbReport[]): KcidbReport {
  for (const r of reports) {
    if (r.version.major !== KCIDB_VERSION.major) {
      throw new Error(`cannot merge KCIDB v${r.version.major} data with v${KCIDB_VERSION.major}`);
    }
  }
  const minor = Math.max(0, ...reports.map((r) => r.version.minor ?? 0));
  const tests = byId(reports.flatMap((r) => r.tests ?? [])).sort((a, b) => {
    const pa = a.path ?? '';
    const pb = b.path ?? '';
    return pa < pb ? -1 : pa > pb ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
  return {
    version: { major: KCIDB_VERSION.major, minor },
    checkouts: byId(reports.flatMap((r) => r.checkouts ?? [])),
    builds: byId(reports.flatMap((r) => r.builds ?? [])),
    tests,
    issues: byId(reports.flatMap((r) => r.issues ?? [])),
    incidents: byId(reports.flatMap((r) => r.incidents ?? [])),
  };
}

export function toKcidbJson(results: RunResult | readonly RunResult[], opts: KcidbOptions = {}): string {
  return `${JSON.stringify(toKcidb(results, opts), null, 2)}\n`;
}
