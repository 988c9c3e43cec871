import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import { editPatchLine } from '../../harness/bench/edit.js';

const PATCH = [
  'From abc Mon Sep 17 00:00:00 2001',
  'Subject: [PATCH] demo',
  '',
  '---',
  'diff --git a/block/fops.c b/block/fops.c',
  '--- a/block/fops.c',
  '+++ b/block/fops.c',
  '@@ -1,3 +1,4 @@',
  ' int a;',
  '+\tnot_this_file(a);',
  'diff --git a/block/bio.c b/block/bio.c',
  'index 7e2ce61bf..c3d70ce79 100644',
  '--- a/block/bio.c',
  '+++ b/block/bio.c',
  '@@ -10,6 +10,9 @@ void f(void)',
  ' \t/*',
  '-\t * old words',
  '+\t/*',
  '+\t * new words here',
  '+\t */',
  '+\tx = f(1);',
  '+\tif (x)',
  '+\t\tcall_it(x, 2);',
  ' \tx = 1;',
  '',
].join('\n');

test('editPatchLine appends a no-effect operand to the first added call statement of the file, nothing else', (t) => {
  const e = editPatchLine(PATCH, 'block/bio.c', '[bench 1]');
  t.is(e.line, 23);
  t.is(e.before, '+\t\tcall_it(x, 2);');
  t.is(e.after, '+\t\tcall_it(x, 2), (void)"[bench 1]";');
  const before = PATCH.split('\n');
  const after = e.text.split('\n');
  t.is(after.length, before.length);
  t.deepEqual(after.filter((l, i) => l !== before[i]), ['+\t\tcall_it(x, 2), (void)"[bench 1]";']);
});

test('editPatchLine refuses what it cannot edit safely', (t) => {
  t.throws(() => editPatchLine(PATCH, 'mm/gup.c', 'x'), { message: /no added function-call statement/ });
  t.throws(() => editPatchLine(PATCH, 'block/bio.c', 'a " b'), { instanceOf: RangeError });
  t.throws(() => editPatchLine(PATCH, 'block/bio.c', 'two\nlines'), { instanceOf: RangeError });
});

test('the series patch that touches block/bio.c has a line the bench can edit', (t) => {
  const text = readFileSync(join(repoRoot, 'patches', '0003-bio-convert-get_user_pages_fast-pin_user_pages_fast.patch'), 'utf8');
  const e = editPatchLine(text, 'block/bio.c', '[bench]');
  t.regex(e.before, /^\+\t+\w+\(.*\);$/);
  t.true(e.after.endsWith('), (void)"[bench]";'));
});
