// SPDX-License-Identifier: GPL-2.0
/*
 * zdref's pool selftests: device pages mapped through /dev/zdref0 hold
 * real references; zdref frees each page once, when the last reference
 * (mapping, pin or file) drops; a page is never freed while mapped or
 * pinned.  One fixture, whose variants are the types the kernel can map
 * (fsdax, generic) with each unit (4K, 2M): each test on a freshly loaded
 * module, with the counters checked back at their baseline afterwards.
 */
#define _GNU_SOURCE
#include <linux/io_uring.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>

#include "zdref_util.h"
#include "../../include/uapi/zdref.h"

#define ZDREF_THP_ENABLED "/sys/kernel/mm/transparent_hugepage/enabled"

/* The fixture's state, set by load() in each test's own process. */
static uint64_t total;		/* pages_total */
static const struct zt_variant *variant;

/*
 * What the fixture loads: the most any test but the 1 GiB ones maps is
 * 64 MiB.  On a debug kernel under TCG a load and unload of 1 GiB takes
 * about 4 s, of 128 MiB 2 s, and the fixture loads 76 times.
 */
#define POOL_SIZE	(128ULL << 20)

/*
 * The fixture: each test on a freshly loaded module, of the variant's
 * type (its name, and each test's argument) and align= (its tag), over
 * the first POOL_SIZE bytes of the reserved range (all of a smaller one).
 */
/* The variant's load of POOL_SIZE (or less), with @extra parameters. */
static void load_pool(const char *extra)
{
	total = zdref_load_variant(variant, zdref_reserved_range().size > POOL_SIZE ?
				   POOL_SIZE : 0, extra);
}

static void load(const struct zt_variant *v)
{
	variant = v;
	load_pool("");
}

/* The fixture's load again, over the whole reserved range. */
static void load_whole_range(void)
{
	ASSERT_EQ(zdref_unload(), 0);
	total = zdref_load_variant(variant, 0, "");
}

/*
 * Everything given back: wait (pages pinned after their file let go are
 * freed by a scan every jiffy) until the pool is whole, then check that
 * every page handed out was freed exactly once, and unload.
 */
static void baseline(uint64_t allocs)
{
	int i;

	for (i = 0; i < 200 && zdref_sysfs_u64("pages_free") != total; i++)
		usleep(5000);
	ASSERT_EQ(zdref_sysfs_u64("pages_free"), total);
	ASSERT_EQ(zdref_sysfs_u64("pages_busy"), 0);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), allocs);
	ASSERT_EQ(zdref_sysfs_u64("frees"), allocs);
	ASSERT_EQ(zdref_sysfs_u64("bad_frees"), 0);
	ASSERT_EQ(zdref_sysfs_u64("poison_errors"), 0);
	ASSERT_EQ(zdref_unload(), 0);
}

/* One page: the file holds 1, its mapping 1; freed at the close. */
static void one_page(const void *type)
{
	int fd = zdref_open_dev();
	char *p = zdref_map(fd, PG, MAP_SHARED, 0);
	struct zdref_page_info pi;

	zdref_fill(p, 1, 0, 1);
	pi = zdref_page_info_of(fd, p);
	ASSERT_EQ(pi.state, ZDREF_PAGE_OWNED);
	ASSERT_EQ(pi.refcount, 2);
	ASSERT_EQ(pi.mapcount, 1);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), 1);
	ASSERT_EQ(zdref_sysfs_u64("pages_free"), total - 1);
	ASSERT_EQ(munmap(p, PG), 0);
	/* The file still holds it: same page, same data, 1 reference. */
	p = zdref_map(fd, PG, MAP_SHARED, 0);
	zdref_check_filled(p, 1, 0, 1);
	ASSERT_EQ(zdref_page_info_of(fd, p).pfn, pi.pfn);
	ASSERT_EQ(zdref_page_info_of(fd, p).refcount, 2);
	ASSERT_EQ(zdref_sysfs_u64("frees"), 0);
	ASSERT_EQ(munmap(p, PG), 0);
	close(fd);
	baseline(1);
}

/* Two mappings of one offset share the page and hold one reference each. */
static void two_mappings(const void *type)
{
	int fd = zdref_open_dev();
	char *a = zdref_map(fd, PG, MAP_SHARED, 0), *b = zdref_map(fd, PG, MAP_SHARED, 0);

	zdref_fill(a, 1, 0, 2);
	zdref_check_filled(b, 1, 0, 2);
	ASSERT_EQ(zdref_page_info_of(fd, a).pfn, zdref_page_info_of(fd, b).pfn);
	ASSERT_EQ(zdref_page_info_of(fd, a).refcount, 3);
	ASSERT_EQ(zdref_page_info_of(fd, a).mapcount, 2);
	ASSERT_EQ(munmap(b, PG), 0);
	ASSERT_EQ(zdref_page_info_of(fd, a).refcount, 2);
	ASSERT_EQ(munmap(a, PG), 0);
	close(fd);
	baseline(1);
}

/* 64 MiB in 4 KiB steps. */
static void many_pages(const void *type)
{
	const uint64_t n = (64 << 20) / PG;
	int fd = zdref_open_dev();
	char *p = zdref_map(fd, n * PG, MAP_SHARED, 0);

	zdref_fill(p, n, 0, 3);
	zdref_check_filled(p, n, 0, 3);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), n);
	ASSERT_EQ(zdref_page_info_of(fd, p + (n - 1) * PG).refcount, 2);
	ASSERT_EQ(munmap(p, n * PG), 0);
	close(fd);
	baseline(n);
}

/* Touch one page in a child: its exit status, or the signal that killed it. */
static int touch_in_child(char *p)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		p[0] = 1;
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status);
}

/*
 * 1 GiB in 4 KiB steps, which empties a 1 GiB pool: one page more gets
 * SIGBUS, and the pages already handed out are untouched by that.  Under
 * KASAN, the fixture's pool instead: 1 GiB of 4 KiB faults takes 75 s of
 * a debug kernel under TCG, and the stock kernels map the whole GiB.
 */
static void gib_4k_and_exhaustion(const void *type)
{
	uint64_t n = (1ULL << 30) / PG;
	int fd, fd2;
	char *p, *more;

	if (zdref_kconfig("KASAN")) {
		n = total;
		zt_diag("KASAN: %llu MiB, the fixture's pool, not 1 GiB",
			(unsigned long long)(n * PG >> 20));
	} else {
		load_whole_range();
	}
	fd = zdref_open_dev();
	fd2 = zdref_open_dev();

	if (total < n)
		SKIP("region of %llu MiB: this test wants 1 GiB",
		     (unsigned long long)(total * PG >> 20));
	p = zdref_map(fd, n * PG, MAP_SHARED, 0);
	zdref_fill(p, n, 0, 19);
	zdref_check_filled(p, n, 0, 19);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), n);
	ASSERT_EQ(zdref_sysfs_u64("pages_free"), total - n);
	more = zdref_map(fd2, (total - n + 1) * PG, MAP_SHARED, 0);
	if (total > n)
		zdref_fill(more, total - n, 0, 19);
	ASSERT_EQ(touch_in_child(more + (total - n) * PG), SIGBUS);
	ASSERT_EQ(zdref_sysfs_u64("pages_free"), 0);
	zdref_check_filled(p, n, 0, 19);
	munmap(more, (total - n + 1) * PG);
	close(fd2);
	ASSERT_EQ(munmap(p, n * PG), 0);
	close(fd);
	baseline(total);
}

/* Files do not share pages: the same offset of two files, two pages. */
static void two_files(const void *type)
{
	int fa = zdref_open_dev(), fb = zdref_open_dev();
	char *a = zdref_map(fa, PG, MAP_SHARED, 0), *b = zdref_map(fb, PG, MAP_SHARED, 0);

	zdref_fill(a, 1, 0, 4);
	zdref_fill(b, 1, 0, 5);
	zdref_check_filled(a, 1, 0, 4);
	ASSERT_NE(zdref_page_info_of(fa, a).pfn, zdref_page_info_of(fb, b).pfn);
	munmap(a, PG);
	munmap(b, PG);
	close(fa);
	close(fb);
	baseline(2);
}

