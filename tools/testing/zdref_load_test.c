// SPDX-License-Identifier: GPL-2.0
/*
 * zdref's load selftests, run in a guest booted by scripts/vm with a
 * memmap=SIZE$START reserved range: loading and unloading with each type
 * the kernel supports, refusal of bad parameters with the right errno and
 * log line, the claimed range in /proc/iomem.
 */
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>

#include "zdref_util.h"

/*
 * Loads in a row of one kind: a resource a load leaks (the claimed range,
 * a minor, a class, a node) fails the next, and kmemleak sees each; five
 * loads, not more, since each is seconds on a debug kernel under TCG.
 */
#define LOADS	5

/*
 * type=private needs CONFIG_DEVICE_PRIVATE and what zdref's migrations
 * need exported (a 6.12 debug kernel has the first, not the second);
 * type=coherent the same migrations: does it load here?
 */
static bool type_supported(const char *type)
{
	struct zdref_range r;

	if (!strcmp(type, "private")) {
		if (!zdref_kconfig("DEVICE_PRIVATE") ||
		    zdref_load("type=private region=2M"))
			return false;
		return zdref_unload() == 0;
	}
	if (!strcmp(type, "coherent")) {
		r = zdref_reserved_range();
		if (zdref_load("type=coherent region=2M@0x%llx",
			       (unsigned long long)r.start))
			return false;
		return zdref_unload() == 0;
	}
	return true;
}

/* What a loaded zdref0 must show: sysfs, the device node, /proc/iomem. */
static void check_loaded(const char *type, const struct zdref_range *want)
{
	struct zdref_range got = { 0, 0 };
	struct stat st;
	char buf[64];

	ASSERT_TRUE(zdref_loaded());
	ASSERT_EQ(zdref_sysfs("type", buf, sizeof(buf)), 0);
	ASSERT_STREQ(buf, type);
	ASSERT_EQ(stat(ZDREF_DEV, &st), 0);
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	ASSERT_EQ(zdref_iomem_find("zdref", &got), 1);
	ASSERT_EQ_U(zdref_sysfs_u64("region_start"), got.start);
	ASSERT_EQ_U(zdref_sysfs_u64("region_size"), got.size);
	ASSERT_EQ(zdref_sysfs_u64("pages_total"), got.size / 4096);
	if (want) {
		ASSERT_EQ_U(got.start, want->start);
		ASSERT_EQ_U(got.size, want->size);
	}
}

/* 20 loads and unloads over the memmap= range. */
static void load_unload(const void *arg)
{
	const char *type = arg;
	struct zdref_range r = zdref_reserved_range();
	int i;

	if (!type_supported(type))
		SKIP("zdref refuses type=%s on this kernel (%s_unsupported says why)",
		     type, type);
	zdref_check_gone(1);
	for (i = 0; i < LOADS; i++) {
		ASSERT_EQ(zdref_load("region=%llu@0x%llx type=%s",
				     (unsigned long long)r.size,
				     (unsigned long long)r.start, type), 0);
		check_loaded(type, &r);
		ASSERT_EQ(zdref_unload(), 0);
		zdref_check_gone(1);
	}
}

/* Device-private memory needs no reserved range: a bare size suffices. */
static void load_unload_private_free_range(const void *arg)
{
	int i;

	if (!type_supported("private"))
		SKIP("zdref refuses type=private on this kernel (private_unsupported says why)");
	for (i = 0; i < LOADS; i++) {
		ASSERT_EQ(zdref_load("region=1G type=private"), 0);
		check_loaded("private", NULL);
		ASSERT_EQ(zdref_sysfs_u64("region_size"), 1ULL << 30);
		ASSERT_EQ(zdref_unload(), 0);
		zdref_check_gone(1);
	}
}

/*
 * Where the kernel cannot have a type, its load is refused with
 * EOPNOTSUPP and a line saying why: no DEVICE_PRIVATE, or no device
 * memory migration exported to modules.
 */
