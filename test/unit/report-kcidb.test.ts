// KCIDB output checked against the public KCIDB I/O schema v5.3 (vendored, see vendor/kcidb/NOTE.md),
// and against what KernelCI's dashboard and kcidb-ng need beyond the schema: start times, the
// origin's finish time, ids under the submitter's origin whose parents are in the report, ids
// unique per run (KCIDB picks fields at random among submissions of one id), links to logs.
import test, { type ExecutionContext } from 'ava';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../harness/errors.js';
import { kcidbIds, kcidbStatus, kcidbTestPath, toKcidb, unlinkedRunWarnings } from '../../harness/report/kcidb.js';
import { mergeKcidb } from '../../harness/report/kcidb-merge.js';
import { kcidbArg, perKernelArg, perKernelValue } from '../../harness/report/kcidb-options.js';
import type { KcidbReport, KcidbRunFiles } from '../../harness/report/kcidb-schema.js';
import { patchsetHash } from '../../harness/hash.js';
import { kernelRequest } from '../../harness/kernel/index.js';
import type { KernelArtifact } from '../../harness/kernel/build.js';
import { readPatches } from '../../harness/kernel/source.js';
import { kernelIdentity } from '../../harness/pipeline.js';
import { mergeRuns } from '../../harness/report/merge.js';
import { readRunFiles } from '../../harness/report/run-files.js';
import type { RunResult, Verdict } from '../../harness/verdict/types.js';
import { testTempDir } from '../tmp.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const schema = JSON.parse(readFileSync(join(root, 'vendor/kcidb/kcidb-io.schema.v5.3.json'), 'utf8')) as object;
const fixtures = join(root, 'test/fixtures/report');
const run = JSON.parse(readFileSync(join(fixtures, 'recorded-small', 'run.json'), 'utf8')) as RunResult;
const runDirFiles = readRunFiles(join(fixtures, 'recorded-small'), run, fixtures);

// kcidb-io validates with draft-07 semantics and format checking (its README); so do we.
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats.default(ajv);
const validate = ajv.compile(schema);

function assertValid(t: ExecutionContext, data: unknown): void {
  if (validate(data)) t.pass();
  else t.fail(ajv.errorsText(validate.errors, { separator: '\n' }));
}

/**
 * What a submission needs beyond the schema for KernelCI to list it and link it up: the problems
 * found, empty when there are none.
 */
function submissionProblems(report: KcidbReport, origin: string): string[] {
  const problems: string[] = [];
  const objects = [...(report.checkouts ?? []), ...(report.builds ?? []), ...(report.tests ?? []), ...(report.issues ?? []), ...(report.incidents ?? [])];
  for (const o of objects) {
    if (o.origin !== origin) problems.push(`${o.id}: origin ${o.origin}, not ${origin}`);
    if (!o.id.startsWith(`${origin}:`)) problems.push(`${o.id}: id not under the origin ${origin}`);
  }
  for (const [kind, list] of Object.entries({ checkouts: report.checkouts, builds: report.builds, tests: report.tests, issues: report.issues, incidents: report.incidents })) {
    const ids = (list ?? []).map((o) => o.id);
    if (new Set(ids).size !== ids.length) problems.push(`${kind}: duplicate ids`);
  }
  const checkouts = new Set((report.checkouts ?? []).map((c) => c.id));
  const builds = new Set((report.builds ?? []).map((b) => b.id));
  const tests = new Set((report.tests ?? []).map((x) => x.id));
  const issues = new Set((report.issues ?? []).map((i) => `${i.id}@${i.version}`));
  for (const c of report.checkouts ?? []) {
    if (!c.start_time) problems.push(`checkout ${c.id}: no start_time (the dashboard lists checkouts by start time)`);
    if (!c.origin_tests_finish_time) problems.push(`checkout ${c.id}: no origin_tests_finish_time`);
    if (!c.tree_name) problems.push(`checkout ${c.id}: no tree_name`);
    if (c.patchset_hash === undefined) problems.push(`checkout ${c.id}: no patchset_hash`);
  }
  for (const b of report.builds ?? []) {
    if (!checkouts.has(b.checkout_id)) problems.push(`build ${b.id}: checkout ${b.checkout_id} not in the report`);
    if (!b.start_time) problems.push(`build ${b.id}: no start_time`);
  }
  for (const x of report.tests ?? []) {
    if (!builds.has(x.build_id)) problems.push(`test ${x.id}: build ${x.build_id} not in the report`);
    if (!x.start_time) problems.push(`test ${x.id}: no start_time`);
    if (!x.path || !x.status) problems.push(`test ${x.id}: no path or status`);
  }
  for (const i of report.incidents ?? []) {
    if (i.test_id !== undefined && !tests.has(i.test_id)) problems.push(`incident ${i.id}: test ${i.test_id} not in the report`);
    if (!issues.has(`${i.issue_id}@${i.issue_version}`)) problems.push(`incident ${i.id}: issue ${i.issue_id} v${i.issue_version} not in the report`);
  }
  return problems;
}

