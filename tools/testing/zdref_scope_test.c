// SPDX-License-Identifier: GPL-2.0
/*
 * zdref's scope=device selftests: a device's pages belong to the device
 * by offset, as device-dax's do.  They keep their contents from one open
 * to the next and between processes, every open of an offset maps the
 * same page, RELEASE gives them up for everyone, and unloading frees
 * them, but is refused while any is mapped or pinned.  One fixture, whose
 * variants are the types the kernel maps (fsdax, generic) with each unit
 * (4K, 2M); every test ends with each unit freed exactly once.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/uio.h>

#include "zdref_util.h"

/* The fixture's state, set by load() in each test's own process. */
static uint64_t total;		/* pages_total */
static size_t unit;		/* the allocation unit, bytes */
static uint64_t upages;		/* pages in a unit */

/*
 * A 64 MiB device: room for the few units a test uses and their 2 MiB
 * alignment, and a quick load.
 */
static void load(const struct zt_variant *v)
{
	char scope[16];

	/* Time: the debug kernels run the 4K variants; KUnit checks the hold. */
	if (!strcmp(v->tag, "2M") && zdref_kconfig("KASAN"))
		SKIP("2 MiB units: %s", "on the stock kernels (a debug kernel runs 4K)");
	total = zdref_load_variant(v, 64 << 20, "scope=device");
	unit = zdref_sysfs_u64("align");
	upages = unit / PG;
	ASSERT_EQ(zdref_sysfs("scope", scope, sizeof(scope)), 0);
	ASSERT_STREQ(scope, "device");
}

/* RELEASE of [@off, @off + @len): 0 or -errno, the request's answer in @r. */
static int release(int fd, uint64_t off, uint64_t len, unsigned int timeout_ms,
		   struct zdref_release *r)
{
	*r = (struct zdref_release){ .offset = off, .length = len,
				     .timeout_ms = timeout_ms };
	return ioctl(fd, ZDREF_IOC_RELEASE, r) ? -errno : 0;
}

/* The device's whole range released, none of it pinned: @pages given up. */
static void release_all(uint64_t pages)
{
	struct zdref_release r;
	int fd = zdref_open_dev();

	ASSERT_EQ(release(fd, 0, total * PG, 1000, &r), 0);
	ASSERT_EQ_U(r.released, pages);
	ASSERT_EQ_U(r.busy, 0);
	close(fd);
}

/* @n units at offset 0, filled with @salt, their mapping and file gone. */
static void fill_units(uint64_t n, uint64_t salt)
{
	int fd = zdref_open_dev();
	char *p = zdref_map(fd, n * unit, MAP_SHARED, 0);

	zdref_fill(p, n * upages, 0, salt);
	munmap(p, n * unit);
	close(fd);
}

/* Unloads are refused while zdref is in use: EWOULDBLOCK, as rmmod says. */
static void unload_refused(void)
{
	ASSERT_ERRNO(zdref_unload(), EWOULDBLOCK);
	ASSERT_TRUE(zdref_loaded());
}

/* Unloaded within 5 s: the device's watch lets the module go. */
static void unloads_soon(void)
{
	int i;

	for (i = 0; i < 500 && zdref_unload() == -EWOULDBLOCK; i++)
		usleep(10000);
	zdref_check_gone(1);
}

/*
 * Written through one open, read back through the next and from another
 * process, which writes too: the same pages, handed out once.
 */
static void kept_across_opens(const void *arg)
{
	int fd, status;
	pid_t pid;
	char *p;

	fill_units(4, 1);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), 4);
	ASSERT_EQ(zdref_sysfs_u64("pages_free"), total - 4 * upages);
	ASSERT_EQ(zdref_sysfs_u64("pages_busy"), 0);

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		fd = zdref_open_dev();
		p = zdref_map(fd, 4 * unit, MAP_SHARED, 0);
		zdref_check_filled(p, 4 * upages, 0, 1);
		zdref_fill(p, upages, 0, 2);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	fd = zdref_open_dev();
	p = zdref_map(fd, 4 * unit, MAP_SHARED, 0);
	zdref_check_filled(p, upages, 0, 2);
	zdref_check_filled(p + unit, 3 * upages, upages, 1);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), 4);
	munmap(p, 4 * unit);
	close(fd);
	release_all(4 * upages);
	zdref_check_whole_and_unload();
}

