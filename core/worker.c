/*
 * Worker thread: the ring loop and the one dispatcher. Each completion is routed by the op in
 * its user_data to a small handler; completions whose slot generation no longer matches are
 * stale (the slot was freed and reused) and dropped, after returning any buffer they carry.
 */
#include "core/worker.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/accept_limit.h"
#include "core/admin/counters.h"
#include "core/gen.h"
#include "core/io/conn.h"
#include "core/io/pipe.h"
#include "core/io/ring.h"
#include "core/io/timer.h"
#include "core/lib/log.h"
#include "core/proxy/accesslog.h"
#include "core/proxy/proxy.h"
#include "routing/qsbr.h"
#include "tls/tls.h"

#define RING_ENTRIES	1024
/*
 * Completions dispatched between two submits. An SQE prepared while a batch is handled
 * (the backend request for a client's record, the response to a client) would otherwise
 * wait for the whole batch: with 30-60 completions a batch under an open-loop TLS load, the
 * first send waited for the other completions' TLS work (docs/performance.md, "Tail
 * latency"). An io_uring_enter costs ~0.3 us; one per 8 completions is ~0.1 us a request.
 */
#define SUBMIT_EVERY	8

static void
accept_arm(struct worker *w, struct lsock *l, unsigned idx)
{
	struct io_uring_sqe *sqe;

	if (l->armed || l->fd < 0 || l->removed)
		return;
	sqe = ring_sqe(&w->ring, ud_pack(OP_ACCEPT, idx, 0));
	if (sqe == NULL)
		return;		/* the next tick retries */
	if (w->ring.has_multishot_accept)
		io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
	else
		io_uring_prep_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
	l->armed = true;
}

static void
accept_arm_all(struct worker *w)
{
	for (int i = 0; i < w->nls; i++)
		accept_arm(w, &w->ls[i], (unsigned)i);
}

static bool
accept_armed(const struct worker *w)
{
	for (int i = 0; i < w->nls; i++)
		if (w->ls[i].armed)
			return true;
	return false;
}

static void
accept_cancel_all(struct worker *w)
{
	for (int i = 0; i < w->nls; i++) {
		struct io_uring_sqe *sqe;

		if (!w->ls[i].armed)
			continue;
		sqe = ring_sqe(&w->ring, ud_pack(OP_CANCEL, 0, 0));
		if (sqe != NULL)
			io_uring_prep_cancel64(sqe, ud_pack(OP_ACCEPT, (uint32_t)i, 0), 0);
	}
}

/* At max_connections: stop accepting until on_tick sees the count below it again. */
static void
accept_pause(struct worker *w)
{
	if (w->accept_paused)
		return;
	log_warn("worker %d: max_connections (%llu) reached, accept paused", w->id,
		 (unsigned long long)w->gen->cfg->global.max_connections);
	w->accept_paused = true;
	accept_cancel_all(w);
}

static void
on_accepted(struct worker *w, struct lsock *l, int fd)
{
	const struct cfg_global *gl = &w->gen->cfg->global;
	uint64_t n;
	socklen_t alen;
	struct conn *c;
	int one = 1;

	if (w->stopping) {
		close(fd);
		return;
	}
	n = atomic_fetch_add_explicit(&w->sh->nconns, 1, memory_order_relaxed) + 1;
	if (n > gl->max_connections) {
		/* another worker took the last place first (or our cancel was still in flight) */
		atomic_fetch_sub_explicit(&w->sh->nconns, 1, memory_order_relaxed);
		close(fd);
		accept_pause(w);
		return;
	}
	/* this one fills the last place: the next client waits in the kernel's backlog */
	if (n == gl->max_connections)
		accept_pause(w);
	c = conn_alloc(w, CONN_CLIENT, fd);
	if (c == NULL) {
		atomic_fetch_sub_explicit(&w->sh->nconns, 1, memory_order_relaxed);
		log_error("worker %d: out of memory for a connection", w->id);
		close(fd);
		return;
	}
	alen = sizeof(c->u.cli.peer);
	if (getpeername(fd, (struct sockaddr *)&c->u.cli.peer, &alen) < 0)
		memset(&c->u.cli.peer, 0, sizeof(c->u.cli.peer));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ctr_accept(&w->ctr, l->lidx);
	proxy_client_start(c, l->lidx);
}