function assertSubmittable(t: ExecutionContext, report: KcidbReport, origin = 'pinlab'): void {
  assertValid(t, report);
  t.deepEqual(submissionProblems(report, origin), [], 'semantic checks');
}

const patched: RunResult = {
  ...run,
  kernel: {
    ...run.kernel,
    profile: 'patched-6.1',
    patches: [
      { file: 'patches/0001-block-pin-user-pages.patch', sha256: 'a'.repeat(64) },
      { file: 'patches/0002-iomap-use-pin.patch', sha256: 'b'.repeat(64) },
    ],
    patchsetHash: undefined,
    buildKey: 'c0ffee000001',
  },
};

test('KCIDB for a stock kernel validates against the v5.3 schema and the semantic checks', (t) => {
  assertSubmittable(t, toKcidb(run));
  assertSubmittable(t, toKcidb(run, { origin: 'example_ci', artifactsUrl: 'https://ci.example.org/run', runFiles: [runDirFiles] }), 'example_ci');
});

test('the semantic checks catch what KernelCI would not list or link (they are really applied)', (t) => {
  const report = structuredClone(toKcidb(run));
  delete report.checkouts![0]!.start_time;
  report.builds![0]!.checkout_id = 'pinlab:elsewhere';
  report.tests![0]!.origin = 'other';
  report.incidents![0]!.issue_version = 2;
  const problems = submissionProblems(report, 'pinlab');
  t.is(problems.length, 4, problems.join('\n'));
  t.regex(problems[0]!, /: origin other, not pinlab$/);
  t.regex(problems[1]!, /^checkout .*: no start_time/);
  t.regex(problems[2]!, /^build .*: checkout pinlab:elsewhere not in the report$/);
  t.regex(problems[3]!, /^incident .*: issue .* v2 not in the report$/);
});

test('KCIDB for a patched kernel from git validates, with a git commit and no patch URL it cannot vouch for', (t) => {
  const fromGit: RunResult = { ...patched, kernel: { ...patched.kernel, source: `git:/src/linux@${'c'.repeat(40)}` } };
  const url = 'https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux.git';
  const report = toKcidb(fromGit, { gitRepositoryUrl: url, gitRepositoryBranch: 'linux-6.1.y', treeName: 'stable', gitCommitHash: 'd'.repeat(40) });
  assertSubmittable(t, report);
  const checkout = report.checkouts![0]!;
  t.like(checkout, { tree_name: 'stable', git_repository_url: url, git_repository_branch: 'linux-6.1.y' });
  t.is(checkout.git_commit_hash, 'c'.repeat(40), 'the source\'s own commit, not the option meant for sources without one');
  t.is(checkout.patchset_files, undefined, 'without --kcidb-artifacts-url nothing is published, so nothing is linked');
  t.false(JSON.stringify(report).includes('file://'));
});

