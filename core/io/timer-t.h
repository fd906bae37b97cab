/*
 * Coarse per-worker timer wheel types (core/io/timer.c). One wheel per worker thread, driven by
 * one recurring ring timeout; timers are intrusive (embedded in connections), so arming and
 * disarming never allocate.
 */
#ifndef RINGEDGE_CORE_IO_TIMER_T_H
#define RINGEDGE_CORE_IO_TIMER_T_H

#include <stdint.h>

#define TIMER_TICK_MS	50	/* wheel resolution: deadlines fire up to one tick late */
#define TIMER_SLOTS	1024	/* power of two; one turn = 51.2 s, later deadlines wait turns */

/* An intrusive timer. Zero-initialised = not armed. */
struct timer {
	struct timer	*next;
	struct timer	*prev;		/* NULL when not armed */
	uint64_t	 expire;	/* absolute ms (CLOCK_MONOTONIC) */
};

struct timer_wheel {
	struct timer	 slots[TIMER_SLOTS];	/* list heads (circular) */
	uint64_t	 now;			/* ms of the last timer_run() */
	uint64_t	 tick;			/* next tick to process */
	uint32_t	 count;			/* armed timers */
};

#endif
