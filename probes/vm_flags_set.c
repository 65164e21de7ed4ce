// SPDX-License-Identifier: GPL-2.0
/*
 * vm_flags_set(): vma->vm_flags became read-only outside helpers (6.3).
 *
 * Upstream: bc292ab00f6c ("mm: introduce vma->vm_flags wrapper functions"),
 *	v6.3.
 * Optional: a spelling: without it compat.h sets vma->vm_flags itself.
 */
#include <linux/mm.h>

static void probe(struct vm_area_struct *vma)
{
	vm_flags_set(vma, VM_MIXEDMAP);
}

void *zdref_probe = probe;
