// SPDX-License-Identifier: GPL-2.0
/*
 * zdref_hmm_test: device-private and device-coherent memory (type=private,
 * type=coherent) against the real module: migration to the device and
 * back, a CPU touch bringing device-private pages back and reaching
 * coherent ones in place, fork, munmap and exit while pages are on the
 * device, rmmod while they are, long-term pins, and migrations racing CPU
 * faults.  Every case writes a pattern, checks it after each step, and
 * ends with the device's pool whole again: each device page freed exactly
 * once, when its last reference dropped.
 *
 * The thp_ cases move a 2 MiB THP to a 2 MiB device folio and follow it
 * through what splits it or brings it back, where the kernel migrates
 * THPs whole (sysfs thp says 1; elsewhere they skip, saying so).
 *
 * Each case loads two devices of its type itself and unloads them.  Where
 * the kernel cannot have the type, every case of it is skipped after
 * checking the load is refused with EOPNOTSUPP and a line saying why.
 */
#define _GNU_SOURCE
#include <linux/io_uring.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zt.h"
#include "zdref_util.h"
#include "../../include/uapi/zdref.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

#define NPAGES		256UL	/* 1 MiB */
#define TOTAL		(128UL << 8)	/* pages of region=128M */

/*
 * Load two devices of @type with the parameters @params, or skip where
 * the kernel cannot have them, after checking that the load was refused
 * and the log says why.
 */
static void load_two(const char *type, const char *params)
{
	int kmsg = zdref_kmsg_open();
	char needs[32];
	const char *why;
	int ret;

	/* Left loaded by a case that failed: its pages may still hold it. */
	if (zdref_loaded())
		ASSERT_EQ(zdref_unload(), 0);
	ret = zdref_load("%s", params);
	if (ret == -EOPNOTSUPP) {
		snprintf(needs, sizeof(needs), "type=%s needs", type);
		why = strstr(zdref_kmsg_read(kmsg), needs);
		ASSERT_TRUE(why);
		SKIP("%.*s", (int)strcspn(why, "\n"), why);
	}
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL);
	ASSERT_EQ(zdref_sysfs_dev_u64(1, "pages_free"), TOTAL);
}

static void load_private(void)
{
	load_two("private", "type=private region=128M devices=2");
}

/* Two coherent devices side by side at the start of the memmap= range. */
static void load_coherent(void)
{
	struct zdref_range r = zdref_reserved_range();
	char params[128];

	snprintf(params, sizeof(params),
		 "type=coherent devices=2 region=128M@0x%llx,128M@0x%llx",
		 (unsigned long long)r.start,
		 (unsigned long long)r.start + (128ULL << 20));
	load_two("coherent", params);
}

static int hmm_cmd(int fd, unsigned long req, void *addr, void *buf,
		   unsigned long npages, struct zdref_hmm_cmd *out)
{
	struct zdref_hmm_cmd cmd = {
		.addr = (uintptr_t)addr,
		.ptr = (uintptr_t)buf,
		.npages = npages,
	};
	int ret = ioctl(fd, req, &cmd);

	if (out)
		*out = cmd;
	return ret ? -errno : 0;
}

/*
 * Anonymous memory with a pattern, in 4 KiB pages.  Two such ranges side
 * by side merge into one vma that khugepaged may collapse into a THP,
 * and a THP just collapsed can sit in another CPU's LRU batch, which
 * makes it unsplittable: the migration skips it (README, Known limits).
 * These tests are about zdref's pages, not that race: no THPs.
 */
