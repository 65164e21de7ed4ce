// SPDX-License-Identifier: GPL-2.0
/*
 * zdref_bench: figures, not a test.  In one guest, the same operations on
 * zdref's device pages, on anonymous memory and on the kernel's own
 * device-dax (/dev/dax0.0, made by scripts/bench with ndctl over a
 * memmap=SIZE!START pmem range), printed side by side with their ratios:
 *
 *   fault_4k     first-touch faults per second, 4 KiB pages
 *   fault_4k_x2  the same, two processes at once, each its own 128 MiB
 *                (under TCG, whose one host thread runs every vCPU, this
 *                measures contention on one CPU's time, not scaling)
 *   fault_2m     first-touch faults per second, 2 MiB pages (zdref
 *                align=2M, anonymous THP, device-dax align=2M)
 *   roundtrip    allocate + free per second of one 4 KiB page: zdref
 *                touch + ZDREF_IOC_RELEASE, anonymous touch +
 *                MADV_DONTNEED; device-dax has no allocator: its figure is
 *                touch + MADV_DONTNEED (map + unmap only)
 *   retouch_4k   4 KiB pages per second touched again after MADV_DONTNEED
 *                of 256 MiB touched before: zdref maps the file's pages
 *                around each fault (fault_around=, 64K by default; the
 *                line after gives fault_around=0), device-dax faults each
 *                page, anonymous memory hands out new zeroed pages
 *   teardown     milliseconds to munmap and close 512 MiB of touched
 *                4 KiB pages (for zdref, that frees them all; device-dax
 *                keeps a little of its 1 GiB for metadata)
 *   zero_4k,     zdref's faults with zeroing ahead off, as loaded by
 *   zero_2m      default, and ready (the whole pool zeroed before the
 *                run); 4 KiB faults outrunning the zeroing work; the
 *                guest's memset() bandwidth and the work's (zero_rows())
 *
 * and, on kernels with device-private memory (type=private), migration:
 *
 *   migrate      pages per second moved into device memory (the mirror's
 *                MIGRATE_TO_DEV, 64 MiB per call, which also copies the
 *                device's copy out to the caller as the ABI says) and back
 *                (MIGRATE_TO_SYS), and brought back by CPU touches
 *                (migrate_to_ram, a fault per page); beside the kernel's
 *                own page production, anonymous first-touch faults
 *   migrate_2m   the same for THPs, 2 MiB-aligned, a touch per 2 MiB,
 *                beside anonymous THP faults in pages per second; whole
 *                2 MiB device folios where the kernel migrates THPs whole
 *                (the line after says how many were handed out)
 *
 * Each figure is the best of 3 runs.  ZDREF_NDCTL is the command line of
 * ndctl in the guest; without /dev/dax0.0 the device-dax column says n/a.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/ioctl.h>

#include "zdref_util.h"
#include "../../include/uapi/zdref.h"

#define RUNS	3
/* Processes of the parallel row, one per vCPU of scripts/vm's guest. */
#define PARALLEL	2
#define PARALLEL_S	"2"

enum kind { ZDREF, ANON, DEVDAX, NKINDS };
static const char *const kind_names[] = { "zdref", "anon", "devdax" };

/*
 * One figure for make bench's CSV, on a line of its own that scripts/bench
 * takes out of the output: what, its unit, zdref's value, what it is set
 * against and that one's value, and the ratio of the two (0 where either
 * is missing; for a time, "ms", lower is better).
 */
static void record(const char *figure, const char *unit, double zdref,
		   const char *against, double value)
{
	printf("@csv %s,%s,%.0f,%s,%.0f,%.3f\n", figure, unit, zdref, against,
	       value, zdref && value ? zdref / value : 0);
}

/* zdref over the whole range, fsdax, with @align and @extra parameters. */
static bool zdref_up_with(const char *align, const char *extra)
{
	struct zdref_range r = zdref_reserved_range();

	if (zdref_loaded())
		zdref_unload();
	return !zdref_load("region=%llu@0x%llx type=fsdax align=%s %s",
			   (unsigned long long)r.size,
			   (unsigned long long)r.start, align, extra);
}

