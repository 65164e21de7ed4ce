// SPDX-License-Identifier: GPL-2.0
/*
 * vmf_insert_folio_pmd(): map a 2 MiB folio with one PMD that holds a
 * folio reference and a mapcount, as any file THP's.  Older kernels only
 * insert device memory at PMD level as refcount-less devmap entries.
 *
 * Upstream: 6c88f72691f8 ("mm/huge_memory: add vmf_insert_folio_pmd()"),
 *	v6.15.
 * Optional: without it align=2M is refused at load (zdref_pmd_maps()).
 */
#include <linux/mm.h>	/* brings huge_mm.h, in the order 6.1 needs */

static vm_fault_t probe(struct vm_fault *vmf, struct folio *folio)
{
	return vmf_insert_folio_pmd(vmf, folio, true);
}

void *zdref_probe = probe;
