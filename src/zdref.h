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
#include <linux/jiffies.h>
#include <linux/memremap.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include <zdref/refcount.h>
#include <uapi/zdref.h>
#include "zdref_config.h"

/*
 * The hand-out locks of a device (zdref_space_unit()): faults at offsets
 * that share one are handed out one at a time.
 */
#define ZDREF_UNIT_LOCKS	64

/* ZONE_DEVICE memory is hot-added in subsections: 2 MiB on x86_64. */
#define ZDREF_ALIGN	(PAGES_PER_SUBSECTION << PAGE_SHIFT)

/*
 * The module's devices, /dev/zdref0 on: hmm-tests wants four, two
 * device-private and two device-coherent, each pair of owners of their
 * own for its "remote" cases.  The KUnit suites' device takes the minor
 * after them (ZDREF_KUNIT_ID).
 */
#define ZDREF_DEVICES_MAX	4
#define ZDREF_KUNIT_ID		ZDREF_DEVICES_MAX
#define ZDREF_MINORS		(ZDREF_DEVICES_MAX + 1)

enum zdref_type {
	ZDREF_TYPE_FSDAX,
	ZDREF_TYPE_GENERIC,
	ZDREF_TYPE_PRIVATE,
	ZDREF_TYPE_COHERENT,
	ZDREF_TYPE_COUNT
};

/**
 * struct zdref_type_info - what a type of device is, to the rest of zdref
 * @name: its type= name
 * @memory_type: of its dev_pagemap
 * @cpu_maps: files mmap its pages (file.c); otherwise files are mirrors
 *	of a device that migrates pages in (mirror.c)
 * @in_place: its memory is CPU-addressable, so a device page holds its
 *	own data and the CPU maps it where it is (device-coherent); a
 *	device-private page's data lives in a system page behind it
 * @fsdax_file: its mappings hold a file of an S_DAX inode, which the
 *	kernel treats as an FS DAX file's (vma_is_fsdax()): no FOLL_LONGTERM
 *	pins
 * @physical: its range is real memory, a SIZE@START inside a memmap=
 *	reservation; otherwise a free physical range of bare SIZE will do
 * @huge: align=2M (2 MiB folios, mapped by PMD) is offered
 * @thp: device memory in 2 MiB folios as well as pages, a THP migrated
 *	whole, where the kernel can (private.h: zdref_thp_offered())
 */
struct zdref_type_info {
	const char *name;
	enum memory_type memory_type;
	bool cpu_maps;
	bool in_place;
	bool fsdax_file;
	bool physical;
	bool huge;
	bool thp;
};

const struct zdref_type_info *zdref_type_info(enum zdref_type type);
const char *zdref_type_name(enum zdref_type type);
int zdref_parse_type(const char *s, enum zdref_type *type);

/**
 * enum zdref_scope - whose a device's pages are (scope=; space.c)
 * @ZDREF_SCOPE_FILE: each open file's, by offset, given up at its last
 *	close
 * @ZDREF_SCOPE_DEVICE: the device's, by offset, shared by every open and
 *	kept until released (ZDREF_IOC_RELEASE) or the module is unloaded
 */
enum zdref_scope {
	ZDREF_SCOPE_FILE,
	ZDREF_SCOPE_DEVICE,
};

/**
 * struct zdref_space - the units handed out for offsets of a device
 * @pages: offset, in units, to the unit's head page; one reference on each
 * @lock: faults (read) against releases (write), so that no fault maps a
 *	unit its space is giving up
 * @files: a device's space: the open files (with their map files) that
 *	use it
 * @watch: a device's space: looks at its units that were pinned when its
 *	last file went, until none is
 * @watch_delay: jiffies until the watch's next look
 * @held: a device's space: it holds the module for pinned units
 */
struct zdref_space {
	struct xarray pages;
	struct rw_semaphore lock;
	atomic_t files;
	struct delayed_work watch;
	unsigned long watch_delay;
	bool held;
};

