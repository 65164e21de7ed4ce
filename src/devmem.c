// SPDX-License-Identifier: GPL-2.0
/*
 * zdref: device memory that processes reach by migration, and the
 * migrations in and out of it: device-private and device-coherent.
 *
 * zdref emulates a device with memory of its own, as a GPU driver would
 * have: the struct pages of the pool stand for it.  The CPU cannot
 * address device-private pages, so the contents of each live in a system
 * page that zdref allocates when the device page leaves the pool and
 * frees when the page returns to it.  Device-coherent pages are memory
 * the CPU addresses (here, a memmap= range): each holds its own data,
 * and the CPU maps it in place once it has migrated in.  Either way
 * page->zone_device_data of a page handed out points to the page that
 * holds its data: its backing page, or itself.
 *
 * A device page leaves the pool locked at refcount 1, the reference of
 * whoever asked for it.  migrate_vma_pages() turns that into the
 * reference of the entry that replaces the CPU's page table entry (a
 * device-private entry, or a present PTE for coherent memory), and every
 * further mapping (fork) takes one more.  When the last drops (munmap,
 * exit, migration back to RAM) the kernel calls zdref's folio_free: the
 * same free-at-zero model as the other types.
 *
 * Pages come back to system RAM in three ways: a CPU touch of a
 * device-private page (migrate_to_ram), the mirror's MIGRATE_TO_SYS, and
 * eviction of the whole device (the mirror's RELEASE).  The kernel moves
 * a device-coherent page itself before pinning it for the long term
 * (FOLL_LONGTERM), and frees it here.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>

#include <zdref/compat.h>
#include "private.h"
#include "trace.h"

#if ZDREF_HAVE_HMM_MIRROR

/* Device pages evicted per migrate_device_range() call. */
#define ZDREF_EVICT_BATCH	64
#define ZDREF_EVICT_PASSES	16

/* The migrate_vma selection of a device's own pages. */
static unsigned long zdref_devmem_select(struct zdref_dev *zd)
{
	return zd->info->in_place ? MIGRATE_VMA_SELECT_DEVICE_COHERENT :
				    MIGRATE_VMA_SELECT_DEVICE_PRIVATE;
}

/**
 * zdref_devmem_alloc() - take a device page out of the pool
 * @zd: a device-private or device-coherent device
 * @addr: the user address whose data it is for
 *
 * The page's contents (zdref_devmem_data()) are not cleared: callers copy
 * into them or clear them.
 *
 * Return: the page, locked, at refcount 1, or NULL when the device's
 * memory or system memory is exhausted.
 */
struct page *zdref_devmem_alloc(struct zdref_dev *zd, unsigned long addr)
{
	struct page *backing = NULL, *page;

	/* Charged to whoever moves data to the device, as their own RAM. */
	if (!zd->info->in_place) {
		backing = alloc_page(GFP_HIGHUSER | __GFP_ACCOUNT);
		if (!backing)
			return NULL;
	}
	page = zdref_pool_take(zd, addr);
	if (!page) {
		if (backing)
			__free_page(backing);
		dev_warn_ratelimited(&zd->dev, "device memory exhausted: all %llu pages are in use\n",
				     zdref_pages_total(zd));
		return NULL;
	}
	/*
	 * A device page can outlive every file of the device (it sits in
	 * a process's page tables): it holds the module until its free
	 * callback, so that rmmod is refused while device memory is in use.
	 */
	__module_get(THIS_MODULE);
	/* zone_device_data is stored under the page lock: see eviction. */
	zone_device_page_init(page, &zd->pgmap, 0);
	page->zone_device_data = backing ?: page;
	trace_zdref_hand_out(zd, page_to_pfn(page), addr, page_ref_count(page));
	return page;
}

/*
 * Device memory's last-drop rule, callback then final (refcount.h): a
 * page handed out to the mirror's users or the KUnit suites is a
 * zone_device_page_init()'ed page, its contents zeroed.
 */
static struct page *zdref_devmem_hand_out(struct zdref_dev *zd, u64 index)
{
	struct page *page = zdref_devmem_alloc(zd, index);

	if (page) {
		clear_highpage(page->zone_device_data);
		unlock_page(page);
	}
	return page;
}

/* The kernel sees the last drop: zdref_devmem_free() then. */
static void zdref_devmem_put(struct zdref_dev *zd, struct page *page,
			     struct zdref_page *zp)
{
	put_page(page);
}

/*
 * Nothing of the kernel's touches a device-private or device-coherent
 * page after its free callback (the kernel only drops its pagemap
 * references then, which memunmap_pages() waits for): the page goes back
 * to the pool at once.
 */
static void zdref_devmem_free(struct zdref_dev *zd, struct page *page,
			      struct zdref_page *zp)
{
	struct page *backing = page->zone_device_data;

