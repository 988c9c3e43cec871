import test from 'ava';
import { eventLine, parseBenchLine, parseRunnerLine, parseRunnerLog, type BenchEvent, type RunnerEvent } from '../../harness/guest-runner/protocol.js';
import { makeSpec } from '../../harness/workloads/catalogue.js';
import type { WorkloadObservation } from '../../harness/workloads/types.js';

const spec = makeSpec({ target: 'raw-virtio', engine: 'psync', buffer: 'anon', size: 65536 });
const zero = { acquired: 0, released: 0 };
const result: WorkloadObservation = { spec, before: zero, after: { acquired: 4, released: 4 }, quiesce: { polls: 5, settled: true, ms: 100 }, pathHits: [], pathTraceable: [], kmsg: [] };

test('a saved runner log re-parses into the events the guest wrote; other lines are skipped', (t) => {
  const events: RunnerEvent[] = [
    { type: 'hello', kernel: '6.1.0', node: 'v20', traceable: [], background: { windowMs: 200, acquired: 0, released: 0 } },
    { type: 'start', name: spec.name },
    { type: 'log', name: spec.name, message: 'sync: EIO' },
    { type: 'result', name: spec.name, result },
    { type: 'done' },
  ];
  const log = ['(node:12) ExperimentalWarning: something\n', ...events.map(eventLine), 'TypeError: x\n    at foo (/pinlab/x.js:1:1)\n', '{"type":"result","name":"cut-short"'].join('');
  t.deepEqual(parseRunnerLog(log), events);
});

test('parseRunnerLine refuses objects that only look like events', (t) => {
  t.is(parseRunnerLine('{"type":"result","name":"x"}'), undefined, 'a result without an observation');
  t.is(parseRunnerLine('{"type":"start"}'), undefined, 'a start without a name');
  t.is(parseRunnerLine('{"type":"clocksource","name":"tsc"}'), undefined, 'a bench event is not a runner event');
  t.is(parseRunnerLine('[1,2]'), undefined);
  t.is(parseRunnerLine('null'), undefined);
  t.deepEqual(parseRunnerLine('  {"type":"done"}  '), { type: 'done' });
});

test('bench lines: result, error and clocksource parse; a result without figures does not', (t) => {
  const figures = { iops: 1000, ios: 5000, runtimeMs: 5000, cpuUsPerIo: 12, latencyUs: [100, 200] };
  const events: BenchEvent[] = [
    { type: 'clocksource', name: 'tsc' },
    { type: 'result', name: 'psync.4k-randread-qd1', figures },
    { type: 'error', name: '', message: 'guest-bench crashed' },
  ];
  t.deepEqual(
    events.map((e) => parseBenchLine(eventLine(e))),
    events,
  );
  t.is(parseBenchLine('{"type":"result","name":"x"}'), undefined);
  t.is(parseBenchLine('{"type":"hello","name":"x"}'), undefined);
});