static int *map_pattern(unsigned long npages, int seed)
{
	int *p = mmap(NULL, npages * PG, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned long i;

	ASSERT_TRUE(p != MAP_FAILED);
	ASSERT_EQ(madvise(p, npages * PG, MADV_NOHUGEPAGE), 0);
	for (i = 0; i < npages * PG / sizeof(int); i++)
		p[i] = seed + i;
	return p;
}

static void check_pattern(const int *p, unsigned long npages, int seed)
{
	unsigned long i;

	for (i = 0; i < npages * PG / sizeof(int); i++)
		if (p[i] != (int)(seed + i))
			ASSERT_EQ(p[i], (int)(seed + i));
}

static void *mirror_buf(unsigned long npages)
{
	void *b = malloc(npages * PG);

	ASSERT_TRUE(b);
	return b;
}

/* Migrate @p to the device of @fd; it must all be there, data intact. */
static void to_device(int fd, int *p, unsigned long npages, int seed)
{
	struct zdref_hmm_cmd c;
	int *b = mirror_buf(npages);

	ASSERT_EQ(hmm_cmd(fd, ZDREF_HMM_MIGRATE_TO_DEV, p, b, npages, &c), 0);
	ASSERT_EQ_U(c.cpages, npages);
	check_pattern(b, npages, seed);
	free(b);
}

/*
 * Load @load's devices, open device 0 and move NPAGES of anonymous memory
 * with pattern @seed to it: the start of most cases.
 */
static int *pages_on_device(void (*load)(void), int *fd, int seed)
{
	int *p;

	load();
	*fd = open(ZDREF_DEV, O_RDWR);
	ASSERT_GE(*fd, 0);
	p = map_pattern(NPAGES, seed);
	to_device(*fd, p, NPAGES, seed);
	return p;
}

static void check_snapshot(int fd, void *p, unsigned long npages, uint8_t want)
{
	uint8_t *s = mirror_buf(npages);
	unsigned long i;

	ASSERT_EQ(hmm_cmd(fd, ZDREF_HMM_SNAPSHOT, p, s, npages, NULL), 0);
	for (i = 0; i < npages; i++)
		if (s[i] != want)
			ASSERT_EQ(s[i], want);
	free(s);
}

/* To the device and back by ioctl: counted both ways, data intact. */
static void migrate_both_ways(const void *arg)
{
	struct zdref_hmm_cmd c;
	int fd, *p;

	p = pages_on_device(load_private, &fd, 7);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL - NPAGES);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "migrated_to_dev"), NPAGES);
	check_snapshot(fd, p, NPAGES, ZDREF_HMM_PROT_DEV_PRIVATE_LOCAL |
		       ZDREF_HMM_PROT_WRITE);
	ASSERT_EQ(hmm_cmd(fd, ZDREF_HMM_MIGRATE_TO_SYS, p, NULL, NPAGES, &c), 0);
	ASSERT_EQ_U(c.cpages, NPAGES);
	/* Free at zero: back in the pool as the migration finished. */
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "migrated_to_ram"), NPAGES);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "cpu_faults"), 0);
	check_snapshot(fd, p, NPAGES, ZDREF_HMM_PROT_WRITE);
	check_pattern(p, NPAGES, 7);
	munmap(p, NPAGES * PG);
	close(fd);
	zdref_check_whole_and_unload();
}

/*
 * MIGRATE_TO_SYS over a range with pages never touched (holes) moves the
 * device's pages and succeeds, as test_hmm does: holes have nothing to
 * move, so they are no want of memory.
 */
static void to_sys_with_holes(const void *arg)
{
	struct zdref_hmm_cmd c;
	unsigned long i;
	int fd, *p;

	load_private();
	fd = open(ZDREF_DEV, O_RDWR);
	ASSERT_GE(fd, 0);
	p = mmap(NULL, 2 * NPAGES * PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(p != MAP_FAILED);
	for (i = 0; i < NPAGES * PG / sizeof(int); i++)
		p[i] = 61 + i;
	to_device(fd, p, NPAGES, 61);
	ASSERT_EQ(hmm_cmd(fd, ZDREF_HMM_MIGRATE_TO_SYS, p, NULL, 2 * NPAGES, &c), 0);
	ASSERT_EQ_U(c.cpages, NPAGES);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "migrated_to_ram"), NPAGES);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "cpu_faults"), 0);
	check_pattern(p, NPAGES, 61);
	for (i = NPAGES * PG / sizeof(int); i < 2 * NPAGES * PG / sizeof(int); i++)
		ASSERT_EQ(p[i], 0);
	munmap(p, 2 * NPAGES * PG);
	close(fd);
	zdref_check_whole_and_unload();
}

/* A CPU touch brings each page back through migrate_to_ram. */
static void cpu_fault_back(const void *arg)
{
	int fd, *p;

	p = pages_on_device(load_private, &fd, 11);
	check_pattern(p, NPAGES, 11);	/* reads: one fault per page */
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "cpu_faults"), NPAGES);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "migrated_to_ram"), NPAGES);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL);
	/* Again, written this time: the write lands in system RAM. */
	to_device(fd, p, NPAGES, 11);
	p[0] = -1;
	p[0] = 11;
	check_pattern(p, NPAGES, 11);
	munmap(p, NPAGES * PG);
	close(fd);
	zdref_check_whole_and_unload();
}

/*
 * fork() with pages on the device: both processes map them (two
 * references each), each sees the data, the child's writes stay its own,
 * and the pages are freed once, when both let go.
 */
