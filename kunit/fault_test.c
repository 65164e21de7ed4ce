// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite zdref_fault: the fault path of src/file.c, driven from the
 * test's own user address space (kunit_vm_mmap()).  A test opens its
 * device's /dev/zdrefN, maps it MAP_SHARED, touches the mapping with
 * copy_to_user() (each first touch faults a page in), pins pages with
 * pin_user_pages_fast() the way O_DIRECT does, and follows every page's
 * count through unpin, munmap and close.
 */
#include <kunit/test.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include <zdref/compat.h>
#include "zdref_kunit.h"

#define ZDREF_FAULT_SIZE	SZ_2M

KUNIT_ARRAY_PARAM(zdref_mappable_types, zdref_kunit_mappable_types,
		  zdref_kunit_type_desc);

/* Map @npages of the file at offset 0, MAP_SHARED: an address or -errno. */
static unsigned long zdref_fault_mmap_raw(struct kunit *test,
					  struct zdref_kunit_file *zf, u64 npages)
{
	return zdref_kunit_vm_mmap(test, zf->file, npages << PAGE_SHIFT);
}

/* The same, which must succeed. */
static unsigned long zdref_fault_mmap(struct kunit *test,
				      struct zdref_kunit_file *zf, u64 npages)
{
	unsigned long addr = zdref_fault_mmap_raw(test, zf, npages);

	KUNIT_ASSERT_NE_MSG(test, addr, 0, "kunit_vm_mmap() failed");
	KUNIT_ASSERT_FALSE_MSG(test, IS_ERR_VALUE(addr), "vm_mmap(): %ld", (long)addr);
	return addr;
}

/* The pattern a test writes to page @i of a mapping. */
static u8 zdref_fault_pattern(u64 i)
{
	return 0x40 + (i & 0x3f);
}

/* Write @pattern over the page at user address @uaddr: faults it in. */
static int zdref_fault_write(unsigned long uaddr, u8 pattern, u8 *buf)
{
	memset(buf, pattern, PAGE_SIZE);
	return copy_to_user((void __user *)uaddr, buf, PAGE_SIZE) ? -EFAULT : 0;
}

/* Write page @i's pattern through the mapping at @addr. */
static int zdref_fault_touch(unsigned long addr, u64 i, u8 *buf)
{
	return zdref_fault_write(addr + (i << PAGE_SHIFT), zdref_fault_pattern(i), buf);
}

/* Does the device page hold @pattern, written through a mapping? */
static bool zdref_fault_holds(struct page *page, u8 pattern)
{
	u8 *p = kmap_local_page(page);
	bool ok = !memchr_inv(p, pattern, PAGE_SIZE);

	kunmap_local(p);
	return ok;
}

static u8 *zdref_fault_buf(struct kunit *test)
{
	u8 *buf = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, buf);
	return buf;
}

static void zdref_fault_require_mm(struct kunit *test)
{
	if (!ZDREF_HAVE_KUNIT_VM_MMAP)
		kunit_skip(test, "this kernel's KUnit has no kunit_vm_mmap()");
}

/*
 * Faults hand out one page per offset; a page mapped and pinned counts
 * file + mapping + GUP_PIN_COUNTING_BIAS, and each of unpin, munmap and
 * close drops its own share, the close freeing the pages.
 */
static void zdref_fault_map_pin_unmap(struct kunit *test)
{
	const enum zdref_type *type = test->param_value;
	const u64 n = 4;
	struct zdref_kunit_file *zf;
	struct zdref_kunit_dev *kd;
	struct page *pages[4];
	struct zdref_dev *zd;
	unsigned long addr;
	u8 *buf;
	u64 i;

	zdref_fault_require_mm(test);
	kd = zdref_kunit_dev_add(test, *type, ZDREF_FAULT_SIZE, ZDREF_KUNIT_CHARDEV);
	zd = kd->zd;
	zf = zdref_kunit_open(test, kd);
	addr = zdref_fault_mmap(test, zf, n);
	buf = zdref_fault_buf(test);
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->allocs), 0);

	for (i = 0; i < n; i++)
		KUNIT_ASSERT_EQ(test, zdref_fault_touch(addr, i, buf), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->allocs), n);
	KUNIT_EXPECT_EQ(test, zdref_kunit_pages_free(zd), zdref_pages_total(zd) - n);

	KUNIT_ASSERT_EQ(test, pin_user_pages_fast(addr, n, FOLL_WRITE, pages), n);
	for (i = 0; i < n; i++) {
		KUNIT_EXPECT_PTR_EQ(test, zdref_page_pgmap(pages[i]), &zd->pgmap);
		KUNIT_EXPECT_EQ(test, zdref_kunit_state(zd, pages[i]), ZDREF_PAGE_OWNED);
		KUNIT_EXPECT_EQ(test, zdref_ref_count(&zd->model, pages[i]),
				2 + GUP_PIN_COUNTING_BIAS);
		KUNIT_EXPECT_EQ(test, zdref_page_mapcount(pages[i]), 1);
		KUNIT_EXPECT_TRUE_MSG(test, zdref_fault_holds(pages[i], zdref_fault_pattern(i)),
				      "page %llu lost what was written through the mapping", i);
		if (i)
			KUNIT_EXPECT_PTR_NE(test, pages[i], pages[i - 1]);
	}
	unpin_user_pages(pages, n);
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, zdref_ref_count(&zd->model, pages[i]), 2);

	KUNIT_ASSERT_EQ(test, vm_munmap(addr, n << PAGE_SHIFT), 0);
	for (i = 0; i < n; i++) {
		KUNIT_EXPECT_EQ(test, zdref_ref_count(&zd->model, pages[i]), 1);
		KUNIT_EXPECT_EQ(test, zdref_page_mapcount(pages[i]), 0);
	}
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->frees), 0);

	zdref_kunit_close(zf);
	KUNIT_EXPECT_TRUE(test, zdref_kunit_wait_whole(kd));
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->frees), n);
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->bad_frees), 0);
}

