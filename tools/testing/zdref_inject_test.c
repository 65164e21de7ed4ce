// SPDX-License-Identifier: GPL-2.0
/*
 * zdref's fault-injection selftests: every unwind path of a load.
 *
 * For N from just before zdref_init()'s first fault point on, the Nth
 * fault point the loading task reaches (a slab or page allocation, a copy
 * from user space: /proc/thread-self/fail-nth, CONFIG_FAULT_INJECTION)
 * fails, until a load reaches no Nth point.  Each failed load must leave
 * nothing behind (no module, node, class or claimed range) and no splat in the
 * console (scripts/vm), and a second process, opening the nodes all along,
 * must never get a file from a load that then failed: the loader frees a
 * module whose init failed without waiting for its files.  Debian's kernels
 * have no fault injection; the debug kernels of scripts/kunit do.
 *
 * ZDREF_INJECT_STRIDE=S and ZDREF_INJECT_PHASE=P (0 <= P < S) fail only
 * the points first + P, first + P + S, ...: a share of the sweep, for a
 * run that cannot afford all of it (make check takes every other point,
 * the half changing from one day to the next).  By default, all of them.
 */
#include <sys/prctl.h>
#include <signal.h>

#include "zdref_util.h"

/* Far more fault points than a load reaches; the sweep ends on its own. */
#define NTH_MAX		100000

/* What the opener tells the sweep. */
struct opener {
	unsigned long opens;	/* files it got, ever: __atomic */
	unsigned long tries;
};

static void fault_injection_setup(void)
{
	const char *why = zdref_fault_injection_setup();

	if (why)
		SKIP("%s", why);
}

/*
 * Open the nodes, again and again, until killed; count the files got.
 * It naps 1 ms a round rather than yield: beside a vCPU that never idles
 * a load runs far slower under TCG (on the 7.3 debug kernel a failed
 * load took 1.6 s beside a yielding opener, 0.2 s beside a napping one;
 * both sweeps took 727 s, now 381 s), and a load takes hundreds of
 * milliseconds, so the opener still tries each node over a hundred
 * times a load (the sweep prints how many).
 */
static noreturn void opener_run(struct opener *o, int devices)
{
	char path[32];
	int i, fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		for (i = 0; i < devices; i++) {
			snprintf(path, sizeof(path), "/dev/zdref%d", i);
			__atomic_fetch_add(&o->tries, 1, __ATOMIC_RELAXED);
			fd = open(path, O_RDWR | O_CLOEXEC);
			if (fd >= 0) {
				__atomic_fetch_add(&o->opens, 1, __ATOMIC_SEQ_CST);
				close(fd);
			}
		}
		usleep(1000);
	}
}

/* Does the opener get a file, past @since, within 5 s? */
static bool opener_got_one(struct opener *o, unsigned long since)
{
	int i;

	for (i = 0; i < 5000; i++) {
		if (__atomic_load_n(&o->opens, __ATOMIC_SEQ_CST) != since)
			return true;
		usleep(1000);
	}
	return false;
}

/* Unload, waiting out the opener's files (it closes each at once). */
static void unload(void)
{
	int i, ret = -EWOULDBLOCK;

	for (i = 0; i < 10000 && ret == -EWOULDBLOCK; i++) {
		ret = zdref_unload();
		if (ret == -EWOULDBLOCK)
			usleep(1000);
	}
	ASSERT_EQ(ret, 0);
}

struct sweep {
	const char *name;
	const char *params;	/* %1$s: region=SIZE@START of the reserved range */
	int devices;
};

/*
 * The fault points a load reaches: @nth from a count too large to run out,
 * what is left after.
 */
