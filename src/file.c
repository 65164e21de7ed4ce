// SPDX-License-Identifier: GPL-2.0
/*
 * zdref: an open file of /dev/zdrefN, its pages, faults and ioctls.
 *
 * The units (pages, or 2 MiB folios with align=2M) handed out for the
 * file's offsets are in a space (space.c), which holds one reference on
 * each: the file's own (scope=file) or its device's (scope=device);
 * mmap(MAP_SHARED) of the file maps them.  Mappings take real references
 * and mapcounts, through vm_insert_page() for a PTE and
 * vmf_insert_folio_pmd() or finish_fault() for a PMD, so munmap, exit,
 * MADV_DONTNEED, mremap and fork move and drop them the way the kernel
 * does for any file page, and GUP pins them the usual way.
 *
 * A 2 MiB unit (align=2M) is mapped whole by one PMD, which holds one
 * reference and one mapcount.  Kernels with vmf_insert_folio_pmd() (6.15
 * and later) map it from ->huge_fault, as a DAX file's.  Older ones map
 * device memory at PMD level from a driver only as devmap entries, which
 * munmap would drop without a put; there ->fault hands the unit to the
 * kernel as a file's THP instead, and finish_fault() maps it by PMD with
 * the reference ->fault took (see zdref_thp_fault()).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <zdref/compat.h>
#include "zdref.h"
#include "trace.h"

/**
 * struct zdref_file - an open file of a zdref device
 * @zd: the device
 * @space: the units of its offsets: @own, or the device's
 * @own: its own units, with scope=file
 * @ref: held by the open file and by @map_file: the file is open until
 *	both are gone
 * @map_file: for FS_DAX, the file its mappings hold instead of the device
 *	node's (see zdref_mmap()), or NULL
 */
struct zdref_file {
	struct zdref_dev *zd;
	struct zdref_space *space;
	struct zdref_space own;
	struct kref ref;
	struct file *map_file;
};

static const struct file_operations zdref_map_fops;

/* A unit a release gave up, and its generation then. */
struct zdref_released {
	struct page *page;
	u32 gen;
};

static int zdref_open(struct inode *inode, struct file *file)
{
	struct zdref_dev *zd = zdref_chardev_opened(inode);
	struct zdref_file *zf;
	int ret;

	if (IS_ERR(zd))
		return PTR_ERR(zd);
	zf = kzalloc_obj(*zf, GFP_KERNEL);
	if (!zf)
		return -ENOMEM;
	zf->zd = zd;
	kref_init(&zf->ref);
	if (zf->zd->info->fsdax_file) {
		zf->map_file = zdref_inode_file(zf->zd, &zdref_map_fops, zf);
		if (IS_ERR(zf->map_file)) {
			ret = PTR_ERR(zf->map_file);
			kfree(zf);
			return ret;
		}
		kref_get(&zf->ref);
	}
	zf->space = zdref_space_open(zd, &zf->own);
	file->private_data = zf;
	/* Map the device's DAX inode: see inode.c. */
	file->f_mapping = zf->zd->inode->i_mapping;
	return 0;
}

/* The file's last reference: none of its mappings is left. */
static void zdref_file_free(struct kref *ref)
{
	struct zdref_file *zf = container_of(ref, struct zdref_file, ref);

	zdref_space_close(zf->zd, zf->space);
	kfree(zf);
}

/* The last close; an FS_DAX file's mappings hold its map_file. */
static int zdref_release(struct inode *inode, struct file *file)
{
	struct zdref_file *zf = file->private_data;

	if (zf->map_file)
		fput(zf->map_file);
	kref_put(&zf->ref, zdref_file_free);
	return 0;
}

/* The map_file's last reference, its last mapping's or the open file's. */
static int zdref_map_release(struct inode *inode, struct file *file)
{
	struct zdref_file *zf = file->private_data;

	kref_put(&zf->ref, zdref_file_free);
	return 0;
}

