/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of zdref's guest selftests: loading the module with given
 * parameters, reading what the kernel logged, the reserved range the
 * guest booted with, sysfs and /proc/iomem.
 */
#ifndef ZDREF_UTIL_H
#define ZDREF_UTIL_H

#include <ctype.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "zt.h"
#include "../../include/uapi/zdref.h"

/* The guest's page, align=2M's unit, and its pages: one spelling for all. */
#define PG		4096UL
#define HP		(2UL << 20)
#define HPG		(HP / PG)

#define ZDREF_KO	"/zdref/zdref.ko"
#define ZDREF_CONFIG	"/zdref/kernel.config"
/* zdrefN's node and sysfs directory; zdref0's, which most tests use. */
#define ZDREF_DEV_N(n)	"/dev/zdref" #n
#define ZDREF_SYSFS_N	"/sys/class/zdref/zdref%d"
#define ZDREF_DEV	ZDREF_DEV_N(0)

/* The first memmap=SIZE$START reserved range of the guest. */
struct zdref_range {
	uint64_t start;
	uint64_t size;
};

static inline uint64_t zdref_memparse(const char *s, char **end)
{
	uint64_t v = strtoull(s, end, 0);

	switch (**end) {
	case 'G': case 'g':
		v <<= 10;
		fallthrough;
	case 'M': case 'm':
		v <<= 10;
		fallthrough;
	case 'K': case 'k':
		v <<= 10;
		(*end)++;
	}
	return v;
}

static inline struct zdref_range zdref_reserved_range(void)
{
	struct zdref_range r = { 0, 0 };
	char buf[4096], *p, *end;
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f || !fgets(buf, sizeof(buf), f)) {
		zt_diag("cannot read /proc/cmdline");
		exit(1);
	}
	fclose(f);
	for (p = strstr(buf, "memmap="); p; p = strstr(p + 1, "memmap=")) {
		uint64_t size = zdref_memparse(p + 7, &end);

		if (*end != '$')
			continue;
		r.size = size;
		r.start = zdref_memparse(end + 1, &end);
		return r;
	}
	zt_diag("the guest was booted without memmap=SIZE$START");
	exit(1);
}

/* Is CONFIG_name=y in the config of the kernel the guest booted? */
static inline bool zdref_kconfig(const char *name)
{
	char line[512], want[128];
	FILE *f = fopen(ZDREF_CONFIG, "r");
	bool found = false;

	if (!f) {
		zt_diag("no %s: scripts/check copies the kernel's config there",
			ZDREF_CONFIG);
		exit(1);
	}
	snprintf(want, sizeof(want), "CONFIG_%s=y\n", name);
	while (fgets(line, sizeof(line), f))
		if (!strcmp(line, want))
			found = true;
	fclose(f);
	return found;
}

/*
 * Which zdref.ko to load: $ZDREF_KO, else the guest's /zdref/zdref.ko,
 * else the one modprobe would load (a machine where zdref-dkms or make
 * dkms-install put it under /lib/modules: zdref-bench of zdref-tools).
 */
static inline int zdref_ko_open(void)
{
	const char *env = getenv("ZDREF_KO");
	char path[4096] = "";
	FILE *p;
	int fd;

	if (env && *env)
		return open(env, O_RDONLY | O_CLOEXEC);
	fd = open(ZDREF_KO, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	p = popen("modinfo -n zdref 2>/dev/null", "r");
	if (!p)
		return -1;
	if (!fgets(path, sizeof(path), p))
		path[0] = '\0';
	pclose(p);
	path[strcspn(path, "\n")] = '\0';
	if (!path[0]) {
		errno = ENOENT;
		return -1;
	}
	return open(path, O_RDONLY | O_CLOEXEC);
}

/*
 * Load zdref.ko with @params: 0 or -errno, as init_module(2) says.
 * $ZDREF_LOAD_EXTRA (scripts/check: "poison=1" on one boot) is added to
 * every load that makes no device-private device, which has nothing to
 * poison.
 */
static inline int zdref_load(const char *fmt, ...)
{
	const char *extra = getenv("ZDREF_LOAD_EXTRA");
	char params[512];
	size_t len;
	va_list ap;
	int fd, ret;

	va_start(ap, fmt);
	vsnprintf(params, sizeof(params), fmt, ap);
	va_end(ap);
	len = strlen(params);
	if (extra && *extra && !strstr(params, "private"))
		snprintf(params + len, sizeof(params) - len, " %s", extra);
	fd = zdref_ko_open();
	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0);
	ret = ret ? -errno : 0;
	close(fd);
	return ret;
}

