// SPDX-License-Identifier: GPL-2.0
/*
 * zdref's observability selftests: what the tracepoints, the debugfs view
 * and poison=1 show of a page's life.
 *
 * The trace of one page, handed out, faulted in, pinned, released and
 * freed, in that order and with the same pfn throughout; who saw the
 * last drop, as the kernel's reference model says it must be (sysfs
 * refmodel); migrations of device-private pages with their reasons.  The
 * debugfs pages and busy files list exactly the units that are not free,
 * with the counts PAGE_INFO reads, their owner and age, root only, read
 * safely while units come and go.  poison=1 with quarantine= keeps units
 * out of use and finds no write where there was none.
 */
#define _GNU_SOURCE
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "zdref_util.h"
#include "../../include/uapi/zdref.h"

#define DEBUGFS		"/sys/kernel/debug/zdref/zdref0/"

static char tracefs[64];

/* Write @val to a file: 0 or -errno. */
static int put(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* The whole of a file, NUL-terminated, or NULL with errno. */
static char *slurp(const char *path)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	ssize_t n;
	int fd;

	ASSERT_TRUE(buf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return NULL;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			ASSERT_TRUE(buf);
		}
	}
	close(fd);
	buf[len] = '\0';
	return n < 0 ? NULL : buf;
}

static void trace_file(char *path, size_t len, const char *name)
{
	snprintf(path, len, "%s/%s", tracefs, name);
}

/* tracefs, mounted where the kernel puts it; zdref's events on, empty. */
static void trace_start(void)
{
	char path[128];

	snprintf(tracefs, sizeof(tracefs), "/sys/kernel/tracing");
	if (access("/sys/kernel/tracing/trace", F_OK) &&
	    mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL))
		snprintf(tracefs, sizeof(tracefs), "/sys/kernel/debug/tracing");
	trace_file(path, sizeof(path), "events/zdref/enable");
	if (access(path, F_OK))
		SKIP("no %s: this kernel has no tracefs, or zdref no events", path);
	ASSERT_EQ(put(path, "1"), 0);
	trace_file(path, sizeof(path), "trace");
	ASSERT_EQ(put(path, ""), 0);
	trace_file(path, sizeof(path), "tracing_on");
	ASSERT_EQ(put(path, "1"), 0);
}

/* What the trace holds now; zdref's events off again. */
static char *trace_stop(void)
{
	char path[128], *t;

	trace_file(path, sizeof(path), "events/zdref/enable");
	ASSERT_EQ(put(path, "0"), 0);
	trace_file(path, sizeof(path), "trace");
	t = slurp(path);
	ASSERT_TRUE(t);
	return t;
}

/*
 * The first line of @trace from @from on with event @event that holds
 * every one of @want (NULL-terminated); NULL if none does.
 */
static const char *trace_find(const char *trace, const char *from,
			      const char *event, const char *const *want)
{
	char tag[64];
	const char *p = from ? from : trace, *eol;
	size_t i;

	snprintf(tag, sizeof(tag), " %s: ", event);
	for (; (p = strstr(p, tag)); p = eol) {
		char line[512];

		eol = strchrnul(p, '\n');
		snprintf(line, sizeof(line), "%.*s", (int)(eol - p), p);
		for (i = 0; want[i] && strstr(line, want[i]); i++)
			;
		if (!want[i])
			return p;
	}
	return NULL;
}

/* Must find it, after @from; prints the trace when it is not there. */
static const char *expect_event(const char *trace, const char *from,
				const char *event, const char *const *want)
{
	const char *p = trace_find(trace, from, event, want);

	if (!p)
		zt_diag("no %s event with %s (after the last one found) in:\n%s",
			event, want[0], trace);
	ASSERT_TRUE(p);
	return p;
}

#define EXPECT_EVENT(trace, from, event, ...) \
	expect_event(trace, from, event, (const char *const []){ __VA_ARGS__, NULL })

static int load_type(const char *type, const char *extra)
{
	struct zdref_range r = zdref_reserved_range();

	if (zdref_loaded())
		zdref_unload();
	return zdref_load("region=2M@0x%llx type=%s %s",
			  (unsigned long long)r.start, type, extra);
}

/*
 * trace-cmd and perf decode events from their format files: the kernel
 * must have put the values of zdref's enums in place of their names
 * (TRACE_DEFINE_ENUM), or those tools print numbers they cannot name.
 */
