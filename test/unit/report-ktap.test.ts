// KTAP: every test that did not pass says why in a diagnostic line just before its result line,
// which is what kunit.py's parser keeps as the test's log (it drops the text after '#' on the
// result line itself).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toKtap } from '../../harness/report/ktap.js';
import type { RunResult } from '../../harness/verdict/types.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const run = JSON.parse(readFileSync(join(root, 'test/fixtures/report/recorded-small/run.json'), 'utf8')) as RunResult;

/** The diagnostic lines ("# ...") right before each "not ok" line, by test name. */
function logsOfFailures(ktap: string): Map<string, string[]> {
  const logs = new Map<string, string[]>();
  let pending: string[] = [];
  for (const line of ktap.split('\n')) {
    if (line.startsWith('# ')) pending.push(line.slice(2));
    const m = /^not ok \d+ ([^#]*?)(?: # .*)?$/.exec(line);
    if (m) logs.set(m[1]!, pending);
    if (/^(not )?ok /.test(line) || /^\d+\.\.\d+$/.test(line)) pending = [];
  }
  return logs;
}

test('an ERROR gets a diagnostic line with its cause and message, like a FAIL', (t) => {
  const logs = logsOfFailures(toKtap(run));
  t.deepEqual(logs.get('nvme-passthru.passthru.anon'), ['nvme-passthru.passthru.anon: ERROR timeout: no result for nvme-passthru.passthru.anon within 20 s; the guest was replaced']);
  t.true(logs.get('ext4.libaio.anon.efault-midway')!.some((l) => l.includes('FAIL kernel-splat')));
  t.regex(toKtap(run), /^not ok 2 nvme-passthru\.passthru\.anon # ERROR timeout$/m);
});

test('an ERROR without a cause still says so', (t) => {
  const error = run.verdicts.find((v) => v.status === 'ERROR')!;
  const { cause: _, ...noCause } = error;
  const logs = logsOfFailures(toKtap({ ...run, verdicts: [noCause] }));
  t.deepEqual(logs.get(error.name), [`${error.name}: ERROR error: ${error.message}`]);
});
