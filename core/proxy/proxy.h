/*
 * HTTP/1.1 proxying over the connection primitives: request head, routing, backend choice and
 * keep-alive pool, response head, body pumps, tunnels, errors, access log. Owner: one worker
 * thread; every function runs on the worker that owns the conns it is given.
 */
#ifndef RINGEDGE_CORE_PROXY_PROXY_H
#define RINGEDGE_CORE_PROXY_PROXY_H

#include "core/io/conn-t.h"
#include "core/worker-t.h"

/* A client connection was accepted on listener lidx: start reading its first request. */
void proxy_client_start(struct conn *c, unsigned lidx);

/* The proxy as the owner of a worker's connections (conn_set_owner): connect results
 * (backend.c), splice readiness (pump.c), slot recycling (stream.c). */
struct conn_owner;
extern const struct conn_owner proxy_conn_owner;

/* Per-worker state tied to the generation (round robin, keep-alive pools). 0 or -ENOMEM. */
int proxy_worker_gen(struct worker *w, struct generation *g);

/* Drain: close idle client and backend connections. */
void proxy_close_idle(struct worker *w);

/* drain_timeout: close every client connection still busy, and its backend. */
void proxy_close_all(struct worker *w);

#endif
