// Golden outputs of every report format for a small run with a verdict of each status, recorded
// from a real run by scripts/record-small-run.js (test/fixtures/report/recorded-small: stock-6.1,
// one workload hung and one under a BUG line by test/fixtures/hang-runner.ts, the rest in a fresh
// guest). After a new recording or an intended format change:
//   UPDATE_GOLDEN=1 npx ava dist/test/unit/report-golden.test.js
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toRunJson } from '../../harness/report/json.js';
import { toJUnit } from '../../harness/report/junit.js';
import { toKcidbJson } from '../../harness/report/kcidb.js';
import { toKtap } from '../../harness/report/ktap.js';
import { readRunFiles } from '../../harness/report/run-files.js';
import { diffRuns } from '../../harness/report/diff.js';
import { recomputeRun } from '../../harness/report/parse.js';
import { formatSummary } from '../../harness/report/terminal.js';
import { judge } from '../../harness/verdict/judge.js';
import { applyKnownStates } from '../../harness/verdict/known-states.js';
import type { RunResult } from '../../harness/verdict/types.js';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/report/', import.meta.url));
const run = JSON.parse(readFileSync(join(fixtures, 'recorded-small', 'run.json'), 'utf8')) as RunResult;
// the run directory as a CI job publishes it: relative to the fixtures folder, at the artifacts URL
const runFiles = [readRunFiles(join(fixtures, 'recorded-small'), run, fixtures)];

test('the recording is what it stands for: stock-6.1 under TCG, every status, a second guest after a stall', (t) => {
  t.is(run.kernel.profile, 'stock-6.1');
  t.is(run.host.accel, 'tcg');
  t.regex(run.kernel.configSha256 ?? '', /^[0-9a-f]{64}$/);
  t.deepEqual([...new Set(run.verdicts.map((v) => v.status))].sort(), ['ERROR', 'FAIL', 'PASS', 'SKIP', 'XFAIL']);
  t.true(run.verdicts.filter((v) => v.observation).every((v) => v.numbers?.evidence === 'kprobe-hist'), 'judged on the pin evidence');
  t.deepEqual(runFiles[0]!.files.filter((f) => f.endsWith('console.log')), ['vm-2/console.log', 'vm/console.log']);
});

test('pinlab parse re-judges the recorded small run to the verdicts it wrote', async (t) => {
  const r = await recomputeRun(join(fixtures, 'recorded-small'), { judge, applyKnownStates });
  // the hung workload and the one under the BUG line left no observation: kept as judged
  t.deepEqual(r.kept, ['ext4.libaio.anon.efault-midway', 'nvme-passthru.passthru.anon']);
  t.deepEqual(diffRuns(r.original, r.recomputed).verdicts, []);
});

function golden(name: string, actual: string): string {
  const file = join(fixtures, 'golden', name);
  if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(file, actual);
  return readFileSync(file, 'utf8');
}

const formats: [string, (r: RunResult) => string][] = [
  ['summary.txt', formatSummary],
  ['run.json', toRunJson],
  ['junit.xml', (r) => toJUnit(r)],
  ['ktap.txt', (r) => toKtap(r)],
  ['kcidb.json', (r) => toKcidbJson(r, { origin: 'example_ci', runId: 'ci-4242', artifactsUrl: 'https://ci.example.org/jobs/4242/artifacts', runFiles })],
  ['ktap-strict.txt', (r) => toKtap({ ...r, strict: true })],
];

for (const [name, render] of formats) {
  test(`${name} matches the golden file`, (t) => {
    const actual = render(run);
    t.is(actual, golden(name, actual));
  });

  test(`${name} does not depend on the order verdicts arrived in`, (t) => {
    t.is(render({ ...run, verdicts: [...run.verdicts].reverse() }), render(run));
  });
}
