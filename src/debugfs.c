// SPDX-License-Identifier: GPL-2.0
/*
 * zdref: /sys/kernel/debug/zdref/zdrefN/, every unit that is not free.
 *
 *   pages   each unit handed out or busy: pfn, state, zdref's count, the
 *           kernel's raw count, mapcount, the owner's pid and file offset
 *           (or user address) while its file holds it, and how long it has
 *           been in that state
 *   busy    the busy units only: pinned after their file let go
 *   model   how zdref's count sits on the kernel's for this device here
 *
 * Root only: pfns and pids.  Each unit is read under the pool's lock on
 * its own, never the whole pool at once: a unit freed meanwhile is
 * skipped, and a device of millions of units is walked with the lock
 * free between them.  A unit's struct page outlives any read: debugfs
 * removal waits for its readers, and a device is removed before its
 * pagemap (zdref_dev_destroy()).
 */
#include <linux/debugfs.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>

#include <zdref/compat.h>
#include "zdref.h"

static struct dentry *zdref_debugfs_root;

static const char *const zdref_state_names[] = {
	[ZDREF_PAGE_NONE]	= "none",
	[ZDREF_PAGE_FREE]	= "free",
	[ZDREF_PAGE_OWNED]	= "owned",
	[ZDREF_PAGE_BUSY]	= "busy",
};

static const char *const zdref_last_drop_names[] = {
	[ZDREF_DROP_WATCHED]		= "watched",
	[ZDREF_DROP_CALLBACK_RESET]	= "callback_reset",
	[ZDREF_DROP_CALLBACK_FINAL]	= "callback_final",
};

/* One unit, as read under the lock. */
struct zdref_debugfs_unit {
	u8 state;
	bool kernel_freed;
	u32 since;
	u64 index;
	pid_t tgid;
};

/*
 * The next unit at or after @pos that @busy_only lets through (all that
 * are not free, or the busy ones), by a lockless look at its state; its
 * show reads it again under the lock.  Position 0 is the header, unit i
 * is at i + 1.
 */
static void *zdref_debugfs_find(struct seq_file *m, loff_t *pos, bool busy_only)
{
	struct zdref_dev *zd = m->private;
	u64 units = zdref_units_total(zd);

	if (*pos == 0)
		return SEQ_START_TOKEN;
	for (; *pos <= units; (*pos)++) {
		u8 state = READ_ONCE(zd->pages[*pos - 1].state);

		if (state == ZDREF_PAGE_BUSY ||
		    (state == ZDREF_PAGE_OWNED && !busy_only))
			return &zd->pages[*pos - 1];
		if (*pos % 4096 == 0) {
			cond_resched();
			if (fatal_signal_pending(current))
				return NULL;
		}
	}
	return NULL;
}

static void *zdref_debugfs_pages_start(struct seq_file *m, loff_t *pos)
{
	return zdref_debugfs_find(m, pos, false);
}

static void *zdref_debugfs_busy_start(struct seq_file *m, loff_t *pos)
{
	return zdref_debugfs_find(m, pos, true);
}

static void *zdref_debugfs_pages_next(struct seq_file *m, void *v, loff_t *pos)
{
	(*pos)++;
	return zdref_debugfs_find(m, pos, false);
}

static void *zdref_debugfs_busy_next(struct seq_file *m, void *v, loff_t *pos)
{
	(*pos)++;
	return zdref_debugfs_find(m, pos, true);
}

static void zdref_debugfs_stop(struct seq_file *m, void *v)
{
}