/**
 * struct zdref_params - what a device is made of, parsed once
 * @type: the type of its pages
 * @region: its range, as region= says it (region.c)
 * @order: of its allocation unit: 0, or PMD_ORDER for align=2M
 * @poison: poison=1: free units are poisoned and checked (poison.c)
 * @quarantine: with @poison, the most recently freed units kept out of
 *	use
 * @scope: whose its pages are
 * @zero_ahead: bytes of its free units to keep zeroed ahead of their
 *	hand-out (zero.c)
 * @fault_around: bytes around a fault on a unit its file has already,
 *	whose units the file has too are mapped with it (file.c): a power of
 *	two, at most PMD_SIZE; 0 for none
 */
struct zdref_params {
	enum zdref_type type;
	enum zdref_scope scope;
	const char *region;
	unsigned int order;
	bool poison;
	unsigned int quarantine;
	u64 zero_ahead;
	u32 fault_around;
};

/**
 * enum zdref_freed_by - who saw a unit's last reference drop
 * @ZDREF_FREED_BY_PUT: zdref's own put, of the unit's file
 * @ZDREF_FREED_BY_CALLBACK: the kernel's page_free/folio_free callback
 * @ZDREF_FREED_BY_SCAN: the busy scan, for a unit pinned after its file
 *	let go, where the kernel does not call back
 */
enum zdref_freed_by {
	ZDREF_FREED_BY_PUT,
	ZDREF_FREED_BY_CALLBACK,
	ZDREF_FREED_BY_SCAN,
};

/**
 * enum zdref_migrate_reason - why pages moved between RAM and the device
 * @ZDREF_MIGRATE_IOCTL: a mirror's MIGRATE_TO_DEV or MIGRATE_TO_SYS
 * @ZDREF_MIGRATE_CPU_FAULT: a CPU touched a device-private page
 * @ZDREF_MIGRATE_EVICT: the mirror's RELEASE evicted the whole device
 *
 * The kernel moves device-coherent pages itself before a long-term pin:
 * zdref sees those only as frees by callback.
 */
enum zdref_migrate_reason {
	ZDREF_MIGRATE_IOCTL,
	ZDREF_MIGRATE_CPU_FAULT,
	ZDREF_MIGRATE_EVICT,
};

/**
 * struct zdref_page - zdref's own view of one allocation unit
 * @node: in the free list, or the busy list (free and busy units)
 * @owner: whom it was handed out to (owned units, which are on no list)
 * @owner.index: the file offset (bytes) it was handed out for, or for a
 *	mirror's page the user address it moved from
 * @owner.tgid: the process that faulted or migrated it in
 * @gen: bumped at each return to the pool, so that a waiter can tell its
 *	unit was freed
 * @since: jiffies (low 32 bits) of its last change of state
 * @state: enum zdref_page_state
 * @kernel_freed: the kernel called back for this busy unit; the busy scan
 *	returns it to the pool once the kernel has reset its count
 *
 * All of it is under the device's lock, but @gen and @state, which are
 * also read without it.
 */
struct zdref_page {
	union {
		struct list_head node;
		struct {
			u64 index;
			pid_t tgid;
		} owner;
	};
	u32 gen;
	u32 since;
	u8 state;
	bool kernel_freed;
};

/**
 * struct zdref_zero - a device's zeroing ahead of the fault (zero.c)
 * @target: free units to keep zeroed; 0 where each unit is zeroed at its
 *	hand-out
 * @clean_list: free units, zeroed since their last owner let go
 * @clean: units on @clean_list
 * @zeroing: free units @work is zeroing, on no list
 * @work: zeroes units of the free list onto @clean_list, up to @target
 * @wait: hand-outs that found no free unit while @work held some; woken
 *	after each batch @work readies
 * @ahead: units handed out that @work had zeroed
 *
 * All but @work, @wait and @ahead are under the device's lock.
 */
struct zdref_zero {
	u64 target;
	struct list_head clean_list;
	u64 clean;
	u64 zeroing;
	struct work_struct work;
	wait_queue_head_t wait;
	atomic64_t ahead;
};

struct zdref_dev;
struct zdref_poison;
struct dentry;

