/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * zdref user ABI: the ioctls of /dev/zdrefN.
 *
 * Each open file of /dev/zdrefN is a pool client: mmap(MAP_SHARED) of it
 * gets device pages on first touch, zero-filled, shared by every mapping
 * of that open file at the same offset (across fork too).  A page stays
 * allocated while anything holds a reference to it: a mapping, a GUP pin,
 * or the open file itself; when the last one drops, zdref's free callback
 * runs once and the page returns to the pool.  MAP_PRIVATE maps the device
 * page read-only and copies it into system RAM on the first write.
 */
#ifndef _UAPI_ZDREF_H
#define _UAPI_ZDREF_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* States of a device page, as ZDREF_IOC_PAGE_INFO reports them. */
enum zdref_page_state {
	ZDREF_PAGE_NONE = 0,	/* no page at this offset of the file */
	ZDREF_PAGE_FREE,	/* in the pool */
	ZDREF_PAGE_OWNED,	/* held by its file (and maybe mappings, pins) */
	ZDREF_PAGE_BUSY,	/* released by its file, still referenced */
};

/**
 * struct zdref_page_info - the page behind one mapped address
 * @addr: in: a user address inside a mapping of a /dev/zdrefN file
 * @offset: the offset in that file, bytes
 * @pfn: the page's pfn; 0 unless the file the ioctl is made on was opened
 *	with CAP_SYS_ADMIN (the rule of /proc/PID/pagemap)
 * @refcount: zdref's reference count, 0-based: 0 means free.  The file's
 *	own reference counts 1, each mapping 1, each FOLL_GET reference 1 and
 *	each FOLL_PIN pin GUP_PIN_COUNTING_BIAS (1024), as in the kernel.
 * @raw_refcount: the kernel's page_ref_count(), whose meaning differs
 *	between kernels and types (see README.md)
 * @mapcount: how many page tables map the page
 * @state: enum zdref_page_state
 * @flags: must be 0
 */
struct zdref_page_info {
	__u64 addr;
	__u64 offset;
	__u64 pfn;
	__s64 refcount;
	__s64 raw_refcount;
	__s64 mapcount;
	__u32 state;
	__u32 flags;
};

/**
 * struct zdref_release - give back a range of an open file's pages (with
 * scope=device, of the device's, whichever open asks)
 * @offset: page-aligned start, bytes
 * @length: page-aligned length, bytes
 * @timeout_ms: how long to wait for the pages to become free
 * @flags: must be 0
 * @released: out: pages the file gave up
 * @busy: out: of those, pages still referenced (pinned) at the timeout
 *
 * Unmaps the range from every mapping, drops the file's reference on
 * each page and waits until no reference is left, as DAX's break-layouts
 * does.  -ETIMEDOUT if pages are still pinned at @timeout_ms: they stay
 * allocated, and are freed when the last pin drops.
 */
struct zdref_release {
	__u64 offset;
	__u64 length;
	__u32 timeout_ms;
	__u32 flags;
	__u64 released;
	__u64 busy;
};

#define ZDREF_IOC_MAGIC		'Z'
#define ZDREF_IOC_PAGE_INFO	_IOWR(ZDREF_IOC_MAGIC, 0x80, struct zdref_page_info)
#define ZDREF_IOC_RELEASE	_IOWR(ZDREF_IOC_MAGIC, 0x81, struct zdref_release)

/*
 * Device-private devices (type=private): the mirror ABI.
 *
 * An open file of a device-private /dev/zdrefN is a "mirror": an emulated
 * device that mirrors the address space of the process that opened it
 * (a forked child opens its own).  Its ioctls take a &struct zdref_hmm_cmd
 * and are numbered, laid out and behave as those of the kernel's HMM test
 * device (lib/test_hmm_uapi.h, /dev/hmm_dmirrorN), so the kernel's own
 * selftest (tools/testing/selftests/mm/hmm-tests) runs against zdref.
 */

