// SPDX-License-Identifier: GPL-2.0
/*
 * system_dfl_wq and system_percpu_wq: the new names of system_unbound_wq
 * and system_wq, which 7.2 and later warn about when work is queued on
 * them ("enqueued on deprecated workqueue").
 *
 * Upstream: 128ea9f6ccfb ("workqueue: Add system_percpu_wq and
 *	system_dfl_wq"), v6.17; the warning: 64d8eae3f895 ("workqueue: Add
 *	warnings and fallback if system_{unbound}_wq is used").
 * Optional: a spelling: without it compat.h names the old workqueues.
 */
#include <linux/workqueue.h>

static bool probe(struct work_struct *work)
{
	return queue_work(system_dfl_wq, work) || queue_work(system_percpu_wq, work);
}

void *zdref_probe = probe;
