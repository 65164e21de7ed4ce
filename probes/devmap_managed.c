// SPDX-License-Identifier: GPL-2.0
/*
 * devmap_managed_key: the kernel runs the old FS_DAX rules, pages free at
 * refcount 1 with a wake_up_var(&page->_refcount), and GENERIC pages get
 * page_free() at 0.  Without it, FS_DAX pages free at 0 with
 * wake_up_var(&folio->page), and GENERIC pages reset to 1 without a
 * callback.
 *
 * Upstream: 38607c62b34b ("fs/dax: properly refcount fs dax pages", v6.15)
 *	took the key's declaration out of linux/mm.h with the old rules;
 *	5d26b5bdc646 ("mm/memremap: remove unused devmap_managed_key",
 *	v6.17) the symbol.  The probe needs both, so it says 0 from v6.15 on.
 * Optional: either answer is a reference model of refcount.h: this one
 *	picks which.
 */
#include <linux/mm.h>

static bool probe(void)
{
	return static_branch_unlikely(&devmap_managed_key);
}

void *zdref_probe = probe;
