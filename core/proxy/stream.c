/*
 * The stream: one client exchange from its request head to its end (core/proxy/stream.h).
 * State machines (docs/internals.md):
 *   client: IDLE -> HEAD -> STREAM -> (IDLE | TUNNEL | LINGER) ; any -> closed
 *   backend: CONNECTING -> REQUEST -> RESPONSE -> (IDLE pool | closed) ; REQUEST -> TUNNEL
 */
#include "core/proxy/stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/admin/counters.h"
#include "core/gen.h"
#include "core/http/h1.h"
#include "core/http/msg.h"
#include "core/io/conn.h"
#include "core/io/pipe.h"
#include "core/io/ring.h"
#include "core/io/xprt.h"
#include "core/lib/log.h"
#include "core/proxy/accesslog.h"
#include "core/proxy/acmehttp.h"
#include "core/proxy/backend.h"
#include "core/proxy/bepool.h"
#include "core/proxy/client.h"
#include "core/proxy/clientaddr.h"
#include "core/proxy/guard_hook.h"
#include "core/proxy/limits.h"
#include "core/proxy/proxy.h"
#include "core/proxy/pump.h"
#include "core/proxy/queue.h"
#include "core/proxy/tunnel.h"
#include "routing/pool/balance.h"
#include "routing/trie.h"

#define RESP_COPY_MAX	16384	/* body bytes copied behind a response head (one send) */

static void stream_pick_backend(struct conn *c);
static void resp_pump_done(struct pump *p, int err);

/* least_conn: the request now occupies server srv of its pool (on this worker). */
static void
stream_srv_begin(struct conn *c, int srv)
{
	struct stream *s = c->s;

	bal_req_begin(c->g->bal, c->w->id, s->pool, srv);
	s->active_srv = (int16_t)(srv + 1);
}

/* The request left its server: exactly once per begin, on the same generation's set. */
void
stream_srv_end(struct conn *c)
{
	struct stream *s = c->s;

	if (s->active_srv == 0)
		return;
	bal_req_end(c->g->bal, c->w->id, s->pool, s->active_srv - 1);
	s->active_srv = 0;
}

void
stream_log(struct conn *c)
{
	accesslog_request(&c->w->alog, c, c->w->now);
	ctr_request_end(&c->w->ctr, c);
}

void
stream_reset(struct conn *c)
{
	struct stream *s = c->s;

	stream_srv_end(c);
	free(s->obuf);
	free(s->rbuf);
	pump_release(&s->req);
	queue_leave(c);
	free(s->gatt);
	memset(s, 0, sizeof(*s));
	s->pool = -1;
	s->srv = -1;
	s->key = (struct bal_key)BAL_KEY_INIT;
	s->req.pipe = s->resp.pipe = -1;
	c->rpump = c->wpump = NULL;
}

/*
 * Builds the backend request head in s->obuf from the parsed client head (core/http/msg.c).
 */
