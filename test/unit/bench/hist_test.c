/* bench/hist: bucket layout, percentiles of known distributions, merge == single histogram. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "bench/hist.h"
#include "test/unit/check.h"

/* |got - want| within 0.1% of want (3 significant digits) plus one unit. */
static int
close_to(uint64_t got, double want)
{
	return fabs((double)got - want) <= want * 0.001 + 1.0;
}

static void
test_layout(void)
{
	unsigned i;
	int ok = 1;

	CHECK(hist_index(0) == 0);
	CHECK(hist_index(2047) == 2047);
	CHECK(hist_index(2048) == 2048);
	CHECK(hist_index(HIST_MAX_NS) < HIST_NCOUNTS);
	CHECK(hist_index(UINT64_MAX) == hist_index(HIST_MAX_NS));
	/* Buckets tile the range without gaps, and each is at most 1/1024 of its value wide. */
	for (i = 1; i <= hist_index(HIST_MAX_NS); i++) {
		if (hist_bucket_low(i) != hist_bucket_high(i - 1) + 1)
			ok = 0;
		if (hist_index(hist_bucket_low(i)) != i || hist_index(hist_bucket_high(i)) != i)
			ok = 0;
		if ((double)(hist_bucket_high(i) - hist_bucket_low(i)) > hist_bucket_low(i) / 1024.0)
			ok = 0;
	}
	CHECK(ok);
	CHECK(hist_bucket_high(hist_index(HIST_MAX_NS)) >= HIST_MAX_NS);
}

static void
test_uniform(void)
{
	struct hist *h = hist_new();
	uint64_t us;

	/* Uniform 1..100000 us, each value once: the p-th percentile is p * 1000 us. */
	for (us = 1; us <= 100000; us++)
		hist_record(h, us * 1000);
	CHECK(h->count == 100000);
	CHECK(h->min == 1000);
	CHECK(h->max == 100000000);
	CHECK(close_to(hist_percentile(h, 50), 50000e3));
	CHECK(close_to(hist_percentile(h, 90), 90000e3));
	CHECK(close_to(hist_percentile(h, 99), 99000e3));
	CHECK(close_to(hist_percentile(h, 99.9), 99900e3));
	CHECK(close_to(hist_percentile(h, 99.99), 99990e3));
	CHECK(hist_percentile(h, 100) == 100000000);
	CHECK(fabs(hist_mean(h) - 50000.5e3) < 1.0);
	free(h);
}

static void
test_bimodal(void)
{
	struct hist *h = hist_new();
	int i;

	/* 99% fast (100 us), 1% slow (1 s): p50..p99 see the fast mode, p99.9 the slow one. */
	for (i = 0; i < 99000; i++)
		hist_record(h, 100000);
	for (i = 0; i < 1000; i++)
		hist_record(h, 1000000000);
	CHECK(close_to(hist_percentile(h, 50), 100000));
	CHECK(close_to(hist_percentile(h, 90), 100000));
	CHECK(close_to(hist_percentile(h, 99), 100000));
	CHECK(close_to(hist_percentile(h, 99.01), 1e9));
	CHECK(close_to(hist_percentile(h, 99.9), 1e9));
	CHECK(hist_percentile(h, 100) == 1000000000);
	free(h);
}

static void
test_clamp_and_empty(void)
{
	struct hist *h = hist_new();

	CHECK(hist_percentile(h, 50) == 0);
	CHECK(h->min == UINT64_MAX);
	hist_record(h, HIST_MAX_NS * 2);	/* over an hour: kept, clamped, counted */
	CHECK(h->count == 1);
	CHECK(h->clamped == 1);
	CHECK(h->max == HIST_MAX_NS * 2);
	CHECK(hist_percentile(h, 50) >= HIST_MAX_NS);
	free(h);
}

static void
test_merge(void)
{
	struct hist *a = hist_new(), *b = hist_new(), *all = hist_new();
	uint64_t x = 88172645463325252ull, v;
	int i;

	/* Pseudo-random log-spread values split over two histograms vs all in one. */
	for (i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = x >> (24 + x % 30);
		hist_record(i % 3 ? a : b, v);
		hist_record(all, v);
	}
	hist_merge(a, b);
	CHECK(a->count == all->count);
	CHECK(a->min == all->min && a->max == all->max);
	CHECK(memcmp(a->counts, all->counts, sizeof(all->counts)) == 0);
	CHECK(hist_percentile(a, 99.99) == hist_percentile(all, 99.99));
	CHECK(hist_percentile(a, 50) == hist_percentile(all, 50));
	free(a);
	free(b);
	free(all);
}

int
main(void)
{
	test_layout();
	test_uniform();
	test_bimodal();
	test_clamp_and_empty();
	test_merge();
	return check_done();
}
