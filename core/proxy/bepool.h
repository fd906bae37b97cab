/*
 * Backend connection pools (core/proxy/bepool.c): the per-worker keep-alive pools and the
 * connections pinned to one client (NTLM/Negotiate). Owner: the worker thread.
 */
#ifndef RINGEDGE_CORE_PROXY_BEPOOL_H
#define RINGEDGE_CORE_PROXY_BEPOOL_H

#include "core/io/conn-t.h"
#include "core/worker-t.h"

/* be's exchange ended cleanly: into the keep-alive pool of its server (or closed). */
void bepool_idle_put(struct conn *be);

/* Pops a pooled connection to (pool, srv) whose peer is still there, or NULL. */
struct conn *bepool_idle_take(struct worker *w, int pool, int srv);

/* Closes a pooled connection (unlinked first). */
void bepool_idle_close(struct conn *be);

/* Closes every pooled connection of the worker's generation. */
void bepool_close_all(struct worker *w);

/* Keeps be, whose exchange for client c just ended, private to c. */
void bepool_pin_put(struct conn *c, struct conn *be);

/* c's pinned backend when it serves c's current pool and is still connected, else NULL. */
struct conn *bepool_pin_take(struct conn *c);

/* Closes a pinned backend and unpins it from its client. */
void bepool_pin_close(struct conn *be);

/* The client moved to generation g: its pinned backend follows or is closed. */
void bepool_pin_regen(struct conn *c, struct generation *g);

#endif