/* accept failed with err: a resource limit pauses accepting until the next tick, logged at
 * most once a second (core/accept_limit.h). False: not a limit, the caller logs it. */
static bool
accept_failed(struct worker *w, struct lsock *l, int err)
{
	char who[160], msg[512];
	bool log_now;

	snprintf(who, sizeof(who), "worker %d: listener %s", w->id,
		 w->gen->cfg->listeners[l->lidx].name);
	if (!accept_limit_fail(&w->alim, err, w->now, who, msg, sizeof(msg), &log_now))
		return false;
	if (log_now)
		log_warn("%s", msg);
	accept_cancel_all(w);
	return true;
}

static void
on_accept(struct worker *w, struct io_uring_cqe *cqe)
{
	uint32_t idx = ud_slot(cqe->user_data);
	struct lsock *l;

	if (idx >= (uint32_t)w->nls)
		return;
	l = &w->ls[idx];
	if (!(cqe->flags & IORING_CQE_F_MORE))
		l->armed = false;
	if (cqe->res >= 0 && l->removed) {
		close(cqe->res);	/* raced with its removal by a reload */
	} else if (cqe->res >= 0) {
		on_accepted(w, l, cqe->res);
	} else if (cqe->res == -EINVAL && w->ring.has_multishot_accept) {
		log_info("io_uring: multishot accept unavailable; using one accept per connection");
		w->ring.has_multishot_accept = false;
	} else if (cqe->res != -ECANCELED && !accept_failed(w, l, -cqe->res)) {
		log_warn("worker %d: accept on %s: %s", w->id,
			 w->gen->cfg->listeners[l->lidx].name, strerror(-cqe->res));
	}
	if (!l->armed && !w->accept_paused && !w->alim.paused && !w->stopping)
		accept_arm(w, l, idx);
	if (!l->armed && (w->stopping || l->removed) && l->fd >= 0) {
		close(l->fd);
		l->fd = -1;
		if (l->removed)
			atomic_fetch_sub_explicit(&w->sh->lsock_closing, 1, memory_order_release);
	}
}

static void
tick_arm(struct worker *w)
{
	struct io_uring_sqe *sqe = ring_sqe(&w->ring, ud_pack(OP_TICK, 0, 0));

	if (sqe == NULL)
		return;
	w->tick_ts.tv_sec = 0;
	w->tick_ts.tv_nsec = TIMER_TICK_MS * 1000000LL;
	io_uring_prep_timeout(sqe, &w->tick_ts, 0, 0);
	w->tick_armed = true;
}

static void
event_arm(struct worker *w)
{
	struct io_uring_sqe *sqe = ring_sqe(&w->ring, ud_pack(OP_EVENT, 0, 0));

	if (sqe != NULL)
		io_uring_prep_read(sqe, w->evfd, &w->evbuf, sizeof(w->evbuf), 0);
}

static void
fire_timer(struct timer *t, void *arg)
{
	struct conn *c = (struct conn *)((char *)t - offsetof(struct conn, tm));

	(void)arg;
	if (c->on_timeout != NULL && !(c->flags & CF_CLOSING))
		c->on_timeout(c);
}