/* Unload zdref without waiting: 0 or -errno (-EWOULDBLOCK while in use). */
static inline int zdref_unload(void)
{
	return syscall(SYS_delete_module, "zdref", O_NONBLOCK) ? -errno : 0;
}

static inline bool zdref_loaded(void)
{
	return access("/sys/module/zdref", F_OK) == 0;
}

#define ZDREF_FAIL_NTH	"/proc/thread-self/fail-nth"

/*
 * Fault injection (CONFIG_FAULT_INJECTION): the task's @n-th fault point
 * from now on fails (a slab or page allocation, a copy from or to user
 * space, as the debugfs knobs allow).  @fd: ZDREF_FAIL_NTH, opened by
 * the thread itself.
 */
static inline bool zdref_fail_nth_arm(int fd, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(fd, buf, len, 0) == len;
}

/*
 * Disarm it: how much of the count was left (0: the fault was injected
 * since zdref_fail_nth_arm()), or -1 if that could not be read.  Reading
 * and writing the file copy to and from user space, fault points
 * themselves: a read that fails means the count had not run out.
 */
static inline long zdref_fail_nth_disarm(int fd)
{
	long left = -1;
	char buf[16];
	ssize_t n;
	int i;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		buf[n] = '\0';
		left = strtol(buf, NULL, 10);
	}
	/* Each failed write spends one more of what is left. */
	for (i = 0; i < 64 && pwrite(fd, "0", 1, 0) != 1; i++)
		;
	return left;
}

/*
 * [start, end) of the kernel's text from function @first to the end of
 * function @last, which follows it, from /proc/kallsyms (sorted by
 * address: a function ends where the next symbol starts).
 */
static inline bool zdref_ksym_range(const char *first, const char *last,
				    uint64_t *start, uint64_t *end)
{
	char line[512], sym[256], type;
	unsigned long long a;
	FILE *f = fopen("/proc/kallsyms", "r");
	bool in_last = false;

	*start = *end = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &a, &type, sym) != 3 || !a)
			continue;
		if (in_last && a > *start) {
			*end = a;
			break;
		}
		if (!*start && !strcmp(sym, first))
			*start = a;
		if (*start && !strcmp(sym, last))
			in_last = true;
	}
	if (f)
		fclose(f);
	return *start && *end;
}

/*
 * Let the Nth point be any allocation: by default failslab and
 * fail_page_alloc skip allocations that may sleep, and order 0 pages.
 * Never inside x86's hot-add of memory (add_pages() and arch_add_memory(),
 * side by side in its text), which is not made to fail: its direct-map
 * setup (init_memory_mapping()) uses page tables it does not check for
 * NULL (a failed one is a null-pointer Oops in phys_pmd_init(), seen on
 * 6.12), and add_pages() WARNs on any failure of __add_pages().  NULL, or
 * why fault injection cannot be had here.
 */
/* Write @val to the file at @path, a knob of sysfs, debugfs or sysctl. */
static inline bool zdref_write_file(const char *path, const char *val)
{
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val);
}

/* Write @val to /sys/kernel/debug/@attr/@knob. */
static inline bool zdref_fault_knob(const char *attr, const char *knob,
				    const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/kernel/debug/%s/%s", attr, knob);
	return zdref_write_file(path, val);
}

static inline const char *zdref_fault_injection_setup(void)
{
	static const char * const attrs[] = {
		"failslab", "fail_page_alloc", "fail_usercopy",
	};
	char start_s[32], end_s[32];
	uint64_t start, end;
	bool ok = true;
	size_t i;

	if (access(ZDREF_FAIL_NTH, F_OK))
		return "no fail-nth: no CONFIG_FAULT_INJECTION (the debug kernels have it)";
	if (!zdref_ksym_range("add_pages", "arch_add_memory", &start, &end))
		return "no add_pages, arch_add_memory in /proc/kallsyms";
	snprintf(start_s, sizeof(start_s), "0x%llx", (unsigned long long)start);
	snprintf(end_s, sizeof(end_s), "0x%llx", (unsigned long long)end);
	for (i = 0; i < ZT_COUNT(attrs); i++) {
		ok &= zdref_fault_knob(attrs[i], "verbose", "0");
		ok &= zdref_fault_knob(attrs[i], "reject-start", start_s);
		ok &= zdref_fault_knob(attrs[i], "reject-end", end_s);
	}
	ok &= zdref_fault_knob("failslab", "ignore-gfp-wait", "N");
	ok &= zdref_fault_knob("fail_page_alloc", "ignore-gfp-wait", "N");
	ok &= zdref_fault_knob("fail_page_alloc", "min-order", "0");
	if (!ok)
		return "cannot set the knobs: see kunit/debug.config for the options needed";
	return NULL;
}