static void trace_formats_decodable(const void *arg)
{
	char path[128], *fmt;

	ASSERT_EQ(load_type("fsdax", ""), 0);
	trace_start();
	trace_file(path, sizeof(path), "events/zdref/zdref_free/format");
	fmt = slurp(path);
	ASSERT_TRUE(fmt);
	if (strstr(fmt, "ZDREF_FREED_BY_"))
		zt_diag("%s", fmt);
	ASSERT_TRUE(strstr(fmt, "\"callback\""));
	ASSERT_TRUE(!strstr(fmt, "ZDREF_FREED_BY_"));
	free(fmt);
	trace_file(path, sizeof(path), "events/zdref/zdref_migrate/format");
	fmt = slurp(path);
	ASSERT_TRUE(fmt && !strstr(fmt, "ZDREF_MIGRATE_"));
	free(fmt);
	free(trace_stop());
	zdref_check_whole_and_unload();
}

/* Open zdref0, map @len of it at @off and touch its first byte. */
static char *touched(int *fd, size_t len, off_t off)
{
	char *m;

	*fd = open(ZDREF_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_GE(*fd, 0);
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, off);
	ASSERT_TRUE(m != MAP_FAILED);
	m[0] = 1;
	return m;
}

static void wait_not_busy(void)
{
	int i;

	for (i = 0; i < 500 && zdref_sysfs_u64("pages_busy"); i++)
		usleep(10000);
	ASSERT_EQ(zdref_sysfs_u64("pages_busy"), 0);
}

/* The kernel calls back at the last drop here (sysfs refmodel). */
static bool kernel_frees(void)
{
	char model[128];

	ASSERT_EQ(zdref_sysfs("refmodel", model, sizeof(model)), 0);
	return strstr(model, "last_drop_seen_by=kernel");
}

/*
 * One page: its hand-out, fault, its file's release while a pipe pins
 * it, the busy wait, the RELEASE ioctl that timed out, the free when the
 * pipe lets go: in that order, one pfn.
 */
static void trace_page_life(const void *arg)
{
	const char *type = arg;
	struct zdref_release rel = { .length = PG };
	char pfn[40], at[40], pid[40], addr[40], *t;
	const char *p;
	struct iovec iov;
	int fd, pfd[2];
	char *m;

	ASSERT_EQ(load_type(type, ""), 0);
	trace_start();
	m = touched(&fd, PG, 0);
	snprintf(pfn, sizeof(pfn), "pfn=%#llx ", (unsigned long long)zdref_page_info_of(fd, m).pfn);
	snprintf(addr, sizeof(addr), "addr=%p ", (void *)m);
	ASSERT_EQ(pipe(pfd), 0);
	iov = (struct iovec){ m, PG };
	ASSERT_EQ(vmsplice(pfd[1], &iov, 1, 0), PG);
	munmap(m, PG);
	ASSERT_ERRNO(ioctl(fd, ZDREF_IOC_RELEASE, &rel) ? -errno : 0, ETIMEDOUT);
	ASSERT_EQ(rel.busy, 1);
	close(fd);
	usleep(30000);
	close(pfd[0]);
	close(pfd[1]);
	wait_not_busy();
	t = trace_stop();

	snprintf(at, sizeof(at), "at=0x0 ");
	snprintf(pid, sizeof(pid), "pid=%d ", getpid());
	p = EXPECT_EVENT(t, NULL, "zdref_hand_out", pfn, at, pid);
	p = EXPECT_EVENT(t, p, "zdref_fault", "pte", addr, pfn, "ret=0x100");
	p = EXPECT_EVENT(t, p, "zdref_file_release", pfn);
	p = EXPECT_EVENT(t, p, "zdref_busy", pfn);
	p = EXPECT_EVENT(t, p, "zdref_release", "released=1 busy=1", "ret=-110");
	p = EXPECT_EVENT(t, p, "zdref_free", pfn,
			 kernel_frees() ? "by=callback" : "by=scan");
	free(t);
	zdref_check_whole_and_unload();
}

/* A page whose file holds it last: freed by zdref's put, or the callback. */
static void trace_close_frees(const void *arg)
{
	const char *type = arg;
	char pfn[40], *t;
	int fd;
	char *m;

	ASSERT_EQ(load_type(type, ""), 0);
	trace_start();
	m = touched(&fd, PG, PG);
	snprintf(pfn, sizeof(pfn), "pfn=%#llx ", (unsigned long long)zdref_page_info_of(fd, m).pfn);
	munmap(m, PG);
	close(fd);
	wait_not_busy();
	t = trace_stop();
	EXPECT_EVENT(t, NULL, "zdref_hand_out", pfn, "at=0x1000 ");
	EXPECT_EVENT(t, NULL, "zdref_free", pfn,
		     kernel_frees() ? "by=callback" : "by=put");
	/*
	 * Where the kernel calls back, then resets the count, every unit
	 * waits busy for the reset (refcount.h); elsewhere only a pin would
	 * keep it.
	 */
	if (!kernel_frees())
		ASSERT_TRUE(!strstr(t, "zdref_busy:"));
	free(t);
	zdref_check_whole_and_unload();
}

