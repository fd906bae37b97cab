/*
 * Backend pool balancing (see balance.h, docs/pools.md). Pure per-worker state plus relaxed
 * atomics for the shared up/down state: nothing here blocks or allocates after the build.
 */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/lib/hash.h"
#include "core/lib/log.h"
#include "routing/pool/balance.h"

/* ---- hashing: fixed functions, no seed, so every instance computes the same values ------ */

static void
server_name(const char *host, uint16_t port, char *buf, size_t size)
{
	if (strchr(host, ':') != NULL)
		snprintf(buf, size, "[%s]:%u", host, port);
	else
		snprintf(buf, size, "%s:%u", host, port);
}

void
bal_server_id(const char *host, uint16_t port, char id[BAL_ID_LEN + 1])
{
	static const char domain[] = "ringedge MS-WSMAN\n";
	char name[300];
	uint64_t h;

	server_name(host, port, name, sizeof(name));
	h = fmix64(fnv1a64(name, strlen(name), fnv1a64(domain, sizeof(domain) - 1, FNV64_BASIS)));
	for (int i = BAL_ID_LEN - 1; i >= 0; i--, h >>= 4)
		id[i] = "0123456789abcdef"[h & 15];
	id[BAL_ID_LEN] = '\0';
}

/* The rendezvous hash of (server, client address): the address bytes little-endian in two
 * words, each folded in with a finalizer round, the length in the last one. */
static uint64_t
hrw_hash(uint64_t key, const uint8_t *a, unsigned n)
{
	uint64_t lo = 0, hi = 0;

	for (unsigned i = 0; i < n && i < 8; i++)
		lo |= (uint64_t)a[i] << (8 * i);
	for (unsigned i = 8; i < n && i < 16; i++)
		hi |= (uint64_t)a[i] << (8 * (i - 8));
	return fmix64(fmix64(key ^ lo) ^ hi ^ ((uint64_t)n << 56));
}

uint64_t
bal_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- building --------------------------------------------------------------------------- */

static char *
dup_or_null(const char *s, bool *fail)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*fail = true;
	return d;
}

static const struct bal_srv *
old_server(const struct bal_set *old, const char *pool, const char *name)
{
	if (old == NULL)
		return NULL;
	for (int i = 0; i < old->npools; i++) {
		const struct bal_pool *p = &old->pools[i];

		if (strcmp(p->cfg.name, pool) != 0)
			continue;
		for (int j = 0; j < p->nsrv; j++)
			if (strcmp(p->srv[j].name, name) == 0)
				return &p->srv[j];
		return NULL;
	}
	return NULL;
}

/* A reload keeps each server's state; downs that waited for probes the new pool no longer
 * runs become timed downs. */
static void
inherit(struct bal_pool *p, struct bal_srv *sv, const struct bal_srv *o, uint64_t now)
{
	uint64_t d = atomic_load_explicit(&o->h.down_until, memory_order_relaxed);

	if (!p->probed && d == BAL_DOWN_UNTIL_PROBE)
		d = now + p->fail_timeout;
	atomic_store_explicit(&sv->h.down_until, d, memory_order_relaxed);
	atomic_store_explicit(&sv->h.fail_win,
			      atomic_load_explicit(&o->h.fail_win, memory_order_relaxed),
			      memory_order_relaxed);
	atomic_store_explicit(&sv->h.up_since,
			      atomic_load_explicit(&o->h.up_since, memory_order_relaxed),
			      memory_order_relaxed);
	if (p->probed)
		atomic_store_explicit(&sv->h.probe_down,
				      atomic_load_explicit(&o->h.probe_down, memory_order_relaxed),
				      memory_order_relaxed);
}

