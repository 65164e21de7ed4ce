// SPDX-License-Identifier: GPL-2.0
/* dev_pagemap_ops.page_free became folio_free (7.x). */
#include <linux/memremap.h>

static void probe_free(struct folio *folio) { }

const struct dev_pagemap_ops zdref_probe = { .folio_free = probe_free };
