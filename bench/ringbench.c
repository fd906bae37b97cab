/*
 * ringbench: ringedge's HTTP/1.1 load generator. One io_uring ring per thread, no locks on
 * the request path. Closed loop (-c connections, wrk-like) or open loop (-R total rate,
 * latency from the intended send time, wrk2-like); plain or TLS (wolfSSL over memory buffers).
 * Usage and method: docs/benchmarking.md. Options and targets: rb_opts.c; results: rb_report.c;
 * what they share with this file: rb_run.h.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/hist.h"
#include "bench/rb_idle.h"
#include "bench/rb_http.h"
#include "bench/rb_run.h"
#include "bench/rb_tls.h"
#include "bench/sched.h"

#define RB_RBUF_CAP		(16 * 1024)	/* plaintext: a response head must fit */
#define RB_LATE_NS		1000000ull	/* an open-loop send more than 1 ms late is "late" */
#define RB_BACKOFF_NS		10000000ull	/* wait after a failed connect before retrying */
#define RB_DRAIN_NS		1000000000ull	/* at the end, wait this long for cancelled ops */
#define RB_TICK_NS		50000000ull	/* the loop wakes at least this often */
#define RB_CQE_BATCH		256		/* CQEs handled per loop iteration, at most */
#define RB_BATCH_NS		200000ull	/* closed loop: longest wait for a batch of responses */

/* io_uring user_data: {op:8, slot:24, generation:32}; a stale generation is ignored. */
enum rb_op {
	OP_CONNECT = 1,
	OP_SEND,
	OP_RECV,
	OP_CANCEL,	/* completion of a cancel request: nothing to do */
};

static inline uint64_t
token(enum rb_op op, uint32_t slot, uint32_t gen)
{
	return (uint64_t)op << 56 | (uint64_t)(slot & 0xffffff) << 32 | gen;
}

/* Connection lifecycle. */
enum conn_state {
	C_IDLE,		/* no socket; in the wait heap until its next start (ramp, slot, back-off) */
	C_CONNECTING,	/* connect in flight */
	C_HANDSHAKE,	/* TLS handshake in flight */
	C_READY,	/* connected, no request; waiting for its next open-loop slot */
	C_ACTIVE,	/* a request is being sent and its response read */
	C_CLOSING,	/* shut down and cancelled; closed when no op is in flight */
	C_DONE,		/* finished for this run */
};

struct run R;

struct conn {
	uint32_t	slot, gen;
	int		fd;
	enum conn_state	state;
	uint8_t		nflight;	/* ops in flight that reference this conn and its buffers */
	uint8_t		send_busy, recv_busy, connect_busy;
	uint8_t		in_request;	/* a request attempt is under way (started, not finished) */
	uint8_t		resp_done;	/* response complete; finishes once the send completes too */
	uint8_t		measured;	/* -n mode: this attempt holds a ticket */
	uint8_t		retired;	/* -n used up: never start again */
	uint8_t		awaiting;	/* request sent, response not complete (w->awaiting) */
	uint8_t		idle_n;		/* --idle: responses on this connection so far */
	uint8_t		is_open;	/* --idle: counted in R.open */
	uint32_t	target, rr;
	const struct request *req;
	const char	*out;		/* plaintext request bytes (plain) */
	size_t		out_len, out_off;
	char		*rbuf;
	size_t		rlen;
	struct rb_resp	resp;
	uint64_t	t_intended, t_start, t_deadline, wake, backoff;
	struct sched	sched;
	struct rb_tls	tls;
	WOLFSSL_SESSION	*sess;
};

uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
note_err(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (w->first_err[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(w->first_err, sizeof(w->first_err), fmt, ap);
	va_end(ap);
}

/* ---- wait heap: connections waiting for a start time ---- */

static void
heap_push(struct worker *w, struct conn *c, uint64_t wake)
{
	uint32_t i = w->nheap++, p;

	c->wake = wake;
	while (i > 0) {
		p = (i - 1) / 2;
		if (w->heap[p]->wake <= wake)
			break;
		w->heap[i] = w->heap[p];
		i = p;
	}
	w->heap[i] = c;
}

static struct conn *
heap_pop(struct worker *w)
{
	struct conn *top = w->heap[0], *last = w->heap[--w->nheap];
	uint32_t i = 0, k;

	for (;;) {
		k = 2 * i + 1;
		if (k >= w->nheap)
			break;
		if (k + 1 < w->nheap && w->heap[k + 1]->wake < w->heap[k]->wake)
			k++;
		if (last->wake <= w->heap[k]->wake)
			break;
		w->heap[i] = w->heap[k];
		i = k;
	}
	if (w->nheap > 0)
		w->heap[i] = last;
	return top;
}

/* ---- ring helpers ---- */

/* Never assume an SQE is free: on a full SQ, submit what is queued and try once more. */
static struct io_uring_sqe *
get_sqe(struct worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	if (sqe == NULL) {
		io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
	}
	return sqe;
}

static int is_measured(struct worker *w, struct conn *c, uint64_t now);
static void conn_error(struct worker *w, struct conn *c, enum rb_err kind, uint64_t now);
static void conn_wake(struct worker *w, struct conn *c, uint64_t now);
static void request_finish(struct worker *w, struct conn *c, uint64_t now);

static const char *
out_ptr(struct conn *c)
{
	return R.targets[c->target].tls ? c->tls.out : c->out;
}

static size_t
out_end(struct conn *c)
{
	return R.targets[c->target].tls ? c->tls.out_len : c->out_len;
}

static int
queue_send(struct worker *w, struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->send_busy || c->out_off >= out_end(c))
		return 0;
	sqe = get_sqe(w);
	if (sqe == NULL)
		return -EBUSY;
	io_uring_prep_send(sqe, c->fd, out_ptr(c) + c->out_off, out_end(c) - c->out_off,
	    MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, token(OP_SEND, c->slot, c->gen));
	c->send_busy = 1;
	c->nflight++;
	w->nsend_q++;
	return 0;
}

static int
queue_recv(struct worker *w, struct conn *c)
{
	struct io_uring_sqe *sqe;
	char *p;
	size_t n;

	if (c->recv_busy)
		return 0;
	if (R.targets[c->target].tls) {
		p = c->tls.in + c->tls.in_len;
		n = rb_tls_in_space(&c->tls);
	} else {
		p = c->rbuf + c->rlen;
		n = RB_RBUF_CAP - c->rlen;
	}
	if (n == 0)
		return -ENOBUFS;
	sqe = get_sqe(w);
	if (sqe == NULL)
		return -EBUSY;
	io_uring_prep_recv(sqe, c->fd, p, n, 0);
	io_uring_sqe_set_data64(sqe, token(OP_RECV, c->slot, c->gen));
	c->recv_busy = 1;
	c->nflight++;
	return 0;
}

/* ---- connection lifecycle ---- */

static void
set_awaiting(struct worker *w, struct conn *c, int on)
{
	if (c->awaiting == on)
		return;
	c->awaiting = (uint8_t)on;
	if (on)
		w->awaiting++;
	else
		w->awaiting--;
	if (R.o.idle)
		atomic_fetch_add_explicit(&R.waiting, on ? 1u : (uint32_t)-1, memory_order_relaxed);
}

/* Closes the socket once nothing in flight references it, then schedules the next start. */
static void
conn_maybe_close(struct worker *w, struct conn *c, uint64_t now)
{
	uint64_t wake;

	if (c->state != C_CLOSING || c->nflight > 0)
		return;
	/* Safe: no SQE references this fd or its buffers any more. */
	close(c->fd);
	c->fd = -1;
	c->gen++;
	c->rlen = 0;
	c->out_off = 0;
	c->tls.in_off = c->tls.in_len = c->tls.out_len = 0;
	if (w->stopping || c->retired) {
		c->state = C_DONE;
		return;
	}
	c->state = C_IDLE;
	wake = now + c->backoff;
	/* A new-connection open loop starts its next connection at its next slot. */
	if (R.o.rate > 0 && R.o.new_conn && sched_due(&c->sched) > wake)
		wake = sched_due(&c->sched);
	heap_push(w, c, wake);
}

/* Shuts the socket down and cancels its ops; the close happens in conn_maybe_close. */
static void
conn_shutdown(struct worker *w, struct conn *c, uint64_t now)
{
	struct io_uring_sqe *sqe;

	if (c->tls.ssl != NULL)
		rb_tls_end(&c->tls, NULL);
	set_awaiting(w, c, 0);
	if (c->is_open) {
		c->is_open = 0;
		atomic_fetch_sub_explicit(&R.open, 1, memory_order_relaxed);
	}
	c->state = C_CLOSING;
	if (c->nflight > 0) {
		/* shutdown() ends a pending recv/send; the cancel also covers a pending connect. */
		shutdown(c->fd, SHUT_RDWR);
		sqe = get_sqe(w);
		if (sqe != NULL) {
			io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
			io_uring_sqe_set_data64(sqe, token(OP_CANCEL, c->slot, c->gen));
		}
	}
	conn_maybe_close(w, c, now);
}

static void
count_error(struct worker *w, struct conn *c, enum rb_err kind, uint64_t now)
{
	if (is_measured(w, c, now)) {
		w->st.errors[kind]++;
		/* A timed-out request still enters the histogram (at its age now): nothing is dropped. */
		if (kind == E_TIMEOUT) {
			hist_record(w->lat, now - c->t_intended);
			if (R.o.rate > 0)
				hist_record(w->lat_unc, now - c->t_start);
		}
	}
	atomic_fetch_add_explicit(&w->live_err, 1, memory_order_relaxed);
}

/* -n mode: claims one request attempt; 0 when all n are taken. */
static int
claim_ticket(struct conn *c, uint64_t now)
{
	c->measured = 0;
	if (R.o.nreq == 0 || now < R.tw)
		return 1;
	if (atomic_fetch_add(&R.tickets, 1) >= R.o.nreq)
		return 0;
	c->measured = 1;
	return 1;
}

static void
conn_retire(struct worker *w, struct conn *c, uint64_t now)
{
	c->in_request = 0;
	c->retired = 1;
	if (c->fd >= 0)
		conn_shutdown(w, c, now);
	else
		c->state = C_DONE;
}

static void
conn_error(struct worker *w, struct conn *c, enum rb_err kind, uint64_t now)
{
	if (R.o.idle) {
		/* --idle: a connection that failed or was closed is not retried: the count held
		 * is what this client, this server and this host allow. */
		count_error(w, c, kind, now);
		conn_retire(w, c, now);
		return;
	}
	/* A failed pre-connect (keep-alive, no request yet) is an attempt too in -n mode. */
	if (!c->in_request && R.o.nreq > 0 && !claim_ticket(c, now)) {
		c->backoff = 0;
		conn_retire(w, c, now);
		return;
	}
	count_error(w, c, kind, now);
	c->in_request = 0;
	c->backoff = kind == E_CONNECT ? RB_BACKOFF_NS : 0;
	conn_shutdown(w, c, now);
}

static int
is_measured(struct worker *w, struct conn *c, uint64_t now)
{
	(void)w;
	/* -n: a request counts if it holds a ticket; events outside requests (pre-connects,
	 * their handshakes) count after the warm-up. */
	if (R.o.nreq > 0 && c->in_request)
		return c->measured;
	return now >= R.tw && now < R.te;
}

static const struct request *
next_request(struct conn *c)
{
	const struct target *t = &R.targets[c->target];

	return &R.reqs[t->urls[c->rr++ % t->nurls]];
}

/* --idle: remembers the first errno that names a local limit (fd, ports, memory). */
static void
note_limit(int err)
{
	int none = 0;

	if (R.o.idle && rb_limit_name(err) != NULL)
		atomic_compare_exchange_strong(&R.limit_err, &none, err);
}

static int
conn_connect(struct worker *w, struct conn *c, uint64_t now)
{
	const struct target *t = &R.targets[c->target];
	struct io_uring_sqe *sqe;
	int one = 1;

	int ret;

	c->fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		note_limit(errno);
		note_err(w, "socket: %s", strerror(errno));
		c->state = C_CLOSING;
		conn_error(w, c, E_CONNECT, now);
		return -1;
	}
	if (R.o.have_source &&
	    (ret = rb_source_bind(c->fd, &R.o.source, (uint64_t)w->gbase + c->slot)) < 0) {
		note_limit(-ret);
		note_err(w, "bind --source: %s", strerror(-ret));
		c->state = C_CLOSING;
		conn_error(w, c, E_CONNECT, now);
		return -1;
	}
	/* Requests are small and latency-bound: do not let Nagle hold them back. */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->state = C_CONNECTING;
	c->t_deadline = now + R.o.timeout_ns;
	sqe = get_sqe(w);
	if (sqe == NULL) {
		note_err(w, "submission queue full");
		conn_error(w, c, E_CONNECT, now);
		return -1;
	}
	io_uring_prep_connect(sqe, c->fd, (const struct sockaddr *)&t->addr, t->addrlen);
	io_uring_sqe_set_data64(sqe, token(OP_CONNECT, c->slot, c->gen));
	c->connect_busy = 1;
	c->nflight++;
	return 0;
}

