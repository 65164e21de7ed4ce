// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite zdref_errors: what zdref refuses, and that a refusal leaves
 * nothing behind.  Ranges that are not reserved memory, misaligned, busy
 * or malformed; unknown types; device-private files mapped by the CPU; a
 * pagemap whose pages the kernel did not leave at the count zdref's
 * reference model expects.
 */
#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mman.h>

#include "zdref_kunit.h"

/**
 * struct zdref_bad_region - a region= zdref_region_claim() must refuse
 * @desc: what is wrong with it
 * @spec: the region, for one that does not depend on where the suites'
 *	reserved range is
 * @size: otherwise, the size of "SIZE@START", START being the start of
 *	the suites' reserved range plus @offset, followed by @suffix
 * @offset: added to that start
 * @suffix: appended to the region
 * @type: the type of the device that asks
 * @err: the error expected
 */
struct zdref_bad_region {
	const char *desc;
	const char *spec;
	const char *size;
	u64 offset;
	const char *suffix;
	enum zdref_type type;
	int err;
};

static const struct zdref_bad_region zdref_bad_regions[] = {
	{ .desc = "missing", .type = ZDREF_TYPE_FSDAX, .err = -EINVAL },
	{ .desc = "empty", .spec = "", .type = ZDREF_TYPE_FSDAX, .err = -EINVAL },
	{ .desc = "not a size", .spec = "lots", .type = ZDREF_TYPE_FSDAX, .err = -EINVAL },
	{ .desc = "trailing garbage", .size = "2M", .suffix = "junk",
	  .type = ZDREF_TYPE_FSDAX, .err = -EINVAL },
	{ .desc = "zero size", .size = "0", .type = ZDREF_TYPE_FSDAX, .err = -EINVAL },
	{ .desc = "size not 2 MiB aligned", .size = "1M", .type = ZDREF_TYPE_GENERIC,
	  .err = -EINVAL },
	{ .desc = "start not 2 MiB aligned", .size = "2M", .offset = SZ_1M,
	  .type = ZDREF_TYPE_FSDAX, .err = -EINVAL },
	{ .desc = "fsdax without start", .spec = "2M", .type = ZDREF_TYPE_FSDAX,
	  .err = -EINVAL },
	{ .desc = "generic without start", .spec = "2M", .type = ZDREF_TYPE_GENERIC,
	  .err = -EINVAL },
	{ .desc = "wraps around", .spec = "4M@0xffffffffffe00000",
	  .type = ZDREF_TYPE_FSDAX, .err = -EINVAL },
	{ .desc = "system RAM", .spec = "2M@0x1000000", .type = ZDREF_TYPE_GENERIC,
	  .err = -EINVAL },
	{ .desc = "private over system RAM", .spec = "2M@0x1000000",
	  .type = ZDREF_TYPE_PRIVATE, .err = -EINVAL },
	{ .desc = "not reserved", .spec = "2M@0x10000000000", .type = ZDREF_TYPE_FSDAX,
	  .err = -EINVAL },
	/* memparse() would wrap these: 1 GiB, and a start mod 2^64 */
	{ .desc = "size past 2^64", .spec = "17179869185G@0x100000000",
	  .type = ZDREF_TYPE_FSDAX, .err = -EINVAL },
	{ .desc = "start past 2^64", .spec = "2M@0xffffffffffffffffff",
	  .type = ZDREF_TYPE_GENERIC, .err = -EINVAL },
};

KUNIT_ARRAY_PARAM_DESC(zdref_bad_regions, zdref_bad_regions, desc);
KUNIT_ARRAY_PARAM(zdref_all_types, zdref_kunit_all_types, zdref_kunit_type_desc);

/*
 * Refused with the error expected and nothing claimed: the same device
 * can claim a good range afterwards.
 */
static void zdref_errors_bad_region(struct kunit *test)
{
	const struct zdref_bad_region *bad = test->param_value;
	struct zdref_kunit_dev *kd;
	const char *region;
	char spec[64];
	u64 start = 0;

	if (bad->size)
		zdref_kunit_require_region(test, SZ_4M, &start);
	kd = zdref_kunit_dev_init(test, bad->type);
	region = bad->spec;
	if (bad->size) {
		snprintf(spec, sizeof(spec), "%s@0x%llx%s", bad->size,
			 start + bad->offset, bad->suffix ? bad->suffix : "");
		region = spec;
	}

	KUNIT_EXPECT_EQ_MSG(test, zdref_region_claim(kd->zd, region), bad->err,
			    "region=%s", region ? region : "(none)");
	KUNIT_EXPECT_NULL(test, kd->zd->res);
	if (!bad->size)
		return;
	snprintf(spec, sizeof(spec), "2M@0x%llx", start);
	KUNIT_ASSERT_EQ_MSG(test, zdref_region_claim(kd->zd, spec), 0,
			    "region=%s after a refusal", spec);
	kd->claimed = true;
}

