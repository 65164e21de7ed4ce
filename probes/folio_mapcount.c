// SPDX-License-Identifier: GPL-2.0
/*
 * folio_mapcount() of the folio of a page; page_mapcount() went away.
 *
 * Upstream: 05c5323b2a34 ("mm: track mapcount of large folios in single
 *	value"), v6.10, made folio_mapcount() inline, so that modules can
 *	call it.
 * Optional: a spelling: without it compat.h calls page_mapcount().
 */
#include <linux/mm.h>

static int probe(struct page *page)
{
	return folio_mapcount(page_folio(page));
}

void *zdref_probe = probe;
