// SPDX-License-Identifier: GPL-2.0
/*
 * zdref: poison=1, a use-after-free detector for device pages.
 *
 * Free-at-zero makes a bug possible that no tool catches for device
 * memory: a driver, a DMA engine or a CPU writes to a page after its last
 * reference dropped, when the page may already be someone else's.  With
 * poison=1 each freed unit is filled with ZDREF_POISON and queued at the
 * tail of the free list, so that units are reused in the order they were
 * freed, as late as the pool allows; quarantine=N keeps the N most
 * recently freed out of use altogether.  At its next hand-out the unit is
 * checked: a byte that is no longer poison was written while the unit was
 * free.  The hand-out counts it in poison_errors, fires the zdref_poison
 * tracepoint and, once per unit, logs the offsets that changed and the
 * unit's last owner.
 *
 * The fill runs in a work item, not where the last reference drops (an
 * interrupt, maybe, with the pool's lock held): a write between the free
 * and the fill goes unseen, and nothing is reported that was not written
 * while the unit was free.  A unit the work has not reached yet is handed
 * out unchecked.
 *
 * The memory must be the CPU's: a device-private page has no memory the
 * CPU sees (its data lives in a system page, which goes back to the page
 * allocator), and poison=1 refuses the type.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <kunit/visibility.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/workqueue.h>

#include <zdref/compat.h>
#include "zdref.h"
#include "trace.h"

/* Units filled between two takings of the pool's lock. */
#define ZDREF_POISON_BATCH	64

/**
 * struct zdref_poison_owner - who last had a unit
 * @index: its file offset (bytes) or user address, as struct zdref_page's
 * @tgid: the process
 * @comm: its name
 * @reported: a write while free was logged for this unit already
 */
struct zdref_poison_owner {
	u64 index;
	pid_t tgid;
	char comm[TASK_COMM_LEN];
	bool reported;
};

/**
 * struct zdref_poison - a poison=1 device's detector
 * @zd: the device
 * @pending: freed units waiting for their fill, oldest first
 * @npending: units on @pending
 * @nready: units on the device's free list, each of them poisoned
 * @quarantine: units, the most recently freed, kept out of use
 * @work: fills @pending's units and moves them to the free list
 * @owners: the last owner of each unit, by index in zd->pages
 * @last: the last write found, for zdref_poison_last()
 * @last_lock: protects @last
 *
 * @pending, @npending and @nready are under the device's lock.
 */
struct zdref_poison {
	struct zdref_dev *zd;
	struct list_head pending;
	u64 npending;
	u64 nready;
	unsigned int quarantine;
	struct work_struct work;
	struct zdref_poison_owner *owners;
	struct zdref_poison_report last;
	spinlock_t last_lock;	/* @last */
};

/* Fill each page of a unit with poison. */
static void zdref_poison_fill(struct zdref_dev *zd, struct page *head)
{
	unsigned long i;

	for (i = 0; i < zdref_unit_pages(zd); i++) {
		void *addr = kmap_local_page(head + i);

		memset(addr, ZDREF_POISON, PAGE_SIZE);
		kunmap_local(addr);
		if (i % 64 == 63)
			cond_resched();
	}
}

static void zdref_poison_work(struct work_struct *work)
{
	struct zdref_poison *p = container_of(work, struct zdref_poison, work);
	struct zdref_dev *zd = p->zd;
	struct zdref_page *zp;
	LIST_HEAD(batch);
	unsigned int n;

	spin_lock_irq(&zd->lock);
	while (!list_empty(&p->pending)) {
		for (n = 0; n < ZDREF_POISON_BATCH && !list_empty(&p->pending); n++)
			list_move_tail(p->pending.next, &batch);
		p->npending -= n;
		/*
		 * On no list of the pool while filled: no hand-out takes them,
		 * and nothing else moves a free unit.
		 */
		spin_unlock_irq(&zd->lock);
		list_for_each_entry(zp, &batch, node)
			zdref_poison_fill(zd, pfn_to_page(zdref_unit_pfn(zd, zp)));
		cond_resched();
		spin_lock_irq(&zd->lock);
		list_splice_tail_init(&batch, &zd->free_list);
		p->nready += n;
	}
	spin_unlock_irq(&zd->lock);
}