/* A range, or part of it, that another device holds: -EBUSY. */
static void zdref_errors_busy_region(struct kunit *test)
{
	struct zdref_kunit_dev *first, *second;
	char spec[64];
	u64 start;

	zdref_kunit_require_region(test, SZ_4M, &start);
	first = zdref_kunit_dev_init(test, ZDREF_TYPE_FSDAX);
	second = zdref_kunit_dev_init(test, ZDREF_TYPE_GENERIC);
	snprintf(spec, sizeof(spec), "2M@0x%llx", start + SZ_2M);
	KUNIT_ASSERT_EQ(test, zdref_region_claim(first->zd, spec), 0);
	first->claimed = true;

	KUNIT_EXPECT_EQ(test, zdref_region_claim(second->zd, spec), -EBUSY);
	KUNIT_EXPECT_NULL(test, second->zd->res);
	snprintf(spec, sizeof(spec), "4M@0x%llx", start);
	KUNIT_EXPECT_EQ(test, zdref_region_claim(second->zd, spec), -EBUSY);
	KUNIT_EXPECT_NULL(test, second->zd->res);
	snprintf(spec, sizeof(spec), "2M@0x%llx", start);
	KUNIT_ASSERT_EQ(test, zdref_region_claim(second->zd, spec), 0);
	second->claimed = true;
}

/* type= takes the names of the types and nothing else. */
static void zdref_errors_type_names(struct kunit *test)
{
	static const char * const bad[] = { "", "bogus", "FSDAX", "fs_dax",
					    "private0", "dax" };
	enum zdref_type type, parsed;
	unsigned int i;

	for (type = ZDREF_TYPE_FSDAX; type < ZDREF_TYPE_COUNT; type++) {
		parsed = -1;
		KUNIT_EXPECT_EQ(test, zdref_parse_type(zdref_type_name(type), &parsed), 0);
		KUNIT_EXPECT_EQ(test, parsed, type);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		parsed = ZDREF_TYPE_GENERIC;
		KUNIT_EXPECT_EQ_MSG(test, zdref_parse_type(bad[i], &parsed), -EINVAL,
				    "type=%s", bad[i]);
		KUNIT_EXPECT_EQ(test, parsed, ZDREF_TYPE_GENERIC);
	}
}

/*
 * Device-private memory is never mapped by the CPU.  Where zdref has
 * mirrors (the HMM selftest ABI), a device-private file's mmap() maps
 * zeroed system pages; elsewhere it is refused.  Either way the device
 * hands out nothing.
 */
static void zdref_errors_private_mmap(struct kunit *test)
{
	struct zdref_kunit_file *kf;
	struct zdref_kunit_dev *kd;
	unsigned long addr;

	if (!ZDREF_HAVE_KUNIT_VM_MMAP)
		kunit_skip(test, "this kernel's KUnit has no kunit_attach_mm()");
	kd = zdref_kunit_dev_add(test, ZDREF_TYPE_PRIVATE, SZ_2M, ZDREF_KUNIT_CHARDEV);
	/* A mirror mirrors its opener's address space: one first. */
	KUNIT_ASSERT_EQ(test, zdref_kunit_attach_mm(), 0);
	kf = zdref_kunit_open(test, kd);
	addr = vm_mmap(kf->file, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	if (!IS_ERR_VALUE(addr))
		vm_munmap(addr, PAGE_SIZE);
	if (zdref_private_offered())
		KUNIT_EXPECT_FALSE(test, IS_ERR_VALUE(addr));
	else
		KUNIT_EXPECT_EQ(test, (long)addr, -EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, atomic64_read(&kd->zd->allocs), 0);
}

/*
 * A page the kernel left at another count than the reference model
 * expects makes the pool refuse the whole device (zdref would otherwise
 * corrupt page counts); at the right count, the same pagemap is accepted.
 */
static void zdref_errors_pool_refuses_count(struct kunit *test)
{
	const enum zdref_type *type = test->param_value;
	struct zdref_kunit_dev *kd;
	struct zdref_dev *zd;
	struct page *page;
	char spec[64];
	u64 start;

	kd = zdref_kunit_dev_init(test, *type);
	zd = kd->zd;
	if (!zdref_type_info(*type)->physical) {
		snprintf(spec, sizeof(spec), "%lu", (unsigned long)SZ_2M);
	} else {
		zdref_kunit_require_region(test, SZ_2M, &start);
		snprintf(spec, sizeof(spec), "2M@0x%llx", start);
	}
	KUNIT_ASSERT_EQ(test, zdref_region_claim(zd, spec), 0);
	kd->claimed = true;
	KUNIT_ASSERT_EQ(test, zdref_pagemap_add(zd), 0);
	kd->mapped = true;

	page = pfn_to_page(PHYS_PFN(zd->res->start) + 7);
	page_ref_inc(page);
	KUNIT_EXPECT_EQ(test, zdref_pool_init(zd), -EINVAL);
	page_ref_dec(page);

	kd->held = bitmap_zalloc(zdref_pages_total(zd), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, kd->held);
	KUNIT_ASSERT_EQ(test, zdref_pool_init(zd), 0);
	kd->pooled = true;
	KUNIT_EXPECT_EQ(test, zdref_kunit_pages_free(zd), zdref_pages_total(zd));
}

static struct kunit_case zdref_errors_cases[] = {
	KUNIT_CASE_PARAM(zdref_errors_bad_region, zdref_bad_regions_gen_params),
	KUNIT_CASE(zdref_errors_busy_region),
	KUNIT_CASE(zdref_errors_type_names),
	KUNIT_CASE(zdref_errors_private_mmap),
	KUNIT_CASE_PARAM(zdref_errors_pool_refuses_count, zdref_all_types_gen_params),
	{}
};

struct kunit_suite zdref_errors_suite = {
	.name = "zdref_errors",
	.test_cases = zdref_errors_cases,
};