/* A child shares the mapping, touches new pages and exits. */
static void fork_child_touches(const void *type)
{
	const uint64_t n = 16;
	int fd = zdref_open_dev(), status;
	char *p = zdref_map(fd, n * PG, MAP_SHARED, 0);
	pid_t pid;

	zdref_fill(p, n / 2, 0, 6);
	ASSERT_EQ(zdref_page_info_of(fd, p).refcount, 2);
	pid = fork();
	if (pid == 0) {
		zdref_check_filled(p, n / 2, 0, 6);
		zdref_fill(p + n / 2 * PG, n / 2, n / 2, 6);
		_exit(zdref_page_info_of(fd, p).refcount == 3 ? 0 : 1);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_EQ(status, 0);
	zdref_check_filled(p, n, 0, 6);
	ASSERT_EQ(zdref_page_info_of(fd, p).refcount, 2);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), n);
	munmap(p, n * PG);
	close(fd);
	baseline(n);
}

/* MADV_DONTNEED drops the mapping's reference, never the file's. */
static void madv_dontneed(const void *type)
{
	int fd = zdref_open_dev();
	char *p = zdref_map(fd, 4 * PG, MAP_SHARED, 0);

	zdref_fill(p, 4, 0, 7);
	ASSERT_EQ(madvise(p, 4 * PG, MADV_DONTNEED), 0);
	zdref_check_filled(p, 4, 0, 7);	/* faults the same pages back */
	ASSERT_EQ(zdref_sysfs_u64("allocs"), 4);
	ASSERT_EQ(zdref_page_info_of(fd, p).refcount, 2);
	munmap(p, 4 * PG);
	close(fd);
	baseline(4);
}

/* mremap moves the page table entries and their references. */
static void mremap_moves(const void *type)
{
	int fd = zdref_open_dev();
	char *p = zdref_map(fd, 4 * PG, MAP_SHARED, 0), *q;

	zdref_fill(p, 4, 0, 8);
	q = mremap(p, 4 * PG, 8 * PG, MREMAP_MAYMOVE);
	ASSERT_TRUE(q != MAP_FAILED);
	zdref_check_filled(q, 4, 0, 8);
	ASSERT_EQ(zdref_page_info_of(fd, q).refcount, 2);
	zdref_fill(q + 4 * PG, 4, 4, 8);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), 8);
	munmap(q, 8 * PG);
	close(fd);
	baseline(8);
}

/* Unmapping part of a mapping drops those pages' mapping references. */
static void partial_munmap(const void *type)
{
	int fd = zdref_open_dev();
	char *p = zdref_map(fd, 8 * PG, MAP_SHARED, 0), *all;

	zdref_fill(p, 8, 0, 9);
	ASSERT_EQ(munmap(p + 2 * PG, 4 * PG), 0);
	all = zdref_map(fd, 8 * PG, MAP_SHARED, 0);
	zdref_check_filled(all, 8, 0, 9);
	ASSERT_EQ(zdref_page_info_of(fd, all + 0 * PG).refcount, 3);	/* file, p, all */
	ASSERT_EQ(zdref_page_info_of(fd, all + 3 * PG).refcount, 2);	/* file, all */
	munmap(p, 2 * PG);
	munmap(p + 6 * PG, 2 * PG);
	munmap(all, 8 * PG);
	close(fd);
	baseline(8);
}

/* A process that exits with its mapping and file still open frees all. */
static void exit_without_munmap(const void *type)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(ZDREF_DEV, O_RDWR);
		char *p = mmap(NULL, 32 * PG, PROT_READ | PROT_WRITE,
			       MAP_SHARED, fd, 0);

		if (fd < 0 || p == MAP_FAILED)
			_exit(1);
		zdref_fill(p, 32, 0, 10);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_EQ(status, 0);
	baseline(32);
}

/* SIGKILL in the middle of faulting pages in. */
static void kill9_during_faults(const void *type)
{
	const uint64_t n = (32 << 20) / PG;
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(ZDREF_DEV, O_RDWR);
		char *p = mmap(NULL, n * PG, PROT_READ | PROT_WRITE,
			       MAP_SHARED, fd, 0);

		if (fd < 0 || p == MAP_FAILED)
			_exit(1);
		for (;;)
			zdref_fill(p, n, 0, 11);
	}
	while (zdref_sysfs_u64("allocs") < n / 4)
		usleep(1000);
	ASSERT_EQ(kill(pid, SIGKILL), 0);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFSIGNALED(status));
	baseline(zdref_sysfs_u64("allocs"));
}

/* process_vm_readv() reads another process's device pages through GUP. */
static void process_vm_readv_reads(const void *type)
{
	int fd = zdref_open_dev(), pfd[2], status;
	char *p = zdref_map(fd, 4 * PG, MAP_SHARED, 0), *buf = malloc(4 * PG);
	struct iovec local = { buf, 4 * PG }, remote = { p, 4 * PG };
	pid_t pid;
	char c;

	ASSERT_EQ(pipe(pfd), 0);
	zdref_fill(p, 4, 0, 12);
	pid = fork();
	if (pid == 0) {		/* hold the mapping until told */
		close(pfd[1]);
		_exit(read(pfd[0], &c, 1) == 1 ? 0 : 1);
	}
	ASSERT_EQ(process_vm_readv(pid, &local, 1, &remote, 1, 0), 4 * PG);
	zdref_check_filled(buf, 4, 0, 12);
	ASSERT_EQ(write(pfd[1], "x", 1), 1);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_EQ(zdref_page_info_of(fd, p).refcount, 2);
	munmap(p, 4 * PG);
	close(fd);
	baseline(4);
}

/*
 * vmsplice() leaves a reference to the page in the pipe: the page must
 * outlive its mapping and its file, keep its data, and be freed only when
 * the pipe lets go.  rmmod is refused meanwhile.
 */
static void vmsplice_outlives_file(const void *type)
{
	int fd = zdref_open_dev(), pfd[2];
	char *p = zdref_map(fd, PG, MAP_SHARED, 0), *buf = malloc(PG);
	struct iovec iov = { p, PG };

	ASSERT_EQ(pipe(pfd), 0);
	zdref_fill(p, 1, 0, 13);
	ASSERT_EQ(vmsplice(pfd[1], &iov, 1, 0), PG);
	ASSERT_GE(zdref_page_info_of(fd, p).refcount, 3);
	munmap(p, PG);
	close(fd);
	ASSERT_EQ(zdref_sysfs_u64("pages_busy"), 1);
	ASSERT_EQ(zdref_sysfs_u64("frees"), 0);
	ASSERT_ERRNO(zdref_unload(), EWOULDBLOCK);
	usleep(20000);	/* several scans: still referenced, still busy */
	ASSERT_EQ(zdref_sysfs_u64("frees"), 0);
	ASSERT_EQ(read(pfd[0], buf, PG), PG);
	zdref_check_filled(buf, 1, 0, 13);
	close(pfd[0]);
	close(pfd[1]);
	baseline(1);
}

/* The release ioctl unmaps, frees and hands out a fresh page after. */
static void release_range(const void *type)
{
	struct zdref_release rel = { .offset = 0, .length = 4 * PG,
				     .timeout_ms = 1000 };
	int fd = zdref_open_dev();
	char *p = zdref_map(fd, 4 * PG, MAP_SHARED, 0);

	zdref_fill(p, 4, 0, 14);
	ASSERT_EQ(ioctl(fd, ZDREF_IOC_RELEASE, &rel), 0);
	ASSERT_EQ(rel.released, 4);
	ASSERT_EQ(rel.busy, 0);
	ASSERT_EQ(zdref_sysfs_u64("frees"), 4);
	ASSERT_EQ(((uint64_t *)p)[0], 0);	/* a new, zeroed page */
	ASSERT_EQ(zdref_sysfs_u64("allocs"), 5);
	munmap(p, 4 * PG);
	close(fd);
	baseline(5);
}

