/*
 * The backend side: connect, TLS handshake to the backend (and its retry with a full
 * handshake), request head send, response head parse, failures and timeouts. Events go to
 * the stream (stream.h); nothing here touches the client conn.
 */
#include "core/proxy/backend.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/accept_limit.h"
#include "core/gen.h"
#include "core/http/h1.h"
#include "core/io/conn.h"
#include "core/io/ring.h"
#include "core/io/xprt.h"
#include "core/lib/log.h"
#include "core/proxy/proxy.h"
#include "core/proxy/queue.h"
#include "core/proxy/stream.h"
#include "routing/pool/balance.h"
#include "tls/tls.h"
#include "tls/xprt_tls.h"

static void be_on_recv_head(struct conn *be, int res);
static struct tls_sess_slot *be_sess_slot(struct conn *be);

void
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
	stream_report_failure(stream_cli(be->s), -ETIMEDOUT);
	be_fail(be, "response_timeout", 0, 504);
}

static void
be_on_body_timeout(struct conn *be)
{
	stream_report_failure(stream_cli(be->s), -ETIMEDOUT);
	be_fail(be, "idle_timeout during the response body", 0, 502);
}

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
	stream_on_request_sent(c);
}

/* Sends the request head. handshaking: a new TLS connection whose handshake is still going
 * on; the head is queued behind it and connect_timeout keeps running until it is out. */
void
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

	/* congestion (docs/pools.md "Backend protection"): no passive failure, no retry spent */
	if (queue_connect_congested(be)) {
		log_info("backend %s:%u (pool %s): connect_timeout while it completes other "
			 "connects: congested, retried", sv->host, sv->port, stream_pool(c)->name);
		stream_backend_congested(c);
		return;
	}
	log_error("backend %s:%u (pool %s): connect_timeout", sv->host, sv->port,
		  stream_pool(c)->name);
	stream_report_failure(c, -ETIMEDOUT);
	stream_backend_failed(c);
}

/* socket() failed: out of fds or memory is this proxy's limit, not the backend's: 503, and
 * one log line a second per worker with the count (core/accept_limit.h). */
static void
be_socket_failed(struct conn *c, const struct cfg_server *sv, int err)
{
	char who[160], msg[512];
	bool log_now;

	snprintf(who, sizeof(who), "worker %d: backend %s:%u (pool %s)", c->w->id, sv->host,
		 sv->port, stream_pool(c)->name);
	if (!accept_limit_backend_fail(&c->w->belim, err, c->w->now, who, msg, sizeof(msg),
				       &log_now)) {
		log_error("%s: socket: %s", who, strerror(err));
		stream_abort(c, 502, "socket");
		return;
	}
	if (log_now)
		log_warn("%s", msg);
	stream_abort(c, 503, "out of file descriptors");
}

void
be_connect(struct conn *c, int srv)
{
	const struct cfg_server *sv = &stream_pool(c)->servers[srv];
	struct conn *be;
	int fd, one = 1;

	fd = socket(sv->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		be_socket_failed(c, sv, errno);
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
	stream_attach(c, be, srv);
	queue_be_opened(be);
	be->state = BS_CONNECTING;
	be->on_timeout = be_on_connect_timeout;
	conn_timer(be, stream_pool(c)->connect_timeout);
	if (conn_connect(be, (const struct sockaddr *)&sv->addr, sv->addrlen) < 0)
		stream_abort(c, 502, "ring full");
}

void
be_on_connect(struct conn *be, int res)
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
		stream_report_failure(c, res);
		stream_backend_failed(c);
		return;
	}
	be->s->t_be_conn = be->w->now;
	queue_be_connected(be);
	if (be->g->tls_cli[be->u.be.pool] != NULL) {
		const struct cfg_server *sv = &stream_pool(c)->servers[be->s->srv];
		struct tls_sess_slot *slot;

		/*
		 * The context and the session slot belong to be->g; be keeps its own reference
		 * (xg) because be->g may move to a newer generation (bepool_pin_regen) while the
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
		be_send_request(be, true);
		return;
	}
	be_send_request(be, false);
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
		stream_reconnect(c);
		return;
	}
	log_error("backend %s:%u (pool %s): TLS handshake failed: %s", sv->host, sv->port,
		  stream_pool(c)->name, reason);
	/* a passive failure like a refused connect (nginx counts it the same way) */
	stream_report_failure(c, res == 0 ? -ECONNRESET : BAL_ERR_TLS);
	stream_backend_failed(c);
}

