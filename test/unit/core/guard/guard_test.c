/*
 * core/guard/guard.c: counting per user, address and pair; familiar addresses; the
 * repeated-password rule; growing locks; log_only; lock/unlock events exactly once; the
 * status rules; auth_schemes; LRU bounds (1,000,000 sprayed names, RSS measured); two
 * threads on the same keys.
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../check.h"
#include "core/guard/cred.h"
#include "core/guard/guard.h"

#define MIN	(60 * 1000ULL)
#define T0	(1000 * MIN)		/* an arbitrary monotonic start */

static const struct guard_params defaults = {
	.user_failures = 5, .user_window = 30 * MIN,
	.addr_failures = 20, .addr_window = 10 * MIN,
	.familiar_failures = 5, .familiar_time = 7 * 24 * 60 * MIN,
	.lock_time = 15 * MIN, .lock_time_max = 60 * MIN,
	.max_tracked_keys = 10000,
};

static void
att(struct guard_attempt *a, const char *user, unsigned addr, const char *pw)
{
	uint8_t ip[4] = { 10, (uint8_t)(addr >> 16), (uint8_t)(addr >> 8), (uint8_t)addr };
	char text[32];
	struct cred c = { .kind = CRED_BASIC };

	snprintf(text, sizeof(text), "10.%u.%u.%u", ip[1], ip[2], ip[3]);
	if (pw != NULL) {
		c.has_pw = true;
		c.pw_hash = cred_pw_hash(pw, strlen(pw));
	}
	guard_attempt_init(a, user, ip, sizeof(ip), text, &c);
}

/* one attempt: check, and if allowed, the outcome; returns the check's action */
static enum guard_action
try(struct guard *g, const char *user, unsigned addr, const char *pw, bool ok, uint64_t now,
    struct guard_events *ev)
{
	struct guard_attempt a;
	struct guard_verdict v;
	struct guard_events dummy;

	att(&a, user, addr, pw);
	if (guard_check(g, &a, now, false, &v) != GUARD_ALLOW)
		return v.action;
	guard_outcome(g, &a, ok, now, ev ? ev : &dummy);
	return GUARD_ALLOW;
}

static enum guard_action
check(struct guard *g, const char *user, unsigned addr, const char *pw, uint64_t now,
      struct guard_verdict *v)
{
	struct guard_attempt a;

	att(&a, user, addr, pw);
	return guard_check(g, &a, now, false, v);
}

static void
test_user_lock(void)
{
	struct guard *g = guard_create(&defaults);
	struct guard_events ev;
	struct guard_verdict v;
	char pw[16];
	int locks = 0;

	/* 5 different wrong passwords from 5 addresses: locked at the 5th */
	for (int i = 0; i < 5; i++) {
		snprintf(pw, sizeof(pw), "bad%d", i);
		CHECK(try(g, "contoso\\alice", 100 + (unsigned)i, pw, false, T0 + (uint64_t)i, &ev) ==
		      GUARD_ALLOW);
		for (int k = 0; k < ev.n; k++) {
			locks++;
			CHECK(ev.ev[k].type == GUARD_EV_LOCK && ev.ev[k].what == GUARD_USER);
			CHECK_STR(ev.ev[k].user, "contoso\\alice");
			CHECK(ev.ev[k].until == T0 + 4 + 15 * MIN && ev.ev[k].failures == 5);
		}
	}
	CHECK(locks == 1);
	{
		char line[256];

		guard_event_text(&ev.ev[0], T0 + 4, line, sizeof(line));
		CHECK_STR(line, "auth guard: locked user contoso\\alice (5 failures from unfamiliar "
			  "addresses, lock 1) for 900s");
		ev.ev[0].type = GUARD_EV_UNLOCK;
		guard_event_text(&ev.ev[0], T0 + 4, line, sizeof(line));
		CHECK_STR(line, "auth guard: unlocked user contoso\\alice");
	}
	CHECK(check(g, "contoso\\alice", 200, "x", T0 + 10, &v) == GUARD_LOCKED);
	CHECK(v.what == GUARD_USER && v.until == T0 + 4 + 15 * MIN && !v.familiar);
	/* other users and addresses are not affected */
	CHECK(check(g, "contoso\\bob", 100, "x", T0 + 10, &v) == GUARD_ALLOW);
	/* 4 failures only: not locked */
	for (int i = 0; i < 4; i++) {
		snprintf(pw, sizeof(pw), "bad%d", i);
		try(g, "contoso\\carol", 300 + (unsigned)i, pw, false, T0, NULL);
	}
	CHECK(check(g, "contoso\\carol", 1, "y", T0 + 1, &v) == GUARD_ALLOW);
	/* a window later the old failures are gone: 4 more still do not lock */
	for (int i = 0; i < 4; i++) {
		snprintf(pw, sizeof(pw), "new%d", i);
		try(g, "contoso\\carol", 300 + (unsigned)i, pw, false, T0 + 61 * MIN, NULL);
	}
	CHECK(check(g, "contoso\\carol", 1, "y", T0 + 61 * MIN, &v) == GUARD_ALLOW);
	/* ... and the fifth in the new window locks (each failure counts in its own window) */
	try(g, "contoso\\carol", 310, "new5", false, T0 + 61 * MIN, NULL);
	CHECK(check(g, "contoso\\carol", 1, "y", T0 + 61 * MIN, &v) == GUARD_LOCKED);
	guard_destroy(g);
}

