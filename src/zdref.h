/* SPDX-License-Identifier: GPL-2.0 */
/*
 * zdref: free-at-zero ZONE_DEVICE pages on stock kernels.
 * Internal declarations shared by the files of the module.
 */
#ifndef ZDREF_H
#define ZDREF_H

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/ioport.h>
#include <linux/memremap.h>
#include <linux/types.h>

#include "zdref_config.h"

/* ZONE_DEVICE memory is hot-added in subsections: 2 MiB on x86_64. */
#define ZDREF_ALIGN	(PAGES_PER_SUBSECTION << PAGE_SHIFT)

enum zdref_type {
	ZDREF_TYPE_FSDAX,
	ZDREF_TYPE_GENERIC,
	ZDREF_TYPE_PRIVATE,
};

/**
 * struct zdref_dev - one zdref device: a dev_pagemap over one range
 * @type: what kind of ZONE_DEVICE memory @pgmap registers
 * @res: the claimed physical range (request_mem_region() or, for a
 *	device-private range without a start, request_free_mem_region())
 * @pgmap: the pagemap registered with memremap_pages()
 * @id: N of /dev/zdrefN
 * @cdev: the character device
 * @dev: the class device, parent of the sysfs attributes
 * @frees: calls of the pagemap's free callback
 */
struct zdref_dev {
	enum zdref_type type;
	struct resource *res;
	struct dev_pagemap pgmap;
	int id;
	struct cdev cdev;
	struct device dev;
	atomic64_t frees;
};

static inline struct zdref_dev *zdref_pgmap_to_dev(struct dev_pagemap *pgmap)
{
	return container_of(pgmap, struct zdref_dev, pgmap);
}

static inline u64 zdref_pages_total(const struct zdref_dev *zd)
{
	return resource_size(zd->res) >> PAGE_SHIFT;
}

const char *zdref_type_name(enum zdref_type type);
int zdref_parse_type(const char *s, enum zdref_type *type);

/* region.c */
int zdref_region_claim(struct zdref_dev *zd, const char *region);
void zdref_region_release(struct zdref_dev *zd);

/* pagemap.c */
int zdref_pagemap_add(struct zdref_dev *zd);
void zdref_pagemap_remove(struct zdref_dev *zd);

/* chardev.c */
int zdref_chardev_init(void);
void zdref_chardev_exit(void);
int zdref_chardev_add(struct zdref_dev *zd);
void zdref_chardev_remove(struct zdref_dev *zd);

#endif /* ZDREF_H */