static bool zdref_up(const char *align)
{
	return zdref_up_with(align, "");
}

/* device-dax with @align, remade by ndctl: false if there is none. */
static bool devdax_up(const char *align)
{
	char cmd[512];
	const char *ndctl = getenv("ZDREF_NDCTL");

	if (!ndctl)
		return false;
	snprintf(cmd, sizeof(cmd),
		 "%s create-namespace -f -e namespace0.0 -m devdax -a %s >/dev/null 2>&1",
		 ndctl, align);
	return !system(cmd) && !access("/dev/dax0.0", F_OK);
}

/* A mapping of @len, 2 MiB aligned, and the fd behind it (-1 for anon). */
static char *map_kind(enum kind k, size_t len, int *fdp, bool huge)
{
	int fd = -1;
	char *p;

	if (k == ANON) {
		char *raw = mmap(NULL, len + HP, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (raw == MAP_FAILED)
			return NULL;
		p = (char *)(((uintptr_t)raw + HP - 1) & ~(HP - 1));
		if (p > raw)
			munmap(raw, p - raw);
		munmap(p + len, raw + HP - p);
		madvise(p, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	} else {
		fd = open(k == ZDREF ? ZDREF_DEV : "/dev/dax0.0", O_RDWR);
		if (fd < 0)
			return NULL;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			close(fd);
			return NULL;
		}
	}
	*fdp = fd;
	return p;
}

static void unmap_kind(char *p, size_t len, int fd)
{
	munmap(p, len);
	if (fd >= 0)
		close(fd);
}

/*
 * Before each run of faults(): wait until zdref has zeroed all it keeps
 * zeroed ahead (sysfs zero_ahead, up to its free pages), as a device left
 * alone for a moment has; 0 for the run to start at once.
 */
static bool settle;

/* Seconds until zdref's free pages zeroed ahead reach their bound, or -1. */
static double zdref_settle(void)
{
	uint64_t want = zdref_sysfs_u64("zero_ahead") / PG;
	double t = zt_now();

	if (want > zdref_sysfs_u64("pages_free"))
		want = zdref_sysfs_u64("pages_free");
	while (zdref_sysfs_u64("pages_zeroed") < want) {
		if (zt_now() - t > 60)
			return -1;
		usleep(1000);
	}
	return zt_now() - t;
}

/* Faults per second touching @len in steps of @step; 0 if unavailable. */
static double faults(enum kind k, size_t len, size_t step)
{
	double best = 0, t;
	size_t off;
	int fd, i;
	char *p;

	for (i = 0; i < RUNS; i++) {
		if (k == ZDREF && settle && zdref_settle() < 0)
			return 0;
		p = map_kind(k, len, &fd, step == HP);
		if (!p)
			return 0;
		t = zt_now();
		for (off = 0; off < len; off += step)
			p[off] = 1;
		t = zt_now() - t;
		unmap_kind(p, len, fd);
		if (len / step / t > best)
			best = len / step / t;
	}
	return best;
}

/* Touch @each bytes from @first of a fresh mapping of @len: one process's share. */
static bool touch_share(enum kind k, size_t len, size_t first, size_t each)
{
	size_t off;
	int fd;
	char *p = map_kind(k, len, &fd, false);

	if (!p)
		return false;
	for (off = first; off < first + each; off += PG)
		p[off] = 1;
	return true;
}

/*
 * 4 KiB faults per second of @nproc processes at once, each touching its
 * own @len / @nproc (its own open file of zdref, its own offsets of
 * device-dax); 0 if unavailable.  The time runs from the first fork to
 * the last exit.
 */
static double parallel_faults(enum kind k, size_t len, int nproc)
{
	size_t each = len / nproc;
	double best = 0, t;
	int i, run, status;
	bool ok;

	for (run = 0; run < RUNS; run++) {
		t = zt_now();
		for (i = 0; i < nproc; i++)
			if (!fork())
				_exit(!touch_share(k, len, i * each, each));
		for (ok = true, i = 0; i < nproc; i++)
			ok &= wait(&status) > 0 && WIFEXITED(status) &&
			      !WEXITSTATUS(status);
		t = zt_now() - t;
		if (!ok)
			return 0;
		if (len / PG / t > best)
			best = len / PG / t;
	}
	return best;
}

/* Allocate + free round trips of one page per second. */
static double roundtrip(enum kind k)
{
	struct zdref_release rel = { .length = PG, .timeout_ms = 1000 };
	const int n = 20000;
	double best = 0, t;
	int fd, i, j;
	char *p;

	for (i = 0; i < RUNS; i++) {
		p = map_kind(k, HP, &fd, false);
		if (!p)
			return 0;
		t = zt_now();
		for (j = 0; j < n; j++) {
			p[0] = 1;
			if (k == ZDREF) {
				if (ioctl(fd, ZDREF_IOC_RELEASE, &rel))
					return 0;
			} else {
				madvise(p, PG, MADV_DONTNEED);
			}
		}
		t = zt_now() - t;
		unmap_kind(p, HP, fd);
		if (n / t > best)
			best = n / t;
	}
	return best;
}

/* 4 KiB pages per second touched again after MADV_DONTNEED of @len. */
static double retouch(enum kind k, size_t len)
{
	double best = 0, t;
	size_t off;
	int fd, i;
	char *p = map_kind(k, len, &fd, false);

	if (!p)
		return 0;
	for (off = 0; off < len; off += PG)
		p[off] = 1;
	for (i = 0; i < RUNS; i++) {
		madvise(p, len, MADV_DONTNEED);
		t = zt_now();
		for (off = 0; off < len; off += PG)
			p[off] = 1;
		t = zt_now() - t;
		if (len / PG / t > best)
			best = len / PG / t;
	}
	unmap_kind(p, len, fd);
	return best;
}

/* Milliseconds to unmap and close @len of touched 4 KiB pages. */
static double teardown(enum kind k, size_t len)
{
	double best = 0, t;
	size_t off;
	int fd, i;
	char *p;

	for (i = 0; i < RUNS; i++) {
		p = map_kind(k, len, &fd, false);
		if (!p)
			return 0;
		for (off = 0; off < len; off += PG)
			p[off] = 1;
		t = zt_now();
		unmap_kind(p, len, fd);
		t = (zt_now() - t) * 1000;
		if (!best || t < best)
			best = t;
	}
	return best;
}

/* Pages per second of one migration ioctl over @len at @p, or 0. */
static double migrate_once(int fd, unsigned long req, char *p, size_t len,
			   void *buf)
{
	struct zdref_hmm_cmd c = {
		.addr = (uintptr_t)p,
		.ptr = (uintptr_t)buf,
		.npages = len / PG,
	};
	double t = zt_now();

	if (ioctl(fd, req, &c) || c.cpages != len / PG)
		return 0;
	return (len / PG) / (zt_now() - t);
}

/*
 * Device-private migration, best of RUNS: @v gets to-device, to-RAM by
 * ioctl and to-RAM by CPU touch, in pages per second.  @huge: of THPs,
 * 2 MiB-aligned, a touch per 2 MiB (a device folio comes back whole);
 * *@folios gets the 2 MiB device folios handed out (sysfs thp_allocs).
 */
static bool migrate_rates(double v[3], bool huge, unsigned long *folios)
{
	size_t len = 64UL << 20, i, step = huge ? HP : PG;
	void *buf = malloc(len);
	char *area, *p;
	int fd, run;

	memset(v, 0, 3 * sizeof(*v));
	if (zdref_loaded())
		zdref_unload();
	if (!buf || zdref_load("type=private region=256M"))
		return false;
	fd = open(ZDREF_DEV, O_RDWR);
	if (fd < 0)
		return false;
	area = mmap(NULL, len + HP, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		return false;
	p = huge ? (char *)(((uintptr_t)area + HP - 1) & ~(HP - 1)) : area;
	madvise(p, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	memset(p, 1, len);
	for (run = 0; run < RUNS; run++) {
		double r, t;

		r = migrate_once(fd, ZDREF_HMM_MIGRATE_TO_DEV, p, len, buf);
		v[0] = r > v[0] ? r : v[0];
		r = migrate_once(fd, ZDREF_HMM_MIGRATE_TO_SYS, p, len, NULL);
		v[1] = r > v[1] ? r : v[1];
		if (!migrate_once(fd, ZDREF_HMM_MIGRATE_TO_DEV, p, len, buf))
			break;
		t = zt_now();
		for (i = 0; i < len; i += step)
			p[i] = 2;	/* a write fault brings a page (folio) back too */
		r = (len / PG) / (zt_now() - t);
		v[2] = r > v[2] ? r : v[2];
	}
	*folios = zdref_sysfs_dev_u64(0, "thp_allocs");
	munmap(area, len + HP);
	close(fd);
	free(buf);
	return v[0] && v[1] && v[2];
}

/* The migration rows, against anonymous first-touch faults in pages/s. */
static void migrate_rows(const char *name, bool huge)
{
	static const char *const dirs[] = {
		"to_device", "to_ram_ioctl", "to_ram_touch",
	};
	double m[3], anon;
	unsigned long folios;
	char figure[64];
	int d;

	anon = huge ? faults(ANON, 256UL << 20, HP) * HPG : faults(ANON, 256UL << 20, PG);
	if (!migrate_rates(m, huge, &folios)) {
		printf("%-12s n/a (no type=private here: see dmesg)\n", name);
		return;
	}
	for (d = 0; d < 3; d++) {
		printf("%-12s %-13s zdref %12.0f pages/s", name, dirs[d], m[d]);
		printf("  anon faults %12.0f pages/s  zdref/anon %.2f\n",
		       anon, m[d] / anon);
		snprintf(figure, sizeof(figure), "%s_%s", name, dirs[d]);
		record(figure, "pages/s", m[d], "anon", anon);
	}
	if (huge)
		printf("%-12s 2 MiB device folios handed out: %lu (sysfs thp_allocs)\n",
		       name, folios);
}

/* "  zdref/OTHER RATIO", n/a where either figure is missing. */
static void ratio(const double v[NKINDS], enum kind other)
{
	printf("  zdref/%s ", kind_names[other]);
	if (v[ZDREF] && v[other])
		printf("%.2f", v[ZDREF] / v[other]);
	else
		printf("n/a");
}

static void row(const char *name, const char *unit, double v[NKINDS])
{
	int k;

	printf("%-12s", name);
	for (k = 0; k < NKINDS; k++)
		if (v[k])
			printf(" %s %12.0f %s", kind_names[k], v[k], unit);
		else
			printf(" %s %12s %s", kind_names[k], "n/a", unit);
	ratio(v, ANON);
	ratio(v, DEVDAX);
	printf("\n");
	record(name, unit, v[ZDREF], "anon", v[ANON]);
	record(name, unit, v[ZDREF], "devdax", v[DEVDAX]);
}

/* Bytes per second of memset() over @len of anonymous memory, touched. */
static double memset_rate(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	double best = 0, t;
	int i;

	if (p == MAP_FAILED)
		return 0;
	for (i = 0; i < RUNS; i++) {
		t = zt_now();
		memset(p, i, len);
		t = zt_now() - t;
		if (len / t > best)
			best = len / t;
	}
	munmap(p, len);
	return best;
}

/* A row of zero_rows(): zdref's faults beside device-dax's. */
static void zero_row(const char *name, const char *mode, double v, double devdax)
{
	char figure[64];

	printf("%-12s %-9s zdref %12.0f /s  devdax %12.0f /s  zdref/devdax %.2f\n",
	       name, mode, v, devdax, devdax ? v / devdax : 0);
	snprintf(figure, sizeof(figure), "%s_%s", name, mode);
	record(figure, "/s", v, "devdax", devdax);
}

/*
 * Faults outrunning the zeroing work: zdref as loaded by default, its
 * whole range written and freed, then faulted again at once.
 */
static void sustained_row(double devdax_4k)
{
	size_t whole = zdref_reserved_range().size, off;
	uint64_t ahead;
	double t, v;
	char *p;
	int fd;

	if (!zdref_up("4K"))
		return;
	p = map_kind(ZDREF, whole, &fd, false);
	if (!p)
		return;
	memset(p, 1, whole);
	unmap_kind(p, whole, fd);
	p = map_kind(ZDREF, whole, &fd, false);
	if (!p)
		return;
	ahead = zdref_sysfs_u64("zeroed_ahead");
	t = zt_now();
	for (off = 0; off < whole; off += PG)
		p[off] = 1;
	t = zt_now() - t;
	ahead = zdref_sysfs_u64("zeroed_ahead") - ahead;
	unmap_kind(p, whole, fd);
	v = whole / PG / t;
	zero_row("zero_4k", "sustained", v, devdax_4k);
	printf("zero_4k      sustained: %llu of %zu pages were zeroed ahead\n",
	       (unsigned long long)ahead, whole / PG);
}

/*
 * Zeroing ahead (zero_ahead=), 4 KiB and 2 MiB faults of zdref:
 *   inline     zero_ahead=0: each page zeroed in its fault, as before;
 *   default    zero_ahead= as loaded by default (32M), the run started at once;
 *   ready      zero_ahead=1G, the run started once the work has zeroed
 *              the pool (what a device left alone for a moment has);
 *   sustained  default, over the whole 1 GiB pool straight after it was
 *              all written and freed: faults outrunning the work.
 * Beside memset() of anonymous memory, the guest's bandwidth for zeroing,
 * and the work's own rate: from load to 1 GiB zeroed.
 */
static void zero_rows(double devdax_4k, double devdax_2m)
{
	static const char *const modes[] = { "inline", "default", "ready" };
	static const char *const extra[] = {
		"zero_ahead=0", "", "zero_ahead=1G",
	};
	size_t whole = zdref_reserved_range().size;
	double t;
	int m;

	double memset_mbs = memset_rate(256UL << 20) / 1e6;

	printf("zero         memset %12.0f MB/s (anonymous memory, the guest's bandwidth)\n",
	       memset_mbs);
	for (m = 0; m < 3; m++) {
		if (!zdref_up_with("4K", extra[m]))
			return;
		settle = m == 2;
		zero_row("zero_4k", modes[m], faults(ZDREF, 256UL << 20, PG), devdax_4k);
		if (!zdref_up_with("2M", extra[m]))
			continue;
		zero_row("zero_2m", modes[m], faults(ZDREF, 512UL << 20, HP), devdax_2m);
	}
	settle = false;

	/* The work's rate: a fresh load of 1 GiB, all of it to be zeroed. */
	if (!zdref_up_with("4K", "zero_ahead=1G"))
		return;
	t = zdref_settle();
	if (t > 0) {
		printf("zero         work   %12.0f MB/s (zero_ahead=1G: %zu MiB zeroed",
		       whole / t / 1e6, whole >> 20);
		printf(" in %.2f s after the load)\n", t);
		record("zero_work", "MB/s", whole / t / 1e6, "memset", memset_mbs);
	}

	sustained_row(devdax_4k);
}

/*
 * poison=1 beside plain zdref: each freed page filled by a work item,
 * each page handed out again checked before it is zeroed.
 */
static void poison_rows(void)
{
	double plain[2], poisoned[2];
	const char *const names[2] = { "fault_4k", "roundtrip" };
	char figure[64];
	int i;

	if (!zdref_up("4K"))
		return;
	plain[0] = faults(ZDREF, 256UL << 20, PG);
	plain[1] = roundtrip(ZDREF);
	if (!zdref_up_with("4K", "poison=1")) {
		printf("poison       n/a (zdref refused poison=1: see dmesg)\n");
		return;
	}
	poisoned[0] = faults(ZDREF, 256UL << 20, PG);
	poisoned[1] = roundtrip(ZDREF);
	for (i = 0; i < 2; i++) {
		printf("poison       %-13s zdref %12.0f /s  poison=1 %12.0f /s  %s %.2f\n",
		       names[i], plain[i], poisoned[i], "poison/plain",
		       poisoned[i] / plain[i]);
		snprintf(figure, sizeof(figure), "poison_%s", names[i]);
		record(figure, "/s", poisoned[i], "plain", plain[i]);
	}
	if (zdref_sysfs_u64("poison_errors"))
		printf("# poison=1 reported %llu pages written while free: see dmesg\n",
		       (unsigned long long)zdref_sysfs_u64("poison_errors"));
}

int main(void)
{
	double v[NKINDS], devdax_4k;
	int k;

	printf("# zdref_bench: best of %d; rates per second, teardown in ms\n", RUNS);

	/* 4 KiB: zdref align=4K, anonymous without THP, device-dax align=4K. */
	if (!zdref_up("4K")) {
		printf("# cannot load zdref: see dmesg\n");
		return 1;
	}
	v[DEVDAX] = devdax_up("4K") ? 1 : 0;
	for (k = 0; k < NKINDS; k++)
		v[k] = k == DEVDAX && !v[DEVDAX] ? 0 : faults(k, 256UL << 20, PG);
	row("fault_4k", "/s", v);
	devdax_4k = v[DEVDAX];
	/* Under TCG's one host thread for every vCPU: contention, not scaling. */
	for (k = 0; k < NKINDS; k++)
		v[k] = k == DEVDAX && !devdax_4k ? 0 :
		       parallel_faults(k, 256UL << 20, PARALLEL);
	row("fault_4k_x" PARALLEL_S, "/s", v);
	for (k = 0; k < NKINDS; k++)
		v[k] = k == DEVDAX && access("/dev/dax0.0", F_OK) ? 0 : roundtrip(k);
	row("roundtrip", "/s", v);
	for (k = 0; k < NKINDS; k++)
		v[k] = k == DEVDAX && access("/dev/dax0.0", F_OK) ? 0 :
		       teardown(k, 512UL << 20);
	row("teardown", "ms", v);
	for (k = 0; k < NKINDS; k++)
		v[k] = k == DEVDAX && access("/dev/dax0.0", F_OK) ? 0 :
		       retouch(k, 256UL << 20);
	row("retouch_4k", "/s", v);
	if (zdref_up_with("4K", "fault_around=0")) {
		double none = retouch(ZDREF, 256UL << 20);

		printf("retouch_4k   fault_around=0 zdref %12.0f /s  %s %.2f\n",
		       none, "around/none", none ? v[ZDREF] / none : 0);
		record("retouch_4k_around", "/s", v[ZDREF], "none", none);
	}

	/* 2 MiB: zdref align=2M where the kernel allows it, THP, device-dax 2M. */
	v[ZDREF] = zdref_up("2M") ? faults(ZDREF, 512UL << 20, HP) : 0;
	v[ANON] = faults(ANON, 512UL << 20, HP);
	v[DEVDAX] = devdax_up("2M") ? faults(DEVDAX, 512UL << 20, HP) : 0;
	row("fault_2m", "/s", v);
	zero_rows(devdax_4k, v[DEVDAX]);

	/* Device-private: 4 KiB pages, then THPs, against anonymous faults. */
	migrate_rows("migrate", false);
	migrate_rows("migrate_2m", true);
	poison_rows();
	if (zdref_loaded())
		zdref_unload();
	return 0;
}
