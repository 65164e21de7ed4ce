// SPDX-License-Identifier: GPL-2.0
/*
 * vm_operations_struct.huge_fault takes an order (6.6), not an enum
 * page_entry_size.  A function of either kind converts silently (an enum
 * is compatible with its integer type), so the probe asks instead whether
 * the enum is gone: redefining it fails where the headers still have it.
 *
 * Upstream: 1d024e7a8dab ("mm: remove enum page_entry_size"), v6.6.
 * Optional: with vmf_insert_folio_pmd, what align=2M needs: without it
 *	zdref has no ->huge_fault.
 */
#include <linux/mm.h>

enum page_entry_size { ZDREF_PROBE_PE_SIZE };

static vm_fault_t probe(struct vm_fault *vmf, unsigned int order)
{
	return VM_FAULT_FALLBACK;
}

static const struct vm_operations_struct probe_ops = {
	.huge_fault = probe,
};

void *zdref_probe = (void *)&probe_ops;
