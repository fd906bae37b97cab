/*
 * /metrics: the Prometheus text exposition format (version 0.0.4). Names follow HAProxy's
 * exporter with a ringedge_ prefix and the frontend (listener) / backend (pool) / server
 * scopes; docs/operations.md has the table. Counters are summed over the workers here, at
 * scrape time (counters-t.h says how they are read).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/acme/ctl.h"
#include "core/admin/metrics.h"
#include "core/gen-t.h"
#include "core/proxy/guard_hook.h"
#include "core/worker-t.h"
#include "routing/pool/balance.h"

/* Sums the uint64_t block at offset off (n fields) of every worker's counters into out. */
static void
sum_block(const struct admin_src *src, size_t off, size_t n, uint64_t *out)
{
	memset(out, 0, n * sizeof(*out));
	for (int w = 0; w < src->nw; w++) {
		const uint64_t *v = (const uint64_t *)((const char *)&src->ws[w].ctr + off);

		for (size_t i = 0; i < n; i++)
			out[i] += __atomic_load_n(&v[i], __ATOMIC_RELAXED);
	}
}

#define SUM(src, member, out) \
	sum_block(src, offsetof(struct wcounters, member), \
		  sizeof(((struct wcounters *)0)->member) / (sizeof(uint64_t)), (uint64_t *)(out))

void
metrics_sum(const struct admin_src *src, struct wcounters *out)
{
	sum_block(src, 0, sizeof(*out) / (sizeof(uint64_t)), (uint64_t *)out);
}

static void
head(struct abuf *b, const char *name, const char *type, const char *help)
{
	abuf_printf(b, "# HELP ringedge_%s %s\n# TYPE ringedge_%s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void
label(struct abuf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			abuf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			abuf_puts(b, "\\n");
		else
			abuf_put(b, v, 1);
	}
}

static const char *const code_names[CTR_CLASSES] = { "other", "1xx", "2xx", "3xx", "4xx", "5xx" };

/* ringedge_SCOPE_http_responses_total{proxy="P",code="Nxx"}, one line per status class. */
static void
class_lines(struct abuf *b, const char *scope, const char *proxy,
	    const uint64_t responses[CTR_CLASSES])
{
	for (int k = 1; k < CTR_CLASSES; k++) {
		abuf_printf(b, "ringedge_%s_http_responses_total{proxy=\"", scope);
		label(b, proxy);
		abuf_printf(b, "\",code=\"%s\"} %llu\n", code_names[k],
			    (unsigned long long)responses[k]);
	}
}

static void
process_metrics(struct abuf *b, const struct admin_src *src)
{
	head(b, "process_start_time_seconds", "gauge", "Start time of the process since the epoch.");
	abuf_printf(b, "ringedge_process_start_time_seconds %lld\n", (long long)src->start_time);
	head(b, "process_build_info", "gauge", "Build information (value 1).");
	abuf_printf(b, "ringedge_process_build_info{version=\"%s\"} 1\n", RINGEDGE_VERSION);
	head(b, "process_current_connections", "gauge", "Client connections open now.");
	abuf_printf(b, "ringedge_process_current_connections %llu\n",
		    (unsigned long long)(src->nw > 0 ? atomic_load_explicit(&src->ws[0].sh->nconns,
							      memory_order_relaxed) : 0));
	head(b, "process_workers", "gauge", "Worker threads.");
	abuf_printf(b, "ringedge_process_workers %d\n", src->nw);
}

/* One line per listener or pool i < n: ringedge_SCOPE_NAME{proxy="L"} value. */
#define PER(scope, n, name_i, field, nm, type, help) do { \
	head(b, scope "_" nm, type, help); \
	for (int i = 0; i < (n); i++) { \
		abuf_puts(b, "ringedge_" scope "_" nm "{proxy=\""); \
		label(b, (name_i)); \
		abuf_printf(b, "\"} %llu\n", (unsigned long long)(field)); \
	} \
} while (0)
#define FRONT(field, nm, type, help) \
	PER("frontend", nl, cfg->listeners[i].name, field, nm, type, help)
#define BACK(field, nm, type, help) \
	PER("backend", np, cfg->pools[i].name, field, nm, type, help)

static void
frontend_metrics(struct abuf *b, const struct admin_src *src, const struct config *cfg,
		 struct ctr_listener *l)
{
	int nl = cfg->nlisteners < CTR_LISTENERS ? cfg->nlisteners : CTR_LISTENERS;

