// The live terminal reporter (plain mode, as in CI logs), fanout and the file reporter.
import test from 'ava';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { fanout, type Reporter, type RunEvent } from '../../harness/report/events.js';
import { fileReporter } from '../../harness/report/file.js';
import { toRunJson } from '../../harness/report/json.js';
import { formatDuration, formatSummary, TerminalReporter } from '../../harness/report/terminal.js';
import type { RunResult } from '../../harness/verdict/types.js';
import { testTempDir } from '../tmp.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const run = JSON.parse(readFileSync(join(root, 'test/fixtures/report/recorded-small/run.json'), 'utf8')) as RunResult;

function capture(): { stream: NodeJS.WriteStream; text: () => string } {
  let out = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      out += String(chunk);
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  return { stream, text: () => out };
}

function events(): RunEvent[] {
  const first = run.verdicts.find((v) => v.name === 'vfat.psync.anon');
  const second = run.verdicts.find((v) => v.name === 'raw-virtio.uring-fixed.anon');
  return [
    { type: 'run-start', runId: run.runId, kernel: run.kernel, workloads: 2, strict: false },
    { type: 'phase-start', phase: 'build' },
    { type: 'phase-end', phase: 'build', elapsedMs: 83_250, ok: true },
    { type: 'phase-start', phase: 'boot' },
    { type: 'phase-end', phase: 'boot', elapsedMs: 4_100, ok: true },
    { type: 'workload-start', name: first!.name, index: 1, total: 2 },
    { type: 'verdict', verdict: first!, elapsedMs: 1_200 },
    { type: 'workload-start', name: second!.name, index: 2, total: 2 },
    { type: 'verdict', verdict: second!, elapsedMs: 300 },
    { type: 'run-end', result: run, elapsedMs: 210_500 },
  ];
}

test('plain progress lines, then the summary', async (t) => {
  const out = capture();
  const reporter = new TerminalReporter({ stream: out.stream, interactive: false });
  for (const e of events()) reporter.onEvent(e);
  await reporter.finish();
  const expected = [
    'pinlab run 20261205-055113-cf766c: stock-6.1, 2 workloads',
    'build ...',
    'build done in 1m23s',
    'boot ...',
    'boot done in 4.1s',
    '[1/2] vfat.psync.anon XFAIL not-pinned (known: stock-6.1/dio-not-pinned) 1.2s',
    '[2/2] raw-virtio.uring-fixed.anon PASS 300ms',
    '',
    formatSummary(run),
  ].join('\n');
  t.is(out.text(), expected);
});

test('durations read naturally at every scale', (t) => {
  t.deepEqual([formatDuration(12), formatDuration(1_049), formatDuration(59_949), formatDuration(60_000), formatDuration(3_723_000)], ['12ms', '1.0s', '59.9s', '1m00s', '62m03s']);
});

test('fanout delivers every event to every reporter even when one throws', async (t) => {
  const seen: string[] = [];
  const broken: Reporter = {
    onEvent() {
      throw new Error('broken reporter');
    },
    async finish() {},
  };
  const recording: Reporter = {
    onEvent(e) {
      seen.push(e.type);
    },
    async finish() {
      seen.push('finish');
    },
  };
  const both = fanout([broken, recording]);
  for (const e of events()) t.throws(() => both.onEvent(e), { message: 'broken reporter' });
  await both.finish();
  t.deepEqual(seen, [...events().map((e) => e.type), 'finish']);
});

test('a file reporter writes the rendered result at finish, and nothing for an aborted run', async (t) => {
  const dir = testTempDir('pinlab-report-');
  const file = join(dir, 'out', 'run.json');
  const reporter = fileReporter(file, toRunJson);
  for (const e of events()) reporter.onEvent(e);
  await reporter.finish();
  t.is(readFileSync(file, 'utf8'), toRunJson(run));

  const aborted = join(dir, 'aborted.json');
  const r2 = fileReporter(aborted, toRunJson);
  for (const e of events().slice(0, 4)) r2.onEvent(e);
  await r2.finish();
  t.false(existsSync(aborted));
});
