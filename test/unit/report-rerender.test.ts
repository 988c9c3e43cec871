// Every report from a saved run: `pinlab parse RUN_DIR --json --junit --ktap --kcidb` writes the
// same bytes the live run wrote. The live side is a real run directory (recorded-small, from
// scripts/record-small-run.js: every status, a stall and a second guest) with the reports
// written from its run.json by the function `pinlab run` calls; the parse side is the real CLI
// in a child process, judging each saved observation again.
import test from 'ava';
import { execa } from 'execa';
import { cpSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import { writeReports } from '../../harness/report/outputs.js';
import { readRunFiles } from '../../harness/report/run-files.js';
import type { RunResult } from '../../harness/verdict/types.js';
import { testTempDir } from '../tmp.js';

const fixtures = join(repoRoot, 'test/fixtures/report');
const saved = JSON.parse(readFileSync(join(fixtures, 'recorded-small', 'run.json'), 'utf8')) as RunResult;
const kcidbArgs = ['--kcidb-artifacts-url', 'https://ci.example.org/jobs/7/artifacts', '--run-id', 'ci-7', '--kcidb-origin', 'example_ci'];
const kcidbOpts = { kcidbArtifactsUrl: 'https://ci.example.org/jobs/7/artifacts', runId: 'ci-7', kcidbOrigin: 'example_ci' };
const FILES = ['run.json', 'junit.xml', 'ktap.txt', 'kcidb.json'];

/** A run directory as `pinlab run` left it (recorded), and the reports the live run wrote into live/. */
async function liveRun(): Promise<string> {
  const work = testTempDir('pinlab-rerender-');
  const runDir = join(work, 'run');
  cpSync(join(fixtures, 'recorded-small'), runDir, { recursive: true });
  const live = join(work, 'live');
  mkdirSync(live);
  const [json, junit, ktap, kcidb] = FILES.map((f) => join(live, f));
  await writeReports([saved], { json, junit, ktap, kcidb, ...kcidbOpts }, () => [readRunFiles(runDir, saved, work)], () => undefined);
  return work;
}

const pinlab = (cwd: string, ...args: string[]) => execa(process.execPath, [join(repoRoot, 'bin/pinlab.js'), ...args], { cwd, reject: false });

test('parse of a run directory writes JSON, JUnit, KTAP and KCIDB byte-identical to the live run', async (t) => {
  const work = await liveRun();
  const r = await pinlab(work, 'parse', 'run', '--json', 'parsed/run.json', '--junit', 'parsed/junit.xml', '--ktap', 'parsed/ktap.txt', '--kcidb', 'parsed/kcidb.json', ...kcidbArgs);
  t.is(r.stderr, '', 'no warning: the run directory is under the published one');
  t.true(r.exitCode === 0 || r.exitCode === 1, r.stderr);
  for (const f of FILES) t.is(readFileSync(join(work, 'parsed', f), 'utf8'), readFileSync(join(work, 'live', f), 'utf8'), f);
  // the KCIDB file links into the published run directory, never to a local file
  const kcidb = readFileSync(join(work, 'parsed/kcidb.json'), 'utf8');
  t.true(kcidb.includes('https://ci.example.org/jobs/7/artifacts/run/vm/console.log'));
  t.false(kcidb.includes('file://'));
});

test('--ktap alone: KTAP is the only thing on stdout, the table goes to stderr', async (t) => {
  const work = await liveRun();
  const r = await pinlab(work, 'parse', 'run', '--ktap');
  t.is(r.stdout, readFileSync(join(work, 'live/ktap.txt'), 'utf8').trimEnd());
  t.regex(r.stdout, /^KTAP version 1\n/);
  t.regex(r.stderr, /^WORKLOAD\s+TARGET/m);
});

test('merge of the run renders the same reports as the run itself', async (t) => {
  const work = await liveRun();
  const r = await pinlab(work, 'merge', 'run', '--json', 'merged/run.json', '--junit', 'merged/junit.xml', '--ktap', 'merged/ktap.txt', '--kcidb', 'merged/kcidb.json', ...kcidbArgs);
  t.true(r.exitCode === 0 || r.exitCode === 1, r.stderr);
  for (const f of FILES) t.is(readFileSync(join(work, 'merged', f), 'utf8'), readFileSync(join(work, 'live', f), 'utf8'), f);
});

test('a run directory outside the published directory: one warning line naming it, and no links', async (t) => {
  const work = await liveRun();
  const elsewhere = join(work, 'elsewhere');
  mkdirSync(elsewhere);
  const r = await pinlab(elsewhere, 'parse', join(work, 'run'), '--kcidb', 'kcidb.json', ...kcidbArgs);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.regex(r.stderr, new RegExp(`${join(work, 'run')} is outside the current directory`));
  t.false(readFileSync(join(elsewhere, 'kcidb.json'), 'utf8').includes('https://ci.example.org'));
});

test('KCIDB options without --kcidb are a usage error, and nothing is written', async (t) => {
  const work = await liveRun();
  for (const args of [['parse', 'run', '--kcidb-origin', 'x'], ['merge', 'run', '--json', 'm.json', '--run-id', 'ci-1'], ['run', '--kcidb-tree', 'stable', '--dry-run']]) {
    const r = await pinlab(work, ...args);
    t.is(r.exitCode, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, /only shape the KCIDB file: add --kcidb FILE/);
    t.is(r.stderr.trim().split('\n').length, 1);
  }
  t.deepEqual(readdirSync(work).sort(), ['live', 'run']);
  // PINLAB_RUN_ID in the environment is a CI's setting, not an option given to be used
  const env = await execa(process.execPath, [join(repoRoot, 'bin/pinlab.js'), 'parse', 'run'], { cwd: work, reject: false, env: { PINLAB_RUN_ID: 'ci-9' } });
  t.not(env.exitCode, 2, env.stderr);
});
