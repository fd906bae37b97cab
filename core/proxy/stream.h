/*
 * The stream: one client exchange (route, pick a server, attach a backend connection,
 * response head, end, abort). The client side (client.c) and the backend side (backend.c)
 * never call each other: each reports its events here (stream_on_*), and the stream drives
 * both through their small APIs (client.h, backend.h), the backend connection pools
 * (bepool.h), the body pumps (pump.h) and tunnels (tunnel.h). The events are plain calls:
 * there is one stream type, and an indirect call would cost on every request.
 * docs/internals.md has the map. Owner: the worker thread of the conns given.
 */
#ifndef RINGEDGE_CORE_PROXY_STREAM_H
#define RINGEDGE_CORE_PROXY_STREAM_H

#include <stddef.h>

#include "core/gen-t.h"
#include "core/http/h1-t.h"
#include "core/io/conn-t.h"
#include "core/worker-t.h"

/* A request head needs at most this much buffer (docs/http1.md). */
#define HEAD_BUF	(H1_MAX_REQLINE + H1_MAX_FIELDS_LEN + 1024)
/* nginx's "client closed request": the client left before a response head; logged only */
#define ST_CLIENT_CLOSED	499

/* The client conn that embeds stream s. */
static inline struct conn *
stream_cli(struct stream *s)
{
	return (struct conn *)((char *)s - offsetof(struct conn, u.cli.st));
}

static inline const struct cfg_listener *
cli_listener(const struct conn *c)
{
	return &c->g->cfg->listeners[c->u.cli.lidx];
}

/* The pool of client c's current exchange. */
static inline const struct cfg_pool *
stream_pool(const struct conn *c)
{
	return &c->g->cfg->pools[c->s->pool];
}

/* ---- events from the client side ---- */

/* A complete request head m (head_len bytes) sits at the front of c->in. */
void stream_on_request_head(struct conn *c, const struct h1_msg *m, uint32_t head_len);

/* Between requests: c moves to the worker's newest generation. Returns 0, or -1 when its
 * listener is gone (the caller closes c). */
int stream_adopt_gen(struct conn *c);

/* ---- events from the backend side ---- */

/* The request head went out on c's backend. */
void stream_on_request_sent(struct conn *c);

/* A complete response head m (head_len bytes) sits at the front of be->in. */
void stream_on_response_head(struct conn *be, const struct h1_msg *m, uint32_t head_len);

/* An interim (1xx, not 101) head the client must not get (HTTP/1.0, RFC 9110 15.2): the
 * backend side drops it and reads the next head. */
bool stream_drops_interim(const struct stream *s, const struct h1_msg *m);

/* c's backend could not be reached (connect, TLS handshake, connect_timeout): it is dropped
 * and the next server is tried (none left: 502/503). */
void stream_backend_failed(struct conn *c);

/* The same for a connect_timeout under congestion (queue_connect_congested()): not a
 * passive failure, and its retry costs nothing of the pool's `retries`. */
void stream_backend_congested(struct conn *c);

/* c's backend is dropped and the same server gets one fresh connection (a reused connection
 * that died, a refused TLS resumption). */
void stream_reconnect(struct conn *c);

/* Passive health: a connect error, reset or timeout talking to the stream's server. */
void stream_report_failure(struct conn *c, int err);

/* ---- the exchange ---- */

/*
 * Ends the exchange early. status: what to answer if no response head went out yet (0:
 * nothing, ST_CLIENT_CLOSED: nothing either, the client is gone), and what the access log
 * shows if it did not get a status yet. extra: response fields ("Name: value\r\n"...).
 */
void stream_abort(struct conn *c, unsigned status, const char *why);
void stream_abort_x(struct conn *c, unsigned status, const char *why, const char *extra);

/* Both directions may be finished: log, pool the backend, and go idle (or close). */
void stream_check_end(struct conn *c);

/* be serves c's exchange, on server srv of its pool. */
void stream_attach(struct conn *c, struct conn *be, int srv);

/* The request left its server (balancing counts): exactly once per begin. */
void stream_srv_end(struct conn *c);

void stream_log(struct conn *c);
void stream_reset(struct conn *c);

#endif