	SUM(src, l, l);
	FRONT(l[i].conns_opened - l[i].conns_closed, "current_sessions", "gauge",
	      "Client connections open now.");
	FRONT(l[i].conns_opened, "sessions_total", "counter", "Client connections accepted.");
	FRONT(l[i].requests, "http_requests_total", "counter", "HTTP requests received.");
	head(b, "frontend_http_responses_total", "counter", "HTTP responses by status class.");
	for (int i = 0; i < nl; i++)
		class_lines(b, "frontend", cfg->listeners[i].name, l[i].responses);
	FRONT(l[i].bytes_in, "bytes_in_total", "counter", "Request bytes received (heads and bodies).");
	FRONT(l[i].bytes_out, "bytes_out_total", "counter", "Response bytes sent to clients.");
	FRONT(l[i].req_errors, "request_errors_total", "counter",
	      "Requests answered 4xx by ringedge itself (bad request, no route, timeout).");
	FRONT(l[i].denied, "denied_connections_total", "counter",
	      "Connections refused by a policy.");
	FRONT(l[i].limit_conns, "limited_connections_total", "counter",
	      "Connections refused over client_max_connections.");
	FRONT(l[i].limit_reqs, "rate_limited_requests_total", "counter",
	      "Requests answered 429 over client_request_rate.");
	FRONT(l[i].tls_full, "tls_full_handshakes_total", "counter", "Full TLS handshakes.");
	FRONT(l[i].tls_resumed, "tls_resumed_handshakes_total", "counter",
	      "Resumed TLS handshakes (ticket or session cache).");
	FRONT(l[i].tls_failed, "tls_failed_handshakes_total", "counter",
	      "TLS handshakes that failed or were abandoned.");
}


static void
backend_metrics(struct abuf *b, const struct admin_src *src, const struct config *cfg,
		struct ctr_pool *p)
{
	static const uint64_t bounds[CTR_BUCKETS - 1] = CTR_BUCKET_MS;
	int np = cfg->npools < CTR_POOLS ? cfg->npools : CTR_POOLS;

	SUM(src, p, p);
	head(b, "backend_http_responses_total", "counter", "HTTP responses by status class.");
	for (int i = 0; i < np; i++)
		class_lines(b, "backend", cfg->pools[i].name, p[i].responses);
	BACK(p[i].bytes_out, "bytes_out_total", "counter", "Response bytes sent to clients.");
	BACK(p[i].pinned_opened - p[i].pinned_closed, "ntlm_pinned_connections", "gauge",
	     "Backend connections pinned to one client (NTLM/Negotiate) now.");
	BACK(p[i].pinned_requests, "ntlm_pinned_requests_total", "counter",
	     "Requests sent on a pinned backend connection.");
	head(b, "backend_response_time_seconds", "histogram",
	     "Backend response time (request sent to response head).");
	for (int i = 0; i < np; i++) {
		uint64_t cum = 0;

		for (int k = 0; k < CTR_BUCKETS; k++) {
			cum += p[i].lat_bucket[k];
			abuf_puts(b, "ringedge_backend_response_time_seconds_bucket{proxy=\"");
			label(b, cfg->pools[i].name);
			if (k < CTR_BUCKETS - 1)
				abuf_printf(b, "\",le=\"%g\"} %llu\n", (double)bounds[k] / 1000,
					    (unsigned long long)cum);
			else
				abuf_printf(b, "\",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
		}
		abuf_puts(b, "ringedge_backend_response_time_seconds_sum{proxy=\"");
		label(b, cfg->pools[i].name);
		abuf_printf(b, "\"} %.3f\n", (double)p[i].lat_sum_ms / 1000);
		abuf_puts(b, "ringedge_backend_response_time_seconds_count{proxy=\"");
		label(b, cfg->pools[i].name);
		abuf_printf(b, "\"} %llu\n", (unsigned long long)cum);
	}
}

/* One line per server: ringedge_server_NAME{proxy="P",server="host:port"} value. */
#define SRV(field, nm, type, help) do { \
	head(b, "server_" nm, type, help); \
	for (int i = 0; i < np; i++) \
		for (int j = 0; j < cfg->pools[i].nservers; j++) { \
			unsigned x = g->srv_base[i] + (unsigned)j; \
			const struct bal_srv *sv = &g->bal->pools[i].srv[j]; \
			(void)sv; \
			if (x >= CTR_SERVERS) \
				continue; \
			abuf_puts(b, "ringedge_server_" nm "{proxy=\""); \
			label(b, cfg->pools[i].name); \
			abuf_puts(b, "\",server=\""); \
			label(b, sv->name); \
			abuf_printf(b, "\"} %llu\n", (unsigned long long)(field)); \
		} \
} while (0)