static void unsupported(const void *arg)
{
	struct zdref_range r = zdref_reserved_range();
	const char *type = arg, *log;
	char want[128];
	int kmsg;

	if (type_supported(type))
		SKIP("zdref loads type=%s on this kernel", type);
	snprintf(want, sizeof(want), "type=%s needs %s", type,
		 strcmp(type, "private") || zdref_kconfig("DEVICE_PRIVATE") ?
		 "device memory migration" :
		 "a kernel built with CONFIG_DEVICE_PRIVATE=y");
	kmsg = zdref_kmsg_open();
	ASSERT_ERRNO(zdref_load("region=%llu@0x%llx type=%s",
				(unsigned long long)r.size,
				(unsigned long long)r.start, type), EOPNOTSUPP);
	log = zdref_kmsg_read(kmsg);
	ASSERT_TRUE(strstr(log, want));
	zdref_check_gone(1);
}

/* One device's type and pages, as sysfs shows them. */
static void check_device(int dev, const char *type, uint64_t pages)
{
	char buf[64];

	ASSERT_EQ(zdref_sysfs_dev(dev, "type", buf, sizeof(buf)), 0);
	ASSERT_STREQ(buf, type);
	ASSERT_EQ_U(zdref_sysfs_dev_u64(dev, "pages_total"), pages);
	ASSERT_EQ_U(zdref_sysfs_dev_u64(dev, "pages_free"), pages);
}

/*
 * Devices of types of their own in one load, each over its own range:
 * two CPU-mapped ones over the two halves of the memmap= range; where the
 * kernel has device memory, hmm-tests' four (two private on free
 * ranges, two coherent over the halves).
 */
static void devices_of_many_types(const void *arg)
{
	struct zdref_range r = zdref_reserved_range();
	unsigned long long half = r.size / 2, a = r.start, b = r.start + half;

	ASSERT_EQ(zdref_load("devices=2 type=fsdax,generic region=%lluM@0x%llx,%lluM@0x%llx",
			     half >> 20, a, half >> 20, b), 0);
	check_device(0, "fsdax", half / PG);
	check_device(1, "generic", half / PG);
	ASSERT_EQ(zdref_devices(), 2);
	ASSERT_EQ(zdref_unload(), 0);
	zdref_check_gone(1);
	if (!type_supported("private") || !type_supported("coherent"))
		SKIP("checked fsdax,generic; %s",
		     "no device memory here (private_unsupported, coherent_unsupported say why)");
	ASSERT_EQ(zdref_load("devices=4 type=%s region=128M,128M,%lluM@0x%llx,%lluM@0x%llx",
			     "private,private,coherent,coherent",
			     half >> 20, a, half >> 20, b), 0);
	check_device(0, "private", 128 << 8);
	check_device(1, "private", 128 << 8);
	check_device(2, "coherent", half / PG);
	check_device(3, "coherent", half / PG);
	ASSERT_EQ(zdref_devices(), 4);
	ASSERT_EQ(zdref_unload(), 0);
	zdref_check_gone(1);
}

/*
 * region= is checked against the firmware's own memory map where the
 * kernel lets modules read it (sysfs firmware_map "checked": the memmap=
 * range passes without a warning); elsewhere ("unreadable") the load
 * says so in a warning.  firmware_reserved_refused loads over a range
 * the firmware reserved.
 */
static void firmware_map_reported(const void *arg)
{
	struct zdref_range r = zdref_reserved_range();
	int kmsg = zdref_kmsg_open();
	bool warned;
	char fw[32];

	ASSERT_EQ(zdref_load("region=%llu@0x%llx type=fsdax",
			     (unsigned long long)r.size,
			     (unsigned long long)r.start), 0);
	ASSERT_EQ(zdref_sysfs("firmware_map", fw, sizeof(fw)), 0);
	warned = strstr(zdref_kmsg_read(kmsg),
			"keeps the firmware's memory map from modules");
	zt_diag("firmware_map: %s, warned: %d", fw, warned);
	ASSERT_TRUE(!strcmp(fw, "checked") || !strcmp(fw, "unreadable"));
	ASSERT_EQ(warned, !strcmp(fw, "unreadable"));
	ASSERT_EQ(zdref_unload(), 0);
	zdref_check_gone(1);
}

