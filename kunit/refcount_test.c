// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite zdref_refcount: the backported reference model
 * (include/zdref/refcount.h) on the kernel's own counts, for each pagemap
 * type.  A page handed out holds 1, gets and puts through the kernel's
 * get_page()/put_page() move zdref's count one for one, and the page is
 * freed exactly once, when the last reference drops, whoever drops it.
 */
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/string.h>

#include <zdref/compat.h>
#include "zdref_kunit.h"

#define ZDREF_REFCOUNT_SIZE	SZ_2M

KUNIT_ARRAY_PARAM(zdref_all_types, zdref_kunit_all_types, zdref_kunit_type_desc);

static bool zdref_page_is_zero(struct page *page)
{
	void *p = kmap_local_page(page);
	bool zero = !memchr_inv(p, 0, PAGE_SIZE);

	kunmap_local(p);
	return zero;
}

/* Registered pages are ZONE_DEVICE pages of zdref's pagemap, all free. */
static void zdref_refcount_registered(struct kunit *test)
{
	const enum zdref_type *type = test->param_value;
	struct zdref_kunit_dev *kd;
	struct zdref_dev *zd;
	u64 i, total;

	kd = zdref_kunit_dev_add(test, *type, ZDREF_REFCOUNT_SIZE, 0);
	zd = kd->zd;
	total = zdref_pages_total(zd);
	/*
	 * A device-private range comes from request_free_mem_region(),
	 * which rounds it up to a whole memory section (128 MiB on x86_64).
	 */
	if (!zdref_type_info(*type)->physical)
		KUNIT_EXPECT_EQ(test, total,
				ALIGN(ZDREF_REFCOUNT_SIZE, 1UL << PA_SECTION_SHIFT) >> PAGE_SHIFT);
	else
		KUNIT_EXPECT_EQ(test, total, ZDREF_REFCOUNT_SIZE >> PAGE_SHIFT);
	KUNIT_EXPECT_EQ(test, zdref_kunit_pages_free(zd), total);
	for (i = 0; i < total; i++) {
		struct page *page = pfn_to_page(zd->pfn_first + i);

		KUNIT_ASSERT_TRUE(test, is_zone_device_page(page));
		KUNIT_ASSERT_PTR_EQ(test, zdref_page_pgmap(page), &zd->pgmap);
		KUNIT_ASSERT_EQ_MSG(test, page_ref_count(page), zd->model.idle,
				    "pfn %#lx", page_to_pfn(page));
		KUNIT_ASSERT_EQ(test, zdref_kunit_state(zd, page), ZDREF_PAGE_FREE);
	}
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->allocs), 0);
}

/* A page handed out: zeroed, zdref's count 1, the raw count base + 1. */
static void zdref_refcount_hand_out(struct kunit *test)
{
	const enum zdref_type *type = test->param_value;
	struct zdref_kunit_dev *kd;
	struct zdref_dev *zd;
	struct page *page, *again;
	u32 gen;
	void *p;

	zdref_kunit_skip_no_hand_out(test, *type);
	kd = zdref_kunit_dev_add(test, *type, ZDREF_REFCOUNT_SIZE, 0);
	zd = kd->zd;

	page = zdref_kunit_alloc(kd);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_GE(test, page_to_pfn(page), zd->pfn_first);
	KUNIT_EXPECT_LT(test, page_to_pfn(page) - zd->pfn_first, zdref_pages_total(zd));
	KUNIT_EXPECT_EQ(test, zdref_kunit_state(zd, page), ZDREF_PAGE_OWNED);
	KUNIT_EXPECT_EQ(test, zdref_ref_count(&zd->model, page), 1);
	KUNIT_EXPECT_EQ(test, page_ref_count(page), zd->model.base + 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->allocs), 1);
	KUNIT_EXPECT_EQ(test, zdref_kunit_pages_free(zd), zdref_pages_total(zd) - 1);
	KUNIT_EXPECT_TRUE(test, zdref_page_is_zero(page));

	/* Dirty it, free it: the pool hands it out again, zeroed again. */
	p = kmap_local_page(page);
	memset(p, 0x5a, PAGE_SIZE);
	kunmap_local(p);
	gen = zdref_kunit_gen(zd, page);
	zdref_kunit_put(kd, page);
	KUNIT_ASSERT_TRUE(test, zdref_kunit_wait_freed(kd, page, gen));
	KUNIT_EXPECT_EQ(test, page_ref_count(page), zd->model.idle);
	again = zdref_kunit_alloc(kd);
	KUNIT_ASSERT_PTR_EQ(test, again, page);
	KUNIT_EXPECT_TRUE(test, zdref_page_is_zero(again));
	KUNIT_EXPECT_EQ(test, zdref_ref_count(&zd->model, again), 1);
}

