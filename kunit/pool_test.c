// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite zdref_pool: the pool allocator of src/pool.c.  Every page
 * is handed out once before the pool runs dry; freed pages, in any order,
 * come back exactly once; a free callback for a page that is not handed
 * out (the kernel freeing a page twice) is counted and leaves the pool
 * intact.
 */
#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/mm.h>

#include "zdref_kunit.h"

#define ZDREF_POOL_SIZE		SZ_2M

KUNIT_ARRAY_PARAM(zdref_mappable_types, zdref_kunit_mappable_types,
		  zdref_kunit_type_desc);

/*
 * Take every page the pool has left into @pages from index @from and mark
 * each in @seen, failing on a page handed out twice.  Return: how many.
 */
static u64 zdref_pool_drain(struct kunit *test, struct zdref_kunit_dev *kd,
			    struct page **pages, u64 from, unsigned long *seen)
{
	struct zdref_dev *zd = kd->zd;
	u64 n = 0, total = zdref_pages_total(zd);
	struct page *page;

	while ((page = zdref_kunit_alloc(kd))) {
		unsigned long i = page_to_pfn(page) - zd->pfn_first;

		KUNIT_ASSERT_LT_MSG(test, i, total, "pfn %#lx outside the device",
				    page_to_pfn(page));
		KUNIT_ASSERT_FALSE_MSG(test, test_and_set_bit(i, seen),
				       "pfn %#lx handed out twice", page_to_pfn(page));
		KUNIT_ASSERT_LT(test, from + n, total);
		pages[from + n++] = page;
	}
	return n;
}

static struct page **zdref_pool_array(struct kunit *test, u64 n)
{
	struct page **pages = kunit_kcalloc(test, n, sizeof(*pages), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, pages);
	return pages;
}

static unsigned long *zdref_pool_bitmap(struct kunit *test, u64 n)
{
	unsigned long *map = kunit_kcalloc(test, BITS_TO_LONGS(n),
					   sizeof(unsigned long), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, map);
	return map;
}

/* Every page once, then nothing; a page put back is the next one out. */
static void zdref_pool_exhaustion(struct kunit *test)
{
	const enum zdref_type *type = test->param_value;
	struct zdref_kunit_dev *kd;
	struct zdref_dev *zd;
	unsigned long *seen;
	struct page **pages;
	u64 n, total, i;
	u32 gen;

	kd = zdref_kunit_dev_add(test, *type, ZDREF_POOL_SIZE, 0);
	zd = kd->zd;
	total = zdref_pages_total(zd);
	pages = zdref_pool_array(test, total);
	seen = zdref_pool_bitmap(test, total);

	n = zdref_pool_drain(test, kd, pages, 0, seen);
	KUNIT_EXPECT_EQ(test, n, total);
	KUNIT_EXPECT_EQ(test, bitmap_weight(seen, total), total);
	KUNIT_EXPECT_EQ(test, zdref_kunit_pages_free(zd), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->allocs), total);
	KUNIT_EXPECT_NULL(test, zdref_kunit_alloc(kd));
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->allocs), total);

	gen = zdref_kunit_gen(zd, pages[total / 3]);
	zdref_kunit_put(kd, pages[total / 3]);
	KUNIT_ASSERT_TRUE(test, zdref_kunit_wait_freed(kd, pages[total / 3], gen));
	KUNIT_EXPECT_PTR_EQ(test, zdref_kunit_alloc(kd), pages[total / 3]);
	KUNIT_EXPECT_NULL(test, zdref_kunit_alloc(kd));

	for (i = 0; i < total; i++)
		zdref_kunit_put(kd, pages[i]);
	KUNIT_EXPECT_TRUE(test, zdref_kunit_wait_whole(kd));
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->frees), atomic64_read(&zd->allocs));
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->bad_frees), 0);
}

/*
 * Free every other page: exactly those come back, each once; then free
 * everything in reverse and the whole pool is handed out again.
 */
