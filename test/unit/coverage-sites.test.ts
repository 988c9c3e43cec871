// The pin-site finder reads kernel C the way the kernel writes it: calls inside function bodies
// are sites, prototypes, exports, comments and #defines are not; ids survive line shifts.
import test from 'ava';
import { blankComments, findPinSites, withIds } from '../../harness/coverage/sites.js';

const SOURCE = `// SPDX: unpin_user_page( in a comment is not a site
void unpin_user_page(struct page *page);
#define RELEASE(p) unpin_user_page(p)

static void bio_release_one(struct bio *bio,
			    struct page *page)
{
	/* unpin_user_pages( here neither */
	if (bio_flagged(bio, BIO_PAGE_PINNED))
		unpin_user_page(page);
	else
		put_page(page);
	pr_info("pin_user_pages_fast(");
}
EXPORT_SYMBOL(unpin_user_page);

static ssize_t grab(struct iov_iter *i, struct page **pages)
{
	ssize_t n = pin_user_pages_fast(addr, maxpages,
					gup_flags,
					pages);
	unpin_user_page(pages[0]);
	return n;
}
`;

test('sites are the calls in function bodies, with their function and callee', (t) => {
  const sites = findPinSites('block/bio.c', SOURCE);
  t.deepEqual(
    sites.map((s) => [s.line, s.endLine, s.function, s.callee, s.kind]),
    [
      [10, 10, 'bio_release_one', 'unpin_user_page', 'unpin'],
      [19, 21, 'grab', 'pin_user_pages_fast', 'pin'],
      [22, 22, 'grab', 'unpin_user_page', 'unpin'],
    ],
  );
});

test('comments and strings are blanked without moving a line', (t) => {
  const b = blankComments(SOURCE);
  t.is(b.split('\n').length, SOURCE.split('\n').length);
  t.false(b.includes('unpin_user_pages('));
  t.false(b.includes('pin_user_pages_fast("'));
});

test('ids name file, function and callee, numbered when a function calls a callee twice', (t) => {
  const text = `void f(void)\n{\n\tunpin_user_page(a);\n\tunpin_user_page(b);\n}\n`;
  t.deepEqual(
    withIds(findPinSites('mm/gup.c', text)).map((s) => s.id),
    ['mm/gup.c:f:unpin_user_page', 'mm/gup.c:f:unpin_user_page#2'],
  );
});

test('a syscall body is named after its syscall', (t) => {
  const text = `SYSCALL_DEFINE4(vmsplice, int, fd, const struct iovec __user *, uiov,\n\t\tunsigned long, nr_segs, unsigned int, flags)\n{\n\treturn iov_iter_get_pages2(i, p, 1, 1, &o);\n}\n`;
  t.deepEqual(findPinSites('fs/splice.c', text).map((s) => s.function), ['sys_vmsplice']);
});
