/*
 * The auth guard in the stream (issue 12; docs/auth-guard.md "In the stream"): the route's
 * auth_schemes, credential extraction (Authorization; the bounded body of the oauthtoken and
 * WebTicket POSTs), guard_check() before forwarding, the local answer of a locked or repeated
 * attempt after the min_answer_time floor, guard_outcome() at the response head, and
 * hide_response_header. stream.c calls the inline entry points below: a route with the guard
 * off and every scheme allowed costs one branch. Owner: the worker thread of the conn, except
 * guard_hook_start/reload/tick/stop (control thread).
 */
#ifndef RINGEDGE_CORE_PROXY_GUARD_HOOK_H
#define RINGEDGE_CORE_PROXY_GUARD_HOOK_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config-t.h"
#include "core/gen-t.h"
#include "core/http/h1-t.h"
#include "core/http/msg.h"
#include "core/io/conn-t.h"

/* Control thread: cred_init() and the process-wide table from c->auth_guard (0, or -1 when it
 * cannot be allocated: the guard is then off, logged); new thresholds on reload (the table
 * and its counts stay); a 1 s sweep that logs unlocks (call as often as you like); exit. */
int guard_hook_start(const struct config *c);
void guard_hook_reload(const struct config *c);
void guard_hook_tick(uint64_t now);
void guard_hook_stop(void);

/* Admin thread: the locks held now by scope (enum guard_what: user, address, user+address);
 * false when the guard has no table (every route off, or no memory at start). */
bool guard_hook_locks(uint64_t out[3]);

int guard_hook_request_(struct conn *c, const struct cfg_route *rt, const struct h1_msg *m,
			const char *buf, uint32_t head_len);
void guard_hook_response_(struct conn *c, const struct h1_msg *m, const char *buf);

/*
 * Request head m (head_len bytes at buf = the front of c->in), route rt chosen, before a
 * backend is picked. Returns 0: forward as usual; 1: the stream stops here (answered
 * locally, waiting for the min_answer_time floor, or waiting for the rest of a bounded body:
 * the head is parsed again when it is in).
 */
static inline int
guard_hook_request(struct conn *c, const struct cfg_route *rt, const struct h1_msg *m,
		   const char *buf, uint32_t head_len)
{
	c->s->route = rt;
	if (rt->auth_guard == CFG_GUARD_OFF && rt->auth_schemes == CFG_AUTH_ANY)
		return 0;
	return guard_hook_request_(c, rt, m, buf, head_len);
}

/* A final response head m (parsed from buf) for c's exchange: the attempt's outcome. */
static inline void
guard_hook_response(struct conn *c, const struct h1_msg *m, const char *buf)
{
	if (c->s->gatt != NULL)
		guard_hook_response_(c, m, buf);
}

/* hide_response_header of the exchange's route and pool into ro. */
static inline void
guard_hook_resp_opts(const struct conn *c, const struct cfg_pool *p, struct msg_resp_opts *ro)
{
	const struct cfg_route *rt = c->s->route;

	if (rt != NULL) {
		ro->hide[0] = rt->hide_headers.names;
		ro->nhide[0] = rt->hide_headers.n;
	}
	ro->hide[1] = p->hide_headers.names;
	ro->nhide[1] = p->hide_headers.n;
}

/* The user of the exchange's password attempt for the access log, or NULL. */
const char *guard_hook_user(const struct conn *c);

#endif
