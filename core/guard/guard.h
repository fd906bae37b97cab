/*
 * The auth guard's counting table: failure counts per user, per client address and per
 * (user, address), familiar addresses, locks that grow on repeat, and the repeated-password
 * rule. Design and hook points: docs/auth-guard.md.
 *
 * One table per process (not per config generation): created at start-up, kept across
 * SIGHUP (guard_set_params() takes the new thresholds), destroyed at exit. It is sharded
 * (GUARD_SHARDS mutexes, by key hash); a call takes one shard lock at a time, never two, and
 * only requests that carry credentials call it, so requests on other routes never touch it.
 * Any thread may call any function except create/destroy. Times are milliseconds on the
 * caller's monotonic clock. Memory is bounded by max_tracked_keys (LRU eviction, locked
 * entries evicted last); guard_memory() says how much the table holds.
 */
#ifndef RINGEDGE_CORE_GUARD_GUARD_H
#define RINGEDGE_CORE_GUARD_GUARD_H

#include <stddef.h>

#include "config/config-t.h"
#include "core/guard/cred-t.h"
#include "core/guard/guard-t.h"

#define GUARD_SHARDS	64

struct guard;

/* NULL on out of memory or a zero max_tracked_keys. */
struct guard *guard_create(const struct guard_params *p);
void guard_destroy(struct guard *g);

/* New thresholds on reload; max_tracked_keys keeps its start-up value (the table is not
 * resized while workers use it; a restart applies a new cap). */
void guard_set_params(struct guard *g, const struct guard_params *p);

/* Shared counting of user and address failures (NULL: this process only). Set before the
 * workers start; c is copied. Only guard_outcome() with a failure calls c->fail, outside
 * every shard lock. */
void guard_set_counter(struct guard *g, const struct guard_counter *c);

/* How many failures the shared counter could not record (unavailable), since start. */
uint64_t guard_counter_errors(struct guard *g);

/* Params from the [auth_guard] section. */
void guard_params_from_config(struct guard_params *p, const struct cfg_auth_guard *c);

/* Fills a: user_key from cred_user_key() ("" or NULL: anonymous), the client address as
 * bytes (addr, alen: e.g. 4 or 16 bytes) and as text for logs, and c's password hash. */
void guard_attempt_init(struct guard_attempt *a, const char *user_key, const void *addr,
			size_t alen, const char *addr_text, const struct cred *c);

/*
 * Before forwarding a request that carries an attempt. Fills v and returns v->action:
 * GUARD_ALLOW (forward), GUARD_LOCKED (answer locally: user, address or familiar pair locked
 * until v->until), GUARD_REPEAT (the same wrong password for this user failed recently:
 * answer locally as failed; the directory does not see it again). log_only: the action is
 * always GUARD_ALLOW and v->would says what `on` would have done.
 */
enum guard_action guard_check(struct guard *g, const struct guard_attempt *a, uint64_t now,
			      bool log_only, struct guard_verdict *v);

/* After the response head of a forwarded attempt (success per guard_failed()). Counts the
 * failure, locks what crosses its threshold, or marks the address familiar on success.
 * Lock events go to ev (cleared first). */
void guard_outcome(struct guard *g, const struct guard_attempt *a, bool success, uint64_t now,
		   struct guard_events *ev);

/* Expires locks whose time is over, calling on_event once per unlock (with a shard lock
 * held: the callback must not call the guard). For a periodic control-thread timer. */
void guard_sweep(struct guard *g, uint64_t now,
		 void (*on_event)(const struct guard_event *e, void *arg), void *arg);

/* Does `status` on the response to an attempt of this kind mean the password failed?
 * NTLM and Basic: 401. oauthtoken: anything but 2xx. WebTicket: anything but 200. */
bool guard_failed(enum cred_kind kind, int status);

/* May a request with this Authorization value (NULL: none) pass a route whose auth_schemes
 * is `schemes` (CFG_AUTH_* bits)? No Authorization always passes (the client needs the 401
 * challenge); a Negotiate token that carries NTLM needs the ntlm bit too. */
bool guard_scheme_allowed(unsigned schemes, const char *authz, size_t len);

size_t guard_tracked(struct guard *g);	/* keys held now */
size_t guard_memory(const struct guard *g);	/* bytes the table holds (its cap, allocated) */

/* Locks held now by enum guard_what (user, address, pair), for the admin thread's /metrics:
 * one shard lock at a time. A lock whose time is over counts until guard_sweep() (or the
 * next attempt on its key) lifts it. */
void guard_locks(struct guard *g, uint64_t out[3]);

const char *guard_what_name(enum guard_what w);

/* One log line for an event, e.g. "auth guard: locked user contoso\alice (5 failures from
 * unfamiliar addresses, lock 1) for 900s" or "auth guard: unlocked address 10.0.0.1".
 * now: the caller's clock, to print the lock's length. Returns snprintf's result. */
int guard_event_text(const struct guard_event *e, uint64_t now, char *buf, size_t cap);

#endif
