// SPDX-License-Identifier: GPL-2.0
/*
 * vm_operations_struct.get_policy takes a third argument, the interleave
 * index (pgoff_t *ilx), since the mempolicy rework for allocations
 * without a VMA.  A function of the old kind no longer fits the member.
 *
 * Upstream: "mempolicy: alloc_pages_mpol() for NUMA policy without vma"
 *	(Hugh Dickins), v6.7.
 * Optional: a spelling; zdref_get_local_policy() takes (vma, addr) instead.
 */
#include <linux/mm.h>

static struct mempolicy *probe(struct vm_area_struct *vma, unsigned long addr,
			       pgoff_t *ilx)
{
	return NULL;
}

static const struct vm_operations_struct probe_ops = {
	.get_policy = probe,
};

void *zdref_probe = (void *)&probe_ops;
