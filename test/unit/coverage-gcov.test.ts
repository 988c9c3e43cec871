// Coverage counts come from gcc's own gcov and add up: a program compiled here with
// --coverage, run, and read back through planGcov/parseGcovJson; the lcov tracefile written from
// the counts is read by lcov itself (its --summary agrees with ours).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { SAMPLE_SOURCE, sampleCounters } from '../coverage-sample.js';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStep } from '../../harness/exec.js';
import { mergeCoverage, parseGcovJson, planGcov } from '../../harness/coverage/gcov.js';
import { lcovTracefile } from '../../harness/coverage/run-coverage.js';
import { siteReached, summarizeCoverage } from '../../harness/coverage/summary.js';
import { findPinSites } from '../../harness/coverage/sites.js';

const C = SAMPLE_SOURCE;

const haveTools = ['/usr/bin/gcc', '/usr/bin/gcov'].every(existsSync);
const maybe = haveTools ? test : test.skip;

function compileAndRun(dir: string, args: string[]): string {
  return sampleCounters(dir, [args]).gcda[0]!;
}

maybe('gcov counts of one run: the branch taken ran, the other did not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinlab-gcov-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gcda = compileAndRun(dir, []);
  const data = parseGcovJson((await runStep(planGcov([gcda]))).stdout, ['mm/gup.c']);
  const fc = data['mm/gup.c']!;
  t.truthy(fc);
  t.is(fc.lines['8'], 1, 'pin_user_pages_fast() line ran once (argc == 1)');
  t.is(fc.lines['7'], 0, 'the unpin branch did not run');
  const sites = findPinSites('mm/gup.c', C);
  t.deepEqual(sites.map((s) => [s.callee, siteReached(s, fc)]), [['unpin_user_page', false], ['pin_user_pages_fast', true]]);
  const s = summarizeCoverage(new Map([['w1', data]]), data, new Map([['mm/gup.c', C]]));
  t.deepEqual(s.sites, { total: 2, reached: 1, unreachable: 0, notReached: 1, compiledOut: 0 });
  t.deepEqual(s.siteRows.find((r) => r.reached)?.workloads, ['w1']);
});

maybe('two workloads add up to the counts of both, and lcov reads the tracefile with the same totals', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinlab-gcov-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const a = parseGcovJson((await runStep(planGcov([compileAndRun(join(dir, 'a'), [])]))).stdout, ['mm/gup.c']);
  const b = parseGcovJson((await runStep(planGcov([compileAndRun(join(dir, 'b'), ['x'])]))).stdout, ['mm/gup.c']);
  const both = mergeCoverage([a, b]);
  t.is(both['mm/gup.c']!.lines['7'], 1);
  t.is(both['mm/gup.c']!.lines['8'], 1);
  t.is(both['mm/gup.c']!.lines['13'], 2);
  const s = summarizeCoverage(new Map([['a', a], ['b', b]]), both, new Map([['mm/gup.c', C]]));
  t.is(s.sites.reached, 2);
  t.true(existsSync('/usr/bin/lcov'), 'lcov is installed (pinlab setup installs it)');
  const info = join(dir, 'pinlab.info');
  writeFileSync(info, lcovTracefile(both));
  const out = execFileSync('lcov', ['--summary', info, '--rc', 'lcov_branch_coverage=1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = /lines\.+: [\d.]+% \((\d+) of (\d+) lines\)/.exec(out);
  t.deepEqual([Number(lines?.[1]), Number(lines?.[2])], [s.total.lines.hit, s.total.lines.total]);
});
