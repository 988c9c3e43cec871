// Phases are run events: one helper (inPhase) emits them for the run's reporter and for the
// standalone terminal lines alike.
import test from 'ava';
import { inPhase } from '../../harness/progress.js';
import type { RunEvent } from '../../harness/report/events.js';

const recorder = () => {
  const events: RunEvent[] = [];
  return { events, onEvent: (e: RunEvent) => void events.push(e) };
};

test('a phase that succeeds: start, progress, end with the summary', async (t) => {
  const r = recorder();
  const v = await inPhase('build x', async (p) => (p.update('CC mm/gup.o'), 42), (n) => `got ${n}`, r);
  t.is(v, 42);
  t.deepEqual(r.events.map((e) => e.type), ['phase-start', 'phase-progress', 'phase-end']);
  t.like(r.events[1], { phase: 'build x', detail: 'CC mm/gup.o' });
  t.like(r.events[2], { phase: 'build x', ok: true, detail: 'got 42' });
});

test('a phase that throws ends failed with the first line of the error, and passes it on', async (t) => {
  const r = recorder();
  await t.throwsAsync(inPhase('boot', async () => Promise.reject(new Error('boot failed (oops): BUG\nmore')), undefined, r), { message: /boot failed/ });
  t.like(r.events.at(-1), { type: 'phase-end', phase: 'boot', ok: false, detail: 'boot failed (oops): BUG' });
});
