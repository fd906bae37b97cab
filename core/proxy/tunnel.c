/* Tunnels after 101: two PM_CLOSE pumps; the first direction to end ends both. */
#include "core/proxy/tunnel.h"

#include "core/io/conn.h"
#include "core/lib/log.h"
#include "core/proxy/pump.h"
#include "core/proxy/stream.h"
#include "core/worker-t.h"

static void
tunnel_done(struct pump *p, int err)
{
	struct conn *c = p->src->role == CONN_CLIENT ? p->src : p->dst;
	struct stream *s = c->s;

	(void)err;
	if (!s->req.active && !s->resp.active)
		return;		/* already ended */
	/* one direction ended: the tunnel ends (half-close is not kept) */
	p->active = false;
	stream_log(c);
	s->req.active = s->resp.active = false;
	if (s->be != NULL)
		conn_close(s->be);
	conn_close(c);
}

static void
tunnel_on_timeout(struct conn *x)
{
	struct conn *c = x->role == CONN_CLIENT ? x : stream_cli(x->s);

	log_info("tunnel idle_timeout");
	stream_log(c);
	c->s->req.active = c->s->resp.active = false;
	if (c->s->be != NULL)
		conn_close(c->s->be);
	conn_close(c);
}

void
tunnel_start(struct conn *c)
{
	struct stream *s = c->s;
	struct conn *be = s->be;
	uint64_t idle = cli_listener(c)->idle_timeout;

	s->flags |= SF_REQ_DONE;
	c->on_timeout = be->on_timeout = tunnel_on_timeout;
	conn_timer(c, idle);
	conn_timer(be, idle);
	pump_start(&s->req, c, be, PM_CLOSE, 0, tunnel_done);
	pump_start(&s->resp, be, c, PM_CLOSE, 0, tunnel_done);
	/* plaintext tunnels splice both ways: each pump polls POLLIN on its source and POLLOUT
	 * on its destination, so a conn waits on at most one poll of each kind */
	s->req.splicing = s->resp.splicing = c->w->sh->use_splice &&
		c->xprt.ops->splice_ok && be->xprt.ops->splice_ok;
	pump_advance(&s->req);
	pump_advance(&s->resp);
}
