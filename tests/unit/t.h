/*
 * t.h - a tiny unit test harness. A test is a function; CHECK records a
 * failure and goes on. Each test prints "PASS name" or "FAIL name", which
 * tests/run.py counts.
 */
#ifndef T_H
#define T_H

#include <stdio.h>

static int t_failed;	/* checks failed in the current test */
static int t_tests_failed;
static const char *t_suffix = "";	/* after each name: the pass */

#define CHECK(c) do {							\
	if (!(c)) {							\
		t_failed++;						\
		fprintf(stderr, "  %s:%d: CHECK(%s) failed\n",		\
		    __FILE__, __LINE__, #c);				\
	}								\
} while (0)

#define RUN(fn) do {							\
	t_failed = 0;							\
	fn();								\
	printf("%s %s%s\n", t_failed ? "FAIL" : "PASS", #fn, t_suffix);\
	fflush(stdout);							\
	if (t_failed)							\
		t_tests_failed++;					\
} while (0)

#define T_EXIT()	(t_tests_failed ? 1 : 0)

#endif