/*
 * A 2 MiB-aligned 2 MiB that the firmware itself reserved (its own map,
 * /sys/firmware/memmap; qemu reserves AMD's HyperTransport hole at
 * 0xfd00000000) and that /proc/iomem shows Reserved too, as a memmap=
 * range would be: 1 and its start in @start, or 0.
 */
/* Does a "Reserved" line of /proc/iomem cover [@start, @start + @size)? */
static bool iomem_reserved_covers(uint64_t start, uint64_t size)
{
	FILE *f = fopen("/proc/iomem", "r");
	unsigned long long s, e;
	char line[256];
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f))
		found = sscanf(line, " %llx-%llx : Reserved", &s, &e) == 2 &&
			strstr(line, ": Reserved") && s <= start && start + size - 1 <= e;
	if (f)
		fclose(f);
	return found;
}

static int firmware_reserved_2m(uint64_t *start)
{
	char path[96], type[64];
	unsigned long long s, e;
	int i;

	for (i = 0; i < 256; i++) {
		FILE *f;
		int n = 0;

		snprintf(path, sizeof(path), "/sys/firmware/memmap/%d/type", i);
		f = fopen(path, "r");
		if (!f)
			break;
		n += fscanf(f, "%63[^\n]", type);
		fclose(f);
		snprintf(path, sizeof(path), "/sys/firmware/memmap/%d/start", i);
		f = fopen(path, "r");
		n += f ? fscanf(f, "%llx", &s) : 0;
		if (f)
			fclose(f);
		snprintf(path, sizeof(path), "/sys/firmware/memmap/%d/end", i);
		f = fopen(path, "r");
		n += f ? fscanf(f, "%llx", &e) : 0;
		if (f)
			fclose(f);
		if (n != 3 || strcmp(type, "Reserved"))
			continue;
		s = (s + HP - 1) & ~(HP - 1);
		if (s + HP - 1 > e || !iomem_reserved_covers(s, HP))
			continue;
		*start = s;
		return 1;
	}
	return 0;
}

static void firmware_reserved_refused(const void *arg)
{
	struct zdref_range r = zdref_reserved_range();
	uint64_t start;
	char fw[32];
	int kmsg;

	ASSERT_EQ(zdref_load("region=%llu@0x%llx type=fsdax",
			     (unsigned long long)r.size,
			     (unsigned long long)r.start), 0);
	ASSERT_EQ(zdref_sysfs("firmware_map", fw, sizeof(fw)), 0);
	ASSERT_EQ(zdref_unload(), 0);
	/* Where zdref cannot tell, it must not be pointed at firmware memory. */
	if (strcmp(fw, "checked"))
		SKIP("firmware_map is %s: this kernel keeps the firmware's map from modules", fw);
	if (!firmware_reserved_2m(&start))
		SKIP("the firmware reserved no 2 MiB-aligned 2 MiB here");
	zt_diag("insmod zdref.ko region=2M@0x%llx type=fsdax", (unsigned long long)start);
	kmsg = zdref_kmsg_open();
	ASSERT_ERRNO(zdref_load("region=2M@0x%llx type=fsdax", (unsigned long long)start),
		     EINVAL);
	ASSERT_TRUE(strstr(zdref_kmsg_read(kmsg), "the firmware reserved part of it itself"));
	zdref_check_gone(1);
}

/* An open device holds the module: rmmod is refused until the close. */
static void unload_while_open(const void *arg)
{
	struct zdref_range r = zdref_reserved_range();
	int fd;

	ASSERT_EQ(zdref_load("region=%llu@0x%llx type=generic",
			     (unsigned long long)r.size,
			     (unsigned long long)r.start), 0);
	fd = open(ZDREF_DEV, O_RDWR);
	ASSERT_GE(fd, 0);
	ASSERT_ERRNO(zdref_unload(), EWOULDBLOCK);
	check_loaded("generic", &r);
	close(fd);
	ASSERT_EQ(zdref_unload(), 0);
	zdref_check_gone(1);
}