/* Starts a request attempt on c (ticket, intended time, URL). 0 if the run has no more. */
static int
request_begin(struct worker *w, struct conn *c, uint64_t now)
{
	if (!claim_ticket(c, now))
		return 0;
	c->in_request = 1;
	c->resp_done = 0;
	c->t_start = now;
	c->t_deadline = now + R.o.timeout_ns;
	c->req = next_request(c);
	rb_resp_init(&c->resp, c->req->head);
	if (R.o.rate > 0) {
		c->t_intended = sched_take(&c->sched);
		if (is_measured(w, c, c->t_intended)) {
			w->st.sent++;
			if (now > c->t_intended + RB_LATE_NS)
				w->st.late++;
		}
	} else {
		c->t_intended = now;
	}
	return 1;
}

static void
send_request(struct worker *w, struct conn *c, uint64_t now)
{
	c->state = C_ACTIVE;
	c->rlen = 0;
	if (R.targets[c->target].tls) {
		if (rb_tls_write(&c->tls, c->req->buf, c->req->len) < 0) {
			note_err(w, "TLS write failed");
			conn_error(w, c, E_TLS, now);
			return;
		}
	} else {
		c->out = c->req->buf;
		c->out_len = c->req->len;
		c->out_off = 0;
	}
	if (queue_send(w, c) < 0 || queue_recv(w, c) < 0) {
		note_err(w, "submission queue full");
		conn_error(w, c, E_RESET, now);
		return;
	}
	set_awaiting(w, c, 1);
}

/* The connection is usable: send the pending request, or wait for the next one. */
static void
conn_established(struct worker *w, struct conn *c, uint64_t now)
{
	if (R.o.idle && !c->is_open) {
		c->is_open = 1;
		atomic_fetch_add_explicit(&R.open, 1, memory_order_relaxed);
	}
	if (c->in_request) {
		send_request(w, c, now);
		return;
	}
	c->state = C_READY;
	if (R.o.rate > 0 && sched_due(&c->sched) > now)
		heap_push(w, c, sched_due(&c->sched));
	else
		conn_wake(w, c, now);
}

static void
tls_drive_handshake(struct worker *w, struct conn *c, uint64_t now)
{
	char err[160];
	int ret = rb_tls_handshake(&c->tls, err, sizeof(err));

	if (queue_send(w, c) < 0)
		ret = -1;
	if (ret < 0) {
		note_err(w, "%s: %s", R.targets[c->target].addrtext, err);
		if (R.o.resume && c->sess != NULL) {
			/*
			 * wolfSSL's TLS 1.2 client fails (-373, out of order message) when the server
			 * declines its ticket (rotated key, restart; docs/tls.md) instead of going on
			 * with the full handshake. Never offer that session again: this connection's
			 * next handshake is a full one, not the same failure forever.
			 */
			wolfSSL_SESSION_free(c->sess);
			c->sess = NULL;
			if (is_measured(w, c, now))
				w->st.resume_failed++;
		}
		conn_error(w, c, E_TLS, now);
		return;
	}
	if (ret == 0) {
		if (queue_recv(w, c) < 0)
			conn_error(w, c, E_TLS, now);
		return;
	}
	if (rb_tls_resumed(&c->tls)) {
		if (is_measured(w, c, now))
			w->st.hs_resumed++;
	} else if (is_measured(w, c, now)) {
		w->st.hs_full++;
	}
	if (w->tls_version == NULL) {
		w->tls_version = wolfSSL_get_version(c->tls.ssl);
		w->tls_cipher = wolfSSL_get_cipher_name(c->tls.ssl);
		w->tls_group = wolfSSL_get_curve_name(c->tls.ssl);
	}
	conn_established(w, c, now);
}

/* A start time came due (heap) or the conn is free in closed loop. */
static void
conn_wake(struct worker *w, struct conn *c, uint64_t now)
{
	if (w->stopping || c->state == C_DONE)
		return;
	if (c->state == C_IDLE) {
		if (R.o.new_conn && !request_begin(w, c, now)) {
			c->state = C_DONE;
			return;
		}
		conn_connect(w, c, now);
		return;
	}
	if (c->state == C_READY) {
		if (!request_begin(w, c, now)) {
			conn_retire(w, c, now);
			return;
		}
		send_request(w, c, now);
	}
}

/* Feeds plaintext to the parser: 1 response complete, 0 need more, -1 conn failed. */
static int
conn_feed(struct worker *w, struct conn *c, uint64_t now)
{
	size_t used;
	int ret = rb_resp_feed(&c->resp, c->rbuf, c->rlen, &used);

	if (ret < 0) {
		note_err(w, "malformed response from %s", R.targets[c->target].addrtext);
		conn_error(w, c, E_PARSE, now);
		return -1;
	}
	memmove(c->rbuf, c->rbuf + used, c->rlen - used);
	c->rlen -= used;
	if (ret > 0) {
		if (c->rlen > 0) {
			note_err(w, "%s sent bytes after the response", R.targets[c->target].addrtext);
			conn_error(w, c, E_PARSE, now);
			return -1;
		}
		c->resp_done = 1;
		set_awaiting(w, c, 0);
		w->got++;
		if (!c->send_busy)
			request_finish(w, c, now);
		return 1;
	}
	if (c->rlen == RB_RBUF_CAP) {
		note_err(w, "response head larger than %d bytes", RB_RBUF_CAP);
		conn_error(w, c, E_PARSE, now);
		return -1;
	}
	return 0;
}