	/* Owned by nobody but the kernel now: no one else changes @zp. */
	if (READ_ONCE(zp->state) != ZDREF_PAGE_OWNED) {
		zdref_pool_bad_free(zd, page, zp);
		return;
	}
	page->zone_device_data = NULL;
	/* Mirror entries hold their own references: see mirror.c. */
	if (backing && backing != page)
		put_page(backing);
	zdref_pool_return(zd, zp, ZDREF_FREED_BY_CALLBACK);
	/* Taken by zdref_devmem_alloc(): see there. */
	module_put(THIS_MODULE);
}

/* Device pages never go busy: they return to the pool from the callback. */
const struct zdref_page_ops zdref_devmem_ops = {
	.hand_out	= zdref_devmem_hand_out,
	.put		= zdref_devmem_put,
	.freed		= zdref_devmem_free,
};

/**
 * zdref_devmem_moved_in() - count pages a mirror moved into the device
 * @zd: the device
 * @pages: how many
 */
void zdref_devmem_moved_in(struct zdref_dev *zd, unsigned long pages)
{
	atomic64_add(pages, &zd->migrated_to_dev);
	trace_zdref_migrate(zd, true, pages, ZDREF_MIGRATE_IOCTL);
}

/* Count pages moved back to system RAM. */
static void zdref_devmem_moved_out(struct zdref_dev *zd, unsigned long pages,
				   enum zdref_migrate_reason why)
{
	atomic64_add(pages, &zd->migrated_to_ram);
	trace_zdref_migrate(zd, false, pages, why);
}

/**
 * zdref_devmem_data() - the page that holds a device page's data
 * @zd: the device asking
 * @page: any page
 *
 * Return: if @page is device memory of @zd, the system page behind it
 * (device-private) or @page itself (device-coherent); else NULL.
 */
struct page *zdref_devmem_data(struct zdref_dev *zd, struct page *page)
{
	if (!is_zone_device_page(page) || zdref_page_pgmap(page) != &zd->pgmap)
		return NULL;
	return page->zone_device_data;
}

/*
 * Give @dpage, a system page, the data of @spage, a device page, for a
 * migration whose source entry is @src: the destination entry.
 */
static unsigned long zdref_devmem_fill(struct page *dpage, struct page *spage,
				       unsigned long src)
{
	lock_page(dpage);
	copy_highpage(dpage, spage->zone_device_data);
	return migrate_pfn(page_to_pfn(dpage)) | (src & MIGRATE_PFN_WRITE);
}

/* Entries of @src and @dst, @n each, that did move. */
static unsigned long zdref_migrated(const unsigned long *src,
				    const unsigned long *dst, unsigned long n)
{
	unsigned long i, moved = 0;

	for (i = 0; i < n; i++)
		if (dst[i] && (src[i] & MIGRATE_PFN_MIGRATE))
			moved++;
	return moved;
}

/*
 * For each device page of @args that migrates, a system page with its
 * data.  A page that cannot have one stays on the device.  The holes and
 * system pages of the range that migrate_vma_setup() selects too have
 * nothing to move.
 *
 * Return: the device pages that found no system page.
 */
static unsigned long zdref_devmem_copy_out(struct zdref_dev *zd,
					   struct migrate_vma *args)
{
	unsigned long i, addr, missed = 0;

