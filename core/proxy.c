/*
 * HTTP/1.1 proxying. State machines (docs/internals.md):
 *   client: IDLE -> HEAD -> STREAM -> (IDLE | TUNNEL | LINGER) ; any -> closed
 *   backend: CONNECTING -> REQUEST -> RESPONSE -> (IDLE pool | closed) ; REQUEST -> TUNNEL
 * Bodies move through pumps (one buffer or one pipe in flight per direction: back-pressure).
 */
#include "core/proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/accesslog.h"
#include "routing/pool/balance.h"
#include "core/conn.h"
#include "core/gen.h"
#include "core/http/h1.h"
#include "core/http/msg.h"
#include "core/lib/log.h"
#include "core/pipe.h"
#include "core/ring.h"
#include "core/timer.h"
#include "core/xprt.h"
#include "routing/trie.h"
#include "tls/tls.h"
#include "tls/xprt_tls.h"

#define HEAD_BUF	(H1_MAX_REQLINE + H1_MAX_FIELDS_LEN + 1024)
#define LINGER_MS	2000
#define RESP_COPY_MAX	16384	/* body bytes copied behind a response head (one send) */
/* nginx's "client closed request": the client left before a response head; logged only */
#define ST_CLIENT_CLOSED	499

static void cli_idle(struct conn *c, uint64_t timeout);
static void cli_head_input(struct conn *c);
static void stream_abort(struct conn *c, unsigned status, const char *why);
static void stream_abort_x(struct conn *c, unsigned status, const char *why, const char *extra);
static void stream_check_end(struct conn *c);
static void be_start(struct conn *c);
static void be_on_recv_head(struct conn *be, int res);
static struct tls_sess_slot *be_sess_slot(struct conn *be);
static void pump_advance(struct pump *p);
static void pin_regen(struct conn *c, struct generation *g);

static inline struct conn *
stream_cli(struct stream *s)
{
	return (struct conn *)((char *)s - offsetof(struct conn, u.cli.st));
}

/* least_conn: the request now occupies server srv of its pool (on this worker). */
static void
stream_srv_begin(struct conn *c, int srv)
{
	struct stream *s = c->s;

	bal_req_begin(c->g->bal, c->w->id, s->pool, srv);
	s->active_srv = (int16_t)(srv + 1);
}

/* The request left its server: exactly once per begin, on the same generation's set. */
static void
stream_srv_end(struct conn *c)
{
	struct stream *s = c->s;

	if (s->active_srv == 0)
		return;
	bal_req_end(c->g->bal, c->w->id, s->pool, s->active_srv - 1);
	s->active_srv = 0;
}

static const struct cfg_listener *
cli_listener(const struct conn *c)
{
	return &c->g->cfg->listeners[c->u.cli.lidx];
}

static const struct cfg_pool *
stream_pool(const struct conn *c)
{
	return &c->g->cfg->pools[c->s->pool];
}

/* ---- access log and stream lifecycle ----------------------------------------------- */

static void
stream_log(struct conn *c)
{
	accesslog_request(&c->w->alog, c, c->w->now);
}

static void
stream_reset(struct conn *c)
{
	struct stream *s = c->s;

	stream_srv_end(c);
	free(s->obuf);
	free(s->rbuf);
	memset(s, 0, sizeof(*s));
	s->pool = -1;
	s->srv = -1;
	s->key = (struct bal_key)BAL_KEY_INIT;
	s->req.pipe = s->resp.pipe = -1;
	c->rpump = c->wpump = NULL;
}

/* ---- client: closing ---------------------------------------------------------------- */

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
static void
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

/* ---- client: simple responses (errors, redirects) ----------------------------------- */

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
static void
cli_respond(struct conn *c, unsigned status, const char *extra, bool keep)
{
	struct stream *s = c->s;
	size_t cap = msg_simple_cap(extra ? strlen(extra) : 0);

	if (!keep || c->w->stopping)
		s->flags &= (uint16_t)~SF_CLI_KA;
	s->status = (uint16_t)status;
	free(s->rbuf);
	s->rbuf = malloc(cap);
	if (s->rbuf == NULL) {
		conn_close(c);
		return;
	}
	s->rlen = (uint32_t)msg_build_simple(s->rbuf, cap, status, extra,
		(s->flags & SF_CLI_KA) != 0, (s->flags & SF_HEAD_REQ) != 0);
	s->flags |= SF_HEAD_SENT;
	c->state = CS_STREAM;
	c->on_send = cli_on_simple_sent;
	conn_timer(c, cli_listener(c)->idle_timeout);
	if (conn_send(c, s->rbuf, s->rlen) < 0)
		conn_close(c);
}

