// The mutant generator is pure: kernel C in, mutants out, each one change to one file as a diff
// git applies, with ids that do not move when lines do. Each operator is checked on the source
// shapes it must change and the ones it must leave alone.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findMutationPoints } from '../../harness/mutate/points.js';
import { declaredAtFunctionScope, flagUse, OPERATORS } from '../../harness/mutate/operators.js';
import { mutantsOfFile, planMutants, selectMutants, unifiedDiff } from '../../harness/mutate/plan.js';
import { findPinSites, withIds } from '../../harness/coverage/sites.js';

const SOURCE = `// SPDX: unpin_user_page( in a comment is not a point
#define RELEASE(p) unpin_user_page(p)

static void release_one(struct bio *bio, struct page *page)
{
	if (bio_flagged(bio, BIO_PAGE_PINNED))
		unpin_user_page(page);
	else
		put_page(page);
}

static int grab(struct bio *bio, struct page **pages, int nr)
{
	int ret = 0, i = 0;

	if (pin_user_pages_fast(addr, nr, FOLL_WRITE | FOLL_PIN, pages) < 0)
		ret = -EFAULT;
	bio_set_flag(bio, BIO_PAGE_PINNED);
	while (i < nr)
		bio_release_page(bio, pages[i++]);
	unpin_user_pages(pages,
			 nr);
	WARN_ON_ONCE(flags & FOLL_PIN);
	if (!try_grab_folio(page, refs, flags))
		return -ENOMEM;
	if (flags & (FOLL_GET | FOLL_PIN))
		gup_put_folio(folio, refs, FOLL_PIN);
	return ret;
}
`;

const FILE = 'block/bio.c';

test('points: pin sites with the coverage finder ids, puts and flags of those functions; no comment, #define or assertion', (t) => {
  const points = findMutationPoints(FILE, SOURCE);
  t.deepEqual(
    points.map((p) => [p.id, p.kind, p.line]),
    [
      ['block/bio.c:release_one:BIO_PAGE_PINNED', 'flag', 6],
      ['block/bio.c:release_one:unpin_user_page', 'unpin', 7],
      ['block/bio.c:release_one:put_page', 'put', 9],
      ['block/bio.c:grab:pin_user_pages_fast', 'pin', 16],
      ['block/bio.c:grab:FOLL_PIN', 'flag', 16],
      ['block/bio.c:grab:BIO_PAGE_PINNED', 'flag', 18],
      ['block/bio.c:grab:bio_release_page', 'unpin', 20],
      ['block/bio.c:grab:unpin_user_pages', 'unpin', 21],
      ['block/bio.c:grab:try_grab_folio', 'pin', 24],
      ['block/bio.c:grab:FOLL_PIN#2', 'flag', 26],
      ['block/bio.c:grab:gup_put_folio', 'unpin', 27],
      ['block/bio.c:grab:FOLL_PIN#3', 'flag', 27],
    ],
  );
  // pin-site ids are exactly the coverage finder's, so a coverage report's reach applies
  const siteIds = withIds(findPinSites(FILE, SOURCE)).map((s) => s.id);
  t.deepEqual(points.filter((p) => p.kind !== 'put' && p.kind !== 'flag').map((p) => p.id), siteIds);
});

const change = (id: string) => {
  const m = mutantsOfFile(FILE, SOURCE).find((x) => x.id === id);
  return m ? [m.before.trim().replace(/\s+/g, ' '), m.after.trim().replace(/\s+/g, ' ')] : undefined;
};

