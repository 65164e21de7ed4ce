// SPDX-License-Identifier: GPL-2.0
/*
 * zdref: the pool of device pages and their one free callback.
 *
 * The pool's allocation unit is a page, or a 2 MiB folio when the device
 * was loaded with align=2M (its pagemap is then compound: the folio's
 * head carries the count for all 512 pages, and zdref's view of a unit
 * is indexed by its head).  "Page" below means a unit.
 *
 * Device-private memory where the kernel migrates THPs whole (zd->thp)
 * is a pool of two levels over 4 KiB units: whole free 2 MiB blocks
 * (block_list, by their first unit) and the free pages of partial blocks
 * (free_list).  A page is taken from a partial block first, and a whole
 * block is broken only when none has one left; a block whose last page
 * comes back is whole again.  So 2 MiB folios stay to be had for as long
 * as the free pages could make them, whatever order pages came back in.
 *
 * A page leaves the pool handed out to an open file, which holds one
 * reference on it (include/zdref/refcount.h says how that sits on the
 * kernel's count).  When the last reference drops,
 * zdref_pool_return_locked() runs exactly once and the page returns to
 * the pool.  Who sees the last drop is the reference model's last-drop
 * rule: zdref's own put, or the busy scan for pages still pinned after
 * their file let go (watched); the kernel's page_free/folio_free callback
 * (callback, then reset; callback, final).  The device's &struct
 * zdref_page_ops says what each rule does at a hand-out, a put, a
 * callback and a scan: the rules of the CPU-mapped types are here,
 * device-private's in devmem.c.  The kernel may drop references from any
 * context, IRQ included (O_DIRECT completions), hence the irqsave lock.
 *
 * Where the kernel calls back and then resets the count to 1, it still
 * has work to do on the page after the callback returns, so the callback
 * only marks the page: the busy scan returns it to the pool, and drops
 * the module reference the busy page holds, once the count is back at
 * idle.  Dropping it from the callback could let rmmod free the pagemap
 * under the kernel's feet.
 */

/* The busy scan backs off while pins stay: up to 100 ms between scans. */
#define ZDREF_BUSY_DELAY_MAX	(HZ / 10)
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <kunit/visibility.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include <zdref/compat.h>
#include "zdref.h"
#include "trace.h"

/* The head page of a unit. */
static struct page *zdref_unit_head(struct zdref_dev *zd, struct zdref_page *zp)
{
	return pfn_to_page(zdref_unit_pfn(zd, zp));
}

/**
 * zdref_unit_of() - zdref's view of the unit of a page
 * @zd: the device
 * @page: any page of the unit
 *
 * Return: the unit's &struct zdref_page.
 */
struct zdref_page *zdref_unit_of(struct zdref_dev *zd, struct page *page)
{
	return &zd->pages[(page_to_pfn(page) - zd->pfn_first) >> zd->order];
}
EXPORT_SYMBOL_IF_KUNIT(zdref_unit_of);

/* The 2 MiB block of a 4 KiB unit, and its first unit (zd->thp). */
static unsigned long zdref_block_of(struct zdref_dev *zd, struct zdref_page *zp)
{
	return (zp - zd->pages) / HPAGE_PMD_NR;
}

static struct zdref_page *zdref_block_first(struct zdref_dev *zd,
					    unsigned long block)
{
	return &zd->pages[block * HPAGE_PMD_NR];
}

/*
 * A free unit onto its level: with the other free pages of its block, or,
 * as the block's last page to come back, with the block made whole: its
 * other pages leave free_list (O(512), once per block made whole).
 */
static void zdref_block_shelve_locked(struct zdref_dev *zd, struct zdref_page *zp)
{
	unsigned long block = zdref_block_of(zd, zp), i;
	struct zdref_page *first = zdref_block_first(zd, block);

	lockdep_assert_held(&zd->lock);
	if (++zd->block_free[block] < HPAGE_PMD_NR) {
		list_add(&zp->node, &zd->free_list);
		return;
	}
	for (i = 0; i < HPAGE_PMD_NR; i++)
		if (first + i != zp)
			list_del(&first[i].node);
	list_add(&first->node, &zd->block_list);
}

