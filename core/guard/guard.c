/*
 * The auth guard's counting table (issue 12). See guard.h for the contract and
 * docs/auth-guard.md for the rules and the hook points in the stream.
 *
 * Layout: GUARD_SHARDS shards, each a mutex, a fixed array of entries (its share of
 * max_tracked_keys, calloc'ed so untouched pages cost nothing), a chained hash on 32-bit
 * indexes and an LRU list. An entry is a user, a client address or a (user, address) pair,
 * named by a 64-bit keyed hash (cred_hash: an attacker cannot aim collisions), so an entry
 * has a fixed size whatever the user name's length.
 *
 * Counting is a two-bucket sliding window (the previous window's count weighted by how much
 * of it still overlaps, plus the current one): constant memory per key, within one failure of
 * an exact sliding window at the thresholds used here.
 */
#include "core/guard/guard.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/lib/api-t.h"
#include "core/guard/cred.h"

#define NIL		UINT32_MAX
#define BAD_PW_KEPT	3	/* like Entra smart lockout: the last three bad passwords */
#define EVICT_TRIES	8	/* locked entries skipped at the LRU tail before evicting one */
#define TEXT_MAX	80	/* "user\0addr" packed */

struct gentry {
	uint64_t	 key;		/* cred_hash of kind + name */
	uint32_t	 hnext;		/* hash chain */
	uint32_t	 lprev, lnext;	/* LRU: lprev towards the most recent */
	uint8_t		 what;		/* enum guard_what */
	uint8_t		 nlocks;	/* locks in a row, for the growing lock time */
	bool		 locked;
	uint32_t	 cur, prev;	/* failures in this and the previous window */
	uint64_t	 win_start;
	uint64_t	 locked_until;	/* lock end, also kept after the unlock */
	uint64_t	 last_success;	/* pairs: the user succeeded from this address */
	uint64_t	 last_bad;	/* users: last failure with a known password */
	uint64_t	 bad_pw[BAD_PW_KEPT];
	char		 text[TEXT_MAX];	/* user, address, or user NUL address */
};

struct shard {
	pthread_mutex_t	 mu;
	struct guard_params p;		/* this shard's copy, changed under mu */
	struct gentry	*e;
	uint32_t	*buckets;
	uint32_t	 mask;
	uint32_t	 cap, used;
	uint32_t	 head, tail;	/* LRU: head = most recently used */
	uint32_t	 nlocked;
	uint32_t	 nlocked_by[3];	/* by enum guard_what, for guard_locks() */
} __attribute__((aligned(RE_CACHELINE)));

struct guard {
	struct shard	 sh[GUARD_SHARDS];
	size_t		 bytes;
	struct guard_counter counter;	/* fail == NULL: local counting only */
	uint64_t	 counter_errors;	/* atomic */
};

/* ---- table ---- */

static struct shard *
shard_of(struct guard *g, uint64_t key)
{
	return &g->sh[key >> 58];	/* 64 shards: the top 6 bits; buckets use the low bits */
}

static void
lru_unlink(struct shard *s, uint32_t i)
{
	struct gentry *e = &s->e[i];

	if (e->lprev != NIL)
		s->e[e->lprev].lnext = e->lnext;
	else
		s->head = e->lnext;
	if (e->lnext != NIL)
		s->e[e->lnext].lprev = e->lprev;
	else
		s->tail = e->lprev;
}

static void
lru_push(struct shard *s, uint32_t i)
{
	struct gentry *e = &s->e[i];

	e->lprev = NIL;
	e->lnext = s->head;
	if (s->head != NIL)
		s->e[s->head].lprev = i;
	s->head = i;
	if (s->tail == NIL)
		s->tail = i;
}

static struct gentry *
find(struct shard *s, uint64_t key)
{
	for (uint32_t i = s->buckets[key & s->mask]; i != NIL; i = s->e[i].hnext)
		if (s->e[i].key == key) {
			lru_unlink(s, i);
			lru_push(s, i);
			return &s->e[i];
		}
	return NULL;
}

static void
hash_unlink(struct shard *s, uint32_t i)
{
	uint32_t *pp = &s->buckets[s->e[i].key & s->mask];

	while (*pp != i)
		pp = &s->e[*pp].hnext;
	*pp = s->e[i].hnext;
}