/*
 * References taken and dropped through the kernel's get_page() and
 * put_page() count one for one and never free the page while its file
 * holds it; the file's put, the last one, frees it once.
 */
static void zdref_refcount_get_put(struct kunit *test)
{
	const enum zdref_type *type = test->param_value;
	struct zdref_kunit_dev *kd;
	struct zdref_dev *zd;
	struct page *page;
	int i, raw_idle;
	u32 gen;

	zdref_kunit_skip_no_hand_out(test, *type);
	kd = zdref_kunit_dev_add(test, *type, ZDREF_REFCOUNT_SIZE, 0);
	zd = kd->zd;
	raw_idle = zd->model.idle;

	page = zdref_kunit_alloc(kd);
	KUNIT_ASSERT_NOT_NULL(test, page);
	for (i = 1; i <= 3; i++) {
		get_page(page);
		KUNIT_EXPECT_EQ(test, zdref_ref_count(&zd->model, page), 1 + i);
	}
	for (i = 3; i >= 1; i--) {
		put_page(page);
		KUNIT_EXPECT_EQ(test, zdref_ref_count(&zd->model, page), i);
	}
	KUNIT_EXPECT_EQ(test, zdref_kunit_state(zd, page), ZDREF_PAGE_OWNED);
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->frees), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->bad_frees), 0);

	gen = zdref_kunit_gen(zd, page);
	zdref_kunit_put(kd, page);
	KUNIT_ASSERT_TRUE(test, zdref_kunit_wait_freed(kd, page, gen));
	KUNIT_EXPECT_EQ(test, zdref_kunit_state(zd, page), ZDREF_PAGE_FREE);
	KUNIT_EXPECT_EQ(test, page_ref_count(page), raw_idle);
	KUNIT_EXPECT_EQ(test, zdref_kunit_pages_free(zd), zdref_pages_total(zd));

	/* Exactly once: a few busy scans later, still one free. */
	msleep(50);
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->frees), 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->bad_frees), 0);
	KUNIT_EXPECT_EQ(test, zdref_kunit_gen(zd, page), gen + 1);
}

/*
 * The file lets go first (the page turns busy, still counted, where the
 * pool watches for the last drop; it stays owned where the kernel's
 * callback is final), then the last other holder's put_page() frees it:
 * once, and only then.
 */
static void zdref_refcount_last_put_elsewhere(struct kunit *test)
{
	const enum zdref_type *type = test->param_value;
	struct zdref_kunit_dev *kd;
	struct zdref_dev *zd;
	struct page *page;
	u32 gen;

	zdref_kunit_skip_no_hand_out(test, *type);
	kd = zdref_kunit_dev_add(test, *type, ZDREF_REFCOUNT_SIZE, 0);
	zd = kd->zd;

	page = zdref_kunit_alloc(kd);
	KUNIT_ASSERT_NOT_NULL(test, page);
	get_page(page);
	gen = zdref_kunit_gen(zd, page);
	zdref_kunit_put(kd, page);

	/* Busy scans come and go: the page must wait for its holder. */
	msleep(50);
	KUNIT_EXPECT_EQ(test, zdref_kunit_state(zd, page),
			zd->ops->idle ? ZDREF_PAGE_BUSY : ZDREF_PAGE_OWNED);
	KUNIT_EXPECT_EQ(test, zdref_kunit_pages_busy(zd), zd->ops->idle ? 1 : 0);
	KUNIT_EXPECT_EQ(test, zdref_ref_count(&zd->model, page), 1);
	KUNIT_EXPECT_EQ(test, zdref_kunit_gen(zd, page), gen);
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->frees), 0);

	put_page(page);
	KUNIT_ASSERT_TRUE(test, zdref_kunit_wait_freed(kd, page, gen));
	KUNIT_EXPECT_EQ(test, zdref_kunit_state(zd, page), ZDREF_PAGE_FREE);
	KUNIT_EXPECT_EQ(test, page_ref_count(page), zd->model.idle);
	KUNIT_EXPECT_TRUE(test, zdref_kunit_wait_whole(kd));
	msleep(50);
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->frees), 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->bad_frees), 0);
	KUNIT_EXPECT_EQ(test, zdref_kunit_pages_busy(zd), 0);
}

static struct kunit_case zdref_refcount_cases[] = {
	KUNIT_CASE_PARAM(zdref_refcount_registered, zdref_all_types_gen_params),
	KUNIT_CASE_PARAM(zdref_refcount_hand_out, zdref_all_types_gen_params),
	KUNIT_CASE_PARAM(zdref_refcount_get_put, zdref_all_types_gen_params),
	KUNIT_CASE_PARAM(zdref_refcount_last_put_elsewhere, zdref_all_types_gen_params),
	{}
};

struct kunit_suite zdref_refcount_suite = {
	.name = "zdref_refcount",
	.test_cases = zdref_refcount_cases,
};
