// Pin sites user space cannot reach through Direct I/O, each with the reason, reviewed by a person
// and kept as data: a site listed here is reported as unreachable, never dropped, and a site that
// is neither listed nor reached is a coverage gap. Keyed by site id (file:function:callee, #n for
// the n-th call of that callee in the function), not by line, so an entry holds across trees.
// Reviewed 2026-12-05 against Debian 6.1.192 with the series and Debian 6.12 (x86-64, the default
// fragment): read each site's condition and its callers. The cross-memory-attach and udmabuf
// routes (process_vm_readv/writev, memfd_pin_folios) left the list when their workloads came, the
// long-term migration's unpins when the guest got a movable zone (movablecore=, config.ts), the
// gate page with process_vm_readv of it under vsyscall=emulate, memfd_pin_folios()' error exit
// (and unpin_folios()) with a hugetlb memfd whose pool runs out part-way, bio_dirty_fn() with
// writeback cleaning a read's pages while it is in flight, 6.1's follow_page() hugetlb leaves
// with move_pages(2)'s status query (the fragment's CONFIG_NUMA); reviewed again 2026-12-06: the
// devmap PMD leaves with a DAX file on legacy pmem, 6.1's zone-append merge with zonefs on an
// emulated ZNS namespace, 6.1's KVEC branch with finit_module's O_DIRECT kernel read. The race
// entries stay: the fork-storm and protect-storm workloads provoke them (the protection flips
// through PROT_EXEC so every flip changes the entry, the fork storm adds gup_test walks of 16384
// pages) and reached all of them in every filtered run measured since, but a race is never
// certain, and a reached site counts as reached whatever this list says.
import type { PinSite } from './sites.js';

export interface UnreachableEntry {
  site: string;
  reason: string;
}

const RACE_GUP_FAST = 'a race: the page table entry changed under gup-fast between reading it and grabbing the page (a concurrent unmap, fork or THP split)';
const PUD_HUGETLB_ALLOWED =
  'a PUD leaf is a hugetlb page here (PUD-sized THP exists only for DAX, and devmap returned earlier), and gup_fast_folio_allowed() allows hugetlb folios always';
const MIGRATION_FAILED =
  "the long-term migration's error exit after a device-coherent (ZONE_DEVICE) page's migration failed: for ordinary pages every entry is unpinned and cleared before migrate_pages() runs, so their failed migration (the migration-blocked workloads) finds nothing left here";
const DEVICE_COHERENT = 'a device-coherent (ZONE_DEVICE) page in a long-term pin: its pin becomes a reference before migration; the guest has no such memory';
const ZONE_APPEND_GONE =
  "zone append of user pages has no caller on 6.12: zonefs writes its sequential files with regular writes (iomap, REQ_OP_WRITE) there (6.1's zonefs_file_dio_append is gone), and btrfs turns a write into REQ_OP_ZONE_APPEND at submission, after its pages were added";
const RACE_MM_CHANGED =
  'a race: gup-fast gives its pins back when the mm changed (a concurrent fork) while it walked the page tables';
const DEVMAP_GONE =
  "a ZONE_DEVICE page whose pagemap is going away (its device being unbound) while gup-fast walks: a race with device removal; the dax workload's persistent memory stays bound";
const DEVMAP_PUD =
  'a PUD-sized ZONE_DEVICE mapping: device DAX with 1 GiB alignment only; a DAX file system (the dax workload) maps by PMD at most';
const DEVMAP_PTE =
  "a DAX file mapped by PTEs (an extent not 2 MiB aligned): the dax workload's file is mapped by PMD";

