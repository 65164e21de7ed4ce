// SPDX-License-Identifier: GPL-2.0
/*
 * e820__mapped_raw_any(): the firmware's own memory map
 * (e820_table_firmware, before memmap= changed it), readable by a module.
 * Exported GPL on Debian's 6.1 and 6.12; 7.x exports it to KVM's modules
 * only (EXPORT_SYMBOL_FOR_KVM), which scripts/probe counts as absent.
 *
 * Upstream: 6276c67f2bc4 ("x86: Restrict KVM-induced symbol exports to KVM
 *	modules where obvious/possible"), the v6.19 cycle, turned the export
 *	KVM-only; the export itself is older.
 * Optional: without it region= is not checked against the firmware's map,
 *	and the load warns (region.c).
 */
#include <linux/types.h>
#include <asm/e820/api.h>

static bool probe(u64 start, u64 end)
{
	return e820__mapped_raw_any(start, end, E820_TYPE_RESERVED);
}

void *zdref_probe = probe;
