// SPDX-License-Identifier: GPL-2.0
/*
 * zdref: mirrors, the open files of a device-private or device-coherent
 * device.
 *
 * A mirror is zdref's emulated device seen from one process: it mirrors
 * the address space of the process that opened it, through a table of
 * its own (the "device page table") that maps user virtual page numbers
 * to the page holding each page's data: a page of system RAM, the
 * backing page of a device-private page, or a device-coherent page
 * itself (devmem.c).  The user ABI is that of the kernel's HMM test
 * device (uapi/zdref.h), so that tools/testing/selftests/mm/hmm-tests
 * runs against zdref.
 *
 * Like a device's page table, the table is kept coherent by an interval
 * notifier on the whole address space, which drops entries whenever the
 * CPU's page tables change under them.  The one event that keeps them is
 * a migration zdref itself started for this device (MMU_NOTIFY_MIGRATE
 * with the device as owner): a migration forgets, in every mirror of the
 * device, the entries of the pages it selected (zdref_mirrors_forget())
 * before it copies them, and migrating to the device maps the new pages.
 * Such an event still moves the notifier's sequence, so that a fault
 * racing the migration retries instead of storing what it moved.
 *
 * Entries of system RAM and of device-coherent pages hold no reference (a
 * migration would find the page pinned); entries of device-private
 * memory hold one on the backing page, and exclusive entries one on their
 * page (marked ZDREF_MIRROR_REF), so that an entry that outlives its page,
 * racing a munmap, still points to a page of its own.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/hmm.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/rmap.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/xarray.h>

#include <zdref/compat.h>
#include "private.h"

#if ZDREF_HAVE_HMM_MIRROR

/* Tries of a migration to the device that leaves pages behind. */
#define ZDREF_MIGRATE_TRIES	3

/* An entry that holds a reference on its (backing) page. */
#define ZDREF_MIRROR_REF	XA_MARK_1

/* Pages faulted or snapshotted per hmm_range_fault() call. */
#define ZDREF_MIRROR_BATCH	32

/*
 * READ, WRITE and MIGRATE_TO_DEV's copy-out move data through a bounce
 * buffer of at most this size, charged to the caller's memcg, whatever
 * npages says: a request for more works in chunks (and never makes one
 * copy to user space of more than this).
 */
#define ZDREF_MIRROR_CHUNK	(64UL << 20)

/*
 * What a table entry allows, in the low bits of its page pointer: an
 * xa_tag_pointer() tag, 0, 1 or 3 (2 would read as an XArray internal
 * entry).
 */
enum zdref_pte {
	ZDREF_PTE_READ = 0,
	ZDREF_PTE_WRITE = 1,
	ZDREF_PTE_ATOMIC = 3,	/* exclusive: the CPU's PTE is a device entry */
};

/**
 * struct zdref_mirror - an open file of a device-private or -coherent device
 * @zd: the device
 * @notifier: on the opener's mm, over its whole address space
 * @lock: protects @table against the notifier
 * @table: user page number to xa_tag_pointer(system page, enum zdref_pte)
 * @node: in zd->mirrors
 * @flags: ZDREF_HMM_FLAGS
 */
struct zdref_mirror {
	struct zdref_dev *zd;
	struct mmu_interval_notifier notifier;
	struct mutex lock;	/* @table */
	struct xarray table;
	struct list_head node;
	u64 flags;
};

static void zdref_mirror_drop(struct zdref_mirror *m, unsigned long index,
			      void *entry)
{
	if (xa_get_mark(&m->table, index, ZDREF_MIRROR_REF))
		put_page(xa_untag_pointer(entry));
	xa_erase(&m->table, index);
}

static void zdref_mirror_erase(struct zdref_mirror *m, unsigned long start,
			       unsigned long end)
{
	unsigned long index;
	void *entry;

	lockdep_assert_held(&m->lock);
	xa_for_each_range(&m->table, index, entry, start >> PAGE_SHIFT,
			  (end - 1) >> PAGE_SHIFT)
		zdref_mirror_drop(m, index, entry);
}

/*
 * Reserve the table's slots for [@start, @end) before taking @m->lock:
 * the stores under it, which the notifier may wait for from reclaim,
 * then allocate nothing.  zdref_mirror_unreserve() undoes what is left.
 */
static int zdref_mirror_reserve(struct zdref_mirror *m, unsigned long start,
				unsigned long end)
{
	unsigned long addr;
	int ret;

	for (addr = start; addr < end; addr += PAGE_SIZE) {
		ret = xa_reserve(&m->table, addr >> PAGE_SHIFT, GFP_KERNEL);
		if (ret)
			return ret;
	}
	return 0;
}

static void zdref_mirror_unreserve(struct zdref_mirror *m, unsigned long start,
				   unsigned long end)
{
	unsigned long addr;

	for (addr = start; addr < end; addr += PAGE_SIZE)
		xa_release(&m->table, addr >> PAGE_SHIFT);
}

