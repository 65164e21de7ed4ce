// SPDX-License-Identifier: GPL-2.0
/*
 * zdref's KUnit suites: the module, its parameter and the devices the
 * tests register (see zdref_kunit.h).
 */
#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/path.h>
#include <linux/sched.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include <zdref/compat.h>

#include "zdref_kunit.h"

static char *region;
module_param(region, charp, 0444);
MODULE_PARM_DESC(region,
		 "SIZE@START: reserved memory the suites' own FS_DAX and GENERIC devices may use, inside a memmap=SIZE$START range and apart from zdref0's (2 MiB aligned)");

const enum zdref_type zdref_kunit_all_types[4] = {
	ZDREF_TYPE_FSDAX, ZDREF_TYPE_GENERIC, ZDREF_TYPE_PRIVATE,
	ZDREF_TYPE_COHERENT,
};

/* The types whose pages the CPU maps and zdref hands out today. */
const enum zdref_type zdref_kunit_mappable_types[2] = {
	ZDREF_TYPE_FSDAX, ZDREF_TYPE_GENERIC,
};

void zdref_kunit_type_desc(const enum zdref_type *type, char *desc)
{
	strscpy(desc, zdref_type_name(*type), KUNIT_PARAM_DESC_SIZE);
}

/**
 * zdref_kunit_require_region() - the start of the suites' reserved range
 * @test: the test; skipped if zdref_kunit.ko was given no usable region=
 * @size: how much of it the test needs
 * @start: where the range starts
 */
void zdref_kunit_require_region(struct kunit *test, u64 size, u64 *start)
{
	u64 have;
	char *end;

	if (!region || !*region)
		kunit_skip(test, "no reserved memory: zdref_kunit.ko was given no region=");
	have = memparse(region, &end);
	if (*end != '@' && *end != '$')
		kunit_skip(test, "region=%s: expected SIZE@START", region);
	*start = memparse(end + 1, &end);
	if (*end)
		kunit_skip(test, "region=%s: expected SIZE@START", region);
	if (have < size)
		kunit_skip(test, "region=%s: the test needs %llu MiB", region,
			   size >> 20);
}

static u64 zdref_kunit_locked(struct zdref_dev *zd, u64 *v)
{
	u64 val;

	spin_lock_irq(&zd->lock);
	val = *v;
	spin_unlock_irq(&zd->lock);
	return val;
}

u64 zdref_kunit_pages_free(struct zdref_dev *zd)
{
	return zdref_kunit_locked(zd, &zd->pages_free);
}

u64 zdref_kunit_pages_busy(struct zdref_dev *zd)
{
	return zdref_kunit_locked(zd, &zd->pages_busy);
}

u8 zdref_kunit_state(struct zdref_dev *zd, struct page *page)
{
	return READ_ONCE(zdref_unit_of(zd, page)->state);
}

u32 zdref_kunit_gen(struct zdref_dev *zd, struct page *page)
{
	return READ_ONCE(zdref_unit_of(zd, page)->gen);
}

/* The index of @page's unit, in zd->pages and in a test's @held. */
static unsigned long zdref_kunit_unit(struct zdref_dev *zd, struct page *page)
{
	return zdref_unit_of(zd, page) - zd->pages;
}

/**
 * zdref_kunit_skip_no_hand_out() - skip a test that hands out pages
 * @test: the test
 * @type: its device's type, skipped if its pages are not handed out here
 *
 * These cases read pages through the kernel's mapping.  A device-private
 * page has none (its data lives in a system page): the guest selftests
 * zdref_hmm_test and the kernel's hmm-tests (scripts/hmm-tests) cover
 * device-private pages.  A device-coherent page has one, and is handed
 * out where the kernel has device memory migration.
 */
void zdref_kunit_skip_no_hand_out(struct kunit *test, enum zdref_type type)
{
	if (type == ZDREF_TYPE_PRIVATE)
		kunit_skip(test, "%s: zdref_hmm_test and hmm-tests cover them",
			   "device-private pages have no kernel mapping, no busy state");
	/* Registered, as the module never does here, but never handed out. */
	if (type == ZDREF_TYPE_COHERENT && !zdref_coherent_offered())
		kunit_skip(test, "type=coherent: %s",
			   "this kernel has no device memory migration for zdref");
}

