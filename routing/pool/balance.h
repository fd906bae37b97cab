/*
 * Backend pool balancing: server choice (round_robin, least_conn, source_hash, cookie),
 * backup servers, server up/down state and passive failure accounting. Design and the
 * data plane's integration checklist: docs/pools.md.
 *
 * Threads: bal_set_build/bal_set_put on the control thread (put: any thread); bal_pick and
 * bal_req_begin/end on the worker `worker` only (its own block: no locks, no atomics except
 * the relaxed loads of the shared server state, no allocation); bal_report_failure and the
 * cookie helpers on any thread. Times are CLOCK_MONOTONIC milliseconds (bal_now_ms, or the
 * worker's own cached clock).
 */
#ifndef RINGEDGE_ROUTING_POOL_BALANCE_H
#define RINGEDGE_ROUTING_POOL_BALANCE_H

#include <sys/socket.h>

#include "routing/pool/balance-t.h"

/* ---- building ------------------------------------------------------------------------- */

/*
 * Builds the balancing state of cfg's pools for nworkers workers (>= 1). cfg is only read
 * during the call. When old is not NULL, each server that exists in old with the same pool
 * name and host:port inherits its up/down state and failure window, so a reload neither
 * revives a dead server nor takes a live one down. Returns the set with one reference held
 * by the caller, or NULL on ENOMEM (logged). Control thread.
 */
struct bal_set *bal_set_build(const struct config *cfg, int nworkers, const struct bal_set *old);