/*
 * The file an FS_DAX file's mappings hold: it holds the module (its
 * mappings run zdref's vm_ops) and the open file's pages.  No one opens
 * it: its inode has no open.
 */
static const struct file_operations zdref_map_fops = {
	.owner = THIS_MODULE,
	.release = zdref_map_release,
	.llseek = noop_llseek,
};

static vm_fault_t zdref_unit_error(struct page *head)
{
	return PTR_ERR(head) == -ENOSPC ? VM_FAULT_SIGBUS : VM_FAULT_OOM;
}

/*
 * Fault-around, as filemap_map_pages() does for a file's cached pages: a
 * fault on a unit the file has already (a re-touch after MADV_DONTNEED or
 * a release elsewhere, a second mapping, a child) maps the file's other
 * units of the aligned window around it too, so a re-touch of a range
 * takes one fault per window, not one per page.  It never hands out a
 * unit: only a touch does.  Only a fault on a unit the file had does it:
 * behind a run of first touches the window is mapped already, and a page
 * table walk per unit to find that out would slow the commonest fault.
 * Each PTE holds a reference and a mapcount, as the faulting page's; the
 * space's lock, held for read, keeps every unit in the space meanwhile (a
 * release takes it for writing).  Write faults map around too, where the
 * kernel maps around read faults only: a shared mapping of zdref has no
 * dirty tracking for a write to trip, and a private one maps its
 * neighbours read-only, so a write to one still copies it.  Not from
 * ->map_pages, which runs under RCU, without the space's lock.
 */
static void zdref_fault_around(struct vm_fault *vmf, struct zdref_file *zf)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long size = (unsigned long)zf->zd->fault_around << PAGE_SHIFT;
	unsigned long start = ALIGN_DOWN(vmf->address, size);
	unsigned long end = start + size;
	unsigned long index, mapped = 0;
	struct page *page;

	start = max(start, vma->vm_start);
	end = min(end, vma->vm_end);
	xa_for_each_range(&zf->space->pages, index, page,
			  linear_page_index(vma, start),
			  linear_page_index(vma, end - 1)) {
		/* The faulting unit; a poisoned one fails its own fault. */
		if (index == vmf->pgoff || PageHWPoison(page))
			continue;
		/* -EBUSY: mapped here already (or a private copy is). */
		if (!vm_insert_page(vma, vma->vm_start +
				    ((index - vma->vm_pgoff) << PAGE_SHIFT), page))
			mapped++;
	}
	if (mapped)
		atomic64_add(mapped, &zf->zd->mapped_around);
}

static vm_fault_t zdref_fault(struct vm_fault *vmf)
{
	struct zdref_file *zf = vmf->vma->vm_file->private_data;
	struct page *page;
	vm_fault_t ret;
	bool had;
	int err;

	/*
	 * A 2 MiB unit is only ever mapped whole, by PMD: its tail pages'
	 * struct pages may be shared (the kernel dedups the vmemmap of a
	 * compound pagemap), so they must not be mapped by PTE, as
	 * device-dax never does.  zdref_mmap() and zdref_may_split() keep
	 * mappings aligned; a PTE fault here means a PMD could not be had.
	 */
	if (zf->zd->order) {
		dev_warn_ratelimited(&zf->zd->dev, "align=2M: no PMD for address %#lx of %s; 2 MiB units are mapped whole only\n",
				     vmf->address, current->comm);
		return VM_FAULT_SIGBUS;
	}
	down_read(&zf->space->lock);
	page = zdref_space_find(zf->space, vmf->pgoff);
	had = !!page;
	if (!page)
		page = zdref_space_hand_out(zf->zd, zf->space, vmf->pgoff);
	if (IS_ERR(page)) {
		ret = zdref_unit_error(page);
		goto out;
	}
	err = vm_insert_page(vmf->vma, vmf->address, page);
	/* -EBUSY: another thread mapped it first. */
	ret = err && err != -EBUSY ? vmf_error(err) : VM_FAULT_NOPAGE;
	if (!err && had && zf->zd->fault_around)
		zdref_fault_around(vmf, zf);
out:
	up_read(&zf->space->lock);
	trace_zdref_fault(zf->zd, vmf->address, IS_ERR(page) ? 0 : page_to_pfn(page),
			  0, (__force unsigned int)ret);
	return ret;
}