test('the vendored schema rejects what KCIDB rejects (it is really being applied)', (t) => {
  const report = JSON.parse(JSON.stringify(toKcidb(run))) as { tests: { status: string }[] };
  report.tests[0]!.status = 'XFAIL';
  t.false(validate(report));
  t.false(validate({ ...toKcidb(run), version: { major: 4 } }));
  const badPath = toKcidb(run);
  badPath.tests![0]!.path = 'pinlab.raw virtio';
  t.false(validate(badPath));
});

test('patchset hash follows the KCIDB definition (sha256sum *.patch | cut -c-64 | sha256sum)', (t) => {
  const dir = testTempDir('pinlab-kcidb-');
  writeFileSync(join(dir, '0001.patch'), 'first\n');
  writeFileSync(join(dir, '0002.patch'), 'second\n');
  const shell = execFileSync('sh', ['-c', 'sha256sum *.patch | cut -c-64 | sha256sum | cut -c-64'], { cwd: dir, encoding: 'utf8' }).trim();
  const each = ['0001.patch', '0002.patch'].map((f) =>
    execFileSync('sha256sum', [f], { cwd: dir, encoding: 'utf8' }).slice(0, 64),
  );
  t.is(patchsetHash(each), shell);
  t.is(patchsetHash([]), '');
  // the checkout carries the hash of its patches' sha256 lines, computed here by sha256sum alone
  const ofLines = execFileSync('sh', ['-c', `printf '%s\\n' ${'a'.repeat(64)} ${'b'.repeat(64)} | sha256sum | cut -c-64`], { encoding: 'utf8' }).trim();
  t.is(toKcidb(patched).checkouts![0]!.patchset_hash, ofLines);
});

test('a patched-6.1 run carries the patchset hash sha256sum gives for patches/, in run.json and in KCIDB', (t) => {
  // the identity a real patched run builds (pipeline.ts), from the series the profile applies
  const req = kernelRequest({ profile: 'patched-6.1' });
  t.deepEqual(req.patchFiles.map((f) => f.split('/').pop()), ['0001-mm-gup-introduce-pin_page.patch', '0002-iov_iter-introduce-iov_iter_pin_pages-routines.patch', '0003-bio-convert-get_user_pages_fast-pin_user_pages_fast.patch']);
  const artifact = { key: 'k', meta: { identity: 'debian:linux-source-6.1=6.1.158-1', patches: readPatches(req.patchFiles).map((p) => ({ name: p.name, sha256: p.sha256 })), configSha256: 'c'.repeat(64), release: '6.1.158' } } as unknown as KernelArtifact;
  const kernel = kernelIdentity(req, artifact);
  const byHand = execFileSync('sh', ['-c', "sha256sum patches/000[1-3]*.patch | cut -d' ' -f1 | sha256sum | cut -c-64"], { cwd: root, encoding: 'utf8' }).trim();
  t.regex(byHand, /^[0-9a-f]{64}$/);
  t.is(kernel.patchsetHash, byHand);
  const report = toKcidb({ ...patched, kernel });
  assertSubmittable(t, report);
  t.is(report.checkouts![0]!.patchset_hash, byHand);
  t.false(JSON.stringify(report).includes('file://'));
  // a run.json written before the hash followed KCIDB's definition renders the right one too
  const old = toKcidb({ ...patched, kernel: { ...kernel, patchsetHash: 'f'.repeat(64) } });
  t.is(old.checkouts![0]!.patchset_hash, byHand);
});

