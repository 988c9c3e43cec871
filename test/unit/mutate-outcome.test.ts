// A mutant's outcome comes from the verdicts `pinlab run` gives; its reach from per-workload line
// counts; the state file makes a rerun resume; shard reports merge into the unsharded one.
import test from 'ava';
import { mkdtempSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Verdict } from '../../harness/verdict/types.js';
import { judgeMutant, scoreOf, type MutantResult } from '../../harness/mutate/outcome.js';
import { reachOf, type ReachData } from '../../harness/mutate/reach.js';
import { appendState, isFinal, readState } from '../../harness/mutate/state.js';
import { buildReport, formatMutationReport, mergeReports, mutationHtml, type MutationReport } from '../../harness/mutate/report.js';
import { judgingWorkloads, lackingWorkloads, staticResult } from '../../harness/mutate/mutate.js';
import { DEFAULT_SUITE } from '../../harness/workloads/catalogue.js';
import type { Mutant } from '../../harness/mutate/plan.js';

const verdict = (name: string, over: Partial<Verdict> = {}): Verdict => ({ name, target: 't', engine: 'e', status: 'PASS', reasons: [], path: [], pinning: 'pinned', splats: [], message: '', ...over });

test('judgeMutant: a FAIL kills, naming the verdict; passes survive', (t) => {
  const k = judgeMutant([verdict('a'), verdict('b', { status: 'FAIL', reasons: ['pin-leak'] })]);
  t.is(k.outcome, 'killed');
  t.deepEqual(k.killedBy, ['b FAIL pin-leak']);
  t.is(judgeMutant([verdict('a'), verdict('calibration.odirect-loop')]).outcome, 'survived');
});

test('judgeMutant: splats and pin-path errors kill; a build error is unbuildable; a hang times out; harness trouble is an error', (t) => {
  t.is(judgeMutant([verdict('a', { splats: [{ kind: 'warning', title: 'WARNING in gup_put_folio', lines: [] }] })]).outcome, 'killed');
  t.is(judgeMutant([verdict('a', { status: 'ERROR', cause: 'path-not-reached' })]).outcome, 'killed');
  t.is(judgeMutant([verdict('a', { status: 'ERROR', cause: 'build', message: 'bio.c:12: error: x' })]).outcome, 'unbuildable');
  t.is(judgeMutant([verdict('a', { status: 'ERROR', cause: 'timeout' }), verdict('b')]).outcome, 'timed-out');
  t.is(judgeMutant([verdict('a', { status: 'ERROR', cause: 'guest' })]).outcome, 'error');
  // a kernel that dies booting noticed the mutant; a boot that timed out on a busy host did not
  t.is(judgeMutant([verdict('a', { status: 'ERROR', cause: 'boot', message: 'boot failed (oops): BUG: Bad page state' })]).outcome, 'killed');
  t.is(judgeMutant([verdict('a', { status: 'ERROR', cause: 'boot', message: 'boot failed (timeout): no console output within 60 s' })]).outcome, 'error');
  t.is(judgeMutant([verdict('a', { status: 'SKIP' })]).outcome, 'error', 'nothing judged is not a survivor');
  // a FAIL outweighs a hang elsewhere: the mutant was noticed
  t.is(judgeMutant([verdict('a', { status: 'ERROR', cause: 'timeout' }), verdict('b', { status: 'FAIL', reasons: ['over-released'] })]).outcome, 'killed');
});

test('judgeMutant: a workload the kernel now refuses with an errno kills (the unmutated tree ran it); a guest failure without one is an error', (t) => {
  // recorded: io_uring/rsrc.c:io_pin_pages:pin_user_pages/refs-minus-one on patched-6.1
  const refused = verdict('raw-virtio.uring-fixed.anon', {
    status: 'ERROR',
    cause: 'guest',
    message: 'workload failed: EFAULT: bad address, io_uring_register',
    observation: { ioError: { code: 'EFAULT', message: 'EFAULT: bad address, io_uring_register' } } as Verdict['observation'],
  });
  t.is(judgeMutant([refused]).outcome, 'killed');
  const lost = verdict('a', { status: 'ERROR', cause: 'guest', message: 'the guest runner produced no result', observation: { ioError: { message: 'runner crashed' } } as Verdict['observation'] });
  t.is(judgeMutant([lost]).outcome, 'error');
});

test('scoreOf: killed and timed out over the non-equivalent; gaps count against, equivalents and unbuildables do not', (t) => {
  const s = scoreOf(['killed', 'killed', 'timed-out', 'survived', 'not-reached', 'equivalent', 'unbuildable', 'unreachable'].map((outcome) => ({ outcome }) as MutantResult));
  t.is(s.score, 3 / 5);
  t.is(s.equivalent, 1);
  t.is(scoreOf([]).score, undefined);
});

const m = (over: Partial<Mutant> = {}): Mutant => ({ id: 'block/bio.c:f:unpin_user_page/drop-release', file: 'block/bio.c', site: 'block/bio.c:f:unpin_user_page', kind: 'unpin', operator: 'drop-release', line: 10, endLine: 11, before: 'x', after: 'y', diff: 'd', ...over });