/* e's lock is lifted (or e goes away locked). */
static void
unlocked(struct shard *s, struct gentry *e)
{
	e->locked = false;
	s->nlocked--;
	s->nlocked_by[e->what % 3]--;
}

/* The least recently used entry, skipping (and refreshing) a few locked ones so that a spray
 * of new names does not evict the locks it is meant to run into. */
static uint32_t
evict(struct shard *s)
{
	uint32_t i = s->tail;

	for (int t = 0; t < EVICT_TRIES && s->e[i].locked; t++) {
		lru_unlink(s, i);
		lru_push(s, i);
		i = s->tail;
	}
	if (s->e[i].locked)
		unlocked(s, &s->e[i]);
	hash_unlink(s, i);
	lru_unlink(s, i);
	return i;
}

static struct gentry *
get(struct shard *s, uint64_t key, enum guard_what what, const struct guard_attempt *a,
    uint64_t now)
{
	struct gentry *e = find(s, key);
	uint32_t i;
	size_t ul;

	if (e != NULL)
		return e;
	i = s->used < s->cap ? s->used++ : evict(s);
	e = &s->e[i];
	memset(e, 0, sizeof(*e));
	e->key = key;
	e->what = (uint8_t)what;
	e->win_start = now;
	ul = what == GUARD_ADDR ? 0 : strnlen(a->user, TEXT_MAX / 2 - 1);
	memcpy(e->text, a->user, ul);
	if (what != GUARD_USER)
		snprintf(e->text + ul + (ul > 0), TEXT_MAX - ul - (ul > 0), "%s", a->addr);
	e->hnext = s->buckets[key & s->mask];
	s->buckets[key & s->mask] = i;
	lru_push(s, i);
	return e;
}

/* ---- windows and locks ---- */

/* Workers cache their clock per loop iteration, so one may call with a `now` a little older
 * than a time another one stored: such a difference is zero, never a wrapped huge number. */
static uint64_t
since(uint64_t now, uint64_t t)
{
	return now > t ? now - t : 0;
}

static uint64_t
window_of(const struct guard_params *p, enum guard_what w)
{
	return w == GUARD_ADDR ? p->addr_window : p->user_window;
}

static void
roll(struct gentry *e, uint64_t now, uint64_t win)
{
	uint64_t periods;

	if (since(now, e->win_start) < win)
		return;
	periods = (now - e->win_start) / win;
	e->prev = periods == 1 ? e->cur : 0;
	e->cur = 0;
	e->win_start += periods * win;
}

static uint32_t
count(struct gentry *e, uint64_t now, uint64_t win)
{
	uint64_t left;

	roll(e, now, win);
	left = win - since(now, e->win_start);
	return e->cur + (uint32_t)((uint64_t)e->prev * left / win);
}

static void
event(struct guard_events *ev, const struct gentry *e, enum guard_ev_type type, uint32_t fails)
{
	struct guard_event *x;

	if (ev == NULL || ev->n == GUARD_EVENTS_MAX)
		return;
	x = &ev->ev[ev->n++];
	memset(x, 0, sizeof(*x));
	x->type = type;
	x->what = (enum guard_what)e->what;
	x->failures = fails;
	x->nlocks = e->nlocks;
	x->until = e->locked_until;
	if (e->what != GUARD_ADDR)
		snprintf(x->user, sizeof(x->user), "%.*s", GUARD_NAME_MAX - 1, e->text);
	if (e->what == GUARD_ADDR)
		snprintf(x->addr, sizeof(x->addr), "%.*s", GUARD_NAME_MAX - 1, e->text);
	else if (e->what == GUARD_PAIR)
		snprintf(x->addr, sizeof(x->addr), "%.*s", GUARD_NAME_MAX - 1,
			 e->text + strlen(e->text) + 1);
}

/* Is e locked at `now`? An expired lock is lifted here and reported once. */
static bool
is_locked(struct shard *s, struct gentry *e, uint64_t now, struct guard_events *ev)
{
	if (!e->locked)
		return false;
	if (now < e->locked_until)
		return true;
	unlocked(s, e);
	event(ev, e, GUARD_EV_UNLOCK, 0);
	return false;
}

