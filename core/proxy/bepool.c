/*
 * Backend connection pools: per (pool, server) keep-alive lists of idle connections, and
 * connections pinned to one client (NTLM/Negotiate). An idle connection keeps a recv armed
 * to see its peer close.
 */
#include "core/proxy/bepool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/admin/counters.h"
#include "core/gen.h"
#include "core/io/conn.h"
#include "core/io/ring.h"
#include "core/proxy/proxy.h"
#include "core/proxy/queue.h"

static struct idle_list *
idle_list_of(struct worker *w, int pool, int srv)
{
	return &w->idle[w->pool_base[pool] + (unsigned)srv];
}

static void
idle_unlink(struct conn *be)
{
	struct idle_list *l = idle_list_of(be->w, be->u.be.pool, be->u.be.srv);

	if (be->u.be.prev != NULL)
		be->u.be.prev->u.be.next = be->u.be.next;
	else
		l->head = be->u.be.next;
	if (be->u.be.next != NULL)
		be->u.be.next->u.be.prev = be->u.be.prev;
	be->u.be.next = be->u.be.prev = NULL;
	l->count--;
	ctr_idle(&be->w->ctr, be->g, be->u.be.pool, be->u.be.srv, false);
}

void
bepool_idle_close(struct conn *be)
{
	idle_unlink(be);
	be->state = BS_CONNECTING;	/* out of the pool */
	conn_close(be);
}

static void
be_idle_on_recv(struct conn *be, int res)
{
	/* the server closed (or sent bytes nobody asked for): the connection is done */
	(void)res;
	bepool_idle_close(be);
}

static void
be_idle_on_timeout(struct conn *be)
{
	bepool_idle_close(be);
}

/* be serves no stream any more: idle, its peer watched by on_recv, its deadline on_timeout. */
static void
be_park(struct conn *be, void (*on_recv)(struct conn *, int), void (*on_timeout)(struct conn *))
{
	be->state = BS_IDLE;
	be->s = NULL;
	be->rpump = be->wpump = NULL;
	be->flags &= (uint8_t)~CF_REUSED;
	be->on_recv = on_recv;
	be->on_timeout = on_timeout;
}

void
bepool_idle_put(struct conn *be)
{
	struct worker *w = be->w;
	const struct cfg_pool *p = &be->g->cfg->pools[be->u.be.pool];
	struct idle_list *l;

	if (be->g != w->gen || w->stopping || p->keepalive == 0 || be->in.len > 0) {
		conn_close(be);
		return;
	}
	l = idle_list_of(w, be->u.be.pool, be->u.be.srv);
	if (l->count >= p->keepalive) {
		conn_close(be);
		return;
	}
	be_park(be, be_idle_on_recv, be_idle_on_timeout);
	be->u.be.prev = NULL;
	be->u.be.next = l->head;
	if (l->head != NULL)
		l->head->u.be.prev = be;
	l->head = be;
	l->count++;
	ctr_idle(&w->ctr, be->g, be->u.be.pool, be->u.be.srv, true);
	conn_timer(be, p->idle_timeout);
	conn_idle(be);
	if (!(be->inflight & IF_RECV) && conn_recv(be, RING_BUF_SIZE) < 0)
		bepool_idle_close(be);
	else
		queue_be_idle(be);
}

/* Pops a pooled connection whose peer is still there, or NULL. */
struct conn *
bepool_idle_take(struct worker *w, int pool, int srv)
{
	struct idle_list *l = idle_list_of(w, pool, srv);

	while (l->head != NULL) {
		struct conn *be = l->head;

		idle_unlink(be);
		/*
		 * Closed-peer check without a syscall: an idle conn keeps a recv armed, and a FIN
		 * or RST completes it. Its completion may already sit in this batch of CQEs not
		 * yet dispatched: look there. (A FIN still in flight is the race every pool has;
		 * GET/HEAD are retried on a fresh connection, see be_retry.)
		 */
		if ((be->inflight & IF_RECV) && be->in.len == 0 &&
		    !ring_cqe_pending(&w->ring, ud_pack(OP_RECV, be->slot, be->gen)))
			return be;
		be->state = BS_CONNECTING;
		conn_close(be);
	}
	return NULL;
}

/*
 * Connection-oriented authentication (NTLM, Negotiate) authenticates the TCP connection, not
 * the request: once a client connection uses it, each of its backend connections is private
 * to it (never in the shared keep-alive pool, never used by another client, closed with it),
 * and its next requests to the same pool go to that same backend connection.
 */
void
bepool_pin_close(struct conn *be)
{
	struct conn *c = be->u.be.owner;

	if (c != NULL && c->u.cli.pinned == be)
		c->u.cli.pinned = NULL;
	be->u.be.owner = NULL;
	be->state = BS_CONNECTING;	/* in no list */
	conn_close(be);
}