static void fork_after_migration(const void *arg)
{
	int fd, *p, status;
	pid_t pid;

	p = pages_on_device(load_private, &fd, 23);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		check_pattern(p, NPAGES, 23);
		memset(p, 0, NPAGES * PG);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/*
	 * The child's touches brought the shared pages back to system RAM
	 * (for both: migration unmaps every mapping) and its writes went
	 * to its own copies.
	 */
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "cpu_faults"), NPAGES);
	check_pattern(p, NPAGES, 23);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "cpu_faults"), NPAGES);
	munmap(p, NPAGES * PG);
	close(fd);
	zdref_check_whole_and_unload();
}

/* munmap of pages on the device frees them, with no migration back. */
static void munmap_on_device(const void *arg)
{
	int fd, *p;

	p = pages_on_device(load_private, &fd, 31);
	ASSERT_EQ(munmap(p, NPAGES * PG), 0);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "migrated_to_ram"), 0);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "frees"), NPAGES);
	close(fd);
	zdref_check_whole_and_unload();
}

/*
 * A process that exits (or is killed) with pages on the device frees them;
 * until then they hold the module: rmmod is refused, file closed or not.
 */
static void exit_on_device(const void *arg)
{
	int fd, *p, status, go[2];
	pid_t pid;

	load_private();
	ASSERT_EQ(pipe(go), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid != 0)
		close(go[1]);	/* a child that fails ends the read below */
	if (pid == 0) {
		fd = open(ZDREF_DEV, O_RDWR);
		ASSERT_GE(fd, 0);
		p = map_pattern(NPAGES, 41);
		to_device(fd, p, NPAGES, 41);
		close(fd);
		ASSERT_EQ(write(go[1], "m", 1), 1);
		for (;;)
			pause();	/* until killed */
	}
	{
		char c;

		ASSERT_EQ(read(go[0], &c, 1), 1);
	}
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL - NPAGES);
	ASSERT_ERRNO(zdref_unload(), EWOULDBLOCK);
	ASSERT_EQ(kill(pid, SIGKILL), 0);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "migrated_to_ram"), 0);
	zdref_check_whole_and_unload();
}

/* RELEASE evicts every page of the device, whoever maps it. */
static void release_evicts(const void *arg)
{
	int fd, fd1, *p, *q;

	load_private();
	fd = open(ZDREF_DEV, O_RDWR);
	fd1 = open("/dev/zdref1", O_RDWR);
	ASSERT_GE(fd, 0);
	ASSERT_GE(fd1, 0);
	p = map_pattern(NPAGES, 53);
	q = map_pattern(NPAGES, 59);
	to_device(fd, p, NPAGES, 53);
	to_device(fd1, q, NPAGES, 59);
	/* Device 1's pages are remote to device 0: not visible to it. */
	check_snapshot(fd, q, NPAGES, ZDREF_HMM_PROT_NONE);
	ASSERT_EQ(hmm_cmd(fd, ZDREF_HMM_RELEASE, p, NULL, 0, NULL), 0);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "migrated_to_ram"), NPAGES);
	ASSERT_EQ(zdref_sysfs_dev_u64(1, "pages_free"), TOTAL - NPAGES);
	check_pattern(p, NPAGES, 53);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "cpu_faults"), 0);
	check_pattern(q, NPAGES, 59);
	ASSERT_EQ(zdref_sysfs_dev_u64(1, "cpu_faults"), NPAGES);
	close(fd);
	close(fd1);
	zdref_check_whole_and_unload();
}

struct race {
	int fd;
	int *p;
	int stop;
	unsigned long rounds;
};

static void *migrator(void *arg)
{
	struct race *r = arg;
	void *b = mirror_buf(NPAGES);

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		/* Pages the CPU holds at the moment stay behind: fine. */
		hmm_cmd(r->fd, ZDREF_HMM_MIGRATE_TO_DEV, r->p, b, NPAGES, NULL);
		__atomic_add_fetch(&r->rounds, 1, __ATOMIC_RELEASE);
	}
	free(b);
	return NULL;
}

/*
 * Migrations to the device racing CPU reads and writes of the same pages
 * (each CPU access pulls its page back): no data lost, every page freed
 * once.  Each round of CPU accesses starts after a migration finished, and
 * runs while the next one is under way.
 */
