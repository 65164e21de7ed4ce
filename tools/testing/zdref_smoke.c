// SPDX-License-Identifier: GPL-2.0
/*
 * zdref_smoke VERSION TYPE: a short check of a zdref that someone else
 * loaded (scripts/dkms-test loads the DKMS-installed module with modprobe
 * in the guest): the module is the one expected, /dev/zdref0 works, one
 * page goes through mmap, a write and the close and comes back to the
 * pool.  It neither loads nor unloads the module, so it is not a *_test of
 * the guest suite.
 */
#include <sys/ioctl.h>
#include <sys/sysmacros.h>

#include "zdref_util.h"
#include "../../include/uapi/zdref.h"

static const char *want_version, *want_type;

/* The loaded module is the version of this tree, with the asked type. */
static void loaded(const void *arg)
{
	char buf[64];
	FILE *f;

	ASSERT_TRUE(zdref_loaded());
	f = fopen("/sys/module/zdref/version", "r");
	ASSERT_TRUE(f);
	ASSERT_TRUE(fgets(buf, sizeof(buf), f));
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	ASSERT_STREQ(buf, want_version);
	ASSERT_EQ(zdref_sysfs("type", buf, sizeof(buf)), 0);
	ASSERT_STREQ(buf, want_type);
}

/* /dev/zdref0 is the character device sysfs announces. */
static void device_node(const void *arg)
{
	unsigned int major, minor;
	struct stat st;
	char buf[64];
	int n;

	ASSERT_EQ(stat(ZDREF_DEV, &st), 0);
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	ASSERT_EQ(zdref_sysfs("dev", buf, sizeof(buf)), 0);
	n = sscanf(buf, "%u:%u", &major, &minor);
	ASSERT_EQ(n, 2);
	ASSERT_EQ(major(st.st_rdev), major);
	ASSERT_EQ(minor(st.st_rdev), minor);
}

/* One page: mapped, written, read back, freed at the close. */
static void mmap_touch(const void *arg)
{
	uint64_t total = zdref_sysfs_u64("pages_total");
	uint64_t allocs = zdref_sysfs_u64("allocs");
	struct zdref_page_info pi = { 0 };
	int fd = open(ZDREF_DEV, O_RDWR | O_CLOEXEC), i;
	char *p;

	ASSERT_GE(fd, 0);
	ASSERT_EQ(zdref_sysfs_u64("pages_free"), total);
	p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_TRUE(p != MAP_FAILED);
	for (i = 0; i < (int)PG; i++)
		p[i] = (char)(i * 7 + 1);
	pi.addr = (uintptr_t)p;
	ASSERT_EQ(ioctl(fd, ZDREF_IOC_PAGE_INFO, &pi), 0);
	ASSERT_EQ(pi.state, ZDREF_PAGE_OWNED);
	ASSERT_EQ(pi.refcount, 2);	/* the file and the mapping */
	ASSERT_EQ(pi.mapcount, 1);
	ASSERT_EQ(zdref_sysfs_u64("pages_free"), total - 1);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), allocs + 1);
	ASSERT_EQ(munmap(p, PG), 0);
	/* The file still holds the page: a new mapping sees the data. */
	p = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_TRUE(p != MAP_FAILED);
	for (i = 0; i < (int)PG; i++)
		ASSERT_EQ(p[i], (char)(i * 7 + 1));
	ASSERT_EQ(munmap(p, PG), 0);
	ASSERT_EQ(close(fd), 0);
	for (i = 0; i < 200 && zdref_sysfs_u64("pages_free") != total; i++)
		usleep(5000);
	ASSERT_EQ(zdref_sysfs_u64("pages_free"), total);
	ASSERT_EQ(zdref_sysfs_u64("frees"), zdref_sysfs_u64("allocs"));
	ASSERT_EQ(zdref_sysfs_u64("bad_frees"), 0);
}

static const struct zt_test tests[] = {
	ZT(loaded, NULL),
	ZT(device_node, NULL),
	ZT(mmap_touch, NULL),
};

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s VERSION TYPE\n", argv[0]);
		return 2;
	}
	want_version = argv[1];
	want_type = argv[2];
	return zt_run(tests, ZT_COUNT(tests));
}