/* ---- client: idle and request head -------------------------------------------------- */

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
	if (!xprt_is_plain(&c->xprt) && !tls_conn_established(c->xprt.ctx))
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

			accesslog_peer(c, addr, sizeof(addr));
			log_info("client %s: TLS: %s", addr, conn_strerror(c, res, why, sizeof(why)));
		} else if (res != -ECANCELED && !(c->flags & CF_CLOSING) &&
			   !xprt_is_plain(&c->xprt) && !tls_conn_established(c->xprt.ctx)) {
			/* the client went away in the middle of its handshake */
			char addr[64];

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

static void
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
	if (c->g->tls_srv[lidx] != NULL) {
		/* the handshake runs inside the first request's header_timeout */
		if (xprt_tls_init_server(&c->xprt, c->g->tls_srv[lidx]) < 0) {
			log_error("worker %d: out of memory for a TLS connection", c->w->id);
			conn_close(c);
			return;
		}
		c->xprt.ops = &xprt_tls;
		c->xg = gen_get(c->g);	/* the certificates stay while c lives */
	}
	/* first request: the header deadline runs from accept (idle new connections too) */
	cli_idle(c, c->g->cfg->listeners[lidx].header_timeout);
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

/*
 * Builds the backend request head in s->obuf from the parsed client head (core/http/msg.c).
 */
static int
build_request(struct conn *c, const struct h1_msg *m, const char *buf, bool upgrade,
	bool xff)
{
	struct stream *s = c->s;
	struct msg_req_opts ro = { .upgrade = upgrade, .xff = xff };
	struct msg_req_info info;
	char addr[MSG_PEER_MAX];
	char *ob = malloc(msg_request_cap(m));

	if (ob == NULL)
		return -ENOMEM;
	if (xff) {
		ro.peer = addr;
		ro.peer_len = accesslog_peer(c, addr, sizeof(addr));
		ro.tls = cli_listener(c)->tls;
	}
	s->olen = (uint32_t)msg_build_request(ob, m, buf, &ro, &info);
	s->obuf = ob;
	s->reqline_len = info.reqline_len;
	s->host_off = info.host_off;
	s->host_len = info.host_len;
	return 0;
}

static void
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

static void
cli_wait_arm(struct conn *c)
{
	if ((c->inflight & IF_RECV) || c->in.len > 0 || (c->flags & (CF_EOF | CF_CLOSING)))
		return;
	c->on_recv = cli_wait_on_recv;
	if (conn_recv(c, RING_BUF_SIZE) < 0)
		c->on_recv = NULL;
}

/*
 * What balancing needs from the request head: the client address (source_hash), the
 * MS-WSMAN cookie (cookie pools), and connection-oriented authentication (NTLM/Negotiate:
 * from now on this client's backend connections are private to it).
 */
static void
stream_keys(struct conn *c, const struct h1_msg *m, const char *buf)
{
	struct stream *s = c->s;
	const struct bal_set *bs = c->g->bal;
	bool cookie = bs->pools[s->pool].balance == CFG_BALANCE_COOKIE;

	bal_key_addr(&s->key, (const struct sockaddr *)&c->u.cli.peer);
	for (unsigned i = 0; i < m->nhdr; i++) {
		const struct h1_header *h = &m->hdr[i];

		if (cookie && msg_hdr_is(buf, h, "Cookie", 6))
			bal_key_cookie(bs, s->pool, &s->key, h1_ptr(buf, h->value), h->value.len);
		else if (msg_hdr_is(buf, h, "Authorization", 13) &&
			 msg_auth_scheme(h1_ptr(buf, h->value), h->value.len))
			c->u.cli.auth = true;
	}
}

/* A complete request head at c->in: route it and start proxying. */
static void
cli_request(struct conn *c, const struct h1_msg *m, uint32_t head_len)
{
	struct stream *s = c->s;
	const char *buf = c->in.base + c->in.off;
	const char *host = "", *path = "";
	size_t hlen = 0, plen = 0;
	const struct cfg_route *rt;
	enum h1_body fr;
	bool upgrade;
	uint64_t t0 = s->t_start;

	stream_reset(c);
	s->t_start = t0;
	c->u.cli.nreq++;
	c->state = CS_STREAM;
	if (!(m->flags & H1_MF_VER11))
		s->flags |= SF_VER10;
	if (h1_keepalive(m))
		s->flags |= SF_CLI_KA;
	if (m->method == H1_M_HEAD)
		s->flags |= SF_HEAD_REQ;
	fr = h1_body_framing(m, 0, 0, 0);
	s->req_body = fr == H1_BODY_LENGTH ? PM_LENGTH : fr == H1_BODY_CHUNKED ? PM_CHUNKED : PM_NONE;
	s->req_cl = m->content_length;
	if (s->req_body == PM_LENGTH && s->req_cl == 0)
		s->req_body = PM_NONE;
	if ((m->method == H1_M_GET || m->method == H1_M_HEAD) && s->req_body == PM_NONE)
		s->flags |= SF_IDEMPOTENT;
	upgrade = (m->flags & H1_MF_UPGRADE) && (m->flags & H1_MF_CONN_UPGRADE);
	if (upgrade)
		s->flags |= SF_UPGRADE;

	if (m->target_form == H1_TF_ABSOLUTE) {
		host = h1_ptr(buf, m->abs_host);
		hlen = m->abs_host.len;
		path = m->abs_path.len ? h1_ptr(buf, m->abs_path) : "/";
		plen = m->abs_path.len ? m->abs_path.len : 1;
	} else {
		if (m->host_idx >= 0) {
			host = h1_ptr(buf, m->hdr[m->host_idx].value);
			hlen = m->hdr[m->host_idx].value.len;
		}
		if (m->target_form == H1_TF_ORIGIN) {
			path = h1_ptr(buf, m->target);
			plen = m->target.len;
		}
	}
	if (m->method == H1_M_CONNECT) {
		conn_consume(c, c->in.len);
		cli_respond(c, 501, NULL, false);
		return;
	}
	/* build the outgoing head first: the access log needs its request line and host */
	if (build_request(c, m, buf, upgrade, false) < 0) {
		conn_close(c);
		return;
	}
	if (hlen > 0 && !xprt_is_plain(&c->xprt) && !tls_conn_covers_host(c->xprt.ctx, host, hlen)) {
		/* the certificate chosen by SNI does not cover this host (RFC 9110 15.5.20) */
		bool keep = s->req_body == PM_NONE && !upgrade;

		conn_consume(c, keep ? head_len : c->in.len);
		cli_respond(c, 421, NULL, keep);
		return;
	}
	rt = trie_lookup(c->g->tries[c->u.cli.lidx], host, hlen, path, plen);
	if (rt == NULL || rt->kind == CFG_ROUTE_REDIRECT_HTTPS) {
		/* answered here: a request body we would have to drain closes the connection */
		bool keep = s->req_body == PM_NONE && !upgrade;

		if (keep)
			conn_consume(c, head_len);
		else
			conn_consume(c, c->in.len);
		if (rt == NULL)
			cli_respond(c, 404, NULL, keep);
		else
			cli_redirect(c, host, hlen, path, plen, keep);
		return;
	}
	s->pool = (int16_t)rt->pool;
	stream_keys(c, m, buf);
	if (c->g->cfg->pools[rt->pool].forwarded_for) {
		free(s->obuf);
		s->obuf = NULL;
		if (build_request(c, m, buf, upgrade, true) < 0) {
			conn_close(c);
			return;
		}
	}
	if (s->flags & SF_VER10)
		;	/* HTTP/1.0 upstream defaults to close: no backend keep-alive */
	else
		s->flags |= SF_BE_KA;
	conn_consume(c, head_len);
	conn_timer(c, 0);
	be_start(c);
	/* a request body is read by its pump; otherwise watch for the client going away */
	if (s->req_body == PM_NONE && c->state == CS_STREAM && !(c->flags & CF_CLOSING) &&
	    s->be != NULL)
		cli_wait_arm(c);
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
		if (c->g != w->gen) {
			stream_srv_end(c);
			pin_regen(c, w->gen);
			gen_put(c->g);
			c->g = gen_get(w->gen);
			if (c->u.cli.lidx >= c->g->cfg->nlisteners) {
				conn_close(c);
				return;
			}
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
	cli_request(c, m, (uint32_t)rc);
	free(c->msg == m ? m : NULL);
	if (c->msg == m)
		c->msg = NULL;
}

/* ---- backend: keep-alive pool ------------------------------------------------------- */

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
}

static void
be_idle_close(struct conn *be)
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
	be_idle_close(be);
}

static void
be_idle_on_timeout(struct conn *be)
{
	be_idle_close(be);
}

static void
idle_put(struct conn *be)
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
	be->state = BS_IDLE;
	be->s = NULL;
	be->rpump = be->wpump = NULL;
	be->flags &= (uint8_t)~CF_REUSED;
	be->on_recv = be_idle_on_recv;
	be->on_timeout = be_idle_on_timeout;
	be->u.be.prev = NULL;
	be->u.be.next = l->head;
	if (l->head != NULL)
		l->head->u.be.prev = be;
	l->head = be;
	l->count++;
	conn_timer(be, p->idle_timeout);
	conn_idle(be);
	if (!(be->inflight & IF_RECV) && conn_recv(be, RING_BUF_SIZE) < 0)
		be_idle_close(be);
}

/* Pops a pooled connection whose peer is still there, or NULL. */
static struct conn *
idle_take(struct worker *w, int pool, int srv)
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

/* ---- backend: pinned to one client (NTLM/Negotiate) --------------------------------- */