/* A 2 MiB unit is faulted in by one PMD, where zdref maps them. */
static void trace_pmd_fault(const void *arg)
{
	struct zdref_range r = zdref_reserved_range();
	char *t, *m;
	int fd, ret;

	if (zdref_loaded())
		zdref_unload();
	ret = zdref_load("region=4M@0x%llx type=fsdax align=2M",
			 (unsigned long long)r.start);
	if (ret == -EOPNOTSUPP)
		SKIP("align=2M: %s",
		     "this kernel's PMD mappings of device memory hold no reference");
	ASSERT_EQ(ret, 0);
	trace_start();
	m = touched(&fd, HP, 0);
	munmap(m, HP);
	close(fd);
	t = trace_stop();
	EXPECT_EVENT(t, NULL, "zdref_hand_out", "order=9", "at=0x0 ");
	/*
	 * VM_FAULT_NOPAGE where zdref maps the PMD (vmf_insert_folio_pmd()),
	 * VM_FAULT_LOCKED where the kernel maps the unit zdref returns
	 * (finish_fault(), before 6.15).
	 */
	if (!trace_find(t, NULL, "zdref_fault", (const char *const []){ "pmd", "ret=0x100", NULL }))
		EXPECT_EVENT(t, NULL, "zdref_fault", "pmd", "ret=0x200");
	free(t);
	zdref_check_whole_and_unload();
}

/* Device-private pages: each move traced with its direction and reason. */
static void trace_private_migrations(const void *arg)
{
	struct zdref_hmm_cmd cmd = { 0 };
	char *t, *buf, *copy, at[40];
	int fd, ret;

	if (zdref_loaded())
		zdref_unload();
	ret = zdref_kconfig("DEVICE_PRIVATE") ? zdref_load("type=private region=2M") : -EOPNOTSUPP;
	if (ret == -EOPNOTSUPP)
		SKIP("type=private: zdref refuses it on this kernel");
	ASSERT_EQ(ret, 0);
	buf = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(buf != MAP_FAILED);
	ASSERT_EQ(madvise(buf, 4 * PG, MADV_NOHUGEPAGE), 0);
	memset(buf, 7, 4 * PG);
	copy = malloc(4 * PG);	/* the ABI's: the device's copy of the range */
	ASSERT_TRUE(copy);
	fd = open(ZDREF_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	trace_start();
	cmd = (struct zdref_hmm_cmd){
		.addr = (uintptr_t)buf, .ptr = (uintptr_t)copy, .npages = 4,
	};
	ASSERT_EQ(ioctl(fd, ZDREF_HMM_MIGRATE_TO_DEV, &cmd), 0);
	ASSERT_EQ(buf[0], 7);	/* a CPU touch brings one page back */
	cmd = (struct zdref_hmm_cmd){
		.addr = (uintptr_t)buf, .ptr = (uintptr_t)copy, .npages = 4,
	};
	ASSERT_EQ(ioctl(fd, ZDREF_HMM_MIGRATE_TO_SYS, &cmd), 0);
	t = trace_stop();
	snprintf(at, sizeof(at), "at=%p ", (void *)(buf + PG));
	EXPECT_EVENT(t, NULL, "zdref_migrate", "to_dev pages=4 reason=ioctl");
	EXPECT_EVENT(t, NULL, "zdref_hand_out", at);
	EXPECT_EVENT(t, NULL, "zdref_migrate", "to_ram pages=1 reason=cpu_fault");
	EXPECT_EVENT(t, NULL, "zdref_migrate", "to_ram pages=3 reason=ioctl");
	EXPECT_EVENT(t, NULL, "zdref_free", "by=callback");
	free(t);
	free(copy);
	close(fd);
	munmap(buf, 4 * PG);
	zdref_check_whole_and_unload();
}

/* The debugfs lines of the units that are not free, header dropped. */
static int debugfs_lines(const char *file, char lines[][160], int max)
{
	char path[128], *text, *line, *save;
	int n = 0;

	snprintf(path, sizeof(path), DEBUGFS "%s", file);
	text = slurp(path);
	ASSERT_TRUE(text);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		ASSERT_TRUE(n < max);
		snprintf(lines[n++], 160, "%s", line);
	}
	free(text);
	return n;
}

