// SPDX-License-Identifier: GPL-2.0
/*
 * zdref: /dev/zdrefN and its sysfs attributes under /sys/class/zdref/.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/module.h>
#include <linux/sysfs.h>

#include "zdref.h"

#define ZDREF_MAX_DEVICES	1

static dev_t zdref_devt;

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

static ssize_t frees_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%lld\n",
			  (long long)atomic64_read(&zdref_from_dev(dev)->frees));
}
static DEVICE_ATTR_RO(frees);

static struct attribute *zdref_attrs[] = {
	&dev_attr_type.attr,
	&dev_attr_region_start.attr,
	&dev_attr_region_size.attr,
	&dev_attr_pages_total.attr,
	&dev_attr_frees.attr,
	NULL,
};
ATTRIBUTE_GROUPS(zdref);

static struct class zdref_class = {
	.name = KBUILD_MODNAME,
	.dev_groups = zdref_groups,
};

static int zdref_open(struct inode *inode, struct file *file)
{
	file->private_data = container_of(inode->i_cdev, struct zdref_dev, cdev);
	return 0;
}

static const struct file_operations zdref_fops = {
	.owner = THIS_MODULE,
	.open = zdref_open,
	.llseek = noop_llseek,
};

int zdref_chardev_init(void)
{
	int ret;

	ret = alloc_chrdev_region(&zdref_devt, 0, ZDREF_MAX_DEVICES,
				  KBUILD_MODNAME);
	if (ret)
		return ret;
	ret = class_register(&zdref_class);
	if (ret)
		unregister_chrdev_region(zdref_devt, ZDREF_MAX_DEVICES);
	return ret;
}

void zdref_chardev_exit(void)
{
	class_unregister(&zdref_class);
	unregister_chrdev_region(zdref_devt, ZDREF_MAX_DEVICES);
}

/**
 * zdref_chardev_add() - make the device visible as /dev/zdrefN
 * @zd: the device, initialised with device_initialize()
 *
 * Return: 0 or the error of cdev_device_add().
 */
int zdref_chardev_add(struct zdref_dev *zd)
{
	int ret;

	zd->dev.class = &zdref_class;
	zd->dev.devt = MKDEV(MAJOR(zdref_devt), zd->id);
	ret = dev_set_name(&zd->dev, KBUILD_MODNAME "%d", zd->id);
	if (ret)
		return ret;
	cdev_init(&zd->cdev, &zdref_fops);
	zd->cdev.owner = THIS_MODULE;
	return cdev_device_add(&zd->cdev, &zd->dev);
}

void zdref_chardev_remove(struct zdref_dev *zd)
{
	cdev_device_del(&zd->cdev, &zd->dev);
}