static void
lock(struct shard *s, struct gentry *e, uint64_t now, uint32_t fails, struct guard_events *ev)
{
	const struct guard_params *p = &s->p;
	uint64_t d = p->lock_time;

	/* a user quiet for longer than the longest lock starts again from the first one */
	if (e->nlocks > 0 && now > e->locked_until + p->lock_time_max)
		e->nlocks = 0;
	for (unsigned k = 0; k < e->nlocks && d < p->lock_time_max; k++)
		d *= 2;
	if (d > p->lock_time_max)
		d = p->lock_time_max;
	if (e->nlocks < UINT8_MAX)
		e->nlocks++;
	e->locked = true;
	e->locked_until = now + d;
	s->nlocked++;
	s->nlocked_by[e->what % 3]++;
	event(ev, e, GUARD_EV_LOCK, fails);
}

/* ---- API ---- */

struct guard *
guard_create(const struct guard_params *p)
{
	struct guard *g;
	uint64_t per;
	uint32_t nb = 1;

	if (p->max_tracked_keys == 0 || p->max_tracked_keys > (uint64_t)GUARD_SHARDS * (NIL / 2))
		return NULL;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return NULL;
	per = (p->max_tracked_keys + GUARD_SHARDS - 1) / GUARD_SHARDS;
	while (nb < per)
		nb *= 2;
	g->bytes = sizeof(*g);
	for (int i = 0; i < GUARD_SHARDS; i++) {
		struct shard *s = &g->sh[i];

		pthread_mutex_init(&s->mu, NULL);
		s->p = *p;
		s->cap = (uint32_t)per;
		s->mask = nb - 1;
		s->head = s->tail = NIL;
		s->e = calloc(per, sizeof(*s->e));
		s->buckets = malloc(nb * sizeof(*s->buckets));
		if (s->e == NULL || s->buckets == NULL) {
			free(s->e);
			free(s->buckets);
			s->e = NULL;
			s->buckets = NULL;
			guard_destroy(g);
			return NULL;
		}
		memset(s->buckets, 0xff, nb * sizeof(*s->buckets));
		g->bytes += per * sizeof(*s->e) + nb * sizeof(*s->buckets);
	}
	return g;
}

void
guard_destroy(struct guard *g)
{
	if (g == NULL)
		return;
	for (int i = 0; i < GUARD_SHARDS; i++) {
		free(g->sh[i].e);
		free(g->sh[i].buckets);
		pthread_mutex_destroy(&g->sh[i].mu);
	}
	free(g);
}

void
guard_set_params(struct guard *g, const struct guard_params *p)
{
	for (int i = 0; i < GUARD_SHARDS; i++) {
		struct shard *s = &g->sh[i];
		uint64_t keep = s->p.max_tracked_keys;

		pthread_mutex_lock(&s->mu);
		s->p = *p;
		s->p.max_tracked_keys = keep;
		pthread_mutex_unlock(&s->mu);
	}
}

void
guard_params_from_config(struct guard_params *p, const struct cfg_auth_guard *c)
{
	p->user_failures = (uint32_t)c->user_failures;
	p->user_window = c->user_window;
	p->addr_failures = (uint32_t)c->addr_failures;
	p->addr_window = c->addr_window;
	p->familiar_failures = (uint32_t)c->familiar_failures;
	p->familiar_time = c->familiar_time;
	p->lock_time = c->lock_time;
	p->lock_time_max = c->lock_time_max;
	p->max_tracked_keys = c->max_tracked_keys;
	p->instances = (uint32_t)c->instances;
}

void
guard_set_counter(struct guard *g, const struct guard_counter *c)
{
	if (c != NULL)
		g->counter = *c;
	else
		memset(&g->counter, 0, sizeof(g->counter));
}

uint64_t
guard_counter_errors(struct guard *g)
{
	return __atomic_load_n(&g->counter_errors, __ATOMIC_RELAXED);
}

/* A per-instance threshold: limit / instances, at least 1 (N instances never allow more than
 * limit failures in total, whichever instance each one reaches). */
static uint32_t
local_limit(const struct guard_params *p, uint32_t limit)
{
	uint32_t n = p->instances > 1 ? p->instances : 1;

	return limit / n > 0 ? limit / n : 1;
}

static uint64_t
window_now(struct guard *g, enum guard_what w)
{
	uint64_t win;

	pthread_mutex_lock(&g->sh[0].mu);
	win = window_of(&g->sh[0].p, w);
	pthread_mutex_unlock(&g->sh[0].mu);
	return win;
}

/* The count of key on every instance (outside every lock), GUARD_SHARED_NONE when there is no
 * shared counter, GUARD_SHARED_DOWN when it is unavailable. */
