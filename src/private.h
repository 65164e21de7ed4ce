/* SPDX-License-Identifier: GPL-2.0 */
/*
 * zdref: device memory that processes reach by migration, device-private
 * and device-coherent (devmem.c: its pages and the migrations in and out
 * of it), and the mirror ABI of its files (mirror.c), one unit.
 *
 * It needs what the probe hmm_mirror looks for: migrate_vma and
 * migrate_device with zone_device_page_init() taking the pagemap,
 * hmm_range_fault() and make_device_exclusive(), all exported; coherent
 * memory needs the probe device_coherent too.  Where the kernel lacks
 * them, the stubs below stand in and type=private and type=coherent are
 * refused at load (zdref_private_offered(), zdref_coherent_offered()): no
 * file outside this unit reads ZDREF_HAVE_HMM_MIRROR, and no function
 * body anywhere does.
 */
#ifndef ZDREF_PRIVATE_H
#define ZDREF_PRIVATE_H

#include <linux/fs.h>
#include <linux/hmm.h>
#include <linux/mm_types.h>

#include "zdref.h"

struct migrate_vma;

#if ZDREF_HAVE_HMM_MIRROR

/* For the rest of zdref. */
static inline bool zdref_private_offered(void)
{
	return true;
}

static inline bool zdref_coherent_offered(void)
{
	return ZDREF_HAVE_DEVICE_COHERENT;
}

extern const struct zdref_page_ops zdref_devmem_ops;
extern const struct file_operations zdref_mirror_fops;
vm_fault_t zdref_devmem_migrate_to_ram(struct vm_fault *vmf);

static inline const struct zdref_page_ops *zdref_private_ops(void)
{
	return &zdref_devmem_ops;
}

static inline const struct file_operations *zdref_private_fops(void)
{
	return &zdref_mirror_fops;
}

/* READ_UNLOCKED's fault, where the probe hmm_range_fault_unlocked found it. */
#if ZDREF_HAVE_HMM_RANGE_FAULT_UNLOCKED
static inline int zdref_hmm_range_fault_unlocked(struct hmm_range *range)
{
	return hmm_range_fault_unlocked_timeout(range, 0);
}
#else
static inline int zdref_hmm_range_fault_unlocked(struct hmm_range *range)
{
	return -EOPNOTSUPP;
}
#endif

/* Between devmem.c and mirror.c. */
struct page *zdref_devmem_alloc(struct zdref_dev *zd, unsigned long addr);
struct page *zdref_devmem_data(struct zdref_dev *zd, struct page *page);
void zdref_devmem_moved_in(struct zdref_dev *zd, unsigned long pages);
int zdref_devmem_to_ram(struct zdref_dev *zd, struct vm_area_struct *vma,
			unsigned long start, unsigned long end,
			struct page *fault_page, enum zdref_migrate_reason why,
			unsigned long *moved);
int zdref_devmem_evict(struct zdref_dev *zd);
void zdref_mirrors_forget(struct zdref_dev *zd, const struct migrate_vma *args);

#else /* !ZDREF_HAVE_HMM_MIRROR */

static inline bool zdref_private_offered(void)
{
	return false;
}

static inline bool zdref_coherent_offered(void)
{
	return false;
}

/*
 * The module makes no device-private device here; the KUnit suites do,
 * and hand out none of its pages: no last-drop rule, and plain files,
 * whose mmap refuses memory the CPU cannot map.
 */
static inline const struct zdref_page_ops *zdref_private_ops(void)
{
	return NULL;
}

static inline const struct file_operations *zdref_private_fops(void)
{
	return &zdref_fops;
}

/* memremap_pages() insists on the callback for device-private pagemaps. */
static inline vm_fault_t zdref_devmem_migrate_to_ram(struct vm_fault *vmf)
{
	return VM_FAULT_SIGBUS;
}

#endif /* ZDREF_HAVE_HMM_MIRROR */

#endif /* ZDREF_PRIVATE_H */