static void
test_familiar(void)
{
	struct guard *g = guard_create(&defaults);
	struct guard_verdict v;
	struct guard_events ev;
	char pw[16];

	/* alice signs in from her usual address 7 */
	CHECK(try(g, "contoso\\alice", 7, "right", true, T0, NULL) == GUARD_ALLOW);
	/* an attacker elsewhere locks the user ... */
	for (int i = 0; i < 6; i++) {
		snprintf(pw, sizeof(pw), "guess%d", i);
		try(g, "contoso\\alice", 900 + (unsigned)i, pw, false, T0 + MIN, NULL);
	}
	CHECK(check(g, "contoso\\alice", 950, "x", T0 + 2 * MIN, &v) == GUARD_LOCKED);
	/* ... but not from her familiar address */
	CHECK(check(g, "contoso\\alice", 7, "right", T0 + 2 * MIN, &v) == GUARD_ALLOW);
	CHECK(v.familiar);
	/* her own typos count on the pair's counter, not the user's */
	for (int i = 0; i < 4; i++) {
		snprintf(pw, sizeof(pw), "typo%d", i);
		CHECK(try(g, "contoso\\alice", 7, pw, false, T0 + 3 * MIN, &ev) == GUARD_ALLOW);
		CHECK(ev.n == 0);
	}
	CHECK(try(g, "contoso\\alice", 7, "typo4", false, T0 + 3 * MIN, &ev) == GUARD_ALLOW);
	CHECK(ev.n == 1 && ev.ev[0].type == GUARD_EV_LOCK && ev.ev[0].what == GUARD_PAIR);
	CHECK_STR(ev.ev[0].user, "contoso\\alice");
	CHECK_STR(ev.ev[0].addr, "10.0.0.7");
	{
		char line[256];

		guard_event_text(&ev.ev[0], T0 + 3 * MIN, line, sizeof(line));
		CHECK_STR(line, "auth guard: locked user contoso\\alice at 10.0.0.7 (5 failures "
			  "from a familiar address, lock 1) for 900s");
	}
	CHECK(check(g, "contoso\\alice", 7, "right", T0 + 4 * MIN, &v) == GUARD_LOCKED);
	CHECK(v.what == GUARD_PAIR && v.familiar);
	/* familiarity expires */
	CHECK(check(g, "contoso\\alice", 7, "right", T0 + 8 * 24 * 60 * MIN, &v) == GUARD_ALLOW);
	CHECK(!v.familiar);

	/* a pair that is not familiar never locks on its own: bob from 8, 4 failures, then
	 * success makes 8 familiar and resets the pair */
	for (int i = 0; i < 4; i++) {
		snprintf(pw, sizeof(pw), "b%d", i);
		try(g, "contoso\\bob", 8, pw, false, T0, NULL);
	}
	CHECK(try(g, "contoso\\bob", 8, "right", true, T0 + 1, &ev) == GUARD_ALLOW && ev.n == 0);
	CHECK(check(g, "contoso\\bob", 8, "x", T0 + 2, &v) == GUARD_ALLOW && v.familiar);
	guard_destroy(g);
}