/*
 * pages lists the two units handed out, with PAGE_INFO's counts, this
 * process and their offsets; busy lists the one a pipe pins after its
 * file let go, and its age; the model is sysfs refmodel's.
 */
static void debugfs_view(const void *arg)
{
	const char *type = arg;
	struct zdref_release rel = { .length = 4 * PG };
	char lines[8][160], state[40], who[16], model[128], refmodel[128];
	unsigned long long pfn, at;
	int fd, pfd[2], n, i, j, got, count, raw, mapcount, idle, base;
	struct zdref_page_info pi[2];
	bool listed[2] = { false, false };
	unsigned int ms;
	struct iovec iov;
	char *m, *text;

	ASSERT_EQ(load_type(type, ""), 0);
	m = touched(&fd, 4 * PG, 0);
	m[2 * PG] = 1;
	pi[0] = zdref_page_info_of(fd, m);
	pi[1] = zdref_page_info_of(fd, m + 2 * PG);
	n = debugfs_lines("pages", lines, 8);
	ASSERT_EQ(n, 2);
	/*
	 * pages lists units by pfn, which need not be the order they were
	 * handed out in (poison=1 hands out a unit past the batch its
	 * worker is filling, then the batch): each line is matched to the
	 * page of its pfn.
	 */
	for (i = 0; i < n; i++) {
		got = sscanf(lines[i], "%llx %39s %d %d %d %15s %llx %u", &pfn, state,
			     &count, &raw, &mapcount, who, &at, &ms);
		ASSERT_EQ(got, 8);
		j = pfn == pi[0].pfn ? 0 : 1;
		ASSERT_EQ_U(pfn, pi[j].pfn);
		ASSERT_FALSE(listed[j]);
		listed[j] = true;
		ASSERT_STREQ(state, "owned");
		ASSERT_EQ(count, pi[j].refcount);
		ASSERT_EQ(raw, pi[j].raw_refcount);
		ASSERT_EQ(mapcount, pi[j].mapcount);
		ASSERT_EQ(atoi(who), getpid());
		ASSERT_EQ_U(at, j * 2 * PG);
	}
	ASSERT_EQ(debugfs_lines("busy", lines, 8), 0);

	ASSERT_EQ(pipe(pfd), 0);
	iov = (struct iovec){ m, PG };
	ASSERT_EQ(vmsplice(pfd[1], &iov, 1, 0), PG);
	munmap(m, 4 * PG);
	ASSERT_ERRNO(ioctl(fd, ZDREF_IOC_RELEASE, &rel) ? -errno : 0, ETIMEDOUT);
	usleep(100000);
	ASSERT_EQ(debugfs_lines("busy", lines, 8), 1);
	got = sscanf(lines[0], "%llx %39s %d %d %d %15s %15s %u", &pfn, state,
		     &count, &raw, &mapcount, who, who, &ms);
	ASSERT_EQ(got, 8);
	ASSERT_EQ_U(pfn, pi[0].pfn);
	ASSERT_TRUE(!strncmp(state, "busy", 4));
	ASSERT_GE(count, 1);
	ASSERT_STREQ(who, "-");
	ASSERT_GE(ms, 90);
	ASSERT_EQ(debugfs_lines("pages", lines, 8), 1);
	close(pfd[0]);
	close(pfd[1]);
	wait_not_busy();
	ASSERT_EQ(debugfs_lines("busy", lines, 8), 0);

	text = slurp(DEBUGFS "model");
	ASSERT_TRUE(text);
	ASSERT_EQ(zdref_sysfs("refmodel", refmodel, sizeof(refmodel)), 0);
	got = sscanf(refmodel, "idle=%d base=%d", &idle, &base);
	ASSERT_EQ(got, 2);
	snprintf(model, sizeof(model), "idle %d\nbase %d\n", idle, base);
	if (!strstr(text, model))
		zt_diag("model:\n%s\nsysfs refmodel: %s", text, refmodel);
	ASSERT_TRUE(strstr(text, model));
	snprintf(model, sizeof(model), "type %s\n", type);
	ASSERT_TRUE(strstr(text, model));
	free(text);
	close(fd);
	zdref_check_whole_and_unload();
}

