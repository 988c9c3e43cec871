// Golden outputs of every report format for a small run with one verdict of each status.
// Regenerate after an intended format change with: UPDATE_GOLDEN=1 npx ava dist/test/unit/report-golden.test.js
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toRunJson } from '../../harness/report/json.js';
import { toJUnit } from '../../harness/report/junit.js';
import { toKcidbJson } from '../../harness/report/kcidb.js';
import { toKtap } from '../../harness/report/ktap.js';
import { readRunFiles } from '../../harness/report/run-files.js';
import { formatSummary } from '../../harness/report/terminal.js';
import type { RunResult } from '../../harness/verdict/types.js';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/report/', import.meta.url));
const run = JSON.parse(readFileSync(join(fixtures, 'run-small.json'), 'utf8')) as RunResult;
// the run directory as a CI job publishes it: relative to the fixtures folder, at the artifacts URL
const runFiles = [readRunFiles(join(fixtures, 'run-dir'), run, fixtures)];

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