#define GUARD_SHARED_NONE	(-2)
#define GUARD_SHARED_DOWN	(-1)
static int64_t
shared_fail(struct guard *g, char kind, const char *name)
{
	int64_t n;

	if (g->counter.fail == NULL)
		return GUARD_SHARED_NONE;
	n = g->counter.fail(g->counter.ctx, kind, name, strlen(name),
			    window_now(g, kind == 'a' ? GUARD_ADDR : GUARD_USER));
	if (n < 0) {
		__atomic_add_fetch(&g->counter_errors, 1, __ATOMIC_RELAXED);
		return GUARD_SHARED_DOWN;
	}
	return n;
}

static uint64_t
key_hash(char kind, const void *a, size_t al, const void *b, size_t bl)
{
	uint8_t buf[1 + CRED_KEY_MAX + 1 + 32];
	uint64_t h;

	if (al > CRED_KEY_MAX)
		al = CRED_KEY_MAX;
	if (bl > 32)
		bl = 32;
	buf[0] = (uint8_t)kind;
	memcpy(buf + 1, a, al);
	buf[1 + al] = 0;
	memcpy(buf + 2 + al, b, bl);
	h = cred_hash(buf, 2 + al + bl);
	return h ? h : 1;
}

void
guard_attempt_init(struct guard_attempt *a, const char *user_key, const void *addr,
		   size_t alen, const char *addr_text, const struct cred *c)
{
	memset(a, 0, sizeof(*a));
	if (alen > 32)
		alen = 32;
	a->addr_h = key_hash('a', addr, alen, "", 0);
	snprintf(a->addr, sizeof(a->addr), "%s", addr_text ? addr_text : "");
	if (user_key != NULL && user_key[0] != '\0') {
		size_t ul = strlen(user_key);

		a->user_h = key_hash('u', user_key, ul, "", 0);
		a->pair_h = key_hash('p', user_key, ul, addr, alen);
		snprintf(a->user, sizeof(a->user), "%s", user_key);
	}
	if (c != NULL && c->has_pw) {
		a->has_pw = true;
		a->pw_hash = c->pw_hash;
	}
}

static bool
is_familiar(const struct shard *s, const struct gentry *e, uint64_t now)
{
	return e != NULL && e->last_success != 0 &&
	       since(now, e->last_success) < s->p.familiar_time;
}

static void
verdict(struct guard_verdict *v, enum guard_action a, enum guard_what w, uint64_t until)
{
	if (v->would != GUARD_ALLOW)
		return;
	v->would = a;
	v->what = w;
	v->until = until;
}

enum guard_action
guard_check(struct guard *g, const struct guard_attempt *a, uint64_t now, bool log_only,
	    struct guard_verdict *v)
{
	struct shard *s;
	struct gentry *e;

	memset(v, 0, sizeof(*v));
	if (a->user_h) {
		s = shard_of(g, a->pair_h);
		pthread_mutex_lock(&s->mu);
		e = find(s, a->pair_h);
		v->familiar = is_familiar(s, e, now);
		if (v->familiar && is_locked(s, e, now, &v->events))
			verdict(v, GUARD_LOCKED, GUARD_PAIR, e->locked_until);
		pthread_mutex_unlock(&s->mu);
	}
	/* a familiar address is exempt from the address and user locks: it has its own */
	s = shard_of(g, a->addr_h);
	pthread_mutex_lock(&s->mu);
	e = find(s, a->addr_h);
	if (e != NULL && is_locked(s, e, now, &v->events) && !v->familiar)
		verdict(v, GUARD_LOCKED, GUARD_ADDR, e->locked_until);
	pthread_mutex_unlock(&s->mu);
	if (a->user_h) {
		s = shard_of(g, a->user_h);
		pthread_mutex_lock(&s->mu);
		e = find(s, a->user_h);
		if (e != NULL && is_locked(s, e, now, &v->events) && !v->familiar)
			verdict(v, GUARD_LOCKED, GUARD_USER, e->locked_until);
		if (e != NULL && a->has_pw && since(now, e->last_bad) < s->p.user_window)
			for (int k = 0; k < BAD_PW_KEPT; k++)
				if (e->bad_pw[k] == a->pw_hash && e->last_bad != 0)
					verdict(v, GUARD_REPEAT, GUARD_USER, 0);
		pthread_mutex_unlock(&s->mu);
	}
	v->action = log_only ? GUARD_ALLOW : v->would;
	return v->action;
}

