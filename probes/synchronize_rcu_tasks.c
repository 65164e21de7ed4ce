// SPDX-License-Identifier: GPL-2.0
/* synchronize_rcu_tasks(), exported (CONFIG_TASKS_RCU). */
#include <linux/rcupdate.h>

static void probe(void)
{
	synchronize_rcu_tasks();
}

void *zdref_probe = probe;