/* A getdents64() of /dev into a page that userfaultfd holds back. */
struct dev_reader {
	int dir;
	void *page;
	long ret;
};

static void *read_dev(void *arg)
{
	struct dev_reader *rd = arg;

	rd->ret = syscall(SYS_getdents64, rd->dir, rd->page, 4096);
	return NULL;
}

/* The major of character device @name in /proc/devices, or -1. */
static int chrdev_major(const char *name)
{
	char line[128], n[64];
	FILE *f = fopen("/proc/devices", "r");
	int major = -1, m;

	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Block", 5))
			break;
		if (sscanf(line, "%d %63s", &m, n) == 2 && !strcmp(n, name))
			major = m;
	}
	if (f)
		fclose(f);
	return major;
}

/*
 * No file from a load that has not returned: a device's cdev is live from
 * cdev_device_add() on, and a later failure in zdref_init() would free
 * the module under the file.  The load is held inside zdref_init(), in
 * zdref0's device_add(), after cdev_add(): devtmpfs makes the node under
 * the lock of /dev's inode, and a getdents64() of /dev holds that lock
 * while its copy to user space waits for userfaultfd.  Meanwhile an open
 * of the device (through a node made elsewhere with mknod) must fail with
 * ENODEV and a line saying when to open it; once the fault is served the
 * load returns 0 and opens work.  Until then no path in /dev may be
 * looked up here: the lookup would queue on that lock behind devtmpfs.
 */
static void open_while_loading(const void *arg)
{
	struct zdref_range r = zdref_reserved_range();
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_zeropage zero = { 0 };
	struct dev_reader rd;
	struct uffd_msg msg;
	struct pollfd pfd;
	char node[] = "/tmp/zdref-loading", sysdev[64], *log;
	pthread_t reader;
	int uffd, major = -1, fd, i, status, kmsg, early;
	pid_t loader;

	/* Nothing in /dev is looked up from here until the fault is served. */
	kmsg = zdref_kmsg_open();
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC);
	if (uffd < 0)
		SKIP("no userfaultfd (%s): nothing can hold the load", strerror(errno));
	ASSERT_EQ(ioctl(uffd, UFFDIO_API, &api), 0);
	rd.page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(rd.page != MAP_FAILED);
	reg.range.start = (uintptr_t)rd.page;
	reg.range.len = 4096;
	ASSERT_EQ(ioctl(uffd, UFFDIO_REGISTER, &reg), 0);
	rd.dir = open("/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(rd.dir, 0);
	ASSERT_EQ(pthread_create(&reader, NULL, read_dev, &rd), 0);
	/* The fault: getdents64() now holds /dev's lock. */
	pfd.fd = uffd;
	pfd.events = POLLIN;
	ASSERT_EQ(poll(&pfd, 1, 10000), 1);
	ASSERT_EQ(read(uffd, &msg, sizeof(msg)), (ssize_t)sizeof(msg));
	ASSERT_EQ(msg.event, UFFD_EVENT_PAGEFAULT);

	loader = fork();
	ASSERT_GE(loader, 0);
	if (loader == 0)
		_exit(-zdref_load("region=2M@0x%llx type=fsdax",
				  (unsigned long long)r.start));
	/* zdref0's "dev" link is made just before its node. */
	for (i = 0; i < 10000; i++) {
		major = chrdev_major("zdref");
		snprintf(sysdev, sizeof(sysdev), "/sys/dev/char/%d:0", major);
		if (major >= 0 && !access(sysdev, F_OK))
			break;
		usleep(1000);
	}
	ASSERT_TRUE(major >= 0 && !access(sysdev, F_OK));
	ASSERT_EQ(waitpid(loader, &status, WNOHANG), 0);

	ASSERT_EQ(mknod(node, S_IFCHR | 0600, makedev(major, 0)), 0);
	fd = open(node, O_RDWR | O_CLOEXEC);
	early = fd < 0 ? -errno : 0;
	if (fd >= 0) {
		zt_diag("an open of zdref0 got a file while the load was in zdref_init()");
		close(fd);
	}
	ASSERT_EQ(waitpid(loader, &status, WNOHANG), 0);

	/* Let getdents64() go: devtmpfs makes the nodes, the load returns. */
	zero.range = reg.range;
	ASSERT_EQ(ioctl(uffd, UFFDIO_ZEROPAGE, &zero), 0);
	ASSERT_EQ(pthread_join(reader, NULL), 0);
	ASSERT_GT(rd.ret, 0);
	ASSERT_EQ(waitpid(loader, &status, 0), loader);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	log = zdref_kmsg_read(kmsg);
	fd = open(node, O_RDWR | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_EQ(unlink(node), 0);
	ASSERT_EQ(zdref_unload(), 0);
	zdref_check_gone(1);
	close(rd.dir);
	close(uffd);
	/* Checked last, so that a failure leaves nothing loaded. */
	ASSERT_ERRNO(early, ENODEV);
	ASSERT_TRUE(strstr(log, "open it once modprobe has returned"));
	free(log);
}

/* The first 2 MiB-aligned 2 MiB of System RAM above 16 MiB. */
static struct zdref_range system_ram(void)
{
	struct zdref_range r = { 0, HP };
	char line[256];
	FILE *f = fopen("/proc/iomem", "r");

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long s, e;

		if (sscanf(line, "%llx-%llx : System RAM", &s, &e) != 2 ||
		    !strstr(line, "System RAM"))
			continue;
		if (s < (16ULL << 20))
			s = 16ULL << 20;
		s = (s + HP - 1) & ~(HP - 1);
		if (s + HP - 1 <= e) {
			r.start = s;
			break;
		}
	}
	if (f)
		fclose(f);
	if (!r.start) {
		zt_diag("no System RAM range of 2 MiB above 16 MiB in /proc/iomem");
		exit(1);
	}
	return r;
}