/* Releasing a pinned page waits, times out cleanly, never frees it. */
static void release_while_pinned(const void *type)
{
	struct zdref_release rel = { .offset = 0, .length = PG,
				     .timeout_ms = 100 };
	int fd = zdref_open_dev(), pfd[2];
	char *p = zdref_map(fd, PG, MAP_SHARED, 0), *buf = malloc(PG);
	struct iovec iov = { p, PG };

	ASSERT_EQ(pipe(pfd), 0);
	zdref_fill(p, 1, 0, 15);
	ASSERT_EQ(vmsplice(pfd[1], &iov, 1, 0), PG);
	ASSERT_EQ(ioctl(fd, ZDREF_IOC_RELEASE, &rel), -1);
	ASSERT_EQ(errno, ETIMEDOUT);
	ASSERT_EQ(rel.released, 1);
	ASSERT_EQ(rel.busy, 1);
	ASSERT_EQ(zdref_sysfs_u64("frees"), 0);
	ASSERT_EQ(read(pfd[0], buf, PG), PG);
	zdref_check_filled(buf, 1, 0, 15);
	close(pfd[0]);
	close(pfd[1]);
	munmap(p, PG);
	close(fd);
	baseline(1);
}

/*
 * A file maps at most the device's size: mmap past it is refused with a
 * reason, and a mapping mremap grows past it faults SIGBUS there.
 */
static void mmap_past_device(const void *type)
{
	int fd = zdref_open_dev(), kmsg = zdref_kmsg_open();
	char *p, *log;

	ASSERT_TRUE(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 total * PG) == MAP_FAILED);
	ASSERT_EQ(errno, EINVAL);
	ASSERT_TRUE(mmap(NULL, (total + 1) * PG, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, 0) == MAP_FAILED);
	ASSERT_EQ(errno, EINVAL);
	ASSERT_TRUE(mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 1ULL << 50) == MAP_FAILED);
	ASSERT_EQ(errno, EINVAL);
	log = zdref_kmsg_read(kmsg);
	ASSERT_TRUE(strstr(log, "reach past the device's"));
	p = zdref_map(fd, PG, MAP_SHARED, (total - 1) * PG);
	zdref_fill(p, 1, total - 1, 21);
	p = mremap(p, PG, 2 * PG, MREMAP_MAYMOVE);
	ASSERT_TRUE(p != MAP_FAILED);
	ASSERT_EQ(touch_in_child(p + PG), SIGBUS);
	zdref_check_filled(p, 1, total - 1, 21);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), 1);
	munmap(p, 2 * PG);
	close(fd);
	close(kmsg);
	baseline(1);
}

/*
 * A release that times out logs why, but an opener looping on it does not
 * flood the log: 40 timed-out releases (each of a page that a pipe pins)
 * log at most the ratelimit's burst of 10 lines in each 5 s interval the
 * loop touched (one, unless a slow guest made it take longer).
 */
static void release_log_ratelimited(const void *type)
{
	const int n = 40;
	int fd = zdref_open_dev(), pfd[2], kmsg, lines = 0, i, windows;
	char *p = zdref_map(fd, n * PG, MAP_SHARED, 0), *log, *s;
	struct timespec t0, t1;
	long ms;

	ASSERT_EQ(pipe(pfd), 0);
	ASSERT_GE(fcntl(pfd[1], F_SETPIPE_SZ, 64 * PG), 64 * (int)PG);
	zdref_fill(p, n, 0, 16);
	kmsg = zdref_kmsg_open();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		struct zdref_release rel = { .offset = i * PG, .length = PG,
					     .timeout_ms = 1 };
		struct iovec iov = { p + i * PG, PG };

		ASSERT_EQ(vmsplice(pfd[1], &iov, 1, 0), PG);
		ASSERT_EQ(ioctl(fd, ZDREF_IOC_RELEASE, &rel), -1);
		ASSERT_EQ(errno, ETIMEDOUT);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	windows = ms / 5000 + 1;
	log = zdref_kmsg_read(kmsg);
	for (s = strstr(log, "still referenced after"); s;
	     s = strstr(s + 1, "still referenced after"))
		lines++;
	zt_diag("%d timed-out releases in %ld ms logged %d lines", n, ms, lines);
	ASSERT_TRUE(lines >= 1 && lines <= 10 * windows);
	close(pfd[0]);
	close(pfd[1]);
	munmap(p, n * PG);
	close(fd);
	close(kmsg);
	baseline(n);
}

/*
 * PAGE_INFO gives a pfn only on a file opened with CAP_SYS_ADMIN, as
 * /proc/PID/pagemap does: a child that drops to nobody sees pfn 0 through
 * a file it opens itself, of its own mapping and of one it inherited, and
 * the pfn through the file root opened; the rest of the answer is the same.
 */
static void pfn_needs_cap_sys_admin(const void *type)
{
	int fd = zdref_open_dev(), status;
	char *p = zdref_map(fd, PG, MAP_SHARED, 0);
	struct zdref_page_info root_pi;
	pid_t pid;

	zdref_fill(p, 1, 0, 17);
	root_pi = zdref_page_info_of(fd, p);
	ASSERT_TRUE(root_pi.pfn != 0);
	ASSERT_EQ(chmod(ZDREF_DEV, 0666), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		struct zdref_page_info pi = { .addr = (uintptr_t)p };
		int ufd;
		char *q;

		/* Leaving uid 0 clears every capability. */
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(10);
		ufd = open(ZDREF_DEV, O_RDWR);
		if (ufd < 0)
			_exit(11);
		if (ioctl(ufd, ZDREF_IOC_PAGE_INFO, &pi) || pi.pfn != 0 ||
		    pi.state != ZDREF_PAGE_OWNED || pi.mapcount < 1)
			_exit(12);
		pi.addr = (uintptr_t)p;
		if (ioctl(fd, ZDREF_IOC_PAGE_INFO, &pi) || pi.pfn != root_pi.pfn)
			_exit(13);
		q = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, ufd, 0);
		if (q == MAP_FAILED)
			_exit(14);
		q[0] = 1;
		pi.addr = (uintptr_t)q;
		if (ioctl(ufd, ZDREF_IOC_PAGE_INFO, &pi) || pi.pfn != 0 ||
		    pi.state != ZDREF_PAGE_OWNED || pi.refcount != 2)
			_exit(15);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_EQ(chmod(ZDREF_DEV, 0600), 0);
	zt_diag("child as nobody: exit %d (0: pfn hidden from it, shown through root's file)",
		WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	zdref_check_filled(p, 1, 0, 17);
	munmap(p, PG);
	close(fd);
	baseline(2);
}

/*
 * Releasing a range unmaps device pages everywhere, but a private copy a
 * MAP_PRIVATE mapping made on write is system RAM: it keeps its data.
 */
static void release_keeps_private_copies(const void *type)
{
	struct zdref_release rel = { .offset = 0, .length = PG,
				     .timeout_ms = 1000 };
	int fd = zdref_open_dev(), other = zdref_open_dev();
	char *shared = zdref_map(fd, PG, MAP_SHARED, 0);
	char *priv = zdref_map(other, PG, MAP_PRIVATE, 0);

	zdref_fill(shared, 1, 0, 20);
	zdref_fill(priv, 1, 0, 21);		/* copied into RAM */
	ASSERT_EQ(ioctl(fd, ZDREF_IOC_RELEASE, &rel), 0);
	zdref_check_filled(priv, 1, 0, 21);
	munmap(priv, PG);
	munmap(shared, PG);
	close(other);
	close(fd);
	baseline(2);
}

/* O_DIRECT between device pages and a RAM block device (brd). */
static void o_direct_brd(const void *type)
{
	const uint64_t n = 64;
	int fd = zdref_open_dev(), bd;
	char *src = zdref_map(fd, n * PG, MAP_SHARED, 0);
	char *dst = zdref_map(fd, n * PG, MAP_SHARED, n * PG);

	if (!zdref_ramdisk())
		SKIP("no brd module");
	bd = open(ZDREF_RAMDISK, O_RDWR | O_DIRECT);
	ASSERT_GE(bd, 0);
	zdref_fill(src, n, 0, 16);
	ASSERT_EQ(pwrite(bd, src, n * PG, 0), n * PG);
	ASSERT_EQ(pread(bd, dst, n * PG, 0), n * PG);
	zdref_check_filled(dst, n, 0, 16);
	close(bd);
	ASSERT_EQ(zdref_page_info_of(fd, dst).refcount, 2);
	munmap(src, n * PG);
	munmap(dst, n * PG);
	close(fd);
	baseline(2 * n);
}

/* MAP_PRIVATE: read the device page, copy to system RAM on write. */
static void map_private_cow(const void *type)
{
	int fd = zdref_open_dev();
	char *shared = zdref_map(fd, PG, MAP_SHARED, 0);
	char *priv = zdref_map(fd, PG, MAP_PRIVATE, 0);

	zdref_fill(shared, 1, 0, 17);
	zdref_check_filled(priv, 1, 0, 17);
	zdref_fill(priv, 1, 0, 18);		/* copy-on-write into RAM */
	zdref_check_filled(priv, 1, 0, 18);
	zdref_check_filled(shared, 1, 0, 17);	/* the device page is untouched */
	ASSERT_EQ(zdref_page_info_of(fd, shared).refcount, 2);
	munmap(priv, PG);
	munmap(shared, PG);
	close(fd);
	baseline(1);
}

/*
 * 2 MiB units (align=2M), on kernels whose PMD mappings of device folios
 * hold a reference: a mapping of a unit is one PMD, holding 1 reference
 * and 1 mapcount, as device-dax's (and, like device-dax's, mappings must
 * be shared and 2 MiB aligned).  smaps' FilePmdMapped skips ZONE_DEVICE
 * folios: the mapcount is what tells a PMD from 512 PTEs.
 */
static char *map_units(int fd, uint64_t units, off_t off)
{
	char *p = zdref_map(fd, units * HP, MAP_SHARED, off);

	/* get_unmapped_area aligns 2 MiB mappings of DAX files. */
	ASSERT_EQ((uintptr_t)p % HP, 0);
	return p;
}

/* One unit: one allocation, 512 pages; the file holds 1, the PMD 1. */
static void huge_one_unit(const void *type)
{
	int fd = zdref_open_dev();
	char *p = map_units(fd, 1, 0);
	struct zdref_page_info pi;

	p[0] = 1;
	ASSERT_EQ(zdref_sysfs_u64("allocs"), 1);
	ASSERT_EQ(zdref_sysfs_u64("pages_free"), total - HPG);
	pi = zdref_page_info_of(fd, p + 5 * PG);
	ASSERT_EQ(pi.refcount, 2);
	ASSERT_EQ(pi.mapcount, 1);
	ASSERT_EQ(pi.pfn, zdref_page_info_of(fd, p).pfn + 5);
	ASSERT_EQ(zdref_page_info_of(fd, p).pfn % HPG, 0);
	zdref_fill(p, HPG, 0, 31);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), 1);
	ASSERT_EQ(munmap(p, HP), 0);
	ASSERT_EQ(zdref_sysfs_u64("frees"), 0);
	p = map_units(fd, 1, 0);
	zdref_check_filled(p, HPG, 0, 31);
	ASSERT_EQ(zdref_page_info_of(fd, p).pfn, pi.pfn - 5);
	ASSERT_EQ(zdref_page_info_of(fd, p).refcount, 2);
	ASSERT_EQ(munmap(p, HP), 0);
	close(fd);
	baseline(1);
}

