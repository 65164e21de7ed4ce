// SPDX-License-Identifier: GPL-2.0
/*
 * zdref: free-at-zero ZONE_DEVICE pages on stock kernels.
 *
 * One device, /dev/zdref0, whose dev_pagemap covers the range given by
 * region= as ZONE_DEVICE memory of the kind given by type=.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/string.h>
#include <linux/utsname.h>

#include <zdref/compat.h>
#include "private.h"

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

static unsigned int devices = 1;
module_param(devices, uint, 0444);
MODULE_PARM_DESC(devices,
		 "number of devices, /dev/zdref0 on (default 1); type=private with a bare region=SIZE only, up to 2, each with a range of SIZE");

static struct zdref_params zdref_params;
static struct zdref_dev *zdref_devs[ZDREF_DEVICES_MAX];

/* type=, and whether this kernel can have it. */
static int zdref_parse_type_param(struct zdref_params *p)
{
	int ret = zdref_parse_type(type ? type : "", &p->type);

	if (ret) {
		pr_err("type=%s unknown: use fsdax, generic or private\n", type);
		return ret;
	}
	if (p->type != ZDREF_TYPE_PRIVATE)
		return 0;
	if (!IS_ENABLED(CONFIG_DEVICE_PRIVATE)) {
		pr_err("type=private needs a kernel built with CONFIG_DEVICE_PRIVATE=y; %s lacks it\n",
		       utsname()->release);
		return -EOPNOTSUPP;
	}
	if (!zdref_private_offered()) {
		pr_err("type=private needs device-private migration (migrate_vma, hmm_range_fault, zone_device_page_init() with a pagemap), which %s does not offer to modules\n",
		       utsname()->release);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* align=: 4K, or 2M for 2 MiB folios mapped by PMD, where the type has them. */
static int zdref_parse_align(struct zdref_params *p)
{
	unsigned long long size = memparse(align ? align : "", NULL);

	if (size == PAGE_SIZE) {
		p->order = 0;
		return 0;
	}
	if (size != PMD_SIZE || !zdref_type_info(p->type)->huge) {
		pr_err("align=%s: use 4K, or 2M with type=fsdax or generic\n",
		       align);
		return -EINVAL;
	}
	if (!zdref_pmd_maps()) {
		pr_err("align=2M needs PMD mappings of device folios that hold a reference (vmf_insert_folio_pmd(), Linux 6.15 and later); %s maps device memory by PMD only without one: use align=4K\n",
		       utsname()->release);
		return -EOPNOTSUPP;
	}
	p->order = PMD_SHIFT - PAGE_SHIFT;
	return 0;
}

/* The module's parameters, once, into what each device is made of. */
static int zdref_parse_params(struct zdref_params *p)
{
	int ret = zdref_parse_type_param(p);

	if (ret)
		return ret;
	if (devices < 1 || devices > ZDREF_DEVICES_MAX ||
	    (devices > 1 && (zdref_type_info(p->type)->physical ||
			     strpbrk(region ? region : "", "@$")))) {
		pr_err("devices=%u: use 1, or up to %d with type=private and a bare region=SIZE (each device gets a free range of that size)\n",
		       devices, ZDREF_DEVICES_MAX);
		return -EINVAL;
	}
	ret = zdref_parse_align(p);
	if (ret)
		return ret;
	p->region = region;
	return 0;
}

static int __init zdref_init(void)
{
	struct zdref_dev *zd;
	int ret, id;

	ret = zdref_parse_params(&zdref_params);
	if (ret)
		return ret;
	ret = zdref_chardev_init();
	if (ret)
		return ret;
	ret = zdref_inode_init();
	if (ret)
		goto err_chardev;
	for (id = 0; id < devices; id++) {
		zd = zdref_dev_create(&zdref_params, id);
		if (IS_ERR(zd)) {
			ret = PTR_ERR(zd);
			goto err_devs;
		}
		zdref_devs[id] = zd;
	}
	/*
	 * Nodes last, and opened only once all are up (chardev.c): no file
	 * can be open on a device a later failure undoes.
	 */
	for (id = 0; id < devices; id++) {
		zd = zdref_devs[id];
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