/* Map @addr to @page; @ref: hold @page (a backing or exclusive page). */
static int zdref_mirror_set(struct zdref_mirror *m, unsigned long addr,
			    struct page *page, enum zdref_pte pte, bool ref)
{
	unsigned long index = addr >> PAGE_SHIFT;
	bool had_ref = xa_get_mark(&m->table, index, ZDREF_MIRROR_REF);
	void *old;

	lockdep_assert_held(&m->lock);
	/* Atomic, and normally into a reserved slot: see above. */
	old = xa_store(&m->table, index, xa_tag_pointer(page, pte), GFP_ATOMIC);
	if (xa_is_err(old))
		return xa_err(old);
	if (ref) {
		get_page(page);
		xa_set_mark(&m->table, index, ZDREF_MIRROR_REF);
	} else {
		xa_clear_mark(&m->table, index, ZDREF_MIRROR_REF);
	}
	if (old && had_ref)
		put_page(xa_untag_pointer(old));
	return 0;
}

static bool zdref_mirror_invalidate(struct mmu_interval_notifier *mni,
				    const struct mmu_notifier_range *range,
				    unsigned long cur_seq)
{
	struct zdref_mirror *m = container_of(mni, struct zdref_mirror, notifier);

	if (mmu_notifier_range_blockable(range))
		mutex_lock(&m->lock);
	else if (!mutex_trylock(&m->lock))
		return false;
	mmu_interval_set_seq(mni, cur_seq);
	/* zdref's own migrations keep entries: see the top of this file. */
	if (range->event != MMU_NOTIFY_MIGRATE || range->owner != m->zd)
		zdref_mirror_erase(m, range->start, range->end);
	mutex_unlock(&m->lock);
	return true;
}

static const struct mmu_interval_notifier_ops zdref_mirror_notifier_ops = {
	.invalidate = zdref_mirror_invalidate,
};

/**
 * zdref_mirrors_forget() - drop mirror entries of the pages a migration moves
 * @zd: the device migrating them
 * @args: the migration, set up: the pages it selected are forgotten by
 *	every mirror of @zd on its mm
 */
void zdref_mirrors_forget(struct zdref_dev *zd, const struct migrate_vma *args)
{
	struct mm_struct *mm = args->vma->vm_mm;
	struct zdref_mirror *m;
	unsigned long i;

	mutex_lock(&zd->mirrors_lock);
	list_for_each_entry(m, &zd->mirrors, node) {
		if (m->notifier.mm != mm)
			continue;
		mutex_lock(&m->lock);
		for (i = 0; i < args->npages; i++) {
			unsigned long index = (args->start >> PAGE_SHIFT) + i;
			unsigned long n = zdref_migrate_pages(args->src[i]);

			/* A THP's entry stands for its 512 pages. */
			if (!(args->src[i] & MIGRATE_PFN_MIGRATE))
				continue;
			zdref_mirror_erase(m, index << PAGE_SHIFT,
					   (index + n) << PAGE_SHIFT);
		}
		mutex_unlock(&m->lock);
	}
	mutex_unlock(&zd->mirrors_lock);
}

/* Which way a copy between the table and a buffer goes. */
enum zdref_mirror_dir {
	ZDREF_MIRROR_OUT,	/* from the table's pages: READ */
	ZDREF_MIRROR_IN,	/* into them: WRITE */
};

/*
 * Copy the pages of [@start, @end) the table has, from the (*@done)th on,
 * between them and @buf as @dir says.  -ENOENT at the first page the
 * table lacks (or, for ZDREF_MIRROR_IN, has read-only).
 */
static int zdref_mirror_copy(struct zdref_mirror *m, unsigned long start,
			     unsigned long end, void *buf,
			     enum zdref_mirror_dir dir, u64 *done)
{
	bool write = dir == ZDREF_MIRROR_IN;
	unsigned long addr;

	lockdep_assert_held(&m->lock);
	for (addr = start + (*done << PAGE_SHIFT); addr < end; addr += PAGE_SIZE) {
		void *entry = xa_load(&m->table, addr >> PAGE_SHIFT);
		void *p = buf + (addr - start);
		struct page *page;

		if (!entry || (write && xa_pointer_tag(entry) != ZDREF_PTE_WRITE))
			return -ENOENT;
		page = xa_untag_pointer(entry);
		if (write)
			memcpy_to_page(page, 0, p, PAGE_SIZE);
		else
			memcpy_from_page(p, page, 0, PAGE_SIZE);
		(*done)++;
	}
	return 0;
}

/* hmm_range_fault(), with the mmap lock taken here or (@unlocked) by it. */
static int zdref_mirror_hmm_fault(struct hmm_range *range, struct mm_struct *mm,
				  bool unlocked)
{
	int ret;

	if (unlocked)
		return zdref_hmm_range_fault_unlocked(range);
	range->notifier_seq = mmu_interval_read_begin(range->notifier);
	mmap_read_lock(mm);
	ret = hmm_range_fault(range);
	mmap_read_unlock(mm);
	return ret;
}

