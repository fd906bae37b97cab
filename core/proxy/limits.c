/*
 * Client limits per client address (core/proxy/limits.h). The table is keyed by the
 * listener's (or route's) name and the address (so it survives reloads); entries are never
 * removed, only replaced (open addressing with a bounded probe), so probe chains stay intact.
 */
#include "core/proxy/limits.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/admin/counters.h"
#include "core/gen.h"
#include "core/io/conn.h"
#include "core/lib/cidr.h"
#include "core/lib/hash.h"
#include "core/lib/log.h"
#include "core/proxy/accesslog.h"
#include "core/proxy/client.h"
#include "core/proxy/proxy.h"
#include "core/proxy/stream.h"

#define LIM_SHARDS	64
#define LIM_SLOTS	(LIMITS_ENTRIES / LIM_SHARDS)
#define LIM_PROBE	16
#define MILLI		1000

struct lim_entry {
	uint64_t	 key;		/* 0: empty */
	uint64_t	 used;		/* ms of the last use (LRU) */
	uint64_t	 refill;	/* ms of the last token refill */
	int64_t		 tokens;	/* milli-tokens */
	uint32_t	 conns;
};

struct lim_shard {
	pthread_mutex_t	 mu;
	struct lim_entry e[LIM_SLOTS];
};

static struct lim_shard *lim;
static atomic_uint_fast64_t lim_refused_conns;	/* for the log line's running total */
static atomic_uint_fast64_t lim_log_sec;

int
limits_start(void)
{
	lim = calloc(LIM_SHARDS, sizeof(*lim));
	if (lim == NULL) {
		log_error("client limits: no memory for the table: limits are off");
		return -1;
	}
	for (int i = 0; i < LIM_SHARDS; i++)
		pthread_mutex_init(&lim[i].mu, NULL);
	return 0;
}

void
limits_stop(void)
{
	if (lim == NULL)
		return;
	for (int i = 0; i < LIM_SHARDS; i++)
		pthread_mutex_destroy(&lim[i].mu);
	free(lim);
	lim = NULL;
}


/* The key of (scope name, client address), never 0; 0 too when the address is exempt (the
 * listener's client_limits_exempt). tag: 'l' listener, 'r' route. */
static uint64_t
lim_key(const struct conn *c, const struct cfg_listener *l, char tag, const char *name)
{
	uint8_t a[16];
	uint64_t h;

	if (lim == NULL || !cidr_addr16((const struct sockaddr *)&c->u.cli.peer, a) ||
	    cidr_list_match16(&l->client_limits_exempt, a))
		return 0;
	h = fnv1a64(&tag, 1, FNV64_BASIS);
	h = fnv1a64(name, strlen(name), h);
	h = fnv1a64(a, sizeof(a), h);
	return h ? h : 1;
}

/* The entry of key in its (locked) shard, created if need be; NULL when the probe window is
 * full of entries with open connections (the address is then not limited: fail open). */
static struct lim_entry *
lim_get(struct lim_shard *s, uint64_t key, uint64_t now, uint64_t burst)
{
	struct lim_entry *victim = NULL;

	for (uint32_t i = 0; i < LIM_PROBE; i++) {
		struct lim_entry *e = &s->e[((key >> 6) + i) % LIM_SLOTS];

		if (e->key == key) {
			e->used = now;
			return e;
		}
		if (e->conns == 0 && (victim == NULL || e->key == 0 ||
				      (victim->key != 0 && e->used < victim->used)))
			victim = e;
	}
	if (victim == NULL)
		return NULL;
	*victim = (struct lim_entry){ .key = key, .used = now, .refill = now,
		.tokens = (int64_t)(burst * MILLI) };
	return victim;
}

/* One line a second at most, for all workers together. */
static bool
lim_log_now(uint64_t now)
{
	uint64_t sec = now / 1000, last = atomic_load(&lim_log_sec);

	return sec != last && atomic_compare_exchange_strong(&lim_log_sec, &last, sec);
}

