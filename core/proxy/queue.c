/*
 * Backend protection (docs/pools.md "Backend protection"):
 * - max_conns: each worker keeps at most its share (bal_conn_share) of connections to each
 *   server, idle ones included; a request whose server (or, when it is not pinned by
 *   source_hash or an MS-WSMAN cookie, every up server) is at its share waits in the pool's
 *   FIFO (struct bal_wpool, per worker), at most max_queue long and queue_timeout long: then
 *   503 + Retry-After. A connection that is freed or goes idle wakes the first waiter that may
 *   use its server; the waiter re-runs the pick from a 1 ms timer (never inside the freeing
 *   code). NTLM-pinned connections never reach the keep-alive pool, so they are never handed
 *   to a waiter.
 * - retries: a failed attempt goes to the next untried server (redispatch); once every server
 *   was tried, up to `retries` more rounds after a backoff (50 ms doubling, at most 1 s), the
 *   tried set cleared; a fresh connection closed before any response byte is retried for
 *   GET/HEAD without a body only. A connect_timeout while this worker completed other
 *   connects to the same server (during the attempt or the connect_timeout before it:
 *   queue_connect_congested) is congestion, not a dead server:
 *   its round costs nothing of `retries` and waits 50 ms, as long as the request has waited
 *   less than queue_timeout for a backend. Every retry made is counted once
 *   (queue_count_retry): in the access log's retries and in retries or redispatches.
 * Counters for metrics: bal_wpool(set, worker, pool)->st (routing/pool/balance-t.h).
 */
#include "core/proxy/queue.h"

#include <stdio.h>

#include "core/gen.h"
#include "core/io/conn.h"
#include "core/lib/log.h"
#include "core/proxy/proxy.h"
#include "core/proxy/stream.h"
#include "routing/pool/balance.h"

#define QUEUE_BACKOFF_MS	50
#define QUEUE_BACKOFF_MAX_MS	1000

static struct bal_wpool *
wpool_of(const struct conn *c, int pool)
{
	return bal_wpool(c->g->bal, c->w->id, pool);
}

static uint32_t
share_of(const struct conn *c, int pool)
{
	return bal_conn_share(c->g->cfg->pools[pool].max_conns, c->g->bal->nworkers, c->w->id);
}

/* Has server srv of pool room on this worker: an idle connection, or conns < share? */
static bool
srv_room(const struct conn *c, int pool, int srv, uint32_t share)
{
	const struct worker *w = c->w;

	if (c->g == w->gen && w->idle[w->pool_base[pool] + (unsigned)srv].count > 0)
		return true;
	return bal_wsrv(c->g->bal, w->id, pool, srv)->conns < share;
}

/* The server this request may only use (source_hash, MS-WSMAN cookie), or -1: any. */
static int
pinned_srv(const struct conn *c, int srv)
{
	const struct stream *s = c->s;
	int bal = c->g->cfg->pools[s->pool].balance;

	if (bal == CFG_BALANCE_SOURCE_HASH && s->key.addr_len > 0)
		return srv;
	if (bal == CFG_BALANCE_COOKIE && s->key.cookie_srv >= 0)
		return srv;
	return -1;
}

static void
queue_unlink(struct conn *c)
{
	struct stream *s = c->s;
	struct bal_wpool *q = wpool_of(c, s->pool);

	if (s->qprev != NULL)
		s->qprev->s->qnext = s->qnext;
	else
		q->head = s->qnext;
	if (s->qnext != NULL)
		s->qnext->s->qprev = s->qprev;
	else
		q->tail = s->qprev;
	s->qnext = s->qprev = NULL;
	s->queued = false;
	q->st.queue_len--;
	s->q_ms += (uint32_t)(c->w->now - s->t_queued);
	q->st.queued_ms += c->w->now - s->t_queued;
}

void
queue_leave(struct conn *c)
{
	if (c->s->queued)
		queue_unlink(c);
}

static void
queue_answer_503(struct conn *c, const char *why)
{
	const struct cfg_pool *p = &c->g->cfg->pools[c->s->pool];
	uint64_t ra = p->queue_timeout / 1000;
	char extra[48];

	log_info("pool %s: 503 for a request: %s (max_conns %llu, max_queue %llu)", p->name, why,
		 (unsigned long long)p->max_conns, (unsigned long long)p->max_queue);
	snprintf(extra, sizeof(extra), "Retry-After: %llu\r\n",
		 (unsigned long long)(ra < 1 ? 1 : ra > 30 ? 30 : ra));
	stream_abort_x(c, 503, why, extra);
}

static void
queue_on_timeout(struct conn *c)
{
	queue_leave(c);
	wpool_of(c, c->s->pool)->st.queue_timeout++;
	queue_answer_503(c, "queue_timeout waiting for a backend connection");
}

static void
queue_on_wake(struct conn *c)
{
	stream_backend_failed(c);	/* nothing attached: the pick runs again */
}

static void
queue_enqueue(struct conn *c, int want, bool at_head)
{
	struct stream *s = c->s;
	struct bal_wpool *q = wpool_of(c, s->pool);

	s->q_srv = (int16_t)want;
	s->queued = true;
	s->t_queued = c->w->now;
	if (at_head) {
		s->qprev = NULL;
		s->qnext = q->head;
		if (q->head != NULL)
			q->head->s->qprev = c;
		else
			q->tail = c;
		q->head = c;
	} else {
		s->qnext = NULL;
		s->qprev = q->tail;
		if (q->tail != NULL)
			q->tail->s->qnext = c;
		else
			q->head = c;
		q->tail = c;
		q->st.queued++;
		s->q_len = q->st.queue_len + 1;
		conn_timer(c, c->g->cfg->pools[s->pool].queue_timeout);
		c->on_timeout = queue_on_timeout;
	}
	if (++q->st.queue_len > q->st.queue_max)
		q->st.queue_max = q->st.queue_len;
}