test('status mapping: XFAIL is a FAIL linked to a known-state issue; harness errors are MISS', (t) => {
  const byName = new Map(run.verdicts.map((v) => [v.name, v]));
  const report = toKcidb(run);
  const xfail = report.tests!.find((x) => x.misc?.['workload'] === 'vfat.psync.anon')!;
  t.is(xfail.status, 'FAIL');
  t.is(xfail.misc?.['pinlab_status'], 'XFAIL');
  t.is(xfail.misc?.['known_state'], 'stock-6.1/dio-not-pinned');
  t.deepEqual(report.issues!.map((i) => i.id), ['pinlab:known-state.stock-6.1/dio-not-pinned'], 'one issue for the known state');
  // one incident per XFAIL (raw-virtio.psync.anon and vfat.psync.anon), both of that issue
  t.is(report.incidents!.length, 2);
  t.true(report.incidents!.some((i) => i.test_id === xfail.id));
  t.true(report.incidents!.every((i) => i.issue_id === report.issues![0]!.id));

  const error = byName.get('nvme-passthru.passthru.anon')!;
  t.is(kcidbStatus(error), 'ERROR');
  t.is(kcidbStatus({ ...error, cause: 'harness' }), 'MISS');
  t.is(kcidbStatus({ ...error, cause: 'build' }), 'MISS');
  t.is(kcidbStatus(byName.get('raw-virtio.uring-fixed.thp')!), 'SKIP');
  t.is(kcidbTestPath(byName.get('raw-virtio.psync.anon')!), 'pinlab.raw-virtio.psync.anon');
  t.is(kcidbTestPath(byName.get('ext4.libaio.anon.efault-midway')!), 'pinlab.ext4.libaio.anon.efault-midway');
});

test('a build failure marks the build FAIL and its tests MISS, and still validates', (t) => {
  const failed: Verdict[] = run.verdicts.map((v) => ({
    name: v.name,
    target: v.target,
    engine: v.engine,
    status: 'ERROR',
    cause: 'build',
    reasons: [],
    path: [],
    pinning: 'unknown',
    splats: [],
    message: 'make bzImage failed: error: implicit declaration of function \u0000pin_user_page',
  }));
  const report = toKcidb({ ...run, verdicts: failed });
  assertSubmittable(t, report);
  t.is(report.builds![0]!.status, 'FAIL');
  t.true(report.tests!.every((x) => x.status === 'MISS' && x.number === undefined));
});

test('log excerpts longer than KCIDB allows are cut, and the whole report still validates', (t) => {
  const long = { ...run.verdicts[2]!, splats: [{ kind: 'oops' as const, title: 'Oops', lines: Array.from({ length: 2000 }, (_, i) => `line ${i} ${'x'.repeat(20)}`) }] };
  const report = toKcidb({ ...run, verdicts: [long] });
  assertValid(t, report);
  t.true(report.tests![0]!.log_excerpt!.endsWith('[truncated]\n'));
});

test('a matrix of two kernels gives two checkouts and builds in one valid report', (t) => {
  const report = toKcidb([run, patched]);
  assertSubmittable(t, report);
  t.is(report.checkouts!.length, 2);
  t.is(report.builds!.length, 2);
  t.is(report.tests!.length, run.verdicts.length * 2);
  t.is(new Set(report.tests!.map((x) => x.id)).size, report.tests!.length);
  t.is(mergeKcidb([report, report]).tests!.length, report.tests!.length);
});

test('options name the origin, tree, repository, branch and commit, per profile of a matrix', (t) => {
  const stock612: RunResult = { ...run, runId: 'r-612', kernel: { ...run.kernel, profile: 'stock-6.12', source: 'debian:linux-source-6.12=6.12.57-1' } };
  const url = 'https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux.git';
  const report = toKcidb([run, patched, stock612], {
    origin: 'example_ci',
    treeName: ['stable', 'patched-6.1=pinlab-patched'],
    gitRepositoryUrl: url,
    gitRepositoryBranch: ['linux-6.1.y', 'stock-6.12=linux-6.12.y'],
    gitCommitHash: ['stock-6.1=' + 'a'.repeat(40), 'patched-6.1=' + 'a'.repeat(40), 'stock-6.12=' + 'b'.repeat(40)],
  });
  assertSubmittable(t, report, 'example_ci');
  const byProfile = new Map(report.checkouts!.map((c) => [c.misc?.['profile'], c]));
  t.like(byProfile.get('stock-6.1'), { origin: 'example_ci', tree_name: 'stable', git_repository_url: url, git_repository_branch: 'linux-6.1.y', git_commit_hash: 'a'.repeat(40) });
  t.like(byProfile.get('patched-6.1'), { tree_name: 'pinlab-patched', git_repository_branch: 'linux-6.1.y', git_commit_hash: 'a'.repeat(40) });
  t.like(byProfile.get('stock-6.12'), { tree_name: 'stable', git_repository_branch: 'linux-6.12.y', git_commit_hash: 'b'.repeat(40) });
  // the issue of a known state is one object across runs: its id does not carry the run
  t.deepEqual(report.issues!.map((i) => i.id), ['example_ci:known-state.stock-6.1/dio-not-pinned']);
});

