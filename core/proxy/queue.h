/*
 * Backend protection (core/proxy/queue.c; docs/pools.md "Backend protection"): max_conns per
 * server with a FIFO queue per pool, connect retries with redispatch and backoff. The stream
 * calls it at a few points; it reports back through the stream's own entry points. Owner:
 * the worker thread of the conns given. A pool without max_conns costs one branch.
 */
#ifndef RINGEDGE_CORE_PROXY_QUEUE_H
#define RINGEDGE_CORE_PROXY_QUEUE_H

#include <stdbool.h>

#include "core/io/conn-t.h"

/*
 * The stream of client conn c picked server *srv. Returns 0: go on with *srv (possibly
 * another server of the pool that has room, when the request is not pinned to one), or 1:
 * the request waits in the pool's queue (resumed by stream_backend_failed-like re-entry) or
 * was answered 503 (queue full).
 */
int queue_admit(struct conn *c, int *srv);

/* c leaves its pool's queue if it is in it (abort, reset, free). */
void queue_leave(struct conn *c);

/* A backend connection to be's (pool, server) was opened / is being freed: the worker's
 * share of max_conns. Freed wakes the first request waiting that may use that server. */
void queue_be_opened(struct conn *be);
void queue_be_freed(struct conn *be);

/* A connection of (pool, srv) went idle in the keep-alive pool: a waiting request takes it. */
void queue_be_idle(struct conn *be);

/* be's TCP connect completed: the time goes to queue_connect_congested()'s evidence. */
void queue_be_connected(struct conn *be);

/* be's connect timed out while this worker completed other connects to the same server
 * (during be's attempt or the connect_timeout before it): congestion (a full listen backlog
 * drops SYNs), not a dead server. */
bool queue_connect_congested(const struct conn *be);

/*
 * Every server of the pool was tried for c's request and failed to connect (or reset before
 * any response byte, for a request that may be replayed): true when a retry was scheduled
 * (the tried set is cleared and the pick runs again after a short backoff). Costs one of the
 * pool's `retries` unless the last failure was congestion and c waited < queue_timeout.
 */
bool queue_retry_later(struct conn *c);

/* A retry is being made for c: on another server (redispatch) or after queue_retry_later;
 * counted in the access log's retries and the pool's counters. */
void queue_count_retry(struct conn *c, bool redispatch);

/* May c's request be sent again after its fresh connection closed before any response
 * byte? (idempotent, nothing of a body sent, retries left.) */
bool queue_may_resend(const struct conn *c);

#endif
