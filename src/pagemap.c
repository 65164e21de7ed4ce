// SPDX-License-Identifier: GPL-2.0
/*
 * zdref: the dev_pagemap of a device, registered with memremap_pages().
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <kunit/visibility.h>
#include <linux/mm.h>
#include <linux/memremap.h>
#include <linux/topology.h>

#include <zdref/compat.h>
#include "private.h"

/* A folio here is one allocation unit: a page, or a compound 2 MiB. */
#if ZDREF_HAVE_PGMAP_FOLIO_FREE
static void zdref_folio_free(struct folio *folio)
{
	zdref_pgmap_free(zdref_page_pgmap(&folio->page), &folio->page);
}
#else
static void zdref_page_free(struct page *page)
{
	zdref_pgmap_free(zdref_page_pgmap(page), page);
}
#endif

static const struct dev_pagemap_ops zdref_pgmap_ops = {
#if ZDREF_HAVE_PGMAP_FOLIO_FREE
	.folio_free	= zdref_folio_free,
#else
	.page_free	= zdref_page_free,
#endif
	/*
	 * memremap_pages() insists on it for device-private memory: a CPU
	 * touch of a page on the device brings it back (devmem.c).
	 */
	.migrate_to_ram	= zdref_devmem_migrate_to_ram,
#if ZDREF_DEVMEM_THP
	/* A 2 MiB device-private folio's new folios, when the kernel splits it. */
	.folio_split	= zdref_devmem_folio_split,
#endif
};

/**
 * zdref_pagemap_add() - create the struct pages of a device's range
 * @zd: the device, with its range claimed
 *
 * Return: 0, or the error of memremap_pages().
 */
int zdref_pagemap_add(struct zdref_dev *zd)
{
	struct dev_pagemap *pgmap = &zd->pgmap;
	void *addr;

	pgmap->type = zd->info->memory_type;
	pgmap->range.start = zd->res->start;
	pgmap->range.end = zd->res->end;
	pgmap->nr_range = 1;
	pgmap->ops = &zdref_pgmap_ops;
	pgmap->owner = zd;
	/* align=2M: every 2 MiB is one compound folio, as device-dax's. */
	pgmap->vmemmap_shift = zd->order;

	addr = memremap_pages(pgmap, numa_mem_id());
	if (IS_ERR(addr)) {
		pr_err("memremap_pages(%s) over %pR failed: %ld\n",
		       zdref_type_name(zd->type), zd->res, PTR_ERR(addr));
		return PTR_ERR(addr);
	}
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(zdref_pagemap_add);

/**
 * zdref_pagemap_remove() - remove the struct pages zdref_pagemap_add() made
 * @zd: the device; no page of it may be referenced any more
 */
void zdref_pagemap_remove(struct zdref_dev *zd)
{
	memunmap_pages(&zd->pgmap);
}
EXPORT_SYMBOL_IF_KUNIT(zdref_pagemap_remove);
