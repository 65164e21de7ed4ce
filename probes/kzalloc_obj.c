// SPDX-License-Identifier: GPL-2.0
/* kzalloc_obj(): typed allocation (7.x). */
#include <linux/slab.h>

static long *probe(void)
{
	long *p = kzalloc_obj(*p, GFP_KERNEL);

	return p;
}

void *zdref_probe = probe;