static void
conn_eof(struct worker *w, struct conn *c, uint64_t now)
{
	int ret;

	if (c->state == C_HANDSHAKE) {
		note_err(w, "%s closed the connection during the TLS handshake",
		    R.targets[c->target].addrtext);
		conn_error(w, c, E_TLS, now);
		return;
	}
	if (c->state != C_ACTIVE) {
		note_err(w, "%s closed the connection", R.targets[c->target].addrtext);
		conn_error(w, c, E_CLOSED, now);
		return;
	}
	ret = rb_resp_eof(&c->resp);
	if (ret == RB_RESP_EEMPTY) {
		note_err(w, "%s closed the connection before the response",
		    R.targets[c->target].addrtext);
		conn_error(w, c, E_CLOSED, now);
	} else if (ret < 0) {
		note_err(w, "%s closed the connection inside the response (short body)",
		    R.targets[c->target].addrtext);
		conn_error(w, c, E_SHORT, now);
	} else {
		c->resp.keepalive = 0;
		c->resp_done = 1;
		set_awaiting(w, c, 0);
		w->got++;
		if (!c->send_busy)
			request_finish(w, c, now);
	}
}

static void
tls_read_loop(struct worker *w, struct conn *c, uint64_t now)
{
	int i, ret;

	/* Bounded: each pass drains at least one record or returns. */
	for (i = 0; i < 64; i++) {
		ret = rb_tls_read(&c->tls, c->rbuf + c->rlen, RB_RBUF_CAP - c->rlen);
		if (ret > 0) {
			c->rlen += (size_t)ret;
			if (conn_feed(w, c, now) != 0)
				return;
			continue;
		}
		if (ret == -2) {
			conn_eof(w, c, now);
			return;
		}
		if (ret < 0) {
			note_err(w, "TLS read error from %s", R.targets[c->target].addrtext);
			conn_error(w, c, E_TLS, now);
			return;
		}
		break;
	}
	if (queue_recv(w, c) < 0)
		conn_error(w, c, E_PARSE, now);
}

/*
 * --idle: after its first response a connection is held; one in every N/--idle-sample sends
 * a second request at R.t_second, then is held again. A server that closes is not retried.
 */
static void
idle_hold(struct worker *w, struct conn *c, uint64_t now)
{
	uint64_t g = (uint64_t)w->gbase + c->slot, step;

	if (!c->resp.keepalive) {
		atomic_fetch_add_explicit(&R.not_kept, 1, memory_order_relaxed);
		conn_retire(w, c, now);
		return;
	}
	c->state = C_READY;
	if (c->idle_n++ > 0)
		return;
	atomic_fetch_add_explicit(&R.answered, 1, memory_order_relaxed);
	step = R.o.idle_sample ? R.o.idle / R.o.idle_sample : 0;
	if (step > 0 && g % step == 0 && g / step < R.o.idle_sample)
		heap_push(w, c, R.t_second);
}

static void
request_finish(struct worker *w, struct conn *c, uint64_t now)
{
	int status = c->resp.status, ok, i;

	if (is_measured(w, c, now)) {
		w->st.responses++;
		w->st.status[status >= 100 && status < 600 ? status / 100 : 0]++;
		if (!R.o.idle || c->idle_n > 0)
			hist_record(w->lat, now - c->t_intended);
		if (R.o.rate > 0)
			hist_record(w->lat_unc, now - c->t_start);
		if (R.o.nexpect > 0) {
			for (ok = 0, i = 0; i < R.o.nexpect; i++)
				ok |= R.o.expect[i] == status;
		} else {
			ok = status >= 100 && status < 400;
		}
		if (!ok) {
			w->st.errors[E_STATUS]++;
			note_err(w, "status %d", status);
			atomic_fetch_add_explicit(&w->live_err, 1, memory_order_relaxed);
		}
		w->t_last_done = now;
	}
	atomic_fetch_add_explicit(&w->live_done, 1, memory_order_relaxed);
	c->in_request = 0;
	c->resp_done = 0;
	if (R.o.idle) {
		idle_hold(w, c, now);
		return;
	}
	if (!c->resp.keepalive || R.o.new_conn) {
		/* With --resume the session (and its ticket) is kept for the next connection. */
		if (c->tls.ssl != NULL)
			rb_tls_end(&c->tls, R.o.resume ? &c->sess : NULL);
		c->backoff = 0;
		conn_shutdown(w, c, now);
		return;
	}
	c->state = C_READY;
	if (R.o.rate > 0 && sched_due(&c->sched) > now)
		heap_push(w, c, sched_due(&c->sched));
	else
		conn_wake(w, c, now);
}

/* ---- completions ---- */

static void
on_connect(struct worker *w, struct conn *c, int res, uint64_t now)
{
	const struct target *t = &R.targets[c->target];

	c->connect_busy = 0;
	if (res < 0) {
		note_limit(-res);
		note_err(w, "connect %s: %s", t->addrtext, strerror(-res));
		conn_error(w, c, E_CONNECT, now);
		return;
	}
	w->st.connects++;
	if (!t->tls) {
		conn_established(w, c, now);
		return;
	}
	if (rb_tls_begin(&c->tls, w->tls_ctx, t->host, !R.o.insecure,
	    R.o.resume ? c->sess : NULL) < 0) {
		note_err(w, "cannot set up a TLS session for %s", t->host);
		conn_error(w, c, E_TLS, now);
		return;
	}
	c->out_off = 0;
	c->state = C_HANDSHAKE;
	tls_drive_handshake(w, c, now);
}