static void zdref_pool_fragmentation(struct kunit *test)
{
	const enum zdref_type *type = test->param_value;
	unsigned long *seen, *freed;
	struct zdref_kunit_dev *kd;
	struct zdref_dev *zd;
	struct page **pages;
	u64 n, total, i;

	kd = zdref_kunit_dev_add(test, *type, ZDREF_POOL_SIZE, 0);
	zd = kd->zd;
	total = zdref_pages_total(zd);
	pages = zdref_pool_array(test, total);
	seen = zdref_pool_bitmap(test, total);
	freed = zdref_pool_bitmap(test, total);

	KUNIT_ASSERT_EQ(test, zdref_pool_drain(test, kd, pages, 0, seen), total);
	for (i = 0; i < total; i += 2) {
		__set_bit(page_to_pfn(pages[i]) - zd->pfn_first, freed);
		zdref_kunit_put(kd, pages[i]);
	}
	KUNIT_ASSERT_TRUE(test, wait_event_timeout(zd->free_wq,
						   zdref_kunit_pages_free(zd) == total / 2,
						   ZDREF_KUNIT_WAIT));

	/* Only the freed pages come back, each once. */
	bitmap_zero(seen, total);
	for (i = 0; i < total; i += 2)
		pages[i] = NULL;
	for (i = 0; i < total; i += 2) {
		struct page *page = zdref_kunit_alloc(kd);

		KUNIT_ASSERT_NOT_NULL(test, page);
		KUNIT_ASSERT_TRUE_MSG(test, test_bit(page_to_pfn(page) - zd->pfn_first, freed),
				      "pfn %#lx was not freed", page_to_pfn(page));
		KUNIT_ASSERT_FALSE(test, __test_and_set_bit(page_to_pfn(page) - zd->pfn_first,
							    seen));
		pages[i] = page;
	}
	KUNIT_EXPECT_NULL(test, zdref_kunit_alloc(kd));

	/* Everything back, in reverse order: the pool is whole and sound. */
	for (i = total; i-- > 0;)
		zdref_kunit_put(kd, pages[i]);
	KUNIT_ASSERT_TRUE(test, zdref_kunit_wait_whole(kd));
	bitmap_zero(seen, total);
	n = zdref_pool_drain(test, kd, pages, 0, seen);
	KUNIT_EXPECT_EQ(test, n, total);
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->allocs), 2 * total + total / 2);
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->frees), total + total / 2);
}

/*
 * The kernel calling zdref's free callback for a page that is free, or
 * handed out and referenced: counted as a bad free, and the pool keeps
 * each page once.  zdref WARNs (once) as well: suppressed here, where
 * this kernel's KUnit can.
 */
#ifdef kunit_warning_suppress
static void zdref_pool_double_free(struct kunit *test)
{
	const enum zdref_type *type = test->param_value;
	struct zdref_kunit_dev *kd;
	struct page *page, *owned;
	struct zdref_dev *zd;
	unsigned long *seen;
	struct page **pages;
	u64 total;
	u32 gen;

	kd = zdref_kunit_dev_add(test, *type, ZDREF_POOL_SIZE, 0);
	zd = kd->zd;
	total = zdref_pages_total(zd);

	page = zdref_kunit_alloc(kd);
	KUNIT_ASSERT_NOT_NULL(test, page);
	owned = zdref_kunit_alloc(kd);
	KUNIT_ASSERT_NOT_NULL(test, owned);
	gen = zdref_kunit_gen(zd, page);
	zdref_kunit_put(kd, page);
	KUNIT_ASSERT_TRUE(test, zdref_kunit_wait_freed(kd, page, gen));

	kunit_warning_suppress(test) {
		zdref_pgmap_free(&zd->pgmap, page);	/* free twice */
		zdref_pgmap_free(&zd->pgmap, owned);	/* free in use */
	}
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->bad_frees), 2);
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->frees), 1);
	KUNIT_EXPECT_EQ(test, zdref_kunit_state(zd, page), ZDREF_PAGE_FREE);
	KUNIT_EXPECT_EQ(test, zdref_kunit_state(zd, owned), ZDREF_PAGE_OWNED);
	KUNIT_EXPECT_EQ(test, zdref_ref_count(&zd->model, owned), 1);
	KUNIT_EXPECT_EQ(test, zdref_kunit_pages_free(zd), total - 1);

	/* No page was queued twice: the rest of the pool, each page once. */
	pages = zdref_pool_array(test, total);
	seen = zdref_pool_bitmap(test, total);
	__set_bit(page_to_pfn(owned) - zd->pfn_first, seen);
	KUNIT_EXPECT_EQ(test, zdref_pool_drain(test, kd, pages, 0, seen), total - 1);
	KUNIT_EXPECT_EQ(test, zdref_kunit_pages_free(zd), 0);
}
#else
static void zdref_pool_double_free(struct kunit *test)
{
	kunit_skip(test, "this kernel's KUnit cannot suppress the WARN zdref raises on a bad free");
}
#endif

static struct kunit_case zdref_pool_cases[] = {
	KUNIT_CASE_PARAM(zdref_pool_exhaustion, zdref_mappable_types_gen_params),
	KUNIT_CASE_PARAM(zdref_pool_fragmentation, zdref_mappable_types_gen_params),
	KUNIT_CASE_PARAM(zdref_pool_double_free, zdref_mappable_types_gen_params),
	{}
};

struct kunit_suite zdref_pool_suite = {
	.name = "zdref_pool",
	.test_cases = zdref_pool_cases,
};