/* GET/HEAD on a reused connection that died before any response byte: one fresh try; on a
 * fresh one, another server within `retries` (core/proxy/queue.c). */
static bool
be_retry(struct conn *be)
{
	struct stream *s = be->s;
	struct conn *c = stream_cli(s);

	if (!(be->flags & CF_REUSED) && !(be->inflight & IF_SEND) && queue_may_resend(c)) {
		/* a fresh connection reset before any response byte: GET/HEAD go elsewhere */
		stream_report_failure(c, -ECONNRESET);
		stream_backend_failed(c);
		return true;
	}
	if (!(be->flags & CF_REUSED) || !(s->flags & SF_IDEMPOTENT) || (s->flags & SF_RETRIED) ||
	    (s->flags & SF_RESP_BYTE) || (be->inflight & IF_SEND))
		return false;
	s->flags |= SF_RETRIED;
	s->flags &= (uint16_t)~SF_REQ_DONE;
	log_info("backend (pool %s): reused connection closed before the response; retrying "
		 "on a fresh connection", stream_pool(c)->name);
	stream_reconnect(c);
	return true;
}

/* The head in be->in is not whole yet (rc 0: m kept, more read) or bad (rc < 0). */
static void
be_head_incomplete(struct conn *be, struct h1_msg *m, int rc)
{
	if (rc < 0) {
		char why[160];

		snprintf(why, sizeof(why), "bad response: %s at byte %u",
			 m->err_reason ? m->err_reason : "parse error", m->err_off);
		free(be->msg);
		be->msg = NULL;
		be_fail(be, why, 0, 502);
		return;
	}
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
			stream_report_failure(stream_cli(s), res < 0 ? res : -ECONNRESET);
		be_fail(be, res == 0 ? "closed before the response head" : "recv", res, 502);
		return;
	}
	s->flags |= SF_RESP_BYTE;
	for (;;) {
		m = be->msg;
		if (m == NULL) {
			m = &be->w->scratch;
			h1_msg_init(m, 1);
		}
		rc = h1_parse_head(m, be->in.base + be->in.off, be->in.len);
		if (rc <= 0) {
			be_head_incomplete(be, m, rc);
			return;
		}
		if (!stream_drops_interim(s, m))
			break;
		/* RFC 9110 15.2: no 1xx to an HTTP/1.0 client: the next head is read as if
		 * this one had not been sent */
		conn_consume(be, (uint32_t)rc);
		free(be->msg);
		be->msg = NULL;
	}
	stream_on_response_head(be, m, (uint32_t)rc);
}

int
be_read_head(struct conn *be)
{
	if (be->in.len > 0) {
		be_on_recv_head(be, 1);
		return 0;
	}
	if (!(be->inflight & IF_RECV))
		return conn_recv(be, RING_BUF_SIZE);
	return 0;
}

void
be_await_response(struct conn *be)
{
	/* the response deadline counts from the end of the request */
	be->on_timeout = be_on_response_timeout;
	conn_timer(be, stream_pool(stream_cli(be->s))->response_timeout);
}

void
be_body_started(struct conn *be, bool tunnel)
{
	conn_timer(be, stream_pool(stream_cli(be->s))->idle_timeout);
	be->on_timeout = be_on_body_timeout;
	be->state = tunnel ? BS_TUNNEL : BS_RESPONSE;
}