test('each operator mimics its bug', (t) => {
  t.deepEqual(change('block/bio.c:release_one:unpin_user_page/drop-release'), ['unpin_user_page(page);', '(void)0;']);
  t.deepEqual(change('block/bio.c:release_one:unpin_user_page/put-for-unpin'), ['unpin_user_page(page);', 'put_page(page);']);
  t.deepEqual(change('block/bio.c:release_one:put_page/unpin-for-put'), ['put_page(page);', 'unpin_user_page(page);']);
  t.deepEqual(change('block/bio.c:grab:unpin_user_pages/refs-minus-one'), ['unpin_user_pages(pages, nr);', 'unpin_user_pages(pages, (nr) - 1);']);
  t.deepEqual(change('block/bio.c:grab:try_grab_folio/refs-plus-one'), ['if (!try_grab_folio(page, refs, flags))', 'if (!try_grab_folio(page, (refs) + 1, flags))']);
  t.deepEqual(change('block/bio.c:grab:unpin_user_pages/skip-on-error'), ['unpin_user_pages(pages, nr);', '((ret) ? (void)0 : (void)unpin_user_pages(pages, nr));']);
  t.deepEqual(change('block/bio.c:release_one:BIO_PAGE_PINNED/flag-not-tested'), ['if (bio_flagged(bio, BIO_PAGE_PINNED))', 'if (false)']);
  t.deepEqual(change('block/bio.c:grab:BIO_PAGE_PINNED/flag-not-set'), ['bio_set_flag(bio, BIO_PAGE_PINNED);', '(void)0;']);
  t.deepEqual(change('block/bio.c:grab:FOLL_PIN/flag-not-set'), ['if (pin_user_pages_fast(addr, nr, FOLL_WRITE | FOLL_PIN, pages) < 0)', 'if (pin_user_pages_fast(addr, nr, FOLL_WRITE | 0, pages) < 0)']);
  t.deepEqual(change('block/bio.c:grab:FOLL_PIN#2/flag-not-tested'), ['if (flags & (FOLL_GET | FOLL_PIN))', 'if (flags & (FOLL_GET | 0))']);
  t.deepEqual(change('block/bio.c:grab:gup_put_folio/put-for-unpin'), ['gup_put_folio(folio, refs, FOLL_PIN);', 'folio_put_refs(folio, refs);']);
});

test('a skipped call keeps its arguments\' side effects (a loop over pages[i++] still ends)', (t) => {
  t.deepEqual(change('block/bio.c:grab:bio_release_page/drop-release'), ['bio_release_page(bio, pages[i++]);', '(void)(pages[i++]);']);
  t.deepEqual(change('block/bio.c:grab:bio_release_page/skip-on-error'), ['bio_release_page(bio, pages[i++]);', '((ret) ? (void)(pages[i++]) : (void)bio_release_page(bio, pages[i++]));']);
});

test('operators leave alone what they do not fit', (t) => {
  // a call whose value is used is not dropped; a function without an error variable gets no skip-on-error
  t.is(change('block/bio.c:grab:try_grab_folio/drop-release'), undefined);
  t.is(change('block/bio.c:release_one:unpin_user_page/skip-on-error'), undefined);
  // a count operator needs a count argument
  t.is(change('block/bio.c:release_one:unpin_user_page/refs-plus-one'), undefined);
  // a flag that is set is not "tested", and the reverse
  t.is(change('block/bio.c:grab:FOLL_PIN/flag-not-tested'), undefined);
  t.is(change('block/bio.c:release_one:BIO_PAGE_PINNED/flag-not-set'), undefined);
});

test('skip-on-error needs the error variable declared with a value at the function\'s scope above the release', (t) => {
  const inner = `static void end_io(struct bio *bio)
{
	if (bio->bi_private) {
		ssize_t ret;

		ret = 1;
	}
	bio_release_pages(bio, false);
}
`;
  t.deepEqual(mutantsOfFile(FILE, inner).map((m) => m.operator), ['drop-release'], 'a ret of an inner block is out of scope at the release');
  t.true(declaredAtFunctionScope('\tint ret = 0, i = 0;\n', 'ret'));
  t.true(declaredAtFunctionScope('\tstruct bio *bio;\n\tssize_t size, err = -EINVAL;\n', 'err'));
  t.false(declaredAtFunctionScope('\t\tssize_t ret = 0;\n', 'ret'));
  t.false(declaredAtFunctionScope('\tint ret;\n', 'ret'), 'never given a value: the mutant would read garbage');
  t.false(declaredAtFunctionScope('\tint ret;\n\twhile (x) {\n\t\tif (bad) {\n\t\t\tret = -EFAULT;\n\t\t\tgoto out;\n\t\t}\n', 'ret'), 'a value only on the way out');
  t.true(declaredAtFunctionScope('\tssize_t ret;\n\tret = get_pages(bio);\n\tif (ret)\n', 'ret'));
  t.false(declaredAtFunctionScope('\treturn ret;\n\tret = 1;\n', 'ret'));
});

