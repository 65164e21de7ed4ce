// SPDX-License-Identifier: GPL-2.0
/*
 * Device-coherent memory: the MEMORY_DEVICE_COHERENT pagemap type, whose
 * pages the CPU maps like system RAM, and the migrate_vma selection of
 * such pages (back to RAM).
 *
 * Upstream: Alex Sierra's device-coherent series, v6.0: "mm: add zone
 *	device coherent type memory support" and "mm: add device coherent
 *	vma selection for memory migration".
 * Optional: without it type=coherent is refused at load.  It builds on
 *	the device-private unit too (probe hmm_mirror): src/private.h.
 */
#include <linux/memremap.h>
#include <linux/migrate.h>

static unsigned long probe(struct page *page)
{
	if (!is_device_coherent_page(page))
		return MEMORY_DEVICE_COHERENT;
	return MIGRATE_VMA_SELECT_DEVICE_COHERENT;
}

void *zdref_probe = probe;