static int
stream_build_request(struct conn *c, const struct h1_msg *m, const char *buf, bool upgrade,
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

/* What the exchange remembers of the request head m. Returns whether it upgrades. */
static bool
stream_req_flags(struct stream *s, const struct h1_msg *m)
{
	enum h1_body fr;
	bool upgrade;

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
	return upgrade;
}

/* The routing key: the raw Host (or absolute-form authority) and the raw path. */
struct route_key {
	const char	*host, *path;
	size_t		 hlen, plen;
};

static void
stream_route_key(const struct h1_msg *m, const char *buf, struct route_key *k)
{
	k->host = k->path = "";
	k->hlen = k->plen = 0;
	if (m->target_form == H1_TF_ABSOLUTE) {
		k->host = h1_ptr(buf, m->abs_host);
		k->hlen = m->abs_host.len;
		k->path = m->abs_path.len ? h1_ptr(buf, m->abs_path) : "/";
		k->plen = m->abs_path.len ? m->abs_path.len : 1;
		return;
	}
	if (m->host_idx >= 0) {
		k->host = h1_ptr(buf, m->hdr[m->host_idx].value);
		k->hlen = m->hdr[m->host_idx].value.len;
	}
	if (m->target_form == H1_TF_ORIGIN) {
		k->path = h1_ptr(buf, m->target);
		k->plen = m->target.len;
	} else if (m->target_form == H1_TF_ASTERISK) {
		/* OPTIONS * asks about the server as a whole (RFC 9110 9.3.7): routed by host
		 * alone, as path "/"; the target "*" is forwarded as it came */
		k->path = "/";
		k->plen = 1;
	}
}

/*
 * Answers the request here when it goes to no backend (501 CONNECT, 421 host outside the
 * certificate, 404, 301). A request body we would have to drain closes the connection.
 */
static void
stream_answer_here(struct conn *c, const struct route_key *k, const struct cfg_route *rt,
	uint32_t head_len, bool upgrade, bool misdirected)
{
	bool keep = c->s->req_body == PM_NONE && !upgrade;

	conn_consume(c, keep ? head_len : c->in.len);
	if (misdirected)
		cli_respond(c, 421, NULL, keep);
	else if (rt == NULL)
		cli_respond(c, 404, NULL, keep);
	else
		cli_redirect(c, k->host, k->hlen, k->path, k->plen, keep);
}

void
stream_on_request_head(struct conn *c, const struct h1_msg *m, uint32_t head_len)
{
	struct stream *s = c->s;
	const char *buf = c->in.base + c->in.off;
	const struct cfg_route *rt = NULL;
	struct route_key k;
	bool upgrade, misdirected;
	uint64_t t0 = s->t_start;

	stream_reset(c);
	s->t_start = t0;
	c->u.cli.nreq++;
	s->head_in = head_len;
	ctr_request_head(&c->w->ctr, c, head_len);
	c->state = CS_STREAM;
	if (cli_listener(c)->real_ip_from.n > 0)
		cli_realip(c, m, buf);	/* core/proxy/clientaddr.c */
	upgrade = stream_req_flags(s, m);
	stream_route_key(m, buf, &k);
	if (m->method == H1_M_CONNECT) {
		conn_consume(c, c->in.len);
		cli_respond(c, 501, NULL, false);
		return;
	}
	/* build the outgoing head first: the access log needs its request line and host */
	if (stream_build_request(c, m, buf, upgrade, false) < 0) {
		conn_close(c);
		return;
	}
	if (stream_acme_http(c, m, buf, head_len))	/* ACME HTTP-01, before routing */
		return;
	if (limits_request(c, cli_listener(c), head_len) != 0)
		return;
	/* the certificate chosen by SNI must cover the host (RFC 9110 15.5.20) */
	misdirected = k.hlen > 0 && !conn_covers_host(c, k.host, k.hlen);
	if (!misdirected)
		rt = trie_lookup(c->g->tries[c->u.cli.lidx], k.host, k.hlen, k.path, k.plen);
	if (misdirected || rt == NULL || rt->kind == CFG_ROUTE_REDIRECT_HTTPS) {
		stream_answer_here(c, &k, rt, head_len, upgrade, misdirected);
		return;
	}
	if (limits_route_request(c, rt, head_len) != 0)
		return;
	s->pool = (int16_t)rt->pool;
	stream_keys(c, m, buf);
	if (guard_hook_request(c, rt, m, buf, head_len) != 0)
		return;
	if (c->g->cfg->pools[rt->pool].forwarded_for) {
		free(s->obuf);
		s->obuf = NULL;
		if (stream_build_request(c, m, buf, upgrade, true) < 0) {
			conn_close(c);
			return;
		}
	}
	/* HTTP/1.0 upstream defaults to close: no backend keep-alive */
	if (!(s->flags & SF_VER10))
		s->flags |= SF_BE_KA;
	conn_consume(c, head_len);
	conn_timer(c, 0);
	stream_pick_backend(c);
	/* a request body is read by its pump; otherwise watch for the client going away */
	if (s->req_body == PM_NONE && c->state == CS_STREAM && !(c->flags & CF_CLOSING) &&
	    s->be != NULL)
		cli_wait_arm(c);
}

void
stream_attach(struct conn *c, struct conn *be, int srv)
{
	c->s->be = be;
	c->s->srv = (int16_t)srv;
	be->s = c->s;
	be->u.be.pool = c->s->pool;
	be->u.be.srv = (int16_t)srv;
}

/* Detaches a backend that references no stream memory any more and closes it. */
static void
stream_drop_be(struct conn *c)
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
void
stream_report_failure(struct conn *c, int err)
{
	struct stream *s = c->s;

	if (s->pool >= 0 && s->srv >= 0)
		bal_report_failure(c->g->bal, s->pool, s->srv, err, c->w->now);
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
		if (!(c->s->flags & SF_HEAD_SENT))
			be_await_response(c->s->be);
	}
	if (!(c->s->flags & SF_HEAD_SENT))
		conn_timer(c, 0);
	stream_check_end(c);
	if (c->state == CS_STREAM && c->s->be != NULL && !(c->s->flags & SF_RESP_DONE))
		cli_wait_arm(c);
}

