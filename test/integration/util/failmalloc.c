/*
 * LD_PRELOAD allocation-failure injection for tests: while the file named by $FAILMALLOC_FLAG
 * exists, one in every $FAILMALLOC_EVERY (default 3) allocations of at least
 * $FAILMALLOC_MIN bytes (default 512: buffers, TLS sessions, not small bookkeeping) returns
 * NULL with errno ENOMEM. The flag is checked at most every 4096 calls' worth of time
 * (a stat per 10 ms) so the shim stays cheap. Built by test/integration/test_limits.py.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static _Atomic unsigned long calls;
static _Atomic long long next_check_ns;
static _Atomic int armed;

static int
failing(size_t n)
{
	static size_t min_size, every;
	struct timespec ts;
	struct stat st;
	long long now;
	const char *flag, *s;

	if (every == 0) {
		s = getenv("FAILMALLOC_EVERY");
		every = s ? strtoul(s, NULL, 10) : 3;
		every = every ? every : 3;
		s = getenv("FAILMALLOC_MIN");
		min_size = s ? strtoul(s, NULL, 10) : 512;
	}
	if (n < min_size)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	if (now >= next_check_ns) {
		flag = getenv("FAILMALLOC_FLAG");
		armed = flag != NULL && stat(flag, &st) == 0;
		next_check_ns = now + 10000000LL;
	}
	return armed && ++calls % every == 0;
}

void *
malloc(size_t n)
{
	if (failing(n)) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_malloc(n);
}

void *
calloc(size_t a, size_t b)
{
	if (b != 0 && a <= ((size_t)-1) / b && failing(a * b)) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_calloc(a, b);
}

void *
realloc(void *p, size_t n)
{
	if (failing(n)) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_realloc(p, n);
}
