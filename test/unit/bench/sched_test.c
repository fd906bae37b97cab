/* bench/sched: intended send times are evenly spaced at 1/R over all connections. */
#include <stdint.h>
#include <stdlib.h>

#include "bench/sched.h"
#include "test/unit/check.h"

static void
test_even_spacing(void)
{
	/* 4 connections, 1000 req/s total: the union of their schedules ticks every 1 ms. */
	struct sched s[4];
	uint64_t t0 = 5000000000ull, due;
	uint32_t g;
	int k, ok = 1;

	for (g = 0; g < 4; g++)
		sched_init(&s[g], t0, 1000.0, 4, g);
	for (k = 0; k < 1000; k++) {
		for (g = 0; g < 4; g++) {
			due = sched_take(&s[g]);
			if (due != t0 + ((uint64_t)k * 4 + g) * 1000000ull)
				ok = 0;
		}
	}
	CHECK(ok);
	CHECK(s[0].k == 1000);
	CHECK(sched_due(&s[1]) == t0 + 4001ull * 1000000ull);
}

static void
test_no_drift(void)
{
	/* A rate with a non-integer period: after 10^7 slots we are still exact to the ns. */
	struct sched s;

	sched_init(&s, 0, 3.0, 1, 0);
	s.k = 10000000;
	CHECK(sched_due(&s) == 3333333333333333ull);
}

static void
test_due_before(void)
{
	struct sched s;
	uint32_t g;
	uint64_t total = 0;

	/* 10 s at 2500 req/s over 7 connections: exactly 25000 slots due. */
	for (g = 0; g < 7; g++) {
		sched_init(&s, 1000, 2500.0, 7, g);
		total += sched_due_before(&s, 1000 + 10000000000ull);
	}
	CHECK(total == 25000);
	sched_init(&s, 1000, 1000.0, 4, 2);
	CHECK(sched_due_before(&s, 500) == 0);
	CHECK(sched_due_before(&s, 1000 + 2000000) == 0);	/* slot 2 is due at exactly t */
	CHECK(sched_due_before(&s, 1000 + 2000001) == 1);
	CHECK(sched_due_before(&s, 1000 + 6000001) == 2);
}

static void
test_share(void)
{
	uint32_t i, sum = 0;

	for (i = 0; i < 3; i++)
		sum += sched_share(100, 3, i);
	CHECK(sum == 100);
	CHECK(sched_share(100, 3, 0) == 34);
	CHECK(sched_share(100, 3, 2) == 33);
	CHECK(sched_share(1, 2, 1) == 0);
}

int
main(void)
{
	test_even_spacing();
	test_no_drift();
	test_due_before();
	test_share();
	return check_done();
}
