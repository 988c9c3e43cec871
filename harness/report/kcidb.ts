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
//
// The schema's types are in kcidb-schema.ts, the options in kcidb-options.ts, merging in
// kcidb-merge.ts; this file maps a run onto them.
import { basename } from 'node:path';
import { patchsetHash, sha256 } from '../hash.js';
import { consoleFile, observationFile, RUN_LAYOUT, runnerLogFile } from '../rundir.js';
import type { RunResult, Verdict } from '../verdict/types.js';
import { numbersText, reportNames, sortVerdicts, workloadDurationMs } from './common.js';
import { mergeKcidb } from './kcidb-merge.js';
import { perKernelValue, type KcidbOptions } from './kcidb-options.js';
import { KCIDB_LOG_EXCERPT_MAX, KCIDB_VERSION, type KcidbBuild, type KcidbCheckout, type KcidbIncident, type KcidbIssue, type KcidbReport, type KcidbResource, type KcidbRunFiles, type KcidbStatus, type KcidbTest } from './kcidb-schema.js';
import { shardRunIds } from './merge.js';

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

export function toKcidbJson(results: RunResult | readonly RunResult[], opts: KcidbOptions = {}): string {
  return `${JSON.stringify(toKcidb(results, opts), null, 2)}\n`;
}
