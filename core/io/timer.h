/*
 * Coarse timer wheel. Owner: one worker thread; no locking. Times are milliseconds of
 * CLOCK_MONOTONIC (timer_now_ms()). A deadline fires in the first timer_run() whose `now`
 * is >= expire (at most one tick late). Callbacks may arm or disarm any timer, including the
 * one firing.
 */
#ifndef RINGEDGE_CORE_IO_TIMER_H
#define RINGEDGE_CORE_IO_TIMER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/io/timer-t.h"

uint64_t timer_now_ms(void);
/* How far timer_now_ms() may lag the real clock, in whole ms (rounded up): the coarse clock's
 * resolution, one kernel tick (4 ms at HZ=250). */
uint64_t timer_lag_ms(void);

/* Prepares an empty wheel whose clock starts at now. */
void timer_wheel_init(struct timer_wheel *w, uint64_t now);

/* Arms (or re-arms) t to fire at absolute time expire. */
void timer_set(struct timer_wheel *w, struct timer *t, uint64_t expire);

/* Disarms t; a no-op when t is not armed. */
void timer_del(struct timer_wheel *w, struct timer *t);

static inline bool
timer_armed(const struct timer *t)
{
	return t->prev != NULL;
}

/*
 * Advances the wheel to now and calls fire(t, arg) for every timer whose deadline passed, after
 * disarming it. Returns how many fired.
 */
unsigned timer_run(struct timer_wheel *w, uint64_t now, void (*fire)(struct timer *t, void *arg),
	void *arg);

#endif
