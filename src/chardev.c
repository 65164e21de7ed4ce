// SPDX-License-Identifier: GPL-2.0
/*
 * zdref: /dev/zdrefN and its sysfs attributes under /sys/class/zdref/.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <kunit/visibility.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/sysfs.h>

#include <zdref/compat.h>
#include "private.h"

static dev_t zdref_devt;

/*
 * Opens fail until zdref_init() has every device up
 * (zdref_chardev_opened()).  A node is visible from its cdev_device_add()
 * on, and a later failure in zdref_init() unwinds it; the loader then
 * frees the module without waiting for files opened meanwhile.  So no
 * open may succeed before the load has.
 */
static bool zdref_published;

static struct zdref_dev *zdref_from_dev(struct device *dev)
{
	return container_of(dev, struct zdref_dev, dev);
}

static ssize_t type_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%s\n", zdref_type_name(zdref_from_dev(dev)->type));
}
static DEVICE_ATTR_RO(type);

/* Whose its pages are: "file" or "device" (scope=). */
static ssize_t scope_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%s\n", zdref_scope_name(zdref_from_dev(dev)->scope));
}
static DEVICE_ATTR_RO(scope);

static ssize_t region_start_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "0x%llx\n",
			  (unsigned long long)zdref_from_dev(dev)->res->start);
}
static DEVICE_ATTR_RO(region_start);

static ssize_t region_size_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n",
			  (unsigned long long)resource_size(zdref_from_dev(dev)->res));
}
static DEVICE_ATTR_RO(region_size);

static ssize_t pages_total_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", zdref_pages_total(zdref_from_dev(dev)));
}
static DEVICE_ATTR_RO(pages_total);

static ssize_t zdref_emit_counter(char *buf, atomic64_t *v)
{
	return sysfs_emit(buf, "%lld\n", (long long)atomic64_read(v));
}

static ssize_t allocs_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	return zdref_emit_counter(buf, &zdref_from_dev(dev)->allocs);
}
static DEVICE_ATTR_RO(allocs);

static ssize_t frees_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	return zdref_emit_counter(buf, &zdref_from_dev(dev)->frees);
}
static DEVICE_ATTR_RO(frees);

static ssize_t bad_frees_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	return zdref_emit_counter(buf, &zdref_from_dev(dev)->bad_frees);
}
static DEVICE_ATTR_RO(bad_frees);

/* The pool's lengths are kept under its lock. */
static ssize_t zdref_emit_locked(struct zdref_dev *zd, char *buf, u64 *v)
{
	u64 val;

	spin_lock_irq(&zd->lock);
	val = *v;
	spin_unlock_irq(&zd->lock);
	return sysfs_emit(buf, "%llu\n", val);
}

static ssize_t pages_free_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct zdref_dev *zd = zdref_from_dev(dev);

	return zdref_emit_locked(zd, buf, &zd->pages_free);
}
static DEVICE_ATTR_RO(pages_free);

static ssize_t pages_busy_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct zdref_dev *zd = zdref_from_dev(dev);

	return zdref_emit_locked(zd, buf, &zd->pages_busy);
}
static DEVICE_ATTR_RO(pages_busy);

/* How zdref's count sits on the kernel's here: see refcount.h. */
static ssize_t refmodel_show(struct device *dev,
			     struct device_attribute *attr, char *buf)
{
	const struct zdref_refmodel *m = &zdref_from_dev(dev)->model;

	return sysfs_emit(buf, "idle=%d base=%d last_drop_seen_by=%s\n",
			  m->idle, m->base,
			  zdref_ref_kernel_frees(m) ? "kernel" : "zdref");
}
static DEVICE_ATTR_RO(refmodel);

/* The pool's allocation unit, bytes. */
static ssize_t align_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%lu\n", PAGE_SIZE << zdref_from_dev(dev)->order);
}
static DEVICE_ATTR_RO(align);

/*
 * 1 if FOLL_LONGTERM pins (io_uring fixed buffers, RDMA) of this device's
 * pages work.  FS_DAX mappings are an FS DAX file's (file.c), which GUP
 * never pins long-term (check_vma_flags(): -EOPNOTSUPP), on every kernel;
 * but not where 2 MiB units are mapped as a file's THPs, whose inode is
 * not DAX (6.x).  Other mappings are the device node's, whose pages pin
 * as any.  See README.md, "Known limits".
 */
static ssize_t longterm_pins_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	struct zdref_dev *zd = zdref_from_dev(dev);

	return sysfs_emit(buf, "%d\n",
			  !(zd->info->fsdax_file && zdref_dax_inode(zd)));
}
static DEVICE_ATTR_RO(longterm_pins);

