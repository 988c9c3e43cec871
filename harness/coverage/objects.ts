// The pin-path objects `pinlab run --coverage` instruments with gcov, and how kbuild is asked to.
// The one list: the build (make arguments, cache key), the guest (which .gcda files to read) and
// the reports (which sources count) all take it from here. Pure.

/** Source files whose objects are instrumented: the Direct I/O pin paths and the series' files. */
export const COVERAGE_SOURCES: readonly string[] = [
  'mm/gup.c',
  'block/bio.c',
  'block/blk-map.c',
  'block/fops.c',
  'fs/direct-io.c',
  'fs/iomap/direct-io.c',
  'lib/iov_iter.c',
  'io_uring/rsrc.c',
  'fs/splice.c',
  'drivers/scsi/scsi_ioctl.c',
  'drivers/nvme/host/ioctl.c',
  // GUP's huge-page routes (try_grab_* in follow_trans_huge_pmd / follow_hugetlb_page), and
  // io_uring's buffer pinning where it moved (6.12: io_pin_pages); a file a tree lacks is skipped
  'mm/huge_memory.c',
  'mm/hugetlb.c',
  'io_uring/memmap.c',
];

/** The object kbuild builds from a source file. */
export function objectOf(source: string): string {
  return source.replace(/\.c$/, '.o');
}

/**
 * make's command-line switches: kbuild instruments an object when GCOV_PROFILE_<basename>.o is y
 * (scripts/Makefile.lib). A command-line variable applies in every directory, so an object
 * elsewhere with the same base name (fs/ext4/ioctl.o beside drivers/nvme/host/ioctl.o) is
 * instrumented too; the reports read only COVERAGE_SOURCES.
 */
export function gcovMakeArgs(sources: readonly string[] = COVERAGE_SOURCES): string[] {
  const bases = [...new Set(sources.map((s) => objectOf(s).split('/').pop()!))].sort();
  return bases.map((b) => `GCOV_PROFILE_${b}=y`);
}

/** The .gcda/.gcno path of a source, relative to the object tree. */
export function gcovDataOf(source: string, ext: 'gcda' | 'gcno'): string {
  return source.replace(/\.c$/, `.${ext}`);
}
