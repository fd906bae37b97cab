/*
 * Log-linear histogram. Index layout: values below 2048 map 1:1 to counts[0..2047]. Above
 * that, a value with most significant bit m is shifted right by s = m - 10 so that the top 11
 * bits (1024..2047) select the sub-bucket; each shift adds 1024 new counters (the lower half
 * is covered by the previous shift), so counts[] has (HIST_MAX_SHIFT + 2) * 1024 entries.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/hist.h"

struct hist *
hist_new(void)
{
	struct hist *h = calloc(1, sizeof(*h));

	if (h != NULL)
		h->min = UINT64_MAX;
	return h;
}

void
hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

unsigned
hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v > HIST_MAX_NS)
		v = HIST_MAX_NS;
	if (v < 2 * HIST_SUB_HALF)
		return (unsigned)v;
	msb = 63 - (unsigned)__builtin_clzll(v);
	shift = msb - (HIST_SUB_BITS - 1);
	return (shift + 1) * HIST_SUB_HALF + (unsigned)((v >> shift) - HIST_SUB_HALF);
}

uint64_t
hist_bucket_low(unsigned idx)
{
	unsigned shift;

	if (idx < 2 * HIST_SUB_HALF)
		return idx;
	shift = idx / HIST_SUB_HALF - 1;
	return (uint64_t)(idx % HIST_SUB_HALF + HIST_SUB_HALF) << shift;
}

uint64_t
hist_bucket_high(unsigned idx)
{
	unsigned shift;

	if (idx < 2 * HIST_SUB_HALF)
		return idx;
	shift = idx / HIST_SUB_HALF - 1;
	return hist_bucket_low(idx) + (1ull << shift) - 1;
}

void
hist_record(struct hist *h, uint64_t v)
{
	if (v > HIST_MAX_NS)
		h->clamped++;
	h->counts[hist_index(v)]++;
	h->count++;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->sum += (double)v;
	h->sumsq += (double)v * (double)v;
}

void
hist_merge(struct hist *dst, const struct hist *src)
{
	size_t i;

	for (i = 0; i < HIST_NCOUNTS; i++)
		dst->counts[i] += src->counts[i];
	dst->count += src->count;
	dst->clamped += src->clamped;
	dst->sum += src->sum;
	dst->sumsq += src->sumsq;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t
hist_percentile(const struct hist *h, double p)
{
	uint64_t want, seen = 0, v;
	size_t i;

	if (h->count == 0)
		return 0;
	if (p > 100.0)
		p = 100.0;
	/* The rank of the p-th percentile value, at least 1 (HdrHistogram rounds the same way). */
	want = (uint64_t)ceil(p / 100.0 * (double)h->count);
	if (want == 0)
		want = 1;
	for (i = 0; i < HIST_NCOUNTS; i++) {
		seen += h->counts[i];
		if (seen >= want) {
			v = hist_bucket_high((unsigned)i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

double
hist_mean(const struct hist *h)
{
	return h->count ? h->sum / (double)h->count : 0.0;
}

double
hist_stddev(const struct hist *h)
{
	double m, var;

	if (h->count < 2)
		return 0.0;
	m = hist_mean(h);
	var = h->sumsq / (double)h->count - m * m;
	return var > 0 ? sqrt(var) : 0.0;
}
