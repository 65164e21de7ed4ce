// SPDX-License-Identifier: GPL-2.0
/*
 * zdref: free-at-zero ZONE_DEVICE pages on stock kernels.
 *
 * One device, /dev/zdref0, whose dev_pagemap covers the range given by
 * region= as ZONE_DEVICE memory of the kind given by type=.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <kunit/visibility.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/utsname.h>

#include <zdref/compat.h>
#include "zdref.h"

static char *region;
module_param(region, charp, 0444);
MODULE_PARM_DESC(region,
		 "SIZE@START of the device's range, inside a memmap=SIZE$START reserved range (2 MiB aligned); type=private also takes a bare SIZE");

static char *type = "fsdax";
module_param(type, charp, 0444);
MODULE_PARM_DESC(type,
		 "ZONE_DEVICE type of the pages: fsdax (default), generic or private (needs CONFIG_DEVICE_PRIVATE)");

static char *align = "4K";
module_param(align, charp, 0444);
MODULE_PARM_DESC(align,
		 "allocation unit of the pool: 4K (default) or 2M (2 MiB folios, each mapped by one PMD; needs Linux 6.15 or later)");

/* Two devices with owners of their own: what hmm-tests' "remote" cases need. */
#define ZDREF_DEVICES_MAX	2

static unsigned int devices = 1;
module_param(devices, uint, 0444);
MODULE_PARM_DESC(devices,
		 "number of devices, /dev/zdref0 on (default 1); type=private with a bare region=SIZE only, up to 2, each with a range of SIZE");

static const char * const zdref_type_names[] = {
	[ZDREF_TYPE_FSDAX]	= "fsdax",
	[ZDREF_TYPE_GENERIC]	= "generic",
	[ZDREF_TYPE_PRIVATE]	= "private",
};

/**
 * zdref_type_name() - the type= name of a type
 * @type: the type
 *
 * Return: "fsdax", "generic" or "private".
 */
const char *zdref_type_name(enum zdref_type type)
{
	return zdref_type_names[type];
}
EXPORT_SYMBOL_IF_KUNIT(zdref_type_name);

/**
 * zdref_parse_type() - the type a type= name stands for
 * @s: the name, as sysfs_streq() compares it
 * @type: set to the type, unchanged if @s names none
 *
 * Return: 0, or -EINVAL for an unknown name.
 */