	/*
	 * zdref's own migrations keep mirror entries (see mirror.c): every
	 * mirror of the device forgets these pages before they are copied,
	 * so that no device write lands after the copy.
	 */
	zdref_mirrors_forget(zd, args);
	for (i = 0, addr = args->start; i < args->npages; i++, addr += PAGE_SIZE) {
		struct page *spage = migrate_pfn_to_page(args->src[i]);
		struct page *dpage;

		args->dst[i] = 0;
		if (!spage || !(args->src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		dpage = alloc_page_vma(GFP_HIGHUSER_MOVABLE, args->vma, addr);
		if (!dpage) {
			missed++;
			continue;
		}
		args->dst[i] = zdref_devmem_fill(dpage, spage, args->src[i]);
	}
	return missed;
}

/**
 * zdref_devmem_to_ram() - move a range's device pages back to system RAM
 * @zd: the device whose pages to move
 * @vma: the range's vma
 * @start: page-aligned start, inside @vma
 * @end: page-aligned end, inside @vma
 * @fault_page: the page of a CPU fault, locked, or NULL
 * @why: ZDREF_MIGRATE_CPU_FAULT with @fault_page, else ZDREF_MIGRATE_IOCTL
 * @moved: out: pages moved
 *
 * Return: 0, the error of migrate_vma_setup(), or -ENOMEM if a page that
 * should have moved stayed on the device for want of system memory.
 */
int zdref_devmem_to_ram(struct zdref_dev *zd, struct vm_area_struct *vma,
			unsigned long start, unsigned long end,
			struct page *fault_page, enum zdref_migrate_reason why,
			unsigned long *moved)
{
	unsigned long npages = (end - start) >> PAGE_SHIFT, missed;
	struct migrate_vma args = {
		.vma = vma,
		.start = start,
		.end = end,
		.pgmap_owner = zd,
		.flags = zdref_devmem_select(zd),
		.fault_page = fault_page,
	};
	int ret;

	*moved = 0;
	args.src = kvcalloc(npages, sizeof(*args.src), GFP_KERNEL);
	args.dst = kvcalloc(npages, sizeof(*args.dst), GFP_KERNEL);
	ret = -ENOMEM;
	if (!args.src || !args.dst)
		goto out;
	ret = migrate_vma_setup(&args);
	if (ret)
		goto out;
	missed = args.cpages ? zdref_devmem_copy_out(zd, &args) : 0;
	migrate_vma_pages(&args);
	*moved = zdref_migrated(args.src, args.dst, args.npages);
	migrate_vma_finalize(&args);
	zdref_devmem_moved_out(zd, *moved, why);
	ret = missed ? -ENOMEM : 0;
out:
	kvfree(args.src);
	kvfree(args.dst);
	return ret;
}

/**
 * zdref_devmem_migrate_to_ram() - the pagemap's callback for a CPU touch
 * @vmf: the fault on a device-private entry of zdref's; vmf->page is
 *	locked and referenced by the kernel
 *
 * Return: 0 once the page is back in system RAM, VM_FAULT_SIGBUS if it
 * cannot be collected, VM_FAULT_OOM without system memory for it.
 */
vm_fault_t zdref_devmem_migrate_to_ram(struct vm_fault *vmf)
{
	struct zdref_dev *zd = zdref_pgmap_to_dev(zdref_page_pgmap(vmf->page));
	unsigned long start = vmf->address & PAGE_MASK, moved;
	int ret;

	atomic64_inc(&zd->cpu_faults);
	ret = zdref_devmem_to_ram(zd, vmf->vma, start, start + PAGE_SIZE,
				  vmf->page, ZDREF_MIGRATE_CPU_FAULT, &moved);
	if (ret == -ENOMEM)
		return VM_FAULT_OOM;
	return ret ? VM_FAULT_SIGBUS : 0;
}

/* One batch of eviction: the in-use pages of [@pfn, @pfn + @n). */
static unsigned long zdref_devmem_evict_batch(struct zdref_dev *zd,
					      unsigned long *src,
					      unsigned long *dst,
					      unsigned long pfn, unsigned long n)
{
	unsigned long i, moved;

	migrate_device_range(src, pfn, n);
	for (i = 0; i < n; i++) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		struct page *dpage;

		dst[i] = 0;
		if (!spage || !(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		/*
		 * A page being handed out: migrate_device_range() took its
		 * lock in the moment between zone_device_page_init()'s count
		 * of 1 and its lock_page(), before zdref_devmem_alloc() could
		 * store its data page (its backing page, or itself).  The
		 * store waits for this lock, so under it the field is stable;
		 * a page without one holds no data yet, and stays (no
		 * destination: restored).
		 */
		if (!spage->zone_device_data)
			continue;
		/* Eviction must not fail: the device is going away. */
		dpage = alloc_page(GFP_HIGHUSER_MOVABLE | __GFP_NOFAIL);
		dst[i] = zdref_devmem_fill(dpage, spage, src[i]);
	}
	migrate_device_pages(src, dst, n);
	moved = zdref_migrated(src, dst, n);
	migrate_device_finalize(src, dst, n);
	return moved;
}

/**
 * zdref_devmem_evict() - move every page of a device back to system RAM
 * @zd: a device-private or device-coherent device
 *
 * Each process that had pages on the device finds them in system RAM,
 * unchanged.  Mirrors forget them through their invalidations.  A page
 * that a concurrent migration holds locked is skipped by a pass: passes
 * repeat until one finds nothing left to move, ZDREF_EVICT_PASSES at most
 * (processes may keep migrating pages in).
 *
 * Return: 0, -ENOMEM, or -EBUSY if pages still moved in the last pass.
 */
int zdref_devmem_evict(struct zdref_dev *zd)
{
	unsigned long first = zd->pfn_first, total = zdref_pages_total(zd);
	unsigned long *src, *dst, pfn, n, moved;
	int pass = 0;

	src = kcalloc(ZDREF_EVICT_BATCH, sizeof(*src), GFP_KERNEL);
	dst = kcalloc(ZDREF_EVICT_BATCH, sizeof(*dst), GFP_KERNEL);
	if (!src || !dst) {
		kfree(src);
		kfree(dst);
		return -ENOMEM;
	}
	do {
		moved = 0;
		for (pfn = first; pfn < first + total; pfn += n) {
			n = min_t(unsigned long, ZDREF_EVICT_BATCH, first + total - pfn);
			moved += zdref_devmem_evict_batch(zd, src, dst, pfn, n);
			cond_resched();
		}
		zdref_devmem_moved_out(zd, moved, ZDREF_MIGRATE_EVICT);
	} while (moved && ++pass < ZDREF_EVICT_PASSES);
	kfree(src);
	kfree(dst);
	return moved ? -EBUSY : 0;
}

#endif /* ZDREF_HAVE_HMM_MIRROR */