static unsigned long load_points(int ko, const char *params)
{
	long left;
	int fd;

	fd = open(ZDREF_FAIL_NTH, O_RDWR | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	ASSERT_TRUE(zdref_fail_nth_arm(fd, NTH_MAX));
	syscall(SYS_finit_module, ko, params, 0);
	left = zdref_fail_nth_disarm(fd);
	ASSERT_GT(left, 0);
	close(fd);
	if (zdref_loaded())
		unload();
	return NTH_MAX - left;
}

/* One load with the Nth fault point failing: init_module's result. */
static int load_failing_nth(int ko, const char *params, unsigned long nth,
			    bool *injected)
{
	int fd, ret;

	fd = open(ZDREF_FAIL_NTH, O_RDWR | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	ASSERT_TRUE(zdref_fail_nth_arm(fd, nth));
	ret = syscall(SYS_finit_module, ko, params, 0) ? -errno : 0;
	*injected = zdref_fail_nth_disarm(fd) == 0;
	close(fd);
	return ret;
}

/* $NAME as a number, @def if unset. */
static unsigned long env_ulong(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 10) : def;
}

static void init_fail_nth(const void *arg)
{
	const struct sweep *sw = arg;
	struct zdref_range r = zdref_reserved_range();
	unsigned long stride = env_ulong("ZDREF_INJECT_STRIDE", 1);
	unsigned long phase = env_ulong("ZDREF_INJECT_PHASE", 0);
	unsigned long nth, before, first, failed = 0, survived = 0, opens_before;
	double t0;
	char region[64], params[192];
	unsigned long enomem = 0;
	int ret, ko;
	struct opener *o;
	bool injected;
	pid_t pid;

	fault_injection_setup();
	ASSERT_GE(stride, 1);
	ASSERT_GT(stride, phase);
	/* The smallest range a device takes: the sweep's cost is its pages. */
	snprintf(region, sizeof(region), "region=2M@0x%llx",
		 (unsigned long long)r.start);
	snprintf(params, sizeof(params), sw->params, region);
	ko = open(ZDREF_KO, O_RDONLY | O_CLOEXEC);
	ASSERT_GE(ko, 0);
	/* Can it load at all here? (type=private needs what 6.x lacks.) */
	ret = syscall(SYS_finit_module, ko, params, 0) ? -errno : 0;
	if (ret == -EOPNOTSUPP)
		SKIP("%s: zdref refuses it on this kernel", params);
	ASSERT_EQ(ret, 0);
	unload();
	zdref_check_gone(sw->devices);

	o = mmap(NULL, sizeof(*o), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(o != MAP_FAILED);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		opener_run(o, sw->devices);

	/*
	 * The module loader's own fault points come first: a load that
	 * zdref_init() refuses before it allocates anything (type=bogus)
	 * reaches them and few more.  The sweep starts just before the
	 * first of zdref's: the loader's are the kernel's to test.
	 */
	before = load_points(ko, "type=bogus");
	first = before > 16 ? before - 16 : 1;
	zt_diag("a load reaches %lu fault points, %lu of them in the loader before zdref_init()",
		load_points(ko, params), before);
	zdref_check_gone(sw->devices);

	t0 = zt_now();
	zt_diag("insmod zdref.ko %s, the Nth fault point failing, N = %lu...",
		params, first + phase);
	if (stride > 1)
		zt_diag("N in steps of %lu (ZDREF_INJECT_STRIDE; ZDREF_INJECT_PHASE %lu)",
			stride, phase);
	for (nth = first + phase; nth <= NTH_MAX; nth += stride) {
		opens_before = __atomic_load_n(&o->opens, __ATOMIC_SEQ_CST);
		ret = load_failing_nth(ko, params, nth, &injected);
		if (ret == 0) {
			/* Loaded: past its last fault point, or it survived one. */
			ASSERT_TRUE(zdref_loaded());
			/*
			 * The load that ends the sweep: the opener must get a
			 * file of it, or its silence all along proved nothing.
			 */
			if (!injected)
				ASSERT_TRUE(opener_got_one(o, opens_before));
			unload();
			zdref_check_gone(sw->devices);
			if (!injected)
				break;
			survived++;
			continue;
		}
		if (!injected)
			zt_diag("N = %lu: the load failed with %d, no fault injected",
				nth, ret);
		ASSERT_TRUE(injected);
		zdref_check_gone(sw->devices);
		if (__atomic_load_n(&o->opens, __ATOMIC_SEQ_CST) != opens_before)
			zt_diag("N = %lu: the opener got a file from a load that failed (%d)",
				nth, ret);
		ASSERT_EQ(__atomic_load_n(&o->opens, __ATOMIC_SEQ_CST), opens_before);
		failed++;
		if (ret == -ENOMEM)
			enomem++;
		else
			zt_diag("N = %lu: the load failed with %s", nth, strerror(-ret));
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	zt_diag("%lu fault points, %lu of them failed in turn:", nth - first,
		failed + survived);
	zt_diag("%lu loads failed (%lu with ENOMEM), %lu loaded despite one",
		failed, enomem, survived);
	zt_diag("the opener got %lu files in %lu opens; %.1f s", o->opens, o->tries,
		zt_now() - t0);
	ASSERT_TRUE(nth <= NTH_MAX);
	/* A sweep that failed nothing tested nothing. */
	ASSERT_GT(failed, 0);
	close(ko);
}

/*
 * generic takes the same path through zdref_init() as fsdax, and a sweep
 * costs about a second a fault point on a debug kernel under TCG.
 */
static const struct sweep sweeps[] = {
	{ "init_fail_nth_fsdax", "%s type=fsdax", 1 },
	/* Node 0 is up before node 1's add: the case for the open gate. */
	{ "init_fail_nth_private_2_devices", "region=2M type=private devices=2", 2 },
};

int main(void)
{
	struct zt_test tests[ZT_COUNT(sweeps)];
	size_t i;

	for (i = 0; i < ZT_COUNT(sweeps); i++)
		tests[i] = (struct zt_test)ZT_NAMED(sweeps[i].name, init_fail_nth,
						    &sweeps[i]);
	return zt_run(tests, ZT_COUNT(tests));
}