test('per-profile values: a profile\'s own entry wins over a bare one, the last of each wins', (t) => {
  const entries = ['stable', 'stock-6.12=mainline', 'next', 'stock-6.12=linux-next'];
  t.is(perKernelValue(entries, 'stock-6.12'), 'linux-next');
  t.is(perKernelValue(entries, 'stock-6.1'), 'next');
  t.is(perKernelValue(entries, undefined), 'next');
  t.is(perKernelValue(['stock-6.12=mainline'], 'stock-6.1'), undefined);
  t.is(perKernelValue('https://host/linux.git?a=b', 'stock-6.1'), 'https://host/linux.git?a=b', 'an URL is one value, not PROFILE=VALUE');
});

test('option values KCIDB would reject are refused when the command line is read', (t) => {
  t.throws(() => kcidbArg.origin('Example-CI'), { instanceOf: UserError });
  t.throws(() => kcidbArg.runId('run 1'), { instanceOf: UserError });
  t.throws(() => kcidbArg.gitUrl('git://git.kernel.org/linux.git'), { instanceOf: UserError });
  t.throws(() => kcidbArg.commit('abc123'), { instanceOf: UserError });
  t.throws(() => kcidbArg.artifactsUrl('results/'), { instanceOf: UserError });
  t.throws(() => perKernelArg(kcidbArg.commit)('stock-6.1=abc'), { instanceOf: UserError });
  t.deepEqual(perKernelArg(kcidbArg.commit)(`stock-6.1=${'a'.repeat(40)}`, ['x']), ['x', `stock-6.1=${'a'.repeat(40)}`]);
  t.is(kcidbArg.runId('gitlab-123456'), 'gitlab-123456');
  t.is(kcidbArg.artifactsUrl('https://gitlab.example.org/p/-/jobs/1/artifacts/raw'), 'https://gitlab.example.org/p/-/jobs/1/artifacts/raw');
});

test('every run is its own checkout, build and tests; one run id makes one checkout of its shards', (t) => {
  const tonight = toKcidb(run);
  const tomorrow = toKcidb({ ...run, runId: '20250102-120000-beef', startedAt: '2025-01-02T12:00:00.000Z' });
  t.not(tonight.checkouts![0]!.id, tomorrow.checkouts![0]!.id);
  t.not(tonight.builds![0]!.id, tomorrow.builds![0]!.id);
  t.false(tonight.tests!.some((x) => tomorrow.tests!.some((y) => y.id === x.id)));
  // the checkout id is not a content hash of the kernel alone
  t.true(tonight.checkouts![0]!.id.startsWith(`pinlab:${run.runId}/`));

  // shards of one pipeline: own pinlab run ids and clocks, one --run-id
  const shards = [0, 1].map((k) => ({
    ...run,
    runId: `20250101-12000${k}-000${k}`,
    startedAt: `2025-01-01T12:0${k}:00.000Z`,
    finishedAt: `2025-01-01T12:1${k}:00.000Z`,
    verdicts: run.verdicts.filter((_, i) => i % 2 === k),
  }));
  const opts = { runId: 'gitlab-4242' };
  const perShard = mergeKcidb(shards.map((s) => toKcidb(s, opts)));
  assertSubmittable(t, perShard);
  t.is(perShard.checkouts!.length, 1);
  t.is(perShard.builds!.length, 1);
  t.is(perShard.checkouts![0]!.id, kcidbIds(shards[0]!, opts).checkout);
  t.true(perShard.checkouts![0]!.id.startsWith('pinlab:gitlab-4242/'));
  t.like(perShard.checkouts![0], { start_time: '2025-01-01T12:00:00.000Z', origin_tests_finish_time: '2025-01-01T12:11:00.000Z' });
  t.is(perShard.builds![0]!.start_time, '2025-01-01T12:00:00.000Z');
  // merging the runs first gives the same objects
  const fromMerged = toKcidb(mergeRuns(shards), opts);
  t.deepEqual(fromMerged.checkouts, perShard.checkouts);
  t.deepEqual(fromMerged.tests!.map((x) => x.id), perShard.tests!.map((x) => x.id));
  // without a shared run id the merged run is still one checkout, named by all its shards
  t.is(toKcidb(mergeRuns(shards)).checkouts!.length, 1);
});