const reachData = (counts: Record<string, Record<number, number>>): ReachData => ({
  perWorkload: new Map(Object.entries(counts).map(([w, lines]) => [w, { 'block/bio.c': { lines: Object.fromEntries(Object.entries(lines).map(([l, c]) => [l, c])), functions: [], branches: {} } }])),
  from: ['/cov'],
});

test('reachOf: workloads whose counts ran a line of the change; no counter is compiled out; a reviewed site is unreachable', (t) => {
  const d = reachData({ 'w1': { 10: 0, 11: 3 }, 'w2': { 10: 0, 11: 0 }, '(calibration)': { 10: 1 } });
  t.deepEqual(reachOf(m(), d), { status: 'reached', workloads: ['(calibration)', 'w1'] });
  t.is(reachOf(m({ line: 20, endLine: 20 }), d).status, 'compiled-out');
  // a flag point gcc folded into the block above it (no counter of its own) runs when that block does
  const flag = { site: 'block/bio.c:bio_iov_iter_get_pages:BIO_PAGE_PINNED' };
  t.deepEqual(reachOf(m({ ...flag, line: 12, endLine: 12 }), d), { status: 'reached', workloads: ['w1'] });
  t.is(reachOf(m({ ...flag, line: 17, endLine: 17 }), d).status, 'compiled-out', 'but not from further than a few lines');
  // a call without a counter of its own is compiled out, as the coverage report says of its site
  // (mm/gup.c's secretmem release: its condition is constant in the build)
  t.is(reachOf(m({ line: 12, endLine: 12 }), d).status, 'compiled-out');
  t.is(reachOf(m(), reachData({ w1: { 10: 0 } })).status, 'not-reached');
  t.is(reachOf(m({ site: 'mm/gup.c:undo_dev_pagemap:unpin_user_page' }), reachData({ w1: { 10: 0 } })).status, 'unreachable');
  // a reviewed flag point is unreachable even where its line ran (the devmap test of follow_page_pte)
  t.is(reachOf(m({ site: 'mm/gup.c:follow_page_pte:FOLL_PIN' }), d).status, 'unreachable');
  t.is(reachOf(m({ site: 'mm/gup.c:undo_dev_pagemap:unpin_user_page' }), d).status, 'reached', 'a call site that ran is reached');
  t.is(reachOf(m(), undefined).status, 'unknown');
});

test('static results: equivalents (reviewed or compiled out), unreachable and not reached need no kernel', (t) => {
  t.is(staticResult(m(), { status: 'reached', workloads: ['w'] }), undefined);
  t.is(staticResult(m(), { status: 'unknown' }), undefined);
  t.is(staticResult(m(), { status: 'reached', workloads: ['w'] }, 'reviewed reason')?.outcome, 'equivalent');
  t.is(staticResult(m(), { status: 'compiled-out', reason: 'r' })?.outcome, 'equivalent');
  t.is(staticResult(m(), { status: 'not-reached' })?.outcome, 'not-reached');
  t.is(staticResult(m(), { status: 'unreachable', reason: 'r' })?.outcome, 'unreachable');
});

test('judging workloads: the reaching ones of the catalogue; one reached only by unknown workloads is a gap', (t) => {
  const a = DEFAULT_SUITE[0]!.name;
  t.deepEqual(judgingWorkloads({ status: 'reached', workloads: [a, 'not-a-workload'] }, DEFAULT_SUITE).map((w) => w.name), [a]);
  t.is(judgingWorkloads({ status: 'unknown' }, DEFAULT_SUITE).length, DEFAULT_SUITE.length);
  t.is(lackingWorkloads(m(), { status: 'reached', workloads: ['not-a-workload'] }, DEFAULT_SUITE)?.outcome, 'not-reached');
  t.is(lackingWorkloads(m(), { status: 'reached', workloads: ['(calibration)'] }, DEFAULT_SUITE), undefined, 'the calibration runs in every guest');
});

const result = (id: string, outcome: MutantResult['outcome'], over: Partial<MutantResult> = {}): MutantResult => ({ id, file: id.split(':')[0]!, site: id.split('/')[0]!, operator: 'drop-release', line: 1, outcome, detail: '', workloads: [], diff: '-a\n+b\n', ...over });

