// --kcidb FILE: KernelCI's KCIDB I/O schema v5.3 (vendor/kcidb/, validated in a test), the way
// pinlab's results reach KernelCI: one checkout (source + patchset), one build, one test per
// workload with path pinlab.<workload name> (report/common.ts reportNames).
//
// Status mapping:
//   PASS -> PASS; FAIL -> FAIL; SKIP -> SKIP
//   ERROR with cause build or harness -> MISS (the test never ran: nothing is known about the
//     code); other causes (boot, guest, timeout, path-not-reached) -> ERROR (it started and
//     could not conclude). A build failure also sets the build's status to FAIL.
//   XFAIL -> FAIL, plus an `issue` (<origin>:known-state.<id>) and an `incident` linking the test
//     to it, with misc.pinlab_status = "XFAIL" and misc.known_state. Reporting PASS would hide a
//     real defect of the reference kernel (stock 6.1 does not pin); KCIDB's own answer to "this
//     failure is known" is issue + incident, which KernelCI's triage uses to keep known failures
//     out of new-regression reports. A regression there is a status change on the same test path,
//     and a known-state test fails on every revision of that kernel, so it never shows as one.
// `number` carries the pins the workload acquired; all numbers are in misc.numbers.
//
// Ids, and why they are per run: KCIDB keeps one object per id and, when an id arrives twice
// with different fields, picks each field at random among the submissions. A checkout id that is
// a content hash would make every night's run of an unchanged kernel the same checkout, with a
// random night's start time and tree. So the checkout id is <origin>:<run id>/<hash of what the
// checkout says>, the build id adds the build key, the test id adds the workload. The run id is
// the pinlab run's own (unique), or --run-id/PINLAB_RUN_ID, which the shards of one CI pipeline
// share so their results land in one checkout.
//
// What KernelCI's dashboard needs to list a run: start_time on the checkout (its tree list is
// "checkouts started in the last N days" per origin, grouped by tree name, repository URL and
// branch), a git commit (the tree page is per commit), the origin's finish time. Each comes
// from the run or from an option (KcidbOptions), never invented: a Debian source package has no
// commit, so one is given with --kcidb-git-commit or the field is left out.
import { patchsetHash, sha256 } from '../hash.js';
import { basename } from 'node:path';
import { UserError } from '../errors.js';
import { consoleFile, observationFile, RUN_LAYOUT, runnerLogFile } from '../rundir.js';
import type { EvidenceHealth, RunResult, Verdict } from '../verdict/types.js';
import { CALIBRATION_TARGET } from '../verdict/calibration.js';
import { numbersText, reportNames, sortVerdicts, workloadDurationMs } from './common.js';
import { shardRunIds } from './merge.js';

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
  git_repository_branch?: string;
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
  start_time?: string;
  architecture?: string;
  config_name?: string;
  config_url?: string;
  compiler?: string;
  log_url?: string;
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
  log_url?: string;
  log_excerpt?: string;
  output_files?: KcidbResource[];
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

/** A run directory as it is published next to the report: what the KCIDB URLs point at. */
export interface KcidbRunFiles {
  /** RunResult.runId of the run that wrote the directory */
  runId: string;
  /** the workloads that run judged (a shard's share) */
  workloads: readonly string[];
  /** the directory as the command line named it (for messages) */
  path?: string;
  /** the directory relative to the published root (--kcidb-artifacts-url); absent when outside it */
  dir?: string;
  /** files in the directory, relative to it, '/'-separated: kernel/config, vm/console.log, ... */
  files: readonly string[];
  /** the compiler that built the kernel (kernel/meta.json) */
  compiler?: string;
  /** workloads that ran in a later guest (after a stall): its number; the rest ran in guest 1 */
  guests?: Readonly<Record<string, number>>;
}

/**
 * One value for every kernel of the report, or per profile: entries "VALUE" and
 * "PROFILE=VALUE"; a profile's own entry wins over a bare one, and the last of each wins.
 */
export type PerKernel = string | readonly string[];

