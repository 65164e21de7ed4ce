// SPDX-License-Identifier: GPL-2.0
/*
 * zdref's stress selftest: 2 x vCPUs workers, for a bounded time per type,
 * each doing a random mix of what real users do to device pages: open,
 * mmap, touch with a pattern, fork, MADV_DONTNEED, mremap, partial munmap
 * and remap, vmsplice, O_DIRECT to a RAM disk (brd), process_vm_readv,
 * ZDREF_IOC_RELEASE, close and reopen, and SIGKILL of children that hold
 * pages and pipe pins; on device-private devices, migrations to and from
 * the device, device reads and CPU faults instead.  Every page read back
 * must hold what its owner last wrote; at the end every unit handed out
 * was freed once (allocs == frees, pages_free == pages_total, no bad
 * free) and the module unloads.  scripts/vm fails the boot on any kernel
 * warning.  60 s in all on a stock kernel, 180 s on a debug kernel
 * (CONFIG_KASAN), shared among the types the kernel has.
 *
 * ZDREF_STRESS_SEED=N repeats a run's choices (each worker's seed is N
 * plus its number); the seed is printed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <time.h>

#include "zdref_util.h"
#include "../../include/uapi/zdref.h"

#define PAGE		4096UL
#define NPAGES		16UL	/* each worker's mapping */
#define REGION		"32M"

enum op {
	OP_TOUCH, OP_VERIFY, OP_FORK, OP_DONTNEED, OP_MREMAP, OP_UNMAP,
	OP_REMAP, OP_VMSPLICE, OP_ODIRECT, OP_VM_READV, OP_RELEASE,
	OP_REOPEN, OP_KILL,
	/* device-private */
	OP_TO_DEV, OP_TO_SYS, OP_DEV_READ,
	OP_COUNT
};

static const char * const op_names[OP_COUNT] = {
	"touch", "verify", "fork", "dontneed", "mremap", "munmap", "remap",
	"vmsplice", "odirect", "vm_readv", "release", "reopen", "kill",
	"to_dev", "to_sys", "dev_read",
};

static const enum op file_ops[] = {
	OP_TOUCH, OP_TOUCH, OP_TOUCH, OP_VERIFY, OP_FORK, OP_DONTNEED,
	OP_MREMAP, OP_UNMAP, OP_REMAP, OP_VMSPLICE, OP_ODIRECT, OP_VM_READV,
	OP_RELEASE, OP_REOPEN, OP_KILL,
};

static const enum op private_ops[] = {
	OP_TOUCH, OP_TOUCH, OP_VERIFY, OP_FORK, OP_DONTNEED, OP_TO_DEV,
	OP_TO_DEV, OP_TO_SYS, OP_DEV_READ, OP_REOPEN, OP_KILL,
};

struct shared {
	unsigned long ops[OP_COUNT];
};

/* One worker's view: what each page of its mapping must hold. */
struct worker {
	int id;
	bool private;
	int fd;			/* the device file (a mirror for private) */
	char *map;		/* NPAGES pages */
	char *spare;		/* a PROT_NONE hole of the same size, for mremap */
	char *scratch;		/* a page to read into (O_DIRECT: page-aligned) */
	uint64_t expect[NPAGES];	/* the page's tag; 0: zero-filled */
	bool mapped[NPAGES];
	uint64_t gen;
	unsigned int seed;
	int ramdisk;		/* O_DIRECT fd of brd, or -1 */
	struct shared *sh;
};

static unsigned int rnd(struct worker *w, unsigned int n)
{
	return rand_r(&w->seed) % n;
}

static void fill(void *p, uint64_t tag)
{
	uint64_t *q = p;
	size_t i;

	for (i = 0; i < PAGE / 8; i++)
		q[i] = tag ? tag ^ i : 0;
}

/* Does @p hold @tag's pattern?  Says where it does not. */
static bool holds(const void *p, uint64_t tag, const char *what, int page)
{
	const uint64_t *q = p;
	size_t i;

	for (i = 0; i < PAGE / 8; i++) {
		if (q[i] != (tag ? tag ^ i : 0)) {
			zt_diag("%s: page %d word %zu is 0x%llx, not 0x%llx",
				what, page, i, (unsigned long long)q[i],
				(unsigned long long)(tag ? tag ^ i : 0));
			return false;
		}
	}
	return true;
}

static uint64_t new_tag(struct worker *w, int page)
{
	return ((uint64_t)(w->id + 1) << 48) | ((uint64_t)page << 40) | ++w->gen;
}