/*
 * "checked" where region= was checked against the firmware's own memory
 * map (no firmware-reserved range accepted), "unreadable" where this
 * kernel keeps it from modules (the load warned), "n/a" for a
 * device-private device, which has no memory behind it.
 */
static ssize_t firmware_map_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	if (!zdref_from_dev(dev)->info->physical)
		return sysfs_emit(buf, "n/a\n");
	return sysfs_emit(buf, "%s\n", zdref_firmware_map() ? "checked" : "unreadable");
}
static DEVICE_ATTR_RO(firmware_map);

/* Device-private migrations, in pages; 0 for the other types. */
static ssize_t migrated_to_dev_show(struct device *dev,
				    struct device_attribute *attr, char *buf)
{
	return zdref_emit_counter(buf, &zdref_from_dev(dev)->migrated_to_dev);
}
static DEVICE_ATTR_RO(migrated_to_dev);

static ssize_t migrated_to_ram_show(struct device *dev,
				    struct device_attribute *attr, char *buf)
{
	return zdref_emit_counter(buf, &zdref_from_dev(dev)->migrated_to_ram);
}
static DEVICE_ATTR_RO(migrated_to_ram);

static ssize_t cpu_faults_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	return zdref_emit_counter(buf, &zdref_from_dev(dev)->cpu_faults);
}
static DEVICE_ATTR_RO(cpu_faults);

/* 1 if the device's memory comes in 2 MiB folios too (a THP moves whole). */
static ssize_t thp_show(struct device *dev, struct device_attribute *attr,
			char *buf)
{
	return sysfs_emit(buf, "%d\n", zdref_from_dev(dev)->thp);
}
static DEVICE_ATTR_RO(thp);

/* 2 MiB device-private folios handed out, and folios split out of them. */
static ssize_t thp_allocs_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	return zdref_emit_counter(buf, &zdref_from_dev(dev)->thp_allocs);
}
static DEVICE_ATTR_RO(thp_allocs);

static ssize_t thp_splits_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	return zdref_emit_counter(buf, &zdref_from_dev(dev)->thp_splits);
}
static DEVICE_ATTR_RO(thp_splits);

/* poison=1: 1 if the device poisons its free units; 0 otherwise. */
static ssize_t poison_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	return sysfs_emit(buf, "%d\n", !!zdref_from_dev(dev)->poison);
}
static DEVICE_ATTR_RO(poison);

static ssize_t quarantine_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", zdref_poison_quarantine(zdref_from_dev(dev)));
}
static DEVICE_ATTR_RO(quarantine);

/* Units found written to while free; always 0 without poison=1. */
static ssize_t poison_errors_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	return zdref_emit_counter(buf, &zdref_from_dev(dev)->poison_errors);
}
static DEVICE_ATTR_RO(poison_errors);

/* Bytes of the pool kept zeroed ahead of the faults: 0 where none are. */
static ssize_t zero_ahead_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct zdref_dev *zd = zdref_from_dev(dev);
	u64 bytes;

	spin_lock_irq(&zd->lock);
	bytes = zd->zero.target << (PAGE_SHIFT + zd->order);
	spin_unlock_irq(&zd->lock);
	return sysfs_emit(buf, "%llu\n", bytes);
}
static DEVICE_ATTR_RO(zero_ahead);

/* Free pages (4 KiB) zeroed and ready now. */
static ssize_t pages_zeroed_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	struct zdref_dev *zd = zdref_from_dev(dev);
	u64 pages;

	spin_lock_irq(&zd->lock);
	pages = zd->zero.clean << zd->order;
	spin_unlock_irq(&zd->lock);
	return sysfs_emit(buf, "%llu\n", pages);
}
static DEVICE_ATTR_RO(pages_zeroed);

/* Units handed out that were zeroed ahead, of @allocs. */
static ssize_t zeroed_ahead_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return zdref_emit_counter(buf, &zdref_from_dev(dev)->zero.ahead);
}
static DEVICE_ATTR_RO(zeroed_ahead);

/* Bytes of the window a fault on a unit its file has maps: 0 for none. */
static ssize_t fault_around_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n",
			  zdref_from_dev(dev)->fault_around * PAGE_SIZE);
}
static DEVICE_ATTR_RO(fault_around);

/* Pages mapped by those faults besides the one faulted on. */
static ssize_t mapped_around_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	return zdref_emit_counter(buf, &zdref_from_dev(dev)->mapped_around);
}
static DEVICE_ATTR_RO(mapped_around);