export interface KcidbOptions {
  /** KCIDB origin (the submitting CI system, agreed with KernelCI), [a-z0-9_]+; default pinlab */
  origin?: string;
  /** the run the ids are made from; default each RunResult's own runId */
  runId?: string;
  /** e.g. "mainline", "stable"; default the profile name */
  treeName?: PerKernel;
  /** the https:// URL of the source repository */
  gitRepositoryUrl?: PerKernel;
  gitRepositoryBranch?: PerKernel;
  /** the commit the source is; a git:REPO@SHA source gives its own */
  gitCommitHash?: PerKernel;
  /**
   * Base URL at which the directory the run directories are relative to (KcidbRunFiles.dir) is
   * published. Files (patches included) get URLs only when they are known to be there
   * (runFiles); without the URL the report links nothing.
   */
  artifactsUrl?: string;
  /** the run directories behind the results (read by run-files.ts) */
  runFiles?: readonly KcidbRunFiles[];
  architecture?: string;
}

/** Values of the KCIDB command-line options, checked as they are parsed (cli.ts). */
export const kcidbArg = {
  origin(v: string): string {
    if (!/^[a-z0-9_]+$/.test(v)) throw new UserError(`--kcidb-origin ${v}: a KCIDB origin is lower-case letters, digits and _`, { hint: 'use the origin KernelCI agreed with you' });
    return v;
  },
  runId(v: string): string {
    if (!/^[A-Za-z0-9._-]{1,128}$/.test(v)) throw new UserError(`run id ${JSON.stringify(v)}: expected 1-128 of A-Z a-z 0-9 . _ -`, { hint: 'e.g. --run-id gitlab-$CI_PIPELINE_ID (or PINLAB_RUN_ID)' });
    return v;
  },
  tree(v: string): string {
    if (v === '' || v.includes('\0')) throw new UserError('--kcidb-tree: expected a tree name, e.g. mainline or stable');
    return v;
  },
  gitUrl(v: string): string {
    if (!/^https:\/\/[^\0\s]+$/.test(v)) throw new UserError(`--kcidb-git-url ${v}: KCIDB takes an https:// repository URL`);
    return v;
  },
  branch(v: string): string {
    if (v === '' || v.includes('\0')) throw new UserError('--kcidb-git-branch: expected a branch name');
    return v;
  },
  commit(v: string): string {
    if (!/^[0-9a-f]{40}$/.test(v)) throw new UserError(`--kcidb-git-commit ${v}: expected a full 40-digit lower-case commit hash`);
    return v;
  },
  artifactsUrl(v: string): string {
    let url: URL | undefined;
    try {
      url = new URL(v);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      throw new UserError(`--kcidb-artifacts-url ${v}: expected an http(s) URL`, { hint: 'e.g. GitLab: $CI_JOB_URL/artifacts/raw' });
    }
    return v;
  },
};

const PROFILE_ENTRY = /^([A-Za-z0-9._-]+)=(.*)$/s;

function perKernelEntry(entry: string): { profile?: string; value: string } {
  const m = PROFILE_ENTRY.exec(entry);
  return m ? { profile: m[1]!, value: m[2]! } : { value: entry };
}

/** A repeatable per-kernel option: checks the value part of "VALUE" or "PROFILE=VALUE". */
export function perKernelArg(check: (v: string) => string): (v: string, prev?: string[]) => string[] {
  return (v, prev = []) => {
    check(perKernelEntry(v).value);
    return [...prev, v];
  };
}

export function perKernelValue(p: PerKernel | undefined, profile: string | undefined): string | undefined {
  if (p === undefined) return undefined;
  const entries = (typeof p === 'string' ? [p] : p).map(perKernelEntry);
  let value: string | undefined;
  for (const e of entries) if (e.profile === undefined) value = e.value;
  for (const e of entries) if (e.profile !== undefined && e.profile === profile) value = e.value;
  return value;
}

/** The command-line options as commands.ts receives them from commander. */
export interface KcidbCliOptions {
  kcidbOrigin?: string;
  runId?: string;
  kcidbTree?: string[];
  kcidbGitUrl?: string[];
  kcidbGitBranch?: string[];
  kcidbGitCommit?: string[];
  kcidbArtifactsUrl?: string;
}

export function kcidbOptionsFrom(o: KcidbCliOptions, runFiles: readonly KcidbRunFiles[]): KcidbOptions {
  return {
    origin: o.kcidbOrigin,
    runId: o.runId,
    treeName: o.kcidbTree,
    gitRepositoryUrl: o.kcidbGitUrl,
    gitRepositoryBranch: o.kcidbGitBranch,
    gitCommitHash: o.kcidbGitCommit,
    artifactsUrl: o.kcidbArtifactsUrl,
    runFiles,
  };
}