static void
on_tick(struct worker *w)
{
	uint64_t n;

	w->tick_armed = false;
	timer_run(&w->wheel, w->now, fire_timer, NULL);
	n = atomic_load_explicit(&w->sh->nconns, memory_order_relaxed);
	if (!w->accept_paused && !w->stopping && n >= w->gen->cfg->global.max_connections) {
		accept_pause(w);	/* other workers filled it (or a reload lowered it) */
	} else if (w->accept_paused && !w->stopping &&
	    n < w->gen->cfg->global.max_connections) {
		log_info("worker %d: below max_connections, accept resumed", w->id);
		w->accept_paused = false;
		accept_arm_all(w);
	}
	if (w->stopping)
		proxy_close_idle(w);	/* the keep-alive clients that were busy a moment ago */
	if (accept_limit_tick(&w->alim) && !w->accept_paused && !w->stopping)
		accept_arm_all(w);	/* after an fd/memory limit: try again once per tick */
	if (w->stopping && w->now >= w->sh->drain_deadline_ms && w->nclients > 0) {
		log_warn("worker %d: drain_timeout: closing %u connection(s) still busy", w->id,
			 w->nclients);
		proxy_close_all(w);
	}
	tick_arm(w);
}

static void
begin_stop(struct worker *w)
{
	if (w->stopping)
		return;
	w->stopping = true;
	accept_cancel_all(w);
	for (int i = 0; i < w->nls; i++) {
		if (!w->ls[i].armed && w->ls[i].fd >= 0) {
			close(w->ls[i].fd);
			w->ls[i].fd = -1;
		}
	}
	proxy_close_idle(w);
}

static void
on_event(struct worker *w)
{
	unsigned r;

	if (atomic_load_explicit(&w->sh->stop, memory_order_acquire))
		begin_stop(w);
	r = atomic_load_explicit(&w->sh->reopen, memory_order_relaxed);
	if (r != w->reopen_seen) {
		int rc;

		w->reopen_seen = r;
		rc = accesslog_reopen(&w->alog);
		if (rc < 0)
			log_error("worker %d: reopening the access log: %s", w->id, strerror(-rc));
	}
	if (!w->stopping)
		event_arm(w);
}

/* The one dispatcher. */
static void
dispatch(struct worker *w, struct io_uring_cqe *cqe)
{
	unsigned op = ud_op(cqe->user_data);

	switch (op) {
	case OP_ACCEPT:
		on_accept(w, cqe);
		break;
	case OP_RECV:
	case OP_SEND:
	case OP_CONNECT:
	case OP_POLLIN:
	case OP_POLLOUT:
		conn_complete(w, cqe, op);
		break;
	case OP_TICK:
		on_tick(w);
		break;
	case OP_EVENT:
		on_event(w);
		break;
	default:	/* OP_CANCEL: nothing to do */
		break;
	}
}

