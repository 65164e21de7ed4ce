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
 * a DAX mapping gets both right.  And every open of the device, whatever
 * device node it came through, shares one mapping, so that releasing a
 * range unmaps it from all of them.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <kunit/visibility.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>

#include "zdref.h"

/* "zdrf" */
#define ZDREF_FS_MAGIC	0x7a647266

static struct vfsmount *zdref_mnt;

static int zdref_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, ZDREF_FS_MAGIC) ? 0 : -ENOMEM;
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
	inode->i_flags |= S_DAX;
	zd->inode = inode;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(zdref_inode_add);

/**
 * zdref_inode_remove() - drop a device's inode; mappings still hold it
 * @zd: the device
 */
void zdref_inode_remove(struct zdref_dev *zd)
{
	iput(zd->inode);
}
EXPORT_SYMBOL_IF_KUNIT(zdref_inode_remove);