/**
 * zdref_poison_queue_locked() - a freed unit, for poisoning
 * @zd: the device, its lock held
 * @zp: the unit, just freed, on no list
 *
 * Return: true if @zd poisons its free units and took @zp; false if the
 * caller puts it on the free list itself.
 */
bool zdref_poison_queue_locked(struct zdref_dev *zd, struct zdref_page *zp)
{
	struct zdref_poison *p = zd->poison;

	lockdep_assert_held(&zd->lock);
	if (!p)
		return false;
	list_add_tail(&zp->node, &p->pending);
	p->npending++;
	queue_work(zdref_unbound_wq, &p->work);
	return true;
}

/**
 * zdref_poison_take_locked() - the unit a poison=1 device hands out next
 * @zd: the device, its lock held
 * @checked: out: the unit was poisoned, and is to be checked
 *
 * The least recently freed unit, still on its list; none while only the
 * quarantine is left.
 *
 * Return: the unit, or NULL.
 */
struct zdref_page *zdref_poison_take_locked(struct zdref_dev *zd, bool *checked)
{
	struct zdref_poison *p = zd->poison;
	struct zdref_page *zp;

	lockdep_assert_held(&zd->lock);
	if (p->nready + p->npending <= p->quarantine)
		return NULL;
	zp = list_first_entry_or_null(&zd->free_list, struct zdref_page, node);
	if (zp) {
		p->nready--;
		*checked = true;
		return zp;
	}
	/* Freed more recently than the rest, and not poisoned yet. */
	zp = list_first_entry_or_null(&p->pending, struct zdref_page, node);
	if (zp)
		p->npending--;
	*checked = false;
	return zp;
}

/* Bytes of a unit that are not poison: how many, the first, the last. */
static unsigned long zdref_poison_changed(struct zdref_dev *zd, struct page *head,
					  unsigned long *first, unsigned long *last)
{
	unsigned long i, j, bytes = 0;

	for (i = 0; i < zdref_unit_pages(zd); i++) {
		u8 *addr = kmap_local_page(head + i);
		u8 *bad = memchr_inv(addr, ZDREF_POISON, PAGE_SIZE);

		for (j = bad ? bad - addr : PAGE_SIZE; j < PAGE_SIZE; j++) {
			if (addr[j] == ZDREF_POISON)
				continue;
			*last = i * PAGE_SIZE + j;
			if (!bytes++)
				*first = *last;
		}
		kunmap_local(addr);
		if (i % 64 == 63)
			cond_resched();
	}
	return bytes;
}

/* Report a unit written to while free, as its last owner left it. */
static void zdref_poison_report(struct zdref_dev *zd, struct page *head,
				struct zdref_poison_owner *o, unsigned long first,
				unsigned long last, unsigned long bytes)
{
	struct zdref_poison *p = zd->poison;

	atomic64_inc(&zd->poison_errors);
	trace_zdref_poison(zd, page_to_pfn(head), first, last, bytes, o->tgid,
			   o->index);
	spin_lock(&p->last_lock);
	p->last = (struct zdref_poison_report){
		.pfn = page_to_pfn(head), .first = first, .last = last,
		.bytes = bytes, .tgid = o->tgid, .index = o->index,
	};
	memcpy(p->last.comm, o->comm, sizeof(p->last.comm));
	spin_unlock(&p->last_lock);
	if (o->reported)
		return;
	o->reported = true;
	/* By id: the KUnit suites' devices have no device name. */
	pr_err("zdref%d: poison=1: pfn %#lx was written while free: %lu bytes changed, offsets %#lx to %#lx of its unit; its last owner was pid %d (%s), at %#llx: something used a reference after its last put\n",
	       zd->id, page_to_pfn(head), bytes, first, last, o->tgid, o->comm,
	       o->index);
}

/**
 * zdref_poison_handed_out() - check a unit leaving a poison=1 pool
 * @zd: the device
 * @zp: the unit, owned by the caller now, @zp->owner set
 * @head: its head page, its contents not yet cleared or copied into
 * @check: it was poisoned when freed: any byte that is not poison was
 *	written while it was free
 *
 * Records the unit's new owner, for the report its next hand-out may
 * make.  May sleep.
 */
