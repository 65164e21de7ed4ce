// SPDX-License-Identifier: GPL-2.0
/*
 * zdref's fuzzing selftest: a bounded, seeded random walk over the device's
 * ABI, on every type the kernel has, as root and as an unprivileged member
 * of the device's group (the udev rule's case: no capability at all).
 *
 * Each step is one of: an ioctl, zdref's or the mirror's or a random
 * command, with an argument that is NULL, unmapped, read-only, a kernel
 * address or a buffer of random contents biased to edge values (offsets,
 * lengths, page counts, addresses inside and outside the mappings); an
 * mmap of random length, offset, protection and flags; a touch, munmap,
 * mprotect, madvise or mremap of a mapping; read, write or lseek on the
 * file; close and reopen; fork with a few steps in the child.  Where the
 * kernel has fault injection (the debug kernels) a quarter of the steps
 * also fail one of their first allocations or user copies
 * (/proc/thread-self/fail-nth, each task its own: a forked child opens
 * its own).  No step may take more than 30 s
 * (SIGALRM), and at the end every unit was freed once, no bad free, and
 * the module unloads; scripts/vm fails the boot on any kernel warning.
 *
 * The seed is printed; ZDREF_FUZZ_SEED=N repeats a run, and
 * ZDREF_FUZZ_SECONDS=N makes each case walk N seconds instead of 5 (8 on
 * a KASAN kernel).
 */
#define _GNU_SOURCE
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>

#include "zdref_util.h"
#include "../../include/uapi/zdref.h"

#define MAPS		8
#define NOBODY		65534
#define STEP_LIMIT_S	30

struct fuzz {
	uint64_t rng;
	int fd;
	struct { char *addr; size_t len; } maps[MAPS];
	char *rdonly;		/* a read-only page of random bytes */
	char *hole;		/* an address with nothing mapped */
	char *buf;		/* 1 MiB of scratch the kernel may write */
	int fail_nth;		/* fd of ZDREF_FAIL_NTH, or -1 */
	bool armed;
	unsigned long steps, injected;
};

static sigjmp_buf touch_jmp;
static int touching;	/* read by the handler: __atomic */

