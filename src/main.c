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

static struct zdref_dev *zdref_dev;

static void zdref_dev_release(struct device *dev)
{
	kfree(container_of(dev, struct zdref_dev, dev));
}

static int __init zdref_init(void)
{
	struct zdref_dev *zd;
	int ret;

	zd = kzalloc_obj(*zd, GFP_KERNEL);
	if (!zd)
		return -ENOMEM;
	device_initialize(&zd->dev);
	zd->dev.release = zdref_dev_release;

	ret = zdref_parse_type(type ? type : "", &zd->type);
	if (ret) {
		pr_err("type=%s unknown: use fsdax, generic or private\n", type);
		goto err_put;
	}
	if (zd->type == ZDREF_TYPE_PRIVATE && !IS_ENABLED(CONFIG_DEVICE_PRIVATE)) {
		pr_err("type=private needs a kernel built with CONFIG_DEVICE_PRIVATE=y; %s lacks it\n",
		       utsname()->release);
		ret = -EOPNOTSUPP;
		goto err_put;
	}

	ret = zdref_chardev_init();
	if (ret)
		goto err_put;
	ret = zdref_region_claim(zd, region);
	if (ret)
		goto err_chardev;
	ret = zdref_pagemap_add(zd);
	if (ret)
		goto err_region;
	ret = zdref_pool_init(zd);
	if (ret)
		goto err_pagemap;
	ret = zdref_chardev_add(zd);
	if (ret)
		goto err_pool;

	zdref_dev = zd;
	pr_info("%s: %s pages over %pR, %llu pages\n", dev_name(&zd->dev),
		zdref_type_name(zd->type), zd->res, zdref_pages_total(zd));
	return 0;

err_pool:
	zdref_pool_exit(zd);
err_pagemap:
	zdref_pagemap_remove(zd);
err_region:
	zdref_region_release(zd);
err_chardev:
	zdref_chardev_exit();
err_put:
	put_device(&zd->dev);
	return ret;
}

static void __exit zdref_exit(void)
{
	struct zdref_dev *zd = zdref_dev;

	zdref_chardev_remove(zd);
	zdref_pool_exit(zd);
	zdref_pagemap_remove(zd);
	zdref_region_release(zd);
	zdref_chardev_exit();
	put_device(&zd->dev);
}

module_init(zdref_init);
module_exit(zdref_exit);

MODULE_DESCRIPTION("zdref: free-at-zero ZONE_DEVICE pages (FS_DAX, GENERIC, PRIVATE) on stock kernels");
MODULE_AUTHOR("The zdref developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(ZDREF_VERSION);