/*
 * hmm_range_fault() over one batch until no invalidation raced it: on
 * success, with @m->lock held, so that the answer stays valid while the
 * caller uses it.
 */
static int zdref_mirror_walk_batch(struct zdref_mirror *m,
				   struct hmm_range *range, bool unlocked)
{
	struct mm_struct *mm = m->notifier.mm;
	unsigned long timeout = jiffies + msecs_to_jiffies(HMM_RANGE_DEFAULT_TIMEOUT);
	int ret;

	for (;;) {
		if (time_after(jiffies, timeout))
			return -EBUSY;
		ret = zdref_mirror_hmm_fault(range, mm, unlocked);
		if (ret == -EBUSY)
			continue;
		if (ret)
			return ret;
		mutex_lock(&m->lock);
		if (!mmu_interval_read_retry(range->notifier, range->notifier_seq))
			return 0;
		mutex_unlock(&m->lock);
	}
}

/*
 * Map one batch into the table: the pages @range->default_flags fault in
 * or, without HMM_PFN_REQ_FAULT, only those already in this device's
 * memory.  For a page of device memory the table stores the page that
 * holds its data: never a device-private page, which has no kernel
 * mapping, but its backing page.
 */
static int zdref_mirror_map_batch(struct zdref_mirror *m,
				  struct hmm_range *range, bool unlocked)
{
	bool faulting = range->default_flags & HMM_PFN_REQ_FAULT;
	unsigned long addr, *pfn;
	int ret;

	ret = zdref_mirror_reserve(m, range->start, range->end);
	if (!ret)
		ret = zdref_mirror_walk_batch(m, range, unlocked);
	if (ret)
		goto out;
	for (addr = range->start, pfn = range->hmm_pfns; addr < range->end;
	     addr += PAGE_SIZE, pfn++) {
		struct page *page, *data;
		enum zdref_pte pte;

		if (!(*pfn & HMM_PFN_VALID))
			continue;
		page = hmm_pfn_to_page(*pfn);
		data = zdref_devmem_data(m->zd, page);
		if (!data && (!faulting || is_device_private_page(page)))
			continue;
		pte = *pfn & HMM_PFN_WRITE ? ZDREF_PTE_WRITE : ZDREF_PTE_READ;
		ret = zdref_mirror_set(m, addr, data ?: page, pte,
				       data && data != page);
		if (ret)
			break;
	}
	mutex_unlock(&m->lock);
out:
	zdref_mirror_unreserve(m, range->start, range->end);
	return ret;
}

/*
 * Map [@start, @end) into the table in batches, faulting with @flags
 * (HMM_PFN_REQ_*), or with 0 remapping only this device's own pages.
 */
static int zdref_mirror_map(struct zdref_mirror *m, unsigned long start,
			    unsigned long end, unsigned long flags, bool unlocked)
{
	unsigned long pfns[ZDREF_MIRROR_BATCH];
	struct hmm_range range = {
		.notifier = &m->notifier,
		.hmm_pfns = pfns,
		.default_flags = flags,
		.dev_private_owner = m->zd,
	};
	struct mm_struct *mm = m->notifier.mm;
	int ret = 0;

	if (!mmget_not_zero(mm))
		return -EFAULT;
	for (range.start = start; range.start < end; range.start = range.end) {
		ret = -EINTR;
		if (fatal_signal_pending(current))
			break;
		range.end = min(end, range.start + (ZDREF_MIRROR_BATCH << PAGE_SHIFT));
		ret = zdref_mirror_map_batch(m, &range, unlocked);
		if (ret)
			break;
	}
	mmput(mm);
	return ret;
}

/* What a copy between the table and user space does for a missing page. */
enum zdref_mirror_fault {
	ZDREF_MIRROR_NO_FAULT,		/* -ENOENT: the table's pages only */
	ZDREF_MIRROR_FAULT,		/* fault it in, mmap lock taken here */
	ZDREF_MIRROR_FAULT_UNLOCKED,	/* fault it in, the fault may drop it */
};

/*
 * One chunk of a copy, [@start, @start + @size): copy, fault in what is
 * missing as @fault says, again.  @done counts the chunk's pages copied.
 */
static int zdref_mirror_rw_chunk(struct zdref_mirror *m, struct zdref_hmm_cmd *cmd,
				 unsigned long start, unsigned long size, void *buf,
				 enum zdref_mirror_dir dir, enum zdref_mirror_fault fault,
				 u64 *done)
{
	unsigned long req = HMM_PFN_REQ_FAULT |
			    (dir == ZDREF_MIRROR_IN ? HMM_PFN_REQ_WRITE : 0);
	int ret;

	for (;;) {
		mutex_lock(&m->lock);
		ret = zdref_mirror_copy(m, start, start + size, buf, dir, done);
		mutex_unlock(&m->lock);
		if (ret != -ENOENT || fault == ZDREF_MIRROR_NO_FAULT)
			return ret;
		if (fatal_signal_pending(current))
			return -EINTR;
		ret = zdref_mirror_map(m, start + (*done << PAGE_SHIFT),
				       start + size, req,
				       fault == ZDREF_MIRROR_FAULT_UNLOCKED);
		if (ret)
			return ret;
		cmd->faults++;
	}
}