/* With 2 MiB units, a mapping splits only between units, as device-dax's. */
static int zdref_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	struct zdref_file *zf = vma->vm_file->private_data;

	return IS_ALIGNED(addr, PAGE_SIZE << zf->zd->order) ? 0 : -EINVAL;
}

/*
 * Does @vma map the whole 2 MiB unit at @addr (2 MiB aligned), from a file
 * offset (@pgoff, pages) that is a unit's?  A PMD can map it only then.
 */
static inline bool zdref_vma_has_unit(struct vm_area_struct *vma,
				      unsigned long addr, pgoff_t pgoff)
{
	return addr >= vma->vm_start && addr + PMD_SIZE <= vma->vm_end &&
	       !(pgoff & (HPAGE_PMD_NR - 1));
}

#if ZDREF_HAVE_VMF_INSERT_FOLIO_PMD && ZDREF_HAVE_HUGE_FAULT_ORDER
#define ZDREF_PMD_BY_INSERT	1
#define ZDREF_PMD_BY_FAULT	0

/* A whole 2 MiB unit with one PMD, which holds a reference and a mapcount. */
static vm_fault_t zdref_huge_fault(struct vm_fault *vmf, unsigned int order)
{
	struct vm_area_struct *vma = vmf->vma;
	struct zdref_file *zf = vma->vm_file->private_data;
	struct zdref_dev *zd = zf->zd;
	unsigned long addr = vmf->address & PMD_MASK;
	struct page *head;
	pgoff_t pgoff;
	vm_fault_t ret;

	/*
	 * zdref_mmap() let only shared, aligned mappings of 2 MiB units
	 * through, and only a DAX mapping's PMDs are zapped with their
	 * reference (inode.c).
	 */
	if (order != PMD_ORDER || zd->order != PMD_ORDER || !vma_is_dax(vma))
		return VM_FAULT_FALLBACK;
	pgoff = linear_page_index(vma, addr);
	if (!zdref_vma_has_unit(vma, addr, pgoff))
		return VM_FAULT_FALLBACK;

	down_read(&zf->space->lock);
	head = zdref_space_unit(zd, zf->space, pgoff >> zd->order);
	if (IS_ERR(head))
		ret = zdref_unit_error(head);
	else
		ret = vmf_insert_folio_pmd(vmf, page_folio(head),
					   vmf->flags & FAULT_FLAG_WRITE);
	up_read(&zf->space->lock);
	trace_zdref_fault(zd, addr, IS_ERR(head) ? 0 : page_to_pfn(head),
			  zd->order, (__force unsigned int)ret);
	return ret;
}
#elif IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE)
#define ZDREF_PMD_BY_INSERT	0
#define ZDREF_PMD_BY_FAULT	1
#else
#define ZDREF_PMD_BY_INSERT	0
#define ZDREF_PMD_BY_FAULT	0
#endif

/* Is a 2 MiB unit of @zd mapped through ->fault, as a file's THP? */
static bool zdref_thp_route(const struct zdref_dev *zd)
{
	return ZDREF_PMD_BY_FAULT && zd->order;
}

#if ZDREF_PMD_BY_FAULT
/*
 * Why finish_fault() would not map the unit at @addr (2 MiB aligned),
 * file offset @pgoff (pages), by one PMD, or NULL if it will.  Mapped any
 * other way, by PTEs, its tail pages' shared struct pages would take
 * mapcounts: so these are do_set_pmd()'s own conditions for a PMD (6.1 and
 * 6.12), checked first.  They hold until finish_fault(): ->fault runs
 * under the mmap lock, which MADV_NOHUGEPAGE and PR_SET_THP_DISABLE take
 * for writing (6.12's faults under a VMA lock retry under the mmap lock
 * for a VMA without ->map_pages, vmf_can_call_fault()), and a PMD set by
 * a racing fault makes finish_fault() return without mapping anything.
 */
