/* SPDX-License-Identifier: GPL-2.0 */
/*
 * zdref's backported reference model: one free-at-zero count on every
 * kernel, whatever the kernel's own rules for the pagemap type.
 *
 * A page handed out holds 1 (its file's reference); every mapping and GUP
 * reference holds its own; zdref's free callback runs once, when the last
 * one drops.  Underneath, the kernel's raw count is zdref's count plus a
 * base, and the last drop is seen in one of two ways:
 *
 *  kernel 6.x (devmap_managed_key)   idle  base  last drop seen by
 *    GENERIC                           1     0    page_free() at 0; the
 *                                                 kernel then resets to 1
 *    FS_DAX                            1     1    zdref (raw back to 1)
 *  kernel 7.x (no devmap_managed_key)
 *    GENERIC                           1     1    zdref (raw back to 1:
 *                                                 the kernel would reset
 *                                                 0 to 1 with no callback)
 *    FS_DAX                            0     0    zdref (raw back to 0)
 *    PRIVATE                           0     0    folio_free() at 0
 *
 * "zdref" means: at zdref's own puts, synchronously, and for pages that
 * stay referenced after their file let go (pinned), by a scan that runs
 * every jiffy while there are such pages.
 */
#ifndef ZDREF_REFCOUNT_H
#define ZDREF_REFCOUNT_H

#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/page_ref.h>

#include "zdref_config.h"

/**
 * struct zdref_refmodel - how zdref's count sits on the kernel's
 * @idle: the raw count of a page in the pool
 * @base: raw count minus zdref's count, while the page is handed out
 * @kernel_frees: the kernel calls the pagemap's free callback at the last
 *	drop; otherwise zdref watches for the raw count to come back to @base
 */
struct zdref_refmodel {
	int idle;
	int base;
	bool kernel_frees;
};

/**
 * zdref_refmodel_of() - the reference model of a pagemap type here
 * @type: the dev_pagemap type
 *
 * Return: the model, decided by what the kernel's headers offer.
 */
static inline struct zdref_refmodel zdref_refmodel_of(enum memory_type type)
{
	switch (type) {
	case MEMORY_DEVICE_GENERIC:
		if (ZDREF_HAVE_DEVMAP_MANAGED)
			return (struct zdref_refmodel){ 1, 0, true };
		return (struct zdref_refmodel){ 1, 1, false };
	case MEMORY_DEVICE_FS_DAX:
		if (ZDREF_HAVE_DEVMAP_MANAGED)
			return (struct zdref_refmodel){ 1, 1, false };
		return (struct zdref_refmodel){ 0, 0, false };
	default:
		return (struct zdref_refmodel){ 0, 0, true };
	}
}

/*
 * Does the kernel's own put free a page silently: at a raw count of 0,
 * with no callback, going on to read the folio and its pagemap in
 * free_zone_device_folio() after the count is 0 (7.x FS_DAX)?  zdref
 * sees the 0 before that task is done: see zdref_pool_exit().
 */
static inline bool zdref_ref_freed_silently(const struct zdref_refmodel *m)
{
	return !m->kernel_frees && m->idle == 0;
}

/* Take a page from idle to handed out with one reference, its file's. */
static inline void zdref_ref_hand_out(const struct zdref_refmodel *m,
				      struct page *page)
{
	if (m->base + 1 != m->idle)
		page_ref_add(page, m->base + 1 - m->idle);
}

/* zdref's count of a handed-out page. */
static inline int zdref_ref_count(const struct zdref_refmodel *m,
				  struct page *page)
{
	return page_ref_count(page) - m->base;
}

/*
 * Drop zdref's own reference where zdref watches the count: true if it
 * was the last one, the page being free again (raw count back at idle).
 */
static inline bool zdref_ref_put_watched(const struct zdref_refmodel *m,
					 struct page *page)
{
	return page_ref_dec_return(page) == m->base;
}

#endif /* ZDREF_REFCOUNT_H */
