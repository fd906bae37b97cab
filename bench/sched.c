#include <math.h>

#include "bench/sched.h"

void
sched_init(struct sched *s, uint64_t t0, double rate, uint32_t nconn, uint32_t g)
{
	s->t0 = t0;
	s->ns_per_slot = 1e9 / rate;
	s->nconn = nconn;
	s->g = g;
	s->k = 0;
}

uint64_t
sched_due(const struct sched *s)
{
	/* Computed from the slot number every time rather than accumulated, so no drift builds up. */
	double slot = (double)s->k * s->nconn + s->g;

	return s->t0 + (uint64_t)llround(slot * s->ns_per_slot);
}

uint64_t
sched_take(struct sched *s)
{
	uint64_t due = sched_due(s);

	s->k++;
	return due;
}

uint64_t
sched_due_before(const struct sched *s, uint64_t t)
{
	double slots;
	uint64_t n;
	struct sched probe = *s;

	if (t <= s->t0)
		return 0;
	/* Slots i < (t - t0) / period, i = k*N + g  =>  k < (slots - g) / N. */
	slots = (double)(t - s->t0) / s->ns_per_slot;
	if (slots <= s->g)
		return 0;
	n = (uint64_t)ceil((slots - s->g) / s->nconn);
	/* Fix rounding at exact boundaries with the same formula sched_due() uses. */
	probe.k = n;
	while (n > 0 && (probe.k = n - 1, sched_due(&probe) >= t))
		n--;
	probe.k = n;
	while (sched_due(&probe) < t) {
		n++;
		probe.k = n;
	}
	return n;
}

uint32_t
sched_share(uint32_t total, uint32_t n, uint32_t i)
{
	return total / n + (i < total % n ? 1 : 0);
}
