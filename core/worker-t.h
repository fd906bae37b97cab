/*
 * Worker (one thread, one ring) and the few process-wide fields workers share. Nothing in
 * struct worker is touched by another thread; struct dp_shared holds the only shared state
 * (atomics, read-mostly).
 */
#ifndef RINGEDGE_CORE_WORKER_T_H
#define RINGEDGE_CORE_WORKER_T_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/accept_limit-t.h"
#include "core/admin/counters-t.h"
#include "core/http/h1-t.h"
#include "core/io/conn-t.h"
#include "core/io/pipe-t.h"
#include "core/io/ring-t.h"
#include "core/io/timer-t.h"
#include "core/proxy/accesslog-t.h"

struct conn_owner;
struct generation;
struct qsbr_domain;
struct qsbr_worker;

#define CONN_CHUNK	256	/* conns are allocated in chunks of this many slots */

/* Shared by the control thread and every worker. */
struct dp_shared {
	void *_Atomic		 gen;		/* struct generation *, read under QSBR */
	struct qsbr_domain	*qsbr;
	_Alignas(64) _Atomic uint64_t nconns;	/* client conns, all workers (max_connections) */
	_Alignas(64) _Atomic int stop;		/* 1: drain and exit */
	_Atomic unsigned	 reopen;	/* bumped by SIGUSR1 */
	_Atomic int		 running;	/* workers whose thread has not returned */
	_Atomic int		 lsock_closing;	/* removed by a reload, accept not yet ended */
	uint64_t		 drain_deadline_ms;	/* set before stop = 1 */
	bool			 use_splice;
	uint64_t		 splice_min;	/* bodies >= this many bytes are spliced */
};

struct lsock {
	int		 fd;
	uint16_t	 lidx;		/* config listener index (of the worker's generation) */
	bool		 armed;		/* multishot accept in flight */
	bool		 removed;	/* gone from the config: closed once the accept ended */
	struct sockaddr_storage addr;	/* bound address: a reload keeps the socket if it stays */
	socklen_t	 addrlen;
};

/* The keep-alive pool of one (pool, server): a doubly linked list, most recent first. */
struct idle_list {
	struct conn	*head;
	uint32_t	 count;
};

struct worker {
	int			 id;
	pthread_t		 thread;
	struct dp_shared	*sh;
	struct ring		 ring;
	struct timer_wheel	 wheel;
	struct qsbr_worker	*q;
	struct generation	*gen;		/* current generation (a reference) */
	_Atomic unsigned	 gen_seen;	/* id of gen: control waits for it on reload */
	int			 evfd;		/* eventfd: control -> worker wake-ups */
	uint64_t		 evbuf;
	bool			 tick_armed;
	struct __kernel_timespec tick_ts;

	struct lsock		*ls;
	int			 nls;
	bool			 accept_paused;	/* max_connections reached */
	struct accept_limit	 alim;		/* accept failed for lack of fds or memory */
	struct accept_limit	 belim;		/* backend socket() failed for the same */
	bool			 stopping;
	unsigned		 reopen_seen;

	/* connection slots */
	const struct conn_owner	*owner;		/* told about connects, polls and frees */
	struct conn		**chunks;
	uint32_t		 nchunks;
	struct conn		*free_conns;
	uint32_t		 nclients;
	uint32_t		 nbackends;

	/* per current generation */
	struct idle_list	*idle;		/* per pool: [pool_base[p] + server] */
	unsigned		*pool_base;
	int			 npools;

	struct pipe_pool	 pipes;
	struct accesslog	 alog;
	struct h1_msg		 scratch;	/* head parse that completes within one read */
	uint64_t		 now;		/* ms, updated once per loop iteration */
	uint64_t		 nenter;	/* io_uring_enter calls (loop iterations) */
	uint64_t		 ncqe;		/* completions dispatched */
	struct wcounters	 ctr;		/* /metrics; only this worker writes (counters-t.h) */
	int			 rc;		/* thread exit status */
};

#endif
