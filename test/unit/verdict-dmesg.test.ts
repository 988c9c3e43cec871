import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import { classifyKernelLog, stripLogPrefix } from '../../harness/verdict/dmesg.js';

const log = (f: string): string[] => readFileSync(join(repoRoot, 'test/fixtures/verdict/dmesg', f), 'utf8').split('\n');

const golden: [file: string, expected: { kind: string; title: string }[]][] = [
  ['warning-bio-release.log', [{ kind: 'warning', title: 'WARNING in try_grab_folio' }]],
  ['bug-null-deref.log', [{ kind: 'oops', title: 'BUG: kernel NULL pointer dereference in __bio_release_pages' }]],
  ['gpf.log', [{ kind: 'gpf', title: 'general protection fault in unpin_user_pages_dirty_lock' }]],
  ['bad-page.log', [{ kind: 'bad-page', title: 'BUG: Bad page state' }]],
  ['vm-bug-on-page.log', [{ kind: 'bug', title: 'kernel BUG in unpin_user_page' }]],
  ['hung-task.log', [{ kind: 'hung-task', title: 'INFO: task hung in __blkdev_direct_IO_simple' }]],
  ['soft-lockup.log', [{ kind: 'soft-lockup', title: 'BUG: soft lockup in gup_pte_range' }]],
  ['lockdep.log', [{ kind: 'lockdep', title: 'possible deadlock in internal_get_user_pages_fast' }]],
  ['rcu-stall.log', [{ kind: 'rcu-stall', title: 'INFO: rcu detected stall in __bio_release_pages' }]],
  ['panic.log', [{ kind: 'panic', title: 'Kernel panic - not syncing: Fatal exception' }]],
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
  const [s] = classifyKernelLog(log('hung-task.log'));
  t.truthy(s);
  t.true(s!.lines[0]!.includes('INFO: task node:163'));
  t.false(s!.lines.some((l) => l.includes('unrelated line')));
});

test('several reports in one log are separate splats, in order', (t) => {
  const splats = classifyKernelLog([...log('warning-bio-release.log'), ...log('bad-page.log'), ...log('panic.log')]);
  t.deepEqual(
    splats.map((s) => s.kind),
    ['warning', 'bad-page', 'panic'],
  );
});

test('a panic after an oops joins the oops', (t) => {
  const splats = classifyKernelLog([...log('gpf.log').filter((l) => !l.includes('end trace')), ...log('panic.log')]);
  t.is(splats.length, 1);
  t.is(splats[0]!.kind, 'gpf');
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

test('kernel logs recorded from real runs classify to the splats their runs found, line for line', (t) => {
  // scripts/record-fixtures.js splat=RUN_DIR: the kmsg lines of each workload that splatted
  const index = JSON.parse(readFileSync(join(repoRoot, 'test/fixtures/verdict/dmesg/index.json'), 'utf8')) as { file: string; splats: { kind: string; title: string; lines: number }[] }[];
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