static void
test_addr_lock(void)
{
	struct guard *g = guard_create(&defaults);
	struct guard_verdict v;
	struct guard_events ev;
	char user[32];
	int locks = 0;

	/* a spray: 25 users, one password, one address: locked at 20 failures */
	for (int i = 0; i < 25; i++) {
		snprintf(user, sizeof(user), "contoso\\u%d", i);
		if (try(g, user, 66, "Spring2026!", false, T0 + (uint64_t)i, &ev) != GUARD_ALLOW)
			break;
		for (int k = 0; k < ev.n; k++)
			locks += ev.ev[k].what == GUARD_ADDR;
	}
	CHECK(locks == 1);
	CHECK(check(g, "contoso\\new", 66, "x", T0 + 30, &v) == GUARD_LOCKED);
	CHECK(v.what == GUARD_ADDR);
	CHECK(check(g, "contoso\\new", 67, "x", T0 + 30, &v) == GUARD_ALLOW);
	/* anonymous attempts count per address only */
	{
		struct guard_attempt a;
		int n = 0;

		for (int i = 0; i < 25; i++) {
			guard_attempt_init(&a, NULL, "\x0a\x00\x00\x44", 4, "10.0.0.68", NULL);
			if (guard_check(g, &a, T0, false, &v) != GUARD_ALLOW)
				break;
			guard_outcome(g, &a, false, T0, &ev);
			n++;
			CHECK(ev.n == 0 || ev.ev[0].what == GUARD_ADDR);
		}
		CHECK(n == 20);
		CHECK(v.action == GUARD_LOCKED && v.what == GUARD_ADDR);
	}
	guard_destroy(g);
}

static void
test_repeat(void)
{
	struct guard *g = guard_create(&defaults);
	struct guard_verdict v;
	struct guard_attempt a;
	struct guard_events ev;

	/* the same wrong password: forwarded once, then answered locally, counted once */
	CHECK(try(g, "contoso\\dave", 5, "oldpass", false, T0, NULL) == GUARD_ALLOW);
	for (int i = 0; i < 10; i++)
		CHECK(try(g, "contoso\\dave", 5, "oldpass", false, T0 + 1, NULL) == GUARD_REPEAT);
	CHECK(check(g, "contoso\\dave", 5, "other", T0 + 2, &v) == GUARD_ALLOW);
	/* log_only forwards it; the outcome still counts it once */
	att(&a, "contoso\\dave", 5, "oldpass");
	CHECK(guard_check(g, &a, T0 + 3, true, &v) == GUARD_ALLOW && v.would == GUARD_REPEAT);
	for (int i = 0; i < 10; i++)
		guard_outcome(g, &a, false, T0 + 3, &ev);
	/* 1 counted so far; 3 new ones do not lock (4 < 5), the 4th new one does */
	try(g, "contoso\\dave", 5, "n1", false, T0 + 4, NULL);
	try(g, "contoso\\dave", 5, "n2", false, T0 + 4, NULL);
	try(g, "contoso\\dave", 5, "n3", false, T0 + 4, NULL);
	CHECK(check(g, "contoso\\dave", 5, "n9", T0 + 5, &v) == GUARD_ALLOW);
	try(g, "contoso\\dave", 5, "n4", false, T0 + 5, &ev);
	CHECK(check(g, "contoso\\dave", 5, "n9", T0 + 6, &v) == GUARD_LOCKED);
	/* only the last three bad passwords are remembered, and only for user_window */
	CHECK(check(g, "contoso\\dave", 5, "oldpass", T0 + 31 * MIN, &v) == GUARD_ALLOW);
	guard_destroy(g);
}

