// Every report format rendered from a run directory recorded from a real `pinlab run` by
// scripts/record-fixtures.js (test/fixtures/report/recorded: the series plus a planted pin bug,
// FAIL pin-leak beside PASS, kprobe-hist pin evidence, an nvme-mdts hardware variant), beside
// the recorded small run whose verdicts cover every status (report-golden.test.ts).
// After a new recording or an intended format change:
//   UPDATE_GOLDEN=1 npx ava dist/test/unit/report-recorded.test.js
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diffRuns } from '../../harness/report/diff.js';
import { toRunJson } from '../../harness/report/json.js';
import { toJUnit } from '../../harness/report/junit.js';
import { toKcidbJson } from '../../harness/report/kcidb.js';
import { toKtap } from '../../harness/report/ktap.js';
import { recomputeRun } from '../../harness/report/parse.js';
import { readRunFiles } from '../../harness/report/run-files.js';
import { formatSummary } from '../../harness/report/terminal.js';
import { judge } from '../../harness/verdict/judge.js';
import { applyKnownStates } from '../../harness/verdict/known-states.js';
import type { RunResult } from '../../harness/verdict/types.js';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/report/', import.meta.url));
const runDir = join(fixtures, 'recorded');
const run = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as RunResult;
const runFiles = [readRunFiles(runDir, run, fixtures)];

function golden(name: string, actual: string): string {
  const file = join(fixtures, 'golden-recorded', name);
  if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(file, actual);
  return readFileSync(file, 'utf8');
}

test('the recording is what it stands for: a patched kernel, a planted FAIL, pin evidence, a hardware variant', (t) => {
  t.true(run.kernel.patches.length > 3, 'the series and the planted patch');
  t.regex(run.kernel.patchsetHash ?? '', /^[0-9a-f]{64}$/);
  t.true(run.verdicts.some((v) => v.status === 'FAIL' && v.reasons.includes('pin-leak')));
  t.true(run.verdicts.some((v) => v.status === 'PASS'));
  t.true(run.verdicts.every((v) => v.numbers?.evidence === 'kprobe-hist'), 'every verdict on the pin evidence');
  t.true(run.verdicts.some((v) => v.observation?.spec.hw === 'nvme-mdts'));
});

test('pinlab parse re-judges the recorded run to the verdicts it wrote', async (t) => {
  const r = await recomputeRun(runDir, { judge, applyKnownStates });
  t.deepEqual(r.kept, [], 'every workload has its observation');
  t.deepEqual(diffRuns(r.original, r.recomputed).verdicts, []);
});

const formats: [string, (r: RunResult) => string][] = [
  ['summary.txt', formatSummary],
  ['run.json', toRunJson],
  ['junit.xml', (r) => toJUnit(r)],
  ['ktap.txt', (r) => toKtap(r)],
  ['kcidb.json', (r) => toKcidbJson(r, { origin: 'example_ci', runId: 'ci-4242', artifactsUrl: 'https://ci.example.org/jobs/4242/artifacts', runFiles })],
];

for (const [name, render] of formats) {
  test(`${name} of the recorded run matches its golden file`, (t) => {
    const actual = render(run);
    t.is(actual, golden(name, actual));
  });
}
