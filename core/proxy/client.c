/*
 * The client side: idle between requests, the request head (header_timeout, parse errors),
 * our own short responses and redirects, the wait for the response, linger after the last
 * response. Events go to the stream (stream.h); nothing here touches a backend.
 */
#include "core/proxy/client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/admin/counters.h"
#include "core/gen.h"
#include "core/http/h1.h"
#include "core/http/msg.h"
#include "core/io/conn.h"
#include "core/io/ring.h"
#include "core/io/xprt.h"
#include "core/lib/log.h"
#include "core/proxy/accesslog.h"
#include "core/proxy/clientaddr.h"
#include "core/proxy/limits.h"
#include "core/proxy/proxy.h"
#include "core/proxy/stream.h"
#include "tls/xprt_tls.h"

#define LINGER_MS	2000

static void cli_head_input(struct conn *c);
static void cli_on_stream_timeout(struct conn *c);
static void cli_on_header_timeout(struct conn *c);

static void
linger_on_recv(struct conn *c, int res)
{
	if (res <= 0) {
		conn_close(c);
		return;
	}
	conn_consume(c, c->in.len);
	if (conn_recv(c, RING_BUF_SIZE) < 0)
		conn_close(c);
}

static void
linger_on_timeout(struct conn *c)
{
	conn_close(c);
}

/* The last response is out: shut our side, read and drop until the peer closes (so unread
 * input does not turn our close into a RST that destroys the response). */
void
cli_linger(struct conn *c)
{
	c->state = CS_LINGER;
	c->on_recv = linger_on_recv;
	c->on_timeout = linger_on_timeout;
	c->rpump = c->wpump = NULL;
	conn_shutdown_write(c);
	conn_timer(c, LINGER_MS);
	if (c->in.len > 0)
		conn_consume(c, c->in.len);
	if (!(c->inflight & IF_RECV) && conn_recv(c, RING_BUF_SIZE) < 0)
		conn_close(c);
}

static void
cli_on_simple_sent(struct conn *c, int res)
{
	struct stream *s = c->s;

	s->bytes_out += res > 0 ? (uint64_t)res : 0;
	stream_log(c);
	if (res < 0 || !(s->flags & SF_CLI_KA) || s->be != NULL) {
		/* a closing backend still attached keeps the stream (its buffers) alive */
		if (s->be == NULL)
			stream_reset(c);
		if (res < 0)
			conn_close(c);
		else
			cli_linger(c);
		return;
	}
	stream_reset(c);
	cli_idle(c, cli_listener(c)->idle_timeout);
}

/*
 * Answers the current request with a short response of our own. keep: the stream is still
 * safe (request fully read) and the client wants keep-alive.
 */
void
cli_respond(struct conn *c, unsigned status, const char *extra, bool keep)
{
	cli_respond_text(c, status, extra, NULL, 0, keep);
}

void
cli_respond_text(struct conn *c, unsigned status, const char *extra, const char *body,
	size_t blen, bool keep)
{
	struct stream *s = c->s;
	size_t cap = msg_simple_cap(extra ? strlen(extra) : 0) + blen;

	if (!keep || c->w->stopping)
		s->flags &= (uint16_t)~SF_CLI_KA;
	s->status = (uint16_t)status;
	free(s->rbuf);
	s->rbuf = malloc(cap);
	if (s->rbuf == NULL) {
		conn_close(c);
		return;
	}
	s->rlen = (uint32_t)msg_build_text(s->rbuf, cap, status, extra, body, blen,
		(s->flags & SF_CLI_KA) != 0, (s->flags & SF_HEAD_REQ) != 0);
	s->flags |= SF_HEAD_SENT;
	c->state = CS_STREAM;
	c->on_send = cli_on_simple_sent;
	conn_timer(c, cli_listener(c)->idle_timeout);
	if (conn_send(c, s->rbuf, s->rlen) < 0)
		conn_close(c);
}

/* Sends a whole response built elsewhere (buf, malloc'ed: the stream owns it from now on). */
void
cli_respond_raw(struct conn *c, unsigned status, char *buf, uint32_t len, bool keep)
{
	struct stream *s = c->s;

	if (!keep || c->w->stopping)
		s->flags &= (uint16_t)~SF_CLI_KA;
	s->status = (uint16_t)status;
	if (s->rbuf != buf)
		free(s->rbuf);
	s->rbuf = buf;
	s->rlen = len;
	s->flags |= SF_HEAD_SENT;
	c->state = CS_STREAM;
	c->on_send = cli_on_simple_sent;
	conn_timer(c, cli_listener(c)->idle_timeout);
	if (conn_send(c, buf, len) < 0)
		conn_close(c);
}

static void
cli_on_idle_timeout(struct conn *c)
{
	conn_close(c);
}

