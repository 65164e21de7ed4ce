// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_range_fault_unlocked_timeout(): fault a range in without the caller
 * holding the mmap lock, so that the fault may drop it (userfaultfd).
 */
#include <linux/hmm.h>

static int probe(struct hmm_range *range)
{
	return hmm_range_fault_unlocked_timeout(range, 0);
}

void *zdref_probe = probe;
