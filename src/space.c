// SPDX-License-Identifier: GPL-2.0
/*
 * zdref: whose pages a device's offsets are (scope=).
 *
 * A space maps offsets of the device, in allocation units, to the units
 * handed out for them, and holds one reference on each.  With scope=file
 * every open file has a space of its own, emptied at its last close:
 * a page's life is one open's.  With scope=device the device has one
 * space, shared by every open and every process, as device-dax's pages
 * and a DAX file's are: a page keeps its contents from one open to the
 * next until ZDREF_IOC_RELEASE gives it up, or the module is unloaded.
 *
 * The unload is what needs care.  Every mapping of the device holds a
 * file, and every file holds the module, so while any file is alive
 * rmmod is refused.  With no file left, no unit can be mapped, and a
 * unit whose count is above its space's one reference is pinned (GUP,
 * a pipe) with nothing holding the module: unloading would free it
 * under the pin.  So when a device space's last file goes, its pinned
 * units are marked and the device holds the module until a watch has
 * seen each of them back at one reference.  No unit can become pinned
 * with no file alive (a pin needs a mapping, or a reference it copies),
 * so the module is held exactly as long as the unload would be unsafe.
 */
#include <kunit/visibility.h>
#include <linux/module.h>
#include <linux/string.h>

#include <zdref/compat.h>
#include "zdref.h"

/* A device space's unit that was pinned when its last file went. */
#define ZDREF_SPACE_PINNED	XA_MARK_0

/* The watch's longest wait between looks at pinned units. */
#define ZDREF_SPACE_WATCH_MAX	msecs_to_jiffies(100)

static const char *const zdref_scope_names[] = {
	[ZDREF_SCOPE_FILE]	= "file",
	[ZDREF_SCOPE_DEVICE]	= "device",
};

/**
 * zdref_scope_name() - the scope= name of a scope
 * @scope: the scope
 *
 * Return: "file" or "device".
 */
const char *zdref_scope_name(enum zdref_scope scope)
{
	return zdref_scope_names[scope];
}

/**
 * zdref_parse_scope() - the scope a scope= name stands for
 * @s: the name, as sysfs_match_string() compares it
 * @scope: set to the scope, unchanged if @s names none
 *
 * Return: 0, or -EINVAL for an unknown name.
 */
int zdref_parse_scope(const char *s, enum zdref_scope *scope)
{
	int i = sysfs_match_string(zdref_scope_names, s);

	if (i < 0)
		return i;
	*scope = i;
	return 0;
}

static void zdref_space_watch(struct work_struct *work);

/**
 * zdref_space_init() - an empty space
 * @s: the space, a file's or a device's
 */
void zdref_space_init(struct zdref_space *s)
{
	/* Its nodes grow with what openers map: charged to them. */
	xa_init_flags(&s->pages, XA_FLAGS_ACCOUNT);
	init_rwsem(&s->lock);
	atomic_set(&s->files, 0);
	INIT_DELAYED_WORK(&s->watch, zdref_space_watch);
	s->held = false;
}
EXPORT_SYMBOL_IF_KUNIT(zdref_space_init);

/**
 * zdref_space_hand_out() - hand out the unit of a space's offset that it
 * had none for when the caller looked (zdref_space_find())
 * @zd: the device
 * @s: the space, its lock held for read
 * @index: the offset, in units
 *
 * Return: the unit's head page (a racing fault's, if it was first), or
 * ERR_PTR(-ENOSPC) past the device or with the pool empty, or the
 * XArray's error.
 */
struct page *zdref_space_hand_out(struct zdref_dev *zd, struct zdref_space *s,
				  pgoff_t index)
{
	struct mutex *lock;	/* the offset's hand-out lock */
	struct page *page;
	int err;

	/* Past the device's size (mremap can grow a mapping there). */
	if (index >= zdref_units_total(zd))
		return ERR_PTR(-ENOSPC);
	/*
	 * One hand-out at a time per offset: two first faults there (threads,
	 * or with scope=device any processes) must not both take a unit, or
	 * with one unit left the loser would get SIGBUS at an offset that is
	 * about to have its page.
	 */
	lock = &zd->unit_locks[index % ZDREF_UNIT_LOCKS];
	mutex_lock(lock);
	page = zdref_space_find(s, index);
	if (page)
		goto out;
	page = zdref_page_alloc(zd, (u64)index << (PAGE_SHIFT + zd->order));
	if (!page) {
		dev_warn_ratelimited(&zd->dev, "pool exhausted: all %llu pages are in use\n",
				     zdref_pages_total(zd));
		page = ERR_PTR(-ENOSPC);
		goto out;
	}
	err = xa_err(xa_store(&s->pages, index, page, GFP_KERNEL));
	if (err) {
		zdref_page_put(zd, page);
		page = ERR_PTR(err);
	}
out:
	mutex_unlock(lock);
	return page;
}

/**
 * zdref_space_unit() - the unit of a space's offset, handed out on first use
 * @zd: the device
 * @s: the space, its lock held for read
 * @index: the offset, in units
 *
 * Return: the unit's head page, or as zdref_space_hand_out().
 */
