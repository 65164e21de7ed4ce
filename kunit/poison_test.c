// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite zdref_poison: the use-after-free detector of poison=1
 * (src/poison.c).  A write through a kept kernel address after the last
 * put is reported at the unit's next hand-out, with the offsets written
 * and the last owner; a write before the put is not; quarantine=N keeps
 * the most recently freed units out of use; device-private memory, which
 * has nothing to poison, is refused.
 */
#include <kunit/test.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/string.h>

#include "zdref_kunit.h"

#define ZDREF_POISON_SIZE	SZ_2M

/* The types whose units carry data the CPU sees. */
static const enum zdref_type zdref_poison_types[3] = {
	ZDREF_TYPE_FSDAX, ZDREF_TYPE_GENERIC, ZDREF_TYPE_COHERENT,
};

KUNIT_ARRAY_PARAM(zdref_poison_types, zdref_poison_types, zdref_kunit_type_desc);

/* A poison=1 device of the test's type, every unit handed out to @pages. */
static struct zdref_kunit_dev *zdref_poison_drained(struct kunit *test,
						    unsigned int quarantine,
						    struct page ***pages, u64 *n)
{
	const enum zdref_type *type = test->param_value;
	struct zdref_kunit_dev *kd;
	struct page *page;
	u64 total;

	zdref_kunit_skip_no_hand_out(test, *type);
	kd = zdref_kunit_dev_add_poison(test, *type, ZDREF_POISON_SIZE, quarantine);
	total = zdref_pages_total(kd->zd);
	*pages = kunit_kcalloc(test, total, sizeof(**pages), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, *pages);
	for (*n = 0; (page = zdref_kunit_alloc(kd)); (*n)++) {
		KUNIT_ASSERT_LT(test, *n, total);
		(*pages)[*n] = page;
	}
	return kd;
}

/* Put @page's last reference and wait for it to be back, poisoned. */
static void zdref_poison_free(struct kunit *test, struct zdref_kunit_dev *kd,
			      struct page *page)
{
	u32 gen = zdref_kunit_gen(kd->zd, page);

	zdref_kunit_put(kd, page);
	KUNIT_ASSERT_TRUE(test, zdref_kunit_wait_freed(kd, page, gen));
	zdref_poison_flush(kd->zd);
}

static bool zdref_poison_all(struct page *page, int c)
{
	void *addr = kmap_local_page(page);
	bool all = !memchr_inv(addr, c, PAGE_SIZE);

	kunmap_local(addr);
	return all;
}

/* Write @len bytes of @c at @off of @page, through its kernel address. */
static void zdref_poison_write(struct page *page, unsigned int off, int c,
			       size_t len)
{
	u8 *addr = kmap_local_page(page);

	memset(addr + off, c, len);
	kunmap_local(addr);
}

/*
 * The write after the free is reported at the next hand-out: the bytes
 * and offsets written, the owner before the free.  The unit is handed
 * out zeroed all the same.
 */
static void zdref_poison_write_after_free(struct kunit *test)
{
	struct zdref_poison_report r;
	struct zdref_kunit_dev *kd;
	struct page **pages, *page;
	u64 n;

	kd = zdref_poison_drained(test, 0, &pages, &n);
	KUNIT_ASSERT_EQ(test, n, zdref_pages_total(kd->zd));
	page = pages[n / 2];
	zdref_poison_free(test, kd, page);
	KUNIT_EXPECT_TRUE_MSG(test, zdref_poison_all(page, ZDREF_POISON),
			      "a freed unit is filled with %#x", ZDREF_POISON);

	/* A driver that kept the address: one byte at 100, four at 200. */
	zdref_poison_write(page, 100, 0, 1);
	zdref_poison_write(page, 200, 1, 4);

	KUNIT_ASSERT_PTR_EQ(test, zdref_kunit_alloc(kd), page);
	KUNIT_EXPECT_EQ(test, atomic64_read(&kd->zd->poison_errors), 1);
	KUNIT_ASSERT_TRUE(test, zdref_poison_last(kd->zd, &r));
	KUNIT_EXPECT_EQ(test, r.pfn, page_to_pfn(page));
	KUNIT_EXPECT_EQ(test, r.bytes, 5);
	KUNIT_EXPECT_EQ(test, r.first, 100);
	KUNIT_EXPECT_EQ(test, r.last, 203);
	KUNIT_EXPECT_EQ(test, r.tgid, task_tgid_nr(current));
	KUNIT_EXPECT_EQ(test, r.index, 0);
	KUNIT_EXPECT_STREQ(test, r.comm, current->comm);
	KUNIT_EXPECT_TRUE_MSG(test, zdref_poison_all(page, 0),
			      "the unit is handed out zeroed all the same");
}