/**
 * struct zdref_page_ops - a last-drop rule's part of the pool
 * @hand_out: take a unit out of the pool for the owner at @index (struct
 *	zdref_page's @owner) and give it one reference, its file's, its
 *	contents zeroed; NULL when the pool is empty
 * @put: drop the file's reference on @page, the head of unit @zp
 * @put_locked: the same, under the pool's lock, where that is all the
 *	rule needs: true if the unit went back to the pool; NULL where
 *	@put takes other locks or calls into the kernel (the rule then has
 *	@put only)
 * @freed: the pagemap's free callback for @page, the head of unit @zp
 * @idle: the busy scan's test: has the last reference to busy unit @zp
 *	dropped?  NULL where units never go busy
 *
 * Chosen once, by zdref_pool_init(), from the device's reference model:
 * pool.c keeps the lists and the scan, these the rule (refcount.h).
 */
struct zdref_page_ops {
	struct page *(*hand_out)(struct zdref_dev *zd, u64 index);
	void (*put)(struct zdref_dev *zd, struct page *page, struct zdref_page *zp);
	bool (*put_locked)(struct zdref_dev *zd, struct page *page,
			   struct zdref_page *zp);
	void (*freed)(struct zdref_dev *zd, struct page *page, struct zdref_page *zp);
	bool (*idle)(struct zdref_dev *zd, struct zdref_page *zp);
};

/**
 * struct zdref_dev - one zdref device: a dev_pagemap over one range
 * @type: what kind of ZONE_DEVICE memory @pgmap registers
 * @info: what @type means (type.c)
 * @res: the claimed physical range (request_mem_region() or, for a
 *	device-private range without a start, request_free_mem_region())
 * @pgmap: the pagemap registered with memremap_pages()
 * @id: N of /dev/zdrefN
 * @cdev: the character device
 * @dev: the class device, parent of the sysfs attributes
 * @inode: the S_DAX inode whose address_space every open file maps
 * @scope: whose its pages are: its open files' or its own
 * @space: its own units, with scope=device (space.c)
 * @unit_locks: one hand-out at a time per offset, by offset's hash
 * @order: of the pool's allocation unit: 0 (4 KiB) or PMD_ORDER (2 MiB
 *	folios: the pagemap is compound, as device-dax's with align=2M)
 * @model: how zdref's count sits on the kernel's for this type here
 * @ops: the pool's side of @model's last-drop rule
 * @pfn_first: pfn of the first page of the range
 * @pages: zdref's view of each allocation unit, indexed by
 *	(pfn - @pfn_first) >> @order
 * @lock: protects the lists, the counts and each page's @state
 * @free_list: pages in the pool, most recently freed first (with
 *	@poison: least recently freed first, each poisoned), but those
 *	@zero holds
 * @busy_list: pages their file gave up that are still referenced
 * @pages_free: pages (4 KiB) in the pool: in @free_list, @block_list
 *	and @zero's hands
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
 * @data: device memory: for each page of the range, the page that holds
 *	its data while it is handed out (its backing page, or itself)
 * @thp_allocs: 2 MiB device folios handed out (their pages count in
 *	@allocs too)
 * @thp_splits: folios the kernel split out of 2 MiB device folios
 * @zero: its free units zeroed ahead of the fault (zero.c)
 * @fault_around: pages of the window mapped around a fault on a unit its
 *	file has already (file.c): a power of two, at least 2; 0 for none
 * @mapped_around: units mapped by such faults besides the one faulted on
 * @poison: the use-after-free detector of poison=1 (poison.c), or NULL
 * @poison_errors: units found written to while free (poison=1)
 * @debugfs: its directory under /sys/kernel/debug/zdref/ (debugfs.c)
 */
struct zdref_dev {
	enum zdref_type type;
	const struct zdref_type_info *info;
	struct resource *res;
	struct dev_pagemap pgmap;
	int id;
	struct cdev cdev;
	struct device dev;
	struct inode *inode;
	enum zdref_scope scope;
	struct zdref_space space;
	struct mutex unit_locks[ZDREF_UNIT_LOCKS];	/* a hand-out per offset */

