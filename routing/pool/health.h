/*
 * Active health checks: one thread for the whole process probes every server of every pool
 * that has `health_check` (GET path, over TLS when the pool uses TLS) every
 * `health_interval`, with its own poll loop over non-blocking sockets (all due probes run
 * concurrently). 2xx/3xx = up, anything else (status, refused, reset, timeout, TLS failure) =
 * down; each change is logged once with its reason and written into the set's atomics
 * (struct bal_health), which workers read lock-free in bal_pick. A good probe also ends a
 * passive down. Design: docs/pools.md.
 */
#ifndef RINGEDGE_ROUTING_POOL_HEALTH_H
#define RINGEDGE_ROUTING_POOL_HEALTH_H

#include "routing/pool/health-t.h"

/*
 * Starts the health thread probing set s (it takes its own reference; s may be NULL:
 * nothing to probe yet). opts may be NULL. Calls tls_init(). Signals are blocked in the
 * thread. Returns NULL on failure (logged). Control thread.
 */
struct health *health_start(struct bal_set *s, const struct health_opts *opts);

/*
 * Hands the thread a new generation's set (reload): it takes its own reference, abandons
 * the probes in flight for the old set, drops its reference to the old set, and probes the
 * new set's servers at once. Server state already carried over by bal_set_build(.., old), so
 * nothing flaps. s may be NULL (stop probing). Control thread; returns at once.
 */
void health_set(struct health *h, struct bal_set *s);

/* Stops and joins the thread, drops its set reference, frees h. NULL is ignored. */
void health_stop(struct health *h);

/*
 * Applies the result of one probe to server srv of pool (the health thread does this; public
 * for tests and tools): ok clears probe_down and any passive down; !ok sets probe_down.
 * Logs a change once with reason. Returns 1 if the server went up, -1 down, 0 no change.
 */
int health_apply(const struct bal_set *s, int pool, int srv, bool ok, const char *reason,
		 uint64_t now_ms);

#endif
