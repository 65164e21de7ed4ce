/* SPDX-License-Identifier: GPL-2.0 */
/*
 * zdref: free-at-zero ZONE_DEVICE pages on stock kernels.
 * Internal declarations shared by the files of the module.
 */
#ifndef ZDREF_H
#define ZDREF_H

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/ioport.h>
#include <linux/memremap.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <zdref/refcount.h>
#include <uapi/zdref.h>
#include "zdref_config.h"

/* ZONE_DEVICE memory is hot-added in subsections: 2 MiB on x86_64. */
#define ZDREF_ALIGN	(PAGES_PER_SUBSECTION << PAGE_SHIFT)

enum zdref_type {
	ZDREF_TYPE_FSDAX,
	ZDREF_TYPE_GENERIC,
	ZDREF_TYPE_PRIVATE,
};

/**
 * struct zdref_page - zdref's own view of one device page
 * @node: in the free list, or the busy list
 * @gen: bumped at each free, so that a waiter can tell its page was freed
 * @state: enum zdref_page_state
 * @kernel_freed: the kernel called back for this busy page; the busy scan
 *	returns it to the pool once the kernel has reset its count
 */
struct zdref_page {
	struct list_head node;
	u32 gen;
	u8 state;
	bool kernel_freed;
};

/**
 * struct zdref_dev - one zdref device: a dev_pagemap over one range
 * @type: what kind of ZONE_DEVICE memory @pgmap registers
 * @res: the claimed physical range (request_mem_region() or, for a
 *	device-private range without a start, request_free_mem_region())
 * @pgmap: the pagemap registered with memremap_pages()
 * @id: N of /dev/zdrefN
 * @cdev: the character device
 * @dev: the class device, parent of the sysfs attributes
 * @inode: the S_DAX inode whose address_space every open file maps
 * @order: of the pool's allocation unit: 0 (4 KiB) or PMD_ORDER (2 MiB
 *	folios: the pagemap is compound, as device-dax's with align=2M)
 * @model: how zdref's count sits on the kernel's for this type here
 * @pfn_first: pfn of the first page of the range
 * @pages: zdref's view of each allocation unit, indexed by
 *	(pfn - @pfn_first) >> @order
 * @lock: protects the lists, the counts and each page's @state
 * @free_list: pages in the pool, most recently freed first
 * @busy_list: pages their file gave up that are still referenced
 * @pages_free: pages (4 KiB) in @free_list
 * @pages_busy: pages (4 KiB) in @busy_list
 * @busy_work: frees the pages of @busy_list whose last reference dropped
 * @busy_delay: jiffies until the next busy scan; doubles while a scan
 *	finds nothing to free, up to ZDREF_BUSY_DELAY_MAX
 * @free_wq: woken whenever a page is freed
 * @allocs: allocation units handed out
 * @frees: allocation units freed, by zdref's free callback
 * @bad_frees: free callbacks for units that were not handed out: a bug
 * @mirrors: the open files of a device-private device (struct zdref_mirror)
 * @mirrors_lock: protects @mirrors
 * @migrated_to_dev: pages moved into device memory (device-private)
 * @migrated_to_ram: pages moved back to system RAM: by ioctl, CPU fault
 *	or eviction
 * @cpu_faults: CPU faults on device pages (migrate_to_ram callbacks)
 */
struct zdref_dev {
	enum zdref_type type;
	struct resource *res;
	struct dev_pagemap pgmap;
	int id;
	struct cdev cdev;
	struct device dev;
	struct inode *inode;

	unsigned int order;
	struct zdref_refmodel model;
	unsigned long pfn_first;
	struct zdref_page *pages;
	spinlock_t lock;	/* the lists, counts, page states */
	struct list_head free_list;
	struct list_head busy_list;
	u64 pages_free;
	u64 pages_busy;
	struct delayed_work busy_work;
	unsigned long busy_delay;
	wait_queue_head_t free_wq;
	atomic64_t allocs;
	atomic64_t frees;
	atomic64_t bad_frees;

	struct list_head mirrors;
	struct mutex mirrors_lock;	/* @mirrors */
	atomic64_t migrated_to_dev;
	atomic64_t migrated_to_ram;
	atomic64_t cpu_faults;
};

static inline struct zdref_dev *zdref_pgmap_to_dev(struct dev_pagemap *pgmap)
{
	return container_of(pgmap, struct zdref_dev, pgmap);
}

static inline u64 zdref_pages_total(const struct zdref_dev *zd)
{
	return resource_size(zd->res) >> PAGE_SHIFT;
}

/* Pages (4 KiB) in one allocation unit of the pool. */
static inline unsigned long zdref_unit_pages(const struct zdref_dev *zd)
{
	return 1UL << zd->order;
}

const char *zdref_type_name(enum zdref_type type);
int zdref_parse_type(const char *s, enum zdref_type *type);

/* region.c */
int zdref_region_claim(struct zdref_dev *zd, const char *region);
void zdref_region_release(struct zdref_dev *zd);

/* pagemap.c */
int zdref_pagemap_add(struct zdref_dev *zd);
void zdref_pagemap_remove(struct zdref_dev *zd);

/* pool.c */
int zdref_pool_init(struct zdref_dev *zd);
void zdref_pool_exit(struct zdref_dev *zd);
struct page *zdref_pool_take(struct zdref_dev *zd);
struct page *zdref_page_alloc(struct zdref_dev *zd);
void zdref_page_put(struct zdref_dev *zd, struct page *page);
void zdref_page_freed(struct dev_pagemap *pgmap, struct page *page);
struct zdref_page *zdref_page_meta(struct zdref_dev *zd, struct page *page);
bool zdref_page_freed_since(struct zdref_dev *zd, struct page *page, u32 gen);

/*
 * devmem.c and mirror.c: device-private memory, its migrations and the
 * mirror ABI.  Where the kernel lacks them (zdref_config.h), type=private
 * is refused at load.
 */
#if ZDREF_HAVE_HMM_MIRROR
struct page *zdref_devmem_alloc(struct zdref_dev *zd);
void zdref_devmem_freed(struct zdref_dev *zd, struct page *page);
struct page *zdref_devmem_backing(struct zdref_dev *zd, struct page *page);
int zdref_devmem_to_ram(struct zdref_dev *zd, struct vm_area_struct *vma,
			unsigned long start, unsigned long end,
			struct page *fault_page, unsigned long *moved);
vm_fault_t zdref_devmem_migrate_to_ram(struct vm_fault *vmf);
int zdref_devmem_evict(struct zdref_dev *zd);
struct migrate_vma;
void zdref_mirrors_forget(struct zdref_dev *zd, const struct migrate_vma *args);
extern const struct file_operations zdref_mirror_fops;
#endif

/* inode.c */
int zdref_inode_init(void);
void zdref_inode_exit(void);
int zdref_inode_add(struct zdref_dev *zd);
void zdref_inode_remove(struct zdref_dev *zd);
struct file *zdref_inode_file(struct zdref_dev *zd,
			      const struct file_operations *fops, void *private);

/* file.c */
extern const struct file_operations zdref_fops;
bool zdref_pmd_maps(void);

/* chardev.c */
int zdref_chardev_init(void);
void zdref_chardev_exit(void);
int zdref_chardev_add(struct zdref_dev *zd);
void zdref_chardev_remove(struct zdref_dev *zd);
void zdref_chardev_publish(void);
struct zdref_dev *zdref_chardev_opened(struct inode *inode);
void zdref_chardev_quiesce(void);

#endif /* ZDREF_H */
