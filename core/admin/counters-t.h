/*
 * Per-worker counters for /metrics (core/admin/metrics.c sums them at scrape time).
 *
 * Each worker owns one struct wcounters (a field of struct worker) and is its only writer:
 * plain `++` and `+=` on the request path, no lock, no atomic read-modify-write. The admin
 * thread reads them while workers write: every field is a naturally aligned uint64_t, and an
 * aligned 64-bit load on x86-64 is never torn, so the scraper reads them with relaxed atomic
 * loads (__atomic_load_n(..., __ATOMIC_RELAXED): a plain mov, no fence) and may see a value a
 * few increments old, never a torn one. Gauges (current connections) are kept as two
 * counters (opened, closed) so each has one writer and the difference is taken at scrape time.
 *
 * Indexed by configuration index (listener, pool, flat server index g->srv_base[pool] + srv)
 * and cumulative since start: a reload that reorders listeners or pools moves the counts
 * with the index (the labels come from the current generation). Indexes past the fixed
 * limits are not counted.
 */
#ifndef RINGEDGE_CORE_ADMIN_COUNTERS_T_H
#define RINGEDGE_CORE_ADMIN_COUNTERS_T_H

#include <stdint.h>

#define CTR_LISTENERS	64	/* config allows 64 listeners (route bitmap) */
#define CTR_POOLS	64
#define CTR_SERVERS	512	/* servers of all pools together */
#define CTR_CLASSES	6	/* status class 1xx..5xx, [0] = other (no status) */
#define CTR_BUCKETS	13	/* latency buckets, the last is +Inf */
#define CTR_ROUTES	128	/* routes whose auth guard attempts are counted */
#define CTR_KINDS	5	/* enum cred_kind (ntlm, basic, oauthtoken, webticket; [0] unused) */
#define CTR_SCOPES	3	/* enum guard_what: user, address, user+address */

/* Upper bounds of the latency buckets, in ms (the +Inf bucket has none). */
#define CTR_BUCKET_MS	{ 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000 }

struct ctr_listener {
	uint64_t	 conns_opened;		/* accepted client connections */
	uint64_t	 conns_closed;
	uint64_t	 requests;		/* request heads received */
	uint64_t	 responses[CTR_CLASSES];	/* by status class, at the end of a request */
	uint64_t	 bytes_in;		/* request heads and bodies */
	uint64_t	 bytes_out;		/* bytes sent to clients */
	uint64_t	 req_errors;		/* requests answered 4xx by ringedge itself */
	uint64_t	 denied;		/* connections refused by a policy (see metrics.c) */
	uint64_t	 limit_conns;		/* ... of them over client_max_connections */
	uint64_t	 limit_reqs;		/* requests answered 429 (client_request_rate) */
	uint64_t	 tls_full;		/* client TLS handshakes, full */
	uint64_t	 tls_resumed;		/* ... resumed (ticket or session cache) */
	uint64_t	 tls_failed;		/* handshakes that failed or were abandoned */
};

struct ctr_pool {
	uint64_t	 responses[CTR_CLASSES];	/* requests that went to this pool */
	uint64_t	 bytes_out;
	uint64_t	 lat_bucket[CTR_BUCKETS];	/* backend response time (to the head) */
	uint64_t	 lat_sum_ms;
	uint64_t	 lat_count;
	uint64_t	 pinned_opened;		/* backend connections pinned to a client (NTLM) */
	uint64_t	 pinned_closed;
	uint64_t	 pinned_requests;	/* requests sent on a pinned connection */
};

struct ctr_server {
	uint64_t	 requests;		/* requests sent to this server */
	uint64_t	 conn_errors;		/* connect/handshake/send failures */
	uint64_t	 reuses;		/* requests on a pooled (keep-alive) connection */
	uint64_t	 idle_in;		/* connections put into the keep-alive pool */
	uint64_t	 idle_out;		/* ... taken out or closed there */
};

/* The auth guard on one route (core/proxy/guard_hook.c), by kind of password attempt. */
struct ctr_guard {
	uint64_t	 attempts;		/* attempts seen (forwarded or answered here) */
	uint64_t	 failures;		/* forwarded attempts the backend failed */
	uint64_t	 local;			/* answered by ringedge (locked, repeated password) */
	uint64_t	 would;			/* log_only: `on` would have answered them here */
};

struct ctr_route {
	struct ctr_guard g[CTR_KINDS];
	uint64_t	 scheme_refused;	/* 401: Authorization scheme not in auth_schemes */
};

struct wcounters {
	struct ctr_listener	 l[CTR_LISTENERS];
	struct ctr_pool		 p[CTR_POOLS];
	struct ctr_server	 s[CTR_SERVERS];
	struct ctr_route	 r[CTR_ROUTES];
	uint64_t		 guard_locks[CTR_SCOPES];	/* locks taken, by scope */
};

#endif