int zdref_parse_type(const char *s, enum zdref_type *type)
{
	int i = sysfs_match_string(zdref_type_names, s);

	if (i < 0)
		return i;
	*type = i;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(zdref_parse_type);

/*
 * align=: 4K, or 2M for 2 MiB folios mapped by PMD.  Device-private
 * memory is never mapped by the CPU: 2 MiB units buy it nothing yet.
 */
static int zdref_parse_align(struct zdref_dev *zd)
{
	unsigned long long size = memparse(align ? align : "", NULL);

	if (size == PAGE_SIZE) {
		zd->order = 0;
		return 0;
	}
	if (size != PMD_SIZE || zd->type == ZDREF_TYPE_PRIVATE) {
		pr_err("align=%s: use 4K, or 2M with type=fsdax or generic\n",
		       align);
		return -EINVAL;
	}
	if (!zdref_pmd_maps()) {
		pr_err("align=2M needs PMD mappings of device folios that hold a reference (vmf_insert_folio_pmd(), Linux 6.15 and later); %s maps device memory by PMD only without one: use align=4K\n",
		       utsname()->release);
		return -EOPNOTSUPP;
	}
	zd->order = PMD_SHIFT - PAGE_SHIFT;
	return 0;
}

static struct zdref_dev *zdref_devs[ZDREF_DEVICES_MAX];

static void zdref_dev_release(struct device *dev)
{
	kfree(container_of(dev, struct zdref_dev, dev));
}

/* Bring up device @id: its range, pagemap and pool; no node yet. */
static int zdref_dev_create(int id, enum zdref_type ztype)
{
	struct zdref_dev *zd;
	int ret;

	zd = kzalloc_obj(*zd, GFP_KERNEL);
	if (!zd)
		return -ENOMEM;
	device_initialize(&zd->dev);
	zd->dev.release = zdref_dev_release;
	zd->type = ztype;
	zd->id = id;

	ret = zdref_parse_align(zd);
	if (ret)
		goto err_put;
	ret = zdref_inode_add(zd);
	if (ret)
		goto err_put;
	ret = zdref_region_claim(zd, region);
	if (ret)
		goto err_inode_add;
	ret = zdref_pagemap_add(zd);
	if (ret)
		goto err_region;
	ret = zdref_pool_init(zd);
	if (ret)
		goto err_pagemap;

	zdref_devs[id] = zd;
	return 0;

err_pagemap:
	zdref_pagemap_remove(zd);
err_region:
	zdref_region_release(zd);
err_inode_add:
	zdref_inode_remove(zd);
err_put:
	put_device(&zd->dev);
	return ret;
}

static void zdref_dev_destroy(struct zdref_dev *zd)
{
	zdref_pool_exit(zd);
	zdref_pagemap_remove(zd);
	zdref_region_release(zd);
	zdref_inode_remove(zd);
	put_device(&zd->dev);
}

/* The parameters zdref_dev_create() does not check itself. */
static int zdref_check_params(enum zdref_type *ztype)
{
	int ret = zdref_parse_type(type ? type : "", ztype);

	if (ret) {
		pr_err("type=%s unknown: use fsdax, generic or private\n", type);
		return ret;
	}
	if (*ztype == ZDREF_TYPE_PRIVATE && !IS_ENABLED(CONFIG_DEVICE_PRIVATE)) {
		pr_err("type=private needs a kernel built with CONFIG_DEVICE_PRIVATE=y; %s lacks it\n",
		       utsname()->release);
		return -EOPNOTSUPP;
	}
	if (*ztype == ZDREF_TYPE_PRIVATE && !ZDREF_HAVE_HMM_MIRROR) {
		pr_err("type=private needs device-private migration (migrate_vma, hmm_range_fault, zone_device_page_init() with a pagemap), which %s does not offer to modules\n",
		       utsname()->release);
		return -EOPNOTSUPP;
	}
	if (devices < 1 || devices > ZDREF_DEVICES_MAX ||
	    (devices > 1 && (*ztype != ZDREF_TYPE_PRIVATE ||
			     strpbrk(region ? region : "", "@$")))) {
		pr_err("devices=%u: use 1, or up to %d with type=private and a bare region=SIZE (each device gets a free range of that size)\n",
		       devices, ZDREF_DEVICES_MAX);
		return -EINVAL;
	}
	return 0;
}

static int __init zdref_init(void)
{
	enum zdref_type ztype;
	int ret, id;

	ret = zdref_check_params(&ztype);
	if (ret)
		return ret;
	ret = zdref_chardev_init();
	if (ret)
		return ret;
	ret = zdref_inode_init();
	if (ret)
		goto err_chardev;
	for (id = 0; id < devices; id++) {
		ret = zdref_dev_create(id, ztype);
		if (ret)
			goto err_devs;
	}
	/*
	 * Nodes last, and opened only once all are up (chardev.c): no file
	 * can be open on a device a later failure undoes.
	 */
	for (id = 0; id < devices; id++) {
		struct zdref_dev *zd = zdref_devs[id];

		ret = zdref_chardev_add(zd);
		if (ret)
			goto err_nodes;
		pr_info("%s: %s pages over %pR, %llu pages in units of %lu KiB%s\n",
			dev_name(&zd->dev), zdref_type_name(zd->type), zd->res,
			zdref_pages_total(zd), 4UL << zd->order,
			zd->order ? ", mapped by PMD" : "");
	}
	zdref_chardev_publish();
	return 0;

err_nodes:
	while (id--)
		zdref_chardev_remove(zdref_devs[id]);
	zdref_chardev_quiesce();
	id = devices;
err_devs:
	while (id--)
		zdref_dev_destroy(zdref_devs[id]);
	zdref_inode_exit();
err_chardev:
	zdref_chardev_exit();
	return ret;
}

static void __exit zdref_exit(void)
{
	int id;

	for (id = 0; id < devices; id++)
		zdref_chardev_remove(zdref_devs[id]);
	id = devices;
	while (id--)
		zdref_dev_destroy(zdref_devs[id]);
	zdref_inode_exit();
	zdref_chardev_exit();
}

module_init(zdref_init);
module_exit(zdref_exit);

MODULE_DESCRIPTION("zdref: free-at-zero ZONE_DEVICE pages (FS_DAX, GENERIC, PRIVATE) on stock kernels");
MODULE_AUTHOR("The zdref developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(ZDREF_VERSION);
