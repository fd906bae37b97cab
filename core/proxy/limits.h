/*
 * Client limits per client address (issue 12; docs/auth-guard.md "Client limits"): open
 * connections (over the limit: the accepted connection is closed at once) and the request
 * rate (token bucket with a burst; over it: 429 with Retry-After), per listener and per route
 * (client_request_rate on a route), with a list of exempt networks. One process-wide table shared by all workers (64 mutex shards, a fixed
 * number of entries, least recently used entry without connections replaced when full),
 * created at start-up; a listener whose limits are 0 never touches it (one branch).
 * The client address is the conn's peer field (c->u.cli.peer), which PROXY protocol /
 * real_ip replace in place: limits and the auth guard read it from there only.
 */
#ifndef RINGEDGE_CORE_PROXY_LIMITS_H
#define RINGEDGE_CORE_PROXY_LIMITS_H

#include <stdint.h>

#include "config/config-t.h"
#include "core/gen-t.h"
#include "core/io/conn-t.h"

#define LIMITS_ENTRIES	65536	/* client addresses tracked (x listeners); 3 MiB virtual */

/* Control thread: the table (0, or -1 without memory: limits are then off, logged). */
int limits_start(void);
void limits_stop(void);

int limits_accept_(struct conn *c, const struct cfg_listener *l);
void limits_close_(struct conn *c);
int limits_request_(struct conn *c, const struct cfg_listener *l, uint32_t head_len);
int limits_route_request_(struct conn *c, const struct cfg_route *rt, uint32_t head_len);

/* A client connection was accepted on listener l: 0 to serve it, -1 when its address is at
 * client_max_connections (the caller closes it at once; counted, logged once a second). */
static inline int
limits_accept(struct conn *c, const struct cfg_listener *l)
{
	if (l->client_max_connections == 0)
		return 0;
	return limits_accept_(c, l);
}

/* The client connection is freed: its address has one connection fewer. */
static inline void
limits_close(struct conn *c)
{
	if (c->u.cli.limkey != 0)
		limits_close_(c);
}

/* A request head (head_len bytes): 0 to go on, 1 when answered 429 + Retry-After. */
static inline int
limits_request(struct conn *c, const struct cfg_listener *l, uint32_t head_len)
{
	if (l->client_request_rate == 0)
		return 0;
	return limits_request_(c, l, head_len);
}

/* The same for the route's own client_request_rate (its bucket is apart from the listener's;
 * the listener's client_limits_exempt applies), once the route is known. */
static inline int
limits_route_request(struct conn *c, const struct cfg_route *rt, uint32_t head_len)
{
	if (rt->client_request_rate == 0)
		return 0;
	return limits_route_request_(c, rt, head_len);
}

#endif
