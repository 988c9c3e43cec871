// The versioned JSON (pinlab.run/1): its schema, and reading a saved run back.
import test from 'ava';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../harness/errors.js';
import { parseRunJson, toRunJson } from '../../harness/report/json.js';
import { RUN_SCHEMA } from '../../harness/report/run-schema.js';
import type { RunResult } from '../../harness/verdict/types.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const runText = readFileSync(join(root, 'test/fixtures/report/recorded-small/run.json'), 'utf8');
const run = JSON.parse(runText) as RunResult;

const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
addFormats.default(ajv);
const validate = ajv.compile(RUN_SCHEMA);

test('the sample run and its serialization validate against the run schema', (t) => {
  t.true(validate(run), ajv.errorsText(validate.errors));
  t.true(validate(JSON.parse(toRunJson(run))), ajv.errorsText(validate.errors));
});

test('the schema catches what the types forbid', (t) => {
  const xfailWithoutState = structuredClone(run);
  delete xfailWithoutState.verdicts.find((v) => v.status === 'XFAIL')!.knownState;
  t.false(validate(xfailWithoutState));
  const failWithoutReason = structuredClone(run);
  failWithoutReason.verdicts.find((v) => v.status === 'FAIL')!.reasons = [];
  t.false(validate(failWithoutReason));
  t.false(validate({ ...run, schema: 'pinlab.run/2' }));
  t.false(validate({ ...run, extra: 1 }));
});

test('run.schema.json is RUN_SCHEMA verbatim', (t) => {
  const file = JSON.parse(readFileSync(join(root, 'harness/report/run.schema.json'), 'utf8')) as unknown;
  t.deepEqual(file, JSON.parse(JSON.stringify(RUN_SCHEMA)));
});

test('a run survives toRunJson -> parseRunJson unchanged, apart from verdict order', (t) => {
  const back = parseRunJson(toRunJson(run));
  t.deepEqual({ ...back, verdicts: [] }, { ...run, verdicts: [] });
  t.deepEqual(
    back.verdicts.map((v) => v.name),
    run.verdicts.map((v) => v.name).sort(),
  );
});

test('parseRunJson refuses other schemas and non-JSON with a user error', (t) => {
  t.throws(() => parseRunJson(JSON.stringify({ ...run, schema: 'pinlab.run/0' })), { instanceOf: UserError, message: /pinlab\.run\/0/ });
  t.throws(() => parseRunJson('{"schema":'), { instanceOf: UserError, message: /not JSON/ });
  t.throws(() => parseRunJson(JSON.stringify({ schema: 'pinlab.run/1' })), { instanceOf: UserError });
});