static void migrate_fault_race(const void *arg)
{
	struct race r = { 0 };
	unsigned long i, n, round, seen;
	pthread_t t;

	load_private();
	r.fd = open(ZDREF_DEV, O_RDWR);
	ASSERT_GE(r.fd, 0);
	r.p = map_pattern(NPAGES, 0);
	n = NPAGES * PG / sizeof(int);
	ASSERT_EQ(pthread_create(&t, NULL, migrator, &r), 0);
	for (round = 1; round <= 20; round++) {
		seen = __atomic_load_n(&r.rounds, __ATOMIC_ACQUIRE);
		while (__atomic_load_n(&r.rounds, __ATOMIC_ACQUIRE) == seen)
			sched_yield();
		for (i = 0; i < n; i += PG / sizeof(int) / 4) {
			ASSERT_EQ(r.p[i], (int)(round - 1 + i));
			r.p[i] = round + i;
		}
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	zt_diag("%lu migrations, %llu CPU faults", r.rounds,
		(unsigned long long)zdref_sysfs_dev_u64(0, "cpu_faults"));
	ASSERT_GT(zdref_sysfs_dev_u64(0, "cpu_faults"), 0);
	for (i = 0; i < n; i += PG / sizeof(int) / 4)
		ASSERT_EQ(r.p[i], (int)(20 + i));
	munmap(r.p, NPAGES * PG);
	close(r.fd);
	zdref_check_whole_and_unload();
}

/* Milliseconds since an arbitrary start, for the time bounds below. */
static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * MIGRATE_TO_DEV over 1 TiB of sparse anonymous memory (2^28 pages, all
 * holes: far more than the device has) would run for hours: SIGKILL ends
 * it within seconds, the device's pages come back at the exit, and zdref
 * unloads.
 */
static void huge_migrate_killed(const void *arg)
{
	const unsigned long npages = 1UL << 28;
	int fd, status;
	long t0, waited;
	pid_t pid;
	void *p;

	load_private();
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		fd = open(ZDREF_DEV, O_RDWR);
		p = mmap(NULL, npages * PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (fd < 0 || p == MAP_FAILED)
			_exit(2);
		hmm_cmd(fd, ZDREF_HMM_MIGRATE_TO_DEV, p, NULL, npages, NULL);
		_exit(3);	/* it finished: it should have been killed */
	}
	/* Until the device is in use: the child is inside the request. */
	for (t0 = now_ms(); zdref_sysfs_dev_u64(0, "allocs") == 0 && now_ms() - t0 < 20000;)
		usleep(10000);
	ASSERT_TRUE(zdref_sysfs_dev_u64(0, "allocs") > 0);
	usleep(200000);
	ASSERT_EQ(kill(pid, SIGKILL), 0);
	t0 = now_ms();
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	waited = now_ms() - t0;
	zt_diag("SIGKILL ended a 2^28-page MIGRATE_TO_DEV in %ld ms (%llu pages moved)",
		waited, (unsigned long long)zdref_sysfs_dev_u64(0, "migrated_to_dev"));
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ASSERT_TRUE(waited < 10000);
	zdref_check_whole_and_unload();
}

/*
 * READ of 4 GiB (more than the guest's RAM, more than INT_MAX bytes) into
 * a NULL buffer: EFAULT after one chunk of the bounce buffer (64 MiB), in
 * well under a second or so, not a 4 GiB kernel allocation (ENOMEM, or
 * most of RAM taken outside any memcg) and no copy to user space large
 * enough to warn (scripts/vm fails the boot on a WARNING).
 */
static void huge_read_bad_buffer(const void *arg)
{
	const unsigned long npages = (4UL << 30) / PG;
	long t0, took;
	int fd;
	void *p;

	load_private();
	fd = open(ZDREF_DEV, O_RDWR);
	ASSERT_GE(fd, 0);
	p = mmap(NULL, npages * PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_TRUE(p != MAP_FAILED);
	t0 = now_ms();
	ASSERT_ERRNO(hmm_cmd(fd, ZDREF_HMM_READ, p, NULL, npages, NULL), EFAULT);
	took = now_ms() - t0;
	zt_diag("READ of 4 GiB into NULL: EFAULT after %ld ms", took);
	ASSERT_TRUE(took < 10000);
	munmap(p, npages * PG);
	close(fd);
	zdref_check_whole_and_unload();
}

/*
 * An mmap of the device file is system RAM allocated at once: never
 * larger than the device (a 4 GiB one sent the OOM killer before), and
 * refused with a line that says so.
 */
static void mmap_larger_than_device(const void *arg)
{
	size_t size = TOTAL * PG;
	int fd, kmsg;
	char *p;

	load_private();
	fd = open(ZDREF_DEV, O_RDWR);
	ASSERT_GE(fd, 0);
	kmsg = zdref_kmsg_open();
	ASSERT_TRUE(mmap(NULL, size + PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) ==
		    MAP_FAILED);
	ASSERT_EQ(errno, EINVAL);
	ASSERT_TRUE(strstr(zdref_kmsg_read(kmsg), "is larger than the device's"));
	p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_TRUE(p != MAP_FAILED);
	ASSERT_EQ(p[0] | p[4 * PG - 1], 0);
	munmap(p, 4 * PG);
	close(fd);
	zdref_check_whole_and_unload();
}

/* Bad requests: a clear error, nothing moved. */
static void bad_requests(const void *arg)
{
	int fd, *p;

	load_private();
	fd = open(ZDREF_DEV, O_RDWR);
	ASSERT_GE(fd, 0);
	p = map_pattern(4, 3);
	ASSERT_ERRNO(hmm_cmd(fd, ZDREF_HMM_MIGRATE_TO_DEV, (char *)p + 1, NULL, 1, NULL), EINVAL);
	ASSERT_ERRNO(hmm_cmd(fd, ZDREF_HMM_MIGRATE_TO_DEV, p, NULL, 0, NULL), EINVAL);
	ASSERT_ERRNO(hmm_cmd(fd, ZDREF_HMM_READ, p, NULL, 1UL << 60, NULL), EINVAL);
	ASSERT_ERRNO(hmm_cmd(fd, ZDREF_HMM_MIGRATE_TO_DEV, NULL, NULL, 1, NULL), EINVAL);
	ASSERT_EQ(ioctl(fd, _IO('H', 0x7f)), -1);
	ASSERT_EQ(errno, ENOTTY);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "allocs"), 0);
	munmap(p, 4 * PG);
	close(fd);
	zdref_check_whole_and_unload();
}

