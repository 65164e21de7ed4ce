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

#include "../src/zdref.h"

/* Devices of the suites follow the module's (devices= up to 2); one at a time. */
#define ZDREF_KUNIT_ID		3

/* How long a test waits for pages to come back to the pool. */
#define ZDREF_KUNIT_WAIT	(10 * HZ)

/* Flags of zdref_kunit_dev_add(). */
#define ZDREF_KUNIT_CHARDEV	BIT(0)	/* also make /dev/zdrefN */

/**
 * struct zdref_kunit_dev - a device of one test
 * @test: the test that owns it
 * @zd: the zdref device
 * @held: pages the test holds its file reference on, by pfn - pfn_first
 * @claimed: the range is claimed
 * @mapped: the pagemap is registered
 * @pooled: the pool is set up
 * @inode: the device has its DAX inode (zdref_inode_add())
 * @chardev: /dev/zdrefN exists
 */
struct zdref_kunit_dev {
	struct kunit *test;
	struct zdref_dev *zd;
	unsigned long *held;
	bool claimed;
	bool mapped;
	bool pooled;
	bool inode;
	bool chardev;
};

struct zdref_kunit_dev *zdref_kunit_dev_add(struct kunit *test,
					    enum zdref_type type, u64 size,
					    unsigned int flags);
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
void zdref_kunit_skip_private_pages(struct kunit *test, enum zdref_type type);

/* The types a test runs for, as KUnit parameters. */
extern const enum zdref_type zdref_kunit_all_types[3];
extern const enum zdref_type zdref_kunit_mappable_types[2];
void zdref_kunit_type_desc(const enum zdref_type *type, char *desc);

extern struct kunit_suite zdref_refcount_suite;
extern struct kunit_suite zdref_pool_suite;
extern struct kunit_suite zdref_fault_suite;
extern struct kunit_suite zdref_errors_suite;

#endif /* ZDREF_KUNIT_H */
