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
 * zd->data says, for each page handed out, the page that holds its data:
 * its backing page, or itself.  It is indexed by pfn rather than kept in
 * page->zone_device_data because a page of a 2 MiB device folio has no
 * such field of its own (a folio's tail pages hold the folio's counts),
 * and the kernel may split the folio at any time.
 *
 * 2 MiB device-private folios (zd->thp, where the kernel migrates THPs
 * whole: probe device_private_thp) come from the pool's whole 2 MiB
 * blocks, each backed by 512 system pages.  A THP migrates to one when
 * the pool has a whole block, and is split by the kernel on its way
 * otherwise; a folio comes back to system RAM as a THP when one can be
 * had, else in pages.  When the kernel splits a device folio (a partial
 * munmap, mremap or MADV_DONTNEED, a CPU touch of one PTE of it), each
 * new folio is freed on its own: it takes a module reference of its own
 * (zdref_devmem_folio_split()), and its pages go back to the pool then.
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

/*
 * Device pages evicted per migrate_device_range() call: a whole 2 MiB
 * folio, which the kernel migrates only in a call that covers it.
 */
#define ZDREF_EVICT_BATCH	HPAGE_PMD_NR
#define ZDREF_EVICT_PASSES	16

/* The migrate_vma selection of a device's own pages, folios whole. */
static unsigned long zdref_devmem_select(struct zdref_dev *zd)
{
	return (zd->info->in_place ? MIGRATE_VMA_SELECT_DEVICE_COHERENT :
				     MIGRATE_VMA_SELECT_DEVICE_PRIVATE) |
	       (zd->thp ? ZDREF_MIGRATE_VMA_SELECT_COMPOUND : 0);
}

/* The slot of zd->data for device page @page. */
static struct page **zdref_devmem_slot(struct zdref_dev *zd, struct page *page)
{
	return &zd->data[page_to_pfn(page) - zd->pfn_first];
}

/**
 * zdref_devmem_init() - a device-private or -coherent device's data slots
 * @zd: the device, its range claimed
 *
 * Return: 0 or -ENOMEM.
 */
int zdref_devmem_init(struct zdref_dev *zd)
{
	zd->data = kvcalloc(zdref_pages_total(zd), sizeof(*zd->data), GFP_KERNEL);
	return zd->data ? 0 : -ENOMEM;
}

/**
 * zdref_devmem_exit() - undo zdref_devmem_init()
 * @zd: the device, every page of it back in the pool
 */
void zdref_devmem_exit(struct zdref_dev *zd)
{
	kvfree(zd->data);
	zd->data = NULL;
}

/*
 * The system pages behind a device-private allocation of @order: for a
 * 2 MiB folio, 512 pages of one block split into pages of their own, so
 * that each is freed on its own whatever the device folio is split into.
 * Charged to whoever moves data to the device, as their own RAM.
 */
static struct page *zdref_devmem_backing(unsigned int order)
{
	struct page *backing;

	if (!order)
		return alloc_page(GFP_HIGHUSER | __GFP_ACCOUNT);
	backing = alloc_pages(GFP_HIGHUSER | __GFP_ACCOUNT | __GFP_NOWARN |
			      __GFP_NORETRY, order);
	if (backing)
		split_page(backing, order);
	return backing;
}

static void zdref_devmem_backing_free(struct page *backing, unsigned int order)
{
	unsigned long i;

	for (i = 0; i < (1UL << order); i++)
		__free_page(backing + i);
}

/**
 * zdref_devmem_alloc() - take device memory out of the pool
 * @zd: a device-private or device-coherent device
 * @addr: the user address whose data it is for
 * @order: 0 for a page; HPAGE_PMD_ORDER for a 2 MiB folio, where @zd->thp
 *
 * The contents (zdref_devmem_data() of each page) are not cleared:
 * callers copy into them or clear them.
 *
 * Return: the (head) page, locked, at refcount 1, or NULL when the
 * device's memory (for a folio: a whole free 2 MiB block of it) or
 * system memory is exhausted.
 */
