/*
 * The client side of the proxy (core/proxy/client.c): client idle and request head, our own
 * short responses, linger. It reports to the stream (stream.h) and never touches a backend.
 * Owner: the worker thread of c.
 */
#ifndef RINGEDGE_CORE_PROXY_CLIENT_H
#define RINGEDGE_CORE_PROXY_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/io/conn-t.h"

/* Between requests: wait for the next request head (a pipelined one is parsed at once). */
void cli_idle(struct conn *c, uint64_t timeout);

/* The client address is known (after the PROXY header, if any): TLS (if the listener has it)
 * and the first request head, within header_ms. */
void cli_session_start(struct conn *c, uint64_t header_ms);

/* The last response is out: shut our side, read and drop until the peer closes. */
void cli_linger(struct conn *c);

/*
 * Answers the current request with a short response of our own. keep: the stream is still
 * safe (request fully read) and the client wants keep-alive.
 */
void cli_respond(struct conn *c, unsigned status, const char *extra, bool keep);
/* cli_respond with body[0..blen) as the text/plain body (NULL: "STATUS TEXT\n"). */
void cli_respond_text(struct conn *c, unsigned status, const char *extra, const char *body,
	size_t blen, bool keep);
/* The same with a whole response built elsewhere (buf malloc'ed; the stream takes it). */
void cli_respond_raw(struct conn *c, unsigned status, char *buf, uint32_t len, bool keep);

/* 301 to https://host(no port)+target. */
void cli_redirect(struct conn *c, const char *host, size_t hlen, const char *target,
	size_t tlen, bool keep);

/* While the response is awaited, a recv stays armed to see the client leave. */
void cli_wait_arm(struct conn *c);

/* The recv armed on c is cli_wait_arm's (not a request body's or a head's). */
bool cli_waiting(const struct conn *c);

/* What the client still sends is read and dropped (after an error answer). */
void cli_drop_input(struct conn *c);

/* The exchange is moving bytes: idle_timeout on no progress (408 before the request is read). */
void cli_stream_timer(struct conn *c);

/* Drain: closes the worker's idle client connections (those idle for at least 200 ms: called
 * again every tick while stopping). */
struct worker;
void cli_close_idle(struct worker *w);

#endif