/* A failure with a known password: true if this user already failed with it recently
 * (counted once), else remembers it. */
static bool
repeated(struct guard *g, const struct guard_attempt *a, uint64_t now)
{
	struct shard *s = shard_of(g, a->user_h);
	struct gentry *e;
	bool seen = false;

	pthread_mutex_lock(&s->mu);
	e = get(s, a->user_h, GUARD_USER, a, now);
	if (e->last_bad != 0 && since(now, e->last_bad) >= s->p.user_window)
		memset(e->bad_pw, 0, sizeof(e->bad_pw));
	for (int k = 0; k < BAD_PW_KEPT; k++)
		seen |= e->last_bad != 0 && e->bad_pw[k] == a->pw_hash;
	if (!seen) {
		memmove(e->bad_pw + 1, e->bad_pw, sizeof(e->bad_pw[0]) * (BAD_PW_KEPT - 1));
		e->bad_pw[0] = a->pw_hash;
		e->last_bad = now;
	}
	pthread_mutex_unlock(&s->mu);
	return seen;
}

/* One failure on key; locks it at its threshold (pairs: only familiar ones). shared: the
 * count on every instance (>= 0), or GUARD_SHARED_NONE / _DOWN (see shared_fail). Returns
 * whether the pair entry is familiar (only meaningful for GUARD_PAIR). */
static bool
fail_one(struct guard *g, uint64_t key, enum guard_what what, const struct guard_attempt *a,
	 uint64_t now, bool familiar_in, int64_t shared, struct guard_events *ev)
{
	struct shard *s = shard_of(g, key);
	struct gentry *e;
	uint32_t n, limit;
	bool familiar;

	pthread_mutex_lock(&s->mu);
	e = get(s, key, what, a, now);
	familiar = what == GUARD_PAIR ? is_familiar(s, e, now) : familiar_in;
	roll(e, now, window_of(&s->p, what));	/* before counting this one */
	e->cur++;
	n = count(e, now, window_of(&s->p, what));
	limit = what == GUARD_ADDR ? s->p.addr_failures :
		what == GUARD_USER ? s->p.user_failures :
		familiar ? s->p.familiar_failures : 0;
	if (what != GUARD_PAIR && shared >= 0) {
		/* shared: the whole threshold against the count of every instance */
		if ((uint64_t)shared > n)
			n = shared > UINT32_MAX ? UINT32_MAX : (uint32_t)shared;
	} else if (what != GUARD_PAIR && shared == GUARD_SHARED_DOWN && g->counter.fail_closed) {
		n = limit;	/* fail-closed: the store cannot tell, so the key locks */
	} else if (what != GUARD_PAIR && limit != 0) {
		limit = local_limit(&s->p, limit);
	}
	if (limit != 0 && n >= limit && !is_locked(s, e, now, ev))
		lock(s, e, now, n, ev);
	pthread_mutex_unlock(&s->mu);
	return familiar;
}

void
guard_outcome(struct guard *g, const struct guard_attempt *a, bool success, uint64_t now,
	      struct guard_events *ev)
{
	struct shard *s;
	struct gentry *e;
	bool familiar = false;

	ev->n = 0;
	if (success) {
		if (a->user_h == 0)
			return;
		s = shard_of(g, a->pair_h);
		pthread_mutex_lock(&s->mu);
		e = get(s, a->pair_h, GUARD_PAIR, a, now);
		e->last_success = now;
		e->cur = e->prev = 0;
		if (e->locked) {
			unlocked(s, e);
			event(ev, e, GUARD_EV_UNLOCK, 0);
		}
		pthread_mutex_unlock(&s->mu);
		return;
	}
	if (a->user_h && a->has_pw && repeated(g, a, now))
		return;
	if (a->user_h)
		familiar = fail_one(g, a->pair_h, GUARD_PAIR, a, now, false, GUARD_SHARED_NONE, ev);
	fail_one(g, a->addr_h, GUARD_ADDR, a, now, familiar,
		 shared_fail(g, 'a', a->addr), ev);
	if (a->user_h && !familiar)
		fail_one(g, a->user_h, GUARD_USER, a, now, false,
			 shared_fail(g, 'u', a->user), ev);
}

