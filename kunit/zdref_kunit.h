/* SPDX-License-Identifier: GPL-2.0 */
/*
 * zdref's KUnit suites: devices of their own over real reserved memory.
 *
 * Each test that needs a device registers one with zdref_kunit_dev_add(),
 * over the start of the range given to zdref_kunit.ko as region= (inside
 * the guest's memmap= reservation, apart from zdref0's) or, for
 * device-private memory, over a free physical range.  One KUnit action
 * tears it down when the test ends, however it ends: it gives back the
 * pages the test still holds, waits for the pool to be whole again and
 * only then unregisters the pagemap (a page still referenced is leaked,
 * never freed under its holder, and fails the test).
 */
#ifndef ZDREF_KUNIT_H
#define ZDREF_KUNIT_H

#include <kunit/test.h>
#include <linux/mman.h>

#include "../src/private.h"

/*
 * A test's own user address space, where KUnit offers one (probe
 * kunit_vm_mmap); elsewhere the tests that need it skip.
 */
#if ZDREF_HAVE_KUNIT_VM_MMAP
static inline unsigned long zdref_kunit_vm_mmap(struct kunit *test,
						struct file *file,
						unsigned long len)
{
	return kunit_vm_mmap(test, file, 0, len, PROT_READ | PROT_WRITE,
			     MAP_SHARED, 0);
}

static inline int zdref_kunit_attach_mm(void)
{
	return kunit_attach_mm();
}
#else
static inline unsigned long zdref_kunit_vm_mmap(struct kunit *test,
						struct file *file,
						unsigned long len)
{
	return 0;
}

static inline int zdref_kunit_attach_mm(void)
{
	return -EOPNOTSUPP;
}
#endif

/* How long a test waits for pages to come back to the pool. */
#define ZDREF_KUNIT_WAIT	(10 * HZ)

/* Flags of zdref_kunit_dev_add(). */
#define ZDREF_KUNIT_CHARDEV	BIT(0)	/* also make /dev/zdrefN */

/**
 * struct zdref_kunit_dev - a device of one test
 * @test: the test that owns it
 * @zd: the zdref device
 * @spec: its region=, for a device of zdref_kunit_dev_add()
 * @held: units the test holds its file reference on, by index in the pool
 * @created: made whole by zdref_dev_create(): zdref_dev_destroy() undoes it
 * @claimed: the range is claimed (a device of steps)
 * @mapped: the pagemap is registered (a device of steps)
 * @pooled: the pool is set up
 * @chardev: /dev/zdrefN exists
 */
struct zdref_kunit_dev {
	struct kunit *test;
	struct zdref_dev *zd;
	char spec[64];
	unsigned long *held;
	bool created;
	bool claimed;
	bool mapped;
	bool pooled;
	bool chardev;
};

struct zdref_kunit_dev *zdref_kunit_dev_add(struct kunit *test,
					    enum zdref_type type, u64 size,
					    unsigned int flags);
struct zdref_kunit_dev *zdref_kunit_dev_add_poison(struct kunit *test,
						   enum zdref_type type, u64 size,
						   unsigned int quarantine);
struct zdref_kunit_dev *zdref_kunit_dev_add_device_scope(struct kunit *test,
							 enum zdref_type type,
							 u64 size);
struct zdref_kunit_dev *zdref_kunit_dev_init(struct kunit *test,
					     enum zdref_type type);
void zdref_kunit_require_region(struct kunit *test, u64 size, u64 *start);

/**
 * struct zdref_kunit_file - an open file of a test's device
 * @file: the file, NULL once closed
 */
struct zdref_kunit_file {
	struct file *file;
};

struct zdref_kunit_file *zdref_kunit_open(struct kunit *test,
					  struct zdref_kunit_dev *kd);
void zdref_kunit_close(struct zdref_kunit_file *kf);

struct page *zdref_kunit_alloc(struct zdref_kunit_dev *kd);
void zdref_kunit_put(struct zdref_kunit_dev *kd, struct page *page);
bool zdref_kunit_wait_freed(struct zdref_kunit_dev *kd, struct page *page,
			    u32 gen);
bool zdref_kunit_wait_whole(struct zdref_kunit_dev *kd);

u64 zdref_kunit_pages_free(struct zdref_dev *zd);
u64 zdref_kunit_pages_busy(struct zdref_dev *zd);
u8 zdref_kunit_state(struct zdref_dev *zd, struct page *page);
u32 zdref_kunit_gen(struct zdref_dev *zd, struct page *page);
void zdref_kunit_skip_no_hand_out(struct kunit *test, enum zdref_type type);

/* The types a test runs for, as KUnit parameters. */
extern const enum zdref_type zdref_kunit_all_types[4];
extern const enum zdref_type zdref_kunit_mappable_types[2];
void zdref_kunit_type_desc(const enum zdref_type *type, char *desc);

extern struct kunit_suite zdref_refcount_suite;
extern struct kunit_suite zdref_pool_suite;
extern struct kunit_suite zdref_fault_suite;
extern struct kunit_suite zdref_errors_suite;
extern struct kunit_suite zdref_poison_suite;
extern struct kunit_suite zdref_space_suite;

#endif /* ZDREF_KUNIT_H */
