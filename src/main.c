// SPDX-License-Identifier: GPL-2.0
/*
 * zdref: free-at-zero ZONE_DEVICE pages on stock kernels.
 *
 * Devices /dev/zdref0 on, devices= of them, each a dev_pagemap over the
 * range region= gives it, of ZONE_DEVICE memory of the kind type= gives.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/log2.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/utsname.h>

#include <zdref/compat.h>
#include "private.h"

static char *region;
module_param(region, charp, 0444);
MODULE_PARM_DESC(region,
		 "SIZE@START of a device's range, inside a memmap=SIZE$START reserved range (2 MiB aligned); type=private also takes a bare SIZE (a free physical range of that size); one for every device (a bare SIZE only), or a comma-separated list, one per device");

static char *type = "fsdax";
module_param(type, charp, 0444);
MODULE_PARM_DESC(type,
		 "ZONE_DEVICE type of a device's pages: fsdax (default), generic, private (needs CONFIG_DEVICE_PRIVATE) or coherent (needs device-coherent migration); one for every device, or a comma-separated list, one per device");

static char *align = "4K";
module_param(align, charp, 0444);
MODULE_PARM_DESC(align,
		 "allocation unit of every pool: 4K (default) or 2M (2 MiB folios, each mapped by one PMD; type=fsdax or generic, on a kernel with transparent huge pages)");

static unsigned int devices = 1;
module_param(devices, uint, 0444);
MODULE_PARM_DESC(devices,
		 "number of devices, /dev/zdref0 on (default 1, at most 4), e.g. hmm-tests' four: devices=4 type=private,private,coherent,coherent region=512M,512M,512M@0x100000000,512M@0x120000000");

static char *poison = "0";
module_param(poison, charp, 0444);
MODULE_PARM_DESC(poison,
		 "1: catch writes to free pages: freed pages are filled with 0x6b, reused in the order they were freed and checked when handed out again (sysfs poison_errors, tracepoint zdref_poison, a log line); 0 (default); one for every device, or a comma-separated list, one per device; not for type=private");

static char *scope = "file";
module_param(scope, charp, 0444);
MODULE_PARM_DESC(scope,
		 "whose a device's pages are: file (default), each open file's, given up at its last close; or device, the device's by offset, shared by every open and kept until ZDREF_IOC_RELEASE or unload, as device-dax's (type=fsdax, generic); one for every device, or a comma-separated list, one per device");

static unsigned int quarantine;
module_param(quarantine, uint, 0444);
MODULE_PARM_DESC(quarantine,
		 "with poison=1: allocation units, the most recently freed, kept out of use on each poisoned device (default 0: the order of reuse alone)");

static char *zero_ahead = "32M";
module_param(zero_ahead, charp, 0444);
MODULE_PARM_DESC(zero_ahead,
		 "free memory each device keeps zeroed, ahead of the faults that take it (default 32M; 0: every page is zeroed in its fault); for type=fsdax and generic without poison=1; sysfs pages_zeroed, zeroed_ahead");

static char *fault_around = "64K";
module_param(fault_around, charp, 0444);
MODULE_PARM_DESC(fault_around,
		 "a fault on a page its file has already (after MADV_DONTNEED, in a second mapping) maps the file's other pages of this aligned window with it, never handing out one (default 64K, as the kernel's fault_around_bytes; a power of two up to 2M; 0: one page per fault); align=4K only; sysfs fault_around, mapped_around");

static struct zdref_params zdref_params[ZDREF_DEVICES_MAX];

/* The list parameters zdref_parse_params() splits: type, region, poison, scope. */
#define ZDREF_PARAM_COPIES	4
static struct zdref_dev *zdref_devs[ZDREF_DEVICES_MAX];

