// SPDX-License-Identifier: GPL-2.0
/*
 * devmap_managed_key: the kernel runs the old FS_DAX rules, pages free at
 * refcount 1 with a wake_up_var(&page->_refcount), and GENERIC pages get
 * page_free() at 0.  Gone with "fs/dax: Fix ZONE_DEVICE page reference
 * counts" (6.15): FS_DAX pages free at 0 with wake_up_var(&folio->page),
 * GENERIC pages reset to 1 without a callback.
 */
#include <linux/mm.h>

static bool probe(void)
{
	return static_branch_unlikely(&devmap_managed_key);
}

void *zdref_probe = probe;
