/*
 * The client's address behind balancers: the PROXY protocol header before TLS, and
 * X-Forwarded-For from trusted hops (see clientaddr.h). The decisions are pure modules
 * (core/io/proxyproto.c, core/http/realip.c); this file only feeds them and applies the
 * verdict.
 */
#include "core/proxy/clientaddr.h"

#include <string.h>

#include "core/admin/counters.h"
#include "core/http/h1.h"
#include "core/http/msg.h"
#include "core/http/realip.h"
#include "core/io/conn.h"
#include "core/io/proxyproto.h"
#include "core/lib/log.h"
#include "core/proxy/accesslog.h"
#include "core/proxy/client.h"
#include "core/proxy/stream.h"

#define REALIP_FIELDS	16	/* X-Forwarded-For fields looked at (items: any number) */

static void
pp_on_timeout(struct conn *c)
{
	char addr[64];

	accesslog_peer(c, addr, sizeof(addr));
	log_info("client %s: PROXY protocol: no complete header within header_timeout: closed",
		 addr);
	conn_close(c);
}

static void
pp_reject(struct conn *c, const char *why)
{
	char addr[64];

	accesslog_peer(c, addr, sizeof(addr));
	log_info("client %s: PROXY protocol: %s: closed", addr, why);
	ctr_denied(&c->w->ctr, c->u.cli.lidx);
	conn_close(c);
}

/* The header is accepted: its client becomes the connection's peer; the session starts with
 * what header_timeout has left. */
static void
pp_accept(struct conn *c, const struct pp_conn *pp)
{
	const struct cfg_listener *l = cli_listener(c);
	uint64_t spent = c->w->now - c->s->t_start;
	socklen_t n = pp->client_len;

	if (n > sizeof(c->u.cli.peer))
		n = sizeof(c->u.cli.peer);
	memset(&c->u.cli.peer, 0, sizeof(c->u.cli.peer));
	memcpy(&c->u.cli.peer, &pp->client, n);
	c->u.cli.tcp_peer = c->u.cli.peer;
	if (log_threshold >= LOG_DEBUG) {
		char addr[64], hdr[200];

		accesslog_peer(c, addr, sizeof(addr));
		log_debug("client %s: %s", addr, pp_format(&pp->hdr, hdr, sizeof(hdr)));
	}
	conn_consume(c, pp->consumed);
	cli_session_start(c, spent < l->header_timeout ? l->header_timeout - spent : 1);
}

static void
pp_on_recv(struct conn *c, int res)
{
	const struct cfg_listener *l = cli_listener(c);
	struct pp_conn pp_, *pp = &pp_;
	enum pp_verdict v;

	if (res == 0 && c->in.len == 0) {
		/* a TCP connect check (or a port scan): nothing to report */
		conn_close(c);
		return;
	}
	if (res <= 0) {
		pp_reject(c, res == 0 ? "connection closed before the end of the header"
				      : "recv failed before the end of the header");
		return;
	}
	v = pp_conn_step(&l->proxy_protocol_from, (const struct sockaddr *)&c->u.cli.peer,
			 sizeof(c->u.cli.peer), c->in.base + c->in.off, c->in.len, 0, pp);
	if (v == PP_REJECT) {
		pp_reject(c, pp->why);
		return;
	}
	if (v == PP_ACCEPT) {
		pp_accept(c, pp);
		return;
	}
	/* need more: the bytes stay in c->in (PP_MAX_DEFAULT + 12 bounds the buffer) */
	if (conn_own_buffer(c, PP_MAX_DEFAULT + 64) < 0 || conn_recv(c, PP_MAX_DEFAULT + 64) < 0)
		conn_close(c);
}

void
cli_pp_start(struct conn *c)
{
	const struct cfg_listener *l = cli_listener(c);

	/* the peer is checked before any byte: an untrusted one is closed at once */
	if (!cidr_list_match(&l->proxy_protocol_from, (const struct sockaddr *)&c->u.cli.peer)) {
		pp_reject(c, "peer not in proxy_protocol_from");
		return;
	}
	c->state = CS_IDLE;
	c->on_recv = pp_on_recv;
	c->on_timeout = pp_on_timeout;
	c->s->t_start = c->w->now;
	conn_timer(c, l->header_timeout);
	if (conn_recv(c, RING_BUF_SIZE) < 0)
		conn_close(c);
}

void
cli_realip(struct conn *c, const struct h1_msg *m, const char *buf)
{
	struct realip_field f[REALIP_FIELDS];
	struct sockaddr_storage out;
	int n = 0;

	c->u.cli.peer = c->u.cli.tcp_peer;
	for (unsigned i = 0; i < m->nhdr && n < REALIP_FIELDS; i++)
		if (msg_hdr_is(buf, &m->hdr[i], "X-Forwarded-For", 15)) {
			f[n].v = h1_ptr(buf, m->hdr[i].value);
			f[n++].len = m->hdr[i].value.len;
		}
	if (n == 0 || realip_from_xff(&cli_listener(c)->real_ip_from,
				      (const struct sockaddr *)&c->u.cli.tcp_peer,
				      sizeof(c->u.cli.tcp_peer), f, n, &out) == 0)
		return;
	memset(&c->u.cli.peer, 0, sizeof(c->u.cli.peer));
	memcpy(&c->u.cli.peer, &out, out.ss_family == AF_INET ? sizeof(struct sockaddr_in)
							       : sizeof(struct sockaddr_in6));
}