#define ZDREF_RAMDISK	"/dev/ram0"

/* A RAM block device for O_DIRECT (brd: built in, or loaded here). */
static inline bool zdref_ramdisk(void)
{
	return !access(ZDREF_RAMDISK, F_OK) ||
	       !system("modprobe brd rd_nr=1 rd_size=8192");
}

/* A reader of /dev/kmsg positioned at its end: what comes next. */
static inline int zdref_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/*
 * What the kernel logged since zdref_kmsg_open(), one message a line
 * (malloc'd, never NULL); zdref's own lines are echoed as TAP comments.
 */
static inline char *zdref_kmsg_read(int fd)
{
	size_t len = 0, cap = 1 << 16;
	char *log = malloc(cap), rec[8192];
	ssize_t n;

	if (!log)
		exit(1);
	log[0] = '\0';
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)	/* overwritten records */
			continue;
		if (n <= 0)
			break;
		rec[n] = '\0';
		n = strcspn(rec, "\n");
		rec[n] = '\0';
		if (strstr(rec, "zdref"))	/* past "level,seq,usec,-;" */
			zt_diag("kmsg: %s", strchr(rec, ';') ? strchr(rec, ';') + 1 : rec);
		if (len + n + 2 > cap)
			break;
		memcpy(log + len, rec, n);
		len += n;
		log[len++] = '\n';
		log[len] = '\0';
	}
	close(fd);
	return log;
}

/* Read one sysfs value of zdref@dev into @buf, newline dropped. */
static inline int zdref_sysfs_dev(int dev, const char *attr, char *buf,
				  size_t len)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), ZDREF_SYSFS_N "/%s", dev, attr);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static inline uint64_t zdref_sysfs_dev_u64(int dev, const char *attr)
{
	char buf[64];

	if (zdref_sysfs_dev(dev, attr, buf, sizeof(buf))) {
		zt_diag("cannot read " ZDREF_SYSFS_N "/%s", dev, attr);
		exit(1);
	}
	return strtoull(buf, NULL, 0);
}

/* The same of zdref0. */
static inline int zdref_sysfs(const char *attr, char *buf, size_t len)
{
	return zdref_sysfs_dev(0, attr, buf, len);
}

static inline uint64_t zdref_sysfs_u64(const char *attr)
{
	return zdref_sysfs_dev_u64(0, attr);
}

/* How many devices the loaded zdref has: zdref0 to zdrefN-1. */
static inline int zdref_devices(void)
{
	char path[64];
	int n = 0;

	for (;; n++) {
		snprintf(path, sizeof(path), ZDREF_SYSFS_N, n);
		if (access(path, F_OK))
			return n;
	}
}

/*
 * Find the /proc/iomem line named @name (at any depth): 1 with its range
 * in @r, 0 if there is none.
 */
static inline int zdref_iomem_find(const char *name, struct zdref_range *r)
{
	char line[256];
	FILE *f = fopen("/proc/iomem", "r");
	int found = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e;
		char what[128];

		if (sscanf(line, " %llx-%llx : %127[^\n]", &s, &e, what) != 3)
			continue;
		if (strcmp(what, name))
			continue;
		r->start = s;
		r->size = e - s + 1;
		found = 1;
		break;
	}
	fclose(f);
	return found;
}

/*
 * A fixture's load of zdref0 over the first @size bytes of the reserved
 * range (0: all of it), of the variant's type (its name) and align= (its
 * tag: 4K or 2M), with @extra parameters: its pages_total.  Skipped, with
 * the reason the module logged, where this kernel's PMD mappings would
 * hold no reference.
 */
static inline uint64_t zdref_load_variant(const struct zt_variant *v,
					  uint64_t size, const char *extra)
{
	struct zdref_range r = zdref_reserved_range();
	const char *align = v->tag;
	int kmsg, ret;
	char *log;

	if (zdref_loaded())
		zdref_unload();	/* left by an earlier failure */
	ASSERT_LE(size, r.size);
	kmsg = zdref_kmsg_open();
	ret = zdref_load("region=%llu@0x%llx type=%s align=%s %s",
			 (unsigned long long)(size ?: r.size),
			 (unsigned long long)r.start, v->name, align, extra);
	log = ret ? zdref_kmsg_read(kmsg) : (close(kmsg), "");

	if (ret == -EOPNOTSUPP && !strcmp(align, "2M") &&
	    strstr(log, "align=2M needs PMD mappings of device folios"))
		SKIP("align=2M: %s",
		     "this kernel's PMD mappings of device memory hold no page reference");
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(zdref_sysfs_u64("align"), !strcmp(align, "2M") ? HP : PG);
	return zdref_sysfs_u64("pages_total");
}

