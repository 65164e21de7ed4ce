// SPDX-License-Identifier: GPL-2.0
/*
 * Device-private THP: 2 MiB device-private folios, migrated as one
 * compound entry (MIGRATE_VMA_SELECT_COMPOUND, MIGRATE_PFN_COMPOUND),
 * mapped by a PMD device-private entry, brought to life by
 * zone_device_folio_init() and split by the kernel with the pagemap's
 * ->folio_split callback.
 *
 * Upstream: Balbir Singh's "mm: support device-private THP" series, the
 *	v6.19 cycle: "mm/zone_device: support large zone device private
 *	folios", "mm/migrate_device: handle partially mapped folios during
 *	collection", "mm/huge_memory: add device-private THP support to PMD
 *	operations".
 * Optional: without it a device-private device hands out 4 KiB pages
 *	only, and a THP is split on its way to the device.
 */
#include <linux/memremap.h>
#include <linux/migrate.h>

static void probe_split(struct folio *head, struct folio *tail) { }

static const struct dev_pagemap_ops probe_ops = { .folio_split = probe_split };

static const void *probe(struct folio *folio, struct dev_pagemap *pgmap,
			 unsigned long *flags)
{
	zone_device_folio_init(folio, pgmap, HPAGE_PMD_ORDER);
	*flags = MIGRATE_VMA_SELECT_COMPOUND | MIGRATE_PFN_COMPOUND;
	return &probe_ops;
}

void *zdref_probe = probe;
