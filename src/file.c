// SPDX-License-Identifier: GPL-2.0
/*
 * zdref: an open file of /dev/zdrefN, its pages, faults and ioctls.
 *
 * Each open file owns the pages it was handed, indexed by file offset, and
 * holds one reference on each; mmap(MAP_SHARED) of the file maps them.
 * Mappings take real page references through vm_insert_page(), so munmap,
 * exit, MADV_DONTNEED, mremap and fork move and drop them the way the
 * kernel does for any file page, and GUP pins them the usual way.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/rwsem.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include <zdref/compat.h>
#include "zdref.h"

/**
 * struct zdref_file - an open file of a zdref device
 * @zd: the device
 * @pages: file offset, in pages, to the page handed out for it
 * @lock: faults (read) against the release of a range (write), so that no
 *	fault maps a page its file is giving up
 */
struct zdref_file {
	struct zdref_dev *zd;
	struct xarray pages;
	struct rw_semaphore lock;
};

static int zdref_open(struct inode *inode, struct file *file)
{
	struct zdref_file *zf = kzalloc_obj(*zf, GFP_KERNEL);

	if (!zf)
		return -ENOMEM;
	zf->zd = container_of(inode->i_cdev, struct zdref_dev, cdev);
	xa_init(&zf->pages);
	init_rwsem(&zf->lock);
	file->private_data = zf;
	return 0;
}

/* The last close: mappings hold the file, so only pins can outlive it. */
static int zdref_release(struct inode *inode, struct file *file)
{
	struct zdref_file *zf = file->private_data;
	struct page *page;
	unsigned long index;

	xa_for_each(&zf->pages, index, page)
		zdref_page_put(zf->zd, page);
	xa_destroy(&zf->pages);
	kfree(zf);
	return 0;
}

/* The page of the file at @pgoff, handed out on first use. */
static struct page *zdref_file_page(struct zdref_file *zf, pgoff_t pgoff)
{
	struct page *page, *old;

	page = xa_load(&zf->pages, pgoff);
	if (page)
		return page;
	page = zdref_page_alloc(zf->zd);
	if (!page) {
		dev_warn_ratelimited(&zf->zd->dev, "pool exhausted: all %llu pages are in use\n",
				     zdref_pages_total(zf->zd));
		return ERR_PTR(-ENOSPC);
	}
	old = xa_cmpxchg(&zf->pages, pgoff, NULL, page, GFP_KERNEL);
	if (old) {		/* a concurrent fault won, or no memory */
		zdref_page_put(zf->zd, page);
		return xa_is_err(old) ? ERR_PTR(xa_err(old)) : old;
	}
	return page;
}

static vm_fault_t zdref_fault(struct vm_fault *vmf)
{
	struct zdref_file *zf = vmf->vma->vm_file->private_data;
	struct page *page;
	vm_fault_t ret;
	int err;

	down_read(&zf->lock);
	page = zdref_file_page(zf, vmf->pgoff);
	if (IS_ERR(page)) {
		ret = PTR_ERR(page) == -ENOSPC ? VM_FAULT_SIGBUS : VM_FAULT_OOM;
		goto out;
	}
	err = vm_insert_page(vmf->vma, vmf->address, page);
	/* -EBUSY: another thread mapped it first. */
	ret = err && err != -EBUSY ? vmf_error(err) : VM_FAULT_NOPAGE;
out:
	up_read(&zf->lock);
	return ret;
}

static const struct vm_operations_struct zdref_vm_ops = {
	.fault = zdref_fault,
};

static int zdref_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct zdref_file *zf = file->private_data;

	if (zf->zd->type == ZDREF_TYPE_PRIVATE) {
		dev_info_ratelimited(&zf->zd->dev, "device-private memory cannot be mapped by the CPU\n");
		return -EOPNOTSUPP;
	}
	/* vm_insert_page() needs it, and only mmap may set it. */
	vm_flags_set(vma, VM_MIXEDMAP);
	vma->vm_ops = &zdref_vm_ops;
	return 0;
}

