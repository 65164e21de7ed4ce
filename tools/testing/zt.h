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
 *
 * A fixture with variants, as kselftest_harness's FIXTURE_VARIANT: each
 * test of the fixture runs once under every variant whose tag it names
 * (a test without a tag, under every variant), its first step the
 * fixture's setup for that variant, and its argument the variant's data.
 *
 *	static const struct zt_variant variants[] = {
 *		{ "fsdax", "4K", NULL }, { "fsdax", "2M", NULL },
 *	};
 *	static const struct zt_fixture f = { setup, variants, ZT_COUNT(variants) };
 *	static const struct zt_test tests[] = {
 *		ZT_TAGGED(one_page, "4K"), ZT_TAGGED(one_unit, "2M"),
 *	};
 *	int main(void) { return zt_run_fixture(&f, tests, ZT_COUNT(tests)); }
 *
 * runs fsdax_one_page and fsdax_one_unit.
 */
#ifndef ZT_H
#define ZT_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
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
	const char *tag;	/* of a fixture's test: the variants it runs under */
};

/*
 * One variant of a fixture: the tests that name @tag run under it, named
 * @name_TEST, with @data as their argument.
 */
struct zt_variant {
	const char *name;
	const char *tag;
	const void *data;
};

struct zt_fixture {
	void (*setup)(const struct zt_variant *v);	/* in the test's child */
	const struct zt_variant *variants;
	size_t nvariants;
};

#define ZT(fn, arg)		{ #fn, fn, arg, NULL }
#define ZT_NAMED(name, fn, arg)	{ name, fn, arg, NULL }
#define ZT_TAGGED(fn, tag)	{ #fn, fn, NULL, tag }
#define ZT_COUNT(a)		(sizeof(a) / sizeof((a)[0]))

/* Shared with the children, so that a skip can say why. */
static char *zt_reason;

/*
 * A diagnostic line, and a skip that says why: macros, so that the
 * compiler checks their formats as printf()'s.
 */
#define zt_diag(...) do {						\
	fputs("# ", stdout);						\
	printf(__VA_ARGS__);						\
	fputc('\n', stdout);						\
	fflush(stdout);							\
} while (0)

#define SKIP(...) do {							\
	snprintf(zt_reason, 256, __VA_ARGS__);				\
	fflush(stdout);							\
	_exit(ZT_SKIP_STATUS);						\
} while (0)

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

struct zt_totals {
	int pass, fail, skip;
};

/* The TAP header and plan of @n tests; the page a skip's reason goes in. */
static inline int zt_begin(size_t n)
{
	zt_reason = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (zt_reason == MAP_FAILED) {
		perror("mmap");
		return -1;
	}
	printf("TAP version 13\n1..%zu\n", n);
	fflush(stdout);
	return 0;
}

/* Seconds since an arbitrary start, for the time a test took. */
static inline double zt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Test number @num, @name: @setup(@v) (if any), then @fn(@arg), in a
 * child; its TAP line, counted in @t, after a line of the time it took
 * if that was a second or more (what to look at when a boot is slow).
 * With $ZT_FILTER set, a test whose name does not contain it is skipped
 * (a run of one test by hand); with
 * $ZT_SKIP set, a test whose name contains it is skipped, for the reason
 * $ZT_SKIP_WHY (a boot that leaves a slow test to another boot).
 */
static inline void zt_run_one(size_t num, const char *name,
			      void (*setup)(const struct zt_variant *v),
			      const struct zt_variant *v,
			      void (*fn)(const void *arg), const void *arg,
			      struct zt_totals *t)
{
	const char *filter = getenv("ZT_FILTER"), *skip = getenv("ZT_SKIP");
	const char *why = getenv("ZT_SKIP_WHY");
	double t0 = zt_now(), took;
	int status, err = 0;
	pid_t pid;

	if (filter && !strstr(name, filter)) {
		printf("ok %zu %s # SKIP not in ZT_FILTER=%s\n", num, name, filter);
		t->skip++;
		return;
	}
	if (skip && *skip && strstr(name, skip)) {
		printf("ok %zu %s # SKIP %s\n", num, name,
		       why ? why : "in ZT_SKIP");
		t->skip++;
		return;
	}
	zt_reason[0] = '\0';
	pid = fork();
	if (pid == 0) {
		if (setup)
			setup(v);
		fn(arg);
		fflush(stdout);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		err = errno;
		pid = -1;
	}
	took = zt_now() - t0;
	if (took >= 1)
		zt_diag("%s: %.1f s", name, took);
	if (pid < 0) {
		printf("not ok %zu %s # could not run: %s\n", num, name,
		       strerror(err));
		t->fail++;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("ok %zu %s\n", num, name);
		t->pass++;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == ZT_SKIP_STATUS) {
		printf("ok %zu %s # SKIP %s\n", num, name, zt_reason);
		t->skip++;
	} else {
		if (WIFSIGNALED(status))
			zt_diag("killed by signal %d", WTERMSIG(status));
		printf("not ok %zu %s\n", num, name);
		t->fail++;
	}
	fflush(stdout);
}

static inline int zt_end(const struct zt_totals *t)
{
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       t->pass, t->fail, t->skip);
	return t->fail ? 1 : 0;
}

static inline int zt_run(const struct zt_test *tests, size_t n)
{
	struct zt_totals t = { 0, 0, 0 };
	size_t i;

	if (zt_begin(n))
		return 1;
	for (i = 0; i < n; i++)
		zt_run_one(i + 1, tests[i].name, NULL, NULL, tests[i].fn,
			   tests[i].arg, &t);
	return zt_end(&t);
}

/* Does @test run under variant @v? */
static inline bool zt_variant_runs(const struct zt_variant *v,
				   const struct zt_test *test)
{
	return !test->tag || (v->tag && !strcmp(v->tag, test->tag));
}

/* Every test of fixture @f under each of its variants that it names. */
static inline int zt_run_fixture(const struct zt_fixture *f,
				 const struct zt_test *tests, size_t n)
{
	struct zt_totals t = { 0, 0, 0 };
	size_t i, j, runs = 0, num = 0;
	char name[128];

	for (i = 0; i < f->nvariants; i++)
		for (j = 0; j < n; j++)
			runs += zt_variant_runs(&f->variants[i], &tests[j]);
	if (zt_begin(runs))
		return 1;
	for (i = 0; i < f->nvariants; i++) {
		const struct zt_variant *v = &f->variants[i];

		for (j = 0; j < n; j++) {
			if (!zt_variant_runs(v, &tests[j]))
				continue;
			snprintf(name, sizeof(name), "%s_%s", v->name, tests[j].name);
			zt_run_one(++num, name, f->setup, v, tests[j].fn, v->data, &t);
		}
	}
	return zt_end(&t);
}

#endif /* ZT_H */