static bool zdref_kunit_whole(struct zdref_dev *zd)
{
	bool whole;

	spin_lock_irq(&zd->lock);
	whole = zd->pages_free == zdref_pages_total(zd) && !zd->pages_busy;
	spin_unlock_irq(&zd->lock);
	return whole;
}

/**
 * zdref_kunit_wait_whole() - wait for every page to be back in the pool
 * @kd: the device
 *
 * Files a kernel thread closes, a test's included, are released by a
 * work item: run those first.
 *
 * Return: true once the pool is whole, false after ZDREF_KUNIT_WAIT.
 */
bool zdref_kunit_wait_whole(struct zdref_kunit_dev *kd)
{
	unsigned long deadline = jiffies + ZDREF_KUNIT_WAIT;

	for (;;) {
		flush_delayed_fput();
		if (zdref_kunit_whole(kd->zd))
			return true;
		if (time_after(jiffies, deadline))
			return false;
		wait_event_timeout(kd->zd->free_wq, zdref_kunit_whole(kd->zd),
				   HZ / 10);
	}
}

/**
 * zdref_kunit_wait_freed() - wait for a page to be freed
 * @kd: the device
 * @page: the page
 * @gen: its generation (zdref_kunit_gen()) before the last reference
 *	could drop
 *
 * Return: true once the page was freed since @gen, false after
 * ZDREF_KUNIT_WAIT.
 */
bool zdref_kunit_wait_freed(struct zdref_kunit_dev *kd, struct page *page,
			    u32 gen)
{
	return wait_event_timeout(kd->zd->free_wq,
				  zdref_kunit_gen(kd->zd, page) != gen,
				  ZDREF_KUNIT_WAIT) > 0;
}

/**
 * zdref_kunit_alloc() - hand out a page of a test's device to the test
 * @kd: the device
 *
 * Return: the page, holding the reference of its (pretend) file, or NULL
 * when the pool is empty.  The device's teardown puts what the test did
 * not put with zdref_kunit_put().
 */
struct page *zdref_kunit_alloc(struct zdref_kunit_dev *kd)
{
	struct page *page = zdref_page_alloc(kd->zd, 0);

	if (page)
		set_bit(zdref_kunit_unit(kd->zd, page), kd->held);
	return page;
}

/**
 * zdref_kunit_put() - drop the test's file reference on a page
 * @kd: the device
 * @page: a page of zdref_kunit_alloc()
 */
void zdref_kunit_put(struct zdref_kunit_dev *kd, struct page *page)
{
	clear_bit(zdref_kunit_unit(kd->zd, page), kd->held);
	zdref_page_put(kd->zd, page);
}

/*
 * Close, and run the release at once: a kernel thread's last fput() is
 * otherwise left to a work item.  The mappings of a test that ended
 * early go with its address space; the device's teardown waits for them.
 */
void zdref_kunit_close(struct zdref_kunit_file *kf)
{
	if (!kf->file)
		return;
	fput(kf->file);
	kf->file = NULL;
	flush_delayed_fput();
}

static void zdref_kunit_close_action(void *data)
{
	zdref_kunit_close(data);
}

/*
 * The root of the process that loads zdref_kunit.ko, where its /dev is.
 * Tests run in kernel threads, whose root may be another (7.x mounts the
 * initramfs over a nullfs root that kernel threads keep).
 */
static struct path zdref_kunit_root;

/**
 * zdref_kunit_open() - open a test's device as user space does
 * @test: the test; skipped if /dev, as the process that loaded
 *	zdref_kunit.ko sees it, has no node for the device
 * @kd: a device made with ZDREF_KUNIT_CHARDEV
 *
 * Return: the open file, closed when the test ends unless the test closes
 * it first with zdref_kunit_close().
 */
struct zdref_kunit_file *zdref_kunit_open(struct kunit *test,
					  struct zdref_kunit_dev *kd)
{
	struct zdref_kunit_file *kf;
	char path[32];