test('with an artifacts URL, builds link config and build log, tests their console, observation and runner log', (t) => {
  const built: KcidbRunFiles = { ...runDirFiles, files: [...runDirFiles.files, 'logs/build.log'] };
  const base = 'https://gitlab.example.org/g/p/-/jobs/7/artifacts/raw/';
  const report = toKcidb(run, { artifactsUrl: base, runFiles: [built] });
  assertSubmittable(t, report);
  const b = report.builds![0]!;
  t.like(b, {
    config_url: 'https://gitlab.example.org/g/p/-/jobs/7/artifacts/raw/recorded-small/kernel/config',
    log_url: 'https://gitlab.example.org/g/p/-/jobs/7/artifacts/raw/recorded-small/logs/build.log',
    compiler: 'gcc (Debian 12.2.0-14+deb12u1) 12.2.0',
  });
  const ran = report.tests!.find((x) => x.misc?.['workload'] === 'raw-virtio.psync.anon')!;
  t.is(ran.log_url, `${base}recorded-small/vm/console.log`);
  t.deepEqual(ran.output_files, [
    { name: 'observation.json', url: `${base}recorded-small/observations/raw-virtio.psync.anon.json` },
    { name: 'runner.log', url: `${base}recorded-small/logs/runner.log` },
  ]);
  // a test that never ran for want of a kernel points at the build log
  const failedBuild = toKcidb({ ...run, verdicts: run.verdicts.map((v) => ({ ...v, status: 'ERROR' as const, cause: 'build' as const })) }, { artifactsUrl: base, runFiles: [built] });
  t.true(failedBuild.tests!.every((x) => x.log_url === `${base}recorded-small/logs/build.log`));

  // no URL: no links, but the compiler is still known
  const local = toKcidb(run, { runFiles: [built] });
  t.is(local.builds![0]!.compiler, 'gcc (Debian 12.2.0-14+deb12u1) 12.2.0');
  t.false(JSON.stringify(local).includes('"log_url"') || JSON.stringify(local).includes('config_url') || JSON.stringify(local).includes('output_files'));
  // a cache hit has no build log to link; a run directory outside the published root has no links
  t.is(toKcidb(run, { artifactsUrl: base, runFiles: [runDirFiles] }).builds![0]!.log_url, undefined);
  const outside = readRunFiles(join(fixtures, 'recorded-small'), run, join(fixtures, 'golden'));
  t.is(outside.dir, undefined);
  t.false(JSON.stringify(toKcidb(run, { artifactsUrl: base, runFiles: [outside] })).includes(base));
});

test('a workload that ran in a fresh guest links that guest\'s console and runner log', (t) => {
  // the recorded run: nvme-passthru.passthru.anon hung guest 1, the rest ran in guest 2 (vm-2/)
  const base = 'https://ci.example.org/a/';
  const report = toKcidb(run, { artifactsUrl: base, runFiles: [runDirFiles] });
  const linksOf = (name: string) => {
    const x = report.tests!.find((y) => y.misc?.['workload'] === name)!;
    return [x.log_url, ...(x.output_files ?? []).map((f) => f.url)];
  };
  const dir = `${base}recorded-small`;
  t.deepEqual(linksOf('raw-virtio.psync.anon'), [`${dir}/vm/console.log`, `${dir}/observations/raw-virtio.psync.anon.json`, `${dir}/logs/runner.log`]);
  t.deepEqual(linksOf('nvme-passthru.passthru.anon'), [`${dir}/vm/console.log`, `${dir}/logs/runner.log`], 'the hung workload: the guest it hung');
  t.deepEqual(linksOf('ext4.libaio.anon.efault-midway'), [`${dir}/vm-2/console.log`, `${dir}/logs/runner-2.log`], 'the splat is on the second guest\'s console');
  t.true(readFileSync(join(fixtures, 'recorded-small/vm-2/console.log'), 'utf8').includes('BUG: pinlab test splat'));
});