uint64_t
metrics_srv_active(const struct admin_src *src, const struct generation *g, int pool, int srv)
{
	uint64_t n = 0;

	if (g->bal->nworkers < src->nw)
		return 0;
	for (int w = 0; w < src->nw; w++)
		n += __atomic_load_n(&bal_wsrv(g->bal, w, pool, srv)->active, __ATOMIC_RELAXED);
	return n;
}

static void
server_metrics(struct abuf *b, const struct admin_src *src, const struct generation *g,
	       struct ctr_server *s)
{
	const struct config *cfg = g->cfg;
	int np = cfg->npools < CTR_POOLS ? cfg->npools : CTR_POOLS;
	uint64_t now = bal_now_ms();

	SUM(src, s, s);
	SRV(bal_srv_up(&g->bal->pools[i], (struct bal_srv *)sv, now) ? 1 : 0, "status", "gauge",
	    "1 if the server is up (health checks and passive failures), 0 if down.");
	SRV(sv->backup ? 1 : 0, "backup", "gauge", "1 for a backup server.");
	SRV(metrics_srv_active(src, g, i, j), "current_sessions", "gauge",
	    "Requests in progress on this server.");
	SRV(s[x].idle_in - s[x].idle_out, "idle_connections_current", "gauge",
	    "Keep-alive backend connections idle in the pool.");
	SRV(s[x].requests, "sessions_total", "counter", "Requests sent to this server.");
	SRV(s[x].conn_errors, "connection_errors_total", "counter",
	    "Connect, TLS handshake or send failures.");
	SRV(s[x].reuses, "connection_reuses_total", "counter",
	    "Requests sent on an already open connection.");
	SRV(atomic_load_explicit(&sv->h.probe_fails, memory_order_relaxed), "check_failures_total",
	    "counter", "Failed active health checks.");
}

/* The pools' queues and connect retries (core/proxy/queue.c): per-worker struct
 * bal_pool_stats of this generation, written by their worker, summed with relaxed loads. */
#define QSUM(field) ({ \
	uint64_t _n = 0; \
	for (int w = 0; w < src->nw && w < g->bal->nworkers; w++) \
		_n += __atomic_load_n(&bal_wpool(g->bal, w, i)->st.field, __ATOMIC_RELAXED); \
	_n; \
})

static void
queue_metrics(struct abuf *b, const struct admin_src *src, const struct generation *g)
{
	const struct config *cfg = g->cfg;
	int np = cfg->npools < g->bal->npools ? cfg->npools : g->bal->npools;

	BACK(QSUM(queue_len), "current_queue", "gauge",
	     "Requests waiting in the pool's queue for a connection (max_conns) now.");
	BACK(QSUM(queue_max), "max_queue", "gauge",
	     "Longest queue seen by any worker (sum over workers).");
	BACK(QSUM(queued), "queued_total", "counter", "Requests that waited in the queue.");
	BACK(QSUM(queue_full), "queue_full_total", "counter",
	     "Requests answered 503 because the queue was full (max_queue).");
	BACK(QSUM(queue_timeout), "queue_timeouts_total", "counter",
	     "Requests answered 503 after waiting queue_timeout.");
	head(b, "backend_queue_time_seconds_total", "counter", "Time requests spent queued.");
	for (int i = 0; i < np; i++) {
		abuf_puts(b, "ringedge_backend_queue_time_seconds_total{proxy=\"");
		label(b, cfg->pools[i].name);
		abuf_printf(b, "\"} %.3f\n", (double)QSUM(queued_ms) / 1000);
	}
	BACK(QSUM(retries), "retries_total", "counter",
	     "Retries after every server of the pool was tried (after a backoff).");
	BACK(QSUM(congested), "congested_retries_total", "counter",
	     "Of retries_total: after a connect_timeout under congestion (free of retries).");
	BACK(QSUM(redispatches), "redispatch_total", "counter",
	     "Retries on the next untried server or on a fresh connection.");
}

/* The auth guard: attempts by route and kind (routes with auth_guard on or log_only), requests
 * refused for their auth scheme by route (routes that restrict auth_schemes), locks taken and
 * held by scope. The per-route counters are the workers'; the held locks are read from the
 * guard's table (one shard lock at a time, admin thread). */