static void
on_send(struct worker *w, struct conn *c, int res, uint64_t now)
{
	c->send_busy = 0;
	if (res < 0) {
		if (res != -ECANCELED)
			note_err(w, "send to %s: %s", R.targets[c->target].addrtext, strerror(-res));
		conn_error(w, c, E_RESET, now);
		return;
	}
	c->out_off += (size_t)res;
	if (c->out_off < out_end(c)) {
		if (queue_send(w, c) < 0)
			conn_error(w, c, E_RESET, now);
		return;
	}
	if (R.targets[c->target].tls)
		c->out_off = c->tls.out_len = 0;
	if (c->resp_done)
		request_finish(w, c, now);
}

static void
on_recv(struct worker *w, struct conn *c, int res, uint64_t now)
{
	int tls = R.targets[c->target].tls;

	c->recv_busy = 0;
	if (res < 0) {
		note_err(w, "recv from %s: %s", R.targets[c->target].addrtext, strerror(-res));
		conn_error(w, c, E_RESET, now);
		return;
	}
	if (now >= R.tw && now < R.te)
		w->st.bytes_in += (uint64_t)res;
	if (res == 0) {
		if (tls) {
			/* wolfSSL may still hold buffered records; its recv callback now reports close. */
			c->tls.eof = 1;
			if (c->state == C_ACTIVE) {
				tls_read_loop(w, c, now);
				return;
			}
		}
		conn_eof(w, c, now);
		return;
	}
	if (!tls) {
		c->rlen += (size_t)res;
		if (conn_feed(w, c, now) == 0 && queue_recv(w, c) < 0)
			conn_error(w, c, E_PARSE, now);
		return;
	}
	c->tls.in_len += (size_t)res;
	if (c->state == C_HANDSHAKE)
		tls_drive_handshake(w, c, now);
	else
		tls_read_loop(w, c, now);
}

static void
dispatch(struct worker *w, struct io_uring_cqe *cqe, uint64_t now)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	enum rb_op op = (enum rb_op)(ud >> 56);
	uint32_t slot = (uint32_t)(ud >> 32) & 0xffffff, gen = (uint32_t)ud;
	struct conn *c;

	if (op == OP_CANCEL || slot >= w->nconn)
		return;
	c = &w->conns[slot];
	if (gen != c->gen)
		return;		/* stale: the slot has a new socket since */
	c->nflight--;
	if (c->state == C_CLOSING) {
		if (op == OP_SEND)
			c->send_busy = 0;
		else if (op == OP_RECV)
			c->recv_busy = 0;
		else
			c->connect_busy = 0;
		conn_maybe_close(w, c, now);
		return;
	}
	switch (op) {
	case OP_CONNECT:
		on_connect(w, c, cqe->res, now);
		break;
	case OP_SEND:
		on_send(w, c, cqe->res, now);
		break;
	case OP_RECV:
		on_recv(w, c, cqe->res, now);
		break;
	default:
		break;
	}
}

/* ---- the worker loop ---- */

static void
scan_timeouts(struct worker *w, uint64_t now)
{
	uint32_t i;
	struct conn *c;

	for (i = 0; i < w->nconn; i++) {
		c = &w->conns[i];
		if ((c->state == C_CONNECTING || c->state == C_HANDSHAKE || c->state == C_ACTIVE) &&
		    now >= c->t_deadline) {
			note_err(w, "timeout (%s) waiting for %s",
			    c->state == C_ACTIVE ? "response" : "connect/handshake",
			    R.targets[c->target].addrtext);
			conn_error(w, c, c->in_request ? E_TIMEOUT : E_CONNECT, now);
		}
	}
}

static int
busy_requests(struct worker *w)
{
	uint32_t i;

	for (i = 0; i < w->nconn; i++)
		if (w->conns[i].in_request)
			return 1;
	return 0;
}

static void
begin_stop(struct worker *w, uint64_t now)
{
	uint32_t i;
	struct conn *c;
	uint64_t due, due_w, k;

	w->stopping = 1;
	w->t_stop = now;
	getrusage(RUSAGE_THREAD, &w->ru1);
	w->ru_t1 = now;
	for (i = 0; i < w->nconn; i++) {
		c = &w->conns[i];
		if (R.o.rate > 0 && R.o.nreq == 0) {
			/* Slots due inside the window that were never sent. */
			due = sched_due_before(&c->sched, R.te);
			due_w = sched_due_before(&c->sched, R.tw);
			k = c->sched.k > due_w ? c->sched.k : due_w;
			if (due > k)
				w->st.unsent += due - k;
		}
		c->in_request = 0;
		if (c->fd >= 0 && c->state != C_CLOSING)
			conn_shutdown(w, c, now);
		else if (c->fd < 0)
			c->state = C_DONE;
	}
}

static int
all_quiet(struct worker *w)
{
	uint32_t i;

	for (i = 0; i < w->nconn; i++)
		if (w->conns[i].nflight > 0)
			return 0;
	return 1;
}

static int
worker_ring_init(struct worker *w)
{
	struct io_uring_params p;
	unsigned entries = 64;
	int ret;

	/* Each conn has at most 2 ops in flight plus a cancel; size the SQ so it never fills. */
	while (entries < 2 * w->nconn + 16 && entries < 4096)
		entries *= 2;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
	p.cq_entries = entries * 4;
	ret = io_uring_queue_init_params(entries, &w->ring, &p);
	if (ret == -EINVAL) {
		/* Kernels before 6.1: no DEFER_TASKRUN. */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN;
		p.cq_entries = entries * 4;
		ret = io_uring_queue_init_params(entries, &w->ring, &p);
	}
	if (ret == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = entries * 4;
		ret = io_uring_queue_init_params(entries, &w->ring, &p);
	}
	return ret;
}

static int
should_stop(struct worker *w, uint64_t now)
{
	if (atomic_load_explicit(&R.stop, memory_order_relaxed))
		return 1;
	if ((R.o.nreq == 0 || R.o.have_duration) && now >= R.te)
		return 1;
	if (R.o.nreq > 0 && atomic_load(&R.tickets) >= R.o.nreq && !busy_requests(w))
		return 1;
	return 0;
}