/*
 * Two opens map one offset: one page, a reference for each mapping and
 * one for the device, what one writes the other reads.
 */
static void shared_by_opens(const void *arg)
{
	struct zdref_page_info a, b;
	int fa = zdref_open_dev(), fb = zdref_open_dev();
	char *pa = zdref_map(fa, unit, MAP_SHARED, 0);
	char *pb = zdref_map(fb, unit, MAP_SHARED, 0);

	zdref_fill(pa, upages, 0, 3);
	zdref_check_filled(pb, upages, 0, 3);
	a = zdref_page_info_of(fa, pa);
	b = zdref_page_info_of(fb, pb);
	ASSERT_EQ_U(a.pfn, b.pfn);
	ASSERT_TRUE(a.pfn != 0);	/* the tests run as root */
	ASSERT_EQ(a.refcount, 3);
	ASSERT_EQ(a.mapcount, 2);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), 1);
	munmap(pa, unit);
	munmap(pb, unit);
	close(fa);
	close(fb);
	release_all(upages);
	zdref_check_whole_and_unload();
}

/*
 * RELEASE through one open takes an offset's page from every mapping:
 * the next touch there hands out a new, zeroed page.
 */
static void release_by_another_open(const void *arg)
{
	int fa = zdref_open_dev(), fb = zdref_open_dev();
	char *pa = zdref_map(fa, unit, MAP_SHARED, 0);
	struct zdref_release r;

	zdref_fill(pa, upages, 0, 4);
	ASSERT_EQ(release(fb, 0, unit, 1000, &r), 0);
	ASSERT_EQ_U(r.released, upages);
	ASSERT_EQ_U(r.busy, 0);
	ASSERT_EQ(zdref_sysfs_u64("frees"), 1);
	ASSERT_EQ_U(((uint64_t *)pa)[0], 0);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), 2);
	munmap(pa, unit);
	close(fa);
	close(fb);
	release_all(upages);
	zdref_check_whole_and_unload();
}

/*
 * Eight processes, each with an open of its own, released at once to
 * touch the same units: each offset is handed out once, whoever faults
 * there first; every process sees every unit.
 */
static void concurrent_first_touch(const void *arg)
{
	int go[2], i, status, n = 8;
	uint64_t units = 4;
	char c = 0;

	ASSERT_EQ(pipe(go), 0);
	for (i = 0; i < n; i++) {
		pid_t pid = fork();

		ASSERT_GE(pid, 0);
		if (pid == 0) {
			int fd = zdref_open_dev();
			char *p = zdref_map(fd, units * unit, MAP_SHARED, 0);
			uint64_t j;

			close(go[1]);
			if (read(go[0], &c, 1) != 0)
				_exit(2);
			for (j = 0; j < units * upages; j++)
				p[((j * 7 + i) % (units * upages)) * PG] |= 1;
			_exit(0);
		}
	}
	close(go[0]);
	close(go[1]);		/* everyone's read returns: go */
	for (i = 0; i < n; i++) {
		ASSERT_GT(wait(&status), 0);
		ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	ASSERT_EQ(zdref_sysfs_u64("allocs"), units);
	ASSERT_EQ(zdref_sysfs_u64("frees"), 0);
	release_all(units * upages);
	zdref_check_whole_and_unload();
}

/* With no file and no pin left, unloading frees what the device kept. */
static void unload_frees(const void *arg)
{
	fill_units(4, 5);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), 4);
	ASSERT_EQ(zdref_unload(), 0);
	zdref_check_gone(1);
}

/* A mapping outlives its file: unloading is refused until the munmap. */
static void unload_refused_while_mapped(const void *arg)
{
	int fd = zdref_open_dev();
	char *p = zdref_map(fd, unit, MAP_SHARED, 0);

	zdref_fill(p, upages, 0, 6);
	close(fd);
	unload_refused();
	munmap(p, unit);
	ASSERT_EQ(zdref_unload(), 0);
	zdref_check_gone(1);
}

