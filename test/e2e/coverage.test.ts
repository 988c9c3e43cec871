// What a PASS covers, with a floor that cannot drop silently: the default suite with --coverage
// on patched-6.1 and on the pristine 6.12 tree reached as git:REPO@REF. Each run must report gcov
// counts of the pin-path sources, an lcov tracefile and genhtml's report; no reachable pin site
// may go unreached beyond the gaps recorded in coverage-floor.json, the line coverage of the
// functions holding a pin site may not fall below the figure recorded there, and the sites left
// to the reviewed unreachable list may not exceed the share recorded there. Both are updated on
// purpose, in the commit that changes the workloads. `pinlab parse RUN --coverage` rebuilds the
// same figures from the saved run.
import type { ExecutionContext } from 'ava';
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import { percent, reviewedShare } from '../../harness/coverage/summary.js';
import type { RunResult } from '../../harness/verdict/types.js';
import { testTempDir } from '../tmp.js';
import { rootOnly } from '../root.js';
import { pristineRepo } from './pristine-6.12.js';

const e2e = rootOnly('pinlab setup needs apt-get (kernel sources, QEMU, lcov)');

interface Floor {
  /** lines of the functions holding a pin site: the run's hit/total may not fall below this */
  pinFunctionLines: number;
  /** sites left unreached as listed unreachable (reviewed), over the sites compiled in: at most this */
  reviewedShare: number;
  /** reachable sites the suite does not reach yet (file:function:callee): may only shrink */
  notReached: string[];
}
const FLOORS = JSON.parse(readFileSync(join(repoRoot, 'test/e2e/coverage-floor.json'), 'utf8')) as Record<string, Floor>;

interface CoverageRun {
  result: RunResult;
  coverage: NonNullable<RunResult['coverage']>;
  runDir: string;
  out: string;
  dir: string;
}

async function coverageRun(kernelArgs: string[]): Promise<CoverageRun> {
  const dir = testTempDir('pinlab-cov-');
  const json = join(dir, 'run.json');
  const r = await execa(process.execPath, [join(repoRoot, 'bin/pinlab.js'), 'run', '--coverage', '--json', json, ...kernelArgs], { reject: false, all: true, timeout: 60 * 60_000, env: { FORCE_COLOR: '0' } });
  if (!existsSync(json)) throw new Error(`pinlab run --coverage wrote no JSON (exit ${r.exitCode}):\n${r.all?.slice(-4000)}`);
  const result = JSON.parse(readFileSync(json, 'utf8')) as RunResult;
  if (!result.coverage) throw new Error(`no coverage in run.json (exit ${r.exitCode}):\n${r.all?.slice(-3000)}`);
  return { result, coverage: result.coverage, runDir: /^run directory: (.+)$/m.exec(r.all ?? '')?.[1] ?? '', out: r.all ?? '', dir };
}

function checkFloor(t: ExecutionContext, tree: string, { coverage: c, runDir, out }: CoverageRun): void {
  const floor = FLOORS[tree]!;
  t.is(c.method, 'gcov');
  t.true(c.files.some((f) => f.file === 'mm/gup.c' && f.lines.hit > 0), 'mm/gup.c was instrumented and ran');
  t.true(c.sites.total > 0 && c.sites.reached > 0, 'pin sites were found and reached');
  t.true(existsSync(join(runDir, c.tracefile)), 'the lcov tracefile is in the run directory');
  t.truthy(c.html, `genhtml wrote the HTML report (${c.htmlProblem ?? ''})`);
  t.true(existsSync(join(runDir, c.html ?? 'none')), 'the HTML report is in the run directory');
  t.regex(out, /pin sites: \d+\/\d+ reached/, 'the terminal prints the coverage table');
  const newGaps = c.notReached.filter((id) => !floor.notReached.includes(id));
  t.deepEqual(newGaps, [], `reachable pin sites the suite does not reach on ${tree}`);
  const ratio = c.pinFunctionLines.hit / Math.max(1, c.pinFunctionLines.total);
  t.true(ratio >= floor.pinFunctionLines, `line coverage of pin-site functions ${(100 * ratio).toFixed(1)}% >= floor ${(100 * floor.pinFunctionLines).toFixed(1)}%`);
  // the list's share, counted as the run left it: a race entry the storm reached is not in it
  const share = reviewedShare(c.sites);
  t.truthy(share, 'the run splits compiled-out sites from reviewed ones');
  if (share) t.true(share.hit <= floor.reviewedShare * share.total, `reviewed unreachable sites ${share.hit}/${share.total} (${percent(share)}) <= ${100 * floor.reviewedShare}%`);
  const closed = floor.notReached.filter((id) => !c.notReached.includes(id));
  if (closed.length) t.log(`${tree}: reached now, remove from coverage-floor.json: ${closed.join(' ')}`);
  t.log(`${tree}: ${c.sites.reached}/${c.sites.total} sites, pin-site function lines ${c.pinFunctionLines.hit}/${c.pinFunctionLines.total}`);
}

e2e('patched-6.1 --coverage: every reachable pin site is reached (but the recorded gaps) and the line floor holds; parse --coverage rebuilds the same figures', async (t) => {
  const run = await coverageRun(['-p', 'patched-6.1']);
  checkFloor(t, 'patched-6.1', run);
  const summary = readFileSync(join(run.runDir, 'coverage/summary.json'), 'utf8');
  const again = join(run.dir, 'again.json');
  const p = await execa(process.execPath, [join(repoRoot, 'bin/pinlab.js'), 'parse', run.runDir, '--coverage', '--json', again], { reject: false, all: true, env: { FORCE_COLOR: '0' } });
  t.true(existsSync(again), p.all?.slice(-2000));
  t.deepEqual((JSON.parse(readFileSync(again, 'utf8')) as RunResult).coverage, run.coverage);
  t.is(readFileSync(join(run.runDir, 'coverage/summary.json'), 'utf8'), summary, 'summary.json rebuilt byte for byte');
});

e2e('6.12 as git:REPO@REF --coverage: every reachable pin site is reached (but the recorded gaps) and the line floor holds', async (t) => {
  const repo = await pristineRepo();
  checkFloor(t, 'git-6.12', await coverageRun(['--source', `git:${repo}@HEAD`]));
});
