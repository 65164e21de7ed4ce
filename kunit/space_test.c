// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite zdref_space: scope=device (src/space.c).  A device's units
 * outlive its files; one pinned when the device's last file goes makes
 * the device hold the module until the pin drops, and no longer; one not
 * pinned makes it hold nothing; the device's end gives up what it kept.
 * The "files" here are zdref_space_open() and _close(), which file.c
 * calls at an open and at an open file's last reference.
 */
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/mm.h>

#include "zdref_kunit.h"

KUNIT_ARRAY_PARAM(zdref_mappable_types, zdref_kunit_mappable_types,
		  zdref_kunit_type_desc);

/* A file of @zd's: the device's space, and its unit @index, handed out on first use. */
static struct page *zdref_space_test_unit(struct kunit *test,
					  struct zdref_dev *zd,
					  struct zdref_space *own, pgoff_t index)
{
	struct zdref_space *s = zdref_space_open(zd, own);
	struct page *page;

	KUNIT_ASSERT_PTR_EQ(test, s, &zd->space);
	down_read(&s->lock);
	page = zdref_space_unit(zd, s, index);
	up_read(&s->lock);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, page);
	return page;
}

/* Up to 1 s for the watch to let the module go. */
static bool zdref_space_test_released(struct zdref_dev *zd)
{
	int i;

	for (i = 0; i < 50 && READ_ONCE(zd->space.held); i++)
		msleep(20);
	return !READ_ONCE(zd->space.held);
}

/*
 * Pinned at the last close: held, still held while the pin lasts, let go
 * once it drops; the unit stays the device's all along, and the device's
 * end frees it, once.
 */
static void zdref_space_pinned_holds(struct kunit *test)
{
	const enum zdref_type *type = test->param_value;
	struct zdref_kunit_dev *kd = zdref_kunit_dev_add_device_scope(test, *type, SZ_2M);
	struct zdref_dev *zd = kd->zd;
	u64 total = zdref_pages_total(zd);
	struct zdref_space own;
	struct page *page;

	page = zdref_space_test_unit(test, zd, &own, 3);
	KUNIT_EXPECT_EQ(test, zdref_ref_count(&zd->model, page), 1);
	get_page(page);		/* a pin, as GUP's */
	zdref_space_close(zd, &zd->space);
	KUNIT_EXPECT_TRUE(test, READ_ONCE(zd->space.held));
	msleep(50);		/* the watch has looked, and kept it */
	KUNIT_EXPECT_TRUE(test, READ_ONCE(zd->space.held));
	put_page(page);
	KUNIT_EXPECT_TRUE(test, zdref_space_test_released(zd));
	KUNIT_EXPECT_EQ(test, zdref_kunit_state(zd, page), ZDREF_PAGE_OWNED);
	KUNIT_EXPECT_EQ(test, zdref_kunit_pages_free(zd), total - 1);

	zdref_space_exit(zd);
	KUNIT_EXPECT_TRUE(test, zdref_kunit_wait_whole(kd));
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->frees), 1);
}

/* Nothing pinned at the last close: nothing held, the unit kept. */
static void zdref_space_unpinned_holds_nothing(struct kunit *test)
{
	const enum zdref_type *type = test->param_value;
	struct zdref_kunit_dev *kd = zdref_kunit_dev_add_device_scope(test, *type, SZ_2M);
	struct zdref_dev *zd = kd->zd;
	struct zdref_space own;
	struct page *page;

	page = zdref_space_test_unit(test, zd, &own, 0);
	KUNIT_EXPECT_EQ(test, zdref_ref_count(&zd->model, page), 1);
	zdref_space_close(zd, &zd->space);
	KUNIT_EXPECT_FALSE(test, READ_ONCE(zd->space.held));
	KUNIT_EXPECT_EQ(test, zdref_kunit_state(zd, page), ZDREF_PAGE_OWNED);
	KUNIT_EXPECT_EQ(test, zdref_ref_count(&zd->model, page), 1);

	zdref_space_exit(zd);
	KUNIT_EXPECT_TRUE(test, zdref_kunit_wait_whole(kd));
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->frees), 1);
}

/*
 * A second file opened while a unit is pinned and the module held, then
 * closed with the pin still there: held once, not twice, and let go at
 * the unpin.
 */
static void zdref_space_reopened_holds_once(struct kunit *test)
{
	const enum zdref_type *type = test->param_value;
	struct zdref_kunit_dev *kd = zdref_kunit_dev_add_device_scope(test, *type, SZ_2M);
	struct zdref_dev *zd = kd->zd;
	struct zdref_space own;
	struct page *page;

	page = zdref_space_test_unit(test, zd, &own, 1);
	get_page(page);
	zdref_space_close(zd, &zd->space);
	/* The same unit, the device's reference and the pin on it. */
	KUNIT_EXPECT_PTR_EQ(test, zdref_space_test_unit(test, zd, &own, 1), page);
	KUNIT_EXPECT_EQ(test, zdref_ref_count(&zd->model, page), 2);
	zdref_space_close(zd, &zd->space);
	KUNIT_EXPECT_TRUE(test, READ_ONCE(zd->space.held));
	put_page(page);
	KUNIT_EXPECT_TRUE(test, zdref_space_test_released(zd));
	zdref_space_exit(zd);
	KUNIT_EXPECT_TRUE(test, zdref_kunit_wait_whole(kd));
}

static struct kunit_case zdref_space_cases[] = {
	KUNIT_CASE_PARAM(zdref_space_pinned_holds, zdref_mappable_types_gen_params),
	KUNIT_CASE_PARAM(zdref_space_unpinned_holds_nothing, zdref_mappable_types_gen_params),
	KUNIT_CASE_PARAM(zdref_space_reopened_holds_once, zdref_mappable_types_gen_params),
	{}
};

struct kunit_suite zdref_space_suite = {
	.name = "zdref_space",
	.test_cases = zdref_space_cases,
};