static void open_map(struct worker *w)
{
	int i;

	w->fd = open(ZDREF_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_GE(w->fd, 0);
	if (w->private)
		w->map = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else
		w->map = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
			      MAP_SHARED, w->fd, 0);
	ASSERT_TRUE(w->map != MAP_FAILED);
	for (i = 0; i < (int)NPAGES; i++) {
		w->expect[i] = 0;
		w->mapped[i] = true;
	}
}

static void close_map(struct worker *w)
{
	ASSERT_EQ(munmap(w->map, NPAGES * PAGE), 0);
	close(w->fd);
}

static int mapped_page(struct worker *w)
{
	int i = rnd(w, NPAGES), n;

	for (n = 0; n < (int)NPAGES; n++, i = (i + 1) % NPAGES)
		if (w->mapped[i])
			return i;
	return -1;
}

static void verify_all(struct worker *w, const char *what)
{
	int i;

	for (i = 0; i < (int)NPAGES; i++)
		if (w->mapped[i])
			ASSERT_TRUE(holds(w->map + i * PAGE, w->expect[i], what, i));
}

/* A mirror command over the whole mapping; @buf: NPAGES pages, the device's copy. */
static int hmm(struct worker *w, unsigned long req, void *buf)
{
	static char bounce[NPAGES * PAGE];
	struct zdref_hmm_cmd c = {
		.addr = (uintptr_t)w->map,
		.ptr = (uintptr_t)(buf ? buf : bounce),
		.npages = NPAGES,
	};

	return ioctl(w->fd, req, &c) ? -errno : 0;
}

/* A child that holds pages and pipe pins until SIGKILL ends it. */
static noreturn void doomed_child(struct worker *w)
{
	struct iovec iov;
	int p[2], i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	close(w->fd);
	if (w->private) {
		/* Its copies of the parent's pages, on the device. */
		w->fd = open(ZDREF_DEV, O_RDWR | O_CLOEXEC);
		hmm(w, ZDREF_HMM_MIGRATE_TO_DEV, NULL);
	} else {
		open_map(w);
	}
	if (pipe(p))
		_exit(1);
	for (i = 0;; i = (i + 1) % NPAGES) {
		fill(w->map + i * PAGE, new_tag(w, i));
		iov.iov_base = w->map + i * PAGE;
		iov.iov_len = PAGE;
		/* Pins the page until the pipe goes, with the process. */
		if (i < 8)
			vmsplice(p[1], &iov, 1, SPLICE_F_NONBLOCK);
	}
}