/*
 * A page pinned by a pipe, its mapping and every file gone: the device
 * holds the module, so unloading is refused, and the page is still the
 * device's; once the pipe lets go, the module may go.
 */
static void unload_refused_while_pinned(const void *arg)
{
	int fd = zdref_open_dev(), pfd[2];
	char *p = zdref_map(fd, unit, MAP_SHARED, 0);
	struct iovec iov = { p, PG };

	zdref_fill(p, upages, 0, 7);
	ASSERT_EQ(pipe(pfd), 0);
	ASSERT_EQ(vmsplice(pfd[1], &iov, 1, 0), PG);
	munmap(p, unit);
	close(fd);
	unload_refused();
	usleep(300000);		/* the watch looks again meanwhile */
	unload_refused();

	fd = zdref_open_dev();
	p = zdref_map(fd, unit, MAP_SHARED, 0);
	zdref_check_filled(p, upages, 0, 7);
	munmap(p, unit);
	close(fd);
	unload_refused();
	ASSERT_EQ(zdref_sysfs_u64("allocs"), 1);
	ASSERT_EQ(zdref_sysfs_u64("frees"), 0);

	close(pfd[0]);
	close(pfd[1]);
	unloads_soon();
}

/*
 * A page pinned when the last file went, then released: it leaves the
 * device's keeping for the busy list, which holds the module in its turn
 * until the pin drops, and frees it then.
 */
static void release_while_pinned(const void *arg)
{
	int fd = zdref_open_dev(), pfd[2];
	char *p = zdref_map(fd, unit, MAP_SHARED, 0);
	struct iovec iov = { p, PG };
	struct zdref_release r;

	ASSERT_EQ(pipe(pfd), 0);
	ASSERT_EQ(vmsplice(pfd[1], &iov, 1, 0), PG);
	munmap(p, unit);
	close(fd);
	fd = zdref_open_dev();
	ASSERT_ERRNO(release(fd, 0, unit, 0, &r), ETIMEDOUT);
	ASSERT_EQ_U(r.released, upages);
	ASSERT_EQ_U(r.busy, upages);
	close(fd);
	ASSERT_EQ(zdref_sysfs_u64("pages_busy"), upages);
	unload_refused();
	close(pfd[0]);
	close(pfd[1]);
	zdref_check_whole_and_unload();
}

static const struct zt_variant variants[] = {
	{ "fsdax", "4K", NULL }, { "fsdax", "2M", NULL },
	{ "generic", "4K", NULL }, { "generic", "2M", NULL },
};

static const struct zt_fixture fixture = { load, variants, ZT_COUNT(variants) };

/* Each test once per unit: fsdax_TEST and fsdax_TEST_2M. */
static const struct zt_test tests[] = {
	ZT_TAGGED(kept_across_opens, "4K"),
	{ "kept_across_opens_2M", kept_across_opens, NULL, "2M" },
	ZT_TAGGED(shared_by_opens, "4K"),
	{ "shared_by_opens_2M", shared_by_opens, NULL, "2M" },
	ZT_TAGGED(release_by_another_open, "4K"),
	{ "release_by_another_open_2M", release_by_another_open, NULL, "2M" },
	ZT_TAGGED(concurrent_first_touch, "4K"),
	{ "concurrent_first_touch_2M", concurrent_first_touch, NULL, "2M" },
	ZT_TAGGED(unload_frees, "4K"),
	{ "unload_frees_2M", unload_frees, NULL, "2M" },
	ZT_TAGGED(unload_refused_while_mapped, "4K"),
	{ "unload_refused_while_mapped_2M", unload_refused_while_mapped, NULL, "2M" },
	ZT_TAGGED(unload_refused_while_pinned, "4K"),
	{ "unload_refused_while_pinned_2M", unload_refused_while_pinned, NULL, "2M" },
	ZT_TAGGED(release_while_pinned, "4K"),
	{ "release_while_pinned_2M", release_while_pinned, NULL, "2M" },
};

int main(void)
{
	return zt_run_fixture(&fixture, tests, ZT_COUNT(tests));
}
