// Shards' coverage adds up to the unsharded run's: the counters of a program compiled here with
// --coverage, laid out as pinlab's run directories (kernel/coverage/{gcno,src},
// coverage/gcda/<workload>/), reported once from one directory holding both workloads and once
// from two shard directories holding one each. Also: parse of a saved run writes the same bytes.
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reportCoverage, writeWorkloadGcda } from '../../harness/coverage/run-coverage.js';
import { SAMPLE_SOURCE, sampleCounters } from '../coverage-sample.js';

const maybe = ['/usr/bin/gcc', '/usr/bin/gcov'].every(existsSync) ? test : test.skip;

function runDir(root: string, name: string, gcno: Buffer, workloads: Record<string, string>): string {
  const C = SAMPLE_SOURCE;
  const dir = join(root, name);
  mkdirSync(join(dir, 'kernel/coverage/gcno/mm'), { recursive: true });
  mkdirSync(join(dir, 'kernel/coverage/src/mm'), { recursive: true });
  writeFileSync(join(dir, 'kernel/coverage/gcno/mm/gup.gcno'), gcno);
  writeFileSync(join(dir, 'kernel/coverage/src/mm/gup.c'), C);
  for (const [w, gcda] of Object.entries(workloads)) writeWorkloadGcda(dir, w, { 'mm/gup.gcda': gcda });
  return dir;
}

maybe('two shards report the same figures as the one run that holds both workloads', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'pinlab-covmerge-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  // one build: the same notes for every run, as the shards of one kernel share its build
  const run = sampleCounters(join(root, 'build'), [[], ['x']]);
  const gcno = readFileSync(run.gcno);
  const [a, b] = run.gcda.map((f) => readFileSync(f).toString('base64'));
  const whole = await reportCoverage([runDir(root, 'whole', gcno, { w1: a!, w2: b! })], join(root, 'whole'));
  const s1 = runDir(root, 's1', gcno, { w1: a! });
  const s2 = runDir(root, 's2', gcno, { w2: b! });
  const out = join(root, 'merged');
  mkdirSync(out);
  const merged = await reportCoverage([s1, s2], out);
  t.truthy(whole && merged);
  t.deepEqual(merged!.summary, whole!.summary);
  t.is(whole!.summary.sites.reached, 2, 'each shard reached one site, together both');
  t.deepEqual(whole!.summary.siteRows.map((r) => r.workloads), [['w2'], ['w1']]);
  t.is(readFileSync(join(out, 'coverage/pinlab.info'), 'utf8'), readFileSync(join(root, 'whole/coverage/pinlab.info'), 'utf8'));
  t.false(existsSync(join(root, 's1/coverage/summary.json')), 'the shards themselves are left as they were');
});