void
guard_sweep(struct guard *g, uint64_t now, void (*on_event)(const struct guard_event *, void *),
	    void *arg)
{
	for (int i = 0; i < GUARD_SHARDS; i++) {
		struct shard *s = &g->sh[i];

		pthread_mutex_lock(&s->mu);
		for (uint32_t j = 0; j < s->used && s->nlocked > 0; j++) {
			struct guard_events ev = { 0 };

			if (is_locked(s, &s->e[j], now, &ev) || ev.n == 0)
				continue;
			if (on_event != NULL)
				on_event(&ev.ev[0], arg);
		}
		pthread_mutex_unlock(&s->mu);
	}
}

bool
guard_failed(enum cred_kind kind, int status)
{
	switch (kind) {
	case CRED_NTLM:
	case CRED_BASIC:
		return status == 401;
	case CRED_OAUTH:
		return status < 200 || status > 299;
	case CRED_WEBTICKET:
		return status != 200;
	case CRED_NONE:
		break;
	}
	return false;
}

bool
guard_scheme_allowed(unsigned schemes, const char *v, size_t len)
{
	static const struct { const char *name; unsigned bit; } names[] = {
		{ "NTLM", CFG_AUTH_NTLM }, { "Negotiate", CFG_AUTH_NEGOTIATE },
		{ "Basic", CFG_AUTH_BASIC }, { "Bearer", CFG_AUTH_BEARER },
	};
	unsigned bit = CFG_AUTH_OTHER;
	size_t i = 0, s;

	if (v == NULL)
		return true;
	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	s = i;
	while (i < len && v[i] != ' ' && v[i] != '\t')
		i++;
	if (i == s)
		return true;	/* an empty field carries no credentials */
	for (size_t k = 0; k < RE_ARRAY_SIZE(names); k++)
		if (strlen(names[k].name) == i - s && strncasecmp(v + s, names[k].name, i - s) == 0)
			bit = names[k].bit;
	if (bit == CFG_AUTH_NEGOTIATE && (schemes & CFG_AUTH_NEGOTIATE)) {
		struct cred c;

		/* Negotiate that carries NTLM is NTLM */
		if (cred_authorization(v, len, &c) != CRED_NOT_ATTEMPT)
			return (schemes & CFG_AUTH_NTLM) != 0;
		return true;
	}
	return (schemes & bit) != 0;
}

size_t
guard_tracked(struct guard *g)
{
	size_t n = 0;

	for (int i = 0; i < GUARD_SHARDS; i++) {
		pthread_mutex_lock(&g->sh[i].mu);
		n += g->sh[i].used;
		pthread_mutex_unlock(&g->sh[i].mu);
	}
	return n;
}

void
guard_locks(struct guard *g, uint64_t out[3])
{
	out[0] = out[1] = out[2] = 0;
	for (int i = 0; i < GUARD_SHARDS; i++) {
		pthread_mutex_lock(&g->sh[i].mu);
		for (int k = 0; k < 3; k++)
			out[k] += g->sh[i].nlocked_by[k];
		pthread_mutex_unlock(&g->sh[i].mu);
	}
}

size_t
guard_memory(const struct guard *g)
{
	return g->bytes;
}

const char *
guard_what_name(enum guard_what w)
{
	switch (w) {
	case GUARD_USER:	return "user";
	case GUARD_ADDR:	return "address";
	case GUARD_PAIR:	return "user at familiar address";
	}
	return "?";
}

int
guard_event_text(const struct guard_event *e, uint64_t now, char *buf, size_t cap)
{
	static const char *const why[] = {
		[GUARD_USER] = "failures from unfamiliar addresses",
		[GUARD_ADDR] = "failures from this address",
		[GUARD_PAIR] = "failures from a familiar address",
	};
	char who[2 * GUARD_NAME_MAX + 16];

	if (e->what == GUARD_ADDR)
		snprintf(who, sizeof(who), "address %s", e->addr);
	else if (e->what == GUARD_PAIR)
		snprintf(who, sizeof(who), "user %s at %s", e->user, e->addr);
	else
		snprintf(who, sizeof(who), "user %s", e->user);
	if (e->type == GUARD_EV_UNLOCK)
		return snprintf(buf, cap, "auth guard: unlocked %s", who);
	return snprintf(buf, cap, "auth guard: locked %s (%u %s, lock %u) for %llus", who,
			e->failures, why[e->what], e->nlocks,
			(unsigned long long)((e->until > now ? e->until - now : 0) / 1000));
}