/* Break a whole block into free_list's pages: none of it was left there. */
static bool zdref_block_break_locked(struct zdref_dev *zd)
{
	struct zdref_page *first;
	unsigned long i;

	lockdep_assert_held(&zd->lock);
	first = list_first_entry_or_null(&zd->block_list, struct zdref_page, node);
	if (!first)
		return false;
	list_del(&first->node);
	for (i = 0; i < HPAGE_PMD_NR; i++)
		list_add_tail(&first[i].node, &zd->free_list);
	return true;
}

/* Back in the pool: the one place a unit is freed. */
static void zdref_pool_return_locked(struct zdref_dev *zd, struct zdref_page *zp,
				     enum zdref_freed_by by)
{
	unsigned int busy_ms = 0;

	lockdep_assert_held(&zd->lock);
	if (zp->state == ZDREF_PAGE_BUSY) {
		list_del(&zp->node);
		zd->pages_busy -= zdref_unit_pages(zd);
		busy_ms = zdref_age_ms(zp->since);
	}
	zp->state = ZDREF_PAGE_FREE;
	zp->gen++;
	zp->since = jiffies;
	/* Reused last-freed first, hot in the cache; poison.c's FIFO else. */
	if (zd->thp) {
		zdref_block_shelve_locked(zd, zp);
	} else if (!zdref_poison_queue_locked(zd, zp)) {
		list_add(&zp->node, &zd->free_list);
		zdref_zero_kick_locked(zd);
	}
	zd->pages_free += zdref_unit_pages(zd);
	atomic64_inc(&zd->frees);
	trace_zdref_free(zd, zdref_unit_pfn(zd, zp), by, busy_ms);
}

/**
 * zdref_pool_return_units() - put @n consecutive units whose last
 * reference dropped back in the pool, under one hold of its lock
 * @zd: the device
 * @zp: the first unit, each owned by nobody any more
 * @n: how many: the pages of a device folio that was freed whole
 * @by: who saw the last reference drop
 */
void zdref_pool_return_units(struct zdref_dev *zd, struct zdref_page *zp,
			     unsigned long n, enum zdref_freed_by by)
{
	unsigned long flags, i;

	spin_lock_irqsave(&zd->lock, flags);
	for (i = 0; i < n; i++)
		zdref_pool_return_locked(zd, zp + i, by);
	spin_unlock_irqrestore(&zd->lock, flags);
	wake_up_all(&zd->free_wq);
}

/*
 * Park a page its file gave up while others still reference it; @raw is
 * its count without the file's reference, for the trace.
 */
static void zdref_page_busy_locked(struct zdref_dev *zd, struct zdref_page *zp,
				   int raw)
{
	lockdep_assert_held(&zd->lock);
	zp->state = ZDREF_PAGE_BUSY;
	zp->kernel_freed = false;
	zp->since = jiffies;
	list_add_tail(&zp->node, &zd->busy_list);
	zd->pages_busy += zdref_unit_pages(zd);
	/* A pinned page outlives its file: it must keep the module too. */
	__module_get(THIS_MODULE);
	trace_zdref_busy(zd, zdref_unit_pfn(zd, zp), raw);
}

/* Something may be freeable now: scan at once, and often for a while. */
static void zdref_busy_kick_locked(struct zdref_dev *zd)
{
	lockdep_assert_held(&zd->lock);
	zd->busy_delay = 1;
	mod_delayed_work(zdref_percpu_wq, &zd->busy_work, zd->busy_delay);
}

/* A unit off its list is its owner's now: @index, as struct zdref_page says. */
static void zdref_unit_own(struct zdref_page *zp, u64 index)
{
	zp->state = ZDREF_PAGE_OWNED;
	zp->since = jiffies;
	zp->owner.index = index;
	zp->owner.tgid = task_tgid_nr(current);
}

/*
 * The next unit to hand out, off its list; @checked: poison it held;
 * @zeroed: zeroed ahead (zero.c).
 */