/*
 * Two mappings of one file share its pages, each mapping holding one
 * reference; another open file of the same device gets pages of its own.
 */
static void zdref_fault_shared(struct kunit *test)
{
	const enum zdref_type *type = test->param_value;
	struct zdref_kunit_file *zf, *other;
	unsigned long a, b, c;
	struct zdref_kunit_dev *kd;
	struct page *pa, *pb, *pc;
	struct zdref_dev *zd;
	u8 *buf;

	zdref_fault_require_mm(test);
	kd = zdref_kunit_dev_add(test, *type, ZDREF_FAULT_SIZE, ZDREF_KUNIT_CHARDEV);
	zd = kd->zd;
	zf = zdref_kunit_open(test, kd);
	other = zdref_kunit_open(test, kd);
	a = zdref_fault_mmap(test, zf, 1);
	b = zdref_fault_mmap(test, zf, 1);
	c = zdref_fault_mmap(test, other, 1);
	buf = zdref_fault_buf(test);

	KUNIT_ASSERT_EQ(test, zdref_fault_write(a, 0x11, buf), 0);
	memset(buf, 0, PAGE_SIZE);
	KUNIT_ASSERT_EQ(test, copy_from_user(buf, (void __user *)b, PAGE_SIZE), 0);
	KUNIT_EXPECT_TRUE(test, !memchr_inv(buf, 0x11, PAGE_SIZE));
	KUNIT_ASSERT_EQ(test, zdref_fault_write(c, 0x22, buf), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->allocs), 2);

	KUNIT_ASSERT_EQ(test, pin_user_pages_fast(a, 1, 0, &pa), 1);
	KUNIT_ASSERT_EQ(test, pin_user_pages_fast(b, 1, 0, &pb), 1);
	KUNIT_ASSERT_EQ(test, pin_user_pages_fast(c, 1, 0, &pc), 1);
	KUNIT_EXPECT_PTR_EQ(test, pa, pb);
	KUNIT_EXPECT_PTR_NE(test, pa, pc);
	KUNIT_EXPECT_EQ(test, zdref_ref_count(&zd->model, pa), 3 + 2 * GUP_PIN_COUNTING_BIAS);
	KUNIT_EXPECT_EQ(test, zdref_page_mapcount(pa), 2);
	KUNIT_EXPECT_EQ(test, zdref_ref_count(&zd->model, pc), 2 + GUP_PIN_COUNTING_BIAS);
	KUNIT_EXPECT_TRUE(test, zdref_fault_holds(pa, 0x11));
	KUNIT_EXPECT_TRUE(test, zdref_fault_holds(pc, 0x22));
	unpin_user_page(pa);
	unpin_user_page(pb);
	unpin_user_page(pc);
	KUNIT_EXPECT_EQ(test, zdref_ref_count(&zd->model, pa), 3);

	KUNIT_ASSERT_EQ(test, vm_munmap(a, PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, zdref_ref_count(&zd->model, pa), 2);
	KUNIT_ASSERT_EQ(test, vm_munmap(b, PAGE_SIZE), 0);
	KUNIT_ASSERT_EQ(test, vm_munmap(c, PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, zdref_ref_count(&zd->model, pa), 1);
	zdref_kunit_close(zf);
	zdref_kunit_close(other);
	KUNIT_EXPECT_TRUE(test, zdref_kunit_wait_whole(kd));
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->frees), 2);
}

/*
 * A pin outlives its mapping and its file: the page turns busy, keeps its
 * data and is freed, once, at the unpin.
 */
