/* Timer wheel: ordering, re-arming, far deadlines across turns, re-arm from a callback. */
#include <stdio.h>
#include <stdlib.h>

#include "test/unit/check.h"
#include "core/io/timer.h"

static struct timer_wheel W;
static int fired[8];
static struct timer T[8];

static void
fire(struct timer *t, void *arg)
{
	int i = (int)(t - T);

	(void)arg;
	fired[i]++;
	if (i == 5 && fired[i] == 1)
		timer_set(&W, t, W.now + 100);	/* re-arm from its own callback */
}

int
main(void)
{
	uint64_t now = 1000000;

	timer_wheel_init(&W, now);
	timer_set(&W, &T[0], now + 100);
	timer_set(&W, &T[1], now + 1000);
	timer_set(&W, &T[2], now + 200000);	/* several turns away */
	timer_set(&W, &T[3], now - 50);	/* already due */
	timer_set(&W, &T[4], now + 500);
	timer_set(&W, &T[5], now + 60);
	timer_del(&W, &T[4]);
	CHECK(!timer_armed(&T[4]));
	CHECK(W.count == 5);

	timer_run(&W, now + 10, fire, NULL);
	CHECK(fired[3] == 1 && fired[0] == 0);
	timer_run(&W, now + 120, fire, NULL);
	CHECK(fired[0] == 1 && fired[5] == 1 && timer_armed(&T[5]));
	/* re-armed by its callback at the wheel's time (now + 120) + 100: not before, once */
	timer_run(&W, now + 120 + 99 - TIMER_TICK_MS, fire, NULL);
	CHECK(fired[5] == 1 && timer_armed(&T[5]));
	timer_run(&W, now + 220, fire, NULL);
	CHECK(fired[5] == 2 && !timer_armed(&T[5]));
	timer_run(&W, now + 999, fire, NULL);
	CHECK(fired[1] == 0 && fired[5] == 2);
	timer_run(&W, now + 1200, fire, NULL);
	CHECK(fired[1] == 1 && fired[5] == 2);
	timer_run(&W, now + 1300, fire, NULL);
	CHECK(fired[5] == 2);
	/* jump far ahead in one run (a stalled loop): still exactly once, never early */
	timer_run(&W, now + 150000, fire, NULL);
	CHECK(fired[2] == 0);
	timer_run(&W, now + 200049, fire, NULL);
	CHECK(fired[2] == 1);
	CHECK(W.count == 0 && fired[4] == 0);
	return check_done();
}
