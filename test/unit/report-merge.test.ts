// Sharded runs merge into what an unsharded run reports; diff finds changed verdicts.
import test from 'ava';
import { execa } from 'execa';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../harness/errors.js';
import { diffRuns, formatDiff, regressions } from '../../harness/report/diff.js';
import { toRunJson } from '../../harness/report/json.js';
import { toKcidb } from '../../harness/report/kcidb.js';
import { mergeKcidb } from '../../harness/report/kcidb-merge.js';
import type { KcidbReport } from '../../harness/report/kcidb-schema.js';
import { toKtap } from '../../harness/report/ktap.js';
import { comparableRun, mergeRuns } from '../../harness/report/merge.js';
import { formatSummary } from '../../harness/report/terminal.js';
import type { RunResult } from '../../harness/verdict/types.js';
import { testTempDir } from '../tmp.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const run = JSON.parse(readFileSync(join(root, 'test/fixtures/report/recorded-small/run.json'), 'utf8')) as RunResult;

/** What `--shard K/3` would produce: every third workload, its own clock and host, its pin evidence judging its own workloads. */
function shard(k: number, n: number, runId = run.runId): RunResult {
  const verdicts = run.verdicts.filter((_, i) => i % n === k).reverse();
  const judged = verdicts.filter((v) => v.numbers?.evidence).length;
  return {
    ...run,
    runId,
    startedAt: `2025-01-01T12:0${k}:00.000Z`,
    finishedAt: `2025-01-01T12:1${k}:00.000Z`,
    host: { ...run.host, node: `v20.19.${k}` },
    verdicts,
    evidence: { ...run.evidence!, judgedBy: judged > 0 ? { 'kprobe-hist': judged } : {} },
  };
}

test('three shards merge into the unsharded run', (t) => {
  const shards = [shard(2, 3), shard(0, 3), shard(1, 3)];
  t.true(shards.every((s) => s.verdicts.length > 0 && s.verdicts.length < run.verdicts.length));
  const merged = mergeRuns(shards);
  t.is(merged.length, 1);
  t.deepEqual(comparableRun(merged[0]!), comparableRun(run));
  t.is(merged[0]!.runId, run.runId);
  t.is(merged[0]!.startedAt, '2025-01-01T12:00:00.000Z');
  t.is(merged[0]!.finishedAt, '2025-01-01T12:12:00.000Z');
  t.deepEqual(merged[0]!.evidence, run.evidence, 'the pin evidence, with the workloads each shard judged summed');
  // Reports that carry no clock are byte-identical.
  t.is(toKtap(merged[0]!), toKtap(run));
  t.is(formatSummary(merged[0]!), formatSummary(run));
});

test('three shards\' KCIDB files merge into the unsharded KCIDB report', (t) => {
  // Each test's environment and start names its own shard's host and clock; the checkout spans
  // the shards (first start, last finish); everything else is identical.
  const withoutClocks = (r: KcidbReport) => ({
    ...r,
    checkouts: r.checkouts!.map(({ start_time: _s, origin_tests_finish_time: _f, ...rest }) => rest),
    builds: r.builds!.map(({ start_time: _s, ...rest }) => rest),
    tests: r.tests!.map(({ environment: _, start_time: _s, ...rest }) => rest),
  });
  const merged = mergeKcidb([1, 0, 2].map((k) => toKcidb(shard(k, 3))));
  t.deepEqual(withoutClocks(merged), withoutClocks(toKcidb(run)));
  t.deepEqual(merged.tests!.map((x) => x.environment?.misc?.['node']), ['v20.19.0', 'v20.19.1', 'v20.19.2', 'v20.19.0', 'v20.19.1', 'v20.19.2']);
  t.like(merged.checkouts![0], { start_time: '2025-01-01T12:00:00.000Z', origin_tests_finish_time: '2025-01-01T12:12:00.000Z' });
  t.is(merged.builds![0]!.start_time, '2025-01-01T12:00:00.000Z', 'the build starts with the first shard');
  t.deepEqual(mergeKcidb([0, 1, 2, 1].map((k) => toKcidb(shard(k, 3)))).builds, merged.builds, 'a shard passed twice counts once');
});

test('merging is insensitive to shard order and to a shard passed twice', (t) => {
  const a = mergeRuns([shard(0, 3), shard(1, 3), shard(2, 3)]);
  const b = mergeRuns([shard(2, 3), shard(1, 3), shard(0, 3), shard(1, 3)]);
  t.is(toRunJson(a[0]!), toRunJson(b[0]!));
});

test('shards with their own run ids keep all of them', (t) => {
  const merged = mergeRuns([shard(0, 2, 'r-b'), shard(1, 2, 'r-a')]);
  t.is(merged[0]!.runId, 'r-a+r-b');
});

test('a workload with two different verdicts is a conflict, not a silent pick', (t) => {
  const other = shard(0, 3);
  other.verdicts = other.verdicts.map((v) => ({ ...v, message: `${v.message} (rerun)` }));
  t.throws(() => mergeRuns([shard(0, 3), other]), { instanceOf: UserError, message: /different verdicts/ });
});

test('shards with and without --strict do not merge', (t) => {
  t.throws(() => mergeRuns([shard(0, 2), { ...shard(1, 2), strict: true }]), { instanceOf: UserError });
});

