/*
 * HTTP/1.1 proxying over the connection primitives: request head, routing, backend choice and
 * keep-alive pool, response head, body pumps, tunnels, errors, access log. Owner: one worker
 * thread; every function runs on the worker that owns the conns it is given.
 */
#ifndef RINGEDGE_CORE_PROXY_PROXY_H
#define RINGEDGE_CORE_PROXY_PROXY_H

#include "core/conn-t.h"
#include "core/worker-t.h"

/* A client connection was accepted on listener lidx: start reading its first request. */
void proxy_client_start(struct conn *c, unsigned lidx);

/* OP_CONNECT completed on backend conn be. */
void proxy_on_connect(struct conn *be, int res);

/* OP_POLLIN/OP_POLLOUT completed (splice readiness of c->rpump / c->wpump when out). */
void proxy_on_poll(struct conn *c, int res, bool out);

/* Called by conn_free before the slot is recycled: cut links to it. */
void proxy_conn_freed(struct conn *c);

/* Per-worker state tied to the generation (round robin, keep-alive pools). 0 or -ENOMEM. */
int proxy_worker_gen(struct worker *w, struct generation *g);

/* Drain: close idle client and backend connections. */
void proxy_close_idle(struct worker *w);

#endif