struct page *zdref_devmem_alloc(struct zdref_dev *zd, unsigned long addr,
				unsigned int order)
{
	struct page *backing = NULL, *page;
	unsigned long i;

	if (!zd->info->in_place) {
		backing = zdref_devmem_backing(order);
		if (!backing)
			return NULL;
	}
	page = order ? zdref_pool_take_block(zd, addr) : zdref_pool_take(zd, addr);
	if (!page) {
		if (backing)
			zdref_devmem_backing_free(backing, order);
		/* A folio falls back to pages: only they say "exhausted". */
		if (!order)
			dev_warn_ratelimited(&zd->dev, "device memory exhausted: all %llu pages are in use\n",
					     zdref_pages_total(zd));
		return NULL;
	}
	/*
	 * Device memory can outlive every file of the device (it sits in a
	 * process's page tables): each folio holds the module until its free
	 * callback, so that rmmod is refused while device memory is in use.
	 */
	__module_get(THIS_MODULE);
	zdref_device_folio_init(page, &zd->pgmap, order);
	/* Stored under the page lock: see eviction. */
	for (i = 0; i < (1UL << order); i++)
		WRITE_ONCE(*zdref_devmem_slot(zd, page + i),
			   backing ? backing + i : page + i);
	if (order)
		atomic64_inc(&zd->thp_allocs);
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
	struct page *page = zdref_devmem_alloc(zd, index, 0);

	if (page) {
		clear_highpage(zdref_devmem_data(zd, page));
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
 * folio after its free callback (the kernel only drops its pagemap
 * references then, which memunmap_pages() waits for): its pages go back
 * to the pool at once, all of them under one hold of the pool's lock.
 */
static void zdref_devmem_free(struct zdref_dev *zd, struct page *page,
			      struct zdref_page *zp)
{
	unsigned long i, nr = folio_nr_pages(page_folio(page));

	/* Owned by nobody but the kernel now: no one else changes @zp. */
	for (i = 0; i < nr; i++)
		if (READ_ONCE(zp[i].state) != ZDREF_PAGE_OWNED) {
			zdref_pool_bad_free(zd, page + i, zp + i);
			return;
		}
	for (i = 0; i < nr; i++) {
		struct page **slot = zdref_devmem_slot(zd, page + i);
		struct page *backing = *slot;

		WRITE_ONCE(*slot, NULL);
		/* Mirror entries hold their own references: see mirror.c. */
		if (backing && backing != page + i)
			put_page(backing);
	}
	zdref_pool_return_units(zd, zp, nr, ZDREF_FREED_BY_CALLBACK);
	/* Taken by zdref_devmem_alloc() or the split: see there. */
	module_put(THIS_MODULE);
}

/**
 * zdref_devmem_folio_split() - the pagemap's callback when the kernel
 * splits a 2 MiB device folio
 * @head: the folio being split, which keeps its first pages
 * @tail: each new folio split off it, then NULL once the split is done
 *
 * What the kernel does for a pagemap without the callback (the new
 * folio's pagemap and anon mapping), and the new folio's own module
 * reference, which its own free callback drops.  The data of its pages
 * stays in zd->data, indexed by pfn.
 */
void zdref_devmem_folio_split(struct folio *head, struct folio *tail)
{
	struct dev_pagemap *pgmap = zdref_page_pgmap(&head->page);

	if (!tail)
		return;
	zdref_folio_set_pgmap(tail, pgmap);
	tail->page.mapping = head->page.mapping;
	__module_get(THIS_MODULE);
	atomic64_inc(&zdref_pgmap_to_dev(pgmap)->thp_splits);
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
	return READ_ONCE(*zdref_devmem_slot(zd, page));
}

/*
 * Give @dpage, system memory of the size @src says (a page, or a THP),
 * the data of @spage, device memory, for a migration whose source entry
 * is @src: the destination entry.
 */
static unsigned long zdref_devmem_fill(struct zdref_dev *zd, struct page *dpage,
				       struct page *spage, unsigned long src)
{
	unsigned long i, nr = zdref_migrate_pages(src);

	lock_page(dpage);
	for (i = 0; i < nr; i++) {
		copy_highpage(dpage + i, zdref_devmem_data(zd, spage + i));
		if (i % 64 == 63)
			cond_resched();
	}
	return migrate_pfn(page_to_pfn(dpage)) |
	       (src & (MIGRATE_PFN_WRITE | ZDREF_MIGRATE_PFN_COMPOUND));
}

/* Pages of @src and @dst, @n entries each, that did move. */
static unsigned long zdref_migrated(const unsigned long *src,
				    const unsigned long *dst, unsigned long n)
{
	unsigned long i, moved = 0;

	for (i = 0; i < n; i++)
		if (dst[i] && (src[i] & MIGRATE_PFN_MIGRATE))
			moved += zdref_migrate_pages(src[i]);
	return moved;
}

/*
 * A THP for the device folio at @addr of @vma, or NULL: then the kernel
 * splits the device folio, and each page comes back on its own.  The
 * mirror's FAIL_ALLOC (@flags, if any) makes the next one NULL.
 */
static struct page *zdref_devmem_thp(struct vm_area_struct *vma,
				     unsigned long addr, u64 *flags)
{
	struct folio *folio;

	if (flags && (*flags & ZDREF_HMM_FLAG_FAIL_ALLOC)) {
		*flags &= ~ZDREF_HMM_FLAG_FAIL_ALLOC;
		return NULL;
	}
	folio = vma_alloc_folio(GFP_TRANSHUGE, HPAGE_PMD_ORDER, vma, addr);
	return folio ? &folio->page : NULL;
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
					   struct migrate_vma *args, u64 *flags)
{
	unsigned long i, j, n, addr, missed = 0;

	/*
	 * zdref's own migrations keep mirror entries (see mirror.c): every
	 * mirror of the device forgets these pages before they are copied,
	 * so that no device write lands after the copy.
	 */
	zdref_mirrors_forget(zd, args);
	for (i = 0; i < args->npages; i++)
		args->dst[i] = 0;
	for (i = 0; i < args->npages; i += n) {
		unsigned long src = args->src[i];
		struct page *spage = migrate_pfn_to_page(src);
		struct page *dpage = NULL;

		n = zdref_migrate_pages(src);
		addr = args->start + (i << PAGE_SHIFT);
		if (!spage || !(src & MIGRATE_PFN_MIGRATE))
			continue;
		if (n > 1)
			dpage = zdref_devmem_thp(args->vma, addr, flags);
		if (dpage) {
			args->dst[i] = zdref_devmem_fill(zd, dpage, spage, src);
			continue;
		}
		/* Page by page: the kernel splits a device folio for that. */
		src &= ~ZDREF_MIGRATE_PFN_COMPOUND;
		for (j = 0; j < n; j++) {
			dpage = alloc_page_vma(GFP_HIGHUSER_MOVABLE, args->vma,
					       addr + (j << PAGE_SHIFT));
			if (!dpage) {
				missed++;
				continue;
			}
			args->dst[i + j] = zdref_devmem_fill(zd, dpage, spage + j, src);
		}
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
 * @flags: the mirror's ZDREF_HMM_FLAGS, or NULL
 * @moved: out: pages moved
 *
 * Return: 0, the error of migrate_vma_setup(), or -ENOMEM if a page that
 * should have moved stayed on the device for want of system memory.
 */
int zdref_devmem_to_ram(struct zdref_dev *zd, struct vm_area_struct *vma,
			unsigned long start, unsigned long end,
			struct page *fault_page, enum zdref_migrate_reason why,
			u64 *flags, unsigned long *moved)
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
	missed = args.cpages ? zdref_devmem_copy_out(zd, &args, flags) : 0;
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
	unsigned long size = PAGE_SIZE, start, moved;
	int ret;

	/*
	 * A fault on a PMD device entry (no PTE) brings the whole folio
	 * back; one on a PTE, that page: the kernel splits a folio mapped
	 * by PTEs, or in part, on the way.
	 */
	if (!vmf->pte)
		size = folio_size(page_folio(vmf->page));
	start = ALIGN_DOWN(vmf->address, size);
	atomic64_inc(&zd->cpu_faults);
	ret = zdref_devmem_to_ram(zd, vmf->vma, start, start + size, vmf->page,
				  ZDREF_MIGRATE_CPU_FAULT, NULL, &moved);
	if (ret == -ENOMEM)
		return VM_FAULT_OOM;
	return ret ? VM_FAULT_SIGBUS : 0;
}

/*
 * One batch of eviction: the in-use pages of [@pfn, @pfn + @n); @missed
 * counts the folios left for want of a THP.
 */
static unsigned long zdref_devmem_evict_batch(struct zdref_dev *zd,
					      unsigned long *src,
					      unsigned long *dst,
					      unsigned long pfn, unsigned long n,
					      unsigned long *missed)
{
	unsigned long i, moved;

	migrate_device_range(src, pfn, n);
	for (i = 0; i < n; i++)
		dst[i] = 0;
	for (i = 0; i < n; i += zdref_migrate_pages(src[i])) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		struct page *dpage;

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
		if (!zdref_devmem_data(zd, spage))
			continue;
		/*
		 * Eviction must not fail: the device is going away.  Without
		 * a vma the kernel cannot split a device folio, so a folio
		 * needs a THP: one that cannot be had leaves it for the next
		 * pass, and the release says -ENOMEM if none finds one.
		 */
		if (src[i] & ZDREF_MIGRATE_PFN_COMPOUND) {
			struct folio *folio = folio_alloc(GFP_HIGHUSER_MOVABLE |
							  __GFP_RETRY_MAYFAIL,
							  HPAGE_PMD_ORDER);

			if (!folio) {
				(*missed)++;
				continue;
			}
			dpage = &folio->page;
		} else {
			dpage = alloc_page(GFP_HIGHUSER_MOVABLE | __GFP_NOFAIL);
		}
		dst[i] = zdref_devmem_fill(zd, dpage, spage, src[i]);
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
 * Return: 0, -ENOMEM (also when a 2 MiB folio found no THP to move to in
 * the last pass), or -EBUSY if pages still moved in the last pass.
 */
int zdref_devmem_evict(struct zdref_dev *zd)
{
	unsigned long first = zd->pfn_first, total = zdref_pages_total(zd);
	unsigned long *src, *dst, pfn, n, moved, missed;
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
		missed = 0;
		for (pfn = first; pfn < first + total; pfn += n) {
			n = min_t(unsigned long, ZDREF_EVICT_BATCH, first + total - pfn);
			moved += zdref_devmem_evict_batch(zd, src, dst, pfn, n,
							  &missed);
			cond_resched();
		}
		zdref_devmem_moved_out(zd, moved, ZDREF_MIGRATE_EVICT);
	} while ((moved || missed) && ++pass < ZDREF_EVICT_PASSES);
	kfree(src);
	kfree(dst);
	if (missed)
		return -ENOMEM;
	return moved ? -EBUSY : 0;
}

#endif /* ZDREF_HAVE_HMM_MIRROR */