static struct zdref_page *zdref_pool_take_locked(struct zdref_dev *zd, u64 index,
						 bool *checked, bool *zeroed)
{
	struct zdref_page *zp;

	lockdep_assert_held(&zd->lock);
	*checked = false;
	*zeroed = false;
	if (zd->poison) {
		zp = zdref_poison_take_locked(zd, checked);
	} else {
		zp = zdref_zero_take_locked(zd);
		*zeroed = zp;
		if (!zp && list_empty(&zd->free_list) && zd->thp)
			zdref_block_break_locked(zd);
		if (!zp)
			zp = list_first_entry_or_null(&zd->free_list,
						      struct zdref_page, node);
	}
	if (!zp)
		return NULL;
	list_del(&zp->node);
	if (zd->thp)
		zd->block_free[zdref_block_of(zd, zp)]--;
	zd->pages_free -= zdref_unit_pages(zd);
	zdref_unit_own(zp, index);
	zdref_zero_kick_locked(zd);
	return zp;
}

/* zdref_pool_take_locked() under the lock; @zeroing: units in the work's hands. */
static struct zdref_page *zdref_pool_try_take(struct zdref_dev *zd, u64 index,
					      bool *checked, bool *zeroed,
					      u64 *zeroing)
{
	struct zdref_page *zp;
	unsigned long flags;

	spin_lock_irqsave(&zd->lock, flags);
	zp = zdref_pool_take_locked(zd, index, checked, zeroed);
	*zeroing = zd->zero.zeroing;
	spin_unlock_irqrestore(&zd->lock, flags);
	return zp;
}

/*
 * Is a unit to be had, or none in the zeroing work's hands?  A peek
 * without the lock, for a wait: the work wakes zero.wait after each batch.
 */
static bool zdref_pool_may_take(struct zdref_dev *zd)
{
	return !READ_ONCE(zd->zero.zeroing) ||
	       !list_empty_careful(&zd->zero.clean_list) ||
	       !list_empty_careful(&zd->free_list);
}

/*
 * No free unit on a list: free units may be freed by the kernel and
 * waiting for the busy scan to take them back (@busy), as a file's close
 * leaves all its units where the kernel calls back and then resets the
 * count; or in a work's hands, being poisoned (poison.c) or zeroed
 * (zero.c).  Run the scan at once, and take what it gave back; else wait
 * for the poison work, or for a batch of the zeroing work (not its whole
 * run, which a stream of frees can make long), and try again, until no
 * unit is in the zeroing work's hands: a free meanwhile may have sent it
 * to take more.  A fault straight after a close gets the closed file's
 * units, not SIGBUS; a fatal signal ends the wait.
 */
static struct zdref_page *zdref_pool_take_waiting(struct zdref_dev *zd,
						  u64 index, bool busy,
						  bool *checked, bool *zeroed)
{
	struct zdref_page *zp;
	u64 zeroing;

	if (busy) {
		mod_delayed_work(zdref_percpu_wq, &zd->busy_work, 0);
		flush_delayed_work(&zd->busy_work);
		zp = zdref_pool_try_take(zd, index, checked, zeroed, &zeroing);
		if (zp)
			return zp;
	}
	do {
		if (zd->poison)
			zdref_poison_flush(zd);
		else if (wait_event_killable(zd->zero.wait, zdref_pool_may_take(zd)))
			return NULL;
		zp = zdref_pool_try_take(zd, index, checked, zeroed, &zeroing);
	} while (!zp && zeroing && !fatal_signal_pending(current));
	return zp;
}

/* zdref_pool_take(), and whether the unit was zeroed ahead (zero.c). */
static struct page *zdref_pool_take_zeroed(struct zdref_dev *zd, u64 index,
					   bool *zeroed)
{
	struct zdref_page *zp;
	unsigned long flags;
	bool checked, busy, wait;

	spin_lock_irqsave(&zd->lock, flags);
	zp = zdref_pool_take_locked(zd, index, &checked, zeroed);
	busy = !zp && !list_empty(&zd->busy_list);
	wait = !zp && (busy || zd->poison || zd->zero.zeroing);
	spin_unlock_irqrestore(&zd->lock, flags);
	if (wait)
		zp = zdref_pool_take_waiting(zd, index, busy, &checked, zeroed);
	if (!zp)
		return NULL;
	atomic64_inc(&zd->allocs);
	if (zd->poison)
		zdref_poison_handed_out(zd, zp, zdref_unit_head(zd, zp), checked);
	return zdref_unit_head(zd, zp);
}