int
limits_accept_(struct conn *c, const struct cfg_listener *l)
{
	uint64_t key = lim_key(c, l, 'l', l->name), now = c->w->now;
	struct lim_shard *s;
	struct lim_entry *e;
	int rc = 0;

	if (key == 0)
		return 0;
	s = &lim[key % LIM_SHARDS];
	pthread_mutex_lock(&s->mu);
	e = lim_get(s, key, now, l->client_request_burst);
	if (e != NULL && e->conns >= l->client_max_connections)
		rc = -1;
	else if (e != NULL)
		e->conns++;
	pthread_mutex_unlock(&s->mu);
	if (rc == 0) {
		c->u.cli.limkey = e != NULL ? key : 0;
		return 0;
	}
	atomic_fetch_add(&lim_refused_conns, 1);
	ctr_denied(&c->w->ctr, c->u.cli.lidx);
	ctr_limit_conn(&c->w->ctr, c->u.cli.lidx);
	if (lim_log_now(now)) {
		char addr[64];

		accesslog_peer(c, addr, sizeof(addr));
		log_warn("listener %s: client %s is at client_max_connections (%llu): connection "
			 "refused (%llu refused since start)", l->name, addr,
			 (unsigned long long)l->client_max_connections,
			 (unsigned long long)atomic_load(&lim_refused_conns));
	}
	return -1;
}

void
limits_close_(struct conn *c)
{
	uint64_t key = c->u.cli.limkey;
	struct lim_shard *s = &lim[key % LIM_SHARDS];

	c->u.cli.limkey = 0;
	pthread_mutex_lock(&s->mu);
	for (uint32_t i = 0; i < LIM_PROBE; i++) {
		struct lim_entry *e = &s->e[((key >> 6) + i) % LIM_SLOTS];

		if (e->key == key) {
			if (e->conns > 0)
				e->conns--;
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
}

/* Takes a token; 0, or the seconds until one is there. Shard locked. */
static uint32_t
lim_take(struct lim_entry *e, uint64_t rate_, uint64_t burst, uint64_t now)
{
	int64_t cap = (int64_t)(burst * MILLI);
	int64_t rate = (int64_t)rate_;	/* milli-tokens per ms */

	if (now > e->refill) {
		e->tokens += (int64_t)(now - e->refill) * rate;
		if (e->tokens > cap)
			e->tokens = cap;
		e->refill = now;
	}
	if (e->tokens >= MILLI) {
		e->tokens -= MILLI;
		return 0;
	}
	/* ms until a whole token, rounded up to seconds (at least 1) */
	return (uint32_t)(((MILLI - e->tokens + rate - 1) / rate + 999) / 1000);
}

/* A request against the bucket of key (rate per second, burst): 0, or 1 when answered 429. */
static int
lim_request(struct conn *c, uint64_t key, uint64_t rate, uint64_t burst, uint32_t head_len)
{
	struct lim_shard *s;
	struct lim_entry *e;
	uint32_t wait = 0;
	char extra[48];

	if (key == 0 || c->u.cli.body_wait)
		return 0;
	s = &lim[key % LIM_SHARDS];
	pthread_mutex_lock(&s->mu);
	e = lim_get(s, key, c->w->now, burst);
	if (e != NULL)
		wait = lim_take(e, rate, burst, c->w->now);
	pthread_mutex_unlock(&s->mu);
	if (wait == 0)
		return 0;
	ctr_limit_req(&c->w->ctr, c->u.cli.lidx);
	snprintf(extra, sizeof(extra), "Retry-After: %u\r\n", wait);
	/* a request body we would have to drain closes the connection */
	if (c->s->req_body == PM_NONE && !(c->s->flags & SF_UPGRADE)) {
		conn_consume(c, head_len);
		cli_respond(c, 429, extra, true);
	} else {
		conn_consume(c, c->in.len);
		cli_respond(c, 429, extra, false);
	}
	return 1;
}

int
limits_request_(struct conn *c, const struct cfg_listener *l, uint32_t head_len)
{
	return lim_request(c, lim_key(c, l, 'l', l->name), l->client_request_rate,
			   l->client_request_burst, head_len);
}

int
limits_route_request_(struct conn *c, const struct cfg_route *rt, uint32_t head_len)
{
	return lim_request(c, lim_key(c, cli_listener(c), 'r', rt->name), rt->client_request_rate,
			   rt->client_request_burst, head_len);
}
