/*
 * The backend side of the proxy (core/proxy/backend.c): connect, TLS handshake to the
 * backend, request head send, response head. It reports to the stream (stream.h) and never
 * touches the client conn. Owner: the worker thread of the conns given.
 */
#ifndef RINGEDGE_CORE_PROXY_BACKEND_H
#define RINGEDGE_CORE_PROXY_BACKEND_H

#include <stdbool.h>

#include "core/io/conn-t.h"

/* Opens a new connection to server srv of c's pool and attaches it to c's stream. */
void be_connect(struct conn *c, int srv);

/* The connect of be completed (the connection layer's owner hook). */
void be_on_connect(struct conn *be, int res);

/* Sends the request head. handshaking: a new TLS connection whose handshake is still going
 * on; the head is queued behind it and connect_timeout keeps running until it is out. */
void be_send_request(struct conn *be, bool handshaking);

/* After an interim response: parse what is buffered, or read more of the next head.
 * Returns 0 or -errno (nothing armed). */
int be_read_head(struct conn *be);

/* The request is fully sent: response_timeout from now. */
void be_await_response(struct conn *be);

/* The response head is in: the body (or tunnel) follows, pool idle_timeout on no progress. */
void be_body_started(struct conn *be, bool tunnel);

/* Logs what failed talking to be's server and aborts the stream with status. */
void be_fail(struct conn *be, const char *what, int err, unsigned status);

#endif
