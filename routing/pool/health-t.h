/*
 * Active health checking types (design: docs/pools.md). Everything here belongs to the one
 * health thread of the process, except the fields of struct health marked otherwise.
 */
#ifndef RINGEDGE_ROUTING_POOL_HEALTH_T_H
#define RINGEDGE_ROUTING_POOL_HEALTH_T_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "routing/pool/balance-t.h"

struct tls_client;
struct tls_conn;

/*
 * Called on the health thread for each up/down change a probe caused (after it was logged).
 * reason: "status 200", "connection refused", "timeout connecting (2000 ms)", "TLS
 * verification failed: ...". Must not block for long.
 */
typedef void health_change_fn(void *arg, const struct bal_set *s, int pool, int srv, bool up,
			      const char *reason);

struct health_opts {
	health_change_fn	*on_change;	/* NULL: log only */
	void			*arg;
};

enum health_probe_state {
	HP_IDLE = 0,	/* waiting for next_at */
	HP_CONNECT,	/* non-blocking connect in progress */
	HP_IO,		/* connected: TLS handshake, request out, waiting for the status line */
	HP_OFF,		/* never probed (the pool's TLS client context could not be built) */
};

/* One server being probed. */
struct health_probe {
	int			 pool, srv;
	int			 fd;		/* -1 unless CONNECT/IO */
	uint8_t			 state;		/* enum health_probe_state */
	bool			 req_sent;	/* TLS: request handed to tls_conn_send */
	uint64_t		 started;	/* ms */
	uint64_t		 next_at;	/* IDLE: when the next probe starts */
	uint64_t		 conn_deadline;	/* CONNECT: connect timeout */
	uint64_t		 deadline;	/* whole probe */
	struct tls_conn		*tls;		/* TLS pools, while connected */
	char			*req;		/* the GET request, built once; owned */
	size_t			 req_len, req_off;
	char			 in[512];	/* start of the response: the status line */
	size_t			 in_len;
};

/* What the thread probes for one bal_set. */
struct health_plan {
	struct bal_set		*set;		/* one reference; NULL: nothing to probe */
	struct health_probe	*probes;	/* [nprobes] */
	int			 nprobes;
	struct tls_client	**tls;		/* [set->npools]: client contexts of TLS pools */
};

struct health {
	pthread_t		 thread;
	int			 efd;		/* eventfd: wakes the thread (new set, stop) */
	struct health_opts	 opts;
	/* Control thread -> health thread hand-over (off the hot path: a mutex is fine). */
	pthread_mutex_t		 lock;
	bool			 pending;	/* a new set waits in next (which may be NULL) */
	struct bal_set		*next;
	_Atomic bool		 stop;
	struct health_plan	 plan;		/* health thread only */
};

#endif
