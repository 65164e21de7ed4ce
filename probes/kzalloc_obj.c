// SPDX-License-Identifier: GPL-2.0
/*
 * kzalloc_obj(): typed allocation (7.x).
 *
 * Upstream: 2932ba8d9c99 ("slab: Introduce kmalloc_obj() and family"), v7.0;
 *	Debian's 6.12 carries it as a backport.
 * Optional: a spelling: without it compat.h defines it over kzalloc().
 */
#include <linux/slab.h>

static long *probe(void)
{
	long *p = kzalloc_obj(*p, GFP_KERNEL);

	return p;
}

void *zdref_probe = probe;