static void
test_growth_and_events(void)
{
	struct guard *g = guard_create(&defaults);
	struct guard_verdict v;
	struct guard_events ev;
	char pw[16];
	uint64_t now = T0;
	uint64_t want[] = { 15 * MIN, 30 * MIN, 60 * MIN, 60 * MIN };

	for (int i = 0; i < 5; i++) {
		snprintf(pw, sizeof(pw), "p%d", i);
		try(g, "contoso\\erin", 400 + (unsigned)i, pw, false, now, &ev);
	}
	CHECK(ev.n == 1 && ev.ev[0].until == now + want[0] && ev.ev[0].nlocks == 1);
	for (int round = 1; round < 4; round++) {
		now = ev.ev[0].until;
		/* the first attempt after the lock notices the unlock, once */
		CHECK(check(g, "contoso\\erin", 500, "q", now, &v) == GUARD_ALLOW);
		CHECK(v.events.n == 1 && v.events.ev[0].type == GUARD_EV_UNLOCK);
		CHECK(check(g, "contoso\\erin", 500, "q", now, &v) == GUARD_ALLOW && v.events.n == 0);
		/* failures go on: locked again at the threshold, for longer each time (the
		 * window still holds part of the earlier count, so it takes fewer than 5) */
		int fails = 0;

		ev.n = 0;
		while (ev.n == 0 && fails < 10) {
			snprintf(pw, sizeof(pw), "r%dx%d", round, fails);
			CHECK(try(g, "contoso\\erin", 500 + (unsigned)fails, pw, false, now, &ev) ==
			      GUARD_ALLOW);
			fails++;
		}
		CHECK(fails <= 5);
		CHECK(ev.n == 1 && ev.ev[0].type == GUARD_EV_LOCK && ev.ev[0].what == GUARD_USER);
		CHECK(ev.ev[0].until == now + want[round] && ev.ev[0].nlocks == (uint32_t)round + 1);
	}
	/* log_only: allowed, with what on would do */
	CHECK(guard_check(g, &(struct guard_attempt){ 0 }, now, true, &v) == GUARD_ALLOW);
	{
		struct guard_attempt a;

		att(&a, "contoso\\erin", 501, "s");
		CHECK(guard_check(g, &a, now + 1, true, &v) == GUARD_ALLOW);
		CHECK(v.would == GUARD_LOCKED && v.what == GUARD_USER);
	}
	guard_destroy(g);
}

static int sweep_unlocks;

static void
on_sweep(const struct guard_event *e, void *arg)
{
	(void)arg;
	if (e->type == GUARD_EV_UNLOCK && e->what == GUARD_USER &&
	    strcmp(e->user, "contoso\\fred") == 0)
		sweep_unlocks++;
}

static void
test_sweep(void)
{
	struct guard *g = guard_create(&defaults);
	struct guard_verdict v;
	char pw[16];

	for (int i = 0; i < 5; i++) {
		snprintf(pw, sizeof(pw), "p%d", i);
		try(g, "contoso\\fred", 600 + (unsigned)i, pw, false, T0, NULL);
	}
	guard_sweep(g, T0 + 14 * MIN, on_sweep, NULL);
	CHECK(sweep_unlocks == 0);
	guard_sweep(g, T0 + 15 * MIN, on_sweep, NULL);
	guard_sweep(g, T0 + 16 * MIN, on_sweep, NULL);
	CHECK(sweep_unlocks == 1);
	CHECK(check(g, "contoso\\fred", 1, "z", T0 + 16 * MIN, &v) == GUARD_ALLOW);
	CHECK(v.events.n == 0);
	guard_destroy(g);
}