/* 1 GiB in 2 MiB steps, then one unit more: SIGBUS, nothing else hurt. */
static void huge_gib_2m_and_exhaustion(const void *type)
{
	const uint64_t units = (1ULL << 30) / HP;
	uint64_t i, left;
	int fd, fd2;
	char *p, *more;

	load_whole_range();
	fd = zdref_open_dev();
	fd2 = zdref_open_dev();

	if (total < units * HPG)
		SKIP("region of %llu MiB: this test wants 1 GiB",
		     (unsigned long long)(total * PG >> 20));
	p = map_units(fd, units, 0);
	for (i = 0; i < units; i++)
		zdref_fill(p + i * HP, 1, i * HPG, 32);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), units);
	ASSERT_EQ(zdref_page_info_of(fd, p + HP - PG).refcount, 2);
	left = (total - units * HPG) / HPG;
	more = map_units(fd2, left + 1, 0);
	for (i = 0; i < left; i++)
		more[i * HP] = 1;
	ASSERT_EQ(touch_in_child(more + left * HP), SIGBUS);
	ASSERT_EQ(zdref_sysfs_u64("pages_free"), 0);
	for (i = 0; i < units; i++)
		zdref_check_filled(p + i * HP, 1, i * HPG, 32);
	munmap(more, (left + 1) * HP);
	close(fd2);
	ASSERT_EQ(munmap(p, units * HP), 0);
	close(fd);
	baseline(units + left);
}

/* fork copies no PMD of a file: the child maps the unit on its own touch. */
static void huge_fork(const void *type)
{
	int fd = zdref_open_dev(), status;
	char *p = map_units(fd, 2, 0);
	struct zdref_page_info pi;
	pid_t pid;

	zdref_fill(p, HPG, 0, 33);
	pid = fork();
	if (pid == 0) {
		zdref_check_filled(p, HPG, 0, 33);
		zdref_fill(p + HP, HPG, HPG, 33);
		pi = zdref_page_info_of(fd, p);
		_exit(pi.refcount == 3 && pi.mapcount == 2 ? 0 : 1);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_EQ(status, 0);
	zdref_check_filled(p, 2 * HPG, 0, 33);
	ASSERT_EQ(zdref_page_info_of(fd, p).refcount, 2);
	munmap(p, 2 * HP);
	close(fd);
	baseline(2);
}

/* MADV_DONTNEED of one page zaps the whole PMD; the unit faults back. */
static void huge_madv_dontneed(const void *type)
{
	int fd = zdref_open_dev();
	char *p = map_units(fd, 1, 0);

	zdref_fill(p, HPG, 0, 34);
	ASSERT_EQ(madvise(p + 7 * PG, PG, MADV_DONTNEED), 0);
	ASSERT_EQ(zdref_page_info_of(fd, p).refcount, 1);
	ASSERT_EQ(zdref_page_info_of(fd, p).mapcount, 0);
	zdref_check_filled(p, HPG, 0, 34);
	ASSERT_EQ(zdref_page_info_of(fd, p).refcount, 2);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), 1);
	munmap(p, HP);
	close(fd);
	baseline(1);
}

/*
 * A mapping splits only between units: munmap or mprotect of a page
 * inside one is refused; of a whole unit, done.
 */
static void huge_split_between_units(const void *type)
{
	int fd = zdref_open_dev();
	char *p = map_units(fd, 2, 0);

	zdref_fill(p, 2 * HPG, 0, 35);
	ASSERT_EQ(munmap(p + 100 * PG, PG), -1);
	ASSERT_EQ(errno, EINVAL);
	ASSERT_EQ(mprotect(p, PG, PROT_READ), -1);
	ASSERT_EQ(errno, EINVAL);
	zdref_check_filled(p, 2 * HPG, 0, 35);
	ASSERT_EQ(munmap(p, HP), 0);
	ASSERT_EQ(zdref_page_info_of(fd, p + HP).refcount, 2);
	zdref_check_filled(p + HP, HPG, HPG, 35);
	munmap(p + HP, HP);
	close(fd);
	baseline(2);
}

/*
 * Mappings must be shared, and 2 MiB aligned in address, length and
 * offset: anything else is refused with EINVAL, before any fault.
 */
static void huge_mmap_rules(const void *type)
{
	int fd = zdref_open_dev();
	char *p;

	ASSERT_TRUE(mmap(NULL, HP, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED);
	ASSERT_EQ(errno, EINVAL);
	ASSERT_TRUE(mmap(NULL, HP, PROT_READ, MAP_SHARED, fd, PG) == MAP_FAILED);
	ASSERT_EQ(errno, EINVAL);
	ASSERT_TRUE(mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED);
	ASSERT_EQ(errno, EINVAL);
	p = map_units(fd, 2, 0);
	/* 6.1's mmap_region() turns may_split()'s EINVAL into ENOMEM. */
	ASSERT_TRUE(mmap(p + PG, HP, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) ==
		    MAP_FAILED);
	ASSERT_TRUE(errno == EINVAL || errno == ENOMEM);
	munmap(p, 2 * HP);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), 0);
	close(fd);
	baseline(0);
}

