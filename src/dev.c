// SPDX-License-Identifier: GPL-2.0
/*
 * zdref: the life of one device.  Made of its parameters, brought up a
 * step at a time (its inode, range, pagemap, pool) and taken down in the
 * reverse order.  The module (main.c) and the KUnit suites both make
 * their devices here; /dev/zdrefN is the caller's last step (chardev.c).
 */
#include <kunit/visibility.h>
#include <linux/slab.h>

#include <zdref/compat.h>
#include "private.h"

static void zdref_dev_release(struct device *dev)
{
	kfree(container_of(dev, struct zdref_dev, dev));
}

/*
 * The pool's side of a reference model's last-drop rule: the one place
 * that says which code each rule runs.  NULL only for device-private
 * memory where the kernel lacks the mirror (private.h): such a device is
 * never made by the module, and the KUnit suites hand out none of its
 * pages.
 */
static const struct zdref_page_ops *zdref_dev_ops(const struct zdref_refmodel *m)
{
	switch (m->last_drop) {
	case ZDREF_DROP_WATCHED:
		return &zdref_watched_ops;
	case ZDREF_DROP_CALLBACK_RESET:
		return &zdref_reset_ops;
	case ZDREF_DROP_CALLBACK_FINAL:
		return zdref_private_ops();
	}
	return NULL;
}

/**
 * zdref_dev_alloc() - a device of given parameters, nothing of it up yet
 * @params: its type and unit (its region is for zdref_region_claim())
 * @id: N of its /dev/zdrefN
 *
 * Its reference model, and the pool's side of it, are chosen here, once.
 *
 * Return: the device, initialised with device_initialize(), to be freed
 * with put_device(); NULL without memory.
 */
struct zdref_dev *zdref_dev_alloc(const struct zdref_params *params, int id)
{
	struct zdref_dev *zd = kzalloc_obj(*zd, GFP_KERNEL);
	int i;

	if (!zd)
		return NULL;
	device_initialize(&zd->dev);
	zd->dev.release = zdref_dev_release;
	zd->id = id;
	zd->type = params->type;
	zd->info = zdref_type_info(params->type);
	zd->order = params->order;
	zd->thp = zdref_thp_offered(zd->info);
	zd->scope = params->scope;
	/*
	 * Only 4 KiB units of the types the CPU maps are mapped around: a
	 * 2 MiB unit is a window of its own, mapped whole by its PMD.
	 */
	if (!zd->order && zd->info->cpu_maps &&
	    params->fault_around >= 2 * PAGE_SIZE)
		zd->fault_around = params->fault_around >> PAGE_SHIFT;
	zdref_space_init(&zd->space);
	for (i = 0; i < ZDREF_UNIT_LOCKS; i++)
		mutex_init(&zd->unit_locks[i]);
	zd->model = zdref_refmodel_of(zd->info->memory_type);
	zd->ops = zdref_dev_ops(&zd->model);
	INIT_LIST_HEAD(&zd->mirrors);
	mutex_init(&zd->mirrors_lock);
	return zd;
}
EXPORT_SYMBOL_IF_KUNIT(zdref_dev_alloc);

/**
 * zdref_dev_create() - bring up a device: its range, pagemap and pool,
 * with its debugfs view
 * @params: what it is made of
 * @id: N of its /dev/zdrefN, which the caller adds (zdref_chardev_add())
 *
 * Return: the device, or an ERR_PTR() of the first step that failed (its
 * log line says why), everything before it undone.
 */
struct zdref_dev *zdref_dev_create(const struct zdref_params *params, int id)
{
	struct zdref_dev *zd = zdref_dev_alloc(params, id);
	int ret;

	if (!zd)
		return ERR_PTR(-ENOMEM);
	ret = zdref_inode_add(zd);
	if (ret)
		goto err_put;
	ret = zdref_region_claim(zd, params->region);
	if (ret)
		goto err_inode;
	/* Where a 2 MiB unit is a file's THP, finish_fault() checks i_size. */
	i_size_write(zd->inode, resource_size(zd->res));
	ret = zdref_pagemap_add(zd);
	if (ret)
		goto err_region;
	ret = zdref_pool_init(zd);
	if (ret)
		goto err_pagemap;
	ret = zdref_poison_init(zd, params);
	if (ret)
		goto err_pool;
	if (!zd->info->cpu_maps) {
		ret = zdref_devmem_init(zd);
		if (ret)
			goto err_poison;
	}
	zdref_zero_start(zd, params);
	zdref_debugfs_add(zd);
	return zd;

err_poison:
	zdref_poison_exit(zd);
err_pool:
	zdref_pool_exit(zd);
err_pagemap:
	zdref_pagemap_remove(zd);
err_region:
	zdref_region_release(zd);
err_inode:
	zdref_inode_remove(zd);
err_put:
	put_device(&zd->dev);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_IF_KUNIT(zdref_dev_create);

/**
 * zdref_dev_destroy() - undo zdref_dev_create()
 * @zd: the device, its node removed and no file of it open; every page
 *	back in its pool but those its own space holds (scope=device),
 *	which it gives up first
 */
void zdref_dev_destroy(struct zdref_dev *zd)
{
	zdref_space_exit(zd);
	zdref_debugfs_remove(zd);
	zdref_devmem_exit(zd);
	zdref_zero_exit(zd);
	zdref_poison_exit(zd);
	zdref_pool_exit(zd);
	zdref_pagemap_remove(zd);
	zdref_region_release(zd);
	zdref_inode_remove(zd);
	put_device(&zd->dev);
}
EXPORT_SYMBOL_IF_KUNIT(zdref_dev_destroy);