static void
guard_metrics(struct abuf *b, const struct admin_src *src, const struct config *cfg)
{
	static const char *const kinds[CTR_KINDS] = { "", "ntlm", "basic", "oauthtoken",
						      "webticket" };
	static const char *const scopes[CTR_SCOPES] = { "user", "address", "user_address" };
	static const struct { const char *nm, *help; size_t off; } m[] = {
		{ "auth_guard_attempts_total", "Password attempts seen (forwarded or answered "
		  "by ringedge).", offsetof(struct ctr_guard, attempts) },
		{ "auth_guard_failures_total", "Forwarded attempts the backend failed.",
		  offsetof(struct ctr_guard, failures) },
		{ "auth_guard_local_answers_total", "Attempts answered by ringedge (user or "
		  "address locked, repeated password).", offsetof(struct ctr_guard, local) },
		{ "auth_guard_would_block_total", "log_only: attempts `on` would have answered "
		  "locally.", offsetof(struct ctr_guard, would) },
	};
	static _Thread_local struct ctr_route r[CTR_ROUTES];
	uint64_t locks[CTR_SCOPES], held[CTR_SCOPES] = { 0 };
	int nr = cfg->nroutes < CTR_ROUTES ? cfg->nroutes : CTR_ROUTES;

	SUM(src, r, r);
	SUM(src, guard_locks, locks);
	for (size_t q = 0; q < sizeof(m) / sizeof(m[0]); q++) {
		head(b, m[q].nm, "counter", m[q].help);
		for (int i = 0; i < nr; i++)
			for (int k = 1; k < CTR_KINDS && cfg->routes[i].auth_guard != CFG_GUARD_OFF;
			     k++) {
				abuf_printf(b, "ringedge_%s{route=\"", m[q].nm);
				label(b, cfg->routes[i].name);
				abuf_printf(b, "\",kind=\"%s\"} %llu\n", kinds[k], (unsigned long long)
					    *(const uint64_t *)((const char *)&r[i].g[k] + m[q].off));
			}
	}
	/* auth_schemes applies with the guard off too: every route that restricts it */
	head(b, "auth_scheme_refused_total", "counter", "Requests answered 401 because their "
	     "Authorization scheme is not in the route's auth_schemes.");
	for (int i = 0; i < nr; i++)
		if (cfg->routes[i].auth_schemes != CFG_AUTH_ANY) {
			abuf_printf(b, "ringedge_auth_scheme_refused_total{route=\"");
			label(b, cfg->routes[i].name);
			abuf_printf(b, "\"} %llu\n", (unsigned long long)r[i].scheme_refused);
		}
	head(b, "auth_guard_locks_total", "counter", "Locks taken, by scope.");
	for (int k = 0; k < CTR_SCOPES; k++)
		abuf_printf(b, "ringedge_auth_guard_locks_total{scope=\"%s\"} %llu\n", scopes[k],
			    (unsigned long long)locks[k]);
	head(b, "auth_guard_active_locks", "gauge", "Locks held now, by scope.");
	guard_hook_locks(held);
	for (int k = 0; k < CTR_SCOPES; k++)
		abuf_printf(b, "ringedge_auth_guard_active_locks{scope=\"%s\"} %llu\n", scopes[k],
			    (unsigned long long)held[k]);
}

/* [acme NAME] certificates: expiry (0 before the first issuance), last success, failures. */
static void
acme_metrics(struct abuf *b)
{
#if RINGEDGE_ACME
	struct acmectl_status st;
	static const struct { const char *nm, *type, *help; } m[] = {
		{ "acme_certificate_expiry_seconds", "gauge",
		  "notAfter of the certificate in service since the epoch (0: none issued yet)." },
		{ "acme_last_success_seconds", "gauge",
		  "Time of the last successful issuance or renewal since the epoch (0: none)." },
		{ "acme_failures", "gauge", "Consecutive failed issuance attempts." },
	};

	if (acmectl_status(0, &st) != 0)
		return;
	for (size_t k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
		head(b, m[k].nm, m[k].type, m[k].help);
		for (int i = 0; acmectl_status(i, &st) == 0; i++) {
			long long v = k == 0 ? (long long)st.not_after :
				      k == 1 ? (long long)st.last_success : (long long)st.failures;

			abuf_printf(b, "ringedge_%s{acme=\"", m[k].nm);
			label(b, st.name);
			abuf_printf(b, "\"} %lld\n", v);
		}
	}
#else
	(void)b;
#endif
}

void
metrics_render(struct abuf *b, const struct admin_src *src, const struct generation *g)
{
	static _Thread_local struct ctr_listener l[CTR_LISTENERS];
	static _Thread_local struct ctr_pool p[CTR_POOLS];
	static _Thread_local struct ctr_server s[CTR_SERVERS];

	process_metrics(b, src);
	frontend_metrics(b, src, g->cfg, l);
	backend_metrics(b, src, g->cfg, p);
	server_metrics(b, src, g, s);
	queue_metrics(b, src, g);
	guard_metrics(b, src, g->cfg);
	acme_metrics(b);
}