/*
 * mremap the unit mapped at @p to @past bytes into a free, 2 MiB aligned
 * place of two units: where it lands.
 */
static char *move_unit(int fd, char *p, size_t past)
{
	char *hole = map_units(fd, 2, 0), *q;

	munmap(hole, 2 * HP);
	q = mremap(p, HP, HP, MREMAP_MAYMOVE | MREMAP_FIXED, hole + past);
	ASSERT_TRUE(q == hole + past);
	return q;
}

/* mremap to a 2 MiB aligned place moves the PMD with its reference. */
static void huge_mremap(const void *type)
{
	int fd = zdref_open_dev();
	char *p = map_units(fd, 1, 0), *q;

	zdref_fill(p, HPG, 0, 36);
	q = move_unit(fd, p, HP);
	ASSERT_EQ(zdref_page_info_of(fd, q).refcount, 2);
	ASSERT_EQ(zdref_page_info_of(fd, q).mapcount, 1);
	zdref_check_filled(q, HPG, 0, 36);
	munmap(q, HP);
	close(fd);
	baseline(1);
}

struct racer {
	char *p;
	pthread_barrier_t *start;
	int pages;
};

/* After the others are ready: read a byte of each 64th page, from the end. */
static void *race_touch(void *arg)
{
	struct racer *r = arg;
	unsigned long sum = 0;
	int i;

	pthread_barrier_wait(r->start);
	for (i = r->pages - 1; i >= 0; i -= 64)
		sum += __atomic_load_n(&r->p[(size_t)i * PG], __ATOMIC_RELAXED);
	return (void *)sum;
}

/*
 * Threads of one process fault the same units at once: each unit is
 * handed out once and mapped by one PMD (the faults that lose see the
 * PMD set and retry, or find it at once), and no reference is left over.
 */
static void huge_threads_race(const void *type)
{
	int fd = zdref_open_dev(), i;
	char *p = map_units(fd, 2, 0);
	pthread_barrier_t start;
	pthread_t t[4];
	struct racer r = { p, &start, 2 * HPG };

	ASSERT_EQ(pthread_barrier_init(&start, NULL, 4), 0);
	for (i = 0; i < 4; i++)
		ASSERT_EQ(pthread_create(&t[i], NULL, race_touch, &r), 0);
	for (i = 0; i < 4; i++)
		ASSERT_EQ(pthread_join(t[i], NULL), 0);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), 2);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(zdref_page_info_of(fd, p + i * HP).mapcount, 1);
		ASSERT_EQ(zdref_page_info_of(fd, p + i * HP).refcount, 2);
	}
	zdref_fill(p, 2 * HPG, 0, 43);
	zdref_check_filled(p, 2 * HPG, 0, 43);
	munmap(p, 2 * HP);
	close(fd);
	baseline(2);
}

/*
 * mremap to an address that is not 2 MiB aligned: the PMD cannot move
 * whole, so the kernel splits it, which drops its reference; a touch at
 * the new place gets SIGBUS (a unit is never mapped by PTEs), and the
 * unit keeps its contents for a mapping that is aligned again.
 */
static void huge_mremap_unaligned(const void *type)
{
	int fd = zdref_open_dev();
	char *p = map_units(fd, 1, 0), *q;

	zdref_fill(p, HPG, 0, 41);
	q = move_unit(fd, p, PG);
	ASSERT_EQ(zdref_page_info_of(fd, q).refcount, 1);
	ASSERT_EQ(zdref_page_info_of(fd, q).mapcount, 0);
	ASSERT_EQ(touch_in_child(q), SIGBUS);
	ASSERT_EQ(zdref_page_info_of(fd, q).refcount, 1);
	munmap(q, HP);
	p = map_units(fd, 1, 0);
	zdref_check_filled(p, HPG, 0, 41);
	ASSERT_EQ(zdref_page_info_of(fd, p).mapcount, 1);
	munmap(p, HP);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), 1);
	close(fd);
	baseline(1);
}

/* Touch @p in a child that first disables THP for itself: its signal. */
static int touch_without_thp(char *p)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
			_exit(2);
		p[0] = 1;
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status);
}

/* The THP setting, "always [madvise] never" in its file, as the word. */
static void thp_setting(char *word, size_t len)
{
	char line[64] = "", *a, *b;
	FILE *f = fopen(ZDREF_THP_ENABLED, "r");

	ASSERT_TRUE(f);
	ASSERT_TRUE(fgets(line, sizeof(line), f));
	fclose(f);
	a = strchr(line, '[');
	b = a ? strchr(a, ']') : NULL;
	ASSERT_TRUE(a && b && (size_t)(b - a) < len);
	snprintf(word, len, "%.*s", (int)(b - a - 1), a + 1);
}

/*
 * A mapping or a process that asked for no huge pages (MADV_NOHUGEPAGE,
 * PR_SET_THP_DISABLE) gets SIGBUS, before any unit is taken: a unit is
 * mapped by PMD or not at all.  THP "never" in sysfs is the kernel's
 * policy for the page cache and anonymous memory; a device's 2 MiB units
 * are mapped by PMD whatever it says, as device-dax's are.
 */
static void huge_thp_disabled(const void *type)
{
	int fd = zdref_open_dev(), status;
	char *p = map_units(fd, 2, 0), was[16];
	struct zdref_page_info pi;
	pid_t pid;

	ASSERT_EQ(madvise(p, HP, MADV_NOHUGEPAGE), 0);
	ASSERT_EQ(touch_in_child(p), SIGBUS);
	ASSERT_EQ(touch_without_thp(p + HP), SIGBUS);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), 0);
	ASSERT_EQ(madvise(p, HP, MADV_HUGEPAGE), 0);
	zdref_fill(p, HPG, 0, 42);
	ASSERT_EQ(zdref_page_info_of(fd, p).mapcount, 1);
	thp_setting(was, sizeof(was));
	ASSERT_TRUE(zdref_write_file(ZDREF_THP_ENABLED, "never"));
	/* In a child, which checks its PMD: this one must set THP back. */
	pid = fork();
	if (pid == 0) {
		p[HP] = 1;
		pi = zdref_page_info_of(fd, p + HP);
		_exit(pi.mapcount == 1 && pi.refcount == 2 ? 0 : 3);
	}
	waitpid(pid, &status, 0);
	ASSERT_TRUE(zdref_write_file(ZDREF_THP_ENABLED, was));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	munmap(p, 2 * HP);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), 2);
	close(fd);
	baseline(2);
}

#define NUMA_SYSCTL	"/proc/sys/kernel/numa_balancing"

/* A counter of /proc/vmstat, or -1 without it. */
#define VMSTAT		"/proc/vmstat"

static long vmstat(const char *name)
{
	char line[128];
	size_t n = strlen(name);
	FILE *f = fopen(VMSTAT, "r");
	long v = -1;

	ASSERT_TRUE(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && line[n] == ' ')
			v = atol(line + n + 1);
	fclose(f);
	return v;
}

/* Write @val to @path, after reading its old value into @was. */
static bool set_knob(const char *path, const char *val, char *was, size_t len)
{
	FILE *f = fopen(path, "r");
	bool read = f && fgets(was, len, f);

	if (f)
		fclose(f);
	if (!read)
		return false;
	was[strcspn(was, "\n")] = '\0';
	return zdref_write_file(path, val);
}

/*
 * In a fresh process (NUMA balancing starts on a new mm), map @p's 2 MiB
 * by one PMD (zdref's, or an anonymous THP with @anon) and keep using it
 * for @secs seconds: how many huge PMDs NUMA balancing marked for hinting
 * faults meanwhile, at most 255.
 */
