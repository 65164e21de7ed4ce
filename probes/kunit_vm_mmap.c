// SPDX-License-Identifier: GPL-2.0
/*
 * kunit_vm_mmap(), kunit_attach_mm(): a KUnit test maps files into a user
 * address space of its own.  zdref_kunit.ko's fault suite drives zdref's
 * fault path with them; without them it skips.  Only kernels with
 * CONFIG_KUNIT export them.
 *
 * Upstream: 51104c19d857 ("kunit: test: Add vm_mmap() allocation resource
 *	manager"), v6.11, with kunit_attach_mm() static; the later export of
 *	kunit_attach_mm() was not found here (6.12 lacks it).
 * Optional: without it the KUnit fault suite skips (zdref_kunit.h).
 */
#include <kunit/test.h>
#include <linux/mman.h>

static unsigned long probe(struct kunit *test, struct file *file)
{
	if (kunit_attach_mm())
		return 0;
	return kunit_vm_mmap(test, file, 0, PAGE_SIZE, PROT_READ, MAP_SHARED, 0);
}

void *zdref_probe = probe;