/**
 * zdref_pool_take() - take a unit out of the pool, its count untouched
 * @zd: the device
 * @index: for its owner: the file offset (bytes) it is for, or the user
 *	address of a page that moves to the device
 *
 * For the last-drop rules' @hand_out, which bring the page to life.  May
 * sleep.
 *
 * Return: the unit's head page, or NULL when the pool is empty.
 */
struct page *zdref_pool_take(struct zdref_dev *zd, u64 index)
{
	bool zeroed;

	return zdref_pool_take_zeroed(zd, index, &zeroed);
}

/**
 * zdref_pool_take_block() - take a whole free 2 MiB block out of the pool
 * @zd: a device with a two-level pool (zd->thp)
 * @addr: the user address of its first page; its pages are owned for
 *	@addr onwards, one page apart
 *
 * Its 512 pages count as 512 allocations: every counter of the device
 * counts 4 KiB pages.  May sleep.
 *
 * Return: its first page, its count untouched, or NULL when no block of
 * the pool is whole.
 */
struct page *zdref_pool_take_block(struct zdref_dev *zd, u64 addr)
{
	struct zdref_page *first;
	unsigned long flags, i;

	spin_lock_irqsave(&zd->lock, flags);
	first = list_first_entry_or_null(&zd->block_list, struct zdref_page, node);
	if (first) {
		list_del(&first->node);
		zd->block_free[zdref_block_of(zd, first)] = 0;
		zd->pages_free -= HPAGE_PMD_NR;
		for (i = 0; i < HPAGE_PMD_NR; i++)
			zdref_unit_own(first + i, addr + i * PAGE_SIZE);
	}
	spin_unlock_irqrestore(&zd->lock, flags);
	if (!first)
		return NULL;
	atomic64_add(HPAGE_PMD_NR, &zd->allocs);
	return zdref_unit_head(zd, first);
}

/**
 * zdref_pool_bad_free() - the kernel freed a unit zdref did not expect
 * to be freed: count it, warn once
 * @zd: the device
 * @page: the page the kernel gave back
 * @zp: its unit
 */
void zdref_pool_bad_free(struct zdref_dev *zd, struct page *page,
			 struct zdref_page *zp)
{
	atomic64_inc(&zd->bad_frees);
	trace_zdref_bad_free(zd, page_to_pfn(page), zp->state);
	WARN_ONCE(1, "zdref: kernel freed pfn %#lx in state %u\n",
		  page_to_pfn(page), zp->state);
}

/*
 * The rules of the CPU-mapped types (refcount.h): a unit of the pool at
 * its model's idle count is handed out zeroed, with one reference.
 */
static struct page *zdref_mapped_hand_out(struct zdref_dev *zd, u64 index)
{
	struct page *page;
	bool zeroed;

	page = zdref_pool_take_zeroed(zd, index, &zeroed);
	if (!page)
		return NULL;
	zdref_ref_hand_out(&zd->model, page);
	trace_zdref_hand_out(zd, page_to_pfn(page), index, page_ref_count(page));
	if (zeroed)
		atomic64_inc(&zd->zero.ahead);
	else
		zdref_zero_unit(zd, page);
	return page;
}

/* Watched: zdref's put sees the last drop, or the busy scan does later. */
static bool zdref_watched_put_locked(struct zdref_dev *zd, struct page *page,
				     struct zdref_page *zp)
{
	lockdep_assert_held(&zd->lock);
	if (zdref_ref_put_watched(&zd->model, page)) {
		zdref_pool_return_locked(zd, zp, ZDREF_FREED_BY_PUT);
		return true;
	}
	zdref_page_busy_locked(zd, zp, page_ref_count(page));
	zdref_busy_kick_locked(zd);
	return false;
}

/* Watched: the kernel never calls back. */
static void zdref_watched_freed(struct zdref_dev *zd, struct page *page,
				struct zdref_page *zp)
{
	zdref_pool_bad_free(zd, page, zp);
}

static bool zdref_watched_idle(struct zdref_dev *zd, struct zdref_page *zp)
{
	return page_ref_count(zdref_unit_head(zd, zp)) == zd->model.base;
}

/* The pool's side of ZDREF_DROP_WATCHED. */
const struct zdref_page_ops zdref_watched_ops = {
	.hand_out	= zdref_mapped_hand_out,
	.put_locked	= zdref_watched_put_locked,
	.freed		= zdref_watched_freed,
	.idle		= zdref_watched_idle,
};

