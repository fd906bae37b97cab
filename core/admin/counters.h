/*
 * Counting on the request path (see counters-t.h). Every helper runs on the worker that owns
 * the counters and does plain increments; each is a few instructions, called at an event the
 * stream already handles (accept, request head, end of request, backend pick and failure,
 * client close).
 */
#ifndef RINGEDGE_CORE_ADMIN_COUNTERS_H
#define RINGEDGE_CORE_ADMIN_COUNTERS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/admin/counters-t.h"
#include "core/gen-t.h"
#include "core/io/conn-t.h"
#include "core/lib/xprt-t.h"
#include "tls/tls.h"

static inline struct ctr_listener *
ctr_l(struct wcounters *w, unsigned lidx)
{
	return lidx < CTR_LISTENERS ? &w->l[lidx] : NULL;
}

static inline struct ctr_server *
ctr_s(struct wcounters *w, const struct generation *g, int pool, int srv)
{
	unsigned i;

	if (pool < 0 || srv < 0)
		return NULL;
	i = g->srv_base[pool] + (unsigned)srv;
	return i < CTR_SERVERS ? &w->s[i] : NULL;
}

static inline unsigned
ctr_class(unsigned status)
{
	return status >= 100 && status < 600 ? status / 100 : 0;
}

/* A client connection was accepted on listener lidx. */
static inline void
ctr_accept(struct wcounters *w, unsigned lidx)
{
	struct ctr_listener *l = ctr_l(w, lidx);

	if (l != NULL)
		l->conns_opened++;
}

/* A client connection was refused by a policy (client_max_connections, a PROXY protocol
 * peer or header refused): denied_connections_total. */
static inline void
ctr_denied(struct wcounters *w, unsigned lidx)
{
	struct ctr_listener *l = ctr_l(w, lidx);

	if (l != NULL)
		l->denied++;
}

/* A client connection refused over client_max_connections (also counted by ctr_denied). */
static inline void
ctr_limit_conn(struct wcounters *w, unsigned lidx)
{
	struct ctr_listener *l = ctr_l(w, lidx);

	if (l != NULL)
		l->limit_conns++;
}

/* A request answered 429 over client_request_rate. */
static inline void
ctr_limit_req(struct wcounters *w, unsigned lidx)
{
	struct ctr_listener *l = ctr_l(w, lidx);

	if (l != NULL)
		l->limit_reqs++;
}

/* The auth guard counters of route ridx, kind (enum cred_kind); NULL past the limits. */
static inline struct ctr_guard *
ctr_guard(struct wcounters *w, long ridx, int kind)
{
	if (ridx < 0 || ridx >= CTR_ROUTES || kind <= 0 || kind >= CTR_KINDS)
		return NULL;
	return &w->r[ridx].g[kind];
}

/* A request of route ridx answered 401: its Authorization scheme is not in auth_schemes. */
static inline void
ctr_scheme_refused(struct wcounters *w, long ridx)
{
	if (ridx >= 0 && ridx < CTR_ROUTES)
		w->r[ridx].scheme_refused++;
}

/* A client connection's slot is freed. */
static inline void
ctr_client_closed(struct wcounters *w, unsigned lidx)
{
	struct ctr_listener *l = ctr_l(w, lidx);

	if (l != NULL)
		l->conns_closed++;
}

/* A TLS handshake on a client connection failed or was abandoned. */
static inline void
ctr_tls_failed(struct wcounters *w, unsigned lidx)
{
	struct ctr_listener *l = ctr_l(w, lidx);

	if (l != NULL)
		l->tls_failed++;
}

/* A complete request head of head_len bytes on client c (nreq already counts it): the first
 * one on a TLS connection also counts its handshake. */
static inline void
ctr_request_head(struct wcounters *w, const struct conn *c, uint32_t head_len)
{
	struct ctr_listener *l = ctr_l(w, c->u.cli.lidx);

	if (l == NULL)
		return;
	l->requests++;
	l->bytes_in += head_len;
	if (c->u.cli.nreq == 1 && xprt_queued(&c->xprt)) {
		if (tls_conn_resumed(c->xprt.ctx))
			l->tls_resumed++;
		else
			l->tls_full++;
	}
}

/* The end of a request on client c (where the access log line is written). */
static inline void
ctr_request_end(struct wcounters *w, const struct conn *c)
{
	static const uint64_t bounds[CTR_BUCKETS - 1] = CTR_BUCKET_MS;
	const struct stream *s = &c->u.cli.st;
	struct ctr_listener *l = ctr_l(w, c->u.cli.lidx);
	unsigned cl = ctr_class(s->status);
	struct ctr_server *sv;
	struct ctr_pool *p;

	if (l == NULL)
		return;
	l->responses[cl]++;
	l->bytes_in += s->req.bytes;
	l->bytes_out += s->bytes_out;
	if (s->pool < 0 && cl == 4)
		l->req_errors++;
	if (s->pool < 0 || s->pool >= CTR_POOLS)
		return;
	p = &w->p[s->pool];
	p->responses[cl]++;
	p->bytes_out += s->bytes_out;
	if (s->t_be_end != 0) {
		uint64_t ms = s->t_be_end - s->t_be;
		unsigned b = 0;

		while (b < CTR_BUCKETS - 1 && ms > bounds[b])
			b++;
		p->lat_bucket[b]++;
		p->lat_sum_ms += ms;
		p->lat_count++;
	}
	if ((sv = ctr_s(w, c->g, s->pool, s->srv)) != NULL)
		sv->requests++;
}

/* A backend connection to (pool, srv) failed (connect, TLS handshake, send). */
static inline void
ctr_conn_error(struct wcounters *w, const struct generation *g, int pool, int srv)
{
	struct ctr_server *sv = ctr_s(w, g, pool, srv);

	if (sv != NULL)
		sv->conn_errors++;
}

/* A request goes out on an already open connection: pooled, or pinned to its client. */
static inline void
ctr_reuse(struct wcounters *w, const struct generation *g, int pool, int srv, bool pinned)
{
	struct ctr_server *sv = ctr_s(w, g, pool, srv);

	if (sv != NULL)
		sv->reuses++;
	if (pinned && pool >= 0 && pool < CTR_POOLS)
		w->p[pool].pinned_requests++;
}

/* A backend connection entered (in = true) or left the keep-alive pool of (pool, srv). */
static inline void
ctr_idle(struct wcounters *w, const struct generation *g, int pool, int srv, bool in)
{
	struct ctr_server *sv = ctr_s(w, g, pool, srv);

	if (sv == NULL)
		return;
	if (in)
		sv->idle_in++;
	else
		sv->idle_out++;
}

/* A backend connection of pool became pinned to a client (opened = true) or a pinned one
 * went away. */
static inline void
ctr_pinned(struct wcounters *w, int pool, bool opened)
{
	if (pool < 0 || pool >= CTR_POOLS)
		return;
	if (opened)
		w->p[pool].pinned_opened++;
	else
		w->p[pool].pinned_closed++;
}

#endif