static int
pool_build(struct bal_pool *p, const struct cfg_pool *c, const struct bal_set *old,
	   uint64_t now)
{
	bool fail = false;
	char name[300];

	p->balance = c->balance;
	p->max_fails = c->max_fails;
	p->fail_timeout = c->fail_timeout;
	p->slow_start = c->slow_start;
	p->probed = c->health_check != NULL;
	p->cfg = *c;
	p->cfg.servers = NULL;
	p->cfg.nservers = 0;
	p->cfg.name = dup_or_null(c->name, &fail);
	p->cfg.ca = dup_or_null(c->ca, &fail);
	p->cfg.sni = dup_or_null(c->sni, &fail);
	p->cfg.health_check = dup_or_null(c->health_check, &fail);
	if (fail || p->cfg.name == NULL)
		return -ENOMEM;
	if (c->nservers == 0)
		return 0;
	p->srv = aligned_alloc(RE_CACHELINE, sizeof(*p->srv) * (size_t)c->nservers);
	if (p->srv == NULL)
		return -ENOMEM;
	memset(p->srv, 0, sizeof(*p->srv) * (size_t)c->nservers);
	p->nsrv = c->nservers;
	for (int i = 0; i < c->nservers; i++) {
		const struct cfg_server *cs = &c->servers[i];
		struct bal_srv *sv = &p->srv[i];
		const struct bal_srv *o;

		server_name(cs->host, cs->port, name, sizeof(name));
		sv->name = dup_or_null(name, &fail);
		sv->host = dup_or_null(cs->host, &fail);
		if (fail)
			return -ENOMEM;
		sv->key = fmix64(fnv1a64(name, strlen(name), FNV64_BASIS));
		sv->weight = cs->weight > 0 ? (uint32_t)cs->weight : 1;
		sv->backup = cs->backup;
		sv->port = cs->port;
		sv->addr = cs->addr;
		sv->addrlen = cs->addrlen;
		bal_server_id(cs->host, cs->port, sv->id);
		if ((o = old_server(old, c->name, name)) != NULL)
			inherit(p, sv, o, now);
	}
	return 0;
}

static void
set_free(struct bal_set *s)
{
	for (int i = 0; i < s->npools; i++) {
		struct bal_pool *p = &s->pools[i];

		for (int j = 0; j < p->nsrv; j++) {
			free(p->srv[j].name);
			free(p->srv[j].host);
		}
		free(p->srv);
		free(p->cfg.name);
		free(p->cfg.ca);
		free(p->cfg.sni);
		free(p->cfg.health_check);
	}
	free(s->pools);
	for (int i = 0; s->workers != NULL && i < s->nworkers; i++)
		free(s->workers[i]);
	for (int i = 0; s->wpools != NULL && i < s->nworkers; i++)
		free(s->wpools[i]);
	free(s->wpools);
	free(s->workers);
	free(s->file);
	free(s);
}

struct bal_set *
bal_set_build(const struct config *cfg, int nworkers, const struct bal_set *old)
{
	struct bal_set *s = calloc(1, sizeof(*s));
	uint64_t now = bal_now_ms();
	size_t block;

	if (s == NULL)
		goto fail;
	atomic_init(&s->refs, 1);
	if (cfg->file != NULL && (s->file = strdup(cfg->file)) == NULL)
		goto fail;
	if (cfg->npools > 0 && (s->pools = calloc((size_t)cfg->npools, sizeof(*s->pools))) == NULL)
		goto fail;
	s->npools = cfg->npools;
	for (int i = 0; i < cfg->npools; i++) {
		s->pools[i].woff = s->nwsrv;
		s->nwsrv += (uint32_t)cfg->pools[i].nservers;
		if (pool_build(&s->pools[i], &cfg->pools[i], old, now) < 0)
			goto fail;
	}
	s->nworkers = nworkers > 0 ? nworkers : 1;
	if ((s->workers = calloc((size_t)s->nworkers, sizeof(*s->workers))) == NULL)
		goto fail;
	/* one cache-line multiple per worker: no two workers ever share a line */
	block = (sizeof(struct bal_wsrv) * s->nwsrv + RE_CACHELINE) & ~(size_t)(RE_CACHELINE - 1);
	for (int i = 0; i < s->nworkers; i++) {
		if ((s->workers[i] = aligned_alloc(RE_CACHELINE, block)) == NULL)
			goto fail;
		memset(s->workers[i], 0, block);
	}
	if ((s->wpools = calloc((size_t)s->nworkers, sizeof(*s->wpools))) == NULL)
		goto fail;
	for (int i = 0; i < s->nworkers; i++) {
		/* a cache line of padding: no two workers' counters ever share a line */
		size_t b = sizeof(struct bal_wpool) * (size_t)s->npools + RE_CACHELINE;

		if ((s->wpools[i] = aligned_alloc(RE_CACHELINE, b & ~(size_t)(RE_CACHELINE - 1)))
		    == NULL)
			goto fail;
		memset(s->wpools[i], 0, b & ~(size_t)(RE_CACHELINE - 1));
	}
	return s;
fail:
	log_error("balancing state: out of memory");
	if (s != NULL)
		set_free(s);
	return NULL;
}

