// SPDX-License-Identifier: GPL-2.0
/*
 * MODULE_IMPORT_NS() takes the namespace as a bare name, which it
 * stringifies (up to 6.12); later kernels take a string literal, and a
 * bare name does not compile there.
 *
 * Upstream: cdd30ebb1b9f ("module: Convert symbol namespace to string
 *	literal"), v6.13, is where the answer turns 0.
 * Optional: a spelling, of zdref_kunit.ko only (compat.h).
 */
#include <linux/module.h>

MODULE_IMPORT_NS(ZDREF_PROBE_NS);

int zdref_probe;
