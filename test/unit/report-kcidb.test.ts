// KCIDB output checked against the public KCIDB I/O schema v5.3 (vendored, see vendor/kcidb/NOTE.md).
import test from 'ava';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kcidbPatchsetHash, kcidbStatus, kcidbTestPath, mergeKcidb, toKcidb } from '../../harness/report/kcidb.js';
import type { RunResult, Verdict } from '../../harness/verdict/types.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const schema = JSON.parse(readFileSync(join(root, 'vendor/kcidb/kcidb-io.schema.v5.3.json'), 'utf8')) as object;
const run = JSON.parse(readFileSync(join(root, 'test/fixtures/report/run-small.json'), 'utf8')) as RunResult;

// kcidb-io validates with draft-07 semantics and format checking (its README); so do we.
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats.default(ajv);
const validate = ajv.compile(schema);

function assertValid(t: { fail: (m: string) => void; pass: () => void }, data: unknown): void {
  if (validate(data)) t.pass();
  else t.fail(ajv.errorsText(validate.errors, { separator: '\n' }));
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

test('KCIDB for a stock kernel validates against the v5.3 schema', (t) => {
  assertValid(t, toKcidb(run, { artifactsUrl: 'https://ci.example.org/run' }));
});

test('KCIDB for a patched kernel from git validates, with patch files and a git commit', (t) => {
  const fromGit: RunResult = { ...patched, kernel: { ...patched.kernel, source: `git:/src/linux@${'c'.repeat(40)}` } };
  const report = toKcidb(fromGit, { gitRepositoryUrl: 'https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux.git' });
  assertValid(t, report);
  const checkout = report.checkouts![0]!;
  t.is(checkout.git_commit_hash, 'c'.repeat(40));
  t.deepEqual(checkout.patchset_files!.map((f) => f.name), ['0001-block-pin-user-pages.patch', '0002-iomap-use-pin.patch']);
  t.true(checkout.patchset_files!.every((f) => f.url.startsWith('file://')));
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
  const dir = mkdtempSync(join(tmpdir(), 'pinlab-kcidb-'));
  writeFileSync(join(dir, '0001.patch'), 'first\n');
  writeFileSync(join(dir, '0002.patch'), 'second\n');
  const shell = execFileSync('sh', ['-c', 'sha256sum *.patch | cut -c-64 | sha256sum | cut -c-64'], { cwd: dir, encoding: 'utf8' }).trim();
  const each = ['0001.patch', '0002.patch'].map((f) =>
    execFileSync('sha256sum', [f], { cwd: dir, encoding: 'utf8' }).slice(0, 64),
  );
  t.is(kcidbPatchsetHash(each), shell);
  t.is(kcidbPatchsetHash([]), '');
  t.is(toKcidb(patched).checkouts![0]!.patchset_hash, kcidbPatchsetHash(['a'.repeat(64), 'b'.repeat(64)]));
});

test('status mapping: XFAIL is a FAIL linked to a known-state issue; harness errors are MISS', (t) => {
  const byName = new Map(run.verdicts.map((v) => [v.name, v]));
  const report = toKcidb(run);
  const xfail = report.tests!.find((x) => x.misc?.['workload'] === 'vfat.psync.anon')!;
  t.is(xfail.status, 'FAIL');
  t.is(xfail.misc?.['pinlab_status'], 'XFAIL');
  t.is(xfail.misc?.['known_state'], 'stock-6.1/dio-not-pinned');
  t.deepEqual(report.issues!.map((i) => i.id), ['pinlab:known-state.stock-6.1/dio-not-pinned']);
  t.is(report.incidents!.length, 1);
  t.is(report.incidents![0]!.test_id, xfail.id);
  t.is(report.incidents![0]!.issue_id, report.issues![0]!.id);

  const error = byName.get('nvme-passthru.passthru.anon')!;
  t.is(kcidbStatus(error), 'ERROR');
  t.is(kcidbStatus({ ...error, cause: 'harness' }), 'MISS');
  t.is(kcidbStatus({ ...error, cause: 'build' }), 'MISS');
  t.is(kcidbStatus(byName.get('raw-nvme.uring-fixed.thp')!), 'SKIP');
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
  assertValid(t, report);
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
  assertValid(t, report);
  t.is(report.checkouts!.length, 2);
  t.is(report.builds!.length, 2);
  t.is(report.tests!.length, run.verdicts.length * 2);
  t.is(new Set(report.tests!.map((x) => x.id)).size, report.tests!.length);
  t.is(mergeKcidb([report, report]).tests!.length, report.tests!.length);
});