static void do_op(struct worker *w, enum op op)
{
	char *buf = w->scratch;
	struct zdref_release rel = { .length = PAGE, .timeout_ms = 5000 };
	struct iovec local, remote;
	int i = mapped_page(w), p[2], status;
	uint64_t tag;
	pid_t pid;
	void *moved;

	switch (op) {
	case OP_TOUCH:
		if (i < 0)
			return;
		w->expect[i] = new_tag(w, i);
		fill(w->map + i * PAGE, w->expect[i]);
		break;
	case OP_VERIFY:
		verify_all(w, "verify");
		break;
	case OP_FORK:
		if (i < 0)
			return;
		tag = new_tag(w, i);
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			verify_all(w, "a child's view");
			fill(w->map + i * PAGE, tag);
			ASSERT_TRUE(holds(w->map + i * PAGE, tag, "a child's write", i));
			_exit(0);
		}
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		/* A shared mapping sees the child's write; a private one not. */
		if (!w->private)
			w->expect[i] = tag;
		verify_all(w, "after a child");
		break;
	case OP_DONTNEED:
		if (i < 0)
			return;
		ASSERT_EQ(madvise(w->map + i * PAGE, PAGE, MADV_DONTNEED), 0);
		/* The file keeps its page; anonymous memory loses it. */
		if (w->private)
			w->expect[i] = 0;
		ASSERT_TRUE(holds(w->map + i * PAGE, w->expect[i], "after MADV_DONTNEED", i));
		break;
	case OP_MREMAP:
		for (i = 0; i < (int)NPAGES; i++)
			if (!w->mapped[i])
				return;
		/*
		 * A page at a time: a remapped page is a VMA of its own where
		 * the kernel does not merge VMAs with a ->close (6.1), and
		 * mremap() moves no range across VMAs.
		 */
		for (i = 0; i < (int)NPAGES; i++) {
			moved = mremap(w->map + i * PAGE, PAGE, PAGE,
				       MREMAP_MAYMOVE | MREMAP_FIXED, w->spare + i * PAGE);
			if (moved != w->spare + i * PAGE)
				zt_diag("mremap: %s", strerror(errno));
			ASSERT_TRUE(moved == w->spare + i * PAGE);
		}
		moved = w->spare;
		w->spare = mmap(w->map, NPAGES * PAGE, PROT_NONE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		ASSERT_TRUE(w->spare == w->map);
		w->map = moved;
		verify_all(w, "after mremap");
		break;
	case OP_UNMAP:
		if (i < 0)
			return;
		ASSERT_EQ(munmap(w->map + i * PAGE, PAGE), 0);
		w->mapped[i] = false;
		break;
	case OP_REMAP:
		for (i = 0; i < (int)NPAGES; i++) {
			if (w->mapped[i])
				continue;
			ASSERT_TRUE(mmap(w->map + i * PAGE, PAGE, PROT_READ | PROT_WRITE,
					 MAP_SHARED | MAP_FIXED, w->fd, i * PAGE) ==
				    w->map + i * PAGE);
			w->mapped[i] = true;
			ASSERT_TRUE(holds(w->map + i * PAGE, w->expect[i], "remapped", i));
		}
		break;
	case OP_VMSPLICE:
		if (i < 0)
			return;
		ASSERT_EQ(pipe(p), 0);
		local.iov_base = w->map + i * PAGE;
		local.iov_len = PAGE;
		ASSERT_EQ(vmsplice(p[1], &local, 1, 0), (ssize_t)PAGE);
		ASSERT_EQ(read(p[0], buf, PAGE), (ssize_t)PAGE);
		ASSERT_TRUE(holds(buf, w->expect[i], "through a pipe", i));
		close(p[0]);
		close(p[1]);
		break;
	case OP_ODIRECT:
		if (i < 0 || w->ramdisk < 0)
			return;
		/* brd's 4 MiB: one slot a page of each worker. */
		ASSERT_EQ(pwrite(w->ramdisk, w->map + i * PAGE, PAGE,
				 (w->id * NPAGES + i) * PAGE), (ssize_t)PAGE);
		ASSERT_EQ(pread(w->ramdisk, buf, PAGE, (w->id * NPAGES + i) * PAGE),
			  (ssize_t)PAGE);
		ASSERT_TRUE(holds(buf, w->expect[i], "through O_DIRECT", i));
		/* And back: O_DIRECT reads into the device page. */
		ASSERT_EQ(pread(w->ramdisk, w->map + i * PAGE, PAGE,
				(w->id * NPAGES + i) * PAGE), (ssize_t)PAGE);
		ASSERT_TRUE(holds(w->map + i * PAGE, w->expect[i], "O_DIRECT read", i));
		break;
	case OP_VM_READV:
		if (i < 0)
			return;
		local.iov_base = buf;
		local.iov_len = PAGE;
		remote.iov_base = w->map + i * PAGE;
		remote.iov_len = PAGE;
		ASSERT_EQ(process_vm_readv(getpid(), &local, 1, &remote, 1, 0),
			  (ssize_t)PAGE);
		ASSERT_TRUE(holds(buf, w->expect[i], "process_vm_readv", i));
		break;
	case OP_RELEASE:
		if (i < 0)
			return;
		rel.offset = i * PAGE;
		ASSERT_EQ(ioctl(w->fd, ZDREF_IOC_RELEASE, &rel), 0);
		/* Given back: the next touch gets a fresh, zeroed page. */
		w->expect[i] = 0;
		ASSERT_TRUE(holds(w->map + i * PAGE, 0, "after RELEASE", i));
		break;
	case OP_REOPEN:
		for (i = 0; i < (int)NPAGES; i++)
			if (!w->mapped[i])
				ASSERT_TRUE(mmap(w->map + i * PAGE, PAGE, PROT_NONE,
						 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
						 -1, 0) != MAP_FAILED);
		close_map(w);
		open_map(w);
		break;
	case OP_KILL:
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0)
			doomed_child(w);
		usleep(rnd(w, 20000));
		kill(pid, SIGKILL);
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		ASSERT_TRUE(WIFSIGNALED(status));
		verify_all(w, "after a killed child");
		break;
	case OP_TO_DEV:
		ASSERT_EQ(hmm(w, ZDREF_HMM_MIGRATE_TO_DEV, NULL), 0);
		break;
	case OP_TO_SYS:
		ASSERT_EQ(hmm(w, ZDREF_HMM_MIGRATE_TO_SYS, NULL), 0);
		verify_all(w, "migrated back");
		break;
	case OP_DEV_READ: {
		static char big[NPAGES * PAGE];

		ASSERT_EQ(hmm(w, ZDREF_HMM_READ, big), 0);
		for (i = 0; i < (int)NPAGES; i++)
			ASSERT_TRUE(holds(big + i * PAGE, w->expect[i], "read by the device", i));
		break;
	}
	default:
		return;
	}
	__atomic_fetch_add(&w->sh->ops[op], 1, __ATOMIC_RELAXED);
}