static void
cli_on_header_timeout(struct conn *c)
{
	char addr[64];

	accesslog_peer(c, addr, sizeof(addr));
	if (!conn_established(c))
		log_info("client %s: TLS handshake not completed within header_timeout (%llu ms)",
			 addr, (unsigned long long)(c->w->now - c->s->t_start));
	else
		log_info("client %s: header_timeout: request head incomplete after %llu ms", addr,
			 (unsigned long long)(c->w->now - c->s->t_start));
	if (c->state == CS_IDLE) {
		/* not a byte of a request yet: nothing to answer */
		conn_close(c);
		return;
	}
	free(c->msg);
	c->msg = NULL;
	cli_respond(c, 408, NULL, false);
}

static void
cli_on_recv_head(struct conn *c, int res)
{
	if (res <= 0) {
		if (res == -EPROTO || res == -EKEYREJECTED) {
			/* a failed TLS handshake (or a bad record): costs this connection only */
			char addr[64], why[200];

			if (c->u.cli.nreq == 0)
				ctr_tls_failed(&c->w->ctr, c->u.cli.lidx);
			accesslog_peer(c, addr, sizeof(addr));
			log_info("client %s: TLS: %s", addr, conn_strerror(c, res, why, sizeof(why)));
		} else if (res != -ECANCELED && !(c->flags & CF_CLOSING) &&
			   !conn_established(c)) {
			/* the client went away in the middle of its handshake */
			char addr[64];

			ctr_tls_failed(&c->w->ctr, c->u.cli.lidx);
			accesslog_peer(c, addr, sizeof(addr));
			log_info("client %s: TLS handshake not completed: %s", addr,
				 res == 0 ? "connection closed by the client" : strerror(-res));
		} else if (res < 0 && res != -ECONNRESET && res != -ECANCELED) {
			log_debug("client recv: %s", strerror(-res));
		}
		conn_close(c);
		return;
	}
	cli_head_input(c);
}

void
cli_idle(struct conn *c, uint64_t timeout)
{
	struct worker *w = c->w;

	if (w->stopping && c->in.len == 0) {
		conn_close(c);
		return;
	}
	c->state = CS_IDLE;
	c->on_recv = cli_on_recv_head;
	c->on_timeout = c->u.cli.nreq == 0 ? cli_on_header_timeout : cli_on_idle_timeout;
	c->s->t_start = w->now;
	conn_timer(c, timeout);
	if (c->u.cli.nreq > 0)
		conn_idle(c);	/* keep-alive: the transport gives its buffers back */
	if (c->in.len > 0) {
		/* a pipelined request is already here */
		cli_head_input(c);
		return;
	}
	if (!(c->inflight & IF_RECV) && conn_recv(c, RING_BUF_SIZE) < 0)
		conn_close(c);
}

void
proxy_client_start(struct conn *c, unsigned lidx)
{
	c->u.cli.lidx = (uint16_t)lidx;
	c->g = gen_get(c->w->gen);
	xprt_init_plain(&c->xprt);
	stream_reset(c);
	c->u.cli.tcp_peer = c->u.cli.peer;
	if (c->g->cfg->listeners[lidx].proxy_protocol) {
		cli_pp_start(c);	/* core/proxy/clientaddr.c: then cli_session_start */
		return;
	}
	cli_session_start(c, c->g->cfg->listeners[lidx].header_timeout);
}

void
cli_session_start(struct conn *c, uint64_t header_ms)
{
	unsigned lidx = c->u.cli.lidx;

	if (limits_accept(c, &c->g->cfg->listeners[lidx]) < 0) {
		conn_close(c);
		return;
	}
	if (c->g->tls_srv[lidx] != NULL) {
		/* the handshake runs inside the first request's header_timeout */
		if (xprt_tls_init_server(&c->xprt, c->g->tls_srv[lidx]) < 0) {
			log_error("worker %d: out of memory for a TLS connection", c->w->id);
			conn_close(c);
			return;
		}
		c->xg = gen_get(c->g);	/* the certificates stay while c lives */
		/* bytes read after a PROXY header are the first TLS wire bytes */
		if (c->in.len > 0 && conn_xprt_start(c) < 0) {
			conn_close(c);
			return;
		}
	}
	/* first request: the header deadline runs from accept (idle new connections too) */
	cli_idle(c, header_ms);
}

static void
cli_parse_error(struct conn *c, const struct h1_msg *m)
{
	char addr[64];

	accesslog_peer(c, addr, sizeof(addr));
	log_info("client %s: bad request: %s at byte %u (%u)", addr,
		 m->err_reason ? m->err_reason : "parse error", m->err_off, m->err_status);
	cli_respond(c, m->err_status, NULL, false);
}

