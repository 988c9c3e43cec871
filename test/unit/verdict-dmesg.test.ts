import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import { classifyKernelLog, stripLogPrefix } from '../../harness/verdict/dmesg.js';

const log = (f: string): string[] => readFileSync(join(repoRoot, 'test/fixtures/verdict/dmesg', f), 'utf8').split('\n');

/** Recorded by scripts/record-splats.js: real reports LKDTM provoked under a workload. */
const rec = (what: string) => `recorded.patched-6.1.raw-virtio.psync.anon.${what}.log`;

const golden: [file: string, expected: { kind: string; title: string }[]][] = [
  ['warning-bio-release.log', [{ kind: 'warning', title: 'WARNING in try_grab_folio' }]],
  [rec('warning'), [{ kind: 'warning', title: 'WARNING in lkdtm_WARNING' }]],
  [rec('null-deref'), [{ kind: 'oops', title: 'BUG: kernel NULL pointer dereference in lkdtm_EXCEPTION' }]],
  [rec('bug'), [{ kind: 'bug', title: 'kernel BUG in lkdtm_BUG' }]],
  ['gpf.log', [{ kind: 'gpf', title: 'general protection fault in unpin_user_pages_dirty_lock' }]],
  ['bad-page.log', [{ kind: 'bad-page', title: 'BUG: Bad page state' }]],
  ['vm-bug-on-page.log', [{ kind: 'bug', title: 'kernel BUG in unpin_user_page' }]],
  // planted fops-simple-put-freed-page.patch: a pinned page freed while mapped, from the console
  [
    rec('fops-simple-put-freed-page'),
    [
      { kind: 'bad-page', title: 'BUG: Bad page state' },
      { kind: 'bad-page', title: 'BUG: Bad page map in print_bad_pte' },
      { kind: 'bug', title: 'kernel BUG in put_page_testzero' },
    ],
  ],
  // the guess unwinder marks every frame "? ": the title comes from the first one not skipped
  [rec('hung-task'), [{ kind: 'hung-task', title: 'INFO: task hung in direct_entry' }]],
  [rec('soft-lockup'), [{ kind: 'soft-lockup', title: 'BUG: soft lockup in lkdtm_SOFTLOCKUP' }]],
  ['lockdep.log', [{ kind: 'lockdep', title: 'possible deadlock in internal_get_user_pages_fast' }]],
  [rec('rcu-stall'), [{ kind: 'rcu-stall', title: 'INFO: rcu detected stall in lkdtm_SOFTLOCKUP' }]],
  [rec('panic'), [{ kind: 'panic', title: 'Kernel panic - not syncing: dumptest' }]],
  ['kmsg-raw.log', [{ kind: 'warning', title: 'WARNING in __bio_release_pages' }]],
  ['benign.log', []],
];

for (const [file, expected] of golden) {
  test(`classifies ${file}`, (t) => {
    const splats = classifyKernelLog(log(file));
    t.deepEqual(
      splats.map((s) => ({ kind: s.kind, title: s.title })),
      expected,
    );
  });
}

test('a splat keeps its lines and stops at its end', (t) => {
  const lines = log(rec('hung-task'));
  const [s] = classifyKernelLog(lines);
  t.truthy(s);
  t.true(s!.lines[0]!.includes('INFO: task sh:'));
  t.true(s!.lines.at(-1)!.includes('</TASK>'));
  // the provoke mark and LKDTM's own line come before the report: not part of it
  t.false(s!.lines.some((l) => l.includes('pinlab: provoke') || l.includes('lkdtm: Performing')));
});

test('several reports in one log are separate splats, in order', (t) => {
  const splats = classifyKernelLog([...log('warning-bio-release.log'), ...log('bad-page.log'), ...log(rec('panic'))]);
  t.deepEqual(
    splats.map((s) => s.kind),
    ['warning', 'bad-page', 'panic'],
  );
});

test('a panic after an oops joins the oops', (t) => {
  const splats = classifyKernelLog([...log('gpf.log').filter((l) => !l.includes('end trace')), ...log(rec('panic'))]);
  t.is(splats.length, 1);
  t.is(splats[0]!.kind, 'gpf');
});