enum bad_adjust {
	KEEP,			/* the reserved range as it is */
	START_PLUS_4K,		/* page aligned, not 2 MiB aligned */
	SIZE_MINUS_4K,
	SIZE_TIMES_2,		/* runs past the end of the reserved range */
	START_IN_RAM,		/* 2 MiB of System RAM */
};

struct bad_param {
	const char *name;
	/* %1$llu and %2$llx: the size and start, after @adjust. */
	const char *fmt;
	enum bad_adjust adjust;
	int err;
	const char *log, *log_alt;
};

static const struct bad_param bad_params[] = {
	{
		.name = "bad_unaligned_start",
		.fmt = "region=%1$llu@0x%2$llx type=fsdax",
		.adjust = START_PLUS_4K,
		.err = EINVAL,
		.log = "must be multiples of 2 MiB",
	},
	{
		.name = "bad_unaligned_size",
		.fmt = "region=%1$llu@0x%2$llx type=generic",
		.adjust = SIZE_MINUS_4K,
		.err = EINVAL,
		.log = "must be multiples of 2 MiB",
	},
	{
		.name = "bad_zero_size",
		.fmt = "region=0@0x%2$llx type=fsdax",
		.adjust = KEEP,
		.err = EINVAL,
		.log = "size is zero",
	},
	{
		.name = "bad_system_ram",
		.fmt = "region=2M@0x%2$llx type=fsdax",
		.adjust = START_IN_RAM,
		.err = EINVAL,
		.log = "overlaps System RAM",
	},
	{
		.name = "bad_not_reserved",
		.fmt = "region=2M@0x10000000000 type=generic",
		.adjust = KEEP,
		.err = EINVAL,
		.log = "not inside a reserved range",
	},
	{
		.name = "bad_straddles_reserved_end",
		.fmt = "region=%1$llu@0x%2$llx type=fsdax",
		.adjust = SIZE_TIMES_2,
		.err = EINVAL,
		.log = "overlaps System RAM",
		.log_alt = "not inside a reserved range",
	},
	{
		.name = "bad_unknown_type",
		.fmt = "region=%1$llu@0x%2$llx type=bogus",
		.adjust = KEEP,
		.err = EINVAL,
		.log = "unknown type bogus: use fsdax, generic, private or coherent",
	},
	{
		.name = "bad_unknown_type_in_list",
		.fmt = "region=2M@0x%2$llx,2M@0x%2$llx devices=2 type=generic,bogus",
		.adjust = KEEP,
		.err = EINVAL,
		.log = "type=generic,bogus: unknown type bogus",
	},
	{
		.name = "bad_too_many_devices",
		.fmt = "region=%1$llu@0x%2$llx type=fsdax devices=5",
		.adjust = KEEP,
		.err = EINVAL,
		.log = "devices=5: give 1 to 4",
	},
	{
		.name = "bad_type_list_length",
		.fmt = "region=%1$llu@0x%2$llx type=fsdax,generic devices=3",
		.adjust = KEEP,
		.err = EINVAL,
		.log = "type= gives 2 entries for devices=3",
	},
	{
		.name = "bad_region_list_too_long",
		.fmt = "region=2M@0x%2$llx,2M@0x%2$llx,2M@0x%2$llx type=fsdax devices=2",
		.adjust = KEEP,
		.err = EINVAL,
		.log = "region= gives more than 2 entries for devices=2",
	},
	{
		.name = "bad_shared_range",
		.fmt = "region=%1$llu@0x%2$llx type=generic devices=2",
		.adjust = KEEP,
		.err = EINVAL,
		.log = "type=generic needs a range of its own",
	},
	{
		/* The second claim of the same range: busy, all undone. */
		.name = "bad_overlapping_ranges",
		.fmt = "region=2M@0x%2$llx,2M@0x%2$llx type=fsdax devices=2",
		.adjust = KEEP,
		.err = EBUSY,
		.log = "busy, another driver holds part of it",
	},
	{
		.name = "bad_missing_region",
		.fmt = "type=fsdax",
		.adjust = KEEP,
		.err = EINVAL,
		.log = "region= is missing",
	},
	{
		.name = "bad_garbage_region",
		.fmt = "region=lots type=fsdax",
		.adjust = KEEP,
		.err = EINVAL,
		.log = "expected SIZE@START",
	},
	{
		/* memparse() would wrap it to 1 GiB */
		.name = "bad_overflowing_size",
		.fmt = "region=17179869185G@0x%2$llx type=fsdax",
		.adjust = KEEP,
		.err = EINVAL,
		.log = "a size or start past 2^64 bytes",
	},
	{
		.name = "bad_overflowing_start",
		.fmt = "region=2M@0xffffffffffffffffff type=generic",
		.adjust = KEEP,
		.err = EINVAL,
		.log = "a size or start past 2^64 bytes",
	},
	{
		.name = "bad_scope",
		.fmt = "region=%1$llu@0x%2$llx type=fsdax scope=everyone",
		.adjust = KEEP,
		.err = EINVAL,
		.log = "scope=everyone: unknown scope everyone: use file or device",
	},
	{
		.name = "bad_scope_list_length",
		.fmt = "region=2M@0x%2$llx type=fsdax scope=device,file,device devices=1",
		.adjust = KEEP,
		.err = EINVAL,
		.log = "scope= gives more than 1 entries for devices=1",
	},
	{
		.name = "bad_zero_ahead",
		.fmt = "region=%1$llu@0x%2$llx type=fsdax zero_ahead=lots",
		.adjust = KEEP,
		.err = EINVAL,
		.log = "zero_ahead=lots: give a size, such as 64M, or 0",
	},
	{
		.name = "bad_fault_around",
		.fmt = "region=%1$llu@0x%2$llx type=fsdax fault_around=48K",
		.adjust = KEEP,
		.err = EINVAL,
		.log = "fault_around=48K: give a power of two from 4K to 2M, such as 64K, or 0",
	},
	{
		.name = "bad_fault_around_size",
		.fmt = "region=%1$llu@0x%2$llx type=fsdax fault_around=4M",
		.adjust = KEEP,
		.err = EINVAL,
		.log = "fault_around=4M: give a power of two",
	},
	{
		.name = "bad_fault_around_small",
		.fmt = "region=%1$llu@0x%2$llx type=fsdax fault_around=2K",
		.adjust = KEEP,
		.err = EINVAL,
		.log = "fault_around=2K: give a power of two",
	},
	{
		.name = "bad_fsdax_without_start",
		.fmt = "region=%1$llu type=fsdax",
		.adjust = KEEP,
		.err = EINVAL,
		.log = "type=fsdax needs a start",
	},
};