static int zdref_debugfs_show(struct seq_file *m, void *v)
{
	struct zdref_dev *zd = m->private;
	struct zdref_page *zp = v;
	struct zdref_debugfs_unit u;
	unsigned long pfn;
	struct page *head;
	int raw;

	if (v == SEQ_START_TOKEN) {
		seq_puts(m, "# pfn state count raw mapcount pid at ms\n");
		return 0;
	}
	spin_lock_irq(&zd->lock);
	u = (struct zdref_debugfs_unit){
		.state = zp->state, .kernel_freed = zp->kernel_freed,
		.since = zp->since,
	};
	if (u.state == ZDREF_PAGE_OWNED) {
		u.index = zp->owner.index;
		u.tgid = zp->owner.tgid;
	}
	spin_unlock_irq(&zd->lock);
	/* Freed since the walk found it. */
	if (u.state != ZDREF_PAGE_OWNED && u.state != ZDREF_PAGE_BUSY)
		return 0;

	pfn = zdref_unit_pfn(zd, zp);
	head = pfn_to_page(pfn);
	raw = page_ref_count(head);
	seq_printf(m, "%#lx %s%s %d %d %d ", pfn, zdref_state_names[u.state],
		   u.kernel_freed ? "+kernel_freed" : "", raw - zd->model.base,
		   raw, zdref_page_mapcount(head));
	if (u.state == ZDREF_PAGE_OWNED)
		seq_printf(m, "%d %#llx", u.tgid, u.index);
	else
		seq_puts(m, "- -");
	seq_printf(m, " %u\n", zdref_age_ms(u.since));
	return 0;
}

static const struct seq_operations zdref_debugfs_pages_sops = {
	.start = zdref_debugfs_pages_start,
	.next = zdref_debugfs_pages_next,
	.stop = zdref_debugfs_stop,
	.show = zdref_debugfs_show,
};
DEFINE_SEQ_ATTRIBUTE(zdref_debugfs_pages);

static const struct seq_operations zdref_debugfs_busy_sops = {
	.start = zdref_debugfs_busy_start,
	.next = zdref_debugfs_busy_next,
	.stop = zdref_debugfs_stop,
	.show = zdref_debugfs_show,
};
DEFINE_SEQ_ATTRIBUTE(zdref_debugfs_busy);

/* What include/zdref/refcount.h chose for this device, and why. */
static int zdref_debugfs_model_show(struct seq_file *m, void *v)
{
	struct zdref_dev *zd = m->private;
	const struct zdref_refmodel *rm = &zd->model;

	seq_printf(m, "type %s\n", zdref_type_name(zd->type));
	seq_printf(m, "scope %s\n", zdref_scope_name(zd->scope));
	seq_printf(m, "devmap_managed %d\n", ZDREF_HAVE_DEVMAP_MANAGED);
	seq_printf(m, "idle %d\n", rm->idle);
	seq_printf(m, "base %d\n", rm->base);
	seq_printf(m, "last_drop %s\n", zdref_last_drop_names[rm->last_drop]);
	seq_printf(m, "unit %lu\n", PAGE_SIZE << zd->order);
	seq_printf(m, "poison %d\n", !!zd->poison);
	seq_printf(m, "quarantine %u\n", zdref_poison_quarantine(zd));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(zdref_debugfs_model);

/**
 * zdref_debugfs_init() - make /sys/kernel/debug/zdref/
 *
 * A kernel without debugfs, or a failure, leaves zdref without its view
 * and nothing else changes: the debugfs functions take the error pointer
 * as a parent and do nothing.
 */
void zdref_debugfs_init(void)
{
	zdref_debugfs_root = debugfs_create_dir(KBUILD_MODNAME, NULL);
}

void zdref_debugfs_exit(void)
{
	debugfs_remove_recursive(zdref_debugfs_root);
}

/**
 * zdref_debugfs_add() - a device's directory, zdrefN
 * @zd: the device, its pool up
 */
void zdref_debugfs_add(struct zdref_dev *zd)
{
	char name[16];

	snprintf(name, sizeof(name), KBUILD_MODNAME "%d", zd->id);
	zd->debugfs = debugfs_create_dir(name, zdref_debugfs_root);
	debugfs_create_file("pages", 0400, zd->debugfs, zd, &zdref_debugfs_pages_fops);
	debugfs_create_file("busy", 0400, zd->debugfs, zd, &zdref_debugfs_busy_fops);
	debugfs_create_file("model", 0400, zd->debugfs, zd, &zdref_debugfs_model_fops);
}

/**
 * zdref_debugfs_remove() - remove a device's directory
 * @zd: the device; returns once no reader is left in its files
 */
void zdref_debugfs_remove(struct zdref_dev *zd)
{
	debugfs_remove_recursive(zd->debugfs);
	zd->debugfs = NULL;
}
