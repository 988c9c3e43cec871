// Progress on long work: a kernel build counts make's object lines against the count the same
// configuration needed before (kept in the cache) or an estimate, with the time left; without a
// TTY a phase's progress and the suite's are plain lines at most every 15 s.
import test from 'ava';
import { Writable } from 'node:stream';
import { BuildProgress, estimatedObjects, recordedObjects, recordObjects } from '../../harness/kernel/build-progress.js';
import { PLAIN_PROGRESS_EVERY_MS, TerminalReporter, formatSuiteProgress } from '../../harness/report/terminal.js';
import type { Verdict } from '../../harness/verdict/types.js';
import { testTempDir } from '../tmp.js';

// make's output as pinlab's build log holds it
const MAKE_LINES = ['  HOSTCC  scripts/basic/fixdep', '  CC      init/main.o', '  AS      arch/x86/entry/entry_64.o', '  AR      init/built-in.a', '  CC [M]  fs/ext2/inode.o', '  LD      vmlinux.o', '  CC      kernel/bounds.s'];

test('objects are the CC and AS lines of .o files, nothing else make prints', (t) => {
  const p = new BuildProgress({ objects: 10, estimated: false }, 0);
  t.deepEqual(MAKE_LINES.map((l) => p.onLine(l)), [false, true, true, false, true, false, false]);
  t.is(p.done, 3);
});

test('the text says done/expected, the elapsed time and the time left at the rate so far', (t) => {
  const p = new BuildProgress({ objects: 1000, estimated: false }, 0);
  for (let i = 0; i < 250; i++) p.onLine('  CC      mm/gup.o');
  t.is(p.text(60_000), '250/1000 objects (25 %), 1m00s, about 3m00s left');
  const estimated = new BuildProgress({ objects: 1000, estimated: true }, 0);
  estimated.onLine('  CC      mm/gup.o');
  t.is(estimated.text(2_000), '1/~1000 objects (0 %), 2.0s', 'too early (or incremental): no time left guessed');
  for (let i = 0; i < 1200; i++) estimated.onLine('  CC      mm/gup.o');
  t.is(estimated.text(300_000), '1201/~1201 objects (100 %), 5m00s', 'more than expected: the count is the total');
});

test('the count of a build is kept per configuration; an incremental build does not lower it', (t) => {
  process.env['PINLAB_CACHE'] = testTempDir('pinlab-build-progress-');
  t.is(recordedObjects('c0ffee'), undefined);
  recordObjects('c0ffee', 895);
  recordObjects('c0ffee', 3);
  t.is(recordedObjects('c0ffee'), 895);
  const p = BuildProgress.forConfig('c0ffee', 'CONFIG_X=y\n', 0);
  t.deepEqual(p.expected, { objects: 895, estimated: false });
  t.deepEqual(BuildProgress.forConfig('other', 'CONFIG_X=y\nCONFIG_Y=y\n# CONFIG_Z is not set\nCONFIG_W=m\n', 0).expected, { objects: estimatedObjects('CONFIG_X=y\nCONFIG_Y=y\n'), estimated: true });
});

test('the estimate for pinlab\'s fragment is of the right size (688 built-in options -> ~1204, as the cold patched-6.1 build compiled)', (t) => {
  t.is(estimatedObjects('CONFIG_A=y\n'.repeat(688)), 1204);
});

function plainReporter(clock: { now: number }): { reporter: TerminalReporter; lines: () => string[] } {
  let out = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      out += String(chunk);
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  return { reporter: new TerminalReporter({ stream, interactive: false, now: () => clock.now }), lines: () => out.trim().split('\n') };
}

test('without a TTY a phase\'s progress is a plain line at most every 15 s', (t) => {
  const clock = { now: 0 };
  const { reporter, lines } = plainReporter(clock);
  reporter.onEvent({ type: 'phase-start', phase: 'build patched-6.1' });
  // one object a second for a minute
  for (let s = 1; s <= 60; s++) {
    clock.now = s * 1000;
    reporter.onEvent({ type: 'phase-progress', phase: 'build patched-6.1', detail: `${s}/60 objects` });
  }
  t.deepEqual(lines(), ['build patched-6.1 ...', 'build patched-6.1: 15/60 objects', 'build patched-6.1: 30/60 objects', 'build patched-6.1: 45/60 objects', 'build patched-6.1: 60/60 objects']);
  t.is(PLAIN_PROGRESS_EVERY_MS, 15_000);
});

test('without a TTY the suite says workloads done/total, elapsed and left, at most every 15 s', (t) => {
  const clock = { now: 0 };
  const { reporter, lines } = plainReporter(clock);
  const verdict = (name: string) => ({ name, target: 't', engine: 'psync', status: 'PASS', reasons: [], path: [], pinning: 'pinned', splats: [], message: '' }) as unknown as Verdict;
  for (let i = 1; i <= 6; i++) {
    reporter.onEvent({ type: 'workload-start', name: `w${i}`, index: i, total: 6 });
    clock.now += 8000;
    reporter.onEvent({ type: 'verdict', verdict: verdict(`w${i}`) });
  }
  const progress = lines().filter((l) => l.startsWith('workloads:'));
  t.deepEqual(progress, ['workloads: 2/6 workloads, 16.0s, about 32.0s left', 'workloads: 4/6 workloads, 32.0s, about 16.0s left', 'workloads: 6/6 workloads, 48.0s']);
  t.is(formatSuiteProgress(0, 42, 1000), '0/42 workloads, 1.0s');
});