void
bal_set_put(struct bal_set *s)
{
	if (s != NULL && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		set_free(s);
}

/* ---- picking ---------------------------------------------------------------------------- */

/*
 * nginx's smooth weighted round robin over the servers whose ok == want: every one gains its
 * weight, the largest current weight wins (first on ties) and pays the round's total.
 */
static int
swrr(const struct bal_pool *p, struct bal_wsrv *w, uint8_t want)
{
	int best = -1;
	int32_t total = 0;

	for (int i = 0; i < p->nsrv; i++) {
		if (w[i].ok != want)
			continue;
		w[i].cw += (int32_t)w[i].ew;
		total += (int32_t)w[i].ew;
		if (best < 0 || w[i].cw > w[best].cw)
			best = i;
	}
	if (best >= 0)
		w[best].cw -= total;
	return best;
}

/* Fewest active requests per unit of weight (active_i / weight_i, compared by
 * cross-multiplying); ties go to smooth WRR among the tied servers, as nginx does. */
static int
least_conn(const struct bal_pool *p, struct bal_wsrv *w)
{
	int best = -1, ties = 0;

	for (int i = 0; i < p->nsrv; i++) {
		uint64_t a, b;

		if (!w[i].ok)
			continue;
		if (best < 0) {
			best = i;
			ties = 1;
			continue;
		}
		a = (uint64_t)w[i].active * w[best].ew;
		b = (uint64_t)w[best].active * w[i].ew;
		if (a < b) {
			best = i;
			ties = 1;
		} else if (a == b) {
			ties++;
		}
	}
	if (ties <= 1)
		return best;
	for (int i = 0; i < p->nsrv; i++)
		if (w[i].ok && (uint64_t)w[i].active * w[best].ew ==
		    (uint64_t)w[best].active * w[i].ew)
			w[i].ok = 2;
	return swrr(p, w, 2);
}

/*
 * Rendezvous (highest random weight) hashing: each eligible server scores the client
 * address, the highest wins, so removing a server (or taking it down) moves only the
 * addresses it had. Weighted: score = weight / -ln(u), u the hash in (0, 1) (logarithmic
 * method). Equal weights compare the integer hashes: no floating point at all then.
 */
static int
hrw(const struct bal_pool *p, struct bal_wsrv *w, const struct bal_key *k)
{
	uint32_t w0 = 0;
	bool same = true;
	int best = -1;
	uint64_t bh = 0;
	double bs = 0;

	for (int i = 0; i < p->nsrv; i++) {
		if (!w[i].ok)
			continue;
		if (w0 == 0)
			w0 = w[i].ew;
		else if (w[i].ew != w0)
			same = false;
	}
	for (int i = 0; i < p->nsrv; i++) {
		uint64_t h;
		double sc;

		if (!w[i].ok)
			continue;
		h = hrw_hash(p->srv[i].key, k->addr, k->addr_len);
		if (same) {
			if (best < 0 || h > bh) {
				best = i;
				bh = h;
			}
			continue;
		}
		sc = (double)w[i].ew / -log(((double)(h >> 11) + 0.5) * 0x1p-53);
		if (best < 0 || sc > bs) {
			best = i;
			bs = sc;
		}
	}
	return best;
}

int
bal_pick(const struct bal_set *s, int worker, int pool, const struct bal_key *k,
	 uint64_t tried, uint64_t now_ms)
{
	const struct bal_pool *p = &s->pools[pool];
	struct bal_wsrv *w = &s->workers[worker][p->woff];
	bool any_up = false, primary_up = false;
	int ck = p->balance == CFG_BALANCE_COOKIE && k != NULL && k->cookie_srv < p->nsrv ?
		 k->cookie_srv : -1;

	/* tier 0: primaries; tier 1: backups, when no primary is up or all were tried */
	for (int tier = 0; tier < 2; tier++) {
		int n = 0;

		for (int i = 0; i < p->nsrv; i++) {
			bool up;

			w[i].ok = 0;
			if ((int)p->srv[i].backup != tier)
				continue;
			up = bal_srv_up(p, &p->srv[i], now_ms);
			any_up |= up;
			if (up && !(tried & (1ULL << (i & 63)))) {
				w[i].ok = 1;
				w[i].ew = bal_slow_start_weight(p->srv[i].weight,
					atomic_load_explicit(&p->srv[i].h.up_since, memory_order_relaxed),
					p->slow_start, now_ms);
				n++;
			}
		}
		if (tier == 0)
			primary_up = any_up;
		if (n == 0)
			continue;
		/* the MS-WSMAN server while it is up; a backup's only while no primary is up */
		if (ck >= 0 && w[ck].ok && (tier == 0 || !primary_up))
			return ck;
		switch (p->balance) {
		case CFG_BALANCE_LEAST_CONN:
			return least_conn(p, w);
		case CFG_BALANCE_SOURCE_HASH:
			if (k != NULL && k->addr_len > 0)
				return hrw(p, w, k);
			return swrr(p, w, 1);
		default:
			return swrr(p, w, 1);
		}
	}
	return any_up ? BAL_EXHAUSTED : BAL_NONE;
}

uint32_t
bal_conn_share(uint64_t max, int nworkers, int worker)
{
	uint64_t n = nworkers > 0 ? (uint64_t)nworkers : 1, share;

	if (max == 0)
		return 0;
	share = max / n + ((uint64_t)worker < max % n ? 1 : 0);
	if (share == 0)
		share = 1;
	return share > UINT32_MAX ? UINT32_MAX : (uint32_t)share;
}

uint32_t
bal_slow_start_weight(uint32_t weight, uint64_t up_since, uint64_t dur, uint64_t now_ms)
{
	uint64_t full = (uint64_t)weight * BAL_W_SCALE, el, v;

	if (dur == 0 || up_since == 0 || now_ms >= up_since + dur)
		return (uint32_t)full;
	el = now_ms > up_since ? now_ms - up_since : 0;
	v = full * el / dur;
	return v > 0 ? (uint32_t)v : 1;
}

/* ---- server state ----------------------------------------------------------------------- */

void
bal_srv_revive(const struct bal_pool *p, struct bal_srv *sv, uint64_t until)
{
	if (atomic_compare_exchange_strong_explicit(&sv->h.down_until, &until, 0,
						    memory_order_relaxed, memory_order_relaxed)) {
		atomic_store_explicit(&sv->h.up_since, until, memory_order_relaxed);
		log_info("pool %s: server %s is UP again: fail_timeout passed (no active checks)",
			 p->cfg.name, sv->name);
	}
}

bool
bal_report_failure(const struct bal_set *s, int pool, int srv, int err, uint64_t now_ms)
{
	const struct bal_pool *p = &s->pools[pool];
	struct bal_srv *sv = &p->srv[srv];
	uint64_t old, nw, start, cnt, until, prev;
	bool probing;

	/*
	 * nginx's rule: a pool of one server never takes it down passively. There is nowhere
	 * else to go, so each request tries it and a failure is a 502 on that request (a
	 * configured health_check still takes it down: then 503 + Retry-After).
	 */
	if (p->max_fails == 0 || p->nsrv == 1)
		return false;
	old = atomic_load_explicit(&sv->h.fail_win, memory_order_relaxed);
	do {
		start = old >> 16;
		cnt = old & 0xffff;
		/* a new window at the first failure, or when the window has run out */
		if (cnt == 0 || (now_ms > start && now_ms - start >= p->fail_timeout)) {
			start = now_ms;
			cnt = 0;
		}
		if (cnt < 0xffff)
			cnt++;
		nw = cnt >= p->max_fails ? 0 : (start << 16) | cnt;
	} while (!atomic_compare_exchange_weak_explicit(&sv->h.fail_win, &old, nw,
							memory_order_relaxed,
							memory_order_relaxed));
	if (cnt < p->max_fails)
		return false;
	probing = atomic_load_explicit(&p->probing, memory_order_relaxed);
	until = probing ? BAL_DOWN_UNTIL_PROBE : now_ms + p->fail_timeout;
	prev = atomic_exchange_explicit(&sv->h.down_until, until, memory_order_relaxed);
	if (prev == BAL_DOWN_UNTIL_PROBE || prev > now_ms)
		return false;		/* already down: the first reporter logged it */
	if (prev != 0)
		log_info("pool %s: server %s is UP again: fail_timeout passed (no active checks)",
			 p->cfg.name, sv->name);
	if (atomic_load_explicit(&sv->h.probe_down, memory_order_relaxed))
		return false;		/* the health thread already took it down */
	log_warn("pool %s: server %s is DOWN: %llu failures within %llu ms (last: %s); %s",
		 p->cfg.name, sv->name, (unsigned long long)cnt,
		 (unsigned long long)p->fail_timeout,
		 err == BAL_ERR_TLS ? "TLS handshake failed" : err < 0 ? strerror(-err) : "error",
		 probing ? "until a health check passes" : "for fail_timeout");
	return true;
}

unsigned
bal_retry_after(const struct bal_set *s, int pool, uint64_t now_ms)
{
	const struct bal_pool *p = &s->pools[pool];
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < p->nsrv; i++) {
		uint64_t d = atomic_load_explicit(&p->srv[i].h.down_until, memory_order_relaxed);

		if (atomic_load_explicit(&p->probing, memory_order_relaxed) &&
		    (d == BAL_DOWN_UNTIL_PROBE ||
				  atomic_load_explicit(&p->srv[i].h.probe_down,
						       memory_order_relaxed)))
			d = now_ms + p->cfg.health_interval;
		if (d > now_ms && d != BAL_DOWN_UNTIL_PROBE && d - now_ms < best)
			best = d - now_ms;
	}
	if (best == UINT64_MAX || best < 1000)
		return 1;
	return (unsigned)((best + 999) / 1000);
}