/*
 * How many completions to wait for, and until when. Waiting for the first completion makes
 * the server's CPU wake this thread for nearly every response in a closed loop: on loopback
 * the response's sender runs our socket's receive path and, when this thread sleeps, the
 * wake-up (try_to_wake_up and an IPI), on the CPU that is the bottleneck of the run. With
 * many requests out, wait instead for half of them to answer: io_uring's poll completions
 * wake a DEFER_TASKRUN ring's task only once that many are queued, so the server pays one
 * wake-up per batch, while it still has the other half queued and never runs dry.
 * RB_BATCH_NS bounds the wait (our own timer, on our CPU). When a batch wait times out with
 * some responses, the next ones ask for no more than that window brought (a few fast
 * connections among slow ones), growing back after each batch that filled; when that is a
 * single response, waits are plain and batching is tried again 64 waits later. Open loop,
 * start-up, the end and small counts (up to 3 requests out) wait for one response. The
 * sends queued this iteration complete inline and count as completions: they are added, so
 * they do not end the wait at once (that cost one io_uring_enter per request).
 *
 * A batch wait that fills is followed by a collect (0 here: submit, run the ring's pending
 * task work, no wait). After the wake-up the kernel runs only as many completions as the
 * wait still needed (io_cqring_wait: io_run_local_work(ctx, nr_wait, nr_wait)); responses
 * that arrive while this thread is being woken stay queued until the next wait is satisfied,
 * i.e. a whole batch later, and their connections idle meanwhile. With few connections that
 * is a large share of them (plain -c8: 2.7 more responses per collect after a batch of 4).
 * What a collect finds is what the server answered while this thread was being woken: the
 * batch leaves twice that (w->late, a running mean) with the server, so that it is not idle
 * by the time the next requests go out (with 8 connections: batches of 2, not 4; from about
 * 32 connections on, half of them is less than that anyway). When that leaves fewer than 2
 * to wait for, waits are plain and w->late is halved every 64 of them.
 *
 * Below --batch-from connections per thread (RB_BATCH_FROM) every wait is plain. There the
 * server holds few requests, so one wake-up of this thread that comes late (a busy host; on
 * a VM that halts idle CPUs each wake-up costs ~25 us) leaves it with nothing to do: in
 * alternated rounds at 8 and 16 connections on the 2-CPU VM the batch wait was 3-8 % ahead
 * of plain waits on quiet stretches and 6-27 % behind on busy ones. From 32 on its gain on a
 * quiet host is larger and it keeps batching (docs/benchmarking.md, "Measured parity" and
 * "Halts").
 */
static unsigned
batch_wait(struct worker *w, uint64_t now, uint64_t *until)
{
	unsigned k = w->awaiting / 2;

	if (w->collect)
		return 0;
	if (R.o.eager_wake)
		return 1;
	if (w->nconn < R.o.batch_from)
		k = 0;		/* a plain wait: see RB_BATCH_FROM above */
	if (k > w->batch_cap)
		k = w->batch_cap;
	if (k > 0 && w->awaiting < k + 2 * w->late)
		k = w->awaiting > 2 * w->late ? w->awaiting - 2 * w->late : 0;
	if (R.o.rate > 0 || w->stopping || k < 2) {
		if (w->batch_cap < 2 && --w->batch_calm == 0)
			w->batch_cap = UINT32_MAX;
		if (w->late_calm > 0 && --w->late_calm == 0)
			w->late /= 2;
		return w->awaiting > 0 ? w->nsend_q + 1 : 1;
	}
	if (*until > now + RB_BATCH_NS)
		*until = now + RB_BATCH_NS;
	return w->nsend_q + k;
}

/*
 * After a wait that asked for k responses, returned ret and brought w->got responses. A batch
 * that filled is followed by a collect (see batch_wait).
 */
static void
batch_adapt(struct worker *w, unsigned k, int ret)
{
	if (k < 2)
		return;		/* a plain wait */
	if (ret == -ETIME) {
		/* Nothing at all: the server stalled (or was descheduled); no reason to shrink. */
		if (w->got > 0)
			w->batch_cap = w->got;
		w->batch_calm = 64;
	} else {
		if (w->batch_cap < UINT32_MAX / 2)
			w->batch_cap *= 2;
		w->collect = 1;
	}
}

static unsigned
ws_bucket(uint64_t v)
{
	unsigned b = 0;

	while (v > 0 && b < RB_WS_BUCKETS - 1) {
		v >>= 1;
		b++;
	}
	return b;
}

/* --wait-stats: just before the submit-and-wait (w->ws_wake: when the last one returned). */
static void
ws_before(struct worker *w, uint64_t now)
{
	struct waitstats *s = &w->ws;

	if (w->ws_wake != 0 && w->ws_wake >= R.tw && !w->stopping) {
		s->busy_ns += now - w->ws_wake;
		s->busy_hist[ws_bucket((now - w->ws_wake) / 1000)]++;
	}
	w->ws_enter = now;
}