static bool
same_addr(const struct sockaddr_storage *a, socklen_t alen, const struct sockaddr_storage *b,
	  socklen_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* A listening socket handed over by a reload: into a free slot (or a new one), armed. */
static int
listener_add(struct worker *w, const struct gen_bind *b, int fd)
{
	struct lsock *l = NULL;
	int i;

	for (i = 0; i < w->nls; i++) {
		if (w->ls[i].fd < 0 && !w->ls[i].armed) {
			l = &w->ls[i];
			break;
		}
	}
	if (l == NULL) {
		struct lsock *n = realloc(w->ls, (size_t)(w->nls + 1) * sizeof(*n));

		if (n == NULL)
			return -ENOMEM;
		w->ls = n;
		i = w->nls++;
		l = &w->ls[i];
	}
	memset(l, 0, sizeof(*l));
	l->fd = fd;
	l->lidx = b->lidx;
	memcpy(&l->addr, &b->addr, b->addrlen);
	l->addrlen = b->addrlen;
	if (!w->accept_paused && !w->stopping)
		accept_arm(w, l, (unsigned)i);
	return 0;
}

/*
 * Adopting generation g: listening sockets whose address stays keep running (new listener
 * index), removed ones stop accepting and close, added ones (opened by the control thread,
 * one per worker) start accepting.
 */
static void
listeners_adopt(struct worker *w, struct generation *g)
{
	for (int i = 0; i < w->nls; i++) {
		struct lsock *l = &w->ls[i];
		int j;

		if (l->fd < 0 || l->removed)
			continue;
		for (j = 0; j < g->nbinds; j++)
			if (same_addr(&l->addr, l->addrlen, &g->binds[j].addr, g->binds[j].addrlen))
				break;
		if (j < g->nbinds) {
			l->lidx = g->binds[j].lidx;
			continue;
		}
		l->removed = true;
		if (l->armed) {
			struct io_uring_sqe *sqe = ring_sqe(&w->ring, ud_pack(OP_CANCEL, 0, 0));

			/* closed by on_accept when the accept ends; the reload waits for that */
			atomic_fetch_add_explicit(&w->sh->lsock_closing, 1, memory_order_relaxed);
			if (sqe != NULL)
				io_uring_prep_cancel64(sqe, ud_pack(OP_ACCEPT, (uint32_t)i, 0), 0);
		} else {
			close(l->fd);
			l->fd = -1;
		}
	}
	for (int j = 0; j < g->nbinds; j++) {
		int fd;

		if (g->binds[j].fds == NULL || (fd = g->binds[j].fds[w->id]) < 0)
			continue;
		g->binds[j].fds[w->id] = -1;	/* ours now */
		if (listener_add(w, &g->binds[j], fd) < 0) {
			log_error("worker %d: out of memory adding a listening socket", w->id);
			close(fd);
		}
	}
}

static void
gen_check(struct worker *w)
{
	struct generation *g = qsbr_deref(&w->sh->gen);

	if (g == NULL || g == w->gen)
		return;
	/* online under QSBR: g cannot be freed before we take our reference */
	if (proxy_worker_gen(w, g) < 0) {
		log_error("worker %d: out of memory switching to generation %u", w->id, g->id);
		return;
	}
	listeners_adopt(w, g);
	gen_put(w->gen);
	w->gen = gen_get(g);
	atomic_store_explicit(&w->gen_seen, g->id, memory_order_release);
}

/* Ring, timers, pipes, generation, listeners and access log of a starting worker. Returns
 * 0, 1 (failed: tear down what was set up) or -1 (no ring: nothing to tear down). */
static int
worker_setup(struct worker *w)
{
	struct generation *g;
	int rc;

	rc = ring_init(&w->ring, RING_ENTRIES, w->id);
	if (rc < 0) {
		log_error("worker %d: io_uring setup failed: %s", w->id, strerror(-rc));
		return -1;
	}
	w->now = timer_now_ms();
	timer_wheel_init(&w->wheel, w->now);
	pipe_pool_init(&w->pipes);
	w->q = qsbr_register(w->sh->qsbr);
	g = qsbr_deref(&w->sh->gen);
	w->gen = gen_get(g);
	conn_set_owner(w, &proxy_conn_owner);
	if (proxy_worker_gen(w, g) < 0)
		return 1;
	listeners_adopt(w, g);	/* a reload may have come before we started */
	atomic_store_explicit(&w->gen_seen, g->id, memory_order_release);
	rc = accesslog_open(&w->alog, g->cfg->global.access_log);
	if (rc < 0) {
		log_error("worker %d: access_log %s: %s", w->id, g->cfg->global.access_log,
			  strerror(-rc));
		return 1;
	}
	w->reopen_seen = atomic_load(&w->sh->reopen);
	accept_arm_all(w);
	event_arm(w);
	tick_arm(w);
	if (atomic_load_explicit(&w->sh->stop, memory_order_acquire))
		begin_stop(w);
	return 0;
}

/* Draining and nothing left: true when the worker may exit. */
static bool
worker_drained(struct worker *w)
{
	if (!w->stopping || w->nclients != 0)
		return false;
	proxy_close_idle(w);
	/*
	 * An accept still armed holds its listening socket open past our close and past exit
	 * (the ring is torn down asynchronously): a restart would find the port in use. Its
	 * cancellation ends within a loop or two.
	 */
	return w->nbackends == 0 && (!accept_armed(w) || w->now >= w->sh->drain_deadline_ms);
}

/*
 * Dispatches the completions that were ready when the batch began, submitting what they
 * prepared every SUBMIT_EVERY of them. Completions that an inline submit posts meanwhile
 * wait for the next turn, so the loop's housekeeping (clock, timers, QSBR) still runs once
 * per batch. Returns the number dispatched.
 */
static unsigned
dispatch_batch(struct worker *w)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0, ready = io_uring_cq_ready(&w->ring.uring);

	io_uring_for_each_cqe(&w->ring.uring, head, cqe) {
		if (n == ready)
			break;
		w->ring.cq_next = head + 1;
		dispatch(w, cqe);
		if (++n % SUBMIT_EVERY == 0 && w->ring.pending > 0 && n < ready) {
			io_uring_submit(&w->ring.uring);	/* failures: retried at the top */
			w->ring.pending = 0;
		}
	}
	io_uring_cq_advance(&w->ring.uring, n);
	return n;
}