static noreturn void worker_run(struct worker *w, double seconds)
{
	const enum op *ops = w->private ? private_ops : file_ops;
	size_t nops = w->private ? ZT_COUNT(private_ops) : ZT_COUNT(file_ops);
	struct timespec t0, t;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	w->ramdisk = w->private ? -1 : open(ZDREF_RAMDISK, O_RDWR | O_DIRECT | O_CLOEXEC);
	w->spare = mmap(NULL, NPAGES * PAGE, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	w->scratch = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(w->spare != MAP_FAILED && w->scratch != MAP_FAILED);
	open_map(w);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		do_op(w, ops[rnd(w, nops)]);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
	verify_all(w, "at the end");
	_exit(0);
}

/* The types this kernel gives zdref: private only where it loads. */
static int types_here(void)
{
	if (zdref_load("type=private region=2M"))
		return 2;
	ASSERT_EQ(zdref_unload(), 0);
	return 3;
}

static unsigned int base_seed(void)
{
	const char *s = getenv("ZDREF_STRESS_SEED");

	return s ? strtoul(s, NULL, 0) : (unsigned int)time(NULL);
}

static void stress(const void *arg)
{
	const char *type = arg;
	struct zdref_range r = zdref_reserved_range();
	int nworkers = 2 * sysconf(_SC_NPROCESSORS_ONLN), i, status, bad = 0;
	bool private = !strcmp(type, "private");
	unsigned int seed = base_seed();
	double seconds = (zdref_kconfig("KASAN") ? 180.0 : 60.0) / types_here();
	char params[192], line[1024];
	uint64_t total = 0;
	struct shared *sh;
	int ret;
	size_t n;

	if (private)
		snprintf(params, sizeof(params), "type=private region=" REGION);
	else
		snprintf(params, sizeof(params), "type=%s region=" REGION "@0x%llx",
			 type, (unsigned long long)r.start);
	if (zdref_loaded())
		ASSERT_EQ(zdref_unload(), 0);
	ret = zdref_load("%s", params);
	if (ret == -EOPNOTSUPP)
		SKIP("%s: zdref refuses it on this kernel", params);
	ASSERT_EQ(ret, 0);
	if (!private && !zdref_ramdisk())
		zt_diag("no %s (brd): no O_DIRECT in the mix", ZDREF_RAMDISK);

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(sh != MAP_FAILED);
	zt_diag("%s: %d workers for %.0f s, seed %u (ZDREF_STRESS_SEED)",
		params, nworkers, seconds, seed);
	for (i = 0; i < nworkers; i++) {
		pid_t pid = fork();

		ASSERT_GE(pid, 0);
		if (pid == 0) {
			struct worker w = {
				.id = i, .private = private,
				.seed = seed + i, .sh = sh,
			};

			worker_run(&w, seconds);
		}
	}
	for (i = 0; i < nworkers; i++) {
		ASSERT_GT(wait(&status), 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			bad++;
	}
	n = 0;
	for (i = 0; i < OP_COUNT; i++) {
		if (!sh->ops[i])
			continue;
		total += sh->ops[i];
		n += snprintf(line + n, sizeof(line) - n, " %s %.0f/s", op_names[i],
			      sh->ops[i] / seconds);
	}
	zt_diag("%s: %llu operations,%s", type, (unsigned long long)total, line);
	ASSERT_EQ(bad, 0);
	ASSERT_GT(total, 0);

	zdref_check_whole_and_unload();
}

int main(void)
{
	static const struct zt_test tests[] = {
		ZT_NAMED("stress_fsdax", stress, "fsdax"),
		ZT_NAMED("stress_generic", stress, "generic"),
		ZT_NAMED("stress_private", stress, "private"),
	};

	return zt_run(tests, ZT_COUNT(tests));
}
