// SPDX-License-Identifier: GPL-2.0
/*
 * zdref's stress selftest: 2 x vCPUs workers, for a bounded time per type,
 * each doing a random mix of what real users do to device pages: open,
 * mmap, touch with a pattern, fork, MADV_DONTNEED, mremap, partial munmap
 * and remap, vmsplice, O_DIRECT to a RAM disk (brd), process_vm_readv,
 * ZDREF_IOC_RELEASE, close and reopen, and SIGKILL of children that hold
 * pages and pipe pins; the same over 2 MiB units (align=2M, mapped by
 * PMD) where the kernel offers them; on device-private and
 * device-coherent devices, migrations to and from the device, device
 * reads, CPU faults (private) or CPU access in place (coherent) and
 * eviction of the whole device (HMM_RELEASE) while other workers
 * migrate pages in (not while one unmaps or exits: unmaps_lock()).
 * Every page read back must hold what its owner last wrote; at the end
 * every unit handed out was freed once (allocs == frees, pages_free ==
 * pages_total, no bad free) and the module unloads.
 * scripts/vm fails the boot on any kernel warning.  60 s in all on a
 * stock kernel, 90 s on a debug kernel (CONFIG_KASAN), shared among the
 * cases the kernel has.
 *
 * ZDREF_STRESS_SEED=N repeats a run's choices (each worker's seed is N
 * plus its number); the seed is printed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <time.h>

#include "zdref_util.h"
#include "../../include/uapi/zdref.h"

#define NUNITS		16	/* each worker's mapping, of 4 KiB units */
#define NUNITS_HUGE	2	/* of 2 MiB units */

enum op {
	OP_TOUCH, OP_VERIFY, OP_FORK, OP_DONTNEED, OP_MREMAP, OP_UNMAP,
	OP_REMAP, OP_VMSPLICE, OP_ODIRECT, OP_VM_READV, OP_RELEASE,
	OP_REOPEN, OP_KILL,
	/* device-private and coherent */
	OP_TO_DEV, OP_TO_SYS, OP_DEV_READ, OP_EVICT,
	OP_COUNT
};

static const char * const op_names[OP_COUNT] = {
	"touch", "verify", "fork", "dontneed", "mremap", "munmap", "remap",
	"vmsplice", "odirect", "vm_readv", "release", "reopen", "kill",
	"to_dev", "to_sys", "dev_read", "evict",
};

static const enum op file_ops[] = {
	OP_TOUCH, OP_TOUCH, OP_TOUCH, OP_VERIFY, OP_FORK, OP_DONTNEED,
	OP_MREMAP, OP_UNMAP, OP_REMAP, OP_VMSPLICE, OP_ODIRECT, OP_VM_READV,
	OP_RELEASE, OP_REOPEN, OP_KILL,
};

static const enum op mirror_ops[] = {
	OP_TOUCH, OP_TOUCH, OP_VERIFY, OP_FORK, OP_DONTNEED, OP_TO_DEV,
	OP_TO_DEV, OP_TO_SYS, OP_DEV_READ, OP_EVICT, OP_REOPEN, OP_KILL,
};

struct shared {
	unsigned long ops[OP_COUNT];
	unsigned long evictions_begun, evictions_ended;	/* __atomic */
	unsigned long evicted_under_migration;
};

/* One worker's view: what each unit of its mapping must hold. */
struct worker {
	int id;
	bool mirror;		/* device memory: its files are mirrors */
	unsigned long unit;	/* PG, or HP with align=2M */
	int nunits;
	int fd;			/* the device file (a mirror for private, coherent) */
	char *map;		/* nunits units */
	char *spare;		/* a PROT_NONE hole of the same size, for mremap */
	char *scratch;		/* a page to read into (O_DIRECT: page-aligned) */
	uint64_t expect[NUNITS];	/* the unit's tag; 0: zero-filled */
	bool mapped[NUNITS];
	uint64_t gen;
	unsigned int seed;
	int ramdisk;		/* O_DIRECT fd of brd, or -1 */
	int lock;		/* its own open of the eviction lock (a memfd) */
	struct shared *sh;
};