/*
 * READ, READ_UNLOCKED and WRITE, and the copy-out of MIGRATE_TO_DEV
 * (ZDREF_MIRROR_NO_FAULT), a chunk at a time.
 */
static int zdref_mirror_rw(struct zdref_mirror *m, struct zdref_hmm_cmd *cmd,
			   enum zdref_mirror_dir dir, enum zdref_mirror_fault fault)
{
	bool write = dir == ZDREF_MIRROR_IN;
	unsigned long end = cmd->addr + (cmd->npages << PAGE_SHIFT), start, size;
	void __user *ubuf = u64_to_user_ptr(cmd->ptr);
	int ret = 0;
	void *buf;

	buf = kvmalloc(min(end - cmd->addr, ZDREF_MIRROR_CHUNK), GFP_KERNEL_ACCOUNT);
	if (!buf)
		return -ENOMEM;
	for (start = cmd->addr; start < end; start += size, ubuf += size) {
		u64 done = 0;

		size = min(end - start, ZDREF_MIRROR_CHUNK);
		ret = -EINTR;
		if (fatal_signal_pending(current))
			break;
		ret = -EFAULT;
		if (write && copy_from_user(buf, ubuf, size))
			break;
		ret = zdref_mirror_rw_chunk(m, cmd, start, size, buf, dir,
					    fault, &done);
		cmd->cpages += done;
		if (!ret && !write && copy_to_user(ubuf, buf, size))
			ret = -EFAULT;
		if (ret)
			break;
	}
	kvfree(buf);
	return ret;
}

/* Does the table lack a page of [@start, @end)? */
static bool zdref_mirror_misses(struct zdref_mirror *m, unsigned long start,
				unsigned long end)
{
	unsigned long index, n = 0;
	void *entry;

	mutex_lock(&m->lock);
	xa_for_each_range(&m->table, index, entry, start >> PAGE_SHIFT,
			  (end - 1) >> PAGE_SHIFT)
		n++;
	mutex_unlock(&m->lock);
	return n != (end - start) >> PAGE_SHIFT;
}

/* Copy out what the table holds of the range, faulting nothing. */
static int zdref_mirror_read_table(struct zdref_mirror *m,
				   struct zdref_hmm_cmd *cmd)
{
	cmd->cpages = 0;
	return zdref_mirror_rw(m, cmd, ZDREF_MIRROR_OUT, ZDREF_MIRROR_NO_FAULT);
}

/*
 * Device memory of @order for the source entry @src at @addr, with the
 * data of its pages (from @spage on; none: a hole or the zero page,
 * zero-filled on the device): the destination entry, or 0 when the
 * device has none.
 */
static unsigned long zdref_mirror_fill(struct zdref_mirror *m,
				       struct vm_area_struct *vma,
				       unsigned long addr, unsigned long src,
				       struct page *spage, unsigned int order)
{
	struct page *dpage = zdref_devmem_alloc(m->zd, addr, order);
	unsigned long i, dst;

	if (!dpage)
		return 0;
	for (i = 0; i < (1UL << order); i++) {
		struct page *data = zdref_devmem_data(m->zd, dpage + i);

		if (spage)
			copy_highpage(data, spage + i);
		else
			clear_highpage(data);
		if (i % 64 == 63)
			cond_resched();
	}
	dst = migrate_pfn(page_to_pfn(dpage));
	if (order)
		dst |= ZDREF_MIGRATE_PFN_COMPOUND;
	if ((src & MIGRATE_PFN_WRITE) || (!spage && (vma->vm_flags & VM_WRITE)))
		dst |= MIGRATE_PFN_WRITE;
	return dst;
}

/* Give back the device pages of @n destination entries, which do not move. */
static void zdref_mirror_unfill(unsigned long *dst, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		struct page *dpage = migrate_pfn_to_page(dst[i]);

		dst[i] = 0;
		unlock_page(dpage);
		/* The last reference: the free callback returns it to the pool. */
		put_page(dpage);
	}
}

/*
 * Device memory for the entries of @args that migrate, with their data.
 * A THP (a compound entry) takes a 2 MiB device folio, or, when the pool
 * has no whole 2 MiB block or FAIL_ALLOC says so, 512 device pages: the
 * kernel splits the THP for them.  Full device memory leaves a page where
 * it is.
 */