/**
 * struct zdref_hmm_cmd - one mirror request
 * @addr: in: page-aligned user address of the range, in the opener's mm
 * @ptr: in: user buffer the device's copy of the range is read into, or
 *	written from; for ZDREF_HMM_SNAPSHOT, one byte per page
 * @npages: in: pages in the range (ZDREF_HMM_FLAGS: the new flags)
 * @cpages: out: pages done
 * @faults: out: rounds of device faults the request needed
 */
struct zdref_hmm_cmd {
	__u64 addr;
	__u64 ptr;
	__u64 npages;
	__u64 cpages;
	__u64 faults;
};

#define ZDREF_HMM_MAGIC			'H'
/* Copy the range out of (into) the device, faulting it in as needed. */
#define ZDREF_HMM_READ			_IOWR(ZDREF_HMM_MAGIC, 0x00, struct zdref_hmm_cmd)
#define ZDREF_HMM_WRITE			_IOWR(ZDREF_HMM_MAGIC, 0x01, struct zdref_hmm_cmd)
/* Move the range's anonymous pages into device memory, or back. */
#define ZDREF_HMM_MIGRATE_TO_DEV	_IOWR(ZDREF_HMM_MAGIC, 0x02, struct zdref_hmm_cmd)
#define ZDREF_HMM_MIGRATE_TO_SYS	_IOWR(ZDREF_HMM_MAGIC, 0x03, struct zdref_hmm_cmd)
/* One ZDREF_HMM_PROT_* byte per page, without faulting anything. */
#define ZDREF_HMM_SNAPSHOT		_IOWR(ZDREF_HMM_MAGIC, 0x04, struct zdref_hmm_cmd)
/* Take the pages for exclusive (atomic) device access; is any still so? */
#define ZDREF_HMM_EXCLUSIVE		_IOWR(ZDREF_HMM_MAGIC, 0x05, struct zdref_hmm_cmd)
#define ZDREF_HMM_CHECK_EXCLUSIVE	_IOWR(ZDREF_HMM_MAGIC, 0x06, struct zdref_hmm_cmd)
/* Move every page of the device's memory back to system RAM. */
#define ZDREF_HMM_RELEASE		_IOWR(ZDREF_HMM_MAGIC, 0x07, struct zdref_hmm_cmd)
#define ZDREF_HMM_FLAGS			_IOWR(ZDREF_HMM_MAGIC, 0x08, struct zdref_hmm_cmd)
/* ZDREF_HMM_READ without holding the mmap lock across faults. */
#define ZDREF_HMM_READ_UNLOCKED		_IOWR(ZDREF_HMM_MAGIC, 0x09, struct zdref_hmm_cmd)

/* ZDREF_HMM_FLAGS: the next large device allocation fails. */
#define ZDREF_HMM_FLAG_FAIL_ALLOC	(1ULL << 0)

/* ZDREF_HMM_SNAPSHOT's byte per page. */
enum {
	ZDREF_HMM_PROT_ERROR		= 0xff,	/* no usable mapping */
	ZDREF_HMM_PROT_NONE		= 0x00,	/* nothing mapped, or not readable */
	ZDREF_HMM_PROT_READ		= 0x01,
	ZDREF_HMM_PROT_WRITE		= 0x02,
	ZDREF_HMM_PROT_PMD		= 0x04,	/* mapped by a PMD */
	ZDREF_HMM_PROT_PUD		= 0x08,	/* mapped by a PUD */
	ZDREF_HMM_PROT_ZERO		= 0x10,	/* the shared zero page */
	ZDREF_HMM_PROT_DEV_PRIVATE_LOCAL = 0x20, /* in this device's memory */
	ZDREF_HMM_PROT_DEV_PRIVATE_REMOTE = 0x30, /* in another device's */
	ZDREF_HMM_PROT_DEV_COHERENT_LOCAL = 0x40, /* device-coherent: this device's */
	ZDREF_HMM_PROT_DEV_COHERENT_REMOTE = 0x50, /* another device's */
};

#endif /* _UAPI_ZDREF_H */
