// SPDX-License-Identifier: GPL-2.0
/*
 * zdref: the definitions of the tracepoints of src/trace.h.
 */
#define CREATE_TRACE_POINTS
#include "trace.h"