static const char *zdref_thp_refused(struct vm_fault *vmf, unsigned long addr,
				     pgoff_t pgoff)
{
	struct vm_area_struct *vma = vmf->vma;
	struct zdref_file *zf = vma->vm_file->private_data;
	pmd_t pmd;

	if (vma->vm_flags & VM_NOHUGEPAGE)
		return "the mapping asked for no huge pages (MADV_NOHUGEPAGE)";
	if (test_bit(MMF_DISABLE_THP, &vma->vm_mm->flags))
		return "the process asked for no huge pages (PR_SET_THP_DISABLE)";
	if (!zdref_vma_has_unit(vma, addr, pgoff))
		return "the mapping does not cover it aligned (an unaligned mremap?)";
	/* 6.12's finish_fault() maps no PMD across i_size. */
	if (pgoff + HPAGE_PMD_NR > zdref_pages_total(zf->zd))
		return "the unit is past the device's end";
	/*
	 * A huge PMD is another thread's fault on the unit, done since this
	 * fault looked: not a refusal; the check under the unit's lock finds
	 * it, and the access retries.
	 */
	pmd = READ_ONCE(*vmf->pmd);
	if (!pmd_none(pmd) && !pmd_trans_huge(pmd))
		return "a page table is there";
	return NULL;
}

/*
 * The kernels before vmf_insert_folio_pmd(): the 2 MiB unit at the
 * address, returned locked with a reference that finish_fault() gives to
 * the PMD it maps (do_set_pmd()), the way a filesystem's ->fault returns a
 * THP of its page cache.  The mapping is not VM_MIXEDMAP and its inode not
 * DAX (inode.c), so zap_huge_pmd() and the split of a file PMD drop the
 * reference and the mapcount; fork copies no file PMD; split_huge_page()
 * refuses a folio with no mapping.  The unit is locked before the space's
 * lock is dropped: a release waits for the lock, after the fault mapped
 * it, and unmaps again (zdref_thp_settle()), before any fault can map
 * another unit here.
 *
 * On 6.1 a PMD mapping also counts itself in each of its 512 pages'
 * _mapcount (page_add_file_rmap()); with the vmemmap dedup, pages 64 to
 * 511 of a unit share 64 struct pages, which each count 7 per mapping.
 * The increments and decrements are atomic and paired: only statistics
 * read them (smaps' Pss, /proc/kpagecount, NR_FILE_MAPPED).
 */
static vm_fault_t zdref_thp_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct zdref_file *zf = vma->vm_file->private_data;
	struct zdref_dev *zd = zf->zd;
	unsigned long addr = vmf->address & PMD_MASK;
	pgoff_t pgoff = linear_page_index(vma, addr);
	struct page *head = NULL;
	const char *why;
	vm_fault_t ret;

	/* Another thread's fault mapped it: the access retries. */
	if (pmd_trans_huge(READ_ONCE(*vmf->pmd))) {
		ret = VM_FAULT_NOPAGE;
		goto out;
	}
	why = zdref_thp_refused(vmf, addr, pgoff);
	if (why) {
		ret = VM_FAULT_SIGBUS;
		goto refused;
	}
	down_read(&zf->space->lock);
	head = zdref_space_unit(zd, zf->space, pgoff >> zd->order);
	if (IS_ERR(head)) {
		up_read(&zf->space->lock);
		ret = zdref_unit_error(head);
		goto out;
	}
	get_page(head);
	lock_page(head);
	/*
	 * Holding the unit's lock, this fault is the only one that can map
	 * it here: a PMD there now is another's, done before this one got
	 * the lock.  Without the check, do_set_pmd() would fall back, and a
	 * zap of that PMD before finish_fault() installs a page table would
	 * let it map the unit by PTE.
	 */
	if (!pmd_none(READ_ONCE(*vmf->pmd))) {
		up_read(&zf->space->lock);
		unlock_page(head);
		put_page(head);
		ret = VM_FAULT_NOPAGE;
		goto out;
	}
	up_read(&zf->space->lock);
	if (PageHasHWPoisoned(head)) {
		unlock_page(head);
		put_page(head);
		why = "the unit has a hardware-poisoned page";
		ret = VM_FAULT_SIGBUS;
		goto refused;
	}
	/* 6.12's finish_fault() checks the folio's end against i_size. */
	head->index = pgoff;
	vmf->page = head;
	ret = VM_FAULT_LOCKED;
	goto out;
