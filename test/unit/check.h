/*
 * Minimal unit-test helpers: CHECK(cond) records a failure with file:line and goes on;
 * check_done() prints "N checks, M failed" and returns the exit status for main().
 * Exit 77 means skip (meson convention).
 */
#ifndef RINGEDGE_TEST_CHECK_H
#define RINGEDGE_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_total, check_failed;

#define CHECK(cond) do { \
	check_total++; \
	if (!(cond)) { \
		check_failed++; \
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
	} \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *check_a_ = (a), *check_b_ = (b); \
	check_total++; \
	if (check_a_ == NULL || check_b_ == NULL || strcmp(check_a_, check_b_) != 0) { \
		check_failed++; \
		fprintf(stderr, "%s:%d: CHECK_STR failed:\n  got:  %s\n  want: %s\n", __FILE__, \
			__LINE__, check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)"); \
	} \
} while (0)

static inline int
check_done(void)
{
	printf("%d checks, %d failed\n", check_total, check_failed);
	return check_failed ? 1 : 0;
}

#endif
