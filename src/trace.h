/* SPDX-License-Identifier: GPL-2.0 */
/*
 * zdref's tracepoints: one event per change of a unit's state, and one
 * per fault, release and migration.  `trace-cmd record -e zdref` or
 * `perf record -e 'zdref:*'` on any kernel with tracefs.
 *
 * A unit is named by its device (N of /dev/zdrefN) and the pfn of its
 * head page; pfns are in the trace buffer, which only root reads.  Raw
 * counts are the kernel's page_ref_count(), counts zdref's (0-based:
 * include/zdref/refcount.h).
 *
 * Out of the kernel's tree: src/trace.c defines the events and Kbuild
 * gives it this directory on the include path (TRACE_INCLUDE_PATH).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM zdref

#if !defined(ZDREF_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define ZDREF_TRACE_H

#include <linux/mm_types.h>
#include <linux/tracepoint.h>

#include "zdref.h"

/* The enums' values, for the tools that decode the trace in user space. */
TRACE_DEFINE_ENUM(ZDREF_FREED_BY_PUT);
TRACE_DEFINE_ENUM(ZDREF_FREED_BY_CALLBACK);
TRACE_DEFINE_ENUM(ZDREF_FREED_BY_SCAN);
TRACE_DEFINE_ENUM(ZDREF_MIGRATE_IOCTL);
TRACE_DEFINE_ENUM(ZDREF_MIGRATE_CPU_FAULT);
TRACE_DEFINE_ENUM(ZDREF_MIGRATE_EVICT);

/* Who saw a unit's last reference drop (enum zdref_freed_by). */
#define zdref_show_freed_by(by)					\
	__print_symbolic(by,					\
			 { ZDREF_FREED_BY_PUT, "put" },		\
			 { ZDREF_FREED_BY_CALLBACK, "callback" },	\
			 { ZDREF_FREED_BY_SCAN, "scan" })

#define zdref_show_migrate_reason(why)				\
	__print_symbolic(why,					\
			 { ZDREF_MIGRATE_IOCTL, "ioctl" },	\
			 { ZDREF_MIGRATE_CPU_FAULT, "cpu_fault" },	\
			 { ZDREF_MIGRATE_EVICT, "eviction" })

/*
 * A unit leaves the pool for its first owner: @index is the file offset
 * (bytes) it was handed out for, or for a mirror's page the user address
 * it moved from.
 */
TRACE_EVENT(zdref_hand_out,
	    TP_PROTO(const struct zdref_dev *zd, unsigned long pfn, u64 index,
		     int raw),
	    TP_ARGS(zd, pfn, index, raw),
	    TP_STRUCT__entry(__field(int, dev)
			     __field(unsigned long, pfn)
			     __field(unsigned int, order)
			     __field(u64, index)
			     __field(pid_t, pid)
			     __field(int, raw)
	    ),
	    TP_fast_assign(__entry->dev = zd->id;
			   __entry->pfn = pfn;
			   __entry->order = zd->order;
			   __entry->index = index;
			   __entry->pid = current->tgid;
			   __entry->raw = raw;
	    ),
	    TP_printk("zdref%d pfn=%#lx order=%u at=%#llx pid=%d raw=%d",
		      __entry->dev, __entry->pfn, __entry->order, __entry->index,
		      __entry->pid, __entry->raw)
);

/* A unit's count as its file gives it up, or as it goes busy. */
DECLARE_EVENT_CLASS(zdref_unit_count,
		    TP_PROTO(const struct zdref_dev *zd, unsigned long pfn, int raw),
		    TP_ARGS(zd, pfn, raw),
		    TP_STRUCT__entry(__field(int, dev)
				     __field(unsigned long, pfn)
				     __field(int, raw)
				     __field(int, count)
		    ),
		    TP_fast_assign(__entry->dev = zd->id;
				   __entry->pfn = pfn;
				   __entry->raw = raw;
				   __entry->count = raw - zd->model.base;
		    ),
		    TP_printk("zdref%d pfn=%#lx count=%d raw=%d", __entry->dev,
			      __entry->pfn, __entry->count, __entry->raw)
);

/* Its file lets go of a unit (close, RELEASE): before the file's put. */
DEFINE_EVENT(zdref_unit_count, zdref_file_release,
	     TP_PROTO(const struct zdref_dev *zd, unsigned long pfn, int raw),
	     TP_ARGS(zd, pfn, raw)
);

/* A unit its file gave up is still referenced (pinned): it waits, busy. */
DEFINE_EVENT(zdref_unit_count, zdref_busy,
	     TP_PROTO(const struct zdref_dev *zd, unsigned long pfn, int raw),
	     TP_ARGS(zd, pfn, raw)
);

TRACE_EVENT(zdref_free,
	    TP_PROTO(const struct zdref_dev *zd, unsigned long pfn, int by,
		     unsigned int busy_ms),
	    TP_ARGS(zd, pfn, by, busy_ms),
	    TP_STRUCT__entry(__field(int, dev)
			     __field(unsigned long, pfn)
			     __field(int, by)
			     __field(unsigned int, busy_ms)
	    ),
	    TP_fast_assign(__entry->dev = zd->id;
			   __entry->pfn = pfn;
			   __entry->by = by;
			   __entry->busy_ms = busy_ms;
	    ),
	    TP_printk("zdref%d pfn=%#lx by=%s busy_ms=%u", __entry->dev,
		      __entry->pfn,
		      zdref_show_freed_by(__entry->by),
		      __entry->busy_ms)
);

