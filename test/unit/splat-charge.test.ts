// Splat attribution by guest timestamps (issue 26, item 3): the runner stamps hello, start and
// result with the kernel's own clock, and the host charges a splat on the console to the
// workload that had started when the kernel printed it, whatever order the host saw them in.
import test from 'ava';
import { chargedTo, splatsAfter, splatTime } from '../../harness/guest-runner/watch.js';
import { runAll, type GuestSystem } from '../../harness/guest/runner.js';
import type { RunnerEvent } from '../../harness/guest-runner/protocol.js';
import type { Splat } from '../../harness/verdict/types.js';
import { makeSpec } from '../../harness/workloads/catalogue.js';
import { watchScripted, type ScriptStep } from '../scripted-guest.js';

const splat = (line: string): Splat => ({ kind: 'bug', title: 'BUG', lines: [line] });

test('a splat is timed by its console prefix; splats after the last finished event, by time or by count', (t) => {
  t.is(splatTime(splat('[    5.781410] BUG: x')), 5.78141);
  t.is(splatTime(splat('<4>[   12.000001] BUG: x')), 12.000001);
  t.is(splatTime(splat('BUG: x')), undefined);
  const both = [splat('[    3.1] BUG: a'), splat('[    4.2] BUG: b')];
  t.deepEqual(splatsAfter(both, 3.5, 2).map(splatTime), [4.2], 'by time, whatever the host counted');
  t.deepEqual(splatsAfter(both, undefined, 1).map(splatTime), [4.2], 'an unstamped runner: by count');
  t.deepEqual(splatsAfter([splat('BUG: a'), splat('BUG: b')], 3.5, 1).length, 1, 'an untimed console: by count');
});

test('charged to the workload that had started when the kernel printed it', (t) => {
  t.is(chargedTo(splat('[    4.0] BUG'), { name: 'B', t: 3.4 }), 'B');
  t.is(chargedTo(splat('[    3.2] BUG'), { name: 'B', t: 3.4 }), undefined, 'before B started: between workloads');
  t.is(chargedTo(splat('[    3.2] BUG'), { name: 'B' }), 'B', 'an unstamped start: as the host saw it');
  t.is(chargedTo(splat('[    3.2] BUG'), undefined), undefined);
});

// a result line the host accepts (spec, before, after)
const result = (name: string, tt?: number) =>
  JSON.stringify({ type: 'result', name, result: { spec: { name }, before: { acquired: 0, released: 0 }, after: { acquired: 0, released: 0 } }, ...(tt === undefined ? {} : { t: tt }) });
const line = (e: object) => `${JSON.stringify(e)}\n`;

/** The watcher over a fake guest that writes `script` and then stays silent (test/scripted-guest.ts). */
const watch = (script: ScriptStep[], names: string[]) => watchScripted(script, names, { setupMs: 60 * 60_000, perWorkloadMs: 60 * 60_000, splatSilenceMs: 200 });

const hello = line({ type: 'hello', kernel: 'k', node: 'v20', traceable: [], background: { windowMs: 1, acquired: 0, released: 0 }, t: 1 });

test('a splat on the console before the host took the previous result is the next workload\'s, not a timeout', async (t) => {
  // B BUGs at once: its splat reaches the console before A's result has reached the host (which
  // counted it as old then, and the wait ran to B's bound)
  const r = await watch(
    [{ out: hello }, { out: line({ type: 'start', name: 'A', t: 2 }) }, { console: '[    3.500000] BUG: unable to handle page fault\n' }, { out: `${result('A', 3)}\n` }, { out: line({ type: 'start', name: 'B', t: 3.4 }) }],
    ['A', 'B'],
  );
  t.is(r.stall?.why, 'splat');
  t.is(r.stall?.name, 'B');
  t.is(r.stall?.between, undefined);
  t.true(r.ms < 10_000, 'ended on the splat, not the one-hour bound');
});

test('a splat the kernel printed between two workloads is charged to neither', async (t) => {
  const r = await watch(
    [{ out: hello }, { out: line({ type: 'start', name: 'A', t: 2 }) }, { out: `${result('A', 3)}\n` }, { console: '[    3.200000] BUG: unable to handle page fault\n' }, { out: line({ type: 'start', name: 'B', t: 3.4 }) }],
    ['A', 'B'],
  );
  t.is(r.stall?.why, 'splat');
  t.is(r.stall?.name, undefined);
  t.deepEqual(r.stall?.between, { after: 'A', before: 'B' });
  t.regex(r.stall?.detail ?? '', /between workloads \(A \.\. B\)/);
});

test('runAll stamps hello, start and result with the guest kernel\'s clock when the system can', async (t) => {
  let clock = 10;
  const marks: string[] = [];
  const sys: GuestSystem = {
    kernelRelease: () => 'k',
    readCounters: () => ({ acquired: 0, released: 0 }),
    traceable: () => [],
    startTrace: () => undefined,
    stopTrace: () => [],
    kmsgSeekEnd: () => undefined,
    kmsgRead: () => [],
    logMark: (text) => {
      marks.push(text);
      return (clock += 0.5);
    },
    setupFault: () => undefined,
    sync: () => undefined,
    sizeLimit: () => undefined,
    prepareTmp: () => '/tmp/x',
    cleanup: () => undefined,
    sleep: async () => undefined,
    now: () => 0,
    log: () => undefined,
  };
  const events: RunnerEvent[] = [];
  const spec = makeSpec({ target: 'raw-virtio', engine: 'psync' });
  await runAll([spec], sys, async () => ({ bytes: 0, ops: 0, userPageOps: 0, fixedPins: 0, verify: { ok: true, checkedBytes: 0 }, errors: [], durationMs: 0 }), (e) => events.push(e), { backgroundWindowMs: 1, quiesce: { stablePolls: 1 } });
  t.deepEqual(marks, ['ready', `start ${spec.name}`, `end ${spec.name}`]);
  t.deepEqual(events.map((e) => ('t' in e ? e.t : undefined)), [10.5, 11, 11.5, undefined]);
});
