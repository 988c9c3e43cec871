import test from 'ava';
import { newRunId } from '../../harness/pipeline.js';
import { disksFor } from '../../harness/vm/session.js';
import { outcomeOfRuns } from '../../harness/commands.js';
import { DEFAULT_SUITE } from '../../harness/workloads/catalogue.js';
import type { RunResult, Status, Verdict } from '../../harness/verdict/types.js';

test('blkdebug rules of the selected workloads attach to the disk of their target', (t) => {
  const eio = DEFAULT_SUITE.filter((w) => w.fault?.kind === 'blkdebug-eio');
  t.true(eio.length > 0, 'the suite has a blkdebug case');
  const disks = disksFor('/run/vm', eio);
  const withRules = disks.filter((d) => d.blkdebug?.length);
  t.is(withRules.length, 1);
  t.is(withRules[0]!.id, 'raw-virtio');
  t.like(withRules[0]!.blkdebug![0], { event: 'read_aio', errno: 5 });
  t.true(disksFor('/run/vm', DEFAULT_SUITE.filter((w) => !w.fault)).every((d) => !d.blkdebug));
});

test('run ids sort by time and are unique', (t) => {
  const a = newRunId(new Date('2026-11-25T10:00:00Z'));
  const b = newRunId(new Date('2026-11-25T10:00:01Z'));
  t.regex(a, /^20261125-100000-[0-9a-f]{6}$/);
  t.true(a < b);
  t.not(newRunId(), newRunId());
});

const run = (statuses: Status[], strict = false): RunResult => ({
  schema: 'pinlab.run/1',
  runId: 'r',
  startedAt: '',
  kernel: { source: 's', patches: [] },
  host: { accel: 'tcg', node: 'v20' },
  strict,
  verdicts: statuses.map((status, i) => ({ name: `w${i}`, status } as Verdict)),
});

test('run outcome: FAIL -> failed, XFAIL only under --strict, infra -> 3, all SKIP -> nothing ran', (t) => {
  t.deepEqual(outcomeOfRuns([run(['PASS', 'XFAIL'])], false), { kind: 'ok' });
  t.deepEqual(outcomeOfRuns([run(['PASS', 'XFAIL'], true)], false), { kind: 'failed' });
  t.deepEqual(outcomeOfRuns([run(['PASS', 'FAIL'])], false), { kind: 'failed' });
  t.deepEqual(outcomeOfRuns([run(['ERROR'])], true), { kind: 'infra' });
  t.deepEqual(outcomeOfRuns([run(['ERROR', 'FAIL'])], true), { kind: 'failed' });
  t.deepEqual(outcomeOfRuns([run(['SKIP', 'SKIP'])], false), { kind: 'nothing-ran' });
  t.deepEqual(outcomeOfRuns([run(['PASS']), run(['FAIL'])], false), { kind: 'failed' });
});