refused:
	dev_warn_ratelimited(&zd->dev, "align=2M: no PMD for address %#lx of %s: %s; 2 MiB units are mapped whole only\n",
			     vmf->address, current->comm, why);
out:
	trace_zdref_fault(zd, addr, IS_ERR_OR_NULL(head) ? 0 : page_to_pfn(head),
			  zd->order, (__force unsigned int)ret);
	return ret;
}

static const struct vm_operations_struct zdref_thp_vm_ops = {
	.fault = zdref_thp_fault,
	.may_split = zdref_may_split,
	ZDREF_NO_NUMA_BALANCING
};

/*
 * After a release took @n units out of its space, under its write lock: a
 * fault that found one before still holds it locked and maps it once it
 * returns.  Wait for each such fault, then unmap again, as truncation does
 * for a page cache.  No fault can map another unit here meanwhile: that
 * would need the space's lock.
 */
static void zdref_thp_settle(struct file *file, u64 offset, u64 length,
			     struct zdref_released *rel, u64 n)
{
	u64 i;

	for (i = 0; i < n; i++) {
		lock_page(rel[i].page);
		unlock_page(rel[i].page);
	}
	unmap_mapping_range(file->f_mapping, offset, length, 0);
}

static bool zdref_thp_hw(void)
{
	return has_transparent_hugepage();
}
#else
static const struct vm_operations_struct zdref_thp_vm_ops;

static void zdref_thp_settle(struct file *file, u64 offset, u64 length,
			     struct zdref_released *rel, u64 n)
{
}

static bool zdref_thp_hw(void)
{
	return false;
}
#endif

/**
 * zdref_pmd_maps() - can zdref map 2 MiB units by PMD on this kernel?
 *
 * Return: true where a PMD mapping of a device folio holds a reference:
 * through vmf_insert_folio_pmd(), or as a file THP's (zdref_thp_fault(),
 * which needs the CPU's 2 MiB pages).  The condition for align=2M.
 */
bool zdref_pmd_maps(void)
{
	return ZDREF_PMD_BY_INSERT || (ZDREF_PMD_BY_FAULT && zdref_thp_hw());
}

/**
 * zdref_file_exit() - wait until no task holds the mappings' memory policy
 *
 * get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR) takes a reference on a mapping's
 * policy (zdref_get_local_policy(), the module's own) and drops it after
 * the mapping may be gone: the module must outlive that drop.  A bounded
 * wait: no new reference can be taken once no mapping is left.
 */
void zdref_file_exit(void)
{
	while (zdref_local_policy_held())
		msleep(20);
}

/**
 * zdref_dax_inode() - do @zd's mappings hang off a DAX inode?
 * @zd: the device
 *
 * Return: false for 2 MiB units mapped as a file's THPs, which a DAX
 * mapping would zap without a put; true otherwise (inode.c).
 */
bool zdref_dax_inode(const struct zdref_dev *zd)
{
	return !zdref_thp_route(zd);
}

static const struct vm_operations_struct zdref_vm_ops = {
	.fault = zdref_fault,
	.may_split = zdref_may_split,
#if ZDREF_PMD_BY_INSERT
	.huge_fault = zdref_huge_fault,
#endif
};