test('a merged run links each test into the run directory of the shard that ran it', (t) => {
  const shards = [0, 1].map((k) => ({ ...run, runId: `shard-${k}`, verdicts: run.verdicts.filter((_, i) => i % 2 === k) }));
  const files: KcidbRunFiles[] = shards.map((s, k) => ({ ...readRunFiles(join(fixtures, 'recorded-small'), s, fixtures), dir: `results/stock-6.1-${k + 1}/run` }));
  const report = toKcidb(mergeRuns(shards), { artifactsUrl: 'https://ci.example.org/a', runFiles: files, runId: 'ci-1' });
  assertSubmittable(t, report);
  for (const x of report.tests!) {
    const name = x.misc?.['workload'] as string;
    const k = shards.findIndex((s) => s.verdicts.some((v) => v.name === name));
    const vm = runDirFiles.guests?.[name] ? `vm-${runDirFiles.guests[name]}` : 'vm';
    t.is(x.log_url, `https://ci.example.org/a/results/stock-6.1-${k + 1}/run/${vm}/console.log`);
  }
});

test('patch files link into the published run directory when it holds them', (t) => {
  const files: KcidbRunFiles = { runId: patched.runId, workloads: [], dir: 'results/p-1/run', files: ['kernel/0001-block-pin-user-pages.patch'] };
  const urls = toKcidb(patched, { artifactsUrl: 'https://ci.example.org/a', runFiles: [files] }).checkouts![0]!.patchset_files!.map((f) => f.url);
  t.deepEqual(urls, ['https://ci.example.org/a/results/p-1/run/kernel/0001-block-pin-user-pages.patch'], 'a patch the directory does not hold gets no URL');
});

test('a run directory outside the published directory is one warning line naming it', (t) => {
  const outside = readRunFiles(join(fixtures, 'recorded-small'), run, join(fixtures, 'golden'));
  const warnings = unlinkedRunWarnings({ artifactsUrl: 'https://ci.example.org/a', runFiles: [outside, runDirFiles] });
  t.is(warnings.length, 1);
  t.regex(warnings[0]!, /recorded-small is outside the current directory.*no link/);
  t.false(warnings[0]!.includes('\n'));
  t.deepEqual(unlinkedRunWarnings({ runFiles: [outside] }), [], 'no URL asked for: nothing is missing');
});

test('readRunFiles lists what a run directory holds and reads its compiler', (t) => {
  t.like(runDirFiles, { runId: run.runId, dir: 'recorded-small', compiler: 'gcc (Debian 12.2.0-14+deb12u1) 12.2.0' });
  t.deepEqual(runDirFiles.workloads, run.verdicts.map((v) => v.name));
  t.true(runDirFiles.files.includes('vm/console.log'));
  t.true(runDirFiles.files.includes('vm-2/console.log'), 'the console of the guest after the stall');
  t.false(runDirFiles.files.some((f) => f.endsWith('.raw')), 'no disk image');
  // the workloads after nvme-passthru.passthru.anon's stall ran in guest 2
  t.deepEqual(runDirFiles.guests, { 'raw-virtio.uring-fixed.anon': 2, 'raw-virtio.uring-fixed.thp': 2, 'ext4.libaio.anon.efault-midway': 2 });
  t.true(runDirFiles.files.includes('kernel/config'));
  t.false(runDirFiles.files.includes('README.md'));
});
