/* SPDX-License-Identifier: GPL-2.0 */
/*
 * zt: a small TAP test harness for zdref's guest selftests, in the manner
 * of the kernel's kselftest_harness.h.  Each test runs in a child process,
 * so that a crash or a failed assertion ends that test only; the parent
 * prints one TAP line per test and a totals line.
 *
 *	static void my_test(const void *arg) { ASSERT_EQ(1, 1); }
 *	static const struct zt_test tests[] = { ZT(my_test, NULL), };
 *	int main(void) { return zt_run(tests, ZT_COUNT(tests)); }
 */
#ifndef ZT_H
#define ZT_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define ZT_SKIP_STATUS	4	/* KSFT_SKIP */

/* As tools/include/linux/compiler.h spells it. */
#ifndef fallthrough
#define fallthrough	__attribute__((__fallthrough__))
#endif

struct zt_test {
	const char *name;
	void (*fn)(const void *arg);
	const void *arg;
};

#define ZT(fn, arg)		{ #fn, fn, arg }
#define ZT_NAMED(name, fn, arg)	{ name, fn, arg }
#define ZT_COUNT(a)		(sizeof(a) / sizeof((a)[0]))

/* Shared with the children, so that a skip can say why. */
static char *zt_reason;

static inline void zt_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("# ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
	fflush(stdout);
}

static inline noreturn void zt_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(zt_reason, 256, fmt, ap);
	va_end(ap);
	fflush(stdout);
	_exit(ZT_SKIP_STATUS);
}

#define SKIP(...)	zt_skip(__VA_ARGS__)

#define __ZT_FAIL(...) do {						\
	zt_diag("%s:%d: " __VA_ARGS__);					\
	_exit(1);							\
} while (0)

/* Signed comparisons print in decimal, unsigned ones in hex. */
#define __ZT_CMP(a, op, b) do {						\
	long long __a = (a), __b = (b);					\
	if (!(__a op __b))						\
		__ZT_FAIL("%s (%lld) " #op " %s (%lld) is false",	\
			  __FILE__, __LINE__, #a, __a, #b, __b);	\
} while (0)
#define __ZT_CMP_U(a, op, b) do {					\
	unsigned long long __a = (a), __b = (b);			\
	if (!(__a op __b))						\
		__ZT_FAIL("%s (0x%llx) " #op " %s (0x%llx) is false",	\
			  __FILE__, __LINE__, #a, __a, #b, __b);	\
} while (0)

#define ASSERT_EQ(a, b)		__ZT_CMP(a, ==, b)
#define ASSERT_NE(a, b)		__ZT_CMP(a, !=, b)
#define ASSERT_GE(a, b)		__ZT_CMP(a, >=, b)
#define ASSERT_GT(a, b)		__ZT_CMP(a, >, b)
#define ASSERT_LE(a, b)		__ZT_CMP(a, <=, b)
#define ASSERT_EQ_U(a, b)	__ZT_CMP_U(a, ==, b)
#define ASSERT_TRUE(c) do {						\
	if (!(c))							\
		__ZT_FAIL("%s is false", __FILE__, __LINE__, #c);	\
} while (0)
#define ASSERT_FALSE(c)		ASSERT_TRUE(!(c))
#define ASSERT_STREQ(a, b) do {						\
	const char *__a = (a), *__b = (b);				\
	if (strcmp(__a, __b))						\
		__ZT_FAIL("%s (\"%s\") != %s (\"%s\")", __FILE__,	\
			  __LINE__, #a, __a, #b, __b);			\
} while (0)
/* An errno-returning call: 0 or -errno. */
#define ASSERT_ERRNO(call, err)	ASSERT_EQ(call, -(err))

static inline int zt_run(const struct zt_test *tests, size_t n)
{
	int pass = 0, fail = 0, skip = 0;
	size_t i;

	zt_reason = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (zt_reason == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	printf("TAP version 13\n1..%zu\n", n);
	fflush(stdout);
	for (i = 0; i < n; i++) {
		int status;
		pid_t pid;

		zt_reason[0] = '\0';
		pid = fork();
		if (pid == 0) {
			tests[i].fn(tests[i].arg);
			fflush(stdout);
			_exit(0);
		}
		if (pid < 0 || waitpid(pid, &status, 0) != pid) {
			printf("not ok %zu %s # could not run: %s\n", i + 1,
			       tests[i].name, strerror(errno));
			fail++;
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			printf("ok %zu %s\n", i + 1, tests[i].name);
			pass++;
		} else if (WIFEXITED(status) &&
			   WEXITSTATUS(status) == ZT_SKIP_STATUS) {
			printf("ok %zu %s # SKIP %s\n", i + 1, tests[i].name,
			       zt_reason);
			skip++;
		} else {
			if (WIFSIGNALED(status))
				zt_diag("killed by signal %d", WTERMSIG(status));
			printf("not ok %zu %s\n", i + 1, tests[i].name);
			fail++;
		}
		fflush(stdout);
	}
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       pass, fail, skip);
	return fail ? 1 : 0;
}

#endif /* ZT_H */
