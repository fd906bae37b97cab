#include "core/io/timer.h"

#include <stddef.h>
#include <time.h>

uint64_t
timer_now_ms(void)
{
	struct timespec ts;

	/* coarse: ~1-4 ms resolution is plenty for a 50 ms wheel, and it is a vDSO read */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
timer_lag_ms(void)
{
	static uint64_t lag;	/* 0 until the first call; every thread computes the same */
	uint64_t v = __atomic_load_n(&lag, __ATOMIC_RELAXED);
	struct timespec r = { 0, 10000000 };	/* if clock_getres fails: 10 ms */

	if (v == 0) {
		(void)clock_getres(CLOCK_MONOTONIC_COARSE, &r);
		v = ((uint64_t)r.tv_sec * 1000000000ull + (uint64_t)r.tv_nsec + 999999) / 1000000;
		if (v == 0)
			v = 1;
		__atomic_store_n(&lag, v, __ATOMIC_RELAXED);
	}
	return v;
}

void
timer_wheel_init(struct timer_wheel *w, uint64_t now)
{
	for (unsigned i = 0; i < TIMER_SLOTS; i++)
		w->slots[i].next = w->slots[i].prev = &w->slots[i];
	w->now = now;
	w->tick = now / TIMER_TICK_MS;
	w->count = 0;
}

void
timer_del(struct timer_wheel *w, struct timer *t)
{
	if (t->prev == NULL)
		return;
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->next = t->prev = NULL;
	w->count--;
}

void
timer_set(struct timer_wheel *w, struct timer *t, uint64_t expire)
{
	uint64_t tick = expire / TIMER_TICK_MS;
	struct timer *head;

	timer_del(w, t);
	/* a deadline in the past goes to the next slot processed, never behind the cursor */
	if (tick < w->tick)
		tick = w->tick;
	head = &w->slots[tick & (TIMER_SLOTS - 1)];
	t->expire = expire;
	t->next = head;
	t->prev = head->prev;
	head->prev->next = t;
	head->prev = t;
	w->count++;
}

unsigned
timer_run(struct timer_wheel *w, uint64_t now, void (*fire)(struct timer *t, void *arg), void *arg)
{
	uint64_t end = now / TIMER_TICK_MS;
	unsigned fired = 0;

	if (now < w->now)
		now = w->now;
	w->now = now;
	/* after a long stall, one full turn visits every slot: no need to walk more */
	if (end - w->tick >= TIMER_SLOTS)
		w->tick = end - TIMER_SLOTS + 1;
	for (; w->tick <= end; w->tick++) {
		struct timer *head = &w->slots[w->tick & (TIMER_SLOTS - 1)];
		struct timer mark;

		if (w->count == 0)
			continue;
		/*
		 * Walk up to a marker appended at the tail: timers a callback re-arms into this
		 * same slot land after the marker and are not visited twice in this pass.
		 */
		mark.next = head;
		mark.prev = head->prev;
		head->prev->next = &mark;
		head->prev = &mark;
		while (head->next != &mark) {
			struct timer *t = head->next;

			if (t->expire > now) {
				/* a later turn: rotate it behind the marker */
				t->prev->next = t->next;
				t->next->prev = t->prev;
				t->next = head;
				t->prev = head->prev;
				head->prev->next = t;
				head->prev = t;
				continue;
			}
			timer_del(w, t);
			fire(t, arg);
			fired++;
		}
		mark.prev->next = mark.next;
		mark.next->prev = mark.prev;
	}
	/* keep the cursor on the current tick so deadlines within it are processed next run */
	w->tick = end;
	return fired;
}
