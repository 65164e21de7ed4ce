// SPDX-License-Identifier: GPL-2.0
/*
 * page->pgmap moved to the folio; page_pgmap() is the accessor (6.15).
 *
 * Upstream: 82ba975e4c43 ("mm: allow compound zone device pages"), v6.15.
 * Optional: a spelling: without it compat.h reads page->pgmap.
 */
#include <linux/mm.h>
#include <linux/memremap.h>

static struct dev_pagemap *probe(struct page *page)
{
	return page_pgmap(page);
}

void *zdref_probe = probe;