export function kcidbTestPath(v: Verdict): string {
  return reportNames(v).kcidbPath;
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

interface RunIds {
  checkout: string;
  build: string;
}

/** What the checkout object says about the kernel's source, which its id hashes. */
interface CheckoutFacts {
  treeName?: string;
  gitRepositoryUrl?: string;
  gitRepositoryBranch?: string;
  gitCommitHash?: string;
  patchsetHash: string;
}

function checkoutFacts(r: RunResult, opts: KcidbOptions): CheckoutFacts {
  const k = r.kernel;
  return {
    treeName: perKernelValue(opts.treeName, k.profile) ?? k.profile,
    gitRepositoryUrl: perKernelValue(opts.gitRepositoryUrl, k.profile),
    gitRepositoryBranch: perKernelValue(opts.gitRepositoryBranch, k.profile),
    gitCommitHash: gitCommitOf(k.source) ?? perKernelValue(opts.gitCommitHash, k.profile),
    // recomputed from the patches, so a run.json written before the hash followed KCIDB's
    // definition still renders the hash KCIDB would compute
    patchsetHash: patchsetHash(k.patches.map((p) => p.sha256)),
  };
}

/**
 * Checkout <origin>:<run id>/<hash of source and checkout facts>, build <checkout>/<build key>:
 * unique per run, shared by the shards of one run id, and distinct for kernels of a matrix
 * (two profiles differing in patches, tree or commit are two checkouts of one run).
 */
export function kcidbIds(r: RunResult, opts: KcidbOptions = {}): RunIds {
  const origin = opts.origin ?? 'pinlab';
  const k = r.kernel;
  const f = checkoutFacts(r, opts);
  const what = [k.source, f.patchsetHash, f.treeName, f.gitRepositoryUrl, f.gitRepositoryBranch, f.gitCommitHash].map((x) => x ?? null);
  const checkout = `${origin}:${opts.runId ?? r.runId}/${sha256(JSON.stringify(what)).slice(0, 16)}`;
  const buildKey = k.buildKey ?? sha256(JSON.stringify([k.profile ?? null, k.configSha256 ?? null])).slice(0, 16);
  return { checkout, build: `${checkout}/${buildKey}` };
}

/**
 * The run directories that get no links although an artifacts URL was given (they lie outside
 * the published directory): one line each, for the user to read before submitting.
 */
export function unlinkedRunWarnings(opts: KcidbOptions): string[] {
  if (!opts.artifactsUrl) return [];
  return (opts.runFiles ?? []).filter((f) => f.dir === undefined).map((f) => `warning: ${f.path ?? `run ${f.runId}`} is outside the current directory, which --kcidb-artifacts-url publishes: its patches, config and logs get no link in the KCIDB file`);
}

/** The URL of a published file, when an artifacts URL is given and the file is known to be there. */
function fileUrl(opts: KcidbOptions, run: KcidbRunFiles | undefined, file: string): string | undefined {
  if (!opts.artifactsUrl || !run || run.dir === undefined || !run.files.includes(file)) return undefined;
  const segments = [...run.dir.split('/'), ...file.split('/')].filter((x) => x !== '' && x !== '.');
  return `${opts.artifactsUrl.replace(/\/+$/, '')}/${segments.map(encodeURIComponent).join('/')}`;
}

function resources(opts: KcidbOptions, run: KcidbRunFiles | undefined, files: [name: string, file: string][], holding?: (file: string) => KcidbRunFiles | undefined): KcidbResource[] {
  return files.flatMap(([name, file]) => {
    const url = fileUrl(opts, holding ? holding(file) : run, file);
    return url ? [{ name, url }] : [];
  });
}

function knownStateIssueId(origin: string, knownState: string): string {
  return `${origin}:known-state.${knownState}`;
}

function runToKcidb(r: RunResult, opts: KcidbOptions): Required<Omit<KcidbReport, 'version'>> {
  const origin = opts.origin ?? 'pinlab';
  const k = r.kernel;
  const ids = kcidbIds(r, opts);
  const facts = checkoutFacts(r, opts);
  // the run directories behind this result: one, or one per shard of a merged run
  const shards = (opts.runFiles ?? []).filter((f) => shardRunIds(r).includes(f.runId));
  const holding = (file: string) => shards.find((s) => s.files.includes(file));
  // only patches published with the run directory get a URL; KCIDB would follow any other
  const patchFiles = resources(
    opts,
    undefined,
    k.patches.map((p) => [basename(p.file), `kernel/${basename(p.file)}`]),
    holding,
  );
  const checkout: KcidbCheckout = {
    id: ids.checkout,
    origin,
    ...(facts.treeName ? { tree_name: facts.treeName } : {}),
    ...(facts.gitRepositoryUrl ? { git_repository_url: facts.gitRepositoryUrl } : {}),
    ...(facts.gitRepositoryBranch ? { git_repository_branch: facts.gitRepositoryBranch } : {}),
    ...(facts.gitCommitHash ? { git_commit_hash: facts.gitCommitHash } : {}),
    ...(patchFiles.length > 0 ? { patchset_files: patchFiles } : {}),
    patchset_hash: facts.patchsetHash,
    comment: kcidbText(k.release ? `${k.source} (${k.release})` : k.source),
    start_time: r.startedAt,
    ...(r.finishedAt ? { origin_tests_finish_time: r.finishedAt } : {}),
    valid: true,
    misc: { source: k.source, ...(k.profile ? { profile: k.profile } : {}) },
  };
  const buildFailed = r.verdicts.some((v) => v.status === 'ERROR' && v.cause === 'build');
  const compiler = shards.find((s) => s.compiler)?.compiler;
  const configUrl = fileUrl(opts, holding(RUN_LAYOUT.kernelConfig), RUN_LAYOUT.kernelConfig);
  // only a run that compiled the kernel has its build log; a cache hit has none to link
  const buildLogUrl = fileUrl(opts, holding(RUN_LAYOUT.buildLog), RUN_LAYOUT.buildLog);
  const build: KcidbBuild = {
    id: ids.build,
    origin,
    checkout_id: ids.checkout,
    // the run's first phase obtains the build (compiled, or taken from the cache)
    start_time: r.startedAt,
    architecture: opts.architecture ?? 'x86_64',
    config_name: k.profile ? `pinlab-${k.profile}` : 'pinlab',
    ...(configUrl ? { config_url: configUrl } : {}),
    ...(compiler ? { compiler: kcidbText(compiler) } : {}),
    ...(buildLogUrl ? { log_url: buildLogUrl } : {}),
    status: buildFailed ? 'FAIL' : 'PASS',
    misc: {
      ...(k.release ? { release: k.release } : {}),
      ...(k.configSha256 ? { config_sha256: k.configSha256 } : {}),
      ...(k.buildKey ? { build_key: k.buildKey } : {}),
      // how the pins were counted: the evidence, its agreeing calibration sources, any finding
      ...(r.evidence ? { pin_evidence: r.evidence } : {}),
    },
  };
  const tests: KcidbTest[] = [];
  const issues = new Map<string, KcidbIssue>();
  const incidents: KcidbIncident[] = [];
  for (const v of sortVerdicts(r.verdicts)) {
    const id = `${ids.build}/${v.name}`;
    const status = kcidbStatus(v);
    const ran = status === 'PASS' || status === 'FAIL' || status === 'ERROR';
    const durationMs = workloadDurationMs(v);
    const shard = shards.find((s) => s.workloads.includes(v.name));
    // The kernel's console is the log a kernel developer (and KernelCI's log analysis) reads
    // first: splats are there. A test that never ran for want of a kernel points at the build log.
    // a workload after a stall ran in a fresh guest: its console and runner log are that guest's
    const guest = shard?.guests?.[v.name] ?? 1;
    const logUrl = (v.cause === 'build' ? fileUrl(opts, shard, RUN_LAYOUT.buildLog) : undefined) ?? fileUrl(opts, shard, consoleFile(guest));
    const outputs = resources(opts, shard, [
      ['observation.json', observationFile(v.name)],
      ['runner.log', runnerLogFile(guest)],
    ]);
    const test: KcidbTest = {
      id,
      origin,
      build_id: ids.build,
      path: kcidbTestPath(v),
      status,
      comment: kcidbText(v.message),
      ...(ran && v.numbers ? { number: { value: v.numbers.acquired, unit: 'pins' } } : {}),
      ...(durationMs !== undefined ? { duration: durationMs / 1000 } : {}),
      // pinlab keeps no per-workload clock: the run's start is the earliest the test can have started
      start_time: r.startedAt,
      ...(logUrl ? { log_url: logUrl } : {}),
      log_excerpt: logExcerpt(v),
      ...(outputs.length > 0 ? { output_files: outputs } : {}),
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
        ...(v.numbers?.evidence ? { pin_evidence: v.numbers.evidence } : {}),
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

function byId<T extends { id: string }>(items: readonly T[], combine: (a: T, b: T) => T = (a, b) => ({ ...a, ...b })): T[] {
  const seen = new Map<string, T>();
  // The same checkout/build/issue arrives from every shard; objects with one id are the same
  // object, so the later one's fields only fill in what the earlier lacked.
  for (const item of items) {
    const earlier = seen.get(item.id);
    seen.set(item.id, earlier ? combine(earlier, item) : item);
  }
  return [...seen.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** ISO 8601 UTC times of one format compare as strings. */
function extreme(pick: 'first' | 'last', a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  return (pick === 'first') === a < b ? a : b;
}

/** A field set to value, or left out when there is none (KCIDB objects never hold undefined). */
function field<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

/**
 * A merged build's pin evidence: one shard's calibration stands for all (each calibrated its own
 * guest the same way), findings of any shard are kept, and the workloads judged are counted again
 * from the merged tests of that build (a shard passed twice counts once).
 */
function withMergedEvidence(build: KcidbBuild, all: readonly KcidbBuild[], tests: readonly KcidbTest[]): KcidbBuild {
  const evidence = build.misc?.['pin_evidence'] as EvidenceHealth | undefined;
  if (!evidence) return build;
  const findings = new Set(all.filter((b) => b.id === build.id).flatMap((b) => (b.misc?.['pin_evidence'] as EvidenceHealth | undefined)?.findings ?? []));
  const judgedBy: Record<string, number> = {};
  for (const x of tests) {
    const by = x.misc?.['pin_evidence'];
    if (x.build_id !== build.id || typeof by !== 'string' || String(x.misc?.['workload']).startsWith(`${CALIBRATION_TARGET}.`)) continue;
    judgedBy[by] = (judgedBy[by] ?? 0) + 1;
  }
  return { ...build, misc: { ...build.misc, pin_evidence: { ...evidence, findings: [...findings], judgedBy } } };
}

/**
 * Merge KCIDB reports (e.g. one per CI shard) into one: objects deduplicated by id, sorted by
 * id; tests sorted by path then id. A checkout starts when its first shard started and its tests
 * finish when the last one finished; a build starts with its first shard. Only reports of major
 * version 5 are accepted.
 */
export function mergeKcidb(reports: readonly KcidbReport[]): KcidbReport {
  for (const r of reports) {
    if (r.version.major !== KCIDB_VERSION.major) {
      throw new Error(`cannot merge KCIDB v${r.version.major} data with v${KCIDB_VERSION.major}`);
    }
  }
  const minor = Math.max(0, ...reports.map((r) => r.version.minor ?? 0));
  const allBuilds = reports.flatMap((r) => r.builds ?? []);
  const tests = byId(reports.flatMap((r) => r.tests ?? [])).sort((a, b) => {
    const pa = a.path ?? '';
    const pb = b.path ?? '';
    return pa < pb ? -1 : pa > pb ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
  return {
    version: { major: KCIDB_VERSION.major, minor },
    checkouts: byId(reports.flatMap((r) => r.checkouts ?? []), (a, b) => ({
      ...a,
      ...b,
      ...field('start_time', extreme('first', a.start_time, b.start_time)),
      ...field('origin_tests_finish_time', extreme('last', a.origin_tests_finish_time, b.origin_tests_finish_time)),
    })),
    builds: byId(allBuilds, (a, b) => ({ ...a, ...b, ...field('start_time', extreme('first', a.start_time, b.start_time)) })).map((b) => withMergedEvidence(b, allBuilds, tests)),
    tests,
    issues: byId(reports.flatMap((r) => r.issues ?? [])),
    incidents: byId(reports.flatMap((r) => r.incidents ?? [])),
  };
}

export function toKcidbJson(results: RunResult | readonly RunResult[], opts: KcidbOptions = {}): string {
  return `${JSON.stringify(toKcidb(results, opts), null, 2)}\n`;
}