static int zdref_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct zdref_file *zf = file->private_data;

	unsigned long unit = PAGE_SIZE << zf->zd->order;

	if (!zf->zd->info->cpu_maps) {
		dev_info_ratelimited(&zf->zd->dev, "device-private memory cannot be mapped by the CPU\n");
		return -EOPNOTSUPP;
	}
	if (zf->zd->order &&
	    (!(vma->vm_flags & VM_SHARED) || !IS_ALIGNED(vma->vm_start, unit) ||
	     !IS_ALIGNED(vma->vm_end, unit) ||
	     !IS_ALIGNED(vma->vm_pgoff << PAGE_SHIFT, unit))) {
		dev_info_ratelimited(&zf->zd->dev, "align=2M: map with MAP_SHARED, and address, length and offset multiples of 2 MiB\n");
		return -EINVAL;
	}
	/*
	 * A file has at most one unit per unit of the device: an offset
	 * past that could never be backed, and each offset mapped costs
	 * XArray nodes.
	 */
	if (vma->vm_pgoff + vma_pages(vma) > zdref_pages_total(zf->zd)) {
		dev_info_ratelimited(&zf->zd->dev, "mmap: offset %#llx and length %#lx reach past the device's %llu bytes\n",
				     (u64)vma->vm_pgoff << PAGE_SHIFT,
				     vma->vm_end - vma->vm_start,
				     zdref_pages_total(zf->zd) << PAGE_SHIFT);
		return -EINVAL;
	}
	/*
	 * FS_DAX mappings hold a file of the device's S_DAX inode, not the
	 * device node: to the kernel they are an FS DAX file's
	 * (vma_is_fsdax()), whose pages GUP never pins long-term
	 * (check_vma_flags(): -EOPNOTSUPP), on every kernel.  With the node
	 * (S_ISCHR, device-dax's case) 7.x would retry a migration that
	 * cannot happen until the caller is killed.
	 */
	if (zf->map_file && vma->vm_file != zf->map_file)
		vma_set_file(vma, zf->map_file);
	if (zdref_thp_route(zf->zd)) {
		vma->vm_ops = &zdref_thp_vm_ops;
		return 0;
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
	if (!vma || !vma->vm_file || (vma->vm_file->f_op != &zdref_fops &&
				      vma->vm_file->f_op != &zdref_map_fops)) {
		ret = -EINVAL;	/* not an address of a zdref mapping */
		goto out;
	}
	zf = vma->vm_file->private_data;
	zd = zf->zd;
	pgoff = vma->vm_pgoff + ((info.addr - vma->vm_start) >> PAGE_SHIFT);
	info.offset = (u64)pgoff << PAGE_SHIFT;

	down_read(&zf->space->lock);
	page = xa_load(&zf->space->pages, pgoff >> zd->order);
	if (page) {
		/*
		 * A physical address only for an opener with CAP_SYS_ADMIN,
		 * as /proc/PID/pagemap decides it: pfns help Rowhammer.
		 */
		if (file_ns_capable(file, &init_user_ns, CAP_SYS_ADMIN))
			info.pfn = page_to_pfn(page) +
				   (pgoff & (zdref_unit_pages(zd) - 1));
		/* The count and mapcount are the unit's, kept in its head. */
		info.state = READ_ONCE(zdref_unit_of(zd, page)->state);
		info.refcount = zdref_ref_count(&zd->model, page);
		info.raw_refcount = page_ref_count(page);
		info.mapcount = zdref_page_mapcount(page);
	}
	up_read(&zf->space->lock);
out:
	mmap_read_unlock(current->mm);
	if (!ret && copy_to_user(arg, &info, sizeof(info)))
		ret = -EFAULT;
	return ret;
}

