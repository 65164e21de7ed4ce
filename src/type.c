// SPDX-License-Identifier: GPL-2.0
/*
 * zdref: the types of device memory a device can be, and what each means
 * to the rest of zdref.  A leaf: it calls nothing of zdref's.
 */
#include <kunit/visibility.h>
#include <linux/kernel.h>
#include <linux/memremap.h>
#include <linux/string.h>

#include "zdref.h"

static const struct zdref_type_info zdref_types[ZDREF_TYPE_COUNT] = {
	[ZDREF_TYPE_FSDAX] = {
		.name		= "fsdax",
		.memory_type	= MEMORY_DEVICE_FS_DAX,
		.cpu_maps	= true,
		.fsdax_file	= true,
		.physical	= true,
		.huge		= true,
	},
	[ZDREF_TYPE_GENERIC] = {
		.name		= "generic",
		.memory_type	= MEMORY_DEVICE_GENERIC,
		.cpu_maps	= true,
		.physical	= true,
		.huge		= true,
	},
	/*
	 * Never mapped by the CPU: align=2M would buy it nothing.  Its pool
	 * hands out 2 MiB folios for THPs that migrate whole, where the
	 * kernel can (devmem.c).
	 */
	[ZDREF_TYPE_PRIVATE] = {
		.name		= "private",
		.memory_type	= MEMORY_DEVICE_PRIVATE,
		.thp		= true,
	},
	/*
	 * Memory the CPU addresses as its own (a CXL or coherent-link GPU's):
	 * migrated to like device-private memory, mapped by the CPU in place.
	 * In pages only: the kernel's migrate_vma collects a PMD-mapped
	 * folio as one entry only with MIGRATE_VMA_SELECT_SYSTEM, which would
	 * select system memory too, so a coherent 2 MiB folio could not be
	 * brought back to RAM whole.
	 */
	[ZDREF_TYPE_COHERENT] = {
		.name		= "coherent",
		.memory_type	= MEMORY_DEVICE_COHERENT,
		.in_place	= true,
		.physical	= true,
	},
};

/**
 * zdref_type_info() - what a type of device is
 * @type: the type
 *
 * Return: its entry of the table of types.
 */
const struct zdref_type_info *zdref_type_info(enum zdref_type type)
{
	return &zdref_types[type];
}
EXPORT_SYMBOL_IF_KUNIT(zdref_type_info);

/**
 * zdref_type_name() - the type= name of a type
 * @type: the type
 *
 * Return: "fsdax", "generic", "private" or "coherent".
 */
const char *zdref_type_name(enum zdref_type type)
{
	return zdref_types[type].name;
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
	int i;

	for (i = 0; i < ZDREF_TYPE_COUNT; i++) {
		if (sysfs_streq(s, zdref_types[i].name)) {
			*type = i;
			return 0;
		}
	}
	return -EINVAL;
}
EXPORT_SYMBOL_IF_KUNIT(zdref_parse_type);