	kf = kunit_kzalloc(test, sizeof(*kf), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, kf);
	snprintf(path, sizeof(path), "dev/%s", dev_name(&kd->zd->dev));
	kf->file = file_open_root(&zdref_kunit_root, path, O_RDWR, 0);
	if (IS_ERR(kf->file) && PTR_ERR(kf->file) == -ENOENT)
		kunit_skip(test, "no /%s: mount devtmpfs on /dev, then load zdref_kunit", path);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, kf->file);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, zdref_kunit_close_action, kf), 0);
	return kf;
}

/*
 * Undo what the test's device has, as zdref_exit() does: a device of
 * zdref_kunit_dev_add() with zdref_dev_destroy(), one of the steps of
 * zdref_kunit_dev_init() a step at a time.
 */
static void zdref_kunit_dev_teardown(void *data)
{
	struct zdref_kunit_dev *kd = data;
	struct zdref_dev *zd = kd->zd;
	unsigned long i;

	if (kd->pooled && kd->held)
		for_each_set_bit(i, kd->held, zdref_pages_total(zd) >> zd->order)
			zdref_page_put(zd, pfn_to_page(zd->pfn_first + (i << zd->order)));
	if (kd->chardev)
		zdref_chardev_remove(zd);
	if (kd->pooled && !zdref_kunit_wait_whole(kd)) {
		KUNIT_FAIL(kd->test, "%s: %llu pages still referenced (%llu busy) after %u s: %s",
			   zdref_type_name(zd->type),
			   zdref_pages_total(zd) - zdref_kunit_pages_free(zd),
			   zdref_kunit_pages_busy(zd), ZDREF_KUNIT_WAIT / HZ,
			   "leaving the device registered");
		return;
	}
	bitmap_free(kd->held);
	if (kd->created) {
		zdref_dev_destroy(zd);
		return;
	}
	if (kd->pooled)
		zdref_pool_exit(zd);
	if (kd->mapped)
		zdref_pagemap_remove(zd);
	if (kd->claimed)
		zdref_region_release(zd);
	put_device(&zd->dev);
}

/* A test's device of @type, once zdref_dev_alloc() or _create() made it. */
static struct zdref_kunit_dev *zdref_kunit_dev_new(struct kunit *test,
						   enum zdref_type type)
{
	struct zdref_kunit_dev *kd;

	if (type == ZDREF_TYPE_PRIVATE && !IS_ENABLED(CONFIG_DEVICE_PRIVATE))
		kunit_skip(test, "type=private needs a kernel with CONFIG_DEVICE_PRIVATE=y");
	kd = kunit_kzalloc(test, sizeof(*kd), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, kd);
	kd->test = test;
	return kd;
}

/**
 * zdref_kunit_dev_init() - a device of a test, with no range yet
 * @test: the test
 * @type: the type of its pages
 *
 * For tests of the steps themselves (zdref_region_claim(),
 * zdref_pagemap_add(), zdref_pool_init()): each step that succeeds must
 * be recorded in the returned &struct zdref_kunit_dev for the teardown.
 *
 * Return: the device, as zdref_dev_alloc() makes it; the test aborts if
 * it cannot have one.
 */
struct zdref_kunit_dev *zdref_kunit_dev_init(struct kunit *test,
					     enum zdref_type type)
{
	struct zdref_params params = { .type = type };
	struct zdref_kunit_dev *kd = zdref_kunit_dev_new(test, type);

	kd->zd = zdref_dev_alloc(&params, ZDREF_KUNIT_ID);
	KUNIT_ASSERT_NOT_NULL(test, kd->zd);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, zdref_kunit_dev_teardown, kd), 0);
	return kd;
}