/* The loop: submit, wait, dispatch every completion. Returns the exit status. */
static int
worker_loop(struct worker *w)
{
	for (;;) {
		unsigned n;
		int rc;

		qsbr_offline(w->q);
		rc = io_uring_submit_and_wait(&w->ring.uring, 1);
		qsbr_online(w->q);
		w->ring.pending = 0;
		w->nenter++;
		if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) {
			log_error("worker %d: io_uring_enter: %s", w->id, strerror(-rc));
			return 1;
		}
		w->now = timer_now_ms();
		gen_check(w);
		n = dispatch_batch(w);
		w->ncqe += n;
		accesslog_flush(&w->alog);
		qsbr_quiescent(w->q);
		if (worker_drained(w))
			return 0;
	}
}

static void
worker_teardown(struct worker *w)
{
	/* what bench/cpu_compare.sh divides by the requests served (docs/internals.md) */
	log_info("worker %d: %llu io_uring_enter calls, %llu completions", w->id,
		 (unsigned long long)w->nenter, (unsigned long long)w->ncqe);
	if (w->ring.nobufs > 0)
		log_info("worker %d: %llu recv(s) found the provided buffer ring empty and used "
			 "a buffer of their own", w->id, w->ring.nobufs);
	accesslog_flush(&w->alog);
	accesslog_close(&w->alog);
	qsbr_unregister(w->q);
	for (int i = 0; i < w->nls; i++)
		if (w->ls[i].fd >= 0)
			close(w->ls[i].fd);
	ring_exit(&w->ring);
	pipe_pool_free(&w->pipes);
	for (uint32_t i = 0; i < w->nchunks; i++)
		free(w->chunks[i]);
	free(w->chunks);
	free(w->idle);
	free(w->pool_base);
	gen_put(w->gen);
	tls_thread_exit();
}

static int
worker_run(struct worker *w)
{
	int rc = worker_setup(w);

	if (rc < 0)
		return 1;	/* no ring: nothing to tear down */
	if (rc == 0)
		rc = worker_loop(w);
	worker_teardown(w);
	return rc;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	w->rc = worker_run(w);
	atomic_fetch_sub_explicit(&w->sh->running, 1, memory_order_release);
	return NULL;
}

int
worker_start(struct worker *w)
{
	int rc;

	w->evfd = eventfd(0, EFD_CLOEXEC);
	if (w->evfd < 0)
		return -errno;
	atomic_fetch_add(&w->sh->running, 1);
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	if (rc != 0) {
		atomic_fetch_sub(&w->sh->running, 1);
		close(w->evfd);
		return -rc;
	}
	return 0;
}

void
worker_wake(struct worker *w)
{
	uint64_t one = 1;

	if (write(w->evfd, &one, sizeof(one)) < 0)
		log_warn("worker %d: eventfd write: %s", w->id, strerror(errno));
}

int
worker_join(struct worker *w)
{
	pthread_join(w->thread, NULL);
	close(w->evfd);
	return w->rc;
}
