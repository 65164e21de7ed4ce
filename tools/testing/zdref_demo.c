// SPDX-License-Identifier: GPL-2.0
/*
 * zdref_demo: walk one device page through its life and print zdref's
 * count at each step (make try runs it in the guest).
 */
#define _GNU_SOURCE
#include <sys/ioctl.h>
#include <sys/uio.h>

#include "zdref_util.h"
#include "../../include/uapi/zdref.h"

static int fd;

static void show(const char *step, const void *addr)
{
	struct zdref_page_info pi = { .addr = (uintptr_t)addr };
	static const char *const states[] = { "none", "free", "owned", "busy" };

	if (ioctl(fd, ZDREF_IOC_PAGE_INFO, &pi)) {
		perror("ZDREF_IOC_PAGE_INFO");
		exit(1);
	}
	printf("  %-40s refcount %lld (kernel raw %lld), mapcount %lld, %s\n",
	       step, (long long)pi.refcount, (long long)pi.raw_refcount,
	       (long long)pi.mapcount, states[pi.state]);
}

static void counters(const char *when)
{
	printf("  %-40s allocs %llu, frees %llu, pages_busy %llu\n", when,
	       (unsigned long long)zdref_sysfs_u64("allocs"),
	       (unsigned long long)zdref_sysfs_u64("frees"),
	       (unsigned long long)zdref_sysfs_u64("pages_busy"));
}

int main(void)
{
	char refmodel[128], buf[4096];
	struct iovec iov;
	int pfd[2], i;
	char *p, *q;
	pid_t pid;

	fd = open(ZDREF_DEV, O_RDWR);
	if (fd < 0 || pipe(pfd)) {
		perror(ZDREF_DEV);
		return 1;
	}
	zdref_sysfs("refmodel", refmodel, sizeof(refmodel));
	printf("  reference model on this kernel: %s\n", refmodel);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	q = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED || q == MAP_FAILED)
		return 1;
	strcpy(p, "hello from a device page");
	show("first touch: the file + 1 mapping", p);
	q[0] = 'H';
	show("a second mapping of the same offset", p);
	pid = fork();
	if (pid == 0) {
		show("in a forked child: +1 per inherited map", p);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	munmap(q, 4096);
	show("child gone, second mapping unmapped", p);
	iov.iov_base = p;
	iov.iov_len = 4096;
	vmsplice(pfd[1], &iov, 1, 0);
	show("vmsplice()d into a pipe", p);
	munmap(p, 4096);
	close(fd);
	counters("mapping and file gone, pipe holds it:");
	read(pfd[0], buf, sizeof(buf));
	printf("  the pipe still reads \"%s\"\n", buf);
	close(pfd[0]);
	close(pfd[1]);
	for (i = 0; i < 100 && zdref_sysfs_u64("pages_busy"); i++)
		usleep(1000);
	counters("pipe closed: the last reference:");
	return 0;
}