/* ---- request keys ----------------------------------------------------------------------- */

void
bal_key_addr(struct bal_key *k, const struct sockaddr *sa)
{
	k->addr_len = 0;
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		memcpy(k->addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		k->addr_len = 4;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			memcpy(k->addr, &a->s6_addr[12], 4);
			k->addr_len = 4;
		} else {
			memcpy(k->addr, a->s6_addr, 16);
			k->addr_len = 16;
		}
	}
}

void
bal_key_cookie(const struct bal_set *s, int pool, struct bal_key *k, const char *val, size_t len)
{
	const struct bal_pool *p = &s->pools[pool];
	const char *v;
	size_t vlen;
	int i;

	if (p->balance != CFG_BALANCE_COOKIE || k->cookie_srv >= 0)
		return;
	if (!bal_cookie_find(val, len, &v, &vlen))
		return;
	if ((i = bal_cookie_lookup(p, v, vlen)) >= 0) {
		k->cookie_srv = i;
		k->cookie_seen = true;
	}
}

/* ---- cookie ------------------------------------------------------------------------------ */

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

bool
bal_cookie_find(const char *val, size_t len, const char **v, size_t *vlen)
{
	static const char name[] = BAL_COOKIE_NAME;
	size_t i = 0;

	while (i < len) {
		size_t ns, ne, vs, ve;

		while (i < len && (is_ows(val[i]) || val[i] == ';'))
			i++;
		ns = i;
		while (i < len && val[i] != '=' && val[i] != ';')
			i++;
		ne = i;
		while (ne > ns && is_ows(val[ne - 1]))
			ne--;
		if (i >= len || val[i] != '=')
			continue;		/* a pair without '=': skipped */
		i++;
		while (i < len && is_ows(val[i]))
			i++;
		vs = i;
		while (i < len && val[i] != ';')
			i++;
		ve = i;
		while (ve > vs && is_ows(val[ve - 1]))
			ve--;
		if (ne - ns != sizeof(name) - 1 || memcmp(val + ns, name, ne - ns) != 0)
			continue;
		if (ve - vs >= 2 && val[vs] == '"' && val[ve - 1] == '"') {
			vs++;
			ve--;
		}
		*v = val + vs;
		*vlen = ve - vs;
		return true;
	}
	return false;
}