#define COHERENT_LOCAL	(ZDREF_HMM_PROT_DEV_COHERENT_LOCAL | ZDREF_HMM_PROT_WRITE)

/*
 * Coherent memory: to the device by ioctl, then the CPU reads and writes
 * it where it is (no migrate_to_ram: cpu_faults stays 0), the device sees
 * the CPU's write, rmmod is refused while the pages are there, and
 * MIGRATE_TO_SYS brings them back, each freed once.
 */
static void coherent_in_place(const void *arg)
{
	struct zdref_hmm_cmd c;
	int fd, *p, *b;

	p = pages_on_device(load_coherent, &fd, 71);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL - NPAGES);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "migrated_to_dev"), NPAGES);
	check_snapshot(fd, p, NPAGES, COHERENT_LOCAL);
	check_pattern(p, NPAGES, 71);
	p[0] = -71;
	check_snapshot(fd, p, NPAGES, COHERENT_LOCAL);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "cpu_faults"), 0);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "migrated_to_ram"), 0);
	b = mirror_buf(1);
	ASSERT_EQ(hmm_cmd(fd, ZDREF_HMM_READ, p, b, 1, &c), 0);
	ASSERT_EQ(b[0], -71);
	free(b);
	p[0] = 71;
	ASSERT_ERRNO(zdref_unload(), EWOULDBLOCK);
	ASSERT_EQ(hmm_cmd(fd, ZDREF_HMM_MIGRATE_TO_SYS, p, NULL, NPAGES, &c), 0);
	ASSERT_EQ_U(c.cpages, NPAGES);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "migrated_to_ram"), NPAGES);
	check_snapshot(fd, p, NPAGES, ZDREF_HMM_PROT_WRITE);
	check_pattern(p, NPAGES, 71);
	munmap(p, NPAGES * PG);
	close(fd);
	zdref_check_whole_and_unload();
}

/*
 * fork() with pages in coherent memory: the child reads them in place,
 * its writes go to copies in system RAM (COW), the parent's stay on the
 * device, unchanged; munmap frees them there.
 */
static void coherent_fork_cow(const void *arg)
{
	int fd, *p, status;
	pid_t pid;

	p = pages_on_device(load_coherent, &fd, 73);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int cfd = open(ZDREF_DEV, O_RDWR);

		ASSERT_GE(cfd, 0);
		check_pattern(p, NPAGES, 73);
		check_snapshot(cfd, p, NPAGES, ZDREF_HMM_PROT_DEV_COHERENT_LOCAL |
			       ZDREF_HMM_PROT_READ);
		memset(p, 0, NPAGES * PG);
		check_snapshot(cfd, p, NPAGES, ZDREF_HMM_PROT_WRITE);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	check_pattern(p, NPAGES, 73);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL - NPAGES);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "cpu_faults"), 0);
	ASSERT_EQ(munmap(p, NPAGES * PG), 0);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "migrated_to_ram"), 0);
	close(fd);
	zdref_check_whole_and_unload();
}

/*
 * An io_uring fixed buffer pins with FOLL_LONGTERM: the kernel moves
 * coherent pages to system RAM first (device memory may not stay pinned),
 * which frees them on the device; the data comes along.
 */