static void
test_rules(void)
{
	static const char real_t3[] = "Negotiate TlRMTVNTUAADAAAAAAAAAAAAAAAAAAAAAAAAAA4ADgBIAAAACgAKAFYAAAAAAAAAAAAAAAAAAAAAAAAAAQAAAAAAAAAAAAAAQwBPAE4AVABPAFMATwBhAGwAaQBjAGUA";
	const unsigned any = CFG_AUTH_ANY;

	CHECK(guard_failed(CRED_NTLM, 401) && !guard_failed(CRED_NTLM, 200));
	CHECK(!guard_failed(CRED_NTLM, 403) && !guard_failed(CRED_NTLM, 500));
	CHECK(guard_failed(CRED_BASIC, 401) && !guard_failed(CRED_BASIC, 302));
	CHECK(guard_failed(CRED_OAUTH, 400) && guard_failed(CRED_OAUTH, 500));
	CHECK(guard_failed(CRED_OAUTH, 302) && !guard_failed(CRED_OAUTH, 200));
	CHECK(!guard_failed(CRED_OAUTH, 204));
	CHECK(guard_failed(CRED_WEBTICKET, 500) && guard_failed(CRED_WEBTICKET, 204));
	CHECK(!guard_failed(CRED_WEBTICKET, 200) && !guard_failed(CRED_NONE, 401));

	CHECK(guard_scheme_allowed(0, NULL, 0));
	CHECK(guard_scheme_allowed(0, "  ", 2));
	CHECK(!guard_scheme_allowed(0, "NTLM abc", 8));
	CHECK(guard_scheme_allowed(any, "NTLM abc", 8));
	CHECK(guard_scheme_allowed(CFG_AUTH_NTLM, "ntlm abc", 8));
	CHECK(!guard_scheme_allowed(CFG_AUTH_NTLM, "Basic abc", 9));
	CHECK(guard_scheme_allowed(CFG_AUTH_BASIC, "Basic abc", 9));
	CHECK(!guard_scheme_allowed(CFG_AUTH_NTLM, "Digest x", 8));
	CHECK(guard_scheme_allowed(CFG_AUTH_OTHER, "Digest x", 8));
	CHECK(guard_scheme_allowed(CFG_AUTH_BEARER, "Bearer x", 8));
	/* Negotiate carrying NTLM needs ntlm too; Kerberos needs only negotiate */
	CHECK(!guard_scheme_allowed(CFG_AUTH_NEGOTIATE, real_t3, strlen(real_t3)));
	CHECK(guard_scheme_allowed(CFG_AUTH_NEGOTIATE | CFG_AUTH_NTLM, real_t3, strlen(real_t3)));
	CHECK(guard_scheme_allowed(CFG_AUTH_NEGOTIATE, "Negotiate YIIGhgYGKwYBBQUC", 26));
	CHECK(!guard_scheme_allowed(CFG_AUTH_NTLM, "Negotiate YIIGhgYGKwYBBQUC", 26));
	{
		struct cred c;

		CHECK(cred_authorization(real_t3, strlen(real_t3), &c) == CRED_ATTEMPT);
		CHECK_STR(c.user, "alice");
	}
}

/* a reload (SIGHUP) gives new thresholds to the same table: its state stays */
static void
test_reload(void)
{
	struct guard *g = guard_create(&defaults);
	struct guard_params p = defaults;
	struct guard_verdict v;
	char pw[16];

	for (int i = 0; i < 5; i++) {
		snprintf(pw, sizeof(pw), "p%d", i);
		try(g, "contoso\\gina", 700 + (unsigned)i, pw, false, T0, NULL);
	}
	try(g, "contoso\\hank", 800, "a", false, T0, NULL);
	p.user_failures = 2;
	p.max_tracked_keys = 1;		/* ignored: the table keeps its size */
	guard_set_params(g, &p);
	CHECK(check(g, "contoso\\gina", 1, "z", T0 + 1, &v) == GUARD_LOCKED);
	CHECK(check(g, "contoso\\hank", 1, "z", T0 + 1, &v) == GUARD_ALLOW);
	try(g, "contoso\\hank", 801, "b", false, T0 + 1, NULL);
	CHECK(check(g, "contoso\\hank", 1, "z", T0 + 2, &v) == GUARD_LOCKED);
	for (int i = 0; i < 100; i++) {
		snprintf(pw, sizeof(pw), "u%d", i);
		try(g, pw, 900 + (unsigned)i, "x", false, T0 + 3, NULL);
	}
	CHECK(guard_tracked(g) > 100);
	guard_destroy(g);
}

/* workers' cached clocks differ a little: a `now` older than a stored time is no wrap */
static void
test_clock_skew(void)
{
	struct guard *g = guard_create(&defaults);
	struct guard_verdict v;
	char pw[16];

	for (int i = 0; i < 4; i++) {
		snprintf(pw, sizeof(pw), "s%d", i);
		try(g, "contoso\\ivy", 40 + (unsigned)i, pw, false, i % 2 ? T0 + 100 : T0 + 50, NULL);
	}
	CHECK(check(g, "contoso\\ivy", 1, "z", T0 + 40, &v) == GUARD_ALLOW);
	try(g, "contoso\\ivy", 45, "s9", false, T0 + 30, NULL);
	CHECK(check(g, "contoso\\ivy", 1, "z", T0 + 40, &v) == GUARD_LOCKED);
	/* a success stamped a little later is still familiar to an older clock */
	try(g, "contoso\\jo", 9, "ok", true, T0 + 100, NULL);
	CHECK(check(g, "contoso\\jo", 9, "x", T0 + 90, &v) == GUARD_ALLOW && v.familiar);
	guard_destroy(g);
}

static long
rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, res = 0;

	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &res) != 2)
		res = -1;
	fclose(f);
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* 1,000,000 distinct user names sprayed from 1,000 addresses: the table stays within its cap
 * (keys and bytes), and a user locked before the spray is still locked after it. */