/* A type, and whether this kernel can have it. */
static int zdref_parse_type_param(const char *name, struct zdref_params *p)
{
	int ret = zdref_parse_type(name, &p->type);

	if (ret) {
		pr_err("type=%s: unknown type %s: use fsdax, generic, private or coherent\n",
		       type, name);
		return ret;
	}
	if (zdref_type_info(p->type)->cpu_maps)
		return 0;
	if (p->type == ZDREF_TYPE_PRIVATE && !IS_ENABLED(CONFIG_DEVICE_PRIVATE)) {
		pr_err("type=private needs a kernel built with CONFIG_DEVICE_PRIVATE=y; %s lacks it\n",
		       utsname()->release);
		return -EOPNOTSUPP;
	}
	if (!zdref_private_offered()) {
		pr_err("type=%s needs device memory migration (migrate_vma, hmm_range_fault, zone_device_page_init() with a pagemap), which %s does not offer to modules\n",
		       name, utsname()->release);
		return -EOPNOTSUPP;
	}
	if (p->type == ZDREF_TYPE_COHERENT && !zdref_coherent_offered()) {
		pr_err("type=coherent needs device-coherent memory and its migration (MEMORY_DEVICE_COHERENT, MIGRATE_VMA_SELECT_DEVICE_COHERENT), which %s lacks\n",
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
		pr_err("align=%s: use 4K, or 2M with type=fsdax or generic only\n",
		       align);
		return -EINVAL;
	}
	if (!zdref_pmd_maps()) {
		pr_err("align=2M needs PMD mappings of device folios that hold a reference: vmf_insert_folio_pmd() (Linux 6.15 and later) or, before it, transparent huge pages (CONFIG_TRANSPARENT_HUGEPAGE, a CPU with 2 MiB pages), which %s lacks: use align=4K\n",
		       utsname()->release);
		return -EOPNOTSUPP;
	}
	p->order = PMD_SHIFT - PAGE_SHIFT;
	return 0;
}

/* scope=: file, or device where the device's files map its pages. */
static int zdref_parse_scope_param(const char *name, struct zdref_params *p)
{
	if (zdref_parse_scope(name, &p->scope)) {
		pr_err("scope=%s: unknown scope %s: use file or device\n",
		       scope, name);
		return -EINVAL;
	}
	if (p->scope == ZDREF_SCOPE_DEVICE && !zdref_type_info(p->type)->cpu_maps) {
		pr_err("scope=device: a type=%s device's files are mirrors, with no pages of their own to keep: give it scope=file, one entry per device\n",
		       zdref_type_name(p->type));
		return -EINVAL;
	}
	return 0;
}

/*
 * Split @list, a copy of the parameter @what, in place at its commas
 * into @items: one entry stands for every device.
 */
static int zdref_split_param(const char *what, char *list, char **items)
{
	unsigned int n = 0, i;
	char *item;

	while ((item = strsep(&list, ",")) != NULL) {
		if (n == devices) {
			n++;
			break;
		}
		items[n++] = item;
	}
	if (n != 1 && n != devices) {
		pr_err("%s= gives %s%u entries for devices=%u: give one for every device, or one per device\n",
		       what, n > devices ? "more than " : "", n > devices ? devices : n,
		       devices);
		return -EINVAL;
	}
	for (i = n; i < devices; i++)
		items[i] = items[0];
	return n;
}

/*
 * The module's parameters, once, into what each device is made of.
 * @copies: of type=, region= (which the parsed regions point into),
 * poison= and scope=, for the caller to free (zdref_free_copies()) once
 * the devices are up.
 */
static int zdref_parse_params(char *copies[ZDREF_PARAM_COPIES])
{
	char *types[ZDREF_DEVICES_MAX], *regions[ZDREF_DEVICES_MAX] = { };
	char *poisons[ZDREF_DEVICES_MAX], *scopes[ZDREF_DEVICES_MAX];
	int ret, nregions = 1, id;
	bool poisoned = false;
	u64 ahead, around;
	char *end;

	if (devices < 1 || devices > ZDREF_DEVICES_MAX) {
		pr_err("devices=%u: give 1 to %d\n", devices, ZDREF_DEVICES_MAX);
		return -EINVAL;
	}
	ahead = memparse(zero_ahead ?: "0", &end);
	if (end == zero_ahead || *end) {
		pr_err("zero_ahead=%s: give a size, such as 64M, or 0\n",
		       zero_ahead);
		return -EINVAL;
	}
	around = memparse(fault_around ?: "0", &end);
	if (end == fault_around || *end ||
	    (around && (around < PAGE_SIZE || around > PMD_SIZE ||
			!is_power_of_2(around)))) {
		pr_err("fault_around=%s: give a power of two from 4K to 2M, such as 64K, or 0\n",
		       fault_around);
		return -EINVAL;
	}
	copies[0] = kstrdup(type ?: "", GFP_KERNEL);
	copies[1] = kstrdup(region ?: "", GFP_KERNEL);
	copies[2] = kstrdup(poison ?: "", GFP_KERNEL);
	copies[3] = kstrdup(scope ?: "", GFP_KERNEL);
	if (!copies[0] || !copies[1] || !copies[2] || !copies[3])
		return -ENOMEM;
	ret = zdref_split_param("type", copies[0], types);
	if (ret < 0)
		return ret;
	ret = zdref_split_param("poison", copies[2], poisons);
	if (ret < 0)
		return ret;
	ret = zdref_split_param("scope", copies[3], scopes);
	if (ret < 0)
		return ret;
	if (region) {
		nregions = zdref_split_param("region", copies[1], regions);
		if (nregions < 0)
			return nregions;
	}
	for (id = 0; id < devices; id++) {
		struct zdref_params *p = &zdref_params[id];

		ret = zdref_parse_type_param(types[id], p);
		if (ret)
			return ret;
		ret = zdref_parse_align(p);
		if (ret)
			return ret;
		ret = zdref_parse_scope_param(scopes[id], p);
		if (ret)
			return ret;
		if (kstrtobool(poisons[id], &p->poison)) {
			pr_err("poison=%s: give 0 or 1 for each device\n", poison);
			return -EINVAL;
		}
		p->quarantine = quarantine;
		p->zero_ahead = ahead;
		p->fault_around = around;
		/* One range, given once, is no range for more than one device. */
		if (devices > 1 && nregions == 1 &&
		    (zdref_type_info(p->type)->physical ||
		     strpbrk(regions[id] ?: "", "@$"))) {
			pr_err("region=%s for devices=%u: type=%s needs a range of its own: give one SIZE@START per device, comma-separated\n",
			       region ?: "", devices, zdref_type_name(p->type));
			return -EINVAL;
		}
		p->region = regions[id];
		poisoned |= p->poison;
	}
	if (quarantine && !poisoned) {
		pr_err("quarantine=%u keeps freed pages of a poison=1 device out of use: give poison=1 too, or no quarantine=\n",
		       quarantine);
		return -EINVAL;
	}
	return 0;
}

/* The copies of zdref_parse_params(). */
static void zdref_free_copies(char *copies[ZDREF_PARAM_COPIES])
{
	int i;

	for (i = 0; i < ZDREF_PARAM_COPIES; i++)
		kfree(copies[i]);
}

static int __init zdref_init(void)
{
	char *copies[ZDREF_PARAM_COPIES] = { };
	struct zdref_dev *zd;
	int ret, id;

	ret = zdref_parse_params(copies);
	if (!ret)
		ret = zdref_chardev_init();
	if (ret)
		goto err_buf;
	ret = zdref_inode_init();
	if (ret)
		goto err_chardev;
	zdref_debugfs_init();
	for (id = 0; id < devices; id++) {
		zd = zdref_dev_create(&zdref_params[id], id);
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
		pr_info("%s: %s pages over %pR, %llu pages in units of %lu KiB%s%s%s\n",
			dev_name(&zd->dev), zdref_type_name(zd->type), zd->res,
			zdref_pages_total(zd), 4UL << zd->order,
			zd->order ? ", mapped by PMD" : "",
			zd->poison ? ", poison=1" : "",
			zd->scope == ZDREF_SCOPE_DEVICE ? ", scope=device" : "");
	}
	zdref_chardev_publish();
	zdref_free_copies(copies);
	return 0;

err_nodes:
	while (id--)
		zdref_chardev_remove(zdref_devs[id]);
	zdref_chardev_quiesce();
	id = devices;
err_devs:
	while (id--)
		zdref_dev_destroy(zdref_devs[id]);
	zdref_debugfs_exit();
	zdref_inode_exit();
err_chardev:
	zdref_chardev_exit();
err_buf:
	zdref_free_copies(copies);
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
	zdref_debugfs_exit();
	zdref_inode_exit();
	zdref_chardev_exit();
	zdref_file_exit();
}

module_init(zdref_init);
module_exit(zdref_exit);

MODULE_DESCRIPTION("zdref: free-at-zero ZONE_DEVICE pages (FS_DAX, GENERIC, PRIVATE, COHERENT) on stock kernels");
MODULE_AUTHOR("The zdref developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(ZDREF_VERSION);