static void coherent_longterm_pin(const void *arg)
{
	struct io_uring_params params = { 0 };
	struct iovec iov;
	int fd, *p, ring;

	p = pages_on_device(load_coherent, &fd, 79);
	ring = syscall(__NR_io_uring_setup, 4, &params);
	if (ring < 0)
		SKIP("io_uring_setup: %s", strerror(errno));
	iov.iov_base = p;
	iov.iov_len = NPAGES * PG;
	ASSERT_EQ(syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS,
			  &iov, 1), 0);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "frees"), NPAGES);
	check_snapshot(fd, p, NPAGES, ZDREF_HMM_PROT_WRITE);
	check_pattern(p, NPAGES, 79);
	ASSERT_EQ(syscall(__NR_io_uring_register, ring, IORING_UNREGISTER_BUFFERS,
			  NULL, 0), 0);
	close(ring);
	munmap(p, NPAGES * PG);
	close(fd);
	zdref_check_whole_and_unload();
}

/*
 * Device 1's coherent pages are remote to device 0 and, unlike
 * device-private ones, visible to it; RELEASE evicts device 0's pages
 * only, and nobody faults.
 */
static void coherent_remote_release(const void *arg)
{
	int fd, fd1, *p, *q;

	load_coherent();
	fd = open(ZDREF_DEV, O_RDWR);
	fd1 = open("/dev/zdref1", O_RDWR);
	ASSERT_GE(fd, 0);
	ASSERT_GE(fd1, 0);
	p = map_pattern(NPAGES, 83);
	q = map_pattern(NPAGES, 89);
	to_device(fd, p, NPAGES, 83);
	to_device(fd1, q, NPAGES, 89);
	check_snapshot(fd, q, NPAGES, ZDREF_HMM_PROT_DEV_COHERENT_REMOTE |
		       ZDREF_HMM_PROT_WRITE);
	check_snapshot(fd1, q, NPAGES, COHERENT_LOCAL);
	ASSERT_EQ(hmm_cmd(fd, ZDREF_HMM_RELEASE, p, NULL, 0, NULL), 0);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "migrated_to_ram"), NPAGES);
	ASSERT_EQ(zdref_sysfs_dev_u64(1, "pages_free"), TOTAL - NPAGES);
	check_snapshot(fd, p, NPAGES, ZDREF_HMM_PROT_WRITE);
	check_pattern(p, NPAGES, 83);
	check_pattern(q, NPAGES, 89);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "cpu_faults"), 0);
	ASSERT_EQ(zdref_sysfs_dev_u64(1, "cpu_faults"), 0);
	munmap(q, NPAGES * PG);
	munmap(p, NPAGES * PG);
	close(fd);
	close(fd1);
	zdref_check_whole_and_unload();
}

/*
 * 2 MiB device folios.  A case starts with a THP of anonymous memory with
 * pattern @seed, 2 MiB-aligned inside a 4 MiB mapping (*@area), made one
 * THP by MADV_COLLAPSE, and moves it to device 0: one folio of it.
 */
#define PRIVATE_PMD	(ZDREF_HMM_PROT_DEV_PRIVATE_LOCAL | ZDREF_HMM_PROT_WRITE | \
			 ZDREF_HMM_PROT_PMD)
#define PRIVATE_PTE	(ZDREF_HMM_PROT_DEV_PRIVATE_LOCAL | ZDREF_HMM_PROT_WRITE)

/* smaps' AnonHugePages of the mapping that holds @p, in KiB. */
static long anon_huge_kb(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long start, end;
	char line[256];
	int in = 0;
	long kb = -1;

	ASSERT_TRUE(f);
	while (fgets(line, sizeof(line), f)) {
		/* A mapping's line starts with its address, in lower-case hex. */
		if (strchr("0123456789abcdef", line[0]) &&
		    sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			in = (uintptr_t)p >= start && (uintptr_t)p < end;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

static int *map_thp(int seed, char **area)
{
	unsigned long i;
	int *p;

	*area = mmap(NULL, 2 * HP, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(*area != MAP_FAILED);
	p = (int *)(((uintptr_t)*area + HP - 1) & ~(HP - 1));
	ASSERT_EQ(madvise(p, HP, MADV_HUGEPAGE), 0);
	for (i = 0; i < HP / sizeof(int); i++)
		p[i] = seed + i;
	ASSERT_EQ(madvise(p, HP, MADV_COLLAPSE), 0);
	ASSERT_EQ(anon_huge_kb(p), 2048);
	return p;
}

/* Private devices in 2 MiB folios and a THP on device 0, or a skip. */
static int *thp_on_device(int *fd, int seed, char **area)
{
	int *p;

	load_private();
	if (!zdref_sysfs_dev_u64(0, "thp"))
		SKIP("sysfs thp is 0: no THP migrates whole here (probe device_private_thp)");
	*fd = open(ZDREF_DEV, O_RDWR);
	ASSERT_GE(*fd, 0);
	p = map_thp(seed, area);
	to_device(*fd, p, HPG, seed);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "thp_allocs"), 1);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "allocs"), HPG);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL - HPG);
	check_snapshot(*fd, p, HPG, PRIVATE_PMD);
	return p;
}