test('flagUse: bit tests and flag groups are tests; or-ing and arguments are sets', (t) => {
  const at = (line: string, token = 'FOLL_PIN') => flagUse({ point: { line: 1, col: line.indexOf(token), token } as never, blanked: [line] });
  t.is(at('if (flags & FOLL_PIN)'), 'test');
  t.is(at('if (flags & (FOLL_GET | FOLL_PIN))'), 'test');
  t.is(at('if (a && FOLL_PIN)'), 'set');
  t.is(at('gup_flags |= FOLL_PIN;'), 'set');
  t.is(at('try_grab_page(page, FOLL_PIN)'), 'set');
  t.is(at('x = (FOLL_WRITE | FOLL_PIN);'), 'set');
});

test('every operator has a description of the bug it mimics, and ids are unique', (t) => {
  t.true(OPERATORS.every((o) => o.mimics.length > 10));
  const ids = planMutants(new Map([[FILE, SOURCE]])).map((m) => m.id);
  t.is(new Set(ids).size, ids.length);
});

test('ids do not move when lines do', (t) => {
  const shifted = SOURCE.replace('static void release_one', '/* a new comment */\nstatic int added(void)\n{\n\treturn 0;\n}\n\nstatic void release_one');
  const a = mutantsOfFile(FILE, SOURCE);
  const b = mutantsOfFile(FILE, shifted);
  t.deepEqual(b.map((m) => m.id), a.map((m) => m.id));
  t.deepEqual(b.map((m) => m.line - 6), a.map((m) => m.line));
});

test('every mutant diff applies with git apply and changes only its lines', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinlab-mutate-'));
  try {
    mkdirSync(join(dir, 'block'));
    execFileSync('git', ['init', '-q'], { cwd: dir });
    for (const m of mutantsOfFile(FILE, SOURCE)) {
      writeFileSync(join(dir, FILE), SOURCE);
      writeFileSync(join(dir, 'm.patch'), m.diff);
      execFileSync('git', ['apply', 'm.patch'], { cwd: dir });
      const before = SOURCE.split('\n');
      const expected = [...before.slice(0, m.line - 1), ...m.after.split('\n'), ...before.slice(m.endLine)].join('\n');
      t.is(readFileSync(join(dir, FILE), 'utf8'), expected, m.id);
      t.not(m.before, m.after);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unifiedDiff: context clipped at the file ends', (t) => {
  t.is(unifiedDiff('f.c', ['a', 'b'], 0, 0, ['A']), 'diff --git a/f.c b/f.c\n--- a/f.c\n+++ b/f.c\n@@ -1,2 +1,2 @@\n-a\n+A\n b\n');
});

test('selection: filter by file, function or operator words; shards split round-robin and add up', (t) => {
  const all = planMutants(new Map([[FILE, SOURCE]]));
  t.true(selectMutants(all, { filter: 'drop-release' }).every((m) => m.operator === 'drop-release'));
  t.true(selectMutants(all, { filter: 'block/bio.c:grab' }).every((m) => m.id.startsWith('block/bio.c:grab:')));
  t.is(selectMutants(all, { filter: 'block/bio.c,!flag-not-set' }).length, all.filter((m) => m.operator !== 'flag-not-set').length);
  const shards = [1, 2, 3].map((k) => selectMutants(all, { shard: { k, n: 3 } }));
  t.deepEqual(shards.flat().map((m) => m.id).sort(), all.map((m) => m.id).sort());
  t.is(selectMutants(all, { max: 2 }).length, 2);
});