static int numa_huge_updates(char *p, bool anon, int secs)
{
	struct timespec t0, t;
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		long before;

		if (anon) {
			p = mmap(NULL, 2 * HP, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			p = (char *)(((uintptr_t)p + HP - 1) & ~(HP - 1));
			madvise(p, HP, MADV_HUGEPAGE);
		}
		memset(p, 1, HP);
		before = vmstat("numa_huge_pte_updates");
		clock_gettime(CLOCK_MONOTONIC, &t0);
		t = t0;
		do {
			/* An access the compiler keeps. */
			(void)__atomic_load_n(&p[(t.tv_nsec & 511) * PG],
					      __ATOMIC_RELAXED);
			clock_gettime(CLOCK_MONOTONIC, &t);
		} while (t.tv_sec - t0.tv_sec < secs);
		before = vmstat("numa_huge_pte_updates") - before;
		_exit(before > 255 ? 255 : before);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/*
 * NUMA balancing never scans a mapping of 2 MiB units: device memory
 * cannot move to another node, and a hinting fault on a unit mapped as a
 * file THP (6.x, not VM_MIXEDMAP) would be a fault zdref never sees.
 * Proved beside an anonymous THP, which the same scan does mark.
 */
static void huge_numa_balancing_skips(const void *type)
{
	char mode[16];
	int fd, anon, dev;
	char *p;

	if (strcmp(type, "fsdax"))
		SKIP("a mapping's NUMA policy is the same for every type: fsdax covers it");
	if (vmstat("numa_huge_pte_updates") < 0 ||
	    !set_knob(NUMA_SYSCTL, "1", mode, sizeof(mode)))
		SKIP("no NUMA balancing (CONFIG_NUMA_BALANCING)");
	fd = zdref_open_dev();
	p = map_units(fd, 1, 0);
	/* The first scan of a process comes after a second of its time. */
	anon = numa_huge_updates(NULL, true, 4);
	dev = numa_huge_updates(p, false, 4);
	zdref_write_file(NUMA_SYSCTL, mode);
	zt_diag("huge PMDs marked in 4 s: anonymous THP %d, zdref %d", anon, dev);
	if (!anon)
		SKIP("NUMA balancing marked no anonymous THP in 4 s here either");
	ASSERT_EQ(dev, 0);
	munmap(p, HP);
	close(fd);
	baseline(1);
}

/* A pin on one page holds the whole unit after its file let go. */
static void huge_vmsplice_outlives_file(const void *type)
{
	int fd = zdref_open_dev(), pfd[2];
	char *p = map_units(fd, 1, 0), *buf = malloc(PG);
	struct iovec iov = { p + 9 * PG, PG };

	ASSERT_EQ(pipe(pfd), 0);
	zdref_fill(p, HPG, 0, 37);
	ASSERT_EQ(vmsplice(pfd[1], &iov, 1, 0), PG);
	ASSERT_EQ(zdref_page_info_of(fd, p).refcount, 3);
	munmap(p, HP);
	close(fd);
	ASSERT_EQ(zdref_sysfs_u64("pages_busy"), HPG);
	ASSERT_ERRNO(zdref_unload(), EWOULDBLOCK);
	usleep(20000);
	ASSERT_EQ(zdref_sysfs_u64("frees"), 0);
	ASSERT_EQ(read(pfd[0], buf, PG), PG);
	zdref_check_filled(buf, 1, 9, 37);
	close(pfd[0]);
	close(pfd[1]);
	baseline(1);
}

/* Release works in whole units: a part is refused, a unit is freed. */
static void huge_release(const void *type)
{
	struct zdref_release rel = { .offset = 0, .length = PG,
				     .timeout_ms = 1000 };
	int fd = zdref_open_dev();
	char *p = map_units(fd, 1, 0);

	zdref_fill(p, HPG, 0, 38);
	ASSERT_EQ(ioctl(fd, ZDREF_IOC_RELEASE, &rel), -1);
	ASSERT_EQ(errno, EINVAL);
	zdref_check_filled(p, HPG, 0, 38);
	rel.length = HP;
	ASSERT_EQ(ioctl(fd, ZDREF_IOC_RELEASE, &rel), 0);
	ASSERT_EQ(rel.released, HPG);
	ASSERT_EQ(rel.busy, 0);
	ASSERT_EQ(zdref_sysfs_u64("frees"), 1);
	ASSERT_EQ(((uint64_t *)p)[0], 0);	/* a new, zeroed unit */
	ASSERT_EQ(zdref_sysfs_u64("allocs"), 2);
	munmap(p, HP);
	close(fd);
	baseline(2);
}

/* Releasing a unit with a pinned page times out; the unit stays whole. */
static void huge_release_while_pinned(const void *type)
{
	struct zdref_release rel = { .offset = 0, .length = HP,
				     .timeout_ms = 100 };
	int fd = zdref_open_dev(), pfd[2];
	char *p = map_units(fd, 1, 0), *buf = malloc(PG);
	struct iovec iov = { p + HP - PG, PG };

	ASSERT_EQ(pipe(pfd), 0);
	zdref_fill(p, HPG, 0, 39);
	ASSERT_EQ(vmsplice(pfd[1], &iov, 1, 0), PG);
	ASSERT_EQ(ioctl(fd, ZDREF_IOC_RELEASE, &rel), -1);
	ASSERT_EQ(errno, ETIMEDOUT);
	ASSERT_EQ(rel.busy, HPG);
	ASSERT_EQ(zdref_sysfs_u64("frees"), 0);
	ASSERT_EQ(read(pfd[0], buf, PG), PG);
	zdref_check_filled(buf, 1, HPG - 1, 39);
	close(pfd[0]);
	close(pfd[1]);
	munmap(p, HP);
	close(fd);
	baseline(1);
}

/* O_DIRECT from one unit to brd and back into another. */
static void huge_o_direct_brd(const void *type)
{
	int fd = zdref_open_dev(), bd;
	char *src = map_units(fd, 1, 0);
	char *dst = map_units(fd, 1, HP);

	if (!zdref_ramdisk())
		SKIP("no brd module");
	bd = open(ZDREF_RAMDISK, O_RDWR | O_DIRECT);
	ASSERT_GE(bd, 0);
	zdref_fill(src, HPG, 0, 40);
	ASSERT_EQ(pwrite(bd, src, HP, 0), HP);
	ASSERT_EQ(pread(bd, dst, HP, 0), HP);
	zdref_check_filled(dst, HPG, 0, 40);
	close(bd);
	ASSERT_EQ(zdref_page_info_of(fd, dst).refcount, 2);
	munmap(src, HP);
	munmap(dst, HP);
	close(fd);
	baseline(2);
}

/*
 * io_uring fixed buffers pin with FOLL_LONGTERM: where the kernel allows
 * it for the type, the pages stay allocated, file closed and all, until
 * the buffers are unregistered.
 */
/* The path /proc/self/maps gives the mapping at @addr, or "". */
static const char *maps_path(const void *addr)
{
	static char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	int off;

	ASSERT_TRUE(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &off) >= 2 &&
		    lo <= (uintptr_t)addr && (uintptr_t)addr < hi) {
			fclose(f);
			line[strcspn(line, "\n")] = '\0';
			return line + off;
		}
	}
	fclose(f);
	return "";
}