static void thp_done(int fd, char *area)
{
	ASSERT_EQ(munmap(area, 2 * HP), 0);
	close(fd);
	zdref_check_whole_and_unload();
}

/* A THP to a device folio and back by ioctl, a THP again, never split. */
static void thp_both_ways(const void *arg)
{
	struct zdref_hmm_cmd c;
	char *area;
	int fd, *p;

	p = thp_on_device(&fd, 101, &area);
	ASSERT_EQ(hmm_cmd(fd, ZDREF_HMM_MIGRATE_TO_SYS, p, NULL, HPG, &c), 0);
	ASSERT_EQ_U(c.cpages, HPG);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "migrated_to_ram"), HPG);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "frees"), HPG);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "thp_splits"), 0);
	ASSERT_EQ(anon_huge_kb(p), 2048);
	check_pattern(p, HPG, 101);
	thp_done(fd, area);
}

/* One CPU touch of a PMD device entry brings the whole folio back, a THP. */
static void thp_cpu_fault(const void *arg)
{
	char *area;
	int fd, *p;

	p = thp_on_device(&fd, 103, &area);
	ASSERT_EQ(p[1000], 103 + 1000);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "cpu_faults"), 1);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "migrated_to_ram"), HPG);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL);
	ASSERT_EQ(anon_huge_kb(p), 2048);
	check_pattern(p, HPG, 103);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "cpu_faults"), 1);
	thp_done(fd, area);
}

/*
 * FAIL_ALLOC: the next 2 MiB allocation fails, so the kernel splits.  To
 * the device, the THP goes in 512 device pages; back, a device folio
 * comes in 512 system pages, split into 511 new folios besides its head.
 */
static void thp_fail_alloc(const void *arg)
{
	struct zdref_hmm_cmd c;
	char *area;
	int fd, *p;

	p = thp_on_device(&fd, 107, &area);
	ASSERT_EQ(hmm_cmd(fd, ZDREF_HMM_FLAGS, p, NULL, ZDREF_HMM_FLAG_FAIL_ALLOC, NULL), 0);
	ASSERT_EQ(hmm_cmd(fd, ZDREF_HMM_MIGRATE_TO_SYS, p, NULL, HPG, &c), 0);
	ASSERT_EQ_U(c.cpages, HPG);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "thp_splits"), HPG - 1);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "frees"), HPG);
	ASSERT_EQ(anon_huge_kb(p), 0);
	check_pattern(p, HPG, 107);

	/* Whole again, then to the device in pages. */
	ASSERT_EQ(madvise(p, HP, MADV_COLLAPSE), 0);
	ASSERT_EQ(hmm_cmd(fd, ZDREF_HMM_FLAGS, p, NULL, ZDREF_HMM_FLAG_FAIL_ALLOC, NULL), 0);
	to_device(fd, p, HPG, 107);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "thp_allocs"), 1);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "allocs"), 2 * HPG);
	check_snapshot(fd, p, HPG, PRIVATE_PTE);
	check_pattern(p, HPG, 107);	/* a CPU fault a page */
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "cpu_faults"), HPG);
	thp_done(fd, area);
}

/*
 * Unmapping half of a device folio maps the rest by PTEs, and keeps the
 * folio whole, as the kernel keeps any THP: its pages go back to the pool
 * when the folio is split (a CPU touch of one of its PTEs splits it) or
 * unmapped whole.
 */
static void thp_partial_munmap(const void *arg)
{
	char *area;
	int fd, *p;

	p = thp_on_device(&fd, 109, &area);
	ASSERT_EQ(munmap((char *)p + HP / 2, HP / 2), 0);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL - HPG);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "thp_splits"), 0);
	check_snapshot(fd, p, HPG / 2, PRIVATE_PTE);
	check_pattern(p, HPG / 2, 109);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "thp_splits"), HPG - 1);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "cpu_faults"), HPG / 2);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL);
	thp_done(fd, area);
}

/* MADV_DONTNEED of half of a device folio: the same, the half zeroed. */
static void thp_dontneed(const void *arg)
{
	char *area;
	int fd, *p;

	p = thp_on_device(&fd, 113, &area);
	ASSERT_EQ(madvise(p, HP / 2, MADV_DONTNEED), 0);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL - HPG);
	check_snapshot(fd, (char *)p + HP / 2, HPG / 2, PRIVATE_PTE);
	ASSERT_EQ(p[0], 0);
	check_pattern(p + HP / 2 / sizeof(int), HPG / 2, 113 + HP / 2 / sizeof(int));
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "thp_splits"), HPG - 1);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL);
	thp_done(fd, area);
}