/* zdref0 opened read-write, or the test fails. */
static inline int zdref_open_dev(void)
{
	int fd = open(ZDREF_DEV, O_RDWR | O_CLOEXEC);

	ASSERT_GE(fd, 0);
	return fd;
}

/* @len of @fd at @off, read-write, or the test fails. */
static inline char *zdref_map(int fd, size_t len, int flags, off_t off)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, off);

	ASSERT_TRUE(p != MAP_FAILED);
	return p;
}

/* ZDREF_IOC_PAGE_INFO of the page mapped at @addr. */
static inline struct zdref_page_info zdref_page_info_of(int fd, const void *addr)
{
	struct zdref_page_info pi = { .addr = (uintptr_t)addr };

	ASSERT_EQ(ioctl(fd, ZDREF_IOC_PAGE_INFO, &pi), 0);
	return pi;
}

/* A recognisable word per page and offset. */
static inline uint64_t zdref_pattern(uint64_t pgoff, uint64_t salt)
{
	return 0x5a5a000000000000ULL ^ (pgoff << 20) ^ salt;
}

/* The first and last words of @npages pages at @p, page @first on. */
static inline void zdref_fill(char *p, uint64_t npages, uint64_t first,
			      uint64_t salt)
{
	uint64_t i;

	for (i = 0; i < npages; i++) {
		((uint64_t *)(p + i * PG))[0] = zdref_pattern(first + i, salt);
		((uint64_t *)(p + i * PG))[PG / 8 - 1] = zdref_pattern(first + i, salt);
	}
}

/* They hold what zdref_fill() wrote, or the test fails. */
static inline void zdref_check_filled(const char *p, uint64_t npages,
				      uint64_t first, uint64_t salt)
{
	uint64_t i;

	for (i = 0; i < npages; i++) {
		ASSERT_EQ_U(((const uint64_t *)(p + i * PG))[0],
			    zdref_pattern(first + i, salt));
		ASSERT_EQ_U(((const uint64_t *)(p + i * PG))[PG / 8 - 1],
			    zdref_pattern(first + i, salt));
	}
}

/* What an unloaded zdref leaves: no module, class, node or claimed range. */
static inline void zdref_check_gone(int devices)
{
	struct zdref_range got = { 0, 0 };
	char path[32];
	int i;

	ASSERT_FALSE(zdref_loaded());
	ASSERT_EQ(access("/sys/class/zdref", F_OK), -1);
	for (i = 0; i < devices; i++) {
		snprintf(path, sizeof(path), "/dev/zdref%d", i);
		ASSERT_EQ(access(path, F_OK), -1);
	}
	ASSERT_EQ(zdref_iomem_find("zdref", &got), 0);
}

/*
 * The end of a test that handed out device pages: on every device, every
 * unit back in the pool, each freed once, none badly; then the module
 * unloads.  Frees run from the kernel's own paths: they get 5 s.
 */
static inline void zdref_check_whole_and_unload(void)
{
	int dev, devices = zdref_devices(), i;
	uint64_t total, nfree, allocs, frees, bad, poisoned;

	for (dev = 0; dev < devices; dev++) {
		total = zdref_sysfs_dev_u64(dev, "pages_total");
		for (i = 0; i < 500 && zdref_sysfs_dev_u64(dev, "pages_free") != total; i++)
			usleep(10000);
		/* One reading of each counter: what is printed is what is checked. */
		nfree = zdref_sysfs_dev_u64(dev, "pages_free");
		allocs = zdref_sysfs_dev_u64(dev, "allocs");
		frees = zdref_sysfs_dev_u64(dev, "frees");
		bad = zdref_sysfs_dev_u64(dev, "bad_frees");
		poisoned = zdref_sysfs_dev_u64(dev, "poison_errors");
		zt_diag("zdref%d: allocs %llu, frees %llu, pages_free %llu of %llu",
			dev, (unsigned long long)allocs, (unsigned long long)frees,
			(unsigned long long)nfree, (unsigned long long)total);
		zt_diag("zdref%d: bad_frees %llu, poison_errors %llu", dev,
			(unsigned long long)bad, (unsigned long long)poisoned);
		ASSERT_EQ(nfree, total);
		ASSERT_EQ(allocs, frees);
		ASSERT_EQ(bad, 0);
		ASSERT_EQ(poisoned, 0);
	}
	ASSERT_EQ(zdref_unload(), 0);
}

#endif /* ZDREF_UTIL_H */