int
queue_admit(struct conn *c, int *srv)
{
	struct stream *s = c->s;
	const struct bal_pool *bp;
	uint32_t share;
	int want;

	if (RE_LIKELY(c->g->cfg->pools[s->pool].max_conns == 0))
		return 0;
	share = share_of(c, s->pool);
	if (srv_room(c, s->pool, *srv, share))
		goto go;
	want = pinned_srv(c, *srv);
	bp = &c->g->bal->pools[s->pool];
	for (int i = 0; want < 0 && i < bp->nsrv; i++)
		if (!(s->tried & (1ULL << (i & 63))) && bal_srv_up(bp, &bp->srv[i], c->w->now) &&
		    srv_room(c, s->pool, i, share)) {
			*srv = i;
			goto go;
		}
	if (s->q_woken) {
		queue_enqueue(c, want, true);	/* woken but beaten to it: keeps its place */
		return 1;
	}
	if (wpool_of(c, s->pool)->st.queue_len >= c->g->cfg->pools[s->pool].max_queue) {
		wpool_of(c, s->pool)->st.queue_full++;
		queue_answer_503(c, "queue full waiting for a backend connection");
		return 1;
	}
	queue_enqueue(c, want, false);
	return 1;
go:
	if (s->q_woken)
		wpool_of(c, s->pool)->st.dequeued++;
	s->q_woken = false;
	return 0;
}

/* Wakes the first request of (g, pool) queued on w that may use srv. */
static void
queue_wake(struct worker *w, struct generation *g, int pool, int srv)
{
	struct conn *c;

	if (g->bal == NULL || pool < 0 || pool >= g->bal->npools)
		return;
	for (c = bal_wpool(g->bal, w->id, pool)->head; c != NULL; c = c->s->qnext) {
		if (c->g != g || (c->s->q_srv >= 0 && c->s->q_srv != srv))
			continue;
		queue_unlink(c);
		c->s->q_woken = true;
		conn_timer(c, 1);
		c->on_timeout = queue_on_wake;
		return;
	}
}

void
queue_be_opened(struct conn *be)
{
	if (be->g->cfg->pools[be->u.be.pool].max_conns != 0)
		bal_wsrv(be->g->bal, be->w->id, be->u.be.pool, be->u.be.srv)->conns++;
}

void
queue_be_freed(struct conn *be)
{
	struct generation *g = be->g;
	struct bal_wsrv *ws;

	if (g == NULL || be->u.be.pool < 0 || be->u.be.pool >= g->cfg->npools ||
	    g->cfg->pools[be->u.be.pool].max_conns == 0 ||
	    be->u.be.srv >= g->cfg->pools[be->u.be.pool].nservers)
		return;
	ws = bal_wsrv(g->bal, be->w->id, be->u.be.pool, be->u.be.srv);
	if (ws->conns > 0)
		ws->conns--;
	queue_wake(be->w, g, be->u.be.pool, be->u.be.srv);
}

void
queue_be_idle(struct conn *be)
{
	if (be->g->cfg->pools[be->u.be.pool].max_conns != 0)
		queue_wake(be->w, be->g, be->u.be.pool, be->u.be.srv);
}

static void
queue_on_backoff(struct conn *c)
{
	stream_backend_failed(c);
}

void
queue_be_connected(struct conn *be)
{
	if (be->g->bal != NULL)
		bal_wsrv(be->g->bal, be->w->id, be->u.be.pool, be->u.be.srv)->t_connected =
			be->w->now;
}

bool
queue_connect_congested(const struct conn *be)
{
	const struct cfg_pool *p = &be->g->cfg->pools[be->u.be.pool];
	uint64_t t;

	/* be->xg is set once be's own TCP connect completed: a TLS handshake timed out */
	if (be->g->bal == NULL || be->xg != NULL)
		return false;
	t = bal_wsrv(be->g->bal, be->w->id, be->u.be.pool, be->u.be.srv)->t_connected;
	/* this attempt, or the connect_timeout before it: a retried herd's SYNs all go out
	 * together, fill the backlog at once and the rest wait a whole connect_timeout */
	return t != 0 && t + 2 * p->connect_timeout > be->w->now;
}

void
queue_count_retry(struct conn *c, bool redispatch)
{
	struct stream *s = c->s;
	struct bal_pool_stats *st = &wpool_of(c, s->pool)->st;

	s->be_failed = false;
	if (s->retries < UINT8_MAX)
		s->retries++;
	if (redispatch)
		st->redispatches++;
	else
		st->retries++;
}

bool
queue_retry_later(struct conn *c)
{
	struct stream *s = c->s;
	const struct cfg_pool *p = &c->g->cfg->pools[s->pool];
	bool congested = s->congested && c->w->now - s->t_be < p->queue_timeout;
	uint64_t ms = QUEUE_BACKOFF_MS;

	if (!congested && s->spent >= p->retries)
		return false;
	if (congested) {
		wpool_of(c, s->pool)->st.congested++;
	} else {
		ms <<= s->spent < 5 ? s->spent : 5;
		s->spent++;
	}
	s->congested = false;
	queue_count_retry(c, false);
	s->tried = 0;
	conn_timer(c, ms < QUEUE_BACKOFF_MAX_MS ? ms : QUEUE_BACKOFF_MAX_MS);
	c->on_timeout = queue_on_backoff;
	return true;
}

bool
queue_may_resend(const struct conn *c)
{
	const struct stream *s = c->s;

	return (s->flags & SF_IDEMPOTENT) && !(s->flags & SF_RESP_BYTE) &&
	       s->spent < c->g->cfg->pools[s->pool].retries;
}