void zdref_poison_handed_out(struct zdref_dev *zd, struct zdref_page *zp,
			     struct page *head, bool check)
{
	struct zdref_poison_owner *o = &zd->poison->owners[zp - zd->pages];
	unsigned long first = 0, last = 0, bytes;

	if (check) {
		bytes = zdref_poison_changed(zd, head, &first, &last);
		if (bytes)
			zdref_poison_report(zd, head, o, first, last, bytes);
	}
	o->index = zp->owner.index;
	o->tgid = zp->owner.tgid;
	get_task_comm(o->comm, current);
}

/**
 * zdref_poison_flush() - wait for the units freed so far to be poisoned
 * @zd: a poison=1 device
 */
void zdref_poison_flush(struct zdref_dev *zd)
{
	flush_work(&zd->poison->work);
}
EXPORT_SYMBOL_IF_KUNIT(zdref_poison_flush);

/**
 * zdref_poison_last() - the last write a poison=1 device found
 * @zd: the device
 * @r: out: the report
 *
 * Return: true if the device found one since it was made.
 */
bool zdref_poison_last(struct zdref_dev *zd, struct zdref_poison_report *r)
{
	struct zdref_poison *p = zd->poison;

	spin_lock(&p->last_lock);
	*r = p->last;
	spin_unlock(&p->last_lock);
	return r->bytes;
}
EXPORT_SYMBOL_IF_KUNIT(zdref_poison_last);

/**
 * zdref_poison_init() - make a device's pool poison its free units
 * @zd: the device, its pool set up (zdref_pool_init())
 * @params: its poison= and quarantine=
 *
 * Every unit is poisoned before its first hand-out is checked: the range
 * holds whatever was in it before the load.
 *
 * Return: 0, -ENOMEM, or -EINVAL if the device's type or size cannot have
 * what @params asks.
 */
int zdref_poison_init(struct zdref_dev *zd, const struct zdref_params *params)
{
	u64 n = zdref_units_total(zd);
	struct zdref_poison *p;

	if (!params->poison)
		return 0;
	if (!zd->info->cpu_maps && !zd->info->in_place) {
		pr_err("poison=1: type=%s pages have no memory the CPU sees, and nothing to poison: use type=coherent, or poison=0 for this device\n",
		       zdref_type_name(zd->type));
		return -EINVAL;
	}
	if (params->quarantine >= n) {
		pr_err("quarantine=%u: device %d has %llu units, and would keep them all out of use: give fewer\n",
		       params->quarantine, zd->id, n);
		return -EINVAL;
	}
	p = kzalloc_obj(*p, GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	p->owners = kvcalloc(n, sizeof(*p->owners), GFP_KERNEL);
	if (!p->owners) {
		kfree(p);
		return -ENOMEM;
	}
	p->zd = zd;
	p->quarantine = params->quarantine;
	INIT_LIST_HEAD(&p->pending);
	INIT_WORK(&p->work, zdref_poison_work);
	spin_lock_init(&p->last_lock);

	spin_lock_irq(&zd->lock);
	list_splice_init(&zd->free_list, &p->pending);
	p->npending = n;
	zd->poison = p;
	spin_unlock_irq(&zd->lock);
	queue_work(zdref_unbound_wq, &p->work);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(zdref_poison_init);

/**
 * zdref_poison_exit() - undo zdref_poison_init()
 * @zd: the device, every unit back in its pool
 */
void zdref_poison_exit(struct zdref_dev *zd)
{
	struct zdref_poison *p = zd->poison;

	if (!p)
		return;
	cancel_work_sync(&p->work);
	zd->poison = NULL;
	kvfree(p->owners);
	kfree(p);
}
EXPORT_SYMBOL_IF_KUNIT(zdref_poison_exit);

/**
 * zdref_poison_quarantine() - a device's quarantine=
 * @zd: the device
 *
 * Return: units kept out of use, 0 without poison=1.
 */
unsigned int zdref_poison_quarantine(struct zdref_dev *zd)
{
	return zd->poison ? zd->poison->quarantine : 0;
}