int
bal_cookie_lookup(const struct bal_pool *p, const char *v, size_t vlen)
{
	if (vlen != BAL_ID_LEN)
		return -1;
	for (int i = 0; i < p->nsrv; i++)
		if (memcmp(p->srv[i].id, v, BAL_ID_LEN) == 0)
			return i;
	return -1;
}

bool
bal_cookie_wanted(const struct bal_set *s, int pool, const struct bal_key *k, int srv)
{
	if (s->pools[pool].balance != CFG_BALANCE_COOKIE || srv < 0)
		return false;
	return k == NULL || k->cookie_srv != srv;
}

int
bal_cookie_line(const struct bal_set *s, int pool, int srv, char *buf, size_t size)
{
	static const char pre[] = "Set-Cookie: " BAL_COOKIE_NAME "=", post[] = "; Path=/\r\n";
	size_t n = sizeof(pre) - 1 + BAL_ID_LEN + sizeof(post) - 1;

	if (n > size)
		return -ENOSPC;
	memcpy(buf, pre, sizeof(pre) - 1);
	memcpy(buf + sizeof(pre) - 1, s->pools[pool].srv[srv].id, BAL_ID_LEN);
	memcpy(buf + sizeof(pre) - 1 + BAL_ID_LEN, post, sizeof(post) - 1);
	if (n < size)
		buf[n] = '\0';
	return (int)n;
}