void
stream_on_request_sent(struct conn *c)
{
	struct stream *s = c->s;

	if (s->req_body == PM_NONE) {
		s->flags |= SF_REQ_DONE;
		stream_check_end(c);
		return;
	}
	cli_stream_timer(c);
	pump_start(&s->req, c, s->be, s->req_body, s->req_cl, req_pump_done);
	pump_advance(&s->req);
}

/* The attempt on s->be failed (congested: a connect_timeout under congestion, queue.c), or
 * nothing is attached (a queue wake-up, the end of a backoff): pick again. */
static void
backend_failed(struct conn *c, bool congested)
{
	struct stream *s = c->s;

	if (s->be != NULL) {
		ctr_conn_error(&c->w->ctr, c->g, s->pool, s->srv);
		s->be_failed = true;
		s->congested = congested;
	}
	stream_drop_be(c);
	stream_srv_end(c);
	stream_pick_backend(c);
}

void
stream_backend_failed(struct conn *c)
{
	backend_failed(c, false);
}

void
stream_backend_congested(struct conn *c)
{
	backend_failed(c, true);
}

void
stream_reconnect(struct conn *c)
{
	stream_drop_be(c);
	queue_count_retry(c, true);	/* another connection, same server */
	be_connect(c, c->s->srv);
}

/* between requests every conn moves to the newest generation; a TLS conn keeps the
 * certificate it presented (421 check) alive through its own c->xg */
int
stream_adopt_gen(struct conn *c)
{
	struct worker *w = c->w;

	stream_srv_end(c);
	bepool_pin_regen(c, w->gen);
	gen_put(c->g);
	c->g = gen_get(w->gen);
	return c->u.cli.lidx >= c->g->cfg->nlisteners ? -1 : 0;
}

/* Picks a server (next one after connect failures) and a connection to it. */
static void
stream_pick_backend(struct conn *c)
{
	struct stream *s = c->s;
	struct conn *be;
	int srv;

	if (s->t_be == 0)
		s->t_be = c->w->now;
	if ((be = bepool_pin_take(c)) != NULL) {
		/* connection-oriented auth: the same backend connection, whatever the balancer */
		srv = be->u.be.srv;
		s->tried |= 1ULL << (srv & 63);
		stream_srv_begin(c, srv);
		conn_timer(be, 0);
		be->flags |= CF_REUSED;
		ctr_reuse(&c->w->ctr, c->g, s->pool, srv, true);
		s->t_be_conn = c->w->now;
		stream_attach(c, be, srv);
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
	if (srv == BAL_EXHAUSTED && queue_retry_later(c))
		return;
	if (srv < 0) {
		stream_abort(c, 502, "no server left to try");
		return;
	}
	if (queue_admit(c, &srv))
		return;
	if (s->be_failed)
		queue_count_retry(c, true);	/* the next untried server */
	s->tried |= 1ULL << (srv & 63);
	stream_srv_begin(c, srv);
	be = bepool_idle_take(c->w, s->pool, srv);
	if (be == NULL) {
		be_connect(c, srv);
		return;
	}
	be->flags |= CF_REUSED;
	ctr_reuse(&c->w->ctr, c->g, s->pool, srv, false);
	s->t_be_conn = c->w->now;
	stream_attach(c, be, srv);
	be_send_request(be, false);
}

static void
stream_on_resp_head_sent(struct conn *c, int res)
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
	cli_stream_timer(c);
	pump_advance(&s->resp);
}

bool
stream_drops_interim(const struct stream *s, const struct h1_msg *m)
{
	return (s->flags & SF_VER10) && msg_status_interim(m->status);
}

/* Interim 1xx (not 101): relay it and wait for the final head. */
static void
stream_on_interim_sent(struct conn *c, int res)
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
	if (be_read_head(be) < 0)
		stream_abort(c, 502, "recv");
}

/*
 * What a response head means for the exchange: its framing (*fr), the pump mode, and which
 * connections stay open. Returns the enum pump_mode.
 */
static int
resp_decide(struct conn *c, const struct h1_msg *m, bool interim, bool tunnel,
	enum h1_body *fr, bool *dechunk)
{
	struct stream *s = c->s;
	unsigned st = m->status;
	int mode;

