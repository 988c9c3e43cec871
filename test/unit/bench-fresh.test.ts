import test from 'ava';
import { freshTimeline } from '../../harness/bench/fresh.js';

test('freshTimeline reads phase ends and the first verdict from a run\'s plain output', (t) => {
  const lines = [
    'pinlab run 20261130-001122-abcdef: patched-6.1, 42 workloads',
    'build patched-6.1 ...',
    'build patched-6.1 done in 5m03s: built 6.1.192+',
    'guest image done in 606ms: 17 MB 15f71dd02466',
    'boot ...',
    'vm: ready in 1.33 s (kernel 6.1.192+, tcg)',
    'boot done in 1.4s: ready in 1.33 s (tcg)',
    'workloads ...',
    '[1/42] raw-virtio.psync.anon PASS',
    '[2/42] raw-nvme.psync.anon FAIL',
    'workloads done in 29.8s',
  ].map((line, i) => ({ ms: i * 1000, line }));
  const tl = freshTimeline(lines);
  t.is(tl.firstVerdictMs, 8000);
  t.deepEqual(tl.phasesMs, { 'build patched-6.1': 303_000, 'guest image': 606, boot: 1400, workloads: 29_800 });
});

test('freshTimeline: bracketed TTY-less phase names, and no verdict at all', (t) => {
  const tl = freshTimeline([
    { ms: 5, line: '[build patched-6.1] done in 0.1s: cache hit' },
    { ms: 9, line: 'boot failed (timeout): no console output' },
  ]);
  t.is(tl.firstVerdictMs, undefined);
  t.deepEqual(tl.phasesMs, { 'build patched-6.1': 100 });
});