/* A write while the unit was still owned is no use after free. */
static void zdref_poison_write_before_free(struct kunit *test)
{
	struct zdref_poison_report r;
	struct zdref_kunit_dev *kd;
	struct page **pages, *page;
	u64 n;

	kd = zdref_poison_drained(test, 0, &pages, &n);
	page = pages[0];
	zdref_poison_write(page, 0, 0x5a, PAGE_SIZE);
	zdref_poison_free(test, kd, page);

	KUNIT_ASSERT_PTR_EQ(test, zdref_kunit_alloc(kd), page);
	KUNIT_EXPECT_EQ(test, atomic64_read(&kd->zd->poison_errors), 0);
	KUNIT_EXPECT_FALSE(test, zdref_poison_last(kd->zd, &r));
}

/*
 * quarantine=8: the pool hands out all but 8 units; a unit freed then
 * joins the quarantine, and the oldest of it comes out instead.
 */
static void zdref_poison_quarantine_kept(struct kunit *test)
{
	struct zdref_kunit_dev *kd;
	struct page **pages, *page;
	u64 n;

	kd = zdref_poison_drained(test, 8, &pages, &n);
	KUNIT_ASSERT_EQ(test, n, zdref_pages_total(kd->zd) - 8);
	KUNIT_EXPECT_EQ(test, zdref_kunit_pages_free(kd->zd), 8);
	zdref_poison_free(test, kd, pages[0]);
	page = zdref_kunit_alloc(kd);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_PTR_NE(test, page, pages[0]);
	KUNIT_EXPECT_NULL(test, zdref_kunit_alloc(kd));
	KUNIT_EXPECT_EQ(test, atomic64_read(&kd->zd->poison_errors), 0);
}

/* Device-private pages have no memory the CPU sees: refused. */
static void zdref_poison_refuses_private(struct kunit *test)
{
	struct zdref_params params = {
		.type = ZDREF_TYPE_PRIVATE, .region = "2M", .poison = true,
	};
	struct zdref_dev *zd;

	if (!IS_ENABLED(CONFIG_DEVICE_PRIVATE))
		kunit_skip(test, "type=private needs a kernel with CONFIG_DEVICE_PRIVATE=y");
	zd = zdref_dev_create(&params, ZDREF_KUNIT_ID);
	if (!IS_ERR(zd))
		zdref_dev_destroy(zd);
	KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(zd), -EINVAL);
}

static struct kunit_case zdref_poison_cases[] = {
	KUNIT_CASE_PARAM(zdref_poison_write_after_free, zdref_poison_types_gen_params),
	KUNIT_CASE_PARAM(zdref_poison_write_before_free, zdref_poison_types_gen_params),
	KUNIT_CASE_PARAM(zdref_poison_quarantine_kept, zdref_poison_types_gen_params),
	KUNIT_CASE(zdref_poison_refuses_private),
	{}
};

struct kunit_suite zdref_poison_suite = {
	.name = "zdref_poison",
	.test_cases = zdref_poison_cases,
};