TRACE_EVENT(zdref_bad_free,
	    TP_PROTO(const struct zdref_dev *zd, unsigned long pfn, int state),
	    TP_ARGS(zd, pfn, state),
	    TP_STRUCT__entry(__field(int, dev)
			     __field(unsigned long, pfn)
			     __field(int, state)
	    ),
	    TP_fast_assign(__entry->dev = zd->id;
			   __entry->pfn = pfn;
			   __entry->state = state;
	    ),
	    TP_printk("zdref%d pfn=%#lx state=%d", __entry->dev, __entry->pfn,
		      __entry->state)
);

/* A CPU fault on a mapping of a file: order 0 for a PTE, 9 for a PMD. */
TRACE_EVENT(zdref_fault,
	    TP_PROTO(const struct zdref_dev *zd, unsigned long addr,
		     unsigned long pfn, unsigned int order, unsigned int ret),
	    TP_ARGS(zd, addr, pfn, order, ret),
	    TP_STRUCT__entry(__field(int, dev)
			     __field(unsigned long, addr)
			     __field(unsigned long, pfn)
			     __field(unsigned int, order)
			     __field(unsigned int, ret)
	    ),
	    TP_fast_assign(__entry->dev = zd->id;
			   __entry->addr = addr;
			   __entry->pfn = pfn;
			   __entry->order = order;
			   __entry->ret = ret;
	    ),
	    TP_printk("zdref%d %s addr=%#lx pfn=%#lx ret=%#x", __entry->dev,
		      __entry->order ? "pmd" : "pte", __entry->addr, __entry->pfn,
		      __entry->ret)
);

TRACE_EVENT(zdref_release,
	    TP_PROTO(const struct zdref_dev *zd, u64 offset, u64 length,
		     u64 released, u64 busy, unsigned int waited_ms, int ret),
	    TP_ARGS(zd, offset, length, released, busy, waited_ms, ret),
	    TP_STRUCT__entry(__field(int, dev)
			     __field(u64, offset)
			     __field(u64, length)
			     __field(u64, released)
			     __field(u64, busy)
			     __field(unsigned int, waited_ms)
			     __field(int, ret)
	    ),
	    TP_fast_assign(__entry->dev = zd->id;
			   __entry->offset = offset;
			   __entry->length = length;
			   __entry->released = released;
			   __entry->busy = busy;
			   __entry->waited_ms = waited_ms;
			   __entry->ret = ret;
	    ),
	    TP_printk("zdref%d offset=%#llx length=%#llx released=%llu busy=%llu waited_ms=%u ret=%d",
		      __entry->dev, __entry->offset, __entry->length,
		      __entry->released, __entry->busy, __entry->waited_ms,
		      __entry->ret)
);

/* Pages moved between system RAM and device memory. */
TRACE_EVENT(zdref_migrate,
	    TP_PROTO(const struct zdref_dev *zd, bool to_dev, unsigned long pages,
		     int reason),
	    TP_ARGS(zd, to_dev, pages, reason),
	    TP_STRUCT__entry(__field(int, dev)
			     __field(bool, to_dev)
			     __field(unsigned long, pages)
			     __field(int, reason)
	    ),
	    TP_fast_assign(__entry->dev = zd->id;
			   __entry->to_dev = to_dev;
			   __entry->pages = pages;
			   __entry->reason = reason;
	    ),
	    TP_printk("zdref%d %s pages=%lu reason=%s", __entry->dev,
		      __entry->to_dev ? "to_dev" : "to_ram", __entry->pages,
		      zdref_show_migrate_reason(__entry->reason))
);

/* poison=1: a free unit was written to (src/poison.c). */
TRACE_EVENT(zdref_poison,
	    TP_PROTO(const struct zdref_dev *zd, unsigned long pfn,
		     unsigned long first, unsigned long last, unsigned long bytes,
		     pid_t owner, u64 index),
	    TP_ARGS(zd, pfn, first, last, bytes, owner, index),
	    TP_STRUCT__entry(__field(int, dev)
			     __field(unsigned long, pfn)
			     __field(unsigned long, first)
			     __field(unsigned long, last)
			     __field(unsigned long, bytes)
			     __field(pid_t, owner)
			     __field(u64, index)
	    ),
	    TP_fast_assign(__entry->dev = zd->id;
			   __entry->pfn = pfn;
			   __entry->first = first;
			   __entry->last = last;
			   __entry->bytes = bytes;
			   __entry->owner = owner;
			   __entry->index = index;
	    ),
	    TP_printk("zdref%d pfn=%#lx changed=%lu bytes in [%#lx, %#lx] last_owner=%d index=%#llx",
		      __entry->dev, __entry->pfn, __entry->bytes, __entry->first,
		      __entry->last, __entry->owner, __entry->index)
);

#endif /* ZDREF_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