	unsigned int order;
	struct zdref_refmodel model;
	const struct zdref_page_ops *ops;
	unsigned long pfn_first;
	struct zdref_page *pages;
	spinlock_t lock;	/* the lists, counts, page states */
	struct list_head free_list;
	bool thp;
	struct list_head block_list;
	u16 *block_free;
	struct list_head busy_list;
	u64 pages_free;
	u64 pages_busy;
	struct delayed_work busy_work;
	unsigned long busy_delay;
	wait_queue_head_t free_wq;
	atomic64_t allocs;
	atomic64_t frees;
	atomic64_t bad_frees;
	struct zdref_zero zero;
	unsigned int fault_around;
	atomic64_t mapped_around;

	struct list_head mirrors;
	struct mutex mirrors_lock;	/* @mirrors */
	atomic64_t migrated_to_dev;
	atomic64_t migrated_to_ram;
	atomic64_t cpu_faults;
	struct page **data;
	atomic64_t thp_allocs;
	atomic64_t thp_splits;

	struct zdref_poison *poison;
	atomic64_t poison_errors;
	struct dentry *debugfs;
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

/* Allocation units of the device: the entries of zd->pages. */
static inline u64 zdref_units_total(const struct zdref_dev *zd)
{
	return zdref_pages_total(zd) >> zd->order;
}

/* The pfn of the head page of unit @zp. */
static inline unsigned long zdref_unit_pfn(const struct zdref_dev *zd,
					   const struct zdref_page *zp)
{
	return zd->pfn_first + ((zp - zd->pages) << zd->order);
}

/* Milliseconds since @since, a struct zdref_page's stamp. */
static inline unsigned int zdref_age_ms(u32 since)
{
	return jiffies_to_msecs((u32)jiffies - since);
}

/* dev.c */
struct zdref_dev *zdref_dev_alloc(const struct zdref_params *params, int id);
struct zdref_dev *zdref_dev_create(const struct zdref_params *params, int id);
void zdref_dev_destroy(struct zdref_dev *zd);

/* region.c */
int zdref_region_claim(struct zdref_dev *zd, const char *region);
void zdref_region_release(struct zdref_dev *zd);

/* pagemap.c */
int zdref_pagemap_add(struct zdref_dev *zd);
void zdref_pagemap_remove(struct zdref_dev *zd);

/* Units a close or a release puts under one hold of the pool's lock. */
#define ZDREF_PUT_BATCH	64

/**
 * struct zdref_put_batch - units to put together (zdref_put_batch_add())
 * @pages: their head pages
 * @n: how many of @pages
 */
struct zdref_put_batch {
	struct page *pages[ZDREF_PUT_BATCH];
	unsigned int n;
};

/* pool.c: the pool, for everyone */
int zdref_pool_init(struct zdref_dev *zd);
void zdref_pool_exit(struct zdref_dev *zd);
struct page *zdref_page_alloc(struct zdref_dev *zd, u64 index);
void zdref_page_put(struct zdref_dev *zd, struct page *page);
void zdref_pages_put(struct zdref_dev *zd, struct page **pages, unsigned int n);
void zdref_put_batch_add(struct zdref_dev *zd, struct zdref_put_batch *b,
			 struct page *page);
void zdref_put_batch_end(struct zdref_dev *zd, struct zdref_put_batch *b);
void zdref_pgmap_free(struct dev_pagemap *pgmap, struct page *page);
struct zdref_page *zdref_unit_of(struct zdref_dev *zd, struct page *page);
bool zdref_unit_freed_since(struct zdref_dev *zd, struct page *page, u32 gen);
/* pool.c: for the last-drop rules (struct zdref_page_ops) */
struct page *zdref_pool_take(struct zdref_dev *zd, u64 index);
struct page *zdref_pool_take_block(struct zdref_dev *zd, u64 addr);
void zdref_pool_return_units(struct zdref_dev *zd, struct zdref_page *zp,
			     unsigned long n, enum zdref_freed_by by);
void zdref_pool_bad_free(struct zdref_dev *zd, struct page *page,
			 struct zdref_page *zp);
extern const struct zdref_page_ops zdref_watched_ops;
extern const struct zdref_page_ops zdref_reset_ops;

/* zero.c: zeroing ahead of the fault */
void zdref_zero_init(struct zdref_dev *zd);
void zdref_zero_start(struct zdref_dev *zd, const struct zdref_params *params);
void zdref_zero_exit(struct zdref_dev *zd);
struct zdref_page *zdref_zero_take_locked(struct zdref_dev *zd);
void zdref_zero_kick_locked(struct zdref_dev *zd);
void zdref_zero_unit(struct zdref_dev *zd, struct page *head);

/* poison.c: poison=1 */

/* The byte a poison=1 device fills its free units with (SLUB's too). */
#define ZDREF_POISON	0x6b

/**
 * struct zdref_poison_report - a unit found written to while free
 * @pfn: its head page's
 * @first: the first offset in the unit (bytes) that was not poison
 * @last: the last such offset
 * @bytes: how many bytes were not
 * @tgid: its last owner's process, before the free
 * @index: that owner's file offset (bytes) or user address for it
 * @comm: the owner's name
 */
struct zdref_poison_report {
	unsigned long pfn;
	unsigned long first;
	unsigned long last;
	unsigned long bytes;
	pid_t tgid;
	u64 index;
	char comm[TASK_COMM_LEN];
};

int zdref_poison_init(struct zdref_dev *zd, const struct zdref_params *params);
void zdref_poison_exit(struct zdref_dev *zd);
bool zdref_poison_queue_locked(struct zdref_dev *zd, struct zdref_page *zp);
struct zdref_page *zdref_poison_take_locked(struct zdref_dev *zd, bool *checked);
void zdref_poison_handed_out(struct zdref_dev *zd, struct zdref_page *zp,
			     struct page *head, bool check);
void zdref_poison_flush(struct zdref_dev *zd);
bool zdref_poison_last(struct zdref_dev *zd, struct zdref_poison_report *r);
unsigned int zdref_poison_quarantine(struct zdref_dev *zd);

/* debugfs.c */
void zdref_debugfs_init(void);
void zdref_debugfs_exit(void);
void zdref_debugfs_add(struct zdref_dev *zd);
void zdref_debugfs_remove(struct zdref_dev *zd);

/* inode.c */
int zdref_inode_init(void);
void zdref_inode_exit(void);
int zdref_inode_add(struct zdref_dev *zd);
void zdref_inode_remove(struct zdref_dev *zd);
struct file *zdref_inode_file(struct zdref_dev *zd,
			      const struct file_operations *fops, void *private);

/* space.c */
const char *zdref_scope_name(enum zdref_scope scope);
int zdref_parse_scope(const char *s, enum zdref_scope *scope);
void zdref_space_init(struct zdref_space *s);
struct page *zdref_space_hand_out(struct zdref_dev *zd, struct zdref_space *s,
				  pgoff_t index);
struct page *zdref_space_unit(struct zdref_dev *zd, struct zdref_space *s,
			      pgoff_t index);
struct zdref_space *zdref_space_open(struct zdref_dev *zd,
				     struct zdref_space *own);
void zdref_space_close(struct zdref_dev *zd, struct zdref_space *s);
void zdref_space_kick(struct zdref_dev *zd);
void zdref_space_exit(struct zdref_dev *zd);

/* The unit a space has at @index (units), or NULL: its lock held. */
static inline struct page *zdref_space_find(struct zdref_space *s,
					    pgoff_t index)
{
	return xa_load(&s->pages, index);
}

/* file.c */
extern const struct file_operations zdref_fops;
bool zdref_pmd_maps(void);
bool zdref_dax_inode(const struct zdref_dev *zd);
void zdref_file_exit(void);

/* chardev.c */
int zdref_chardev_init(void);
void zdref_chardev_exit(void);
int zdref_chardev_add(struct zdref_dev *zd);
void zdref_chardev_remove(struct zdref_dev *zd);
void zdref_chardev_publish(void);
struct zdref_dev *zdref_chardev_opened(struct inode *inode);
void zdref_chardev_quiesce(void);

#endif /* ZDREF_H */
