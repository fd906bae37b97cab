/*
 * Latency histogram for ringbench: log-linear buckets in the HdrHistogram style.
 *
 * Values are nanoseconds. Every value from 0 to HIST_MAX_NS (one hour) lands in a bucket whose
 * width is at most 1/1024 of its lower bound (~3 significant digits); larger values are clamped
 * into the top bucket and counted in `clamped`, so nothing is ever dropped or sampled.
 * Memory is fixed (HIST_NCOUNTS 64-bit counters, ~270 KiB), so a run of any length costs the same.
 *
 * A histogram is owned by one thread; nothing here locks. Threads record into their own and
 * the main thread merges them after the workers have joined.
 */
#ifndef RINGEDGE_BENCH_HIST_H
#define RINGEDGE_BENCH_HIST_H

#include <stdint.h>
#include <stdio.h>

#define HIST_SUB_BITS	11			/* 2048 linear sub-buckets per power of two */
#define HIST_SUB_HALF	(1u << (HIST_SUB_BITS - 1))
#define HIST_MAX_NS	(3600ull * 1000000000ull)	/* 1 h */
#define HIST_MAX_SHIFT	(41 - (HIST_SUB_BITS - 1))	/* msb(HIST_MAX_NS) is bit 41 */
#define HIST_NCOUNTS	((HIST_MAX_SHIFT + 2) * HIST_SUB_HALF)

struct hist {
	uint64_t	count;
	uint64_t	min;		/* exact, not bucketed; UINT64_MAX when empty */
	uint64_t	max;		/* exact (before clamping) */
	uint64_t	clamped;	/* values above HIST_MAX_NS, recorded in the top bucket */
	double		sum;		/* for the mean; double so it cannot overflow */
	double		sumsq;		/* for the standard deviation */
	uint64_t	counts[HIST_NCOUNTS];
};

/* Allocates a zeroed histogram (calloc); NULL on ENOMEM. Free with free(). */
struct hist *hist_new(void);
void hist_reset(struct hist *h);

/* Records one value (ns). O(1), no allocation, safe to call on the hot path. */
void hist_record(struct hist *h, uint64_t v);

/* dst += src. Merging per-thread histograms gives exactly the histogram of all values. */
void hist_merge(struct hist *dst, const struct hist *src);

/*
 * Value at percentile p (0..100]: the highest value equivalent to the bucket holding the
 * p-th percentile value, capped at the exact max (HdrHistogram semantics). 0 when empty.
 */
uint64_t hist_percentile(const struct hist *h, double p);
double hist_mean(const struct hist *h);
double hist_stddev(const struct hist *h);

/* Bucket helpers, exported for the unit test. */
unsigned hist_index(uint64_t v);
uint64_t hist_bucket_low(unsigned idx);
uint64_t hist_bucket_high(unsigned idx);

#endif
