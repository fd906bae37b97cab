/*
 * Backend pool balancing types (design: docs/pools.md).
 *
 * Ownership and threads:
 * - struct bal_set: everything balancing needs for one configuration generation, built on the
 *   control thread by bal_set_build() and read-only afterwards except for the atomics in
 *   struct bal_health and the per-worker blocks. Refcounted (the generation holds one
 *   reference, the health thread one for the set it probes), so it never points into the
 *   struct config: what it needs is copied.
 * - struct bal_health: one per server per set, shared by every thread. Written by the health
 *   thread (active probes) and by any worker (passive failures) with atomics only; read by
 *   every worker on every pick (relaxed loads: it carries no other data).
 * - struct bal_wsrv: per worker, per server (smooth weighted round-robin weight, active request
 *   count). Each worker has its own cache-line aligned block: only that worker touches it, so
 *   no atomics and no sharing.
 */
#ifndef RINGEDGE_ROUTING_POOL_BALANCE_T_H
#define RINGEDGE_ROUTING_POOL_BALANCE_T_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config-t.h"
#include "core/lib/api-t.h"

/* bal_pick() results that are not a server index. */
#define BAL_NONE	(-1)	/* no server of the pool is up: answer 503 + Retry-After */
#define BAL_EXHAUSTED	(-2)	/* servers are up but every one was tried for this request: 502 */

#define BAL_COOKIE_NAME	"MS-WSMAN"
#define BAL_ID_LEN	16	/* cookie id: 16 lower-case hex digits */

/* bal_health.down_until: passively down until the next good active probe. */
#define BAL_DOWN_UNTIL_PROBE	UINT64_MAX

struct bal_health {
	/* 1 while the last active probe failed (health thread writes). */
	_Atomic uint32_t	 probe_down;
	/* Passive: 0 = not down; BAL_DOWN_UNTIL_PROBE; else CLOCK_MONOTONIC ms when it ends. */
	_Atomic uint64_t	 down_until;
	/* Passive window: (window start ms << 16) | failures counted in it; one CAS updates both. */
	_Atomic uint64_t	 fail_win;
	/* CLOCK_MONOTONIC ms when the server last came back up (slow_start ramp), 0: never. */
	_Atomic uint64_t	 up_since;
	/* Active probes (health thread writes, /metrics and /status read): failures so far,
	 * wall-clock ms of the last probe. */
	_Atomic uint64_t	 probe_fails;
	_Atomic uint64_t	 probe_last;
};

/* One server of a pool (immutable after the build, except h). */
struct bal_srv {
	struct bal_health	 h;
	uint64_t		 key;		/* hash of "host:port": rendezvous hashing */
	uint32_t		 weight;	/* 1..256 */
	bool			 backup;
	char			 id[BAL_ID_LEN + 1];	/* MS-WSMAN value, NUL-terminated */
	char			*name;		/* "host:port" ("[v6]:port"), for logs; owned */
	char			*host;		/* as configured: SNI / Host of probes; owned */
	uint16_t		 port;
	struct sockaddr_storage	 addr;		/* addrlen 0: unresolved (probes say so) */
	socklen_t		 addrlen;
} __attribute__((aligned(RE_CACHELINE)));

struct bal_pool {
	struct bal_srv		*srv;		/* [nsrv], cache-line aligned, owned */
	int			 nsrv;
	int			 balance;	/* enum cfg_balance */
	uint32_t		 woff;		/* first bal_wsrv of this pool in a worker block */
	uint64_t		 max_fails;	/* 0: passive accounting off */
	uint64_t		 fail_timeout;	/* ms */
	uint64_t		 slow_start;	/* ms, 0: off */
	bool			 probed;	/* health_check is set */
	/*
	 * The health thread is probing this pool (it sets this when it takes the set, clears it
	 * when it lets go): passive downs wait for a good probe only while it is true, else they
	 * last fail_timeout, so a down never waits for a probe that will not come.
	 */
	_Atomic bool		 probing;
	/*
	 * A private copy of the pool's configuration (strings strdup'ed, servers NULL) for the
	 * health thread: path, interval, timeouts, and tls/ca/verify/sni for tls_client_new().
	 */
	struct cfg_pool		 cfg;
};

/* Per worker, per server. */
struct bal_wsrv {
	int32_t			 cw;		/* smooth WRR current weight */
	uint32_t		 active;	/* requests of this worker on this server (least_conn) */
	uint8_t			 ok;		/* scratch of bal_pick: eligible in this round */
	uint32_t		 ew;		/* scratch of bal_pick: weight after slow_start */
	uint32_t		 conns;		/* this worker's open connections to it (max_conns) */
	uint64_t		 t_connected;	/* ms: this worker's last completed connect to it */
};

struct conn;

/*
 * Per worker, per pool: the queue of requests waiting for a backend connection (max_conns;
 * linked through their streams by core/proxy/queue.c, which alone touches head/tail) and the
 * pool's protection counters. Counters are monotonic except queue_len; only the owning
 * worker writes them (plain loads from another thread may tear on 32-bit, never on x86-64
 * and arm64): a metrics reader sums bal_wpool(set, w, pool)->st over the workers.
 */
struct bal_pool_stats {
	uint64_t		 queued;	/* requests that waited in the queue */
	uint64_t		 dequeued;	/* ... and got a connection */
	uint64_t		 queue_full;	/* 503: the queue was full */
	uint64_t		 queue_timeout;	/* 503: waited queue_timeout */
	uint64_t		 queued_ms;	/* total time spent queued */
	uint64_t		 retries;	/* connect retries (same server, after a backoff) */
	uint64_t		 redispatches;	/* connect retries on another server */
	uint64_t		 congested;	/* of retries: after a connect_timeout under congestion */
	uint32_t		 queue_len;	/* waiting now */
	uint32_t		 queue_max;	/* longest seen */
};

struct bal_wpool {
	struct conn		*head, *tail;	/* client conns waiting, FIFO */
	struct bal_pool_stats	 st;
};

struct bal_set {
	_Atomic unsigned	 refs;
	char			*file;		/* config file, for TLS error messages; owned */
	struct bal_pool		*pools;		/* [npools], same indexes as config.pools */
	int			 npools;
	struct bal_wsrv		**workers;	/* [nworkers] blocks of nwsrv entries */
	struct bal_wpool	**wpools;	/* [nworkers][npools] */
	int			 nworkers;
	uint32_t		 nwsrv;		/* servers of every pool */
};

/*
 * What a request offers to the balancer. Start from BAL_KEY_INIT; bal_key_addr() and
 * bal_key_cookie() fill it in.
 */
struct bal_key {
	uint8_t			 addr[16];	/* client address bytes (network order) */
	uint8_t			 addr_len;	/* 4, 16, or 0: none (source_hash falls back to RR) */
	bool			 cookie_seen;	/* an MS-WSMAN cookie naming a server was present */
	int			 cookie_srv;	/* that server's index, -1: none */
};

#define BAL_KEY_INIT	{ .addr_len = 0, .cookie_seen = false, .cookie_srv = -1 }

#endif