struct page *zdref_space_unit(struct zdref_dev *zd, struct zdref_space *s,
			      pgoff_t index)
{
	return zdref_space_find(s, index) ?: zdref_space_hand_out(zd, s, index);
}
EXPORT_SYMBOL_IF_KUNIT(zdref_space_unit);

/**
 * zdref_space_open() - the space a new open file of a device uses
 * @zd: the device
 * @own: the file's own space, which scope=file initialises and returns
 *
 * Return: @own, or the device's space, which counts the file until
 * zdref_space_close().
 */
struct zdref_space *zdref_space_open(struct zdref_dev *zd,
				     struct zdref_space *own)
{
	if (zd->scope == ZDREF_SCOPE_DEVICE) {
		atomic_inc(&zd->space.files);
		return &zd->space;
	}
	zdref_space_init(own);
	return own;
}
EXPORT_SYMBOL_IF_KUNIT(zdref_space_open);

/* Drop a space's reference on every unit it has, a batch at a time. */
static void zdref_space_empty(struct zdref_dev *zd, struct zdref_space *s)
{
	struct zdref_put_batch batch = { };
	unsigned long index;
	struct page *page;

	xa_for_each(&s->pages, index, page)
		zdref_put_batch_add(zd, &batch, page);
	zdref_put_batch_end(zd, &batch);
	xa_destroy(&s->pages);
}

/*
 * Mark the device space's pinned units, its last file gone, and hold the
 * module for them (see the top of this file).  Its units may be millions:
 * the walk yields, and cannot stop early, since an unmarked pinned unit
 * would let the module go.
 */
static void zdref_space_hold_pinned(struct zdref_dev *zd, struct zdref_space *s)
{
	unsigned long index;
	struct page *page;
	u64 seen = 0;
	bool pinned = false;

	down_write(&s->lock);
	xa_for_each(&s->pages, index, page) {
		if (zdref_ref_count(&zd->model, page) > 1) {
			xa_set_mark(&s->pages, index, ZDREF_SPACE_PINNED);
			pinned = true;
		}
		if (++seen % 4096 == 0)
			cond_resched();
	}
	if (pinned && !s->held) {
		s->held = true;
		__module_get(THIS_MODULE);
		s->watch_delay = 1;
		mod_delayed_work(zdref_percpu_wq, &s->watch, s->watch_delay);
	}
	up_write(&s->lock);
}

/**
 * zdref_space_close() - an open file of a device is gone
 * @zd: the device
 * @s: the space zdref_space_open() gave it
 *
 * scope=file: the file's units are given up (freed, or busy while
 * pinned).  scope=device: they stay the device's; with its last file
 * gone, the device holds the module while any of them is pinned.
 */
void zdref_space_close(struct zdref_dev *zd, struct zdref_space *s)
{
	if (s != &zd->space) {
		zdref_space_empty(zd, s);
		return;
	}
	if (atomic_dec_and_test(&s->files))
		zdref_space_hold_pinned(zd, s);
}
EXPORT_SYMBOL_IF_KUNIT(zdref_space_close);

/*
 * The device space's pinned units: unmark each seen back at its one
 * reference; with none left, let the module go.  Again, less often each
 * time nothing changed, while some remain.
 */
static void zdref_space_watch(struct work_struct *work)
{
	struct zdref_space *s = container_of(to_delayed_work(work),
					     struct zdref_space, watch);
	struct zdref_dev *zd = container_of(s, struct zdref_dev, space);
	bool release = false, unmarked = false, more = false;
	unsigned long index;
	struct page *page;

	down_write(&s->lock);
	xa_for_each_marked(&s->pages, index, page, ZDREF_SPACE_PINNED) {
		if (zdref_ref_count(&zd->model, page) > 1) {
			more = true;
		} else {
			xa_clear_mark(&s->pages, index, ZDREF_SPACE_PINNED);
			unmarked = true;
		}
		cond_resched();
	}
	if (!more && s->held) {
		s->held = false;
		release = true;
	} else if (more) {
		if (!unmarked)
			s->watch_delay = min_t(unsigned long, s->watch_delay * 2,
					       ZDREF_SPACE_WATCH_MAX);
		mod_delayed_work(zdref_percpu_wq, &s->watch, s->watch_delay);
	}
	up_write(&s->lock);
	/* The device's teardown waits for this work to end (zdref_space_exit()). */
	if (release)
		module_put(THIS_MODULE);
}

/**
 * zdref_space_kick() - look at the device space's pinned units now
 * @zd: the device
 *
 * For a release that may have taken marked units out of the space.
 */
void zdref_space_kick(struct zdref_dev *zd)
{
	if (READ_ONCE(zd->space.held))
		mod_delayed_work(zdref_percpu_wq, &zd->space.watch, 0);
}

/**
 * zdref_space_exit() - give up the device space's units, at the device's end
 * @zd: the device: no file of it left, so none of its units mapped, and
 *	none pinned (the module would be held)
 */
void zdref_space_exit(struct zdref_dev *zd)
{
	cancel_delayed_work_sync(&zd->space.watch);
	WARN_ON(zd->space.held);
	zdref_space_empty(zd, &zd->space);
}
EXPORT_SYMBOL_IF_KUNIT(zdref_space_exit);