export const UNREACHABLE: readonly UnreachableEntry[] = [
  { site: 'mm/gup.c:unpin_user_pages_lockless:gup_put_folio', reason: RACE_MM_CHANGED },
  { site: 'mm/gup.c:migrate_longterm_unpinnable_pages:unpin_user_page#2', reason: MIGRATION_FAILED },
  // code since the fragment has ZONE_DEVICE (folio_is_device_coherent() is no longer constant)
  { site: 'mm/gup.c:migrate_longterm_unpinnable_pages:gup_put_folio', reason: DEVICE_COHERENT },
  { site: 'mm/gup.c:undo_dev_pagemap:unpin_user_page', reason: DEVMAP_GONE },
  { site: 'mm/huge_memory.c:follow_devmap_pud:try_grab_page', reason: DEVMAP_PUD },
  { site: 'mm/gup.c:migrate_longterm_unpinnable_folios:gup_put_folio', reason: DEVICE_COHERENT },
  { site: 'mm/gup.c:gup_pte_range:gup_put_folio#2', reason: RACE_GUP_FAST },
  { site: 'mm/gup.c:gup_huge_pmd:gup_put_folio', reason: RACE_GUP_FAST },
  { site: 'mm/gup.c:gup_huge_pud:gup_put_folio', reason: RACE_GUP_FAST },
  // 6.12 (gup-fast renamed, folio-based unpins)
  { site: 'block/bio.c:bio_iov_add_zone_append_folio:unpin_user_folio', reason: ZONE_APPEND_GONE },
  // pin flags tested in functions no Direct I/O reaches: mutation points, not pin sites (pinlab mutate)
  { site: 'block/bio.c:bio_iov_add_zone_append_folio:BIO_PAGE_PINNED', reason: ZONE_APPEND_GONE },
  // follow_page_pte's first FOLL_PIN test guards its pte_devmap() branch only
  { site: 'mm/gup.c:follow_page_pte:FOLL_PIN', reason: DEVMAP_PTE },
  // flag points (pinlab mutate) in functions whose pin sites are listed above for the same reason
  { site: 'mm/gup.c:undo_dev_pagemap:FOLL_PIN', reason: DEVMAP_GONE },
  { site: 'mm/gup.c:undo_dev_pagemap:put_page', reason: DEVMAP_GONE },
  { site: 'mm/gup.c:unpin_user_pages_lockless:FOLL_PIN', reason: RACE_MM_CHANGED },
  { site: 'mm/gup.c:follow_page:FOLL_PIN', reason: 'follow_page() serves FOLL_GET callers only (move_pages, KSM, ...); its FOLL_PIN test refuses a pin that never comes' },
  { site: 'mm/gup.c:pin_user_pages_fast_only:FOLL_PIN', reason: 'pin_user_pages_fast_only() has no caller in the tree' },
  { site: 'mm/gup.c:pin_user_pages_unlocked:FOLL_PIN', reason: 'pin_user_pages_unlocked() callers are outside Direct I/O only (media drivers)' },
  { site: 'mm/huge_memory.c:follow_devmap_pud:FOLL_PIN', reason: DEVMAP_PUD },
  { site: 'mm/hugetlb.c:follow_huge_pgd:FOLL_PIN', reason: 'PGD-level huge pages: x86-64 has none (pgd_huge() is 0), so the page walk never calls follow_huge_pgd' },
  { site: 'mm/gup.c:gup_fast_pte_range:gup_put_folio', reason: RACE_GUP_FAST },
  { site: 'mm/gup.c:gup_fast_pmd_leaf:gup_put_folio', reason: RACE_GUP_FAST },
  { site: 'mm/gup.c:gup_fast_unpin_user_pages:gup_put_folio', reason: RACE_MM_CHANGED },
  { site: 'mm/gup.c:gup_fast_pud_leaf:gup_put_folio', reason: RACE_GUP_FAST },
  { site: 'mm/gup.c:gup_fast_pud_leaf:gup_put_folio#2', reason: PUD_HUGETLB_ALLOWED },
  { site: 'mm/gup.c:gup_fast_undo_dev_pagemap:gup_put_folio', reason: DEVMAP_GONE },
  { site: 'mm/gup.c:gup_fast_pmd_leaf:gup_put_folio#2', reason: 'a long-term pin of a PMD-mapped folio of a disk file (not shmem): 6.12 maps no disk file by PMD in this guest (ext4 large folios came with 6.16, CONFIG_READ_ONLY_THP_FOR_FS is off); the small-page twin in gup_fast_pte_range is reached by ext4.uring-fixed.anon.longterm-file' },
  { site: 'mm/gup.c:__get_user_pages:gup_put_folio', reason: 'the grab of a large folio\'s further pages "should never fail" (a reference is already held): only a refcount overflow gets here' },
  { site: 'mm/gup.c:unpin_user_page_range_dirty_lock:gup_put_folio', reason: 'callers outside the Direct I/O paths only on 6.12 (RDMA umem); bios release folio by folio' },
  // 6.12 flag points (pinlab mutate) in the functions of sites listed above for the same reason
  { site: 'mm/gup.c:follow_huge_pud:FOLL_PIN', reason: `its FOLL_GET | FOLL_PIN test guards the pud_devmap() branch only: ${DEVMAP_PUD}` },
  { site: 'mm/gup.c:gup_fast_unpin_user_pages:FOLL_PIN', reason: RACE_MM_CHANGED },
  { site: 'mm/gup.c:unpin_user_page_range_dirty_lock:FOLL_PIN', reason: 'callers outside the Direct I/O paths only on 6.12 (RDMA umem); bios release folio by folio' },
];

export function unreachableReason(site: Pick<PinSite, 'file' | 'function' | 'callee'> & { id?: string }): string | undefined {
  const id = site.id ?? `${site.file}:${site.function}:${site.callee}`;
  return UNREACHABLE.find((u) => u.site === id)?.reason;
}