static struct attribute *zdref_attrs[] = {
	&dev_attr_type.attr,
	&dev_attr_scope.attr,
	&dev_attr_region_start.attr,
	&dev_attr_region_size.attr,
	&dev_attr_pages_total.attr,
	&dev_attr_pages_free.attr,
	&dev_attr_pages_busy.attr,
	&dev_attr_allocs.attr,
	&dev_attr_frees.attr,
	&dev_attr_bad_frees.attr,
	&dev_attr_refmodel.attr,
	&dev_attr_align.attr,
	&dev_attr_longterm_pins.attr,
	&dev_attr_firmware_map.attr,
	&dev_attr_migrated_to_dev.attr,
	&dev_attr_migrated_to_ram.attr,
	&dev_attr_cpu_faults.attr,
	&dev_attr_thp.attr,
	&dev_attr_thp_allocs.attr,
	&dev_attr_thp_splits.attr,
	&dev_attr_poison.attr,
	&dev_attr_quarantine.attr,
	&dev_attr_poison_errors.attr,
	&dev_attr_zero_ahead.attr,
	&dev_attr_pages_zeroed.attr,
	&dev_attr_zeroed_ahead.attr,
	&dev_attr_fault_around.attr,
	&dev_attr_mapped_around.attr,
	NULL,
};
ATTRIBUTE_GROUPS(zdref);

static struct class zdref_class = {
	.name = KBUILD_MODNAME,
	.dev_groups = zdref_groups,
};

int zdref_chardev_init(void)
{
	int ret;

	ret = alloc_chrdev_region(&zdref_devt, 0, ZDREF_MINORS,
				  KBUILD_MODNAME);
	if (ret)
		return ret;
	ret = class_register(&zdref_class);
	if (ret)
		unregister_chrdev_region(zdref_devt, ZDREF_MINORS);
	return ret;
}

/**
 * zdref_chardev_publish() - let opens of the nodes succeed
 *
 * Called once, at the end of a successful zdref_init().
 */
void zdref_chardev_publish(void)
{
	/* Pairs with zdref_chardev_opened(): opens see every device up. */
	smp_store_release(&zdref_published, true);
}

/**
 * zdref_chardev_opened() - the device of a node being opened, if it may be
 * @inode: the node's inode, as the open file operation gets it
 *
 * Return: the device once the load has succeeded, ERR_PTR(-ENODEV) while
 * it runs.
 */
struct zdref_dev *zdref_chardev_opened(struct inode *inode)
{
	struct zdref_dev *zd = container_of(inode->i_cdev, struct zdref_dev, cdev);

	/* Pairs with zdref_chardev_publish(). */
	if (likely(smp_load_acquire(&zdref_published)))
		return zd;
	dev_warn_ratelimited(&zd->dev,
			     "opened while zdref is still loading: open it once modprobe has returned\n");
	return ERR_PTR(-ENODEV);
}

/**
 * zdref_chardev_quiesce() - wait for the openers of removed nodes to leave
 *
 * For a failed load, after zdref_chardev_remove() of every node it added.
 * cdev_del() serialises with chrdev_open()'s lookup, so every opener that
 * found a node already holds a reference to the module; each fails
 * zdref_chardev_opened() and drops it at once.  Once none is left, no
 * task runs zdref's code or holds its module, and the loader may free it.
 */
void zdref_chardev_quiesce(void)
{
	while (zdref_module_users() > 0)
		usleep_range(1000, 2000);
}

void zdref_chardev_exit(void)
{
	class_unregister(&zdref_class);
	unregister_chrdev_region(zdref_devt, ZDREF_MINORS);
}

/**
 * zdref_chardev_add() - make the device visible as /dev/zdrefN
 * @zd: the device, initialised with device_initialize()
 *
 * Return: 0 or the error of cdev_device_add().
 */
int zdref_chardev_add(struct zdref_dev *zd)
{
	/* Device-private memory is not mapped by the CPU: files are mirrors. */
	const struct file_operations *fops =
		zd->info->cpu_maps ? &zdref_fops : zdref_private_fops();
	int ret;

	zd->dev.class = &zdref_class;
	zd->dev.devt = MKDEV(MAJOR(zdref_devt), zd->id);
	ret = dev_set_name(&zd->dev, KBUILD_MODNAME "%d", zd->id);
	if (ret)
		return ret;
	cdev_init(&zd->cdev, fops);
	zd->cdev.owner = THIS_MODULE;
	return cdev_device_add(&zd->cdev, &zd->dev);
}
EXPORT_SYMBOL_IF_KUNIT(zdref_chardev_add);

/**
 * zdref_chardev_remove() - remove /dev/zdrefN; open files keep working
 * @zd: the device
 */
void zdref_chardev_remove(struct zdref_dev *zd)
{
	cdev_device_del(&zd->cdev, &zd->dev);
}
EXPORT_SYMBOL_IF_KUNIT(zdref_chardev_remove);