/*
 * Callback, then reset: the kernel calls back at the last drop, now or at
 * the last unpin, and the busy scan returns the page to the pool once the
 * kernel is done with it.
 */
static void zdref_reset_put(struct zdref_dev *zd, struct page *page,
			    struct zdref_page *zp)
{
	unsigned long flags;

	spin_lock_irqsave(&zd->lock, flags);
	/* Busy first: the put below may call back at once. */
	zdref_page_busy_locked(zd, zp, page_ref_count(page) - 1);
	spin_unlock_irqrestore(&zd->lock, flags);
	put_page(page);
}

/* Only marks the page: the kernel resets its count after this returns. */
static void zdref_reset_freed(struct zdref_dev *zd, struct page *page,
			      struct zdref_page *zp)
{
	unsigned long flags;
	bool busy;

	spin_lock_irqsave(&zd->lock, flags);
	busy = zp->state == ZDREF_PAGE_BUSY && !zp->kernel_freed;
	if (busy) {
		zp->kernel_freed = true;
		zdref_busy_kick_locked(zd);
	}
	spin_unlock_irqrestore(&zd->lock, flags);
	if (!busy)
		zdref_pool_bad_free(zd, page, zp);
}

static bool zdref_reset_idle(struct zdref_dev *zd, struct zdref_page *zp)
{
	return zp->kernel_freed &&
	       page_ref_count(zdref_unit_head(zd, zp)) == zd->model.idle;
}

/* The pool's side of ZDREF_DROP_CALLBACK_RESET. */
const struct zdref_page_ops zdref_reset_ops = {
	.hand_out	= zdref_mapped_hand_out,
	.put		= zdref_reset_put,
	.freed		= zdref_reset_freed,
	.idle		= zdref_reset_idle,
};

/**
 * zdref_page_alloc() - hand out a zeroed unit of the pool
 * @zd: the device
 * @index: the file offset (bytes) it is for, as its owner sees it
 *
 * Return: the unit's head page, holding one reference, or NULL when the
 * pool is empty.
 */
struct page *zdref_page_alloc(struct zdref_dev *zd, u64 index)
{
	return zd->ops->hand_out(zd, index);
}
EXPORT_SYMBOL_IF_KUNIT(zdref_page_alloc);

/**
 * zdref_pages_put() - drop a file's reference on each of @n units
 * @zd: the device
 * @pages: head pages handed out by zdref_page_alloc()
 * @n: how many; a few tens, since the pool's lock may be held for all
 *
 * As zdref_page_put() on each, but where the last-drop rule needs only
 * the pool's lock (@put_locked: zdref's put sees the last drop), all @n
 * are put under one hold of it, with one wake-up: a file's close puts
 * every unit it has.
 */
void zdref_pages_put(struct zdref_dev *zd, struct page **pages, unsigned int n)
{
	unsigned long flags;
	bool freed = false;
	unsigned int i;

	if (!n)
		return;
	for (i = 0; i < n; i++)
		trace_zdref_file_release(zd, page_to_pfn(pages[i]),
					 page_ref_count(pages[i]));
	if (!zd->ops->put_locked) {
		for (i = 0; i < n; i++)
			zd->ops->put(zd, pages[i], zdref_unit_of(zd, pages[i]));
		return;
	}
	spin_lock_irqsave(&zd->lock, flags);
	for (i = 0; i < n; i++)
		freed |= zd->ops->put_locked(zd, pages[i],
					     zdref_unit_of(zd, pages[i]));
	spin_unlock_irqrestore(&zd->lock, flags);
	if (freed)
		wake_up_all(&zd->free_wq);
}

/**
 * zdref_put_batch_add() - put a unit with others, ZDREF_PUT_BATCH at a time
 * @zd: the device
 * @b: the batch, zeroed at first
 * @page: a head page handed out by zdref_page_alloc()
 *
 * For a walk over many units that may sleep: a full batch is put at once,
 * then the walk yields.  zdref_put_batch_end() puts the rest.
 */
void zdref_put_batch_add(struct zdref_dev *zd, struct zdref_put_batch *b,
			 struct page *page)
{
	b->pages[b->n++] = page;
	if (b->n < ZDREF_PUT_BATCH)
		return;
	zdref_put_batch_end(zd, b);
	cond_resched();
}

