// SPDX-License-Identifier: GPL-2.0
/*
 * Real clients, unchanged, against a scope=device zdref: Debian's fio,
 * its mmap engine with its standard end-of-run verify (fio closes the
 * device after writing and reopens it to verify, as most tools do),
 * stress-ng's device stressor, and qemu with the device as a guest's
 * memory.  scripts/check carries them into the stock kernels' guests with
 * their libraries and loader, under /zdref/clients, and says so with
 * ZDREF_CLIENTS=1 (the debug kernels' boots, slow already, go without
 * them: a skip that says so).  After each run,
 * RELEASE of the whole device frees every page it kept: the pool whole,
 * each page freed once, no bad free, and the module unloads.
 */
#define _GNU_SOURCE
#include <fcntl.h>

#include "zdref_util.h"

#define CLIENTS		"/zdref/clients"
#define CLIENT_LOADER	CLIENTS "/lib/ld-linux-x86-64.so.2"

/* The device the clients get: small enough for every job to cover it. */
#define DEVICE_MB	64

static uint64_t total;		/* pages_total */

static void load(const struct zt_variant *v)
{
	struct zdref_range r = zdref_reserved_range();

	if (!getenv("ZDREF_CLIENTS"))
		SKIP("no clients in this guest: %s",
		     "scripts/check carries them into the stock kernels' boots");
	ASSERT_EQ(access(CLIENT_LOADER, X_OK), 0);
	if (zdref_loaded())
		zdref_unload();	/* left by an earlier failure */
	ASSERT_TRUE(r.size >= DEVICE_MB << 20);
	ASSERT_EQ(zdref_load("region=%uM@0x%llx type=%s scope=device", DEVICE_MB,
			     (unsigned long long)r.start, v->name), 0);
	total = zdref_sysfs_u64("pages_total");
	ASSERT_EQ(total, (uint64_t)DEVICE_MB << 20 >> 12);
}

/*
 * Run @argv[0] of /zdref/clients with the rest of @argv, through the
 * carried loader, its input @input (NULL: none): its exit status, and the
 * tail of what it printed when that is not 0.
 */
static int client(const char *const argv[], const char *input)
{
	char bin[128], log[128], cmd[192];
	const char *args[24];
	int i, n = 0, status;
	pid_t pid;

	snprintf(bin, sizeof(bin), CLIENTS "/%s", argv[0]);
	snprintf(log, sizeof(log), "/tmp/%s.log", argv[0]);
	args[n++] = CLIENT_LOADER;
	args[n++] = "--library-path";
	args[n++] = CLIENTS "/lib";
	args[n++] = bin;
	for (i = 1; argv[i]; i++) {
		ASSERT_TRUE(n < (int)ZT_COUNT(args) - 1);
		args[n++] = argv[i];
	}
	args[n] = NULL;
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		int in = open(input ?: "/dev/null", O_RDONLY | O_CLOEXEC);

		if (fd < 0 || in < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 ||
		    dup2(in, 0) < 0)
			_exit(126);
		execv(args[0], (char *const *)args);
		_exit(127);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	if (WEXITSTATUS(status)) {
		zt_diag("%s exited %d; the end of %s:", argv[0], WEXITSTATUS(status), log);
		snprintf(cmd, sizeof(cmd), "tail -n 15 %s | sed 's/^/#   /'", log);
		fflush(stdout);
		if (system(cmd))
			zt_diag("(could not show it)");
	}
	return WEXITSTATUS(status);
}

/* RELEASE of the whole device gives up every page it kept, none pinned. */
static void release_all(void)
{
	struct zdref_release r = { .length = total * PG, .timeout_ms = 5000 };
	uint64_t kept = total - zdref_sysfs_u64("pages_free");
	int fd = zdref_open_dev();

	ASSERT_EQ(ioctl(fd, ZDREF_IOC_RELEASE, &r), 0);
	ASSERT_EQ_U(r.released, kept);
	ASSERT_EQ_U(r.busy, 0);
	close(fd);
	zdref_check_whole_and_unload();
}

/*
 * The command that failed with per-open pages ("verify: bad magic header
 * 0"): random reads and writes through fio's mmap engine, verified after
 * fio reopened the device; 64 MiB of it, for time.  (One job: two jobs of
 * it write the same blocks, and fail their verify on a regular file too.)
 */