/* Root only: nobody else reads pfns and pids. */
static void debugfs_root_only(const void *arg)
{
	int status;
	pid_t pid;

	ASSERT_EQ(load_type("fsdax", ""), 0);
	ASSERT_EQ(access(DEBUGFS "pages", R_OK), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		_exit(open(DEBUGFS "pages", O_RDONLY) < 0 && errno == EACCES ? 0 : 1);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	zdref_check_whole_and_unload();
}

/*
 * Read pages over and over while a child faults units in and releases
 * them: every line is whole, no unit is listed free, and the kernel
 * stays quiet (scripts/vm fails the boot on a splat).
 */
static void debugfs_concurrent(const void *arg)
{
	int fd, i, status, got, reads = 0;
	unsigned long long pfn;
	char state[40], *text, *line, *save;
	pid_t pid;

	ASSERT_EQ(load_type("fsdax", ""), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct zdref_release rel = { .length = 64 * PG };
		char *m;

		fd = open(ZDREF_DEV, O_RDWR | O_CLOEXEC);
		m = mmap(NULL, 64 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (fd < 0 || m == MAP_FAILED)
			_exit(1);
		for (i = 0; i < 300; i++) {
			memset(m, i, 64 * PG);
			if (ioctl(fd, ZDREF_IOC_RELEASE, &rel))
				_exit(1);
		}
		_exit(0);
	}
	while (waitpid(pid, &status, WNOHANG) == 0) {
		text = slurp(DEBUGFS "pages");
		ASSERT_TRUE(text);
		for (line = strtok_r(text, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			if (line[0] == '#')
				continue;
			got = sscanf(line, "%llx %39s", &pfn, state);
			ASSERT_EQ(got, 2);
			ASSERT_TRUE(!strcmp(state, "owned") || !strncmp(state, "busy", 4));
		}
		free(text);
		reads++;
	}
	zt_diag("%d reads of pages while the child faulted and released 64 pages 300 times",
		reads);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	ASSERT_GT(reads, 0);
	zdref_check_whole_and_unload();
}

/*
 * poison=1 quarantine=8: the pool's last 8 units stay out of use (the
 * 505th page of a 2 MiB device gets SIGBUS); sysfs and debugfs say so;
 * pages written and freed over and over are never reported.
 */
static void poison_quarantine(const void *arg)
{
	struct zdref_release rel = { .length = HP, .timeout_ms = 5000 };
	int fd, status, round;
	char *m, *text;
	pid_t pid;

	ASSERT_EQ(load_type(arg, "poison=1 quarantine=8"), 0);
	ASSERT_EQ(zdref_sysfs_u64("poison"), 1);
	ASSERT_EQ(zdref_sysfs_u64("quarantine"), 8);
	text = slurp(DEBUGFS "model");
	ASSERT_TRUE(text && strstr(text, "poison 1\nquarantine 8\n"));
	free(text);
	fd = open(ZDREF_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	m = mmap(NULL, HP, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_TRUE(m != MAP_FAILED);
	for (round = 0; round < 3; round++) {
		memset(m, round + 1, HP - 8 * PG);
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			m[HP - 8 * PG] = 1;	/* the 505th page */
			_exit(0);
		}
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		ASSERT_TRUE(WIFSIGNALED(status));
		ASSERT_EQ(WTERMSIG(status), SIGBUS);
		ASSERT_EQ(ioctl(fd, ZDREF_IOC_RELEASE, &rel), 0);
	}
	munmap(m, HP);
	close(fd);
	ASSERT_EQ(zdref_sysfs_u64("poison_errors"), 0);
	zdref_check_whole_and_unload();
}

static const struct zt_test tests[] = {
	ZT(trace_formats_decodable, NULL),
	ZT_NAMED("trace_page_life_fsdax", trace_page_life, "fsdax"),
	ZT_NAMED("trace_page_life_generic", trace_page_life, "generic"),
	ZT_NAMED("trace_close_frees_fsdax", trace_close_frees, "fsdax"),
	ZT_NAMED("trace_close_frees_generic", trace_close_frees, "generic"),
	ZT(trace_pmd_fault, NULL),
	ZT(trace_private_migrations, NULL),
	ZT_NAMED("debugfs_view_fsdax", debugfs_view, "fsdax"),
	ZT_NAMED("debugfs_view_generic", debugfs_view, "generic"),
	ZT(debugfs_root_only, NULL),
	ZT(debugfs_concurrent, NULL),
	ZT_NAMED("poison_quarantine_fsdax", poison_quarantine, "fsdax"),
	ZT_NAMED("poison_quarantine_generic", poison_quarantine, "generic"),
};

int main(void)
{
	return zt_run(tests, ZT_COUNT(tests));
}
