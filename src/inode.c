// SPDX-License-Identifier: GPL-2.0
/*
 * zdref: the DAX inode behind each device's mappings.
 *
 * A device's mappings hang off the address_space of an inode of zdref's
 * own pseudo filesystem, flagged S_DAX, as device-dax's do off its dax
 * inode.  Two things need it.  The kernel hands PMD faults of a shared
 * file mapping that is not DAX to ->huge_fault only for filesystems that
 * opted in, and zaps the PMDs of a VM_MIXEDMAP mapping that is not DAX
 * without dropping the folio's reference or mapcount ("special huge"):
 * a DAX mapping gets both right.  The exception is a kernel without
 * vmf_insert_folio_pmd(), where 2 MiB units are mapped as a file's THPs
 * (file.c): there only a mapping that is not DAX drops their references.
 * And every open of the device, whatever
 * device node it came through, shares one mapping, so that releasing a
 * range unmaps it from all of them.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <kunit/visibility.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>

#include "zdref.h"

/* "zdrf" */
#define ZDREF_FS_MAGIC	0x7a647266

static struct vfsmount *zdref_mnt;

/*
 * /proc/PID/maps names a mapping by its file: the device node's path.
 * A d_dname() writes at the end of @buf (dynamic_dname(), which 6.1 does
 * not export, does the same).
 */
static char *zdref_dname(struct dentry *dentry, char *buf, int len)
{
	int n = snprintf(NULL, 0, "/dev/%s", dentry->d_name.name);

	if (n >= len)
		return ERR_PTR(-ENAMETOOLONG);
	buf += len - n - 1;
	snprintf(buf, n + 1, "/dev/%s", dentry->d_name.name);
	return buf;
}

static const struct dentry_operations zdref_dentry_ops = {
	.d_dname = zdref_dname,
};

static int zdref_init_fs_context(struct fs_context *fc)
{
	struct pseudo_fs_context *ctx = init_pseudo(fc, ZDREF_FS_MAGIC);

	if (!ctx)
		return -ENOMEM;
	ctx->dops = &zdref_dentry_ops;
	return 0;
}

static struct file_system_type zdref_fs_type = {
	.name		= KBUILD_MODNAME,
	.init_fs_context = zdref_init_fs_context,
	.kill_sb	= kill_anon_super,
};

int zdref_inode_init(void)
{
	zdref_mnt = kern_mount(&zdref_fs_type);
	if (IS_ERR(zdref_mnt)) {
		pr_err("cannot mount zdref's pseudo filesystem: %ld\n",
		       PTR_ERR(zdref_mnt));
		return PTR_ERR(zdref_mnt);
	}
	return 0;
}

void zdref_inode_exit(void)
{
	kern_unmount(zdref_mnt);
}

/**
 * zdref_inode_add() - give a device the inode its mappings hang off
 * @zd: the device
 *
 * Return: 0 or -ENOMEM.
 */
int zdref_inode_add(struct zdref_dev *zd)
{
	struct inode *inode = alloc_anon_inode(zdref_mnt->mnt_sb);

	if (IS_ERR(inode))
		return PTR_ERR(inode);
	/* Not for 2 MiB units mapped as a file's THPs (file.c). */
	if (zdref_dax_inode(zd))
		inode->i_flags |= S_DAX;
	zd->inode = inode;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(zdref_inode_add);

/**
 * zdref_inode_file() - a file of the device's inode, named after the device
 * @zd: the device
 * @fops: its file operations; with an owner, the file holds that module
 * @private: its private_data
 *
 * Return: the file, or an ERR_PTR().
 */
struct file *zdref_inode_file(struct zdref_dev *zd,
			      const struct file_operations *fops, void *private)
{
	struct file *file;

	ihold(zd->inode);
	file = alloc_file_pseudo(zd->inode, zdref_mnt, dev_name(&zd->dev),
				 O_RDWR, fops);
	if (IS_ERR(file)) {
		iput(zd->inode);
		return file;
	}
	/* The last fput() puts the owner: a file made here must get it. */
	__module_get(fops->owner);
	file->private_data = private;
	return file;
}
EXPORT_SYMBOL_IF_KUNIT(zdref_inode_file);

/**
 * zdref_inode_remove() - drop a device's inode; mappings still hold it
 * @zd: the device
 */
void zdref_inode_remove(struct zdref_dev *zd)
{
	iput(zd->inode);
}
EXPORT_SYMBOL_IF_KUNIT(zdref_inode_remove);