static inline struct bal_set *
bal_set_get(struct bal_set *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

/* Drops one reference; the last frees the set. Any thread. NULL is ignored. */
void bal_set_put(struct bal_set *s);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t bal_now_ms(void);

/* ---- picking (worker `worker` only) ---------------------------------------------------- */

/*
 * Chooses a server of pool `pool` for a request. k: what the request offers (client address
 * for source_hash, MS-WSMAN cookie for cookie; NULL = nothing). tried: bit (i % 64) set for
 * each server i already tried for this request (connect failure -> next server; 0 at first).
 * Backup servers are chosen only when no primary server is up, or every up primary was tried.
 * Returns the server index, BAL_NONE (no server is up: 503 with Retry-After) or
 * BAL_EXHAUSTED (every up server was tried: 502).
 */
int bal_pick(const struct bal_set *s, int worker, int pool, const struct bal_key *k,
	     uint64_t tried, uint64_t now_ms);

static inline struct bal_wsrv *
bal_wsrv(const struct bal_set *s, int worker, int pool, int srv)
{
	return &s->workers[worker][s->pools[pool].woff + (uint32_t)srv];
}

/*
 * least_conn accounting, per worker: call begin when a request is assigned to server srv
 * (after bal_pick, also for a retry on another server) and end exactly once when that
 * request leaves the server (response done, failure, client gone). Same set, same worker.
 */
static inline void
bal_req_begin(const struct bal_set *s, int worker, int pool, int srv)
{
	bal_wsrv(s, worker, pool, srv)->active++;
}

static inline void
bal_req_end(const struct bal_set *s, int worker, int pool, int srv)
{
	struct bal_wsrv *w = bal_wsrv(s, worker, pool, srv);

	if (w->active > 0)
		w->active--;
}

/* Worker `worker`'s queue and counters for pool `pool` (struct bal_wpool). */
static inline struct bal_wpool *
bal_wpool(const struct bal_set *s, int worker, int pool)
{
	return &s->wpools[worker][pool];
}

/*
 * max_conns is per server across all workers; each worker enforces its own share so no
 * atomic is touched per connection: worker i of n gets max / n, plus one for i < max % n,
 * so the shares add up to max. When max < n the workers without a share get 1 (then the
 * total can reach n: docs/pools.md says so). 0 = unlimited. Pure.
 */
uint32_t bal_conn_share(uint64_t max, int nworkers, int worker);

/*
 * slow_start: the effective weight, in 1/BAL_W_SCALE units, of a server of weight `weight`
 * that came up at up_since, at now_ms: weight * BAL_W_SCALE ramped linearly from 0 over dur
 * ms (at least 1 while ramping, so it gets a first request), the full value after dur or when
 * dur or up_since is 0. bal_pick balances on these values. Pure.
 */
#define BAL_W_SCALE	64
uint32_t bal_slow_start_weight(uint32_t weight, uint64_t up_since, uint64_t dur, uint64_t now_ms);

/* ---- server state (any thread) ---------------------------------------------------------- */

/* Slow path of bal_srv_up: a timed passive down just ended (logs it once). */
void bal_srv_revive(const struct bal_pool *p, struct bal_srv *sv, uint64_t until);

/* Is the server up at now_ms? (not failed by the last probe, not passively down.) */
static inline bool
bal_srv_up(const struct bal_pool *p, struct bal_srv *sv, uint64_t now_ms)
{
	uint64_t d;

	if (atomic_load_explicit(&sv->h.probe_down, memory_order_relaxed))
		return false;
	d = atomic_load_explicit(&sv->h.down_until, memory_order_relaxed);
	if (RE_LIKELY(d == 0))
		return true;
	if (d == BAL_DOWN_UNTIL_PROBE || now_ms < d)
		return false;
	bal_srv_revive(p, sv, d);
	return true;
}

/*
 * Passive failure accounting (none in a pool of one server, as in nginx): a connect error, a
 * reset or a timeout talking to server srv
 * (err = -errno, e.g. -ECONNREFUSED, -ECONNRESET, -ETIMEDOUT, or BAL_ERR_TLS; only for the
 * log). max_fails of
 * them within fail_timeout mark the server down until the next good probe (pool with
 * health_check, while the health thread probes it) or for fail_timeout (else). One CAS loop, no lock. Returns true when this
 * call took the server down (it logged why).
 */
bool bal_report_failure(const struct bal_set *s, int pool, int srv, int err, uint64_t now_ms);

/* err of bal_report_failure for a failed TLS handshake (verification, protocol, alert). */
#define BAL_ERR_TLS	(-100000)

/*
 * Seconds for the Retry-After of a 503 when bal_pick said BAL_NONE: until the first timed
 * passive down ends, or one health_interval when downs wait for probes; at least 1.
 */
unsigned bal_retry_after(const struct bal_set *s, int pool, uint64_t now_ms);

/* ---- request keys ----------------------------------------------------------------------- */

/* Puts the client address (IPv4, IPv6; v4-mapped IPv6 counts as IPv4) into k. */
void bal_key_addr(struct bal_key *k, const struct sockaddr *sa);

/*
 * Reads one Cookie field value (call it for each Cookie field line of the request): if it
 * carries MS-WSMAN naming a server of the pool, k->cookie_srv is that server (first wins).
 * Pools not balanced by cookie ignore it.
 */
void bal_key_cookie(const struct bal_set *s, int pool, struct bal_key *k, const char *val,
		    size_t len);

/* ---- cookie (MS-WSMAN) ----------------------------------------------------------------- */

/*
 * Finds the MS-WSMAN cookie in a Cookie field value ("a=b; MS-WSMAN=v; c=\"d\""): name
 * compared case-sensitively, spaces/tabs around pairs ignored, a DQUOTE'd value returned
 * without its quotes. Returns true with *v and *vlen set (inside val), or false.
 */
bool bal_cookie_find(const char *val, size_t len, const char **v, size_t *vlen);

/* The server of pool p whose id is v[0..vlen), or -1. */
int bal_cookie_lookup(const struct bal_pool *p, const char *v, size_t vlen);

/*
 * Does the response of a request that was sent to server srv need a Set-Cookie? True for a
 * cookie pool when the request did not carry an MS-WSMAN naming srv.
 */
bool bal_cookie_wanted(const struct bal_set *s, int pool, const struct bal_key *k, int srv);

/*
 * Writes "Set-Cookie: MS-WSMAN=<id>; Path=/\r\n" for server srv of pool into buf (no NUL
 * needed; one is added when it fits). Returns its length, or -ENOSPC.
 */
int bal_cookie_line(const struct bal_set *s, int pool, int srv, char *buf, size_t size);

/* The stable id of host:port (16 hex digits + NUL into id): same on every instance. */
void bal_server_id(const char *host, uint16_t port, char id[BAL_ID_LEN + 1]);

#endif