static void
be_pin_on_recv(struct conn *be, int res)
{
	/* the server closed (or sent bytes nobody asked for): the authentication is gone */
	(void)res;
	bepool_pin_close(be);
}

static void
be_pin_on_timeout(struct conn *be)
{
	bepool_pin_close(be);
}

/* Keeps be, whose exchange for client c just ended, private to c. */
void
bepool_pin_put(struct conn *c, struct conn *be)
{
	struct conn *old = c->u.cli.pinned;

	if (old != NULL && old != be)
		bepool_pin_close(old);
	c->u.cli.pinned = be;
	be->u.be.owner = c;
	if (!(be->flags & CF_PINNED))
		ctr_pinned(&be->w->ctr, be->u.be.pool, true);
	be->flags |= CF_PINNED;
	if (be->w->stopping || be->in.len > 0 || be->g != c->g) {
		bepool_pin_close(be);
		return;
	}
	be_park(be, be_pin_on_recv, be_pin_on_timeout);
	be->u.be.next = be->u.be.prev = NULL;
	conn_timer(be, be->g->cfg->pools[be->u.be.pool].idle_timeout);
	if (!(be->inflight & IF_RECV) && conn_recv(be, RING_BUF_SIZE) < 0)
		bepool_pin_close(be);
}

/*
 * The client moved to generation g (a reload): its pinned backend follows when g still has
 * its pool (by name) and server (by host:port), else it is closed.
 */
void
bepool_pin_regen(struct conn *c, struct generation *g)
{
	struct conn *be = c->u.cli.pinned;
	const struct cfg_pool *op;
	const struct cfg_server *os;

	if (be == NULL || be->g == g)
		return;
	op = &be->g->cfg->pools[be->u.be.pool];
	os = &op->servers[be->u.be.srv];
	for (int p = 0; p < g->cfg->npools; p++) {
		const struct cfg_pool *np = &g->cfg->pools[p];

		if (strcmp(np->name, op->name) != 0)
			continue;
		for (int i = 0; i < np->nservers; i++) {
			if (np->servers[i].port != os->port ||
			    strcmp(np->servers[i].host, os->host) != 0)
				continue;
			/* a pool switched to or from TLS: this connection no longer fits it (a
			 * TLS one keeps its context through be->xg otherwise) */
			if (np->tls != (be->xg != NULL))
				break;
			gen_put(be->g);
			be->g = gen_get(g);
			be->u.be.pool = (int16_t)p;
			be->u.be.srv = (int16_t)i;
			return;
		}
		break;
	}
	bepool_pin_close(be);
}

/*
 * The client's pinned backend (NTLM/Negotiate) when it serves this request's pool and is
 * still connected, else NULL (a dead one is closed: the next connection gets pinned).
 */
struct conn *
bepool_pin_take(struct conn *c)
{
	struct conn *be = c->u.cli.pinned;

	if (be == NULL || be->g != c->g || be->u.be.pool != c->s->pool ||
	    (be->flags & CF_CLOSING))
		return NULL;
	/* the closed-peer check of bepool_idle_take: the armed recv, or its pending completion */
	if ((be->inflight & IF_RECV) && be->in.len == 0 &&
	    !ring_cqe_pending(&c->w->ring, ud_pack(OP_RECV, be->slot, be->gen)))
		return be;
	bepool_pin_close(be);
	return NULL;
}

int
proxy_worker_gen(struct worker *w, struct generation *g)
{
	unsigned total = 0, *base;
	struct idle_list *idle;

	bepool_close_all(w);
	base = calloc((size_t)g->cfg->npools + 1, sizeof(*base));
	for (int p = 0; p < g->cfg->npools; p++) {
		if (base != NULL)
			base[p] = total;
		total += (unsigned)g->cfg->pools[p].nservers;
	}
	idle = calloc(total + 1, sizeof(*idle));
	if (base == NULL || idle == NULL) {
		free(base);
		free(idle);
		return -ENOMEM;
	}
	free(w->pool_base);
	free(w->idle);
	w->pool_base = base;
	w->idle = idle;
	w->npools = g->cfg->npools;
	return 0;
}

void
bepool_close_all(struct worker *w)
{
	for (int p = 0; w->idle != NULL && p < w->npools; p++) {
		const struct cfg_pool *cp = &w->gen->cfg->pools[p];

		for (int s = 0; s < cp->nservers; s++)
			while (idle_list_of(w, p, s)->head != NULL)
				bepool_idle_close(idle_list_of(w, p, s)->head);
	}
}
