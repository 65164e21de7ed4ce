// SPDX-License-Identifier: GPL-2.0
/*
 * Device-private migration with the 7.x API: zone_device_page_init() that
 * takes the pagemap and an order, migrate_vma_*() and migrate_device_*(),
 * hmm_range_fault() and make_device_exclusive() returning the page.  All
 * of it must be exported: Debian's 6.1 and 6.12 have no DEVICE_PRIVATE.
 *
 * Upstream: e778406b40db ("mm/migrate_device.c: add migrate_device_range()"),
 *	v6.1; 599b684a7854 ("mm/rmap: convert make_device_exclusive_range()
 *	to make_device_exclusive()"), v6.15; 12b2285bf3d1 ("mm/zone_device:
 *	reinitialize large zone device private folios"), the v6.19 cycle,
 *	for zone_device_page_init() with the pagemap.
 * Optional: without it type=private is refused at load, and src/private.h
 *	stubs out the device-private unit.
 */
#include <linux/hmm.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
#include <linux/mmu_notifier.h>
#include <linux/rmap.h>

static int probe(struct page *page, struct dev_pagemap *pgmap,
		 struct migrate_vma *args, struct hmm_range *range,
		 struct mm_struct *mm, unsigned long *pfns)
{
	struct folio *folio;
	int ret;

	zone_device_page_init(page, pgmap, 0);
	ret = migrate_vma_setup(args);
	migrate_vma_pages(args);
	migrate_vma_finalize(args);
	ret |= migrate_device_range(pfns, 0, 1);
	migrate_device_pages(pfns, pfns, 1);
	migrate_device_finalize(pfns, pfns, 1);
	ret |= hmm_range_fault(range);
	ret |= mmu_interval_notifier_insert(range->notifier, mm, 0, 1, NULL);
	mmu_interval_notifier_remove(range->notifier);
	return ret | PTR_ERR_OR_ZERO(make_device_exclusive(mm, 0, NULL, &folio));
}

void *zdref_probe = probe;