static long zdref_ioc_page_info(struct file *file, void __user *arg)
{
	struct zdref_page_info in, info = { };
	struct vm_area_struct *vma;
	struct zdref_file *zf;
	struct zdref_dev *zd;
	struct page *page;
	pgoff_t pgoff;
	long ret = 0;

	if (copy_from_user(&in, arg, sizeof(in)))
		return -EFAULT;
	if (in.flags)
		return -EINVAL;
	info.addr = in.addr;

	mmap_read_lock(current->mm);
	vma = vma_lookup(current->mm, info.addr);
	if (!vma || !vma->vm_file || vma->vm_file->f_op != &zdref_fops) {
		ret = -EINVAL;	/* not an address of a zdref mapping */
		goto out;
	}
	zf = vma->vm_file->private_data;
	zd = zf->zd;
	pgoff = vma->vm_pgoff + ((info.addr - vma->vm_start) >> PAGE_SHIFT);
	info.offset = (u64)pgoff << PAGE_SHIFT;

	down_read(&zf->lock);
	page = xa_load(&zf->pages, pgoff);
	if (page) {
		info.pfn = page_to_pfn(page);
		info.state = READ_ONCE(zdref_page_meta(zd, page)->state);
		info.refcount = zdref_ref_count(&zd->model, page);
		info.raw_refcount = page_ref_count(page);
		info.mapcount = zdref_page_mapcount(page);
	}
	up_read(&zf->lock);
out:
	mmap_read_unlock(current->mm);
	if (!ret && copy_to_user(arg, &info, sizeof(info)))
		ret = -EFAULT;
	return ret;
}

struct zdref_released {
	struct page *page;
	u32 gen;
};

static bool zdref_all_freed(struct zdref_dev *zd, struct zdref_released *rel,
			    u64 n, u64 *busy)
{
	u64 i;

	*busy = 0;
	for (i = 0; i < n; i++)
		if (!zdref_page_freed_since(zd, rel[i].page, rel[i].gen))
			(*busy)++;
	return !*busy;
}

static long zdref_ioc_release(struct file *file, void __user *arg)
{
	struct zdref_file *zf = file->private_data;
	struct zdref_dev *zd = zf->zd;
	struct zdref_released *rel;
	struct zdref_release req;
	pgoff_t first, last, index;
	struct page *page;
	u64 n = 0, cap;
	long ret = 0, left;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags || !req.length || !PAGE_ALIGNED(req.offset) ||
	    !PAGE_ALIGNED(req.length) || req.offset + req.length < req.offset)
		return -EINVAL;
	first = req.offset >> PAGE_SHIFT;
	last = first + (req.length >> PAGE_SHIFT) - 1;

	down_write(&zf->lock);
	cap = 0;
	xa_for_each_range(&zf->pages, index, page, first, last)
		cap++;
	rel = kvmalloc_array(max_t(u64, cap, 1), sizeof(*rel), GFP_KERNEL);
	if (!rel) {
		up_write(&zf->lock);
		return -ENOMEM;
	}
	/*
	 * Every open file of the device shares the inode's mapping: this
	 * also unmaps other files' pages at these offsets, which they fault
	 * back in, unchanged; only this file's pages are given up.  Private
	 * copies (MAP_PRIVATE after a write) are system RAM: left alone.
	 */
	unmap_mapping_range(file->f_mapping, req.offset, req.length, 0);
	xa_for_each_range(&zf->pages, index, page, first, last) {
		xa_erase(&zf->pages, index);
		rel[n].page = page;
		rel[n].gen = READ_ONCE(zdref_page_meta(zd, page)->gen);
		n++;
	}
	up_write(&zf->lock);

	for (index = 0; index < n; index++)
		zdref_page_put(zd, rel[index].page);

	left = msecs_to_jiffies(req.timeout_ms);
	left = wait_event_interruptible_timeout(zd->free_wq,
						zdref_all_freed(zd, rel, n, &req.busy),
						left);
	/* The pages are given up already: a restart would find none. */
	if (left < 0)
		ret = -EINTR;
	else if (!zdref_all_freed(zd, rel, n, &req.busy))
		ret = -ETIMEDOUT;
	if (ret == -ETIMEDOUT)
		dev_info(&zd->dev, "release at offset %llu: %llu of %llu pages still referenced after %u ms; they are freed when the last reference drops\n",
			 req.offset, req.busy, n, req.timeout_ms);
	kvfree(rel);
	req.released = n;
	if (copy_to_user(arg, &req, sizeof(req)))
		return -EFAULT;
	return ret;
}

static long zdref_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case ZDREF_IOC_PAGE_INFO:
		return zdref_ioc_page_info(file, uarg);
	case ZDREF_IOC_RELEASE:
		return zdref_ioc_release(file, uarg);
	default:
		return -ENOTTY;
	}
}

const struct file_operations zdref_fops = {
	.owner = THIS_MODULE,
	.open = zdref_open,
	.release = zdref_release,
	.mmap = zdref_mmap,
	.unlocked_ioctl = zdref_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};