test('state: appended results survive a torn last line; errors are not final', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinlab-mutate-state-'));
  try {
    appendState(dir, result('a.c:f:x/drop-release', 'killed'));
    appendFileSync(join(dir, 'results.jsonl'), '{"id":"b.c:f:x/drop-rel');
    appendState(dir, result('c.c:f:x/drop-release', 'error'));
    const s = readState(dir);
    t.deepEqual([...s.keys()], ['a.c:f:x/drop-release', 'c.c:f:x/drop-release']);
    t.true(isFinal(s.get('a.c:f:x/drop-release')));
    t.false(isFinal(s.get('c.c:f:x/drop-release')));
    t.false(isFinal(undefined));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const report = (mutants: MutantResult[], pending: string[] = [], over: Partial<MutationReport> = {}) =>
  buildReport({ kernel: { profile: 'patched-6.1', source: 's', tree: 'abc', patches: [] }, command: 'pinlab mutate', startedAt: '2026-12-05T06:00:00Z', finishedAt: '2026-12-05T06:10:00Z', elapsedMs: 600_000, baselineProblems: [], mutants, pending, ...over });

test('shard reports merge into the unsharded report', (t) => {
  const all = [result('a.c:f:x/drop-release', 'killed', { elapsedMs: 30_000 }), result('a.c:f:y/drop-release', 'survived', { elapsedMs: 20_000 }), result('b.c:g:x/put-for-unpin', 'not-reached')];
  const whole = report(all);
  const merged = mergeReports([report([all[0]!, all[2]!]), report([all[1]!])]);
  t.deepEqual(merged.score, whole.score);
  t.deepEqual(merged.files, whole.files);
  t.deepEqual(merged.sites, whole.sites);
  t.deepEqual(merged.mutants, whole.mutants);
  t.is(merged.elapsedMs, 1_200_000);
  // a final result in one shard beats an error or a pending entry in another
  const again = mergeReports([report([result('a.c:f:x/drop-release', 'error')], ['a.c:f:y/drop-release']), report([all[0]!, all[1]!])]);
  t.deepEqual(again.mutants.map((x) => x.outcome), ['killed', 'survived']);
  t.deepEqual(again.pending, []);
  // a mutant judged again later (or reviewed equivalent since) takes its newest outcome
  const later = mergeReports([report([result('a.c:f:y/drop-release', 'equivalent')], [], { finishedAt: '2026-12-05T07:00:00Z' }), report([all[1]!])]);
  t.is(later.mutants[0]!.outcome, 'equivalent');
  t.throws(() => mergeReports([report([]), report([], [], { kernel: { source: 's', tree: 'other', patches: [] } })]), { message: /different trees/ });
});

test('the terminal report shows per-file scores, each survivor with its diff, the time per mutant', (t) => {
  const r = report([result('a.c:f:x/drop-release', 'killed', { elapsedMs: 30_000, buildMs: 20_000 }), result('a.c:f:y/drop-release', 'survived', { elapsedMs: 40_000, workloads: ['w1'] })]);
  const text = formatMutationReport(r);
  t.regex(text, /^a\.c\s+1\s+0\s+1\s+0\s+0\s+0\s+0\s+0\s+50\.0%$/m);
  t.regex(text, /SURVIVED a\.c:f:y\/drop-release \(line 1; ran w1\)\n {2}-a\n {2}\+b/);
  t.regex(text, /score 50\.0% \(killed 1 of 2 non-equivalent\); 2 run, median 30\.0 s per mutant \(build 20\.0 s\)/);
  const html = mutationHtml(r);
  t.regex(html, /<h3>survived: a\.c:f:y\/drop-release<\/h3>/);
  t.notRegex(html, /<script/);
});

test('reviewed equivalents name a mutant of a known operator, each with its reason, each in docs/mutation.md', async (t) => {
  const { EQUIVALENT } = await import('../../harness/mutate/equivalent.js');
  const { OPERATORS } = await import('../../harness/mutate/operators.js');
  const { readFileSync } = await import('node:fs');
  const { repoRoot } = await import('../../harness/config.js');
  const docs = readFileSync(join(repoRoot, 'docs/mutation.md'), 'utf8');
  for (const e of EQUIVALENT) {
    const m = /^[\w./-]+\.c:\w+:\w+(#\d+)?\/([a-z-]+)$/.exec(e.mutant);
    t.truthy(m, e.mutant);
    t.true(OPERATORS.some((o) => o.id === m?.[2]), `${e.mutant}: operator`);
    t.true(e.reason.length > 20, `${e.mutant}: a reason`);
    t.true(docs.includes(e.mutant), `docs/mutation.md lists ${e.mutant}`);
  }
});

test('a survivor is judged again when workloads it did not run reach it now; other final outcomes stand', async (t) => {
  const { reachedAnew } = await import('../../harness/mutate/mutate.js');
  const prev = { outcome: 'survived', workloads: ['ext2.psync.anon', 'calibration.odirect-loop'] } as unknown as MutantResult;
  t.true(reachedAnew(prev, { status: 'reached', workloads: ['ext2.psync.anon', 'ext2.psync.anon.reap-eio'] }));
  t.false(reachedAnew(prev, { status: 'reached', workloads: ['ext2.psync.anon', '(calibration)'] }), 'the same workloads (calibration aside)');
  t.false(reachedAnew({ ...prev, outcome: 'killed' } as MutantResult, { status: 'reached', workloads: ['ext2.psync.anon.reap-eio'] }));
  t.false(reachedAnew(prev, { status: 'not-reached' }));
});