/**
 * zdref_put_batch_end() - put the units of a batch not put yet
 * @zd: the device
 * @b: the batch
 */
void zdref_put_batch_end(struct zdref_dev *zd, struct zdref_put_batch *b)
{
	zdref_pages_put(zd, b->pages, b->n);
	b->n = 0;
}

/**
 * zdref_page_put() - drop a file's reference on its unit
 * @zd: the device
 * @page: a head page handed out by zdref_page_alloc()
 *
 * Frees the page if that was the last reference; otherwise the page
 * waits, busy, for the others to drop.
 */
void zdref_page_put(struct zdref_dev *zd, struct page *page)
{
	zdref_pages_put(zd, &page, 1);
}
EXPORT_SYMBOL_IF_KUNIT(zdref_page_put);

/**
 * zdref_pgmap_free() - the pagemap's free callback, called by the kernel
 * @pgmap: zdref's pagemap
 * @page: the (head) page whose last reference dropped
 */
void zdref_pgmap_free(struct dev_pagemap *pgmap, struct page *page)
{
	struct zdref_dev *zd = zdref_pgmap_to_dev(pgmap);

	zd->ops->freed(zd, page, zdref_unit_of(zd, page));
}
EXPORT_SYMBOL_IF_KUNIT(zdref_pgmap_free);

/* Busy pages looked at per hold of the pool lock, which keeps IRQs off. */
#define ZDREF_BUSY_BATCH	64

/* Free the busy pages whose last reference has dropped; again if some remain. */
static void zdref_busy_scan(struct work_struct *work)
{
	struct zdref_dev *zd = container_of(to_delayed_work(work),
					    struct zdref_dev, busy_work);
	unsigned long freed = 0, seen = 0;
	struct zdref_page *zp;
	LIST_HEAD(todo);
	LIST_HEAD(kept);
	bool more;

	spin_lock_irq(&zd->lock);
	/*
	 * Off the busy list, so that the lock can be dropped between
	 * batches: whatever frees a page meanwhile unlinks it from here
	 * under the lock, and pages that become busy meanwhile wait for the
	 * next scan.
	 */
	list_splice_init(&zd->busy_list, &todo);
	while (!list_empty(&todo)) {
		zp = list_first_entry(&todo, struct zdref_page, node);
		if (zd->ops->idle(zd, zp)) {
			zdref_pool_return_locked(zd, zp, zp->kernel_freed ?
						 ZDREF_FREED_BY_CALLBACK :
						 ZDREF_FREED_BY_SCAN);
			/*
			 * With the free, under the lock: whoever sees the pool
			 * whole may unload the module at once (its exit waits
			 * for this work to end).
			 */
			module_put(THIS_MODULE);
			freed++;
		} else {
			list_move_tail(&zp->node, &kept);
		}
		if (++seen % ZDREF_BUSY_BATCH == 0) {
			spin_unlock_irq(&zd->lock);
			cond_resched();
			spin_lock_irq(&zd->lock);
		}
	}
	list_splice(&kept, &zd->busy_list);
	more = !list_empty(&zd->busy_list);
	if (more && !freed)
		zd->busy_delay = min_t(unsigned long, zd->busy_delay * 2,
				       ZDREF_BUSY_DELAY_MAX);
	if (more)
		mod_delayed_work(zdref_percpu_wq, &zd->busy_work, zd->busy_delay);
	spin_unlock_irq(&zd->lock);

	if (freed)
		wake_up_all(&zd->free_wq);
}

/**
 * zdref_unit_freed_since() - has a unit been freed since a generation?
 * @zd: the device
 * @page: a page of the unit
 * @gen: the unit's zdref_page.gen when it was given up
 */
bool zdref_unit_freed_since(struct zdref_dev *zd, struct page *page, u32 gen)
{
	return READ_ONCE(zdref_unit_of(zd, page)->gen) != gen;
}

/**
 * zdref_pool_init() - put every unit of the device in the pool
 * @zd: the device, its pagemap registered, its @model and @ops chosen
 *	(zdref_dev_alloc())
 *
 * Return: 0, -ENOMEM, or -EINVAL if the kernel did not leave the pages at
 * the count (or, for 2 MiB units, the folio order) zdref's reference
 * model expects: the model does not fit this kernel, and loading would
 * corrupt page counts.
 */