/*
 * fork() with a device folio: both map it by PMD; the child's touch
 * brings it back for both, the child's write lands in its own copy.
 */
static void thp_fork(const void *arg)
{
	int fd, *p, status;
	char *area;
	pid_t pid;

	p = thp_on_device(&fd, 127, &area);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		check_pattern(p, HPG, 127);
		memset(p, 0, HP);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "cpu_faults"), 1);
	check_pattern(p, HPG, 127);
	thp_done(fd, area);
}

/* mremap() of a device folio 4 KiB off 2 MiB: mapped by PTEs, then split. */
static void thp_mremap(const void *arg)
{
	char *area, *to, *q;
	int fd, *p;

	p = thp_on_device(&fd, 131, &area);
	to = mmap(NULL, 2 * HP, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(to != MAP_FAILED);
	q = (char *)(((uintptr_t)to + HP - 1) & ~(HP - 1)) + PG;
	ASSERT_TRUE(mremap(p, HP, HP, MREMAP_MAYMOVE | MREMAP_FIXED, q) == q);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL - HPG);
	check_snapshot(fd, q, HPG, PRIVATE_PTE);
	check_pattern((int *)q, HPG, 131);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "thp_splits"), HPG - 1);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "cpu_faults"), HPG);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL);
	ASSERT_EQ(munmap(to, 2 * HP), 0);
	thp_done(fd, area);
}

/* RELEASE evicts a device folio whole, to a THP, with no CPU fault. */
static void thp_release(const void *arg)
{
	char *area;
	int fd, *p;

	p = thp_on_device(&fd, 137, &area);
	ASSERT_EQ(hmm_cmd(fd, ZDREF_HMM_RELEASE, p, NULL, 0, NULL), 0);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "migrated_to_ram"), HPG);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "thp_splits"), 0);
	ASSERT_EQ(anon_huge_kb(p), 2048);
	check_pattern(p, HPG, 137);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "cpu_faults"), 0);
	thp_done(fd, area);
}

/*
 * A 2 MiB block that held a device folio, used again in 4 KiB pages:
 * each page is a folio of its own, freed on its own (a page that still
 * took itself for part of the old folio was never freed, found by
 * hmm-tests' migrate then migrate_file_private).
 */
static void thp_block_reused(const void *arg)
{
	struct zdref_hmm_cmd c;
	char *area;
	int fd, *p, *q;

	p = thp_on_device(&fd, 139, &area);
	ASSERT_EQ(hmm_cmd(fd, ZDREF_HMM_MIGRATE_TO_SYS, p, NULL, HPG, &c), 0);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL);
	/* The block just freed is the first whole one to be broken. */
	q = map_pattern(HPG, 149);
	to_device(fd, q, HPG, 149);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "thp_allocs"), 1);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "allocs"), 2 * HPG);
	check_snapshot(fd, q, HPG, PRIVATE_PTE);
	ASSERT_EQ(munmap(q, HPG * PG), 0);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "frees"), 2 * HPG);
	ASSERT_EQ(zdref_sysfs_dev_u64(0, "pages_free"), TOTAL);
	thp_done(fd, area);
}

static const struct zt_test tests[] = {
	ZT(migrate_both_ways, NULL),
	ZT(cpu_fault_back, NULL),
	ZT(fork_after_migration, NULL),
	ZT(munmap_on_device, NULL),
	ZT(exit_on_device, NULL),
	ZT(release_evicts, NULL),
	ZT(to_sys_with_holes, NULL),
	ZT(migrate_fault_race, NULL),
	ZT(huge_migrate_killed, NULL),
	ZT(huge_read_bad_buffer, NULL),
	ZT(bad_requests, NULL),
	ZT(mmap_larger_than_device, NULL),
	ZT(coherent_in_place, NULL),
	ZT(coherent_fork_cow, NULL),
	ZT(coherent_longterm_pin, NULL),
	ZT(coherent_remote_release, NULL),
	ZT(thp_both_ways, NULL),
	ZT(thp_cpu_fault, NULL),
	ZT(thp_fail_alloc, NULL),
	ZT(thp_partial_munmap, NULL),
	ZT(thp_dontneed, NULL),
	ZT(thp_fork, NULL),
	ZT(thp_mremap, NULL),
	ZT(thp_release, NULL),
	ZT(thp_block_reused, NULL),
};

int main(void)
{
	if (zdref_loaded())
		zdref_unload();
	return zt_run(tests, ZT_COUNT(tests));
}
