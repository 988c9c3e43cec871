// The argv arrays `pinlab bisect` plans, and how it reads git's answers.
import test from 'ava';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import {
  bisectClone,
  checkArgs,
  parseBisectOutput,
  parseBisectSource,
  planCheck,
  planMark,
  planStart,
  progressLine,
  type BisectRequest,
} from '../../harness/bisect/plan.js';

const req: BisectRequest = { repo: '/src/linux', good: 'v1', bad: 'v2', filter: 'ext2.psync.anon', repeat: 3, thresholds: { badAt: 2 } };

test('--source git:REPO names a repository; a ref there is refused', (t) => {
  t.is(parseBisectSource('git:/src/linux'), '/src/linux');
  t.is(parseBisectSource('/src/linux'), '/src/linux');
  t.deepEqual(parseBisectSource('git:/src/linux@v6.1'), { error: '--source git:/src/linux@v6.1: name the repository only (git:REPO); --good and --bad name the commits' });
  t.true(typeof parseBisectSource('git:') === 'object');
  // an @ inside a directory name is not a ref
  t.is(parseBisectSource('git:/home/u@x/linux'), '/home/u@x/linux');
});

test('bisect state lives in a --shared clone under the cache, never in the repository', (t) => {
  const clone = bisectClone('/src/linux', '/cache');
  t.regex(clone, /^\/cache\/bisect\/git-[0-9a-f]{12}\/repo$/);
  t.not(bisectClone('/src/other', '/cache'), clone);
  const steps = planStart('/src/linux', clone, 'B', 'G', false);
  t.deepEqual(steps.map((s) => s.argv), [
    ['git', 'clone', '-q', '--shared', '--no-checkout', '/src/linux', clone],
    ['git', '-C', clone, 'bisect', 'reset'],
    ['git', '-C', clone, 'bisect', 'start', '--no-checkout', 'B', 'G'],
  ]);
  t.is(planStart('/src/linux', clone, 'B', 'G', true).length, 2, 'the clone is made once');
  for (const s of steps) t.false(s.argv.includes('/src/linux') && s.argv.includes('bisect'), 'no bisect command runs in the repository');
  t.deepEqual(planMark(clone, 'skip', 'abc').argv, ['git', '-C', clone, 'bisect', 'skip', 'abc']);
});

test('each step is pinlab check on the repository at that commit, with the thresholds passed on', (t) => {
  t.deepEqual(checkArgs(req), ['-f', 'ext2.psync.anon', '--repeat', '3', '--bad-threshold', '2']);
  const s = planCheck(req, 'c0ffee', '/runs/b/steps/01-c0ffee', '/usr/bin/node');
  t.deepEqual(s.argv, [
    '/usr/bin/node',
    join(repoRoot, 'bin', 'pinlab.js'),
    'check',
    '--source',
    'git:/src/linux@c0ffee',
    '-f',
    'ext2.psync.anon',
    '--repeat',
    '3',
    '--bad-threshold',
    '2',
    '--run-dir',
    '/runs/b/steps/01-c0ffee',
  ]);
  const extra = checkArgs({ ...req, thresholds: {}, strict: true, patch: ['/p/x.patch'], configFragment: ['/c/kasan.config'], cmdline: 'quiet', jobs: 3 });
  t.deepEqual(extra, ['-f', 'ext2.psync.anon', '--repeat', '3', '--strict', '--patch', '/p/x.patch', '--config-fragment', '/c/kasan.config', '--cmdline', 'quiet', '-j', '3']);
});

const sha = (c: string) => c.repeat(40);

test("git's answers: next step, first bad commit, only skipped commits left, failure", (t) => {
  const next = `Bisecting: 3 revisions left to test after this (roughly 2 steps)\n[${sha('a')}] ext2: comment\n`;
  t.deepEqual(parseBisectOutput(next, 0), { kind: 'next' });
  t.is(progressLine(next), 'Bisecting: 3 revisions left to test after this (roughly 2 steps)');
  t.is(progressLine('no progress here'), undefined);
  const found = `${sha('b')} is the first bad commit\ncommit ${sha('b')}\nAuthor: x\n\n    fs: put instead of unpin\n`;
  t.deepEqual(parseBisectOutput(found, 0), { kind: 'found', commit: sha('b') });
  const skipped = `There are only 'skip'ped commits left to test.\nThe first bad commit could be any of:\n${sha('c')}\n${sha('d')}\nWe cannot bisect more!\n`;
  t.deepEqual(parseBisectOutput(skipped, 2), { kind: 'only-skipped', candidates: [sha('c'), sha('d')] });
  t.deepEqual(parseBisectOutput('fatal: bad revision\n', 128), { kind: 'error', message: 'fatal: bad revision' });
});

test('--reason is passed on to every check', (t) => {
  t.deepEqual(checkArgs({ ...req, thresholds: {}, reason: 'pin-leak' }), ['-f', 'ext2.psync.anon', '--repeat', '3', '--reason', 'pin-leak']);
});