/* After the wait that asked for `asked` responses returned ret, out0 requests were out. */
static void
ws_after(struct worker *w, uint64_t now, unsigned asked, int ret, unsigned out0)
{
	struct waitstats *s = &w->ws;

	w->ws_wake = now;
	if (w->ws_enter < R.tw || w->stopping)
		return;
	s->enters++;
	if (asked == 0 && w->collect) {
		s->collects++;
		s->collected += w->got;
	}
	s->etime += ret == -ETIME;
	s->responses += w->got;
	s->asked += asked;
	s->drained += R.o.rate == 0 && out0 > 0 && w->got >= out0;
	s->sleep_ns += now - w->ws_enter;
	s->per_wake[w->got < RB_WS_BUCKETS - 1 ? w->got : RB_WS_BUCKETS - 1]++;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts;
	uint64_t now, until, drain_end = 0;
	unsigned head, n, wait_nr, out0;
	int ret;

	ret = worker_ring_init(w);
	if (ret < 0) {
		snprintf(w->fatal, sizeof(w->fatal), "io_uring_queue_init: %s", strerror(-ret));
		goto out;
	}
	/* Bounded: the loop ends at the stop time (or when -n is used up) plus the drain time. */
	for (;;) {
		now = now_ns();
		if (!w->ru_started && now >= R.tw) {
			getrusage(RUSAGE_THREAD, &w->ru0);
			w->ru_t0 = now;
			w->ru_started = 1;
		}
		if (!w->stopping && should_stop(w, now)) {
			begin_stop(w, now);
			drain_end = now + RB_DRAIN_NS;
		}
		if (w->stopping && (all_quiet(w) || now >= drain_end))
			break;
		while (!w->stopping && w->nheap > 0 && w->heap[0]->wake <= now)
			conn_wake(w, heap_pop(w), now);
		if (now >= w->next_scan) {
			if (!w->stopping)
				scan_timeouts(w, now);
			w->next_scan = now + (R.o.timeout_ns / 10 < RB_TICK_NS ?
			    R.o.timeout_ns / 10 + 1 : RB_TICK_NS);
		}
		until = w->next_scan;
		if (!w->stopping && w->nheap > 0 && w->heap[0]->wake < until)
			until = w->heap[0]->wake;
		if (!w->stopping && R.te < until && R.te > now)
			until = R.te;
		now = now_ns();
		wait_nr = batch_wait(w, now, &until);
		until = until > now ? until - now : 0;
		ts.tv_sec = (long long)(until / 1000000000ull);
		ts.tv_nsec = (long long)(until % 1000000000ull);
		/* One submit (and wait) per iteration. */
		if (R.o.wait_stats)
			ws_before(w, now);
		if (wait_nr == 0)
			ret = io_uring_submit_and_get_events(&w->ring);
		else
			ret = io_uring_submit_and_wait_timeout(&w->ring, &cqe, wait_nr, &ts, NULL);
		wait_nr -= wait_nr > w->nsend_q ? w->nsend_q : wait_nr;	/* responses asked for */
		w->nsend_q = 0;
		if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			snprintf(w->fatal, sizeof(w->fatal), "io_uring_submit_and_wait: %s",
			    strerror(-ret));
			break;
		}
		now = now_ns();
		n = 0;
		w->got = 0;
		out0 = w->awaiting;
		io_uring_for_each_cqe(&w->ring, head, cqe) {
			dispatch(w, cqe, now);
			if (++n == RB_CQE_BATCH)
				break;
		}
		io_uring_cq_advance(&w->ring, n);
		if (R.o.wait_stats)
			ws_after(w, now, wait_nr, ret, out0);
		if (w->collect) {
			w->late = (w->late + w->got + 1) / 2;
			w->late_calm = 64;
			w->collect = 0;
		}
		batch_adapt(w, wait_nr, ret);
	}
	if (!w->ru_started) {
		w->ru0 = w->ru1;
		w->ru_t0 = w->ru_t1;
	}
	/* Tearing the ring down cancels whatever is left; buffers are freed only after this. */
	io_uring_queue_exit(&w->ring);
out:
	if (w->tls_ctx != NULL)
		rb_tls_thread_done();
	atomic_fetch_sub(&R.running, 1);
	return NULL;
}

/* ---- set-up (options and targets: rb_opts.c) ---- */

static int
worker_setup(struct worker *w, uint32_t id, uint32_t gbase, uint32_t nconn)
{
	char err[256];
	size_t out_cap;
	uint32_t i;
	struct conn *c;

	w->id = id;
	w->gbase = gbase;
	w->nconn = nconn;
	w->conns = calloc(nconn, sizeof(*w->conns));
	w->heap = calloc(nconn + 1, sizeof(*w->heap));
	w->batch_cap = UINT32_MAX;
	w->lat = hist_new();
	w->lat_unc = hist_new();
	if (w->conns == NULL || w->heap == NULL || w->lat == NULL || w->lat_unc == NULL)
		return -1;
	for (i = 0; i < R.ntargets; i++) {
		if (R.targets[i].tls && w->tls_ctx == NULL) {
			w->tls_ctx = rb_tls_ctx_new(R.o.insecure, R.o.cacert, R.o.tls_max, err,
			    sizeof(err));
			if (w->tls_ctx == NULL) {
				fprintf(stderr, "ringbench: %s\n", err);
				return -1;
			}
		}
	}
	/* Room for the largest request as TLS records, plus handshake messages. */
	out_cap = R.max_req_len + (R.max_req_len / 16384 + 1) * 64 + 16384;
	for (i = 0; i < nconn; i++) {
		c = &w->conns[i];
		c->slot = i;
		c->fd = -1;
		c->target = (gbase + i) % R.ntargets;
		c->rr = (gbase + i) / R.ntargets;
		c->rbuf = malloc(RB_RBUF_CAP);
		if (c->rbuf == NULL)
			return -1;
		if (R.targets[c->target].tls && rb_tls_alloc(&c->tls, out_cap) < 0)
			return -1;
		if (R.o.rate > 0)
			sched_init(&c->sched, R.tr, R.o.rate, R.o.conns, gbase + i);
		/* Ramp-up: connection g starts at t0 + ramp * g / c. A new-connection open loop
		 * connects at each request's slot instead, so its first start is its first slot. */
		if (R.o.rate > 0 && R.o.new_conn)
			heap_push(w, c, sched_due(&c->sched));
		else
			heap_push(w, c, R.t0 + (uint64_t)((double)R.o.ramp_ns * (gbase + i) / R.o.conns));
	}
	return 0;
}

static void
worker_free(struct worker *w)
{
	uint32_t i;

	for (i = 0; w->conns != NULL && i < w->nconn; i++) {
		if (w->conns[i].fd >= 0)
			close(w->conns[i].fd);
		rb_tls_release(&w->conns[i].tls);
		if (w->conns[i].sess != NULL)
			wolfSSL_SESSION_free(w->conns[i].sess);
		free(w->conns[i].rbuf);
	}
	if (w->tls_ctx != NULL)
		wolfSSL_CTX_free(w->tls_ctx);
	free(w->conns);
	free(w->heap);
	free(w->lat);
	free(w->lat_unc);
}