static bool zdref_all_freed(struct zdref_dev *zd, struct zdref_released *rel,
			    u64 n, u64 *busy)
{
	u64 i;

	*busy = 0;
	for (i = 0; i < n; i++)
		if (!zdref_unit_freed_since(zd, rel[i].page, rel[i].gen))
			(*busy)++;
	return !*busy;
}

static long zdref_ioc_release(struct file *file, void __user *arg)
{
	struct zdref_file *zf = file->private_data;
	struct zdref_space *space = zf->space;
	struct zdref_dev *zd = zf->zd;
	unsigned int shift = PAGE_SHIFT + zd->order;
	struct zdref_put_batch batch = { };
	struct zdref_released *rel;
	struct zdref_release req;
	pgoff_t first, last, index;
	unsigned long waited;
	struct page *page;
	u64 n = 0, cap;
	long ret = 0, left;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags || !req.length || req.offset + req.length < req.offset)
		return -EINVAL;
	if ((req.offset | req.length) & ((1ULL << shift) - 1)) {
		dev_info_ratelimited(&zd->dev, "release: offset %llu and length %llu must be multiples of the %lu KiB allocation unit\n",
				     req.offset, req.length, 4UL << zd->order);
		return -EINVAL;
	}
	first = req.offset >> shift;
	last = first + (req.length >> shift) - 1;

	down_write(&space->lock);
	cap = 0;
	xa_for_each_range(&space->pages, index, page, first, last)
		cap++;
	/*
	 * At most one entry per unit of the device; charged to the caller,
	 * who with scope=device may release pages others faulted in.
	 */
	rel = kvmalloc_array(max_t(u64, cap, 1), sizeof(*rel), GFP_KERNEL_ACCOUNT);
	if (!rel) {
		up_write(&space->lock);
		return -ENOMEM;
	}
	/*
	 * Every open file of the device shares the inode's mapping: this
	 * also unmaps other files' pages at these offsets.  With scope=file
	 * they fault their own back in, unchanged, and only this file's
	 * pages are given up; with scope=device the pages are everyone's,
	 * and the next fault at these offsets hands out a zeroed one.
	 * Private copies (MAP_PRIVATE after a write) are system RAM: left
	 * alone.
	 */
	unmap_mapping_range(file->f_mapping, req.offset, req.length, 0);
	xa_for_each_range(&space->pages, index, page, first, last) {
		xa_erase(&space->pages, index);
		rel[n].page = page;
		rel[n].gen = READ_ONCE(zdref_unit_of(zd, page)->gen);
		n++;
	}
	if (zdref_thp_route(zd))
		zdref_thp_settle(file, req.offset, req.length, rel, n);
	up_write(&space->lock);
	/* Units pinned when the device's last file went may be gone. */
	zdref_space_kick(zd);

	for (index = 0; index < n; index++)
		zdref_put_batch_add(zd, &batch, rel[index].page);
	zdref_put_batch_end(zd, &batch);

	waited = jiffies;
	left = msecs_to_jiffies(req.timeout_ms);
	left = wait_event_interruptible_timeout(zd->free_wq,
						zdref_all_freed(zd, rel, n, &req.busy),
						left);
	/* The pages are given up already: a restart would find none. */
	if (left < 0)
		ret = -EINTR;
	else if (!zdref_all_freed(zd, rel, n, &req.busy))
		ret = -ETIMEDOUT;
	/* Out in pages (4 KiB), whatever the unit. */
	req.busy <<= zd->order;
	n <<= zd->order;
	trace_zdref_release(zd, req.offset, req.length, n, req.busy,
			    jiffies_to_msecs(jiffies - waited), ret);
	/* Any opener can time a release out in a loop: rate-limited. */
	if (ret == -ETIMEDOUT)
		dev_info_ratelimited(&zd->dev, "release at offset %llu: %llu of %llu pages still referenced after %u ms; they are freed when the last reference drops\n",
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
	/* 2 MiB aligned addresses for DAX files (inode.c), as ext4's. */
	.get_unmapped_area = thp_get_unmapped_area,
	.unlocked_ioctl = zdref_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};