/* A touch's SIGBUS or SIGSEGV ends the touch; any other, the process. */
static void on_fault(int sig)
{
	if (__atomic_load_n(&touching, __ATOMIC_SEQ_CST))
		siglongjmp(touch_jmp, sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* xorshift64*: the same walk for the same seed, on any libc. */
static uint64_t rnd64(struct fuzz *f)
{
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * 2685821657736338717ULL;
}

static uint64_t rnd(struct fuzz *f, uint64_t n)
{
	return rnd64(f) % n;
}

/* A number as fuzzers like them: small, aligned, a boundary, or anything. */
static uint64_t edge(struct fuzz *f)
{
	static const uint64_t edges[] = {
		0, 1, 2, 511, 512, 513, PG - 1, PG, PG + 1, 2 << 20,
		(2 << 20) + PG, 1ULL << 30, 1ULL << 31, 1ULL << 32,
		(1ULL << 52) - 1, 1ULL << 63, ~0ULL, ~0ULL - PG + 1,
		0x7fffffffULL, 0x80000000ULL,
	};

	switch (rnd(f, 4)) {
	case 0:
		return edges[rnd(f, ZT_COUNT(edges))];
	case 1:
		return rnd(f, 64) * PG;
	case 2:
		return rnd(f, 1 << 16);
	default:
		return rnd64(f);
	}
}

/* A user address: in a mapping, at its end, in the hole, or anywhere. */
static uint64_t addr(struct fuzz *f)
{
	int i = rnd(f, MAPS);

	switch (rnd(f, 5)) {
	case 0:
	case 1:
		if (f->maps[i].addr)
			return (uintptr_t)f->maps[i].addr +
			       rnd(f, f->maps[i].len / PG + 1) * PG;
		fallthrough;
	case 2:
		return (uintptr_t)f->hole;
	case 3:
		return (uintptr_t)f->buf;
	default:
		return edge(f);
	}
}

/* What an ioctl argument or a pointer in one points at. */
static void *pointer(struct fuzz *f)
{
	switch (rnd(f, 6)) {
	case 0:
		return NULL;
	case 1:
		return f->hole;
	case 2:
		return f->rdonly;
	case 3:
		return (void *)0xffff888000000000ULL;	/* the direct map */
	default:
		return f->buf;
	}
}

static unsigned long command(struct fuzz *f)
{
	static const unsigned long cmds[] = {
		ZDREF_IOC_PAGE_INFO, ZDREF_IOC_RELEASE, ZDREF_HMM_READ,
		ZDREF_HMM_WRITE, ZDREF_HMM_MIGRATE_TO_DEV,
		ZDREF_HMM_MIGRATE_TO_SYS, ZDREF_HMM_SNAPSHOT,
		ZDREF_HMM_EXCLUSIVE, ZDREF_HMM_CHECK_EXCLUSIVE,
		ZDREF_HMM_RELEASE, ZDREF_HMM_FLAGS, ZDREF_HMM_READ_UNLOCKED,
	};

	switch (rnd(f, 4)) {
	case 0:	/* a known number with another size or direction */
		return (cmds[rnd(f, ZT_COUNT(cmds))] & ~(0x3fffUL << 16)) |
		       (rnd(f, 4) << 30) | (rnd(f, 256) << 16);
	case 1:
		return rnd64(f) & 0xffffffff;
	default:
		return cmds[rnd(f, ZT_COUNT(cmds))];
	}
}

/* Fill the scratch buffer as one of the ABI's structs, fields biased. */
static void fill_arg(struct fuzz *f)
{
	uint64_t *q = (uint64_t *)f->buf;
	struct zdref_hmm_cmd *c = (void *)f->buf;
	struct zdref_release *r = (void *)f->buf;
	int i;

	for (i = 0; i < 8; i++)
		q[i] = edge(f);
	switch (rnd(f, 3)) {
	case 0:
		c->addr = addr(f);
		c->ptr = (uintptr_t)pointer(f);
		/* Page counts a step can do in well under its limit. */
		c->npages = rnd(f, 8) ? rnd(f, 1024) : rnd(f, 1 << 18);
		break;
	case 1:
		r->offset = rnd(f, 4) ? rnd(f, 64) * PG : edge(f);
		r->length = rnd(f, 4) ? rnd(f, 64) * PG : edge(f);
		r->timeout_ms = rnd(f, 50);
		r->flags = rnd(f, 4) ? 0 : edge(f);
		break;
	default:
		((struct zdref_page_info *)f->buf)->addr = addr(f);
		break;
	}
}

/* Fail one of the next few fault points of this task (debug kernels). */
static void arm(struct fuzz *f)
{
	if (f->fail_nth >= 0 && !rnd(f, 4) &&
	    zdref_fail_nth_arm(f->fail_nth, rnd(f, 4) + 1))
		f->armed = true;
}

static void disarm(struct fuzz *f)
{
	if (f->armed && zdref_fail_nth_disarm(f->fail_nth) == 0)
		f->injected++;
	f->armed = false;
}

static void reopen(struct fuzz *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = open(ZDREF_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_GE(f->fd, 0);
}

static void step(struct fuzz *f, bool in_child)
{
	int i = rnd(f, MAPS), prot;
	char *p;
	size_t len, at;
	void *m;
	pid_t pid;

	alarm(STEP_LIMIT_S);
	switch (rnd(f, in_child ? 8 : 10)) {
	case 0:
	case 1:
	case 2:
		fill_arg(f);
		arm(f);
		ioctl(f->fd, command(f), rnd(f, 5) ? (void *)f->buf : pointer(f));
		disarm(f);
		break;
	case 3:
		if (f->maps[i].addr)
			break;
		len = rnd(f, 4) ? (rnd(f, 32) + 1) * PG : edge(f);
		prot = rnd(f, 8);
		arm(f);
		m = mmap(NULL, len, prot, rnd(f, 4) ? MAP_SHARED : MAP_PRIVATE,
			 f->fd, rnd(f, 4) ? rnd(f, 64) * PG : edge(f));
		disarm(f);
		if (m != MAP_FAILED) {
			f->maps[i].addr = m;
			f->maps[i].len = len;
		}
		break;
	case 4:	/* touch, which may SIGBUS or SIGSEGV: both are answers */
		if (!f->maps[i].addr)
			break;
		at = rnd(f, (f->maps[i].len + PG - 1) / PG) * PG;
		p = f->maps[i].addr + at;
		if (!sigsetjmp(touch_jmp, 1)) {
			__atomic_store_n(&touching, 1, __ATOMIC_SEQ_CST);
			/* A touch the compiler must not drop: */
			if (rnd(f, 2))
				__atomic_store_n(p, (char)rnd64(f), __ATOMIC_RELAXED);
			else
				(void)__atomic_load_n(p, __ATOMIC_RELAXED);
		}
		__atomic_store_n(&touching, 0, __ATOMIC_SEQ_CST);
		break;
	case 5:
		if (!f->maps[i].addr)
			break;
		switch (rnd(f, 4)) {
		case 0:
			munmap(f->maps[i].addr, f->maps[i].len);
			f->maps[i].addr = NULL;
			break;
		case 1:
			mprotect(f->maps[i].addr, PG, rnd(f, 8));
			break;
		case 2:
			/* Inside the mapping: not on the fuzzer's own buffers. */
			madvise(f->maps[i].addr, PG, rnd(f, 26));
			break;
		default:
			len = (rnd(f, 32) + 1) * PG;
			m = mremap(f->maps[i].addr, f->maps[i].len, len,
				   MREMAP_MAYMOVE);
			if (m != MAP_FAILED) {
				f->maps[i].addr = m;
				f->maps[i].len = len;
			}
			break;
		}
		break;
	case 6:
		switch (rnd(f, 3)) {
		case 0:
			read(f->fd, pointer(f), rnd(f, 2) ? PG : edge(f));
			break;
		case 1:
			write(f->fd, pointer(f), rnd(f, 2) ? PG : edge(f));
			break;
		default:
			lseek(f->fd, edge(f), rnd(f, 5));
			break;
		}
		break;
	case 7:
		if (!rnd(f, 8))
			reopen(f);
		break;
	default:	/* a child takes a few steps, then exits or is killed */
		pid = fork();
		if (pid < 0) {
			/* Said, not failed: fork is the kernel's, not zdref's. */
			zt_diag("fork: %s", strerror(errno));
			break;
		}
		if (pid == 0) {
			int n = rnd(f, 8);

			prctl(PR_SET_PDEATHSIG, SIGKILL);
			/*
			 * fail-nth is the task's whose file it is: the one
			 * inherited is the parent's.  Armed from here, it
			 * failed none of this child's calls, and a child
			 * killed while armed left the parent to fail its next
			 * allocation, say reopen()'s asserted open().
			 */
			if (f->fail_nth >= 0) {
				close(f->fail_nth);
				f->fail_nth = open(ZDREF_FAIL_NTH, O_RDWR | O_CLOEXEC);
				if (f->fail_nth < 0)
					zt_diag("a forked child's own fail-nth: %s",
						strerror(errno));
			}
			f->armed = false;
			while (n--)
				step(f, true);
			_exit(0);
		}
		if (rnd(f, 2))
			kill(pid, SIGKILL);
		ASSERT_EQ(waitpid(pid, NULL, 0), pid);
		break;
	}
	alarm(0);
	f->steps++;
}

struct run {
	const char *type;
	bool unprivileged;
};

static void drop_privileges(void)
{
	ASSERT_EQ(chown(ZDREF_DEV, 0, NOBODY), 0);
	ASSERT_EQ(chmod(ZDREF_DEV, 0660), 0);
	ASSERT_EQ(setgroups(0, NULL), 0);
	ASSERT_EQ(setgid(NOBODY), 0);
	ASSERT_EQ(setuid(NOBODY), 0);
	/*
	 * setuid() made the task undumpable, its /proc files root's: dumpable
	 * again, the children it forks can open their own fail-nth.
	 */
	ASSERT_EQ(prctl(PR_SET_DUMPABLE, 1), 0);
	ASSERT_EQ(access(ZDREF_DEV, R_OK | W_OK), 0);
}

static void fuzz(const void *arg)
{
	const struct run *run = arg;
	struct zdref_range r = zdref_reserved_range();
	const char *secs = getenv("ZDREF_FUZZ_SECONDS");
	double seconds = secs ? atof(secs) : zdref_kconfig("KASAN") ? 8 : 5;
	const char *env = getenv("ZDREF_FUZZ_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) * 2654435761ULL;
	struct fuzz f = { .rng = seed | 1, .fd = -1 };
	struct sigaction sa = { .sa_handler = on_fault, .sa_flags = SA_NODEFER };
	double t0;
	int ret, status, i;
	pid_t pid;

	if (zdref_loaded())
		ASSERT_EQ(zdref_unload(), 0);
	if (!strcmp(run->type, "private"))
		ret = zdref_load("type=private region=32M");
	else
		ret = zdref_load("type=%s region=32M@0x%llx", run->type,
				 (unsigned long long)r.start);
	if (ret == -EOPNOTSUPP)
		SKIP("type=%s: zdref refuses it on this kernel", run->type);
	ASSERT_EQ(ret, 0);
	zt_diag("type=%s as %s, %.0f s, seed 0x%llx (ZDREF_FUZZ_SEED)", run->type,
		run->unprivileged ? "nobody (the device's group, no capability)" : "root",
		seconds, (unsigned long long)seed);

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sigaction(SIGBUS, &sa, NULL);
		sigaction(SIGSEGV, &sa, NULL);
		f.rdonly = mmap(NULL, PG, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		f.buf = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		f.hole = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_TRUE(f.rdonly != MAP_FAILED && f.buf != MAP_FAILED && f.hole != MAP_FAILED);
		for (i = 0; i < (int)PG; i++)
			f.rdonly[i] = (char)rnd64(&f);
		mprotect(f.rdonly, PG, PROT_READ);
		munmap(f.hole, 1 << 20);
		/* Opened first: the file is the task's, root's once it is nobody. */
		f.fail_nth = zdref_fault_injection_setup() ? -1 :
			     open(ZDREF_FAIL_NTH, O_RDWR | O_CLOEXEC);
		if (run->unprivileged)
			drop_privileges();
		reopen(&f);
		t0 = zt_now();
		do
			step(&f, false);
		while (zt_now() - t0 < seconds);
		zt_diag("%lu steps, %lu with a fault injected", f.steps, f.injected);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		zt_diag("the fuzzer died of signal %d%s", WTERMSIG(status),
			WTERMSIG(status) == SIGALRM ? ": a step took over 30 s" : "");
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	zdref_check_whole_and_unload();
}

static const struct run runs[] = {
	{ "fsdax", false }, { "fsdax", true },
	{ "generic", false }, { "generic", true },
	{ "private", false }, { "private", true },
	{ "coherent", false }, { "coherent", true },
};

int main(void)
{
	static const char * const names[] = {
		"fuzz_fsdax_root", "fuzz_fsdax_unprivileged",
		"fuzz_generic_root", "fuzz_generic_unprivileged",
		"fuzz_private_root", "fuzz_private_unprivileged",
		"fuzz_coherent_root", "fuzz_coherent_unprivileged",
	};
	struct zt_test tests[ZT_COUNT(runs)];
	size_t i;

	for (i = 0; i < ZT_COUNT(runs); i++)
		tests[i] = (struct zt_test)ZT_NAMED(names[i], fuzz, &runs[i]);
	return zt_run(tests, ZT_COUNT(tests));
}