test('a stack of "? " frames only (guess unwinder) still names a function; reliable frames win', (t) => {
  const hung = (frames: string[]) => classifyKernelLog(['INFO: task node:90 blocked for more than 2 seconds.', 'Call Trace:', ' <TASK>', ...frames, ' </TASK>'])[0]!.title;
  t.is(hung([' ? __schedule+0x424/0x46d', ' ? schedule+0x89/0xbf', ' ? __blkdev_direct_IO_simple+0xa2/0x1b4']), 'INFO: task hung in __blkdev_direct_IO_simple');
  t.is(hung([' ? bio_add_folio+0x1d/0x23', ' __schedule+0x424/0x46d', ' submit_bio_wait+0x5a/0x80']), 'INFO: task hung in submit_bio_wait');
});

test('stripLogPrefix handles kmsg, syslog, timestamps and caller ids', (t) => {
  t.is(stripLogPrefix('4,12,345,-;WARNING: x'), 'WARNING: x');
  t.is(stripLogPrefix('<4>[   1.000000] BUG: y'), 'BUG: y');
  t.is(stripLogPrefix('[    1.234567][  T123] Oops: z'), 'Oops: z');
  t.is(stripLogPrefix('plain'), 'plain');
});

test('inline headers: 6.12 GPF spelling, page fault, sleeping in atomic, KASAN', (t) => {
  const titles = (lines: string[]) => classifyKernelLog(lines).map((s) => s.title);
  t.deepEqual(titles(['Oops: general protection fault, probably for non-canonical address 0xdffffc0000000001: 0000 [#1] PREEMPT SMP', 'RIP: 0010:bio_release_pages+0x10/0x80']), [
    'general protection fault in bio_release_pages',
  ]);
  t.deepEqual(
    titles(['BUG: unable to handle page fault for address: ffffea0004000008', '#PF: supervisor read access in kernel mode', 'Oops: 0000 [#1] PREEMPT SMP', 'RIP: 0010:unpin_user_pages+0x22/0x90']),
    ['BUG: unable to handle kernel paging request in unpin_user_pages'],
  );
  t.deepEqual(
    titles([
      'BUG: sleeping function called from invalid context at mm/gup.c:1200',
      'in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 90, name: node',
      'Call Trace:',
      ' <TASK>',
      ' dump_stack_lvl+0x44/0x5c',
      ' __might_resched+0x130/0x160',
      ' pin_user_pages_fast+0x20/0x60',
      ' </TASK>',
    ]),
    ['BUG: sleeping function called from invalid context in pin_user_pages_fast'],
  );
  t.deepEqual(titles(['BUG: KASAN: use-after-free in __bio_release_pages+0x3d/0x90']), ['KASAN: use-after-free in __bio_release_pages']);
});

interface Recorded {
  file: string;
  splats: { kind: string; title: string; lines: number }[];
  /** scripts/record-splats.js: what LKDTM was made to do, and the kind of report it must give */
  provoked?: { lkdtm: string; kind: string; from: 'observation' | 'console' };
}
const recorded = (): Recorded[] => JSON.parse(readFileSync(join(repoRoot, 'test/fixtures/verdict/dmesg/index.json'), 'utf8')) as Recorded[];

test('kernel logs recorded from real runs classify to the splats their runs found, line for line', (t) => {
  // scripts/record-fixtures.js splat=RUN_DIR: the kmsg lines of each workload that splatted;
  // provoked=DIR: the reports LKDTM gave (the kmsg lines, or the console when the guest could not go on)
  const index = recorded();
  t.true(index.length > 0);
  for (const { file, splats } of index) {
    const found = classifyKernelLog(log(file));
    t.deepEqual(
      found.map((s) => ({ kind: s.kind, title: s.title, lines: s.lines.length })),
      splats,
      file,
    );
  }
});

test('each provoked log gives the kind of report it was provoked for, and together they cover the kinds', (t) => {
  const provoked = recorded().filter((e) => e.provoked);
  for (const { file, provoked: p } of provoked) {
    t.true(
      classifyKernelLog(log(file)).some((s) => s.kind === p!.kind),
      `${file}: lkdtm ${p!.lkdtm} must give a ${p!.kind} report`,
    );
  }
  // the kinds whose hand-made logs these replaced
  const kinds = new Set(provoked.map((e) => e.provoked!.kind));
  for (const kind of ['warning', 'bug', 'oops', 'hung-task', 'soft-lockup', 'rcu-stall', 'panic']) t.true(kinds.has(kind), kind);
});