static void bad_param(const void *arg)
{
	const struct bad_param *bp = arg;
	struct zdref_range r = zdref_reserved_range();
	unsigned long long size = r.size, start = r.start;
	char params[256];
	char *log;
	int kmsg;

	switch (bp->adjust) {
	case KEEP:
		break;
	case START_PLUS_4K:
		start += 4096;
		break;
	case SIZE_MINUS_4K:
		size -= 4096;
		break;
	case SIZE_TIMES_2:
		size *= 2;
		break;
	case START_IN_RAM:
		start = system_ram().start;
		break;
	}
	snprintf(params, sizeof(params), bp->fmt, size, start);
	zt_diag("insmod zdref.ko %s", params);
	kmsg = zdref_kmsg_open();
	ASSERT_ERRNO(zdref_load("%s", params), bp->err);
	log = zdref_kmsg_read(kmsg);
	ASSERT_TRUE(strstr(log, bp->log) ||
		    (bp->log_alt && strstr(log, bp->log_alt)));
	free(log);
	zdref_check_gone(1);
	/*
	 * Nothing leaked by the failed load: the next one works.  Over the
	 * first 2 MiB, which every failed range here overlaps (or the
	 * iomem check above saw its claim): an unload of the whole range is
	 * seconds of a debug kernel, for each of these tests.
	 */
	ASSERT_EQ(zdref_load("region=2M@0x%llx type=generic",
			     (unsigned long long)r.start), 0);
	ASSERT_EQ(zdref_unload(), 0);
}

