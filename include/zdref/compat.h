/* SPDX-License-Identifier: GPL-2.0 */
/*
 * zdref's view of the kernel's ZONE_DEVICE API, one spelling on every
 * supported kernel.  What differs is decided by scripts/probe at build time
 * (generated/zdref_config.h), never by the kernel's version number.
 */
#ifndef ZDREF_COMPAT_H
#define ZDREF_COMPAT_H

#include <linux/mm.h>
#include <linux/memremap.h>
#include <linux/slab.h>

#include "zdref_config.h"

/* page->pgmap moved into the folio with the page_pgmap() accessor. */
static inline struct dev_pagemap *zdref_page_pgmap(struct page *page)
{
#if ZDREF_HAVE_PAGE_PGMAP
	return page_pgmap(page);
#else
	return page->pgmap;
#endif
}

/* kzalloc_obj(): typed allocation; zdref always passes the gfp flags. */
#if !ZDREF_HAVE_KZALLOC_OBJ
#define kzalloc_obj(P, GFP)	kzalloc(sizeof(P), GFP)
#endif

#endif /* ZDREF_COMPAT_H */