int zdref_pool_init(struct zdref_dev *zd)
{
	u64 i, n = zdref_units_total(zd);

	zd->pfn_first = PHYS_PFN(zd->res->start);
	spin_lock_init(&zd->lock);
	INIT_LIST_HEAD(&zd->free_list);
	INIT_LIST_HEAD(&zd->block_list);
	INIT_LIST_HEAD(&zd->busy_list);
	zdref_zero_init(zd);
	INIT_DELAYED_WORK(&zd->busy_work, zdref_busy_scan);
	zd->busy_delay = 1;
	init_waitqueue_head(&zd->free_wq);

	zd->pages = kvcalloc(n, sizeof(*zd->pages), GFP_KERNEL);
	if (!zd->pages)
		return -ENOMEM;
	/* A folio of device-private memory is a 2 MiB-aligned block of it. */
	if (zd->thp && (!IS_ALIGNED(zd->pfn_first | n, HPAGE_PMD_NR) || zd->order)) {
		pr_info("%pR is not whole 2 MiB blocks: type=%s in 4 KiB pages only\n",
			zd->res, zdref_type_name(zd->type));
		zd->thp = false;
	}
	if (zd->thp) {
		zd->block_free = kvcalloc(n / HPAGE_PMD_NR, sizeof(*zd->block_free),
					  GFP_KERNEL);
		if (!zd->block_free) {
			kvfree(zd->pages);
			return -ENOMEM;
		}
	}
	for (i = 0; i < n; i++) {
		u64 pfn = zd->pfn_first + (i << zd->order);
		struct page *page = pfn_to_page(pfn);

		if (page_ref_count(page) != zd->model.idle) {
			pr_err("pfn %#llx has refcount %d after memremap_pages(), zdref expects %d for type=%s on this kernel\n",
			       pfn, page_ref_count(page), zd->model.idle,
			       zdref_type_name(zd->type));
			goto err;
		}
		if (compound_order(page) != zd->order) {
			pr_err("pfn %#llx is a page of order %u after memremap_pages(), zdref asked for %u\n",
			       pfn, compound_order(page), zd->order);
			goto err;
		}
		zd->pages[i].state = ZDREF_PAGE_FREE;
		zd->pages[i].since = jiffies;
		if (!zd->thp)
			list_add_tail(&zd->pages[i].node, &zd->free_list);
		else if (i % HPAGE_PMD_NR == 0)
			list_add_tail(&zd->pages[i].node, &zd->block_list);
	}
	for (i = 0; zd->thp && i < n / HPAGE_PMD_NR; i++)
		zd->block_free[i] = HPAGE_PMD_NR;
	zd->pages_free = zdref_pages_total(zd);
	return 0;

err:
	kvfree(zd->block_free);
	kvfree(zd->pages);
	return -EINVAL;
}
EXPORT_SYMBOL_IF_KUNIT(zdref_pool_init);

/**
 * zdref_pool_exit() - free the pool's bookkeeping
 * @zd: the device; every page back in the pool
 */
void zdref_pool_exit(struct zdref_dev *zd)
{
	/*
	 * Busy pages hold the module: none can be left at unload but units
	 * that went busy just now, given up by the device's own space
	 * (zdref_space_exit()) where the kernel calls back and resets the
	 * count (ZDREF_DROP_CALLBACK_RESET): idle already, freed by the scan
	 * that their callbacks scheduled, run now.
	 */
	flush_delayed_work(&zd->busy_work);
	cancel_delayed_work_sync(&zd->busy_work);
	WARN_ON(zd->pages_busy);
	/*
	 * Where the kernel frees silently, the task whose put took a page
	 * to 0 may still be in free_zone_device_folio(), reading the folio
	 * and the pagemap, after the busy scan saw the 0 and freed the unit:
	 * it holds no reference that memunmap_pages() would wait for.  Wait
	 * for every such task to be out before the pagemap and its memmap go.
	 */
	if (zdref_ref_freed_silently(&zd->model))
		zdref_synchronize_tasks();
	kvfree(zd->block_free);
	kvfree(zd->pages);
}
EXPORT_SYMBOL_IF_KUNIT(zdref_pool_exit);
