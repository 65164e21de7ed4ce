// SPDX-License-Identifier: GPL-2.0
/*
 * zdref: zeroing ahead of the fault.
 *
 * Every unit handed out to a CPU mapping is zeroed: its last owner's data
 * must not reach the next.  Zeroing is most of what a 4 KiB fault costs
 * and nearly all of a 2 MiB one, and device-dax, which hands out pmem as
 * it is, never pays it.  So a work item zeroes free units before they are
 * asked for: it takes them off the free list a batch at a time, zeroes
 * them with the pool's lock dropped, and puts them on the clean list.  A
 * hand-out takes a clean unit first, and zeroes one itself only when none
 * is ready: faults that outrun the work, or zero_ahead=0.
 *
 * The work keeps at most zero_ahead= of the pool clean, not all of it:
 * what it zeroes for units that are never handed out before the unload
 * is CPU time taken from whoever else runs, and a bound of some tens of
 * MiB is enough for the work, on another CPU, to keep pace with faults
 * that take units as fast as memory bandwidth allows zeroing them.
 *
 * Units in the work's hands are on no list (@zeroing): a hand-out that
 * finds no free unit on a list waits for the work's next batch (@wait),
 * until the work holds none.
 *
 * Not where free units hold something else: poison=1's poison, to be
 * checked at the hand-out (poison.c), and device memory, whose hand-outs
 * (devmem.c) zero or copy into the data page themselves.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <zdref/compat.h>
#include "zdref.h"

/* Pages (4 KiB) zeroed between two takings of the pool's lock. */
#define ZDREF_ZERO_BATCH_PAGES	256

/**
 * zdref_zero_unit() - zero every page of a unit
 * @zd: the device
 * @head: the unit's head page, owned by the caller or in the work's hands
 *
 * May sleep.
 */
void zdref_zero_unit(struct zdref_dev *zd, struct page *head)
{
	unsigned long i;

	for (i = 0; i < zdref_unit_pages(zd); i++) {
		clear_highpage(head + i);
		if (i % 64 == 63)
			cond_resched();
	}
}

/* Units short of the target, that the free list can give: at most @max. */
static unsigned long zdref_zero_wanted_locked(struct zdref_dev *zd,
					      unsigned long max)
{
	struct zdref_zero *z = &zd->zero;

	lockdep_assert_held(&zd->lock);
	if (z->clean + z->zeroing >= z->target || list_empty(&zd->free_list))
		return 0;
	return min_t(u64, max, z->target - z->clean - z->zeroing);
}

static void zdref_zero_work(struct work_struct *work)
{
	struct zdref_dev *zd = container_of(work, struct zdref_dev, zero.work);
	unsigned long batch = max(ZDREF_ZERO_BATCH_PAGES >> zd->order, 1);
	struct zdref_zero *z = &zd->zero;
	struct zdref_page *zp;
	unsigned long n, want;
	LIST_HEAD(units);

	for (;;) {
		spin_lock_irq(&zd->lock);
		want = zdref_zero_wanted_locked(zd, batch);
		for (n = 0; n < want && !list_empty(&zd->free_list); n++)
			list_move_tail(zd->free_list.next, &units);
		z->zeroing += n;
		spin_unlock_irq(&zd->lock);
		if (!n)
			return;
		list_for_each_entry(zp, &units, node)
			zdref_zero_unit(zd, pfn_to_page(zdref_unit_pfn(zd, zp)));
		spin_lock_irq(&zd->lock);
		list_splice_init(&units, &z->clean_list);
		z->zeroing -= n;
		z->clean += n;
		spin_unlock_irq(&zd->lock);
		/* A hand-out that found no unit waits for a batch. */
		if (wq_has_sleeper(&z->wait))
			wake_up_all(&z->wait);
		cond_resched();
	}
}

/**
 * zdref_zero_kick_locked() - the pool changed: zero more, if short
 * @zd: the device, its lock held
 */
void zdref_zero_kick_locked(struct zdref_dev *zd)
{
	lockdep_assert_held(&zd->lock);
	if (zdref_zero_wanted_locked(zd, 1))
		queue_work(zdref_unbound_wq, &zd->zero.work);
}

/**
 * zdref_zero_take_locked() - a zeroed unit of the pool, if one is ready
 * @zd: the device, its lock held
 *
 * Return: the unit, still on its list, for the caller to take off; or
 * NULL, and the caller zeroes what it takes itself.
 */
struct zdref_page *zdref_zero_take_locked(struct zdref_dev *zd)
{
	struct zdref_zero *z = &zd->zero;
	struct zdref_page *zp;

	lockdep_assert_held(&zd->lock);
	zp = list_first_entry_or_null(&z->clean_list, struct zdref_page, node);
	if (zp)
		z->clean--;
	return zp;
}

/**
 * zdref_zero_init() - a device's zeroing ahead, idle
 * @zd: the device, its pool being set up (zdref_pool_init())
 */
void zdref_zero_init(struct zdref_dev *zd)
{
	INIT_LIST_HEAD(&zd->zero.clean_list);
	INIT_WORK(&zd->zero.work, zdref_zero_work);
	init_waitqueue_head(&zd->zero.wait);
}

/**
 * zdref_zero_start() - start keeping a device's free units zeroed ahead
 * @zd: the device, its pool and poison=1 set up
 * @params: its zero_ahead=
 *
 * Only for the CPU-mapped types without poison=1 (see the top of this
 * file); others keep no unit zeroed ahead.  zero_ahead= is rounded up to
 * whole units and down to the pool's size.
 */
void zdref_zero_start(struct zdref_dev *zd, const struct zdref_params *params)
{
	u64 units = DIV_ROUND_UP_ULL(params->zero_ahead,
				     PAGE_SIZE << zd->order);

	if (!zd->info->cpu_maps || zd->poison || !units)
		return;
	spin_lock_irq(&zd->lock);
	zd->zero.target = min(units, zdref_units_total(zd));
	zdref_zero_kick_locked(zd);
	spin_unlock_irq(&zd->lock);
}

/**
 * zdref_zero_exit() - stop zeroing ahead
 * @zd: the device, zdref_zero_init()'ed
 *
 * Frees from now on (the busy scan's last ones, at the pool's exit) queue
 * no more work.  The units already zeroed stay free.
 */
void zdref_zero_exit(struct zdref_dev *zd)
{
	spin_lock_irq(&zd->lock);
	zd->zero.target = 0;
	spin_unlock_irq(&zd->lock);
	cancel_work_sync(&zd->zero.work);
}