static void longterm_pin_io_uring(const void *type)
{
	struct io_uring_params params = { 0 };
	int fd = zdref_open_dev(), ring, ret;
	char *p = zdref_map(fd, 4 * PG, MAP_SHARED, 0);
	struct iovec iov = { p, 4 * PG };
	struct timespec t0, t1;

	/* FS_DAX mappings hold a file of zdref's own: still named for the node. */
	zt_diag("/proc/self/maps: %s", maps_path(p));
	ASSERT_EQ(strcmp(maps_path(p), ZDREF_DEV), 0);
	ring = syscall(__NR_io_uring_setup, 4, &params);
	if (ring < 0)
		SKIP("io_uring_setup: %s", strerror(errno));
	zdref_fill(p, 4, 0, 22);
	/* A GUP that retried forever would end here, killed by SIGALRM. */
	alarm(20);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	alarm(0);
	if (ret || !zdref_sysfs_u64("longterm_pins")) {
		long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;

		/*
		 * Refused, at once, leaving nothing behind: FS_DAX pages are
		 * an FS DAX file's (sysfs longterm_pins 0: GUP refuses them
		 * up front on every kernel); 6.1's io_uring takes no file
		 * mapping but hugetlbfs.
		 */
		zt_diag("%s: long-term pin refused in %ld ms: %s",
			(const char *)type, ms, ret ? strerror(errno) : "pinned");
		ASSERT_EQ(ret, -1);
		ASSERT_EQ(errno, EOPNOTSUPP);
		ASSERT_TRUE(ms < 1000);
		ASSERT_EQ(zdref_page_info_of(fd, p).refcount, 2);
		zdref_check_filled(p, 4, 0, 22);
		close(ring);
		munmap(p, 4 * PG);
		close(fd);
		baseline(4);
		return;
	}
	/* file, mapping, and a FOLL_PIN's GUP_PIN_COUNTING_BIAS */
	ASSERT_EQ(zdref_page_info_of(fd, p).refcount, 2 + 1024);
	munmap(p, 4 * PG);
	close(fd);
	ASSERT_EQ(zdref_sysfs_u64("pages_busy"), 4);
	ASSERT_ERRNO(zdref_unload(), EWOULDBLOCK);
	usleep(20000);
	ASSERT_EQ(zdref_sysfs_u64("frees"), 0);
	ASSERT_EQ(syscall(__NR_io_uring_register, ring, IORING_UNREGISTER_BUFFERS,
			  NULL, 0), 0);
	close(ring);
	baseline(4);
}

/*
 * A long-term pin of a 2 MiB unit: refused up front where sysfs
 * longterm_pins says so (FS_DAX mapped as DAX), and by 6.1's io_uring,
 * which registers no file mapping but hugetlbfs; otherwise the unit stays
 * allocated, file closed and all, until the buffer is unregistered.
 */
static void huge_longterm_pin_io_uring(const void *type)
{
	struct io_uring_params params = { 0 };
	int fd = zdref_open_dev(), ring, ret;
	char *p = map_units(fd, 1, 0);
	struct iovec iov = { p, HP };

	ring = syscall(__NR_io_uring_setup, 4, &params);
	if (ring < 0)
		SKIP("io_uring_setup: %s", strerror(errno));
	zdref_fill(p, HPG, 0, 44);
	alarm(20);
	ret = syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1);
	alarm(0);
	zt_diag("%s: longterm_pins %llu, register: %s", (const char *)type,
		(unsigned long long)zdref_sysfs_u64("longterm_pins"),
		ret ? strerror(errno) : "pinned");
	if (ret || !zdref_sysfs_u64("longterm_pins")) {
		ASSERT_EQ(ret, -1);
		ASSERT_EQ(errno, EOPNOTSUPP);
		ASSERT_EQ(zdref_page_info_of(fd, p).refcount, 2);
		close(ring);
		munmap(p, HP);
		close(fd);
		baseline(1);
		return;
	}
	ASSERT_GT(zdref_page_info_of(fd, p).refcount, 2);
	munmap(p, HP);
	close(fd);
	ASSERT_EQ(zdref_sysfs_u64("pages_busy"), HPG);
	ASSERT_ERRNO(zdref_unload(), EWOULDBLOCK);
	usleep(20000);
	ASSERT_EQ(zdref_sysfs_u64("frees"), 0);
	ASSERT_EQ(syscall(__NR_io_uring_register, ring, IORING_UNREGISTER_BUFFERS,
			  NULL, 0), 0);
	close(ring);
	baseline(1);
}

/* The zero_ahead= tests' pool: each of them writes all of it a few times. */
#define ZERO_POOL_SIZE	(32ULL << 20)

/*
 * Zeroing ahead (zero_ahead=): a load (again) of ZERO_POOL_SIZE with @extra, the
 * whole pool written to and given back, so that every free page holds a
 * last owner's data; then wait, up to 20 s, until the device has zeroed
 * @want pages ahead (ZERO_ALL: the whole pool).
 */
#define ZERO_ALL	UINT64_MAX
static void load_dirty(const char *extra, uint64_t want)
{
	const char *all = getenv("ZDREF_LOAD_EXTRA");
	int fd, i;
	char *p;

	if (all && strstr(all, "poison=1"))
		SKIP("ZDREF_LOAD_EXTRA=%s: poison=1 zeroes no page ahead",
		     all);
	total = zdref_load_variant(variant, zdref_reserved_range().size > ZERO_POOL_SIZE ?
				   ZERO_POOL_SIZE : 0, extra);
	fd = zdref_open_dev();
	p = zdref_map(fd, total * PG, MAP_SHARED, 0);
	memset(p, 0x5a, total * PG);
	ASSERT_EQ(munmap(p, total * PG), 0);
	close(fd);
	if (want == ZERO_ALL)
		want = total;
	for (i = 0; i < 4000 && zdref_sysfs_u64("pages_zeroed") < want; i++)
		usleep(5000);
	ASSERT_EQ(zdref_sysfs_u64("pages_zeroed"), want);
}

/* @npages pages at @p read as zeroes, every byte of them. */
static void check_zeroed(const char *p, uint64_t npages)
{
	static const char zero[PG];
	uint64_t i;

	for (i = 0; i < npages; i++)
		ASSERT_EQ(memcmp(p + i * PG, zero, PG), 0);
}

/*
 * zero_ahead=8M: the device keeps 8 MiB of its free pages zeroed, not
 * more; faults take those first, and each page handed out reads as
 * zeroes whether it was zeroed ahead or in its fault.
 */
static void zero_ahead_bounded(const void *type)
{
	const uint64_t ahead = (8 << 20) / PG, unit = zdref_sysfs_u64("align") / PG;
	uint64_t allocs, zeroed;
	int fd;
	char *p;

	load_dirty("zero_ahead=8M", ahead);
	ASSERT_EQ(zdref_sysfs_u64("zero_ahead"), 8 << 20);
	allocs = zdref_sysfs_u64("allocs");
	zeroed = zdref_sysfs_u64("zeroed_ahead");
	fd = zdref_open_dev();
	p = zdref_map(fd, total * PG, MAP_SHARED, 0);
	/* The first 8 MiB were all zeroed ahead: the work only adds to them. */
	check_zeroed(p, ahead);
	ASSERT_EQ(zdref_sysfs_u64("zeroed_ahead"), zeroed + ahead / unit);
	/* The rest as the work and the faults get to them, all of it. */
	check_zeroed(p + ahead * PG, total - ahead);
	ASSERT_EQ(zdref_sysfs_u64("pages_free"), 0);
	ASSERT_EQ(zdref_sysfs_u64("pages_zeroed"), 0);
	ASSERT_LE(zdref_sysfs_u64("zeroed_ahead"), zeroed + total / unit);
	ASSERT_EQ(munmap(p, total * PG), 0);
	close(fd);
	baseline(allocs + total / unit);
}

/*
 * zero_ahead= larger than the pool: all of it, zeroed while faults take
 * pages as fast as they can, none lost in the work's hands on the way;
 * zero_ahead=0, and poison=1 (whose free pages hold poison): every page
 * zeroed in its fault.
 */
static void zero_ahead_whole_and_none(const void *type)
{
	const uint64_t unit = zdref_sysfs_u64("align") / PG;
	uint64_t allocs;
	int fd, round;
	char *p;

	load_dirty("zero_ahead=1T", ZERO_ALL);
	ASSERT_EQ(zdref_sysfs_u64("zero_ahead"), total * PG);
	for (round = 0; round < 2; round++) {
		allocs = zdref_sysfs_u64("allocs");
		fd = zdref_open_dev();
		p = zdref_map(fd, total * PG, MAP_SHARED, 0);
		check_zeroed(p, total);
		memset(p, 0x5a, total * PG);
		ASSERT_EQ(zdref_sysfs_u64("allocs"), allocs + total / unit);
		ASSERT_EQ(munmap(p, total * PG), 0);
		close(fd);
		/* round 1: straight after the close, mostly taken from the work */
	}
	baseline(allocs + total / unit);

	load_dirty("zero_ahead=0", 0);
	ASSERT_EQ(zdref_sysfs_u64("zero_ahead"), 0);
	allocs = zdref_sysfs_u64("allocs");
	fd = zdref_open_dev();
	p = zdref_map(fd, total * PG, MAP_SHARED, 0);
	check_zeroed(p, total);
	ASSERT_EQ(zdref_sysfs_u64("zeroed_ahead"), 0);
	ASSERT_EQ(zdref_sysfs_u64("pages_zeroed"), 0);
	ASSERT_EQ(munmap(p, total * PG), 0);
	close(fd);
	baseline(allocs + total / unit);

	load_dirty("zero_ahead=1T poison=1", 0);
	ASSERT_EQ(zdref_sysfs_u64("zero_ahead"), 0);
	/* 6.x generic: the busy scan takes the closed file's units back. */
	zdref_check_whole_and_unload();
}