static void
test_spray_bounded(void)
{
	struct guard_params p = defaults;
	struct guard *g;
	struct guard_verdict v;
	char user[32], pw[16];
	long before, after;
	size_t cap_bytes;

	p.max_tracked_keys = 100000;
	p.addr_failures = 1000000;	/* keep every attempt counting, no address lock */
	before = rss_kib();
	g = guard_create(&p);
	CHECK(g != NULL);
	if (g == NULL)
		return;
	cap_bytes = guard_memory(g);
	for (int i = 0; i < 5; i++) {
		snprintf(pw, sizeof(pw), "p%d", i);
		try(g, "contoso\\victim", 77, pw, false, T0, NULL);
	}
	for (unsigned i = 0; i < 1000000; i++) {
		struct guard_attempt a;
		struct guard_events ev;

		snprintf(user, sizeof(user), "contoso\\spray%u", i);
		att(&a, user, i % 1000, "Winter2026");
		if (guard_check(g, &a, T0 + i / 1000, false, &v) == GUARD_ALLOW)
			guard_outcome(g, &a, false, T0 + i / 1000, &ev);
	}
	after = rss_kib();
	printf("spray: 1000000 users, tracked %zu keys (cap %llu), table %zu KiB, "
	       "RSS %ld -> %ld KiB (+%ld)\n", guard_tracked(g),
	       (unsigned long long)p.max_tracked_keys, cap_bytes / 1024, before, after,
	       after - before);
	CHECK(guard_tracked(g) <= p.max_tracked_keys + GUARD_SHARDS);
	/* the table at its cap, plus slack for ASan's shadow (1/8) and the allocator; without
	 * the cap 1,000,000 users would need about 3,000,000 keys (some 500 MB) */
	CHECK(after - before <= (long)(cap_bytes / 1024) * 5 / 4 + 2048);
	CHECK(check(g, "contoso\\victim", 78, "x", T0 + 1000, &v) == GUARD_LOCKED);
	guard_destroy(g);
}

struct thr {
	struct guard	*g;
	int		 id;
	int		 locks;
};

static void *
hammer(void *arg)
{
	struct thr *t = arg;
	char user[32], pw[16];

	for (int i = 0; i < 200000; i++) {
		struct guard_attempt a;
		struct guard_verdict v;
		struct guard_events ev;

		/* every 4th attempt on the shared user; the others on 500 rotating names */
		if (i % 4 == 0)
			snprintf(user, sizeof(user), "contoso\\shared");
		else
			snprintf(user, sizeof(user), "contoso\\u%d", i % 500);
		snprintf(pw, sizeof(pw), "t%dp%d", t->id, i);
		att(&a, user, (unsigned)(i % 3000) + 3000u * (unsigned)t->id, pw);
		guard_check(t->g, &a, T0, false, &v);
		guard_outcome(t->g, &a, i % 7 == 0, T0, &ev);
		for (int k = 0; k < ev.n; k++)
			if (ev.ev[k].type == GUARD_EV_LOCK && ev.ev[k].what == GUARD_USER &&
			    strcmp(ev.ev[k].user, "contoso\\shared") == 0)
				t->locks++;
	}
	return NULL;
}