static void fio_mmap_verify(const void *arg)
{
	const char *const argv[] = {
		"fio", "--name=zdref", "--ioengine=mmap", "--filename=" ZDREF_DEV,
		"--size=64m", "--rw=randrw", "--bs=4k,64k", "--verify=crc32c",
		"--do_verify=1", "--verify_fatal=1", "--numjobs=1", NULL,
	};

	ASSERT_EQ(client(argv, NULL), 0);
	ASSERT_GT(zdref_sysfs_u64("allocs"), 0);
	release_all();
}

/*
 * Four jobs at once, each writing every block of the whole device in its
 * own random order, then verifying all of it after the reopen.  A fixed
 * pattern, the same from every job, so that their overlapping writes
 * agree (fio's headers would not; and its mmap engine cannot give jobs
 * ranges of their own: with offset= it writes a block at its offset
 * minus that).  Every page of the device is handed out, once, however
 * many jobs fault at its offset together.
 */
static void fio_whole_device_jobs(const void *arg)
{
	const char *const argv[] = {
		"fio", "--name=whole", "--ioengine=mmap", "--filename=" ZDREF_DEV,
		"--size=64m", "--numjobs=4", "--rw=randwrite", "--bs=4k",
		"--verify=pattern", "--verify_pattern=0x7a647266", "--do_verify=1",
		"--verify_fatal=1", NULL,
	};

	ASSERT_EQ(DEVICE_MB, 64);	/* --size= above */
	ASSERT_EQ(client(argv, NULL), 0);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), total);
	ASSERT_EQ(zdref_sysfs_u64("pages_free"), 0);
	release_all();
}

/*
 * stress-ng's device stressor on /dev/zdref0: opens, ioctls (zdref's and
 * others, with junk), reads and polls, for 5 s; it maps no page of it.
 */
static void stress_ng_dev(const void *arg)
{
	const char *const argv[] = {
		"stress-ng", "--dev", "1", "--dev-file", ZDREF_DEV, "--timeout", "5",
		NULL,
	};

	ASSERT_EQ(client(argv, NULL), 0);
	ASSERT_EQ(zdref_sysfs_u64("bad_frees"), 0);
	release_all();
}

/*
 * qemu with 32 MiB of the device as a guest's RAM (memory-backend-file,
 * share=on), every page of it touched by prealloc=on before its monitor
 * reads "quit"; no machine is booted.  The pages stay the device's after
 * qemu is gone.
 */
static void qemu_memory_backend(const void *arg)
{
	const char *const argv[] = {
		"qemu-system-x86_64", "-machine", "none", "-nodefaults",
		"-display", "none", "-monitor", "stdio", "-object",
		"memory-backend-file,id=m0,size=32M,mem-path=" ZDREF_DEV
		",share=on,prealloc=on", NULL,
	};
	FILE *quit = fopen("/tmp/qemu.in", "w");

	/* Debian's qemu has its TCG accelerator as a module: carried too. */
	ASSERT_EQ(setenv("QEMU_MODULE_DIR", CLIENTS "/qemu", 1), 0);
	ASSERT_TRUE(quit);
	fputs("quit\n", quit);
	ASSERT_EQ(fclose(quit), 0);
	ASSERT_EQ(client(argv, "/tmp/qemu.in"), 0);
	ASSERT_EQ(zdref_sysfs_u64("allocs"), (32 << 20) / PG);
	ASSERT_EQ(zdref_sysfs_u64("pages_free"), total - (32 << 20) / PG);
	release_all();
}

static const struct zt_variant variants[] = {
	{ "fsdax", NULL, NULL }, { "generic", NULL, NULL },
};

static const struct zt_fixture fixture = { load, variants, ZT_COUNT(variants) };

static const struct zt_test tests[] = {
	ZT(fio_mmap_verify, NULL),
	ZT(fio_whole_device_jobs, NULL),
	ZT(stress_ng_dev, NULL),
	ZT(qemu_memory_backend, NULL),
};

int main(void)
{
	return zt_run_fixture(&fixture, tests, ZT_COUNT(tests));
}
