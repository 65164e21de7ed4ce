// SPDX-License-Identifier: GPL-2.0
/*
 * dev_pagemap_ops.page_free became folio_free (7.x).
 *
 * Upstream: 3a5a06554566 ("mm/zone_device: rename page_free callback to
 *	folio_free"), the v6.19 cycle.
 * Optional: a spelling: without it zdref fills .page_free instead.
 */
#include <linux/memremap.h>

static void probe_free(struct folio *folio) { }

const struct dev_pagemap_ops zdref_probe = { .folio_free = probe_free };