/*
 * On a mirror, an eviction and the unmaps and exits of the workers' (and
 * their children's) memory, one side at a time: flock() of the worker's
 * own open of one memfd, exclusive for an eviction, shared for the rest.
 * An eviction (migrate_device_range() with no mm) leaves migration entries
 * in the owners' page tables, then walks the pages' anon_vmas again to
 * take them out (remove_migration_ptes()) holding no reference on those
 * anon_vmas, where migrate_pages() takes one: an owner that unmaps or
 * exits meanwhile frees the anon_vma under the walk.  Seen on the 7.3
 * debug kernel as "bad unlock balance" of an anon_vma's rwsem in
 * remove_migration_ptes() under zdref_devmem_evict(), and most likely the
 * 7.2 hang on anon_vma rwsems (stress_coherent).  The kernel's, not
 * zdref's: test_hmm's eviction takes the same path.  Evictions still meet
 * migrations, CPU faults, forks and device reads.  flock() locks go with
 * the process: a worker that fails while holding one blocks no one.
 */
static void unmaps_lock(struct worker *w, int how)
{
	if (w->mirror)
		while (flock(w->lock, how) && errno == EINTR)
			;
}

static unsigned int rnd(struct worker *w, unsigned int n)
{
	return rand_r(&w->seed) % n;
}

static size_t bytes(const struct worker *w)
{
	return w->unit * w->nunits;
}

/* A unit's pattern: word i of it holds @tag ^ i (0 for a zeroed unit). */
static void fill(void *p, uint64_t tag, size_t len)
{
	uint64_t *q = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		q[i] = tag ? tag ^ i : 0;
}

/*
 * Do the @len bytes at @p hold @tag's pattern from byte @from of the unit
 * on?  Says where they do not.
 */
static bool holds_part(const void *p, uint64_t tag, size_t from, size_t len,
		       const char *what, int unit)
{
	const uint64_t *q = p;
	size_t i, word;

	for (i = 0; i < len / 8; i++) {
		word = from / 8 + i;
		if (q[i] != (tag ? tag ^ word : 0)) {
			zt_diag("%s: unit %d word %zu is 0x%llx, not 0x%llx",
				what, unit, word, (unsigned long long)q[i],
				(unsigned long long)(tag ? tag ^ word : 0));
			return false;
		}
	}
	return true;
}

static bool holds(const struct worker *w, const void *p, uint64_t tag,
		  const char *what, int unit)
{
	return holds_part(p, tag, 0, w->unit, what, unit);
}