static void zdref_fault_pin_outlives_file(struct kunit *test)
{
	const enum zdref_type *type = test->param_value;
	struct zdref_kunit_file *zf;
	struct zdref_kunit_dev *kd;
	struct zdref_dev *zd;
	unsigned long addr;
	struct page *page;
	u8 *buf;
	u32 gen;

	zdref_fault_require_mm(test);
	kd = zdref_kunit_dev_add(test, *type, ZDREF_FAULT_SIZE, ZDREF_KUNIT_CHARDEV);
	zd = kd->zd;
	zf = zdref_kunit_open(test, kd);
	addr = zdref_fault_mmap(test, zf, 1);
	buf = zdref_fault_buf(test);

	KUNIT_ASSERT_EQ(test, zdref_fault_touch(addr, 0, buf), 0);
	KUNIT_ASSERT_EQ(test, pin_user_pages_fast(addr, 1, FOLL_WRITE, &page), 1);
	gen = zdref_kunit_gen(zd, page);
	KUNIT_ASSERT_EQ(test, vm_munmap(addr, PAGE_SIZE), 0);
	zdref_kunit_close(zf);

	KUNIT_EXPECT_EQ(test, zdref_kunit_state(zd, page), ZDREF_PAGE_BUSY);
	KUNIT_EXPECT_EQ(test, zdref_kunit_pages_busy(zd), 1);
	KUNIT_EXPECT_EQ(test, zdref_ref_count(&zd->model, page), GUP_PIN_COUNTING_BIAS);
	KUNIT_EXPECT_TRUE(test, zdref_fault_holds(page, zdref_fault_pattern(0)));
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->frees), 0);

	unpin_user_page(page);
	KUNIT_ASSERT_TRUE(test, zdref_kunit_wait_freed(kd, page, gen));
	KUNIT_EXPECT_TRUE(test, zdref_kunit_wait_whole(kd));
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->frees), 1);
	KUNIT_EXPECT_EQ(test, zdref_kunit_pages_busy(zd), 0);
}

/*
 * A file maps at most the device's size (mmap past it is -EINVAL); once
 * another file has every page, a fault fails (SIGBUS for a user access, a
 * failed copy here) and takes nothing: every page stays handed out once.
 */
static void zdref_fault_exhausted(struct kunit *test)
{
	const enum zdref_type *type = test->param_value;
	struct zdref_kunit_file *zf, *other;
	unsigned long addr, more;
	struct zdref_kunit_dev *kd;
	struct zdref_dev *zd;
	u64 i, total;
	u8 *buf;

	zdref_fault_require_mm(test);
	kd = zdref_kunit_dev_add(test, *type, ZDREF_FAULT_SIZE, ZDREF_KUNIT_CHARDEV);
	zd = kd->zd;
	total = zdref_pages_total(zd);
	zf = zdref_kunit_open(test, kd);
	other = zdref_kunit_open(test, kd);
	KUNIT_EXPECT_EQ(test, (long)zdref_fault_mmap_raw(test, zf, total + 1), -EINVAL);
	addr = zdref_fault_mmap(test, zf, total);
	more = zdref_fault_mmap(test, other, 1);
	buf = zdref_fault_buf(test);

	for (i = 0; i < total; i++)
		KUNIT_ASSERT_EQ_MSG(test, zdref_fault_touch(addr, i, buf), 0,
				    "page %llu of %llu", i, total);
	KUNIT_EXPECT_EQ(test, zdref_kunit_pages_free(zd), 0);
	KUNIT_EXPECT_EQ(test, zdref_fault_touch(more, 0, buf), -EFAULT);
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->allocs), total);

	KUNIT_ASSERT_EQ(test, vm_munmap(addr, total << PAGE_SHIFT), 0);
	KUNIT_ASSERT_EQ(test, vm_munmap(more, PAGE_SIZE), 0);
	zdref_kunit_close(zf);
	zdref_kunit_close(other);
	KUNIT_EXPECT_TRUE(test, zdref_kunit_wait_whole(kd));
	KUNIT_EXPECT_EQ(test, atomic64_read(&zd->frees), total);
}

static struct kunit_case zdref_fault_cases[] = {
	KUNIT_CASE_PARAM(zdref_fault_map_pin_unmap, zdref_mappable_types_gen_params),
	KUNIT_CASE_PARAM(zdref_fault_shared, zdref_mappable_types_gen_params),
	KUNIT_CASE_PARAM(zdref_fault_pin_outlives_file, zdref_mappable_types_gen_params),
	KUNIT_CASE_PARAM(zdref_fault_exhausted, zdref_mappable_types_gen_params),
	{}
};

struct kunit_suite zdref_fault_suite = {
	.name = "zdref_fault",
	.test_cases = zdref_fault_cases,
};
