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
 * body anywhere does.  2 MiB device-private folios need the probe
 * device_private_thp as well; without it the compound flags below are 0,
 * and every folio is a page.
 */
#ifndef ZDREF_PRIVATE_H
#define ZDREF_PRIVATE_H

#include <linux/fs.h>
#include <linux/hmm.h>
#include <linux/huge_mm.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
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

/*
 * 2 MiB device-private folios, where the probe device_private_thp found
 * them; ZDREF_DEVMEM_THP for the pagemap's ops (pagemap.c).
 */
#if ZDREF_HAVE_DEVICE_PRIVATE_THP
#define ZDREF_DEVMEM_THP			1
#define ZDREF_MIGRATE_PFN_COMPOUND		MIGRATE_PFN_COMPOUND
#define ZDREF_MIGRATE_VMA_SELECT_COMPOUND	MIGRATE_VMA_SELECT_COMPOUND

static inline bool zdref_thp_offered(const struct zdref_type_info *info)
{
	return info->thp;
}

/*
 * @page is to be the head of a folio of @order, whatever it was a page of
 * before: not page_folio(@page), which for a page of a 2 MiB folio freed
 * whole is that folio's old head (the kernel leaves a freed device
 * folio's tail pages as they were; zone_device_page_init() makes each
 * page its own again).
 */
static inline void zdref_device_folio_init(struct page *page,
					   struct dev_pagemap *pgmap,
					   unsigned int order)
{
	zone_device_folio_init((struct folio *)page, pgmap, order);
}

static inline void zdref_folio_set_pgmap(struct folio *folio,
					 struct dev_pagemap *pgmap)
{
	folio->pgmap = pgmap;
}

void zdref_devmem_folio_split(struct folio *head, struct folio *tail);
#else
#define ZDREF_DEVMEM_THP			0
#define ZDREF_MIGRATE_PFN_COMPOUND		0UL
#define ZDREF_MIGRATE_VMA_SELECT_COMPOUND	0UL

static inline bool zdref_thp_offered(const struct zdref_type_info *info)
{
	return false;
}

/* No device folio is ever larger than a page here: @order is 0. */
static inline void zdref_device_folio_init(struct page *page,
					   struct dev_pagemap *pgmap,
					   unsigned int order)
{
	zone_device_page_init(page, pgmap, 0);
}

static inline void zdref_folio_set_pgmap(struct folio *folio,
					 struct dev_pagemap *pgmap)
{
}
#endif

/* The pages a migration entry stands for: 512 for a whole THP. */
static inline unsigned long zdref_migrate_pages(unsigned long entry)
{
	return entry & ZDREF_MIGRATE_PFN_COMPOUND ? HPAGE_PMD_NR : 1;
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

int zdref_devmem_init(struct zdref_dev *zd);
void zdref_devmem_exit(struct zdref_dev *zd);

/* Between devmem.c and mirror.c. */
struct page *zdref_devmem_alloc(struct zdref_dev *zd, unsigned long addr,
				unsigned int order);
struct page *zdref_devmem_data(struct zdref_dev *zd, struct page *page);
void zdref_devmem_moved_in(struct zdref_dev *zd, unsigned long pages);
int zdref_devmem_to_ram(struct zdref_dev *zd, struct vm_area_struct *vma,
			unsigned long start, unsigned long end,
			struct page *fault_page, enum zdref_migrate_reason why,
			u64 *flags, unsigned long *moved);
int zdref_devmem_evict(struct zdref_dev *zd);
void zdref_mirrors_forget(struct zdref_dev *zd, const struct migrate_vma *args);

#else /* !ZDREF_HAVE_HMM_MIRROR */

#define ZDREF_DEVMEM_THP	0

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

static inline bool zdref_thp_offered(const struct zdref_type_info *info)
{
	return false;
}

static inline int zdref_devmem_init(struct zdref_dev *zd)
{
	return 0;
}

static inline void zdref_devmem_exit(struct zdref_dev *zd)
{
}

#endif /* ZDREF_HAVE_HMM_MIRROR */

#endif /* ZDREF_PRIVATE_H */
