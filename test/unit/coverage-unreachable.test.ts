// The reviewed unreachable pin sites are data with a reason each; the docs' table lists exactly
// those, so the list a reader sees cannot drift from the one the reports use.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import { UNREACHABLE, unreachableReason } from '../../harness/coverage/unreachable.js';
import { siteId } from '../../harness/coverage/sites.js';

test('every reviewed site has a reason and a well-formed id, once', (t) => {
  for (const u of UNREACHABLE) {
    t.regex(u.site, /^[\w/.-]+\.c:\w+:\w+(#\d+)?$/, u.site);
    t.true(u.reason.length > 20, `${u.site} has a reason`);
  }
  t.is(new Set(UNREACHABLE.map((u) => u.site)).size, UNREACHABLE.length);
});

test('docs/coverage.md lists exactly the reviewed sites', (t) => {
  const doc = readFileSync(join(repoRoot, 'docs/coverage.md'), 'utf8');
  const listed = [...doc.matchAll(/^\| ([\w/.-]+\.c:\w+:\w+(?:#\d+)?) \|/gm)].map((m) => m[1]);
  t.deepEqual(listed.sort(), UNREACHABLE.map((u) => u.site).sort());
});

test('a site is matched by its id, so the second call of a callee is not the first', (t) => {
  const first = { file: 'mm/gup.c', function: 'gup_pte_range', callee: 'gup_put_folio' };
  t.is(unreachableReason({ ...first, id: siteId(first) }), undefined, 'the secretmem put is not listed');
  t.truthy(unreachableReason({ ...first, id: siteId(first, 2) }));
});
