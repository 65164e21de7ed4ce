// SPDX-License-Identifier: GPL-2.0
/* vm_flags_set(): vma->vm_flags became read-only outside helpers (6.3). */
#include <linux/mm.h>

static void probe(struct vm_area_struct *vma)
{
	vm_flags_set(vma, VM_MIXEDMAP);
}

void *zdref_probe = probe;
