/* SPDX-License-Identifier: GPL-2.0 */
/*
 * zdref's view of the kernel's ZONE_DEVICE API, one spelling on every
 * supported kernel.  What differs is decided by scripts/probe at build time
 * (generated/zdref_config.h), never by the kernel's version number.
 */
#ifndef ZDREF_COMPAT_H
#define ZDREF_COMPAT_H

#include <linux/mm.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/memremap.h>
#include <linux/slab.h>

#include "zdref_config.h"

/* page->pgmap moved into the folio with the page_pgmap() accessor. */
#if ZDREF_HAVE_PAGE_PGMAP
static inline struct dev_pagemap *zdref_page_pgmap(struct page *page)
{
	return page_pgmap(page);
}
#else
static inline struct dev_pagemap *zdref_page_pgmap(struct page *page)
{
	return page->pgmap;
}
#endif

/* vm_flags_set(): vma->vm_flags is written through helpers (6.3). */
#if !ZDREF_HAVE_VM_FLAGS_SET
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}
#endif

/* How many page tables map a page: page_mapcount() went away. */
#if ZDREF_HAVE_FOLIO_MAPCOUNT
static inline int zdref_page_mapcount(struct page *page)
{
	return folio_mapcount(page_folio(page));
}
#else
static inline int zdref_page_mapcount(struct page *page)
{
	return page_mapcount(page);
}
#endif

/*
 * Did the firmware itself reserve part of [@start, @start + @size)?  A
 * memmap= range is RAM in the firmware's own map (memmap= only turns RAM
 * into Reserved); a firmware hole is not, and zeroing it could break the
 * machine.  Where modules cannot read that map, zdref_firmware_map() is
 * false and the caller warns instead.
 */
#if ZDREF_HAVE_E820_FIRMWARE
#include <asm/e820/api.h>

static inline bool zdref_firmware_map(void)
{
	return true;
}

static inline bool zdref_firmware_reserved(u64 start, u64 size)
{
	return e820__mapped_raw_any(start, start + size, E820_TYPE_RESERVED);
}
#else
static inline bool zdref_firmware_map(void)
{
	return false;
}

static inline bool zdref_firmware_reserved(u64 start, u64 size)
{
	return false;
}
#endif

/*
 * A mapping's memory policy, for a vm_operations_struct's get_policy:
 * local, without MPOL_F_MOF.  NUMA balancing scans a mapping only if its
 * policy asks to migrate on fault (vma_policy_mof()); device memory
 * cannot move to another node.  A policy, not NULL: 6.7 and later read
 * NULL as "the task's", which migrates on fault.  Its count never drops
 * to 0; get_mempolicy() takes one and puts it after dropping the mmap
 * lock, when the mapping may be gone: the module waits for that put
 * before it goes (zdref_file_exit()).
 */
#if !IS_ENABLED(CONFIG_NUMA)
#define ZDREF_NO_NUMA_BALANCING

static inline bool zdref_local_policy_held(void)
{
	return false;
}
#else
#include <linux/mempolicy.h>

static inline struct mempolicy *zdref_local_policy(void)
{
	static struct mempolicy local = {
		.refcnt = ATOMIC_INIT(1),
		.mode = MPOL_LOCAL,
	};

	return &local;
}

/* Does a get_mempolicy() still hold the local policy of its translation unit? */
static inline bool zdref_local_policy_held(void)
{
	return atomic_read(&zdref_local_policy()->refcnt) > 1;
}

#if ZDREF_HAVE_GET_POLICY_ILX
static inline struct mempolicy *
zdref_get_local_policy(struct vm_area_struct *vma, unsigned long addr,
		       pgoff_t *ilx)
{
	return zdref_local_policy();
}
#else
static inline struct mempolicy *
zdref_get_local_policy(struct vm_area_struct *vma, unsigned long addr)
{
	return zdref_local_policy();
}
#endif
#define ZDREF_NO_NUMA_BALANCING	.get_policy = zdref_get_local_policy,
#endif

/*
 * References to this module other than the one the loader holds while its
 * init runs: openers of a node that chrdev_open() let in.  Without module
 * unloading the kernel counts none, and there is nothing to wait for.
 */
#ifdef CONFIG_MODULE_UNLOAD
static inline int zdref_module_users(void)
{
	return module_refcount(THIS_MODULE) - 1;
}
#else
static inline int zdref_module_users(void)
{
	return 0;
}
#endif

/*
 * Wait until no task and no interrupt is still in kernel code it entered
 * before the call: RCU for interrupts and regions that cannot be
 * preempted, RCU Tasks for preemptible kernel code (as ftrace waits
 * before it frees a trampoline).  Without CONFIG_TASKS_RCU only the
 * first; Debian's kernels all have it.
 */
#if ZDREF_HAVE_SYNCHRONIZE_RCU_TASKS
static inline void zdref_synchronize_tasks(void)
{
	synchronize_rcu();
	synchronize_rcu_tasks();
}
#else
static inline void zdref_synchronize_tasks(void)
{
	synchronize_rcu();
}
#endif

/* The namespace of EXPORT_SYMBOL_IF_KUNIT(), a bare name up to 6.12. */
#if ZDREF_HAVE_IMPORT_NS_UNQUOTED
#define ZDREF_IMPORT_NS_KUNIT	MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING)
#else
#define ZDREF_IMPORT_NS_KUNIT	MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING")
#endif

/*
 * The system workqueues by their new names, where the kernel has them: it
 * warns of work queued on the old ones from 7.2 on.
 */
#if ZDREF_HAVE_SYSTEM_DFL_WQ
#define zdref_unbound_wq	system_dfl_wq
#define zdref_percpu_wq		system_percpu_wq
#else
#define zdref_unbound_wq	system_unbound_wq
#define zdref_percpu_wq		system_wq
#endif

/* kzalloc_obj(): typed allocation; zdref always passes the gfp flags. */
#if !ZDREF_HAVE_KZALLOC_OBJ
#define kzalloc_obj(P, GFP)	kzalloc(sizeof(P), GFP)
#endif

#endif /* ZDREF_COMPAT_H */
