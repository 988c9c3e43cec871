// Mutants reviewed as equivalent: the change cannot alter what the kernel does with pins on any
// input, each with the reason, kept as data like the reviewed unreachable sites. A mutant listed
// here is reported as equivalent and not run; keyed by mutant id (`<site id>/<operator>`).
// Reviewed 2026-12-05 by reading each survivor's change and its callers.

export interface EquivalentEntry {
  mutant: string;
  reason: string;
}

export const EQUIVALENT: readonly EquivalentEntry[] = [
  {
    mutant: 'block/blk-map.c:blk_rq_unmap_user:bio_release_pages/skip-on-error',
    reason:
      "ret only takes bio_uncopy_user()'s error, which copied bios give; blk_rq_map_user_iov() decides copy or map once per request, so a request whose bios reach this release (mapped) has ret == 0 there (6.1 and 6.12 alike)",
  },
  {
    mutant: 'block/fops.c:__blkdev_direct_IO:bio_release_pages/skip-on-error',
    reason:
      'the IOCB_NOWAIT release comes after `ret = bio_iov_iter_get_pages(); if (unlikely(ret)) break;` in the same iteration, so ret is 0 whenever it runs (6.1 and 6.12 alike)',
  },
  // fs/direct-io.c's do_direct_IO: every assignment of ret in its loop (get_more_blocks,
  // submit_page_section) is followed by `if (ret) { ...; goto out; }`, so ret is 0 at the releases
  // of a hole write (-ENOTBLK), of a read at EOF and at the end of each page (6.1: dio_release_page,
  // 6.12: dio_unpin_page)
  ...['dio_release_page', 'dio_unpin_page'].flatMap((fn) =>
    ['#2', '#3', '#5'].map((n) => ({
      mutant: `fs/direct-io.c:do_direct_IO:${fn}${n}/skip-on-error`,
      reason: 'do_direct_IO leaves by `goto out` whenever ret is set (get_more_blocks, submit_page_section), so ret is 0 at this release: the hole write (-ENOTBLK), the read at EOF, the end of a page',
    })),
  ),
  // gup-fast's PTE walk (6.1 gup_pte_range, 6.12 gup_fast_pte_range): ret is set only by
  // arch_make_page_accessible()/arch_make_folio_accessible() in the FOLL_PIN branch after these
  // releases, and a failure there leaves the loop, so ret is 0 at the secretmem, the changed-PTE
  // and the unshare releases
  ...['gup_pte_range', 'gup_fast_pte_range'].flatMap((fn) =>
    ['', '#2', '#3'].map((n) => ({
      mutant: `mm/gup.c:${fn}:gup_put_folio${n}/skip-on-error`,
      reason: 'ret is set only by arch_make_page_accessible() (6.12: arch_make_folio_accessible()) in the FOLL_PIN branch below, whose failure leaves the loop: ret is 0 at the secretmem, changed-PTE and unshare releases',
    })),
  ),
  // 6.12's long-term migration: migrate_longterm_unpinnable_folios() unpins and clears every entry
  // before migrate_pages() runs, so when the migration fails (raw-virtio.uring-fixed.anon.
  // migration-blocked, raw-virtio.udmabuf.anon.migration-blocked) its error exit's pofs_unpin()
  // walks an array of NULLs. Only a device-coherent (ZONE_DEVICE) page whose own migration fails
  // leaves pinned entries behind it there; the guest has no such memory, so releasing none or one
  // entry fewer cannot change a pin here. (refs-plus-one is not listed: it reads one entry past
  // the array, which is not always NULL.)
  ...['unpin_user_pages/drop-release', 'unpin_user_pages/refs-minus-one', 'unpin_folios/drop-release'].map((m) => ({
    mutant: `mm/gup.c:pofs_unpin:${m}`,
    reason:
      "migrate_longterm_unpinnable_folios() has unpinned and cleared every entry before the migration whose failure leads here, so pofs_unpin() releases an array of NULLs; only a device-coherent (ZONE_DEVICE) page's failed migration leaves pinned entries, and the guest has none",
  })),
];

export function equivalentReason(id: string, entries: readonly EquivalentEntry[] = EQUIVALENT): string | undefined {
  return entries.find((e) => e.mutant === id)?.reason;
}
