// SPDX-License-Identifier: GPL-2.0
/* folio_mapcount() of the folio of a page; page_mapcount() went away. */
#include <linux/mm.h>

static int probe(struct page *page)
{
	return folio_mapcount(page_folio(page));
}

void *zdref_probe = probe;