static void zdref_mirror_copy_in(struct zdref_mirror *m, struct migrate_vma *args)
{
	unsigned long i, j, n;

	/*
	 * Every mirror of the device forgets the range's pages before they
	 * are copied: a device write after the copy would be lost, and the
	 * system pages that move are freed.
	 */
	zdref_mirrors_forget(m->zd, args);
	for (i = 0; i < args->npages; i++)
		args->dst[i] = 0;
	for (i = 0; i < args->npages; i += n) {
		unsigned long src = args->src[i], addr = args->start + (i << PAGE_SHIFT);
		struct page *spage = migrate_pfn_to_page(src);

		n = zdref_migrate_pages(src);
		if (!(src & MIGRATE_PFN_MIGRATE))
			continue;
		if (n > 1) {
			if (m->flags & ZDREF_HMM_FLAG_FAIL_ALLOC)
				m->flags &= ~ZDREF_HMM_FLAG_FAIL_ALLOC;
			else
				args->dst[i] = zdref_mirror_fill(m, args->vma, addr, src,
								 spage, HPAGE_PMD_ORDER);
			if (args->dst[i])
				continue;
		}
		for (j = 0; j < n; j++) {
			args->dst[i + j] = zdref_mirror_fill(m, args->vma,
							     addr + (j << PAGE_SHIFT), src,
							     spage ? spage + j : NULL, 0);
			if (!args->dst[i + j])
				break;
		}
		/*
		 * The kernel fills a 2 MiB hole's pages all or none: it reads
		 * every destination once it has the first.  Give back what
		 * was had, and the hole stays.
		 */
		if (j < n)
			zdref_mirror_unfill(args->dst + i, j);
	}
}

/* Map the pages that did move into the table: they are the device's now. */
static unsigned long zdref_mirror_map_moved(struct zdref_mirror *m,
					    struct migrate_vma *args)
{
	unsigned long i, addr, moved = 0;

