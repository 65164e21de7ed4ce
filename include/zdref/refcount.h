/* SPDX-License-Identifier: GPL-2.0 */
/*
 * zdref's backported reference model: one free-at-zero count on every
 * kernel, whatever the kernel's own rules for the pagemap type.
 *
 * A page handed out holds 1 (its file's reference); every mapping and GUP
 * reference holds its own; zdref's free callback runs once, when the last
 * one drops.  Underneath, the kernel's raw count is zdref's count plus a
 * base, and the last drop is seen in one of three ways (enum
 * zdref_last_drop).  What the kernel does is told by the probe
 * devmap_managed (ZDREF_HAVE_DEVMAP_MANAGED), never by its version:
 *
 *  with devmap_managed_key             idle  base  last drop
 *    FS_DAX                              1     1    watched (raw back to 1)
 *    GENERIC                             1     0    callback, then reset
 *                                                   to 1 by the kernel
 *  without it
 *    FS_DAX                              0     0    watched (raw back to 0)
 *    GENERIC                             1     1    watched (raw back to 1:
 *                                                   the kernel would reset
 *                                                   0 to 1 with no callback)
 *  either (probe hmm_mirror; device_coherent)
 *    PRIVATE, COHERENT                   0     0    callback, final
 *
 * "Watched" means: at zdref's own puts, synchronously, and for pages that
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
 * enum zdref_last_drop - who sees a page's last reference drop
 * @ZDREF_DROP_WATCHED: nobody calls back: zdref watches the raw count
 *	come back to the model's base
 * @ZDREF_DROP_CALLBACK_RESET: the kernel calls the pagemap's free callback
 *	at 0, then goes on with the page and sets its count back to 1
 * @ZDREF_DROP_CALLBACK_FINAL: the kernel calls the free callback at 0 and
 *	touches the page no more
 */
enum zdref_last_drop {
	ZDREF_DROP_WATCHED,
	ZDREF_DROP_CALLBACK_RESET,
	ZDREF_DROP_CALLBACK_FINAL,
};

/**
 * struct zdref_refmodel - how zdref's count sits on the kernel's
 * @idle: the raw count of a page in the pool
 * @base: raw count minus zdref's count, while the page is handed out
 * @last_drop: who sees the last reference drop
 */
struct zdref_refmodel {
	int idle;
	int base;
	enum zdref_last_drop last_drop;
};

/* A pagemap type zdref has no model for: no page has this raw count. */
#define ZDREF_REFMODEL_NONE	(-1)

/**
 * zdref_refmodel_of() - the reference model of a pagemap type here
 * @type: the dev_pagemap type
 *
 * Return: the model, decided by what the kernel's headers offer; for a
 * type zdref does not register, one whose @idle no page has, so that
 * zdref_pool_init() refuses the pages.
 */
static inline struct zdref_refmodel zdref_refmodel_of(enum memory_type type)
{
	switch (type) {
	case MEMORY_DEVICE_FS_DAX:
		/* Old rules: the kernel's own idle is 1, and it never calls back. */
		if (ZDREF_HAVE_DEVMAP_MANAGED)
			return (struct zdref_refmodel){
				.idle = 1, .base = 1,
				.last_drop = ZDREF_DROP_WATCHED,
			};
		/* Free at 0, silently: free_zone_device_folio() only wakes. */
		return (struct zdref_refmodel){
			.idle = 0, .base = 0, .last_drop = ZDREF_DROP_WATCHED,
		};
	case MEMORY_DEVICE_GENERIC:
		/* put_devmap_managed_page() calls page_free() at 0, then resets. */
		if (ZDREF_HAVE_DEVMAP_MANAGED)
			return (struct zdref_refmodel){
				.idle = 1, .base = 0,
				.last_drop = ZDREF_DROP_CALLBACK_RESET,
			};
		/*
		 * free_zone_device_folio() resets 0 to 1 with no callback:
		 * zdref keeps one reference of its own under every page and
		 * watches for the count to come back to it.
		 */
		return (struct zdref_refmodel){
			.idle = 1, .base = 1, .last_drop = ZDREF_DROP_WATCHED,
		};
	case MEMORY_DEVICE_PRIVATE:
	case MEMORY_DEVICE_COHERENT:
		/* zone_device_page_init() brings it to 1; folio_free() at 0. */
		return (struct zdref_refmodel){
			.idle = 0, .base = 0,
			.last_drop = ZDREF_DROP_CALLBACK_FINAL,
		};
	default:
		return (struct zdref_refmodel){
			.idle = ZDREF_REFMODEL_NONE, .base = ZDREF_REFMODEL_NONE,
			.last_drop = ZDREF_DROP_WATCHED,
		};
	}
}

/* Does the kernel call the pagemap's free callback at the last drop? */
static inline bool zdref_ref_kernel_frees(const struct zdref_refmodel *m)
{
	return m->last_drop != ZDREF_DROP_WATCHED;
}

/*
 * Does the kernel's own put free a page silently: at a raw count of 0,
 * with no callback, going on to read the folio and its pagemap in
 * free_zone_device_folio() after the count is 0 (FS_DAX without
 * devmap_managed_key)?  zdref sees the 0 before that task is done: see
 * zdref_pool_exit().
 */
static inline bool zdref_ref_freed_silently(const struct zdref_refmodel *m)
{
	return m->last_drop == ZDREF_DROP_WATCHED && m->idle == 0;
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
 * was the last one, the page being free again (raw count back at base).
 */
static inline bool zdref_ref_put_watched(const struct zdref_refmodel *m,
					 struct page *page)
{
	return page_ref_dec_return(page) == m->base;
}

#endif /* ZDREF_REFCOUNT_H */
