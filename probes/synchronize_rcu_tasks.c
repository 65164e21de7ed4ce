// SPDX-License-Identifier: GPL-2.0
/*
 * synchronize_rcu_tasks(), exported (CONFIG_TASKS_RCU).
 *
 * Upstream: RCU Tasks since 8315f42295d2 ("rcu: Add call_rcu_tasks()"),
 *	around v3.18; exported where CONFIG_TASKS_RCU is set.
 * Optional: without it an unload of FS_DAX pages under the new rules
 *	waits for RCU only (compat.h).
 */
#include <linux/rcupdate.h>

static void probe(void)
{
	synchronize_rcu_tasks();
}

void *zdref_probe = probe;