test('different kernels stay separate results', (t) => {
  const patched = { ...shard(1, 2), kernel: { ...run.kernel, profile: 'patched-6.1' } };
  const merged = mergeRuns([shard(0, 2), patched]);
  t.deepEqual(merged.map((r) => r.kernel.profile), ['stock-6.1', 'patched-6.1']);
});

test('diff finds a verdict that changed status, reasons and pins', (t) => {
  const after = structuredClone(run);
  const pass = after.verdicts.find((v) => v.name === 'raw-virtio.uring-fixed.anon')!;
  Object.assign(pass, { status: 'FAIL', reasons: ['pin-leak'], message: '3 pins not released' });
  pass.numbers!.released = 509;
  const d = diffRuns(run, after);
  t.is(d.verdicts.length, 1);
  const change = d.verdicts[0]!;
  t.is(change.kind, 'changed');
  if (change.kind !== 'changed') return;
  t.is(change.name, 'raw-virtio.uring-fixed.anon');
  t.true(change.regression);
  t.deepEqual(change.changes.map((c) => c.field), ['status', 'reasons', 'released']);
  t.is(d.unchanged, run.verdicts.length - 1);
  t.deepEqual(regressions(d).map((v) => v.name), ['raw-virtio.uring-fixed.anon']);
  t.is(
    formatDiff(d),
    [
      `A: ${run.runId} stock-6.1`,
      `B: ${run.runId} stock-6.1`,
      '! raw-virtio.uring-fixed.anon: PASS -> FAIL (pin-leak); reasons - -> pin-leak; released 512 -> 509',
      '1 changed (1 worse), 0 only in B, 0 only in A, 5 unchanged',
      '',
    ].join('\n'),
  );
});

test('diff reports added and removed workloads, kernel changes, and honours the pin tolerance', (t) => {
  const after = structuredClone(run);
  after.kernel.profile = 'patched-6.1';
  after.verdicts = after.verdicts.filter((v) => v.name !== 'vfat.psync.anon');
  after.verdicts.push({ ...after.verdicts[0]!, name: 'loop.psync.anon', target: 'loop' });
  after.verdicts.find((v) => v.name === 'raw-virtio.uring-fixed.anon')!.numbers!.acquired = 513;
  const strictDiff = diffRuns(run, after);
  t.deepEqual(strictDiff.kernelChanges, [{ field: 'profile', before: 'stock-6.1', after: 'patched-6.1' }]);
  t.deepEqual(strictDiff.verdicts.map((v) => `${v.kind} ${v.name}`), ['added loop.psync.anon', 'changed raw-virtio.uring-fixed.anon', 'removed vfat.psync.anon']);
  const tolerant = diffRuns(run, after, { pinTolerance: 1 });
  t.deepEqual(tolerant.verdicts.map((v) => v.kind), ['added', 'removed']);
  t.deepEqual(diffRuns(run, run).verdicts, []);
});

test('pinlab merge writes KCIDB named by --run-id (or PINLAB_RUN_ID), with links into the shards\' run directories', async (t) => {
  const work = testTempDir('pinlab-merge-');
  const dirs = [0, 1].map((k) => {
    const dir = join('results', `stock-6.1-${k + 1}`, 'run');
    cpSync(join(root, 'test/fixtures/report/recorded-small'), join(work, dir), { recursive: true });
    writeFileSync(join(work, dir, 'run.json'), toRunJson(shard(k, 2, `shard-${k}`)));
    return dir;
  });
  mkdirSync(join(work, 'out'));
  const args = [
    join(repoRoot, 'bin/pinlab.js'), 'merge', ...dirs, '-o', 'out/merged.json', '--kcidb', 'out/kcidb.json',
    '--kcidb-origin', 'example_ci', '--kcidb-tree', 'stable', '--kcidb-git-commit', `stock-6.1=${'e'.repeat(40)}`,
    '--kcidb-artifacts-url', 'https://ci.example.org/jobs/9/artifacts/raw',
  ];
  const r = await execa(process.execPath, args, { cwd: work, reject: false, env: { PINLAB_RUN_ID: 'gitlab-9' } });
  t.is(r.exitCode, 1, r.stderr); // the fixture has a FAIL
  const kcidb = JSON.parse(readFileSync(join(work, 'out/kcidb.json'), 'utf8')) as KcidbReport;
  t.is(kcidb.checkouts!.length, 1);
  t.like(kcidb.checkouts![0], { origin: 'example_ci', tree_name: 'stable', git_commit_hash: 'e'.repeat(40) });
  t.true(kcidb.checkouts![0]!.id.startsWith('example_ci:gitlab-9/'));
  t.is(kcidb.builds![0]!.config_url, 'https://ci.example.org/jobs/9/artifacts/raw/results/stock-6.1-1/run/kernel/config');
  t.deepEqual(
    kcidb.tests!.map((x) => x.log_url),
    kcidb.tests!.map((x) => {
      const k = shard(0, 2).verdicts.some((v) => v.name === x.misc?.['workload']) ? 1 : 2;
      // the workloads after the recorded run's stall ran in its second guest (vm-2/)
      const vm = ['raw-virtio.uring-fixed.anon', 'raw-virtio.uring-fixed.thp', 'ext4.libaio.anon.efault-midway'].includes(x.misc?.['workload'] as string) ? 'vm-2' : 'vm';
      return `https://ci.example.org/jobs/9/artifacts/raw/results/stock-6.1-${k}/run/${vm}/console.log`;
    }),
  );
});