static void huge_zero_ahead_bounded(const void *type)
{
	zero_ahead_bounded(type);
}

static void huge_zero_ahead_whole_and_none(const void *type)
{
	zero_ahead_whole_and_none(type);
}

/* A shared mapping of @len of @fd at @off whose address is @align aligned. */
static char *map_aligned(int fd, size_t len, off_t off, size_t align)
{
	char *raw = mmap(NULL, len + align, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *p;

	ASSERT_TRUE(raw != MAP_FAILED);
	p = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
	ASSERT_TRUE(mmap(p, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			 fd, off) == p);
	if (p > raw)
		munmap(raw, p - raw);
	munmap(p + len, raw + align - p);
	return p;
}

/*
 * Fault-around (fault_around=, default 64K): after MADV_DONTNEED, a read
 * of one page maps the file's pages of the aligned 64 KiB window around
 * it, each with its own reference and mapcount, and no page beyond it;
 * it never hands out a page the file has not touched.  A second mapping
 * of the file is mapped around the same way; a mapping that starts inside
 * a window is mapped from its start, never before it.
 */
static void fault_around_retouch(const void *type)
{
	const uint64_t n = 64, win = zdref_sysfs_u64("fault_around") / PG;
	int fd = zdref_open_dev();
	char *p = map_aligned(fd, n * PG, 0, 64 << 10), *q;
	uint64_t around = zdref_sysfs_u64("mapped_around"), i;
	struct zdref_page_info pi;
	bool in;

	ASSERT_EQ(win, 16);
	zdref_fill(p, n, 0, 41);
	ASSERT_EQ(madvise(p, n * PG, MADV_DONTNEED), 0);
	/* Page 20's window is pages 16 to 31. */
	zdref_check_filled(p + 20 * PG, 1, 20, 41);
	for (i = 0; i < n; i++) {
		pi = zdref_page_info_of(fd, p + i * PG);
		in = i >= 16 && i < 32;
		ASSERT_EQ(pi.mapcount, in);
		ASSERT_EQ(pi.refcount, 1 + in);
	}
	ASSERT_EQ(zdref_sysfs_u64("mapped_around"), around + win - 1);
	zdref_check_filled(p, n, 0, 41);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), n);

	/* A second mapping of pages the first maps: its whole window too. */
	q = map_aligned(fd, win * PG, 32 * PG, 64 << 10);
	around = zdref_sysfs_u64("mapped_around");
	zdref_check_filled(q + 5 * PG, 1, 37, 41);
	ASSERT_EQ(zdref_sysfs_u64("mapped_around"), around + win - 1);
	ASSERT_EQ(zdref_page_info_of(fd, q).mapcount, 2);
	ASSERT_EQ(zdref_page_info_of(fd, q).refcount, 3);
	ASSERT_EQ(munmap(q, win * PG), 0);
	ASSERT_EQ(munmap(p, n * PG), 0);

	/* Pages 1 to 16 at a window's second page: nothing outside the VMA. */
	q = map_aligned(fd, (win + 1) * PG, 0, 64 << 10);
	ASSERT_EQ(munmap(q, PG), 0);
	around = zdref_sysfs_u64("mapped_around");
	zdref_check_filled(q + 5 * PG, 1, 5, 41);
	ASSERT_EQ(zdref_sysfs_u64("mapped_around"), around + win - 2);
	ASSERT_EQ(zdref_page_info_of(fd, q + PG).mapcount, 1);
	ASSERT_EQ(zdref_page_info_of(fd, q + win * PG).mapcount, 0);
	ASSERT_EQ(munmap(q + PG, win * PG), 0);

	/* Pages 3 and 9 touched, not 4 to 8: a re-touch of 3 maps 9 only. */
	p = map_aligned(fd, win * PG, n * PG, 64 << 10);
	p[3 * PG] = 1;
	p[9 * PG] = 1;
	ASSERT_EQ(madvise(p, win * PG, MADV_DONTNEED), 0);
	around = zdref_sysfs_u64("mapped_around");
	ASSERT_EQ(p[3 * PG], 1);
	ASSERT_EQ(zdref_sysfs_u64("mapped_around"), around + 1);
	ASSERT_EQ(zdref_page_info_of(fd, p + 9 * PG).mapcount, 1);
	ASSERT_EQ(zdref_page_info_of(fd, p + 5 * PG).refcount, 0);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), n + 2);
	ASSERT_EQ(munmap(p, win * PG), 0);
	close(fd);
	baseline(n + 2);
}

/* fault_around=0: one page per fault. */
static void fault_around_off(const void *type)
{
	int fd;
	char *p;

	ASSERT_EQ(zdref_unload(), 0);
	load_pool("fault_around=0");
	ASSERT_EQ(zdref_sysfs_u64("fault_around"), 0);
	fd = zdref_open_dev();
	p = map_aligned(fd, 16 * PG, 0, 64 << 10);
	zdref_fill(p, 16, 0, 42);
	ASSERT_EQ(madvise(p, 16 * PG, MADV_DONTNEED), 0);
	zdref_check_filled(p, 1, 0, 42);
	ASSERT_EQ(zdref_page_info_of(fd, p + PG).mapcount, 0);
	ASSERT_EQ(zdref_page_info_of(fd, p + PG).refcount, 1);
	zdref_check_filled(p, 16, 0, 42);
	ASSERT_EQ(zdref_sysfs_u64("mapped_around"), 0);
	ASSERT_EQ(munmap(p, 16 * PG), 0);
	close(fd);
	baseline(16);
}

/* The types the CPU maps, each with both units: the fixture's variants. */
static const struct zt_variant variants[] = {
	{ "fsdax", "4K", "fsdax" },
	{ "fsdax", "2M", "fsdax" },
	{ "generic", "4K", "generic" },
	{ "generic", "2M", "generic" },
};

static const struct zt_fixture pool = { load, variants, ZT_COUNT(variants) };

/* Each test runs under the variants of its unit. */
static const struct zt_test tests[] = {
#define C(fn) ZT_TAGGED(fn, "4K")
#define H(fn) ZT_TAGGED(fn, "2M")
	C(one_page), C(two_mappings), C(many_pages), C(gib_4k_and_exhaustion),
	C(two_files),
	C(fork_child_touches), C(madv_dontneed), C(mremap_moves),
	C(partial_munmap), C(exit_without_munmap), C(kill9_during_faults),
	C(process_vm_readv_reads), C(vmsplice_outlives_file),
	C(release_range), C(release_while_pinned), C(release_log_ratelimited),
	C(pfn_needs_cap_sys_admin), C(mmap_past_device),
	C(release_keeps_private_copies), C(o_direct_brd),
	C(map_private_cow), C(longterm_pin_io_uring),
	C(fault_around_retouch), C(fault_around_off),
	C(zero_ahead_bounded), C(zero_ahead_whole_and_none),
	H(huge_zero_ahead_bounded), H(huge_zero_ahead_whole_and_none),
	H(huge_one_unit), H(huge_gib_2m_and_exhaustion), H(huge_fork),
	H(huge_madv_dontneed), H(huge_split_between_units),
	H(huge_mmap_rules), H(huge_mremap), H(huge_mremap_unaligned),
	H(huge_threads_race),
	H(huge_thp_disabled), H(huge_numa_balancing_skips),
	H(huge_vmsplice_outlives_file),
	H(huge_release), H(huge_release_while_pinned), H(huge_o_direct_brd),
	H(huge_longterm_pin_io_uring),
#undef H
#undef C
};

int main(void)
{
	return zt_run_fixture(&pool, tests, ZT_COUNT(tests));
}