/*
 * Connection-oriented authentication (NTLM, Negotiate) authenticates the TCP connection, not
 * the request: once a client connection uses it, each of its backend connections is private
 * to it (never in the shared keep-alive pool, never used by another client, closed with it),
 * and its next requests to the same pool go to that same backend connection.
 */
static void
pin_close(struct conn *be)
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
	pin_close(be);
}

static void
be_pin_on_timeout(struct conn *be)
{
	pin_close(be);
}

/* Keeps be, whose exchange for client c just ended, private to c. */
static void
pin_put(struct conn *c, struct conn *be)
{
	struct conn *old = c->u.cli.pinned;

	if (old != NULL && old != be)
		pin_close(old);
	c->u.cli.pinned = be;
	be->u.be.owner = c;
	be->flags |= CF_PINNED;
	if (be->w->stopping || be->in.len > 0 || be->g != c->g) {
		pin_close(be);
		return;
	}
	be->state = BS_IDLE;
	be->s = NULL;
	be->rpump = be->wpump = NULL;
	be->flags &= (uint8_t)~CF_REUSED;
	be->u.be.next = be->u.be.prev = NULL;
	be->on_recv = be_pin_on_recv;
	be->on_timeout = be_pin_on_timeout;
	conn_timer(be, be->g->cfg->pools[be->u.be.pool].idle_timeout);
	if (!(be->inflight & IF_RECV) && conn_recv(be, RING_BUF_SIZE) < 0)
		pin_close(be);
}

/*
 * The client moved to generation g (a reload): its pinned backend follows when g still has
 * its pool (by name) and server (by host:port), else it is closed.
 */
static void
pin_regen(struct conn *c, struct generation *g)
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
	pin_close(be);
}