static void
on_signal(int sig)
{
	(void)sig;
	atomic_store(&R.stop, 1);
}

int
main(int argc, char **argv)
{
	struct worker *ws = NULL;
	struct result r;
	struct sigaction sa;
	uint64_t last_done = 0, last_t, gbase = 0, end = 0, start;
	uint32_t t, i;
	int live, any_tls = 0, rc = 1;
	struct timespec nap = { 0, 100000000 };

	memset(&r, 0, sizeof(r));
	if (parse_args(&R.o, argc, argv) < 0)
		return 2;
	if (setup_targets() < 0 || check_fd_limit() < 0)
		return 1;
	for (t = 0; t < R.ntargets; t++) {
		any_tls |= R.targets[t].tls;
		r.local |= R.targets[t].local;
	}
	if (R.o.conns < R.ntargets)
		fprintf(stderr, "ringbench: warning: %u connections for %u targets: some get none\n",
		    R.o.conns, R.ntargets);
	if (any_tls && rb_tls_global_init() < 0) {
		fprintf(stderr, "ringbench: wolfSSL_Init failed\n");
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	start = now_ns();
	R.t0 = start + 20000000;	/* all threads start their clocks together */
	R.tr = R.t0 + R.o.ramp_ns;
	R.tw = R.tr + R.o.warmup_ns;
	R.te = R.tw + (R.o.nreq > 0 && !R.o.have_duration ? UINT64_MAX / 4 : R.o.duration_ns);
	if (R.o.idle) {
		/* Everything counts from the first connect; the hold (-d) follows the ramp. */
		R.tw = R.t0;
		R.te = R.tr + R.o.duration_ns;
		R.t_second = R.tr + (R.o.idle_second_ns && R.o.idle_second_ns < R.o.duration_ns ?
		    R.o.idle_second_ns : R.o.duration_ns / 2);
		r.rss0 = rb_rss_kib();
	}
	ws = calloc(R.o.threads, sizeof(*ws));
	if (ws == NULL)
		return 1;
	for (t = 0; t < R.o.threads; t++) {
		i = sched_share(R.o.conns, R.o.threads, t);
		if (worker_setup(&ws[t], t, (uint32_t)gbase, i) < 0) {
			fprintf(stderr, "ringbench: out of memory or TLS set-up failed\n");
			goto out;
		}
		gbase += i;
	}
	atomic_store(&R.running, R.o.threads);
	for (t = 0; t < R.o.threads; t++) {
		if (pthread_create(&ws[t].tid, NULL, worker_main, &ws[t]) != 0) {
			fprintf(stderr, "ringbench: pthread_create failed\n");
			atomic_store(&R.stop, 1);
			R.o.threads = t;
			atomic_store(&R.running, t);
			break;
		}
	}
	live = !R.o.quiet && !R.o.json && isatty(STDERR_FILENO);
	last_t = now_ns();
	/* Bounded by the workers, which are bounded by the run's end time or -n. */
	for (i = 0; atomic_load(&R.running) > 0; i++) {
		nanosleep(&nap, NULL);
		if (R.o.idle)
			idle_sample(&r);
		if (live && i % 10 == 9)
			progress(start, ws, &last_done, &last_t);
	}
	if (live)
		fprintf(stderr, "\n");
	for (t = 0; t < R.o.threads; t++)
		pthread_join(ws[t].tid, NULL);

	r.lat = hist_new();
	r.unc = hist_new();
	if (r.lat == NULL || r.unc == NULL)
		goto out;
	for (t = 0; t < R.o.threads; t++) {
		if (ws[t].fatal[0]) {
			fprintf(stderr, "ringbench: thread %u: %s\n", t, ws[t].fatal);
			goto out;
		}
		if (R.o.wait_stats)
			report_waitstats(t, &ws[t].ws);
		hist_merge(r.lat, ws[t].lat);
		hist_merge(r.unc, ws[t].lat_unc);
		for (i = 0; i < sizeof(r.st) / sizeof(uint64_t); i++)
			((uint64_t *)&r.st)[i] += ((uint64_t *)&ws[t].st)[i];
		if (ws[t].t_last_done > end)
			end = ws[t].t_last_done;
		if (ws[t].ru_t1 > ws[t].ru_t0)
			r.cpu[t] = (tv_sec(ws[t].ru1.ru_utime) + tv_sec(ws[t].ru1.ru_stime) -
			    tv_sec(ws[t].ru0.ru_utime) - tv_sec(ws[t].ru0.ru_stime)) /
			    ((ws[t].ru_t1 - ws[t].ru_t0) / 1e9);
		r.saturated |= r.cpu[t] > 0.8;
	}
	/* Duration mode: the fixed window (cut short by ^C). -n: until the last response. */
	if (R.o.nreq > 0 && !R.o.have_duration)
		r.secs = end > R.tw ? (end - R.tw) / 1e9 : 1e-9;
	else
		r.secs = (ws[0].t_stop < R.te ? ws[0].t_stop - R.tw : R.te - R.tw) / 1e9;
	if (r.secs <= 0)
		r.secs = 1e-9;
	if (R.o.json) {
		report_json(&r, ws);
	} else {
		report_text(&r, ws);
	}
	rc = 0;
	/* Responses with an unexpected status are errors too: all of them is nothing succeeded. */
	/* --idle: a held connection is a success too (a long poll has no response yet). */
	if (R.o.idle ? r.open_max == 0 : r.st.responses - r.st.errors[E_STATUS] == 0) {
		for (t = 0; t < R.o.threads; t++) {
			if (ws[t].first_err[0]) {
				fprintf(stderr, "ringbench: no successful response; first error: %s\n",
				    ws[t].first_err);
				break;
			}
		}
		rc = 1;
	}
out:
	for (t = 0; ws != NULL && t < R.o.threads; t++)
		worker_free(&ws[t]);
	free(ws);
	free(r.lat);
	free(r.unc);
	for (i = 0; i < R.o.nurls; i++)
		free(R.reqs[i].buf);
	free(R.o.body);
	if (any_tls)
		wolfSSL_Cleanup();
	return rc;
}