/* A PROT_NONE hole of @len bytes at a multiple of @align. */
static char *hole(size_t len, size_t align)
{
	char *p = mmap(NULL, len + align, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *q;

	ASSERT_TRUE(p != MAP_FAILED);
	q = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
	if (q > p)
		ASSERT_EQ(munmap(p, q - p), 0);
	if (p + align > q)
		ASSERT_EQ(munmap(q + len, p + align - q), 0);
	return q;
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
	/* A shared mapping of 2 MiB units is 2 MiB aligned (thp_get_unmapped_area). */
	if (w->mirror)
		w->map = mmap(NULL, bytes(w), PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else
		w->map = mmap(NULL, bytes(w), PROT_READ | PROT_WRITE,
			      MAP_SHARED, w->fd, 0);
	ASSERT_TRUE(w->map != MAP_FAILED);
	ASSERT_EQ((uintptr_t)w->map % w->unit, 0);
	for (i = 0; i < w->nunits; i++) {
		w->expect[i] = 0;
		w->mapped[i] = true;
	}
}

static void close_map(struct worker *w)
{
	ASSERT_EQ(munmap(w->map, bytes(w)), 0);
	close(w->fd);
}

static int mapped_unit(struct worker *w)
{
	int i = rnd(w, w->nunits), n;

	for (n = 0; n < w->nunits; n++, i = (i + 1) % w->nunits)
		if (w->mapped[i])
			return i;
	return -1;
}

static void verify_all(struct worker *w, const char *what)
{
	int i;

	for (i = 0; i < w->nunits; i++)
		if (w->mapped[i])
			ASSERT_TRUE(holds(w, w->map + i * w->unit, w->expect[i], what, i));
}

/* A mirror command over the whole mapping; @buf: its size, the device's copy. */
static int hmm(struct worker *w, unsigned long req, void *buf)
{
	static char bounce[NUNITS * PG];
	struct zdref_hmm_cmd c = {
		.addr = (uintptr_t)w->map,
		.ptr = (uintptr_t)(buf ? buf : bounce),
		.npages = bytes(w) / PG,
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
	if (w->mirror) {
		/* Its copies of the parent's pages, on the device. */
		w->fd = open(ZDREF_DEV, O_RDWR | O_CLOEXEC);
		hmm(w, ZDREF_HMM_MIGRATE_TO_DEV, NULL);
	} else {
		open_map(w);
	}
	if (pipe(p))
		_exit(1);
	for (i = 0;; i = (i + 1) % w->nunits) {
		fill(w->map + i * w->unit, new_tag(w, i), w->unit);
		iov.iov_base = w->map + i * w->unit;
		iov.iov_len = PG;
		/* Pins the unit until the pipe goes, with the process. */
		if (i < 8)
			vmsplice(p[1], &iov, 1, SPLICE_F_NONBLOCK);
	}
}

/*
 * The ops that look at one page check one page of a unit: @buf holds the
 * page at @at of unit @i.
 */
static bool page_holds(struct worker *w, const void *buf, int i, size_t at,
		       const char *what)
{
	return holds_part(buf, w->expect[i], at, PG, what, i);
}

static void do_op(struct worker *w, enum op op)
{
	char *buf = w->scratch, *u;
	struct zdref_release rel = { .length = w->unit, .timeout_ms = 5000 };
	struct iovec local, remote;
	int i = mapped_unit(w), p[2], status, ret;
	size_t at = rnd(w, w->unit / PG) * PG;	/* a page of unit i */
	off_t slot = (w->id * NUNITS + i) * PG;	/* unit i's in brd */
	unsigned long ended;
	uint64_t tag;
	pid_t pid;
	void *moved;

	u = i < 0 ? NULL : w->map + i * w->unit;
	switch (op) {
	case OP_TOUCH:
		if (i < 0)
			return;
		w->expect[i] = new_tag(w, i);
		fill(u, w->expect[i], w->unit);
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
			fill(u, tag, w->unit);
			ASSERT_TRUE(holds(w, u, tag, "a child's write", i));
			_exit(0);
		}
		unmaps_lock(w, LOCK_SH);
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		unmaps_lock(w, LOCK_UN);
		ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		/* A shared mapping sees the child's write; a private one not. */
		if (!w->mirror)
			w->expect[i] = tag;
		verify_all(w, "after a child");
		break;
	case OP_DONTNEED:
		if (i < 0)
			return;
		ASSERT_EQ(madvise(u, w->unit, MADV_DONTNEED), 0);
		/* The file keeps its unit; anonymous memory loses it. */
		if (w->mirror)
			w->expect[i] = 0;
		ASSERT_TRUE(holds(w, u, w->expect[i], "after MADV_DONTNEED", i));
		break;
	case OP_MREMAP:
		for (i = 0; i < w->nunits; i++)
			if (!w->mapped[i])
				return;
		/*
		 * A unit at a time: a remapped unit is a VMA of its own where
		 * the kernel does not merge VMAs with a ->close (6.1), and
		 * mremap() moves no range across VMAs.  A 2 MiB unit moves
		 * to a 2 MiB aligned place, its PMD with it.
		 */
		for (i = 0; i < w->nunits; i++) {
			moved = mremap(w->map + i * w->unit, w->unit, w->unit,
				       MREMAP_MAYMOVE | MREMAP_FIXED,
				       w->spare + i * w->unit);
			if (moved != w->spare + i * w->unit)
				zt_diag("mremap: %s", strerror(errno));
			ASSERT_TRUE(moved == w->spare + i * w->unit);
		}
		moved = w->spare;
		w->spare = mmap(w->map, bytes(w), PROT_NONE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		ASSERT_TRUE(w->spare == w->map);
		w->map = moved;
		verify_all(w, "after mremap");
		break;
	case OP_UNMAP:
		if (i < 0)
			return;
		ASSERT_EQ(munmap(u, w->unit), 0);
		w->mapped[i] = false;
		break;
	case OP_REMAP:
		for (i = 0; i < w->nunits; i++) {
			u = w->map + i * w->unit;
			if (w->mapped[i])
				continue;
			ASSERT_TRUE(mmap(u, w->unit, PROT_READ | PROT_WRITE,
					 MAP_SHARED | MAP_FIXED, w->fd, i * w->unit) == u);
			w->mapped[i] = true;
			ASSERT_TRUE(holds(w, u, w->expect[i], "remapped", i));
		}
		break;
	case OP_VMSPLICE:
		if (i < 0)
			return;
		ASSERT_EQ(pipe(p), 0);
		local.iov_base = u + at;
		local.iov_len = PG;
		ASSERT_EQ(vmsplice(p[1], &local, 1, 0), (ssize_t)PG);
		ASSERT_EQ(read(p[0], buf, PG), (ssize_t)PG);
		ASSERT_TRUE(page_holds(w, buf, i, at, "through a pipe"));
		close(p[0]);
		close(p[1]);
		break;
	case OP_ODIRECT:
		if (i < 0 || w->ramdisk < 0)
			return;
		/* In brd (4 MiB at least): a page-sized slot per unit per worker. */
		ASSERT_EQ(pwrite(w->ramdisk, u + at, PG, slot), (ssize_t)PG);
		ASSERT_EQ(pread(w->ramdisk, buf, PG, slot), (ssize_t)PG);
		ASSERT_TRUE(page_holds(w, buf, i, at, "through O_DIRECT"));
		/* And back: O_DIRECT reads into the device page. */
		ASSERT_EQ(pread(w->ramdisk, u + at, PG, slot), (ssize_t)PG);
		ASSERT_TRUE(page_holds(w, u + at, i, at, "O_DIRECT read"));
		break;
	case OP_VM_READV:
		if (i < 0)
			return;
		local.iov_base = buf;
		local.iov_len = PG;
		remote.iov_base = u + at;
		remote.iov_len = PG;
		ASSERT_EQ(process_vm_readv(getpid(), &local, 1, &remote, 1, 0),
			  (ssize_t)PG);
		ASSERT_TRUE(page_holds(w, buf, i, at, "process_vm_readv"));
		break;
	case OP_RELEASE:
		if (i < 0)
			return;
		rel.offset = i * w->unit;
		ASSERT_EQ(ioctl(w->fd, ZDREF_IOC_RELEASE, &rel), 0);
		/* Given back: the next touch gets a fresh, zeroed unit. */
		w->expect[i] = 0;
		ASSERT_TRUE(holds(w, u, 0, "after RELEASE", i));
		break;
	case OP_REOPEN:
		for (i = 0; i < w->nunits; i++)
			if (!w->mapped[i])
				ASSERT_TRUE(mmap(w->map + i * w->unit, w->unit, PROT_NONE,
						 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
						 -1, 0) != MAP_FAILED);
		unmaps_lock(w, LOCK_SH);
		close_map(w);
		unmaps_lock(w, LOCK_UN);
		open_map(w);
		break;
	case OP_KILL:
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0)
			doomed_child(w);
		usleep(rnd(w, 20000));
		unmaps_lock(w, LOCK_SH);
		kill(pid, SIGKILL);
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		unmaps_lock(w, LOCK_UN);
		ASSERT_TRUE(WIFSIGNALED(status));
		verify_all(w, "after a killed child");
		break;
	case OP_TO_DEV:
		/*
		 * -ENOENT, as test_hmm's: the pages moved, and an eviction
		 * that overlapped the call took some back before it could
		 * read them from the device (no other cause is allowed).
		 */
		ended = __atomic_load_n(&w->sh->evictions_ended, __ATOMIC_SEQ_CST);
		ret = hmm(w, ZDREF_HMM_MIGRATE_TO_DEV, NULL);
		if (ret == -ENOENT &&
		    __atomic_load_n(&w->sh->evictions_begun, __ATOMIC_SEQ_CST) > ended) {
			verify_all(w, "migrated while evicted");
			__atomic_fetch_add(&w->sh->evicted_under_migration, 1,
					   __ATOMIC_RELAXED);
			break;
		}
		ASSERT_EQ(ret, 0);
		break;
	case OP_TO_SYS:
		ASSERT_EQ(hmm(w, ZDREF_HMM_MIGRATE_TO_SYS, NULL), 0);
		verify_all(w, "migrated back");
		break;
	case OP_DEV_READ: {
		static char big[NUNITS * PG];

		ASSERT_EQ(hmm(w, ZDREF_HMM_READ, big), 0);
		for (i = 0; i < w->nunits; i++)
			ASSERT_TRUE(holds(w, big + i * PG, w->expect[i],
					  "read by the device", i));
		break;
	}
	case OP_EVICT:
		/*
		 * Every page of the device, every worker's, back to system
		 * RAM while the others migrate pages in and take CPU faults:
		 * eviction meets pages being handed out.  EBUSY: pages still
		 * moved in during the last pass.
		 */
		unmaps_lock(w, LOCK_EX);
		__atomic_fetch_add(&w->sh->evictions_begun, 1, __ATOMIC_SEQ_CST);
		ret = hmm(w, ZDREF_HMM_RELEASE, NULL);
		__atomic_fetch_add(&w->sh->evictions_ended, 1, __ATOMIC_SEQ_CST);
		unmaps_lock(w, LOCK_UN);
		ASSERT_TRUE(ret == 0 || ret == -EBUSY);
		verify_all(w, "after eviction");
		break;
	default:
		return;
	}
	__atomic_fetch_add(&w->sh->ops[op], 1, __ATOMIC_RELAXED);
}

static noreturn void worker_run(struct worker *w, int lock, double seconds)
{
	const enum op *ops = w->mirror ? mirror_ops : file_ops;
	size_t nops = w->mirror ? ZT_COUNT(mirror_ops) : ZT_COUNT(file_ops);
	char path[64];
	double t0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* An open of its own: flock() locks are an open file's. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", lock);
	w->lock = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_GE(w->lock, 0);
	w->ramdisk = w->mirror ? -1 : open(ZDREF_RAMDISK, O_RDWR | O_DIRECT | O_CLOEXEC);
	w->spare = hole(bytes(w), w->unit);
	w->scratch = mmap(NULL, PG, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(w->scratch != MAP_FAILED);
	open_map(w);
	t0 = zt_now();
	do
		do_op(w, ops[rnd(w, nops)]);
	while (zt_now() - t0 < seconds);
	verify_all(w, "at the end");
	/* Its exit unmaps the rest: not under an eviction. */
	unmaps_lock(w, LOCK_SH);
	close_map(w);
	_exit(0);
}

struct stress_case {
	const char *name;
	const char *type;
	bool huge;		/* align=2M */
};

static const struct stress_case cases[] = {
	{ "stress_fsdax", "fsdax", false },
	{ "stress_generic", "generic", false },
	{ "stress_private", "private", false },
	{ "stress_coherent", "coherent", false },
	{ "stress_fsdax_2M", "fsdax", true },
	{ "stress_generic_2M", "generic", true },
};

/*
 * A case's parameters.  Each worker maps 64 KiB or 4 MiB, and holds as
 * much again in a child at most: 64 MiB of 2 MiB units is enough for 8
 * workers (scripts/vm's guests have 2 vCPUs: 4), 32 MiB of pages for far
 * more.
 */
static void case_params(const struct stress_case *c, char *buf, size_t len)
{
	struct zdref_range r = zdref_reserved_range();

	if (!strcmp(c->type, "private"))
		snprintf(buf, len, "type=private region=32M");
	else
		snprintf(buf, len, "type=%s region=%s@0x%llx align=%s", c->type,
			 c->huge ? "64M" : "32M", (unsigned long long)r.start,
			 c->huge ? "2M" : "4K");
}

/*
 * How many cases load here (private and coherent need what 6.x lacks):
 * they share the time.  Before the tests, so that each sees the same.
 */
static int cases_here(void)
{
	char params[192];
	size_t i;
	int n = 0;

	if (zdref_loaded())
		zdref_unload();
	for (i = 0; i < ZT_COUNT(cases); i++) {
		case_params(&cases[i], params, sizeof(params));
		if (zdref_load("%s", params) == 0 && zdref_unload() == 0)
			n++;
	}
	return n ? n : 1;
}

static int nr_cases_here;

static unsigned int base_seed(void)
{
	const char *s = getenv("ZDREF_STRESS_SEED");

	return s ? strtoul(s, NULL, 0) : (unsigned int)time(NULL);
}

static void stress(const void *arg)
{
	const struct stress_case *c = arg;
	int nworkers = 2 * sysconf(_SC_NPROCESSORS_ONLN), i, status, bad = 0;
	bool mirror = !strcmp(c->type, "private") || !strcmp(c->type, "coherent");
	unsigned int seed = base_seed();
	char params[192], line[1024];
	uint64_t total = 0;
	struct shared *sh;
	double seconds;
	int ret, lock;
	size_t n;

	if (zdref_loaded())
		ASSERT_EQ(zdref_unload(), 0);
	case_params(c, params, sizeof(params));
	ret = zdref_load("%s", params);
	if (ret == -EOPNOTSUPP)
		SKIP("%s: zdref refuses it on this kernel", params);
	ASSERT_EQ(ret, 0);
	seconds = (zdref_kconfig("KASAN") ? 90.0 : 60.0) / nr_cases_here;
	if (!mirror && !zdref_ramdisk())
		zt_diag("no %s (brd): no O_DIRECT in the mix", ZDREF_RAMDISK);

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(sh != MAP_FAILED);
	lock = memfd_create("zdref_stress_evictions", MFD_CLOEXEC);
	ASSERT_GE(lock, 0);
	zt_diag("%s: %d workers for %.0f s, seed %u (ZDREF_STRESS_SEED)",
		params, nworkers, seconds, seed);
	for (i = 0; i < nworkers; i++) {
		pid_t pid = fork();

		ASSERT_GE(pid, 0);
		if (pid == 0) {
			struct worker w = {
				.id = i, .mirror = mirror,
				.unit = c->huge ? HP : PG,
				.nunits = c->huge ? NUNITS_HUGE : NUNITS,
				.seed = seed + i, .sh = sh,
			};

			worker_run(&w, lock, seconds);
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
	close(lock);
	zt_diag("%s: %llu operations,%s", c->name, (unsigned long long)total, line);
	if (mirror)
		zt_diag("%lu migrations to the device met an eviction before their read-back",
			sh->evicted_under_migration);
	ASSERT_EQ(bad, 0);
	ASSERT_GT(total, 0);

	zdref_check_whole_and_unload();
}

int main(void)
{
	struct zt_test tests[ZT_COUNT(cases)];
	size_t i;

	nr_cases_here = cases_here();
	for (i = 0; i < ZT_COUNT(cases); i++)
		tests[i] = (struct zt_test)ZT_NAMED(cases[i].name, stress, &cases[i]);
	return zt_run(tests, ZT_COUNT(tests));
}
