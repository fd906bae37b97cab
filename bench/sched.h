/*
 * Open-loop rate schedule for ringbench (the wrk2 model, without coordinated omission).
 *
 * A total rate R (requests/s) is spread over N connections in all threads. Connection g
 * (0 <= g < N, numbered globally) owns the request slots k*N + g of one global sequence whose
 * slot i is due at t0 + i / R. So the union of all connections is exactly evenly spaced at 1/R,
 * each connection runs at R/N, and the connections are phase-shifted instead of bursting together.
 *
 * Latency is measured from sched_due() (the intended send time), so a stalled server is charged
 * for every request it delayed, not just one. A connection that is still busy when its next slot
 * comes due sends that request late; the delay shows up in the corrected latency, and the send is
 * counted as late. Slots that were due before the end but never sent are "unsent".
 *
 * Pure arithmetic: no clock reads, no I/O; one struct per connection, owned by its thread.
 */
#ifndef RINGEDGE_BENCH_SCHED_H
#define RINGEDGE_BENCH_SCHED_H

#include <stdint.h>

struct sched {
	uint64_t	t0;		/* ns, CLOCK_MONOTONIC; slot 0 of the global sequence */
	double		ns_per_slot;	/* 1e9 / R */
	uint32_t	nconn;		/* N, all connections of all threads */
	uint32_t	g;		/* this connection's global index */
	uint64_t	k;		/* this connection's next request (0, 1, 2, ...) */
};

/* rate > 0, nconn > 0, g < nconn. */
void sched_init(struct sched *s, uint64_t t0, double rate, uint32_t nconn, uint32_t g);

/* Intended send time (ns) of this connection's next request. */
uint64_t sched_due(const struct sched *s);

/* Moves to the next request; returns the intended time of the one just taken. */
uint64_t sched_take(struct sched *s);

/* How many of this connection's slots are due strictly before `t` (ns), counting from slot 0. */
uint64_t sched_due_before(const struct sched *s, uint64_t t);

/*
 * Share of `total` given to part `i` of `n` (the first total % n parts get one more): used to
 * split connections over threads so that the shares add up to total exactly.
 */
uint32_t sched_share(uint32_t total, uint32_t n, uint32_t i);

#endif