	*fr = interim || tunnel ? H1_BODY_NONE :
		h1_body_framing(m, 1, !!(s->flags & SF_HEAD_REQ), st);
	mode = *fr == H1_BODY_LENGTH ? PM_LENGTH : *fr == H1_BODY_CHUNKED ? PM_CHUNKED :
		*fr == H1_BODY_CLOSE ? PM_CLOSE : PM_NONE;
	/* an HTTP/1.0 client cannot parse chunked: it gets the data, delimited by our close */
	*dechunk = mode == PM_CHUNKED && (s->flags & SF_VER10);
	if (!interim) {
		if (!h1_keepalive(m) || mode == PM_CLOSE || tunnel)
			s->flags &= (uint16_t)~SF_BE_KA;
		if (mode == PM_CLOSE || *dechunk || c->w->stopping)
			s->flags &= (uint16_t)~SF_CLI_KA;
		s->status = (uint16_t)st;
		s->t_be_end = c->w->now;
	}
	return mode;
}

/* The client's response head from the backend's (core/http/msg.c), into rb. */
static size_t
resp_build(struct conn *c, const struct h1_msg *m, const char *buf, uint32_t head_len,
	struct msg_resp_opts *ro, char *rb)
{
	struct stream *s = c->s;
	char cookie[MSG_EXTRA_MAX];
	bool interim = msg_status_interim(m->status);

	if (!interim && m->status != 101 &&
	    bal_cookie_wanted(c->g->bal, s->pool, &s->key, s->srv)) {
		int n = bal_cookie_line(c->g->bal, s->pool, s->srv, cookie, sizeof(cookie));

		if (n > 0)
			ro->extra_len = (size_t)n;
	}
	ro->extra = cookie;
	ro->head_req = (s->flags & SF_HEAD_REQ) != 0;
	ro->ver10 = (s->flags & SF_VER10) != 0;
	ro->cli_ka = (s->flags & SF_CLI_KA) != 0;
	return msg_build_response(rb, m, buf, head_len, ro, &c->u.cli.auth);
}

/*
 * The first body bytes ride with the head (one send for small responses): up to
 * RESP_COPY_MAX of be->in go behind the head at rb + *o. Returns -1 (after be_fail) when
 * they are malformed: the head has not gone out yet, so the client gets a 502.
 */
static int
resp_first_body(struct conn *c, struct conn *be, char *rb, size_t *o)
{
	struct stream *s = c->s;
	int err = 0;
	size_t k = be->in.len < RESP_COPY_MAX ? be->in.len : RESP_COPY_MAX, out;

	k = pump_scan(&s->resp, be->in.base + be->in.off, k, &out, &err);
	if (err < 0) {
		char why[200], ce[160];

		free(rb);
		s->rbuf = NULL;
		s->flags &= (uint16_t)~SF_HEAD_SENT;
		s->status = 0;
		snprintf(why, sizeof(why), "bad chunked response body: %s",
			 chunk_error(&s->resp.ck, ce, sizeof(ce)));
		be_fail(be, why, 0, 502);
		return -1;
	}
	memcpy(rb + *o, be->in.base + be->in.off, out);
	*o += out;
	conn_consume(be, (uint32_t)k);
	s->resp.bytes += out;
	return 0;
}

