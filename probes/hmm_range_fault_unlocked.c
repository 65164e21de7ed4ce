// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_range_fault_unlocked_timeout(): fault a range in without the caller
 * holding the mmap lock, so that the fault may drop it (userfaultfd).
 *
 * Upstream: posted in July 2026 as "mm/hmm: add
 *	hmm_range_fault_unlocked_timeout() for mmap lock-drop support"; no
 *	mainline commit was found for it here.  Debian's 7.3 has it, 7.2
 *	does not.
 * Optional: without it the mirror's READ_UNLOCKED is -ENOTTY (hmm-tests'
 *	userfaultfd_read an expected failure there).
 */
#include <linux/hmm.h>

static int probe(struct hmm_range *range)
{
	return hmm_range_fault_unlocked_timeout(range, 0);
}

void *zdref_probe = probe;