static void
test_threads(void)
{
	struct guard_params p = defaults;
	struct thr t[2];
	pthread_t th[2];

	p.max_tracked_keys = 2000;	/* small: eviction runs concurrently too */
	p.lock_time = p.lock_time_max = 24 * 60 * MIN;
	t[0].g = t[1].g = guard_create(&p);
	for (int i = 0; i < 2; i++) {
		t[i].id = i;
		t[i].locks = 0;
		pthread_create(&th[i], NULL, hammer, &t[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	/* the shared user crossed its threshold in both threads at the same instant: one lock
	 * event in all (it can be forgotten by LRU and locked again only if evicted; locked
	 * entries are evicted last and 2000 keys leave room) */
	CHECK(t[0].locks + t[1].locks == 1);
	CHECK(guard_tracked(t[0].g) <= 2000 + GUARD_SHARDS);
	guard_destroy(t[0].g);
}

/* scale-out: a shared counter the test controls (what Redis would answer) */
struct fake_counter {
	int64_t	 answer;	/* -1: unavailable */
	int	 calls;
	char	 kinds[64];
};

static int64_t
fake_fail(void *ctx, char kind, const char *name, size_t len, uint64_t window_ms)
{
	struct fake_counter *f = ctx;

	(void)name;
	(void)len;
	CHECK(window_ms == (kind == 'a' ? 10 * MIN : 30 * MIN));
	if (f->calls < 63)
		f->kinds[f->calls] = kind;
	f->calls++;
	return f->answer;
}

/* [auth_guard] instances = N: per-instance thresholds; a shared counter: the whole threshold
 * against every instance's count; unavailable: open (per-instance) or closed (lock now). */
static void
test_instances_and_counter(void)
{
	struct guard_params p = defaults;
	struct fake_counter f = { 0 };
	struct guard_counter gc = { .fail = fake_fail, .ctx = &f };
	struct guard *g;
	int n;

	/* 3 instances counting locally: 5 / 3 = 1 failure per user locks on each instance */
	p.instances = 3;
	g = guard_create(&p);
	CHECK(try(g, "alice", 1, "a1", false, T0, NULL) == GUARD_ALLOW);
	CHECK(try(g, "alice", 2, "a2", false, T0 + 1, NULL) == GUARD_LOCKED);
	/* addresses: 20 / 3 = 6 */
	for (n = 0; try(g, NULL, 9, NULL, false, T0 + (uint64_t)n, NULL) == GUARD_ALLOW; n++)
		;
	CHECK(n == 6);
	guard_destroy(g);

	/* a shared counter: other instances' failures count; no divide */
	g = guard_create(&p);
	guard_set_counter(g, &gc);
	f.answer = 1;
	CHECK(try(g, "bob", 1, "b1", false, T0, NULL) == GUARD_ALLOW);
	CHECK(try(g, "bob", 2, "b2", false, T0 + 1, NULL) == GUARD_ALLOW);	/* 1 < 5 */
	CHECK(f.calls == 4 && memcmp(f.kinds, "auau", 4) == 0);
	f.answer = 5;		/* the other instances failed bob 3 more times */
	CHECK(try(g, "bob", 3, "b3", false, T0 + 2, NULL) == GUARD_ALLOW);
	CHECK(try(g, "bob", 4, "b4", false, T0 + 3, NULL) == GUARD_LOCKED);
	/* requests that succeed never reach the counter; nor does a repeated password */
	f.calls = 0;
	f.answer = 1;
	CHECK(try(g, "carol", 1, "c1", true, T0, NULL) == GUARD_ALLOW);
	CHECK(f.calls == 0);
	CHECK(try(g, "carol", 2, "c1", false, T0, NULL) == GUARD_ALLOW);
	CHECK(f.calls == 2);
	CHECK(try(g, "carol", 2, "c1", false, T0, NULL) == GUARD_REPEAT);
	CHECK(f.calls == 2);
	CHECK(guard_counter_errors(g) == 0);

	/* unavailable, fail-open: the per-instance threshold (5 / 3 = 1) */
	f.answer = -1;
	CHECK(try(g, "dave", 1, "d1", false, T0, NULL) == GUARD_ALLOW);
	CHECK(try(g, "dave", 2, "d2", false, T0 + 1, NULL) == GUARD_LOCKED);
	CHECK(guard_counter_errors(g) == 2);	/* address and user of the first */
	guard_destroy(g);

	/* unavailable, fail-closed: the first failure locks user and address */
	p.instances = 1;
	g = guard_create(&p);
	gc.fail_closed = true;
	guard_set_counter(g, &gc);
	CHECK(try(g, "erin", 1, "e1", false, T0, NULL) == GUARD_ALLOW);
	CHECK(try(g, "erin", 2, "e2", false, T0 + 1, NULL) == GUARD_LOCKED);
	CHECK(try(g, "frank", 1, "f1", false, T0 + 2, NULL) == GUARD_LOCKED);	/* address 1 */
	guard_destroy(g);
}

int
main(void)
{
	cred_init();
	CHECK(guard_create(&(struct guard_params){ 0 }) == NULL);
	test_user_lock();
	test_familiar();
	test_addr_lock();
	test_repeat();
	test_growth_and_events();
	test_sweep();
	test_rules();
	test_reload();
	test_clock_skew();
	test_spray_bounded();
	test_threads();
	test_instances_and_counter();
	return check_done();
}