/* A working device of a test, of @params but its region. */
static struct zdref_kunit_dev *zdref_kunit_dev_make(struct kunit *test,
						    struct zdref_params *params,
						    u64 size, unsigned int flags)
{
	struct zdref_kunit_dev *kd = zdref_kunit_dev_new(test, params->type);
	enum zdref_type type = params->type;
	struct zdref_dev *zd;
	u64 start;

	params->region = kd->spec;
	if (!zdref_type_info(type)->physical) {
		snprintf(kd->spec, sizeof(kd->spec), "%llu", size);
	} else {
		zdref_kunit_require_region(test, size, &start);
		snprintf(kd->spec, sizeof(kd->spec), "%llu@0x%llx", size, start);
	}
	zd = zdref_dev_create(params, ZDREF_KUNIT_ID);
	KUNIT_ASSERT_NOT_ERR_OR_NULL_MSG(test, zd, "region=%s", kd->spec);
	kd->zd = zd;
	kd->created = true;
	kd->pooled = true;
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, zdref_kunit_dev_teardown, kd), 0);
	kd->held = bitmap_zalloc(zdref_pages_total(zd) >> zd->order, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, kd->held);
	if (flags & ZDREF_KUNIT_CHARDEV) {
		KUNIT_ASSERT_EQ(test, zdref_chardev_add(zd), 0);
		kd->chardev = true;
	}
	return kd;
}

/**
 * zdref_kunit_dev_add() - a working device of a test
 * @test: the test
 * @type: the type of its pages
 * @size: its size, a multiple of 2 MiB
 * @flags: ZDREF_KUNIT_CHARDEV for a /dev/zdrefN as well
 *
 * Made by zdref_dev_create(), as the module makes its own.  FS_DAX,
 * GENERIC and COHERENT devices sit at the start of zdref_kunit.ko's
 * region=, device-private ones on a free physical range.  Torn down when
 * the test ends.
 *
 * Return: the device; the test aborts if it cannot have one.
 */
struct zdref_kunit_dev *zdref_kunit_dev_add(struct kunit *test,
					    enum zdref_type type, u64 size,
					    unsigned int flags)
{
	struct zdref_params params = { .type = type };

	return zdref_kunit_dev_make(test, &params, size, flags);
}

/**
 * zdref_kunit_dev_add_poison() - a working poison=1 device of a test
 * @test: the test
 * @type: the type of its pages
 * @size: its size, a multiple of 2 MiB
 * @quarantine: its quarantine=
 *
 * As zdref_kunit_dev_add(), with no /dev/zdrefN.
 *
 * Return: the device; the test aborts if it cannot have one.
 */
struct zdref_kunit_dev *zdref_kunit_dev_add_poison(struct kunit *test,
						   enum zdref_type type, u64 size,
						   unsigned int quarantine)
{
	struct zdref_params params = {
		.type = type, .poison = true, .quarantine = quarantine,
	};

	return zdref_kunit_dev_make(test, &params, size, 0);
}

/**
 * zdref_kunit_dev_add_device_scope() - a working scope=device device of a test
 * @test: the test
 * @type: the type of its pages
 * @size: its size, a multiple of 2 MiB
 *
 * As zdref_kunit_dev_add(), with no /dev/zdrefN.
 *
 * Return: the device; the test aborts if it cannot have one.
 */
struct zdref_kunit_dev *zdref_kunit_dev_add_device_scope(struct kunit *test,
							 enum zdref_type type,
							 u64 size)
{
	struct zdref_params params = { .type = type, .scope = ZDREF_SCOPE_DEVICE };

	return zdref_kunit_dev_make(test, &params, size, 0);
}

static int __init zdref_kunit_init(void)
{
	get_fs_root(current->fs, &zdref_kunit_root);
	return 0;
}

static void __exit zdref_kunit_exit(void)
{
	path_put(&zdref_kunit_root);
}

module_init(zdref_kunit_init);
module_exit(zdref_kunit_exit);

kunit_test_suites(&zdref_refcount_suite, &zdref_pool_suite,
		  &zdref_fault_suite, &zdref_errors_suite, &zdref_poison_suite,
		  &zdref_space_suite);

MODULE_DESCRIPTION("KUnit suites of zdref: reference model, pool, faults, error paths, poison, device scope");
MODULE_AUTHOR("The zdref developers");
MODULE_LICENSE("GPL");
ZDREF_IMPORT_NS_KUNIT;