	/* Without its slot, a page is missed by the READ below: -ENOENT. */
	zdref_mirror_reserve(m, args->start, args->end);
	mutex_lock(&m->lock);
	for (i = 0; i < args->npages; i++) {
		struct page *dpage = migrate_pfn_to_page(args->dst[i]);
		unsigned long j, n = zdref_migrate_pages(args->dst[i]);

		if (!dpage || !(args->src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		addr = args->start + (i << PAGE_SHIFT);
		for (j = 0; j < n; j++, addr += PAGE_SIZE) {
			struct page *data = zdref_devmem_data(m->zd, dpage + j);

			zdref_mirror_set(m, addr, data,
					 args->dst[i] & MIGRATE_PFN_WRITE ?
					 ZDREF_PTE_WRITE : ZDREF_PTE_READ,
					 data != dpage + j);
		}
		moved += n;
	}
	mutex_unlock(&m->lock);
	zdref_mirror_unreserve(m, args->start, args->end);
	return moved;
}

/*
 * The vma of each piece of a range, and the end of that piece: the
 * migrations work a vma, and at most a page table, at a time.  -EINVAL
 * for a hole or a vma without read access.
 */
static int zdref_mirror_piece(struct mm_struct *mm, unsigned long addr,
			      unsigned long end, struct vm_area_struct **vma,
			      unsigned long *next)
{
	*vma = vma_lookup(mm, addr);
	if (!*vma || !((*vma)->vm_flags & VM_READ)) {
		pr_info_ratelimited("mirror: %#lx is %s: migrations need readable memory\n",
				    addr, *vma ? "not readable" : "not mapped");
		return -EINVAL;
	}
	*next = min3(end, (*vma)->vm_end,
		     ALIGN(addr + 1, PTRS_PER_PTE << PAGE_SHIFT));
	return 0;
}

static int zdref_mirror_migrate_to_dev(struct zdref_mirror *m,
				       struct zdref_hmm_cmd *cmd)
{
	unsigned long end = cmd->addr + (cmd->npages << PAGE_SHIFT), addr, next;
	struct mm_struct *mm = m->notifier.mm;
	struct migrate_vma args = {
		.pgmap_owner = m->zd,
		.flags = MIGRATE_VMA_SELECT_SYSTEM |
			 (m->zd->thp ? ZDREF_MIGRATE_VMA_SELECT_COMPOUND : 0),
	};
	int tries, ret = -ENOMEM;

	args.src = kvcalloc(PTRS_PER_PTE, sizeof(*args.src), GFP_KERNEL);
	args.dst = kvcalloc(PTRS_PER_PTE, sizeof(*args.dst), GFP_KERNEL);
	if (!args.src || !args.dst)
		goto out_free;
	ret = -EINVAL;
	if (!mmget_not_zero(mm))
		goto out_free;
	mmap_read_lock(mm);
	for (addr = cmd->addr; addr < end; addr = next) {
		/* A huge sparse range is many pieces: SIGKILL ends it. */
		ret = -EINTR;
		if (fatal_signal_pending(current))
			break;
		ret = zdref_mirror_piece(mm, addr, end, &args.vma, &next);
		if (ret)
			break;
		args.start = addr;
		args.end = next;
		for (tries = 0; tries < ZDREF_MIGRATE_TRIES; tries++) {
			ret = migrate_vma_setup(&args);
			if (ret)
				break;
			zdref_mirror_copy_in(m, &args);
			migrate_vma_pages(&args);
			zdref_devmem_moved_in(m->zd, zdref_mirror_map_moved(m, &args));
			migrate_vma_finalize(&args);
			/*
			 * A THP that was busy (locked, or referenced so that
			 * it could not be split) is skipped: once it is no
			 * longer, the next try takes it.
			 */
			if (!zdref_mirror_misses(m, addr, next))
				break;
			cond_resched();
		}
		if (ret)
			break;
	}
	mmap_read_unlock(mm);
	mmput(mm);
out_free:
	kvfree(args.src);
	kvfree(args.dst);
	if (ret)
		return ret;
	/* Done if the device now holds every page of the range. */
	ret = zdref_mirror_read_table(m, cmd);
	if (ret != -ENOENT)
		return ret;
	/*
	 * An invalidation that left the pages in place (khugepaged giving up
	 * a collapse, say) may have dropped entries: map the device's own
	 * pages again, faulting nothing, and look once more.
	 */
	ret = zdref_mirror_map(m, cmd->addr, end, 0, false);
	return ret ?: zdref_mirror_read_table(m, cmd);
}

static int zdref_mirror_migrate_to_sys(struct zdref_mirror *m,
				       struct zdref_hmm_cmd *cmd)
{
	unsigned long end = cmd->addr + (cmd->npages << PAGE_SHIFT), addr, next;
	struct mm_struct *mm = m->notifier.mm;
	struct vm_area_struct *vma;
	unsigned long moved;
	int ret = 0;

	if (!mmget_not_zero(mm))
		return -EINVAL;
	mmap_read_lock(mm);
	for (addr = cmd->addr; addr < end; addr = next) {
		ret = zdref_mirror_piece(mm, addr, end, &vma, &next);
		if (ret)
			break;
		ret = zdref_devmem_to_ram(m->zd, vma, addr, next, NULL,
					  ZDREF_MIGRATE_IOCTL, &m->flags, &moved);
		cmd->cpages += moved;
		if (ret)
			break;
	}
	mmap_read_unlock(mm);
	mmput(mm);
	return ret;
}

/* SNAPSHOT's byte for one hmm_range_fault() output entry. */
static u8 zdref_mirror_prot(struct zdref_mirror *m, unsigned long entry)
{
	unsigned int shift;
	struct page *page;
	u8 prot = 0;

	if (entry & HMM_PFN_ERROR)
		return ZDREF_HMM_PROT_ERROR;
	if (!(entry & HMM_PFN_VALID))
		return ZDREF_HMM_PROT_NONE;
	page = hmm_pfn_to_page(entry);
	if (is_device_private_page(page))
		prot = zdref_page_pgmap(page) == &m->zd->pgmap ?
		       ZDREF_HMM_PROT_DEV_PRIVATE_LOCAL :
		       ZDREF_HMM_PROT_DEV_PRIVATE_REMOTE;
	else if (is_device_coherent_page(page))
		prot = zdref_page_pgmap(page) == &m->zd->pgmap ?
		       ZDREF_HMM_PROT_DEV_COHERENT_LOCAL :
		       ZDREF_HMM_PROT_DEV_COHERENT_REMOTE;
	else if (is_zero_pfn(page_to_pfn(page)))
		prot = ZDREF_HMM_PROT_ZERO;
	prot |= entry & HMM_PFN_WRITE ? ZDREF_HMM_PROT_WRITE : ZDREF_HMM_PROT_READ;
	shift = hmm_pfn_to_map_order(entry) + PAGE_SHIFT;
	if (shift == PMD_SHIFT)
		prot |= ZDREF_HMM_PROT_PMD;
	else if (shift == PUD_SHIFT)
		prot |= ZDREF_HMM_PROT_PUD;
	return prot;
}

/* One batch of SNAPSHOT. */
static int zdref_mirror_snapshot_batch(struct zdref_mirror *m,
				       struct hmm_range *range, u8 *prot)
{
	unsigned long i, n = (range->end - range->start) >> PAGE_SHIFT;
	int ret = zdref_mirror_walk_batch(m, range, false);

	if (ret)
		return ret;
	for (i = 0; i < n; i++)
		prot[i] = zdref_mirror_prot(m, range->hmm_pfns[i]);
	mutex_unlock(&m->lock);
	return 0;
}

static int zdref_mirror_snapshot(struct zdref_mirror *m, struct zdref_hmm_cmd *cmd)
{
	unsigned long end = cmd->addr + (cmd->npages << PAGE_SHIFT), n;
	unsigned long pfns[ZDREF_MIRROR_BATCH];
	u8 prot[ZDREF_MIRROR_BATCH];
	struct hmm_range range = {
		.notifier = &m->notifier,
		.hmm_pfns = pfns,
		.dev_private_owner = m->zd,
	};
	u8 __user *uprot = u64_to_user_ptr(cmd->ptr);
	struct mm_struct *mm = m->notifier.mm;
	int ret = 0;

	if (!mmget_not_zero(mm))
		return -EINVAL;
	for (range.start = cmd->addr; range.start < end; range.start = range.end) {
		ret = -EINTR;
		if (fatal_signal_pending(current))
			break;
		range.end = min(end, range.start + (ZDREF_MIRROR_BATCH << PAGE_SHIFT));
		ret = zdref_mirror_snapshot_batch(m, &range, prot);
		if (ret)
			break;
		n = (range.end - range.start) >> PAGE_SHIFT;
		if (copy_to_user(uprot, prot, n)) {
			ret = -EFAULT;
			break;
		}
		uprot += n;
		cmd->cpages += n;
	}
	mmput(mm);
	return ret;
}

/*
 * EXCLUSIVE: the device takes the pages for atomic access.  No retry on
 * the notifier's sequence here: make_device_exclusive() of a page that is
 * exclusive already first restores it, an invalidation, so a retry would
 * never end.  The entry holds a reference instead, so that one outliving
 * its page (a munmap racing the store) never points to a freed page.
 */
static int zdref_mirror_exclusive(struct zdref_mirror *m, struct zdref_hmm_cmd *cmd)
{
	unsigned long end = cmd->addr + (cmd->npages << PAGE_SHIFT), addr;
	struct mm_struct *mm = m->notifier.mm;
	struct folio *folio;
	struct page *page;
	int ret = 0;

	if (!mmget_not_zero(mm))
		return -EINVAL;
	mmap_read_lock(mm);
	for (addr = cmd->addr; addr < end; addr += PAGE_SIZE) {
		ret = zdref_mirror_reserve(m, addr, addr + PAGE_SIZE);
		if (ret)
			break;
		page = make_device_exclusive(mm, addr, m->zd, &folio);
		if (IS_ERR(page)) {
			zdref_mirror_unreserve(m, addr, addr + PAGE_SIZE);
			ret = PTR_ERR(page);
			break;
		}
		mutex_lock(&m->lock);
		ret = zdref_mirror_set(m, addr, page, ZDREF_PTE_ATOMIC, true);
		mutex_unlock(&m->lock);
		zdref_mirror_unreserve(m, addr, addr + PAGE_SIZE);
		folio_unlock(folio);
		folio_put(folio);
		if (ret)
			break;
	}
	mmap_read_unlock(mm);
	mmput(mm);
	return ret ?: zdref_mirror_read_table(m, cmd);
}

/* CHECK_EXCLUSIVE: -EPERM while the CPU has not taken any page back. */
static int zdref_mirror_check_exclusive(struct zdref_mirror *m,
					struct zdref_hmm_cmd *cmd)
{
	unsigned long index, last = ((cmd->addr >> PAGE_SHIFT) + cmd->npages - 1);
	void *entry;
	int ret = 0;

	mutex_lock(&m->lock);
	xa_for_each_range(&m->table, index, entry, cmd->addr >> PAGE_SHIFT, last)
		if (xa_pointer_tag(entry) == ZDREF_PTE_ATOMIC) {
			ret = -EPERM;
			break;
		}
	mutex_unlock(&m->lock);
	return ret;
}

static long zdref_mirror_ioctl(struct file *file, unsigned int cmd,
			       unsigned long arg)
{
	struct zdref_mirror *m = file->private_data;
	void __user *uarg = (void __user *)arg;
	struct zdref_hmm_cmd c;
	int ret;

	if (_IOC_TYPE(cmd) != ZDREF_HMM_MAGIC || _IOC_SIZE(cmd) != sizeof(c))
		return -ENOTTY;
	if (copy_from_user(&c, uarg, sizeof(c)))
		return -EFAULT;
	if (cmd != ZDREF_HMM_FLAGS && cmd != ZDREF_HMM_RELEASE &&
	    (!PAGE_ALIGNED(c.addr) || !c.npages ||
	     c.npages > (ULONG_MAX - c.addr) >> PAGE_SHIFT)) {
		dev_info_ratelimited(&m->zd->dev, "mirror: addr %#llx, %llu pages: give a page-aligned address and 1 or more pages inside the address space\n",
				     c.addr, c.npages);
		return -EINVAL;
	}
	c.cpages = 0;
	c.faults = 0;

	switch (cmd) {
	case ZDREF_HMM_READ:
		ret = zdref_mirror_rw(m, &c, ZDREF_MIRROR_OUT, ZDREF_MIRROR_FAULT);
		break;
	case ZDREF_HMM_READ_UNLOCKED:
		if (!ZDREF_HAVE_HMM_RANGE_FAULT_UNLOCKED)
			return -ENOTTY;
		ret = zdref_mirror_rw(m, &c, ZDREF_MIRROR_OUT,
				      ZDREF_MIRROR_FAULT_UNLOCKED);
		break;
	case ZDREF_HMM_WRITE:
		ret = zdref_mirror_rw(m, &c, ZDREF_MIRROR_IN, ZDREF_MIRROR_FAULT);
		break;
	case ZDREF_HMM_MIGRATE_TO_DEV:
		ret = zdref_mirror_migrate_to_dev(m, &c);
		break;
	case ZDREF_HMM_MIGRATE_TO_SYS:
		ret = zdref_mirror_migrate_to_sys(m, &c);
		break;
	case ZDREF_HMM_SNAPSHOT:
		ret = zdref_mirror_snapshot(m, &c);
		break;
	case ZDREF_HMM_EXCLUSIVE:
		ret = zdref_mirror_exclusive(m, &c);
		break;
	case ZDREF_HMM_CHECK_EXCLUSIVE:
		ret = zdref_mirror_check_exclusive(m, &c);
		break;
	case ZDREF_HMM_RELEASE:
		ret = zdref_devmem_evict(m->zd);
		break;
	case ZDREF_HMM_FLAGS:
		/*
		 * FAIL_ALLOC makes the next 2 MiB allocation fail, a device
		 * folio for MIGRATE_TO_DEV or a THP for MIGRATE_TO_SYS: the
		 * kernel splits the THP or the device folio to move it in
		 * pages.  Where device memory comes in pages only, there is
		 * no 2 MiB allocation to fail.
		 */
		m->flags = c.npages;
		ret = 0;
		break;
	default:
		return -ENOTTY;
	}
	if (ret)
		return ret;
	return copy_to_user(uarg, &c, sizeof(c)) ? -EFAULT : 0;
}

/*
 * mmap of the device file itself: zeroed system pages, inserted as a
 * mixed map, for the selftests of a mirror over such a mapping.  Device
 * memory is never mapped by the CPU.  The pages are allocated here, all
 * at once: no larger than the device, so that one mmap cannot ask for
 * more RAM than the device has memory (found by zdref_fuzz_test: a 4 GiB
 * mmap of a 128 MiB device sent the OOM killer after it).
 */
static int zdref_mirror_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct zdref_mirror *m = file->private_data;
	unsigned long addr;
	int ret;

	if (vma_pages(vma) > zdref_pages_total(m->zd)) {
		dev_warn_ratelimited(&m->zd->dev,
				     "mirror: mmap of 0x%lx bytes is larger than the device's %llu: map less\n",
				     vma->vm_end - vma->vm_start,
				     (unsigned long long)resource_size(m->zd->res));
		return -EINVAL;
	}
	for (addr = vma->vm_start; addr < vma->vm_end; addr += PAGE_SIZE) {
		struct page *page;

		if (fatal_signal_pending(current))
			return -EINTR;
		page = alloc_page(GFP_HIGHUSER | __GFP_ZERO | __GFP_ACCOUNT);
		if (!page)
			return -ENOMEM;
		ret = vm_insert_page(vma, addr, page);
		/* The mapping holds its own reference now. */
		put_page(page);
		if (ret)
			return ret;
	}
	return 0;
}

static int zdref_mirror_open(struct inode *inode, struct file *file)
{
	struct zdref_dev *zd = zdref_chardev_opened(inode);
	struct zdref_mirror *m;
	int ret;

	if (IS_ERR(zd))
		return PTR_ERR(zd);
	if (!current->mm)
		return -EINVAL;	/* a kernel thread has no address space to mirror */
	m = kzalloc_obj(*m, GFP_KERNEL);
	if (!m)
		return -ENOMEM;
	m->zd = zd;
	mutex_init(&m->lock);
	xa_init(&m->table);
	ret = mmu_interval_notifier_insert(&m->notifier, current->mm, 0,
					   ULONG_MAX & PAGE_MASK,
					   &zdref_mirror_notifier_ops);
	if (ret) {
		kfree(m);
		return ret;
	}
	mutex_lock(&zd->mirrors_lock);
	list_add(&m->node, &zd->mirrors);
	mutex_unlock(&zd->mirrors_lock);
	file->private_data = m;
	return 0;
}

/* Pages this mirror moved to the device stay there: they are the process's. */
static int zdref_mirror_release(struct inode *inode, struct file *file)
{
	struct zdref_mirror *m = file->private_data;

	mutex_lock(&m->zd->mirrors_lock);
	list_del(&m->node);
	mutex_unlock(&m->zd->mirrors_lock);
	mmu_interval_notifier_remove(&m->notifier);
	mutex_lock(&m->lock);
	zdref_mirror_erase(m, 0, ULONG_MAX & PAGE_MASK);
	mutex_unlock(&m->lock);
	xa_destroy(&m->table);
	kfree(m);
	return 0;
}

const struct file_operations zdref_mirror_fops = {
	.owner = THIS_MODULE,
	.open = zdref_mirror_open,
	.release = zdref_mirror_release,
	.mmap = zdref_mirror_mmap,
	.unlocked_ioctl = zdref_mirror_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

#endif /* ZDREF_HAVE_HMM_MIRROR */
