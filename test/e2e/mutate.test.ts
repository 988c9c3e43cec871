// `pinlab mutate` end to end on a fixed sample of patched-6.1: a small coverage run gives each
// mutant's reach, then each mutant with its expected outcome. One is planted, rebuilt
// incrementally, booted and killed by the workload on its path; the others are decided from the
// coverage without a kernel (a line no workload of the run reached: a gap; a reviewed unreachable
// site). Run again with the same state, nothing is rebuilt and the report is the same.
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import type { MutationReport } from '../../harness/mutate/report.js';
import { testTempDir } from '../tmp.js';
import { rootOnly } from '../root.js';

const e2e = rootOnly('pinlab setup needs apt-get (kernel sources, QEMU, lcov)');

/** The workloads of the coverage run: the block-device paths of raw-virtio only. */
const COVERAGE_WORKLOADS = 'raw-virtio.psync.anon,raw-virtio.psyncv.anon.subpage';

const SAMPLE: { mutant: string; outcome: string; why: string }[] = [
  // a same-page merge of a pinned bio drops its extra pin with put_page(): the page leaks a pin
  { mutant: 'block/bio.c:bio_iov_add_page:bio_release_page/put-for-unpin', outcome: 'killed', why: 'raw-virtio.psyncv.anon.subpage merges sub-page segments' },
  // the check before the deferred-dirty release: asynchronous or multi-bio reads come here, not
  // this run's synchronous ones of one bio
  { mutant: 'block/bio.c:bio_check_pages_dirty:bio_release_pages/drop-release', outcome: 'not-reached', why: 'no workload of this coverage run reads through bio_check_pages_dirty' },
  // a devmap page whose pagemap goes away under gup-fast (a reviewed unreachable site; zone append
  // was the example until the zonefs workload reached it, bio_dirty_fn before cleaned-in-flight)
  { mutant: 'mm/gup.c:undo_dev_pagemap:unpin_user_page/drop-release', outcome: 'unreachable', why: 'reviewed in harness/coverage/unreachable.ts' },
];

const pinlab = (args: string[]) => execa(process.execPath, [join(repoRoot, 'bin/pinlab.js'), ...args], { reject: false, all: true, timeout: 60 * 60_000, env: { FORCE_COLOR: '0' } });

e2e('pinlab mutate on a fixed sample of patched-6.1: each mutant gets its expected outcome; a rerun resumes from the state', async (t) => {
  const dir = testTempDir('pinlab-mutate-');
  const cov = join(dir, 'cov');
  const c = await pinlab(['run', '-p', 'patched-6.1', '--coverage', '-f', COVERAGE_WORKLOADS, '--run-dir', cov]);
  t.true(existsSync(join(cov, 'coverage', 'gcda')), `the coverage run kept per-workload counters (exit ${c.exitCode}):\n${c.all?.slice(-3000)}`);

  const args = ['mutate', '-p', 'patched-6.1', '--coverage', cov, '--state', join(dir, 'state'), '--out', join(dir, 'report'), '-f', SAMPLE.map((s) => s.mutant).join(',')];
  const t0 = Date.now();
  const first = await pinlab(args);
  const firstMs = Date.now() - t0;
  const file = join(dir, 'report', 'mutation.json');
  t.true(existsSync(file), `mutation.json written (exit ${first.exitCode}):\n${first.all?.slice(-3000)}`);
  const report = JSON.parse(readFileSync(file, 'utf8')) as MutationReport;
  t.deepEqual(
    report.mutants.map((m) => [m.id, m.outcome]),
    SAMPLE.map((s) => [s.mutant, s.outcome]).sort(([a], [b]) => a!.localeCompare(b!)),
    report.mutants.map((m) => `${m.id}: ${m.outcome} ${m.detail}`).join('\n'),
  );
  const killed = report.mutants.find((m) => m.outcome === 'killed')!;
  t.true(killed.killedBy?.some((k) => /raw-virtio\.psyncv\.anon\.subpage FAIL .*pin-leak/.test(k)), `${killed.killedBy?.join('; ')}`);
  t.true((killed.buildMs ?? Infinity) < 10 * 60_000, 'the mutant was an incremental rebuild');
  t.true(existsSync(join(dir, 'report', 'mutation.html')));
  t.regex(first.all ?? '', /NOT-REACHED block\/bio\.c:bio_check_pages_dirty:bio_release_pages\/drop-release/, 'the terminal names the gap');
  t.is(first.exitCode, 1, 'a gap fails the command');
  t.log(`sample: ${firstMs} ms for ${report.timing.mutantsRun} mutant run (${killed.elapsedMs} ms, build ${killed.buildMs} ms), coverage run included separately`);

  const again = await pinlab(args);
  t.regex(again.all ?? '', /0 to run, 3 decided/, again.all?.slice(-2000));
  const second = JSON.parse(readFileSync(file, 'utf8')) as MutationReport;
  t.deepEqual(second.mutants, report.mutants, 'the rerun reports the same results without running them again');
});