void
cli_redirect(struct conn *c, const char *host, size_t hlen, const char *target, size_t tlen,
	bool keep)
{
	char *loc = malloc(hlen + tlen + 32);

	if (loc == NULL) {
		conn_close(c);
		return;
	}
	msg_redirect_location(loc, host, hlen, target, tlen);
	cli_respond(c, 301, loc, keep);
	free(loc);
}

/*
 * While the response is awaited (a long poll may wait 30 min), a recv stays armed on the
 * client so that its FIN or RST ends the exchange and frees the backend at once. Bytes that
 * arrive instead (a pipelined request) stay in c->in for later; no further recv is armed
 * then, so at most one buffer is held. Armed only with nothing buffered (a provided buffer
 * is picked only if bytes come; the malloc fallback holds one buffer meanwhile).
 */
static void
cli_wait_on_recv(struct conn *c, int res)
{
	char addr[64];
	bool head = c->s->flags & SF_HEAD_SENT;

	if (res > 0)
		return;		/* pipelined bytes: kept in c->in */
	if (c->in.len > 0 || c->s->be == NULL) {
		/* a pipelined request, or our own error response in flight: finish it first */
		c->flags |= CF_EOF;
		return;
	}
	accesslog_peer(c, addr, sizeof(addr));
	log_info("client %s: closed the connection %s", addr,
		 head ? "during the response body" : "before the response head (499)");
	/* with the head sent, the access log keeps the status the client got */
	stream_abort(c, ST_CLIENT_CLOSED, "client closed");
}

void
cli_wait_arm(struct conn *c)
{
	if ((c->inflight & IF_RECV) || c->in.len > 0 || (c->flags & (CF_EOF | CF_CLOSING)))
		return;
	c->on_recv = cli_wait_on_recv;
	if (conn_recv(c, RING_BUF_SIZE) < 0)
		c->on_recv = NULL;
}

static void
cli_head_input(struct conn *c)
{
	struct worker *w = c->w;
	struct h1_msg *m = c->msg;
	int rc;

	if (c->state == CS_IDLE) {
		c->state = CS_HEAD;
		c->s->t_start = w->now;
		/* from the first byte; never extended by later reads (slowloris) */
		conn_timer(c, cli_listener(c)->header_timeout);
		c->on_timeout = cli_on_header_timeout;
		/* between requests every conn moves to the newest generation; a TLS conn keeps the
		 * certificate it presented (421 check) alive through its own c->xg */
		if (c->g != w->gen && stream_adopt_gen(c) < 0) {
			conn_close(c);
			return;
		}
	}
	if (m == NULL) {
		m = &w->scratch;
		h1_msg_init(m, 0);
	}
	rc = h1_parse_head(m, c->in.base + c->in.off, c->in.len);
	if (rc < 0) {
		conn_consume(c, c->in.len);
		c->msg = NULL;		/* m stays valid until freed below */
		cli_parse_error(c, m);
		if (m != &w->scratch)
			free(m);
		return;
	}
	if (rc == 0) {
		if (c->msg == NULL) {
			c->msg = malloc(sizeof(*c->msg));
			if (c->msg == NULL) {
				conn_close(c);
				return;
			}
			memcpy(c->msg, m, sizeof(*m));
		}
		if (conn_own_buffer(c, HEAD_BUF) < 0 || conn_recv(c, HEAD_BUF) < 0)
			conn_close(c);
		return;
	}
	stream_on_request_head(c, m, (uint32_t)rc);
	free(c->msg == m ? m : NULL);
	if (c->msg == m)
		c->msg = NULL;
}

static void
cli_on_stream_timeout(struct conn *c)
{
	log_info("client: idle_timeout while proxying");
	stream_abort(c, (c->s->flags & SF_REQ_DONE) ? 0 : 408, "client idle_timeout");
}

bool
cli_waiting(const struct conn *c)
{
	return c->on_recv == cli_wait_on_recv;
}

void
cli_drop_input(struct conn *c)
{
	c->on_recv = linger_on_recv;
}

void
cli_stream_timer(struct conn *c)
{
	conn_timer(c, cli_listener(c)->idle_timeout);
	c->on_timeout = cli_on_stream_timeout;
}

/*
 * A keep-alive connection idle for less than this when the drain starts is left alone (the
 * drain calls again every tick): a busy client's next request is usually already on its way,
 * and gets its answer with Connection: close instead of meeting a close it must retry.
 */
#define DRAIN_IDLE_GRACE_MS	200

void
cli_close_idle(struct worker *w)
{
	for (uint32_t i = 0; i < w->nchunks * CONN_CHUNK; i++) {
		struct conn *c = &w->chunks[i / CONN_CHUNK][i % CONN_CHUNK];

		if (c->fd >= 0 && c->role == CONN_CLIENT && c->state == CS_IDLE &&
		    !(c->flags & CF_CLOSING) && c->in.len == 0 &&
		    w->now - c->s->t_start >= DRAIN_IDLE_GRACE_MS)
			conn_close(c);
	}
}