int
proxy_worker_gen(struct worker *w, struct generation *g)
{
	unsigned total = 0, *base;
	struct idle_list *idle;

	if (w->idle != NULL) {
		for (int p = 0; p < w->npools; p++) {
			const struct cfg_pool *cp = &w->gen->cfg->pools[p];

			for (int s = 0; s < cp->nservers; s++)
				while (idle_list_of(w, p, s)->head != NULL)
					be_idle_close(idle_list_of(w, p, s)->head);
		}
	}
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
proxy_close_idle(struct worker *w)
{
	for (int p = 0; w->idle != NULL && p < w->npools; p++) {
		const struct cfg_pool *cp = &w->gen->cfg->pools[p];

		for (int s = 0; s < cp->nservers; s++)
			while (idle_list_of(w, p, s)->head != NULL)
				be_idle_close(idle_list_of(w, p, s)->head);
	}
	for (uint32_t i = 0; i < w->nchunks * CONN_CHUNK; i++) {
		struct conn *c = &w->chunks[i / CONN_CHUNK][i % CONN_CHUNK];

		if (c->fd >= 0 && c->role == CONN_CLIENT && c->state == CS_IDLE &&
		    !(c->flags & CF_CLOSING) && c->in.len == 0)
			conn_close(c);
	}
}

/* ---- backend: connect, request, response -------------------------------------------- */

static void
be_attach(struct conn *c, struct conn *be, int srv)
{
	c->s->be = be;
	c->s->srv = (int16_t)srv;
	be->s = c->s;
	be->u.be.pool = c->s->pool;
	be->u.be.srv = (int16_t)srv;
}

/* Detaches a backend that references no stream memory any more and closes it. */
static void
be_drop(struct conn *c)
{
	struct conn *be = c->s->be;

	if (be == NULL)
		return;
	be->s = NULL;
	be->rpump = be->wpump = NULL;
	c->s->be = NULL;
	conn_close(be);
}

/*
 * Passive health: a connect error, reset or timeout talking to the stream's server (not
 * HTTP error statuses: the active check covers those).
 */
static void
be_report(struct conn *c, int err)
{
	struct stream *s = c->s;

	if (s->pool >= 0 && s->srv >= 0)
		bal_report_failure(c->g->bal, s->pool, s->srv, err, c->w->now);
}

static void
be_fail(struct conn *be, const char *what, int err, unsigned status)
{
	struct stream *s = be->s;
	struct conn *c = stream_cli(s);
	const struct cfg_server *sv = &stream_pool(c)->servers[s->srv];

	char why[200];

	log_error("backend %s:%u (pool %s): %s%s%s", sv->host, sv->port, stream_pool(c)->name,
		  what, err ? ": " : "", err ? conn_strerror(be, err, why, sizeof(why)) : "");
	stream_abort(c, status, what);
}

static void
be_on_response_timeout(struct conn *be)
{
	be_report(stream_cli(be->s), -ETIMEDOUT);
	be_fail(be, "response_timeout", 0, 504);
}

static void
be_on_body_timeout(struct conn *be)
{
	be_report(stream_cli(be->s), -ETIMEDOUT);
	be_fail(be, "idle_timeout during the response body", 0, 502);
}

/* "REASON at body byte N" for a chunked body that failed to parse (logs). */
static const char *
chunk_error(const struct h1_chunk *ck, char *buf, size_t len)
{
	snprintf(buf, len, "%s at body byte %llu",
		 ck->err_reason ? ck->err_reason : "chunked framing",
		 (unsigned long long)ck->err_off);
	return buf;
}

static void
req_pump_done(struct pump *p, int err)
{
	struct conn *be = p->dst, *c = p->src;

	(void)be;
	p->active = false;
	if (err < 0) {
		if (err == -400) {
			char addr[64], why[160];

			accesslog_peer(c, addr, sizeof(addr));
			log_info("client %s: bad request body: %s", addr,
				 chunk_error(&p->ck, why, sizeof(why)));
		}
		if (err != -400 && p->src_err) {
			char addr[64];

			/*
			 * The client closed or reset its connection in the middle of its body:
			 * its doing, not the backend's. Like nginx ("client prematurely closed
			 * connection"): logged as 400, nothing sent, both connections closed.
			 */
			accesslog_peer(c, addr, sizeof(addr));
			log_info("client %s: closed the connection during the request body after "
				 "%llu bytes", addr, (unsigned long long)p->bytes);
			if (!(c->s->flags & SF_HEAD_SENT))
				c->s->status = 400;
			stream_abort(c, 0, "client closed during the request body");
			return;
		}
		stream_abort(c, err == -400 ? 400 : 502, "request body");
		return;
	}
	c->s->flags |= SF_REQ_DONE;
	c->rpump = NULL;
	if (c->s->be != NULL) {
		c->s->be->wpump = NULL;
		if (!(c->s->flags & SF_HEAD_SENT)) {
			/* the response deadline counts from the end of the request */
			c->s->be->on_timeout = be_on_response_timeout;
			conn_timer(c->s->be, stream_pool(c)->response_timeout);
		}
	}
	if (!(c->s->flags & SF_HEAD_SENT))
		conn_timer(c, 0);
	stream_check_end(c);
	if (c->state == CS_STREAM && c->s->be != NULL && !(c->s->flags & SF_RESP_DONE))
		cli_wait_arm(c);
}

static void pump_start(struct pump *p, struct conn *src, struct conn *dst, int mode,
	uint64_t len, void (*on_done)(struct pump *, int));
static void cli_on_stream_timeout(struct conn *c);

static void
be_on_req_head_sent(struct conn *be, int res)
{
	struct stream *s = be->s;
	struct conn *c = stream_cli(s);

	if (res < 0) {
		/* the reused-connection race: let the recv side decide about a retry */
		if ((be->flags & CF_REUSED) && (s->flags & SF_IDEMPOTENT))
			return;
		be_fail(be, "sending the request", res, 502);
		return;
	}
	if (be->state == BS_CONNECTING) {
		/* the TLS handshake is done (the head went out behind it): response_timeout now */
		be->state = BS_REQUEST;
		be->on_timeout = be_on_response_timeout;
		conn_timer(be, stream_pool(c)->response_timeout);
	}
	if (s->req_body == PM_NONE) {
		s->flags |= SF_REQ_DONE;
		stream_check_end(c);
		return;
	}
	conn_timer(c, cli_listener(c)->idle_timeout);
	c->on_timeout = cli_on_stream_timeout;
	pump_start(&s->req, c, be, s->req_body, s->req_cl, req_pump_done);
	pump_advance(&s->req);
}

/* Sends the request head. handshaking: a new TLS connection whose handshake is still going
 * on; the head is queued behind it and connect_timeout keeps running until it is out. */
static void
be_send_request(struct conn *be, bool handshaking)
{
	struct stream *s = be->s;
	struct conn *c = stream_cli(s);

	be->on_send = be_on_req_head_sent;
	be->on_recv = be_on_recv_head;
	if (!handshaking) {
		be->state = BS_REQUEST;
		be->on_timeout = be_on_response_timeout;
		conn_timer(be, stream_pool(c)->response_timeout);
	}
	if (conn_send(be, s->obuf, s->olen) < 0 ||
	    (!(be->inflight & IF_RECV) && conn_recv(be, RING_BUF_SIZE) < 0))
		be_fail(be, "submitting", -EBUSY, 502);
}

static void
be_on_connect_timeout(struct conn *be)
{
	struct conn *c = stream_cli(be->s);
	const struct cfg_server *sv = &stream_pool(c)->servers[be->s->srv];

	log_error("backend %s:%u (pool %s): connect_timeout", sv->host, sv->port,
		  stream_pool(c)->name);
	be_report(c, -ETIMEDOUT);
	be_drop(c);
	stream_srv_end(c);
	be_start(c);
}

static void
be_connect(struct conn *c, int srv)
{
	const struct cfg_server *sv = &stream_pool(c)->servers[srv];
	struct io_uring_sqe *sqe;
	struct conn *be;
	int fd, one = 1;

	fd = socket(sv->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_error("backend %s:%u: socket: %s", sv->host, sv->port, strerror(errno));
		stream_abort(c, 502, "socket");
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	be = conn_alloc(c->w, CONN_BACKEND, fd);
	if (be == NULL) {
		close(fd);
		stream_abort(c, 502, "no memory");
		return;
	}
	be->g = gen_get(c->g);
	xprt_init_plain(&be->xprt);
	be_attach(c, be, srv);
	be->state = BS_CONNECTING;
	be->on_timeout = be_on_connect_timeout;
	conn_timer(be, stream_pool(c)->connect_timeout);
	sqe = ring_sqe(&c->w->ring, ud_pack(OP_CONNECT, be->slot, be->gen));
	if (sqe == NULL) {
		stream_abort(c, 502, "ring full");
		return;
	}
	io_uring_prep_connect(sqe, fd, (const struct sockaddr *)&sv->addr, sv->addrlen);
	be->inflight |= IF_CONNECT;
}

void
proxy_on_connect(struct conn *be, int res)
{
	struct conn *c;

	if (be->s == NULL) {
		conn_close(be);
		return;
	}
	c = stream_cli(be->s);
	if (res < 0) {
		const struct cfg_server *sv = &stream_pool(c)->servers[be->s->srv];

		log_error("backend %s:%u (pool %s): connect: %s", sv->host, sv->port,
			  stream_pool(c)->name, strerror(-res));
		be_report(c, res);
		be_drop(c);
		stream_srv_end(c);
		be_start(c);
		return;
	}
	if (be->g->tls_cli[be->u.be.pool] != NULL) {
		const struct cfg_server *sv = &stream_pool(c)->servers[be->s->srv];
		struct tls_sess_slot *slot;

		/*
		 * The context and the session slot belong to be->g; be keeps its own reference
		 * (xg) because be->g may move to a newer generation (pin_regen) while the
		 * transport still saves tickets into the slot.
		 */
		be->xg = gen_get(be->g);
		slot = be_sess_slot(be);
		/* the ClientHello is queued now; the handshake runs within connect_timeout */
		if (xprt_tls_init_client(&be->xprt, be->xg->tls_cli[be->u.be.pool], sv->host,
					 slot) < 0) {
			be_fail(be, "TLS: cannot create the connection", -ENOMEM, 502);
			return;
		}
		be->xprt.ops = &xprt_tls;
		be_send_request(be, true);
		return;
	}
	be_send_request(be, false);
}

/*
 * The client's pinned backend (NTLM/Negotiate) when it serves this request's pool and is
 * still connected, else NULL (a dead one is closed: the next connection gets pinned).
 */
static struct conn *
pin_take(struct conn *c)
{
	struct conn *be = c->u.cli.pinned;

	if (be == NULL || be->g != c->g || be->u.be.pool != c->s->pool ||
	    (be->flags & CF_CLOSING))
		return NULL;
	/* the closed-peer check of idle_take: the armed recv, or its pending completion */
	if ((be->inflight & IF_RECV) && be->in.len == 0 &&
	    !ring_cqe_pending(&c->w->ring, ud_pack(OP_RECV, be->slot, be->gen)))
		return be;
	pin_close(be);
	return NULL;
}

/* Picks a server (next one after connect failures) and a connection to it. */
static void
be_start(struct conn *c)
{
	struct stream *s = c->s;
	struct conn *be;
	int srv;

	if (s->t_be == 0)
		s->t_be = c->w->now;
	if ((be = pin_take(c)) != NULL) {
		/* connection-oriented auth: the same backend connection, whatever the balancer */
		srv = be->u.be.srv;
		s->tried |= 1ULL << (srv & 63);
		stream_srv_begin(c, srv);
		timer_del(&c->w->wheel, &be->tm);
		be->flags |= CF_REUSED;
		be_attach(c, be, srv);
		be_send_request(be, false);
		return;
	}
	srv = bal_pick(c->g->bal, c->w->id, s->pool, &s->key, s->tried, c->w->now);
	if (srv == BAL_NONE) {
		char ra[48];

		snprintf(ra, sizeof(ra), "Retry-After: %u\r\n",
			 bal_retry_after(c->g->bal, s->pool, c->w->now));
		stream_abort_x(c, 503, "no server up", ra);
		return;
	}
	if (srv < 0) {
		stream_abort(c, 502, "no server left to try");
		return;
	}
	s->tried |= 1ULL << (srv & 63);
	stream_srv_begin(c, srv);
	be = idle_take(c->w, s->pool, srv);
	if (be == NULL) {
		be_connect(c, srv);
		return;
	}
	be->flags |= CF_REUSED;
	be_attach(c, be, srv);
	be_send_request(be, false);
}

/* GET/HEAD on a reused connection that died before any response byte: one fresh try. */
static bool
be_retry(struct conn *be)
{
	struct stream *s = be->s;
	struct conn *c = stream_cli(s);

	if (!(be->flags & CF_REUSED) || !(s->flags & SF_IDEMPOTENT) || (s->flags & SF_RETRIED) ||
	    (s->flags & SF_RESP_BYTE) || (be->inflight & IF_SEND))
		return false;
	s->flags |= SF_RETRIED;
	s->flags &= (uint16_t)~SF_REQ_DONE;
	log_info("backend (pool %s): reused connection closed before the response; retrying "
		 "on a fresh connection", stream_pool(c)->name);
	be_drop(c);
	be_connect(c, s->srv);
	return true;
}

static void resp_pump_done(struct pump *p, int err);
static void tunnel_start(struct conn *c);

static void
cli_on_resp_head_sent(struct conn *c, int res)
{
	struct stream *s = c->s;

	if (res < 0) {
		stream_abort(c, 0, "client went away");
		return;
	}
	s->bytes_out += (uint64_t)res;
	free(s->rbuf);
	s->rbuf = NULL;
	if (c->state == CS_TUNNEL) {
		tunnel_start(c);
		return;
	}
	if (s->resp.done) {
		resp_pump_done(&s->resp, 0);
		return;
	}
	conn_timer(c, cli_listener(c)->idle_timeout);
	c->on_timeout = cli_on_stream_timeout;
	pump_advance(&s->resp);
}

static void
cli_on_stream_timeout(struct conn *c)
{
	log_info("client: idle_timeout while proxying");
	stream_abort(c, (c->s->flags & SF_REQ_DONE) ? 0 : 408, "client idle_timeout");
}

static size_t pump_scan(struct pump *p, char *data, size_t len, size_t *out, int *err);

/* Interim 1xx (not 101): relay it and wait for the final head. */
static void
cli_on_interim_sent(struct conn *c, int res)
{
	struct stream *s = c->s;
	struct conn *be = s->be;

	if (res < 0) {
		stream_abort(c, ST_CLIENT_CLOSED, "client went away");
		return;
	}
	if (be == NULL) {
		stream_abort(c, 0, "backend gone");
		return;
	}
	free(s->rbuf);
	s->rbuf = NULL;
	if (be->in.len > 0)
		be_on_recv_head(be, 1);
	else if (!(be->inflight & IF_RECV) && conn_recv(be, RING_BUF_SIZE) < 0)
		stream_abort(c, 502, "recv");
}

/* Builds the client response head (+ first body bytes) from the backend head. */
static void
be_response(struct conn *be, const struct h1_msg *m, uint32_t head_len)
{
	struct stream *s = be->s;
	struct conn *c = stream_cli(s);
	const char *buf = be->in.base + be->in.off;
	unsigned st = m->status;
	bool tunnel = false, interim = msg_status_interim(st), dechunk;
	struct msg_resp_opts ro = { 0 };
	char cookie[MSG_EXTRA_MAX];
	enum h1_body fr;
	size_t cap, o = 0, avail;
	int mode;
	char *rb;

	if (st == 101) {
		if (!(s->flags & SF_UPGRADE)) {
			be_fail(be, "101 without an upgrade request", 0, 502);
			return;
		}
		tunnel = true;
	}
	fr = interim || tunnel ? H1_BODY_NONE : h1_body_framing(m, 1, !!(s->flags & SF_HEAD_REQ), st);
	mode = fr == H1_BODY_LENGTH ? PM_LENGTH : fr == H1_BODY_CHUNKED ? PM_CHUNKED :
		fr == H1_BODY_CLOSE ? PM_CLOSE : PM_NONE;
	/* an HTTP/1.0 client cannot parse chunked: it gets the data, delimited by our close */
	dechunk = mode == PM_CHUNKED && (s->flags & SF_VER10);
	if (!interim) {
		if (!h1_keepalive(m) || mode == PM_CLOSE || tunnel)
			s->flags &= (uint16_t)~SF_BE_KA;
		if (mode == PM_CLOSE || dechunk || c->w->stopping)
			s->flags &= (uint16_t)~SF_CLI_KA;
		s->status = (uint16_t)st;
		s->t_be_end = c->w->now;
	}
	avail = be->in.len - head_len;
	cap = msg_response_cap(head_len) + (interim ? 0 : (avail < RESP_COPY_MAX ? avail : RESP_COPY_MAX));
	rb = malloc(cap);
	if (rb == NULL) {
		stream_abort(c, 502, "no memory");
		return;
	}
	if (!interim && st != 101 && bal_cookie_wanted(c->g->bal, s->pool, &s->key, s->srv)) {
		int n = bal_cookie_line(c->g->bal, s->pool, s->srv, cookie, sizeof(cookie));

		if (n > 0)
			ro.extra_len = (size_t)n;
	}
	ro.fr = fr;
	ro.tunnel = tunnel;
	ro.head_req = (s->flags & SF_HEAD_REQ) != 0;
	ro.ver10 = (s->flags & SF_VER10) != 0;
	ro.cli_ka = (s->flags & SF_CLI_KA) != 0;
	ro.dechunk = dechunk;
	ro.extra = cookie;
	o = msg_build_response(rb, m, buf, head_len, &ro, &c->u.cli.auth);
	conn_consume(be, head_len);
	s->rbuf = rb;
	free(be->msg);
	be->msg = NULL;
	if (interim) {
		s->rlen = (uint32_t)o;
		c->on_send = cli_on_interim_sent;
		if (conn_send(c, rb, s->rlen) < 0)
			stream_abort(c, 0, "send");
		return;
	}
	s->flags |= SF_HEAD_SENT;
	conn_timer(be, stream_pool(c)->idle_timeout);
	be->on_timeout = be_on_body_timeout;
	be->state = tunnel ? BS_TUNNEL : BS_RESPONSE;
	if (tunnel) {
		c->state = CS_TUNNEL;
	} else {
		pump_start(&s->resp, be, c, mode, m->content_length, resp_pump_done);
		s->resp.dechunk = dechunk;
		if (avail > 0 && !s->resp.done) {
			/* the first body bytes ride with the head: one send for small responses */
			int err = 0;
			size_t k = avail < RESP_COPY_MAX ? avail : RESP_COPY_MAX, out;

			k = pump_scan(&s->resp, be->in.base + be->in.off, k, &out, &err);
			if (err < 0) {
				char why[200], ce[160];

				/* the head has not gone out yet: the client gets a 502 */
				free(rb);
				s->rbuf = NULL;
				s->flags &= (uint16_t)~SF_HEAD_SENT;
				s->status = 0;
				snprintf(why, sizeof(why), "bad chunked response body: %s",
					 chunk_error(&s->resp.ck, ce, sizeof(ce)));
				be_fail(be, why, 0, 502);
				return;
			}
			memcpy(rb + o, be->in.base + be->in.off, out);
			o += out;
			conn_consume(be, (uint32_t)k);
			s->resp.bytes += out;
		}
		if (s->resp.done && be->in.len > 0)
			s->flags &= (uint16_t)~SF_BE_KA;	/* bytes past the body */
	}
	s->rlen = (uint32_t)o;
	c->on_send = cli_on_resp_head_sent;
	c->on_timeout = cli_on_stream_timeout;
	conn_timer(c, cli_listener(c)->idle_timeout);
	if (conn_send(c, rb, s->rlen) < 0)
		stream_abort(c, 0, "send");
}

/* be's session slot, in the generation that owns its TLS context (be->xg): only called
 * while connecting, when be->u.be.pool/srv are still indices of xg's config. */
static struct tls_sess_slot *
be_sess_slot(struct conn *be)
{
	return gen_sess_slot(be->xg, be->w->id, be->u.be.pool, be->u.be.srv);
}

/*
 * The TLS handshake with a backend failed (verification, protocol, or the server closed):
 * the reason goes to the error log and, like a connect failure, it counts towards the
 * server's max_fails and the next server is tried; none left is a 502. The cached session goes too. If one was offered, the same server gets
 * one fresh try with a full handshake first: wolfSSL's TLS 1.2 client fails (-373, "out of
 * order message") when a server refuses its ticket, e.g. after the backend restarted.
 */
static void
be_handshake_failed(struct conn *be, int res)
{
	struct conn *c = stream_cli(be->s);
	struct stream *s = c->s;
	const struct cfg_server *sv = &stream_pool(c)->servers[s->srv];
	struct tls_sess_slot *slot = be_sess_slot(be);
	bool offered = slot->sess != NULL;
	char why[200];
	const char *reason = res == 0 ? "connection closed" :
		conn_strerror(be, res, why, sizeof(why));

	tls_sess_slot_clear(slot);
	if (offered && res != -EKEYREJECTED && !(s->flags & SF_TLS_RETRIED)) {
		log_info("backend %s:%u (pool %s): resumed TLS handshake failed: %s; retrying with "
			 "a full handshake", sv->host, sv->port, stream_pool(c)->name, reason);
		s->flags |= SF_TLS_RETRIED;
		be_drop(c);
		be_connect(c, s->srv);
		return;
	}
	log_error("backend %s:%u (pool %s): TLS handshake failed: %s", sv->host, sv->port,
		  stream_pool(c)->name, reason);
	/* a passive failure like a refused connect (nginx counts it the same way) */
	be_report(c, res == 0 ? -ECONNRESET : BAL_ERR_TLS);
	be_drop(c);
	stream_srv_end(c);
	be_start(c);
}

static void
be_on_recv_head(struct conn *be, int res)
{
	struct stream *s = be->s;
	struct h1_msg *m;
	int rc;

	if (res <= 0 && be->state == BS_CONNECTING) {
		be_handshake_failed(be, res);
		return;
	}
	if (res <= 0) {
		if (be_retry(be))
			return;
		/* a reused connection the server closed between requests is not its failure */
		if (!(be->flags & CF_REUSED))
			be_report(stream_cli(s), res < 0 ? res : -ECONNRESET);
		be_fail(be, res == 0 ? "closed before the response head" : "recv", res, 502);
		return;
	}
	s->flags |= SF_RESP_BYTE;
	m = be->msg;
	if (m == NULL) {
		m = &be->w->scratch;
		h1_msg_init(m, 1);
	}
	rc = h1_parse_head(m, be->in.base + be->in.off, be->in.len);
	if (rc < 0) {
		char why[160];

		snprintf(why, sizeof(why), "bad response: %s at byte %u",
			 m->err_reason ? m->err_reason : "parse error", m->err_off);
		free(be->msg);
		be->msg = NULL;
		be_fail(be, why, 0, 502);
		return;
	}
	if (rc == 0) {
		if (be->msg == NULL) {
			be->msg = malloc(sizeof(*m));
			if (be->msg == NULL) {
				be_fail(be, "no memory", 0, 502);
				return;
			}
			memcpy(be->msg, m, sizeof(*m));
		}
		if (conn_own_buffer(be, HEAD_BUF) < 0 || conn_recv(be, HEAD_BUF) < 0)
			be_fail(be, "recv", -ENOMEM, 502);
		return;
	}
	be_response(be, m, (uint32_t)rc);
}

static void
resp_pump_done(struct pump *p, int err)
{
	struct conn *c = p->dst;

	p->active = false;
	if (err < 0) {
		struct stream *s = c->s;
		char why[200];

		if (p->src_err && s->srv >= 0) {
			/* the head went out: the client connection is closed, never a 2nd answer */
			const struct cfg_server *sv = &stream_pool(c)->servers[s->srv];

			char ce[160];

			if (err == -400 || err == -502)
				snprintf(why, sizeof(why), "bad chunked response body (%s)",
					 chunk_error(&p->ck, ce, sizeof(ce)));
			log_error("backend %s:%u (pool %s): %s during the response body after %llu "
				  "bytes; closing the client connection", sv->host, sv->port,
				  stream_pool(c)->name,
				  err == -400 || err == -502 ? why : err == -EPIPE ? "connection closed" :
				  conn_strerror(p->src, err, why, sizeof(why)),
				  (unsigned long long)p->bytes);
		} else if (!p->src_err) {
			accesslog_peer(c, why, sizeof(why));
			log_info("client %s: %s during the response body after %llu bytes", why,
				 err == -EPIPE || err == -ECONNRESET ? "connection closed" :
				 strerror(-err), (unsigned long long)p->bytes);
		}
		stream_abort(c, 0, "response body");
		return;
	}
	c->s->flags |= SF_RESP_DONE;
	c->wpump = NULL;
	if (c->s->be != NULL)
		c->s->be->rpump = NULL;
	stream_check_end(c);
}

/* Both directions finished: log, pool the backend, and go idle (or close). */
static void
stream_check_end(struct conn *c)
{
	struct stream *s = c->s;
	struct conn *be = s->be;

	if (!(s->flags & SF_RESP_DONE))
		return;
	if (!(s->flags & SF_REQ_DONE)) {
		/* the server answered before reading the whole body: neither side is reusable */
		s->flags &= (uint16_t)~(SF_CLI_KA | SF_BE_KA);
		if (s->req.sending)
			return;	/* wait for the in-flight body send before dropping the backend */
	}
	stream_log(c);
	stream_srv_end(c);
	if (be != NULL) {
		bool reuse = (s->flags & SF_BE_KA) && (s->flags & SF_REQ_DONE);

		be->s = NULL;
		be->rpump = be->wpump = NULL;
		s->be = NULL;
		if (c->u.cli.auth || (be->flags & CF_PINNED)) {
			/* private to this client: kept for it alone, or closed */
			if (reuse && (s->flags & SF_CLI_KA))
				pin_put(c, be);
			else
				pin_close(be);
		} else if (reuse) {
			idle_put(be);
		} else {
			conn_close(be);
		}
	}
	if (!(s->flags & SF_CLI_KA)) {
		stream_reset(c);
		cli_linger(c);
		return;
	}
	stream_reset(c);
	cli_idle(c, cli_listener(c)->idle_timeout);
}

static void
stream_abort(struct conn *c, unsigned status, const char *why)
{
	stream_abort_x(c, status, why, NULL);
}

/*
 * stream_abort with extra response fields ("Name: value\r\n"...) for our own answer. status:
 * what to answer if no response head went out yet (0: nothing, ST_CLIENT_CLOSED: nothing
 * either, the client is gone), and what the access log shows if it did not get a status yet.
 */
static void
stream_abort_x(struct conn *c, unsigned status, const char *why, const char *extra)
{
	struct stream *s = c->s;

	bool keep;

	(void)why;
	stream_srv_end(c);
	if (s->be != NULL) {
		if (!(s->be->inflight & IF_SEND))
			be_drop(c);		/* nothing of ours in flight there */
		else
			conn_close(s->be);	/* stays attached until freed: its send uses our buffers */
	}
	/* the connection stays usable only if the request was read whole and nothing is pending */
	keep = s->be == NULL && (s->flags & SF_CLI_KA) && !(c->flags & CF_EOF) &&
		(!(c->inflight & IF_RECV) || c->on_recv == cli_wait_on_recv) &&
		(s->req_body == PM_NONE || (s->flags & SF_REQ_DONE));
	s->req.active = s->resp.active = false;
	c->rpump = c->wpump = NULL;
	if (status != 0 && status != ST_CLIENT_CLOSED && !(s->flags & SF_HEAD_SENT) &&
	    !(c->inflight & IF_SEND)) {
		cli_respond(c, status, extra, keep);
		/* what the client still sends is read and dropped */
		if (!keep)
			c->on_recv = linger_on_recv;
		return;
	}
	if (s->status == 0)
		s->status = (uint16_t)status;
	stream_log(c);
	conn_close(c);
}

/* ---- pumps -------------------------------------------------------------------------- */

/*
 * How many of data[0..len) belong to the body; marks p->done at its end. err < 0: bad.
 * *out: how many bytes to forward, at data[0..*out): the consumed bytes, or with p->dechunk
 * only the chunk data, moved to the front in place.
 */
static size_t
pump_scan(struct pump *p, char *data, size_t len, size_t *out, int *err)
{
	size_t used = 0;

	*out = 0;
	switch (p->mode) {
	case PM_LENGTH:
		used = len < p->remaining ? len : (size_t)p->remaining;
		p->remaining -= used;
		if (p->remaining == 0)
			p->done = true;
		*out = used;
		return used;
	case PM_CHUNKED:
		while (used < len && !h1_chunk_done(&p->ck)) {
			struct h1_span sp;
			ssize_t n = h1_chunk_parse(&p->ck, data + used, len - used, &sp);

			if (n < 0) {
				*err = (int)n;
				return used;
			}
			if (n == 0)
				break;
			if (p->dechunk && sp.len > 0) {
				/* data spans only move backwards: memmove in place is safe */
				memmove(data + *out, data + used + sp.off, sp.len);
				*out += sp.len;
			}
			used += (size_t)n;
		}
		if (h1_chunk_done(&p->ck))
			p->done = true;
		if (!p->dechunk)
			*out = used;
		return used;
	default:
		*out = len;
		return len;
	}
}

static void pump_on_recv(struct conn *src, int res);
static void pump_on_sent(struct conn *dst, int res);
static void pump_splice(struct pump *p);

static void
pump_finish(struct pump *p, int err)
{
	if (p->pipe >= 0) {
		pipe_put(&p->src->w->pipes, p->pipe, p->in_pipe == 0 && err == 0);
		p->pipe = -1;
	}
	p->splicing = false;
	p->on_done(p, err);
}

static void
pump_start(struct pump *p, struct conn *src, struct conn *dst, int mode, uint64_t len,
	void (*on_done)(struct pump *, int))
{
	struct dp_shared *sh = src->w->sh;

	memset(p, 0, sizeof(*p));
	p->src = src;
	p->dst = dst;
	p->mode = (uint8_t)mode;
	p->remaining = len;
	p->pipe = -1;
	p->buf.bid = -1;
	p->on_done = on_done;
	p->active = true;
	src->rpump = p;
	dst->wpump = p;
	if (mode == PM_CHUNKED)
		h1_chunk_init(&p->ck, src->role == CONN_BACKEND);
	if (mode == PM_NONE || (mode == PM_LENGTH && len == 0))
		p->done = true;
	/* large plaintext Content-Length bodies go through a pipe (see docs/internals.md) */
	if (sh->use_splice && mode == PM_LENGTH && len >= sh->splice_min &&
	    src->xprt.ops->splice_ok && dst->xprt.ops->splice_ok)
		p->splicing = true;
}

static uint64_t
conn_idle_ms(const struct conn *x)
{
	return x->role == CONN_CLIENT ? cli_listener(x)->idle_timeout :
		x->g->cfg->pools[x->u.be.pool].idle_timeout;
}

static void
pump_progress(struct pump *p)
{
	/* no-progress deadlines restart on progress (header_timeout never does) */
	if (timer_armed(&p->src->tm))
		conn_timer(p->src, conn_idle_ms(p->src));
	if (timer_armed(&p->dst->tm))
		conn_timer(p->dst, conn_idle_ms(p->dst));
}

static void
pump_send(struct pump *p)
{
	struct conn *src = p->src;
	size_t n, out;
	int err = 0;

	n = pump_scan(p, src->in.base + src->in.off, src->in.len, &out, &err);
	if (err < 0) {
		p->src_err = true;	/* the source's bytes are malformed */
		pump_finish(p, err);
		return;
	}
	if (out == 0) {
		/* nothing to forward (framing only, or the body already ended) */
		conn_consume(src, (uint32_t)n);
		if (p->done)
			pump_finish(p, 0);
		else if (n > 0)
			pump_advance(p);
		return;
	}
	if (n == src->in.len) {
		/* the whole buffer is body: hand it to the pump, no copy */
		p->buf = src->in;
		p->buf.len = (uint32_t)out;
		src->in.base = NULL;
		src->in.off = src->in.len = src->in.cap = 0;
		src->in.bid = -1;
	} else {
		/* bytes after the body belong to the next message: copy the body part */
		p->buf.base = malloc(out);
		if (p->buf.base == NULL) {
			pump_finish(p, -ENOMEM);
			return;
		}
		memcpy(p->buf.base, src->in.base + src->in.off, out);
		p->buf.off = 0;
		p->buf.len = (uint32_t)out;
		p->buf.cap = (uint32_t)out;
		p->buf.bid = -1;
		conn_consume(src, (uint32_t)n);
	}
	n = out;
	p->sending = true;
	p->dst->on_send = pump_on_sent;
	if (conn_send(p->dst, p->buf.base + p->buf.off, (uint32_t)n) < 0) {
		p->sending = false;
		ibuf_release(src->w, &p->buf);
		pump_finish(p, -EPIPE);
	}
}

static void
pump_advance(struct pump *p)
{
	struct conn *src = p->src;
	uint32_t max = RING_BUF_SIZE;

	if (!p->active || p->sending)
		return;
	if (src->in.len > 0 && !p->done) {
		pump_send(p);
		return;
	}
	if (p->done) {
		pump_finish(p, 0);
		return;
	}
	if (p->splicing) {
		/* a recv armed before splicing began delivers first (byte order) */
		src->on_recv = pump_on_recv;
		if (!(src->inflight & IF_RECV))
			pump_splice(p);
		return;
	}
	if (p->mode == PM_LENGTH && p->remaining < max)
		max = (uint32_t)p->remaining;
	src->on_recv = pump_on_recv;
	if (!(src->inflight & IF_RECV) && conn_recv(src, max) < 0)
		pump_finish(p, -EBUSY);
}

static void
pump_on_recv(struct conn *src, int res)
{
	struct pump *p = src->rpump;

	if (p == NULL || !p->active) {
		/* input after the body while the exchange finishes: keep it for the next one */
		if (res <= 0)
			src->flags |= CF_EOF;
		return;
	}
	if (res == 0) {
		src->flags |= CF_EOF;
		if (p->mode == PM_CLOSE) {
			p->done = true;
			if (!p->sending)
				pump_finish(p, 0);
			return;
		}
		p->src_err = true;
		pump_finish(p, -EPIPE);
		return;
	}
	if (res < 0) {
		p->src_err = true;
		pump_finish(p, res);
		return;
	}
	pump_progress(p);
	pump_advance(p);
}

static void
pump_on_sent(struct conn *dst, int res)
{
	struct pump *p = dst->wpump;

	if (p == NULL)
		return;
	p->sending = false;
	ibuf_release(dst->w, &p->buf);
	if (res < 0) {
		pump_finish(p, res);
		return;
	}
	p->bytes += (uint64_t)res;
	if (dst->role == CONN_CLIENT)
		dst->s->bytes_out += (uint64_t)res;
	pump_progress(p);
	if (!p->active)
		return;
	if (p->done) {
		pump_finish(p, 0);
		return;
	}
	pump_advance(p);
}

/*
 * Splice: synchronous splice(2) with SPLICE_F_NONBLOCK on O_NONBLOCK sockets, and a ring
 * POLL_ADD when one side would block. io_uring's own IORING_OP_SPLICE always runs on an
 * io-wq thread; docs/internals.md has the measurements behind this choice.
 */
static void
pump_splice(struct pump *p)
{
	struct worker *w = p->src->w;
	int rounds = 0;

	if (p->pipe < 0) {
		p->pipe = (int16_t)pipe_get(&w->pipes);
		if (p->pipe < 0) {
			p->splicing = false;	/* no pipe: copy */
			pump_advance(p);
			return;
		}
		fcntl(p->src->fd, F_SETFL, fcntl(p->src->fd, F_GETFL) | O_NONBLOCK);
		fcntl(p->dst->fd, F_SETFL, fcntl(p->dst->fd, F_GETFL) | O_NONBLOCK);
	}
	while (rounds++ < 8) {
		int *pfd = w->pipes.fds[p->pipe];
		bool rblock = false;
		/* PM_LENGTH: until remaining is 0; PM_CLOSE (tunnel): until the source's EOF */
		bool more = p->mode == PM_CLOSE ? !p->done : p->remaining > 0;

		if (more && p->in_pipe < (uint32_t)w->pipes.size) {
			size_t want = (size_t)w->pipes.size - p->in_pipe;
			ssize_t n;

			if (p->mode == PM_LENGTH && want > p->remaining)
				want = (size_t)p->remaining;
			n = splice(p->src->fd, NULL, pfd[1], NULL, want,
				SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				p->in_pipe += (uint32_t)n;
				if (p->mode == PM_LENGTH)
					p->remaining -= (uint64_t)n;
			} else if (n == 0 && p->mode == PM_CLOSE) {
				p->src->flags |= CF_EOF;
				p->done = true;		/* flush the pipe, then finish */
			} else if (n == 0) {
				p->src_err = true;
				pump_finish(p, -EPIPE);
				return;
			} else if (errno == EAGAIN) {
				rblock = true;
			} else {
				p->src_err = true;
				pump_finish(p, -errno);
				return;
			}
		}
		if (p->in_pipe > 0) {
			ssize_t n = splice(pfd[0], NULL, p->dst->fd, NULL, p->in_pipe,
				SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

			if (n > 0) {
				p->in_pipe -= (uint32_t)n;
				p->bytes += (uint64_t)n;
				if (p->dst->role == CONN_CLIENT)
					p->dst->s->bytes_out += (uint64_t)n;
			} else if (n < 0 && errno == EAGAIN) {
				pump_progress(p);
				if (conn_poll(p->dst, POLLOUT) < 0)
					pump_finish(p, -EBUSY);
				return;
			} else {
				pump_finish(p, n < 0 ? -errno : -EPIPE);
				return;
			}
		}
		more = p->mode == PM_CLOSE ? !p->done : p->remaining > 0;
		if (!more && p->in_pipe == 0) {
			p->done = true;
			pump_finish(p, 0);
			return;
		}
		if (rblock && p->in_pipe == 0) {
			pump_progress(p);
			if (conn_poll(p->src, POLLIN) < 0)
				pump_finish(p, -EBUSY);
			return;
		}
	}
	/* plenty moved: yield to other connections through a poll that fires at once */
	pump_progress(p);
	if (conn_poll(p->src, POLLIN) < 0)
		pump_finish(p, -EBUSY);
}

void
proxy_on_poll(struct conn *c, int res, bool out)
{
	/* POLLIN belongs to the pump reading c, POLLOUT to the one writing it */
	struct pump *p = out ? c->wpump : c->rpump;

	if (p == NULL || !p->active || !p->splicing)
		return;
	if (res < 0) {
		p->src_err = !out;
		pump_finish(p, res);
		return;
	}
	pump_splice(p);
}

/* ---- tunnel (after 101) ------------------------------------------------------------- */

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

static void
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

/* ---- slot recycling ----------------------------------------------------------------- */

void
proxy_conn_freed(struct conn *c)
{
	struct worker *w = c->w;

	if (c->role == CONN_BACKEND) {
		struct stream *s = c->s;

		if (c->u.be.owner != NULL) {
			if (c->u.be.owner->u.cli.pinned == c)
				c->u.be.owner->u.cli.pinned = NULL;
			c->u.be.owner = NULL;
		}
		if (c->state == BS_IDLE && s == NULL)
			return;	/* unlinked from the pool by its closer */
		if (s != NULL) {
			struct conn *cli = stream_cli(s);

			/* the request pump's buffer was only read by our sends: done now */
			if (s->req.buf.base != NULL && !s->req.active)
				ibuf_release(w, &s->req.buf);
			if (s->req.buf.base != NULL && s->req.sending) {
				s->req.sending = false;
				ibuf_release(w, &s->req.buf);
			}
			if (s->be == c)
				s->be = NULL;
			c->s = NULL;
			conn_maybe_free(cli);
		}
		return;
	}
	/* client: nothing of ours can still be referenced (no backend attached) */
	if (c->u.cli.pinned != NULL)
		pin_close(c->u.cli.pinned);
	stream_srv_end(c);
	ibuf_release(w, &c->s->req.buf);
	ibuf_release(w, &c->s->resp.buf);
	if (c->s->req.pipe >= 0)
		pipe_put(&w->pipes, c->s->req.pipe, false);
	if (c->s->resp.pipe >= 0)
		pipe_put(&w->pipes, c->s->resp.pipe, false);
	free(c->s->obuf);
	free(c->s->rbuf);
	c->s->obuf = c->s->rbuf = NULL;
}