/* A device-private device's files are mirrors: scope=device is refused. */
static void scope_device_refused_for_mirrors(const void *arg)
{
	int kmsg, ret;
	char *log;

	if (zdref_loaded())
		zdref_unload();
	kmsg = zdref_kmsg_open();
	ret = zdref_load("region=64M type=private scope=device");
	log = zdref_kmsg_read(kmsg);
	if (ret == -EOPNOTSUPP && strstr(log, "type=private needs"))
		SKIP("no device-private memory here: %s", "its own refusal comes first");
	ASSERT_ERRNO(ret, EINVAL);
	ASSERT_TRUE(strstr(log, "scope=device: a type=private device's files are mirrors"));
	free(log);
	zdref_check_gone(1);
}

static const struct zt_test tests[] = {
	ZT_NAMED("load_unload_5x_fsdax", load_unload, "fsdax"),
	ZT_NAMED("load_unload_5x_generic", load_unload, "generic"),
	ZT_NAMED("load_unload_5x_private", load_unload, "private"),
	ZT_NAMED("load_unload_5x_coherent", load_unload, "coherent"),
	ZT(load_unload_private_free_range, NULL),
	ZT_NAMED("private_unsupported", unsupported, "private"),
	ZT_NAMED("coherent_unsupported", unsupported, "coherent"),
	ZT(devices_of_many_types, NULL),
	ZT(unload_while_open, NULL),
	ZT(open_while_loading, NULL),
	ZT(firmware_map_reported, NULL),
	ZT(firmware_reserved_refused, NULL),
	ZT(scope_device_refused_for_mirrors, NULL),
};

int main(void)
{
	struct zt_test all[ZT_COUNT(tests) + ZT_COUNT(bad_params)];
	size_t i, n = 0;

	for (i = 0; i < ZT_COUNT(tests); i++)
		all[n++] = tests[i];
	for (i = 0; i < ZT_COUNT(bad_params); i++)
		all[n++] = (struct zt_test)ZT_NAMED(bad_params[i].name,
						    bad_param, &bad_params[i]);
	return zt_run(all, n);
}
