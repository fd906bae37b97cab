/*
 * Shared failure counting for the auth guard across instances (`[auth_guard] store =
 * redis://HOST:PORT`): one sliding-window count per key (user or client address) in Redis,
 * so an attacker spreading a spray over N instances gets the threshold once, not N times.
 * Behind the guard's counting API: guard_set_counter() (guard.h) plugs gstore_fail() in.
 *
 * Each key is a Redis sorted set "ringedge:ag:<kind>:<name>" of failure times (wall clock
 * ms, the same on every instance); a failure is one MULTI: ZADD now, ZREMRANGEBYSCORE older
 * than the window, ZCARD, PEXPIRE window. Redis forgets a key by itself a window after its
 * last failure. Only failures call the store (requests without credentials never do).
 *
 * Thread-safe (one connection behind a mutex: failures are rare next to requests). Every call
 * is bounded by the timeout; while Redis is unreachable, calls fail at once without a network
 * round trip and a reconnect is tried at most once per retry interval. Failures are counted
 * (gstore_errors) and the transitions logged (down once, back up once).
 */
#ifndef RINGEDGE_CORE_GUARD_STORE_H
#define RINGEDGE_CORE_GUARD_STORE_H

#include <stddef.h>
#include <stdint.h>

#define GSTORE_RETRY_MS	1000	/* a lost Redis is tried again at most this often */

struct gstore;

/* A store for host:port (nothing is connected yet); timeout bounds connect and each command.
 * NULL on out of memory. */
struct gstore *gstore_open(const char *host, int port, uint64_t timeout_ms);
void gstore_close(struct gstore *s);

/*
 * Records one failure of `name` (kind: 'u' user, 'a' address) and returns how many failures
 * the key has within the last window_ms on every instance (this one included, >= 1), or -1
 * when Redis could not be reached or answered with an error (the caller applies its
 * fail-open or fail-closed policy).
 */
int64_t gstore_fail(struct gstore *s, char kind, const char *name, size_t len,
		    uint64_t window_ms);

/*
 * The whole hook for whoever creates the guard table (core/proxy/guard_hook.c): with
 * `[auth_guard] store` set, opens the store and plugs it into g as its shared counter
 * (store_unreachable, store_timeout); returns it (close it after the table), or NULL when no
 * store is configured or out of memory (logged; counting stays local).
 */
struct guard;
struct cfg_auth_guard;
struct gstore *gstore_attach(struct guard *g, const struct cfg_auth_guard *c);

/* Calls that found Redis unreachable or failing, since open. */
uint64_t gstore_errors(struct gstore *s);

#endif