/* Builds the client response head (+ first body bytes) from the backend head. */
void
stream_on_response_head(struct conn *be, const struct h1_msg *m, uint32_t head_len)
{
	struct stream *s = be->s;
	struct conn *c = stream_cli(s);
	bool tunnel = m->status == 101, interim = msg_status_interim(m->status);
	struct msg_resp_opts ro = { .tunnel = tunnel };
	size_t cap, o, avail = be->in.len - head_len;
	int mode;
	char *rb;

	if (tunnel && !(s->flags & SF_UPGRADE)) {
		be_fail(be, "101 without an upgrade request", 0, 502);
		return;
	}
	mode = resp_decide(c, m, interim, tunnel, &ro.fr, &ro.dechunk);
	guard_hook_response(c, m, be->in.base + be->in.off);
	guard_hook_resp_opts(c, stream_pool(c), &ro);
	cap = msg_response_cap(head_len) +
		(interim ? 0 : (avail < RESP_COPY_MAX ? avail : RESP_COPY_MAX));
	rb = malloc(cap);
	if (rb == NULL) {
		stream_abort(c, 502, "no memory");
		return;
	}
	o = resp_build(c, m, be->in.base + be->in.off, head_len, &ro, rb);
	conn_consume(be, head_len);
	s->rbuf = rb;
	free(be->msg);
	be->msg = NULL;
	if (interim) {
		s->rlen = (uint32_t)o;
		c->on_send = stream_on_interim_sent;
		if (conn_send(c, rb, s->rlen) < 0)
			stream_abort(c, 0, "send");
		return;
	}
	s->flags |= SF_HEAD_SENT;
	be_body_started(be, tunnel);
	if (tunnel) {
		c->state = CS_TUNNEL;
	} else {
		pump_start(&s->resp, be, c, mode, m->content_length, resp_pump_done);
		s->resp.dechunk = ro.dechunk;
		if (avail > 0 && !s->resp.done && resp_first_body(c, be, rb, &o) < 0)
			return;
		if (s->resp.done && be->in.len > 0)
			s->flags &= (uint16_t)~SF_BE_KA;	/* bytes past the body */
	}
	s->rlen = (uint32_t)o;
	c->on_send = stream_on_resp_head_sent;
	cli_stream_timer(c);
	if (conn_send(c, rb, s->rlen) < 0)
		stream_abort(c, 0, "send");
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
void
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
				bepool_pin_put(c, be);
			else
				bepool_pin_close(be);
		} else if (reuse) {
			bepool_idle_put(be);
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

void
stream_abort(struct conn *c, unsigned status, const char *why)
{
	stream_abort_x(c, status, why, NULL);
}

/*
 * stream_abort with extra response fields ("Name: value\r\n"...) for our own answer. status:
 * what to answer if no response head went out yet (0: nothing, ST_CLIENT_CLOSED: nothing
 * either, the client is gone), and what the access log shows if it did not get a status yet.
 */
void
stream_abort_x(struct conn *c, unsigned status, const char *why, const char *extra)
{
	struct stream *s = c->s;

	bool keep;

	snprintf(s->term, sizeof(s->term), "%s", why ? why : "");
	queue_leave(c);
	stream_srv_end(c);
	if (s->be != NULL) {
		if (!(s->be->inflight & IF_SEND))
			stream_drop_be(c);		/* nothing of ours in flight there */
		else
			conn_close(s->be);	/* stays attached until freed: its send uses our buffers */
	}
	/* the connection stays usable only if the request was read whole and nothing is pending */
	keep = s->be == NULL && (s->flags & SF_CLI_KA) && !(c->flags & CF_EOF) &&
		(!(c->inflight & IF_RECV) || cli_waiting(c)) &&
		(s->req_body == PM_NONE || (s->flags & SF_REQ_DONE));
	s->req.active = s->resp.active = false;
	c->rpump = c->wpump = NULL;
	if (status != 0 && status != ST_CLIENT_CLOSED && !(s->flags & SF_HEAD_SENT) &&
	    !(c->inflight & IF_SEND)) {
		cli_respond(c, status, extra, keep);
		/* what the client still sends is read and dropped */
		if (!keep)
			cli_drop_input(c);
		return;
	}
	if (s->status == 0)
		s->status = (uint16_t)status;
	stream_log(c);
	conn_close(c);
}

void
proxy_close_all(struct worker *w)
{
	for (uint32_t i = 0; i < w->nchunks * CONN_CHUNK; i++) {
		struct conn *c = conn_slot(w, i);

		if (c->fd >= 0 && c->role == CONN_CLIENT && !(c->flags & CF_CLOSING)) {
			if (c->s->be != NULL)
				conn_close(c->s->be);
			conn_close(c);
		}
	}
}

void
proxy_close_idle(struct worker *w)
{
	bepool_close_all(w);
	cli_close_idle(w);
}

/* Before c's slot is recycled: cut the links to it (the connection layer's owner hook). */
static void
stream_conn_freed(struct conn *c)
{
	struct worker *w = c->w;

	if (c->role == CONN_BACKEND) {
		struct stream *s = c->s;

		queue_be_freed(c);
		if (c->flags & CF_PINNED)
			ctr_pinned(&w->ctr, c->u.be.pool, false);
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
	queue_leave(c);
	ctr_client_closed(&w->ctr, c->u.cli.lidx);
	limits_close(c);
	if (c->u.cli.pinned != NULL)
		bepool_pin_close(c->u.cli.pinned);
	stream_srv_end(c);
	ibuf_release(w, &c->s->req.buf);
	ibuf_release(w, &c->s->resp.buf);
	if (c->s->req.pipe >= 0)
		pipe_put(&w->pipes, c->s->req.pipe, false);
	if (c->s->resp.pipe >= 0)
		pipe_put(&w->pipes, c->s->resp.pipe, false);
	free(c->s->obuf);
	free(c->s->rbuf);
	pump_release(&c->s->req);
	free(c->s->gatt);
	c->s->obuf = c->s->rbuf = NULL;
	c->s->gatt = NULL;
}

const struct conn_owner proxy_conn_owner = {
	.on_connect = be_on_connect,
	.on_poll = pump_on_poll,
	.on_free = stream_conn_freed,
};
