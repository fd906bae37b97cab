#include "core/io/conn.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/gen.h"
#include "core/io/conn-int.h"
#include "core/io/ring.h"
#include "core/io/timer.h"
#include "core/io/xprt.h"

static struct conn *
conn_grow(struct worker *w)
{
	struct conn **chunks, *c;

	if ((uint64_t)(w->nchunks + 1) * CONN_CHUNK > UD_SLOT_MAX)
		return NULL;
	chunks = realloc(w->chunks, (w->nchunks + 1) * sizeof(*chunks));
	if (chunks == NULL)
		return NULL;
	w->chunks = chunks;
	c = calloc(CONN_CHUNK, sizeof(*c));
	if (c == NULL)
		return NULL;
	chunks[w->nchunks] = c;
	for (int i = CONN_CHUNK - 1; i >= 0; i--) {
		c[i].slot = w->nchunks * CONN_CHUNK + (uint32_t)i;
		c[i].fd = -1;
		c[i].free_next = w->free_conns;
		w->free_conns = &c[i];
	}
	w->nchunks++;
	return w->free_conns;
}

struct conn *
conn_alloc(struct worker *w, int role, int fd)
{
	struct conn *c = w->free_conns;
	uint32_t slot, gen;

	if (c == NULL && (c = conn_grow(w)) == NULL)
		return NULL;
	w->free_conns = c->free_next;
	slot = c->slot;
	gen = c->gen;
	memset(c, 0, sizeof(*c));
	c->slot = slot;
	c->gen = gen;
	c->fd = fd;
	c->role = (uint8_t)role;
	c->w = w;
	c->in.bid = -1;
	xprt_init_plain(&c->xprt);
	if (role == CONN_CLIENT) {
		w->nclients++;
		c->s = &c->u.cli.st;
	} else {
		w->nbackends++;
	}
	return c;
}

void
ibuf_release(struct worker *w, struct ibuf *b)
{
	if (b->base == NULL)
		return;
	if (b->bid >= 0)
		ring_buf_put(&w->ring, (unsigned)b->bid);
	else
		free(b->base);
	b->base = NULL;
	b->off = b->len = b->cap = 0;
	b->bid = -1;
}

static void
conn_free(struct conn *c)
{
	struct worker *w = c->w;

	if (w->owner != NULL)
		w->owner->on_free(c);
	ibuf_release(w, &c->in);
	free(c->msg);
	c->msg = NULL;
	c->xprt.ops->destroy(&c->xprt);
	xprt_init_plain(&c->xprt);
	if (c->xg != NULL)
		gen_put(c->xg);		/* after destroy: the context may be the last user */
	c->xg = NULL;
	free(c->wbuf);
	c->wbuf = NULL;
	c->app = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->g != NULL)
		gen_put(c->g);
	c->g = NULL;
	if (c->role == CONN_CLIENT) {
		w->nclients--;
		atomic_fetch_sub_explicit(&w->sh->nconns, 1, memory_order_relaxed);
	} else {
		w->nbackends--;
	}
	c->gen++;
	c->flags = 0;
	c->inflight = 0;
	c->free_next = w->free_conns;
	w->free_conns = c;
}

void
conn_maybe_free(struct conn *c)
{
	if (!(c->flags & CF_CLOSING) || c->inflight != 0)
		return;
	/* a backend's send may still read this client's pump buffer */
	if (c->role == CONN_CLIENT && c->u.cli.st.be != NULL)
		return;
	conn_free(c);
}

static void
conn_cancel(struct conn *c, unsigned op)
{
	struct io_uring_sqe *sqe = ring_sqe(&c->w->ring, ud_pack(OP_CANCEL, c->slot, c->gen));

	if (sqe == NULL)
		return;
	io_uring_prep_cancel64(sqe, ud_pack(op, c->slot, c->gen), 0);
}

/*
 * Last words on a connection being closed or half-closed: what the transport says on leaving
 * (TLS: close_notify if the session is open, and any queued alert; plain: nothing), written
 * synchronously and without waiting (a few bytes; the ring would only see them after the
 * socket is shut down). Only when no SEND is in flight: its bytes come first.
 */
static void
conn_goodbye(struct conn *c)
{
	const char *w;
	size_t wl;

	(void)c->xprt.ops->shutdown(&c->xprt, &w, &wl);
	for (int i = 0; i < 4 && (wl = c->xprt.ops->pending(&c->xprt, &w)) > 0; i++) {
		ssize_t n = send(c->fd, w, wl, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n <= 0)
			break;
		c->xprt.ops->sent(&c->xprt, (size_t)n);
	}
}

void
conn_shutdown_write(struct conn *c)
{
	if (!(c->inflight & IF_SEND))
		conn_goodbye(c);
	shutdown(c->fd, SHUT_WR);
}

void
conn_idle(struct conn *c)
{
	if (c->xprt.ops->idle != NULL)
		c->xprt.ops->idle(&c->xprt);
}

const char *
conn_strerror(struct conn *c, int err, char *buf, size_t len)
{
	const char *why = NULL;

	if (err == -EPROTO || err == -EKEYREJECTED || err == -ENOMEM)
		why = c->xprt.ops->error(&c->xprt, buf, len);
	return why != NULL ? why : strerror(-err);
}

void
conn_close(struct conn *c)
{
	if (c->flags & CF_CLOSING)
		return;
	c->flags |= CF_CLOSING;
	timer_del(&c->w->wheel, &c->tm);
	if (c->fd >= 0 && !(c->inflight & IF_SEND))
		conn_goodbye(c);
	/*
	 * shutdown wakes a pending recv/send/poll at once (completion 0 or -EPIPE); the
	 * cancels cover a connect in progress and anything shutdown does not wake.
	 */
	if (c->inflight != 0 && c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
	if (c->inflight & IF_RECV)
		conn_cancel(c, OP_RECV);
	if (c->inflight & IF_SEND)
		conn_cancel(c, OP_SEND);
	if (c->inflight & IF_CONNECT)
		conn_cancel(c, OP_CONNECT);
	if (c->inflight & IF_POLLIN)
		conn_cancel(c, OP_POLLIN);
	if (c->inflight & IF_POLLOUT)
		conn_cancel(c, OP_POLLOUT);
	conn_maybe_free(c);
}

int
conn_own_buffer(struct conn *c, uint32_t cap)
{
	struct ibuf *b = &c->in;
	char *nb;

	if (b->bid < 0 && b->base != NULL && b->cap >= cap) {
		if (b->off > 0 && b->len > 0)
			memmove(b->base, b->base + b->off, b->len);
		b->off = 0;
		return 0;
	}
	nb = malloc(cap);
	if (nb == NULL)
		return -ENOMEM;
	if (b->len > 0)
		memcpy(nb, b->base + b->off, b->len);
	{
		uint32_t len = b->len;

		ibuf_release(c->w, b);
		b->len = len;
	}
	b->base = nb;
	b->off = 0;
	b->cap = cap;
	b->bid = -1;
	return 0;
}

int
conn_recv(struct conn *c, uint32_t max)
{
	struct worker *w = c->w;
	struct io_uring_sqe *sqe;
	struct ibuf *b = &c->in;

	if (c->flags & CF_CLOSING)
		return -ECANCELED;
	c->rmax = max;
	if (xprt_queued(&c->xprt))
		return conn_queued_recv(c);
	if (b->len == 0 && b->base != NULL && b->bid >= 0)
		ibuf_release(w, b);
	if (b->base == NULL && !w->ring.has_buf_ring) {
		if (conn_own_buffer(c, RING_BUF_SIZE) < 0)
			return -ENOMEM;
	}
	sqe = ring_sqe(&w->ring, ud_pack(OP_RECV, c->slot, c->gen));
	if (sqe == NULL)
		return -EBUSY;
	if (b->base == NULL) {
		if (max > RING_BUF_SIZE)
			max = RING_BUF_SIZE;
		io_uring_prep_recv(sqe, c->fd, NULL, max, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = RING_BGID;
	} else {
		uint32_t room;

		if (b->off > 0 && b->len > 0 && b->bid < 0) {
			memmove(b->base, b->base + b->off, b->len);
			b->off = 0;
		} else if (b->len == 0) {
			b->off = 0;
		}
		room = b->cap - b->off - b->len;
		if (max > room)
			max = room;
		io_uring_prep_recv(sqe, c->fd, b->base + b->off + b->len, max, 0);
	}
	c->inflight |= IF_RECV;
	return 0;
}

/* Completion of OP_RECV: returns 1 when the handler should run with *res (bytes appended,
 * 0 EOF, -errno), 0 when the transport consumed the bytes itself (TLS handshake). */
static int
conn_recv_done(struct conn *c, struct io_uring_cqe *cqe, int *resp)
{
	struct worker *w = c->w;
	struct ibuf *b = &c->in;
	int res = cqe->res;

	*resp = res;
	if (xprt_queued(&c->xprt))
		return conn_queued_recv_done(c, cqe, resp);
	if (res == -ENOBUFS && b->base == NULL && !(c->flags & CF_CLOSING)) {
		/*
		 * The provided buffer ring ran dry: many sockets became readable in one batch
		 * (say, a burst of accepted connections whose requests were already there). Not
		 * this connection's failure: this one read goes to a buffer of its own (freed
		 * once consumed, as any malloc'ed c->in) and the recv is armed again.
		 */
		w->ring.nobufs++;
		if (conn_own_buffer(c, RING_BUF_SIZE) < 0) {
			*resp = -ENOMEM;
			return 1;
		}
		if ((*resp = conn_recv(c, c->rmax)) < 0)
			return 1;
		return 0;
	}
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

		w->ring.bufs_out++;
		if (res <= 0 || (c->flags & CF_CLOSING) || b->base != NULL) {
			/* b->base != NULL cannot happen: buffer select only with nothing held */
			ring_buf_put(&w->ring, bid);
			*resp = (c->flags & CF_CLOSING) ? -ECANCELED : res;
			return 1;
		}
		b->base = ring_buf(&w->ring, bid);
		b->bid = (int32_t)bid;
		b->off = 0;
		b->len = (uint32_t)res;
		b->cap = RING_BUF_SIZE;
		return 1;
	}
	if (res > 0)
		b->len += (uint32_t)res;
	return 1;
}

void
conn_consume(struct conn *c, uint32_t n)
{
	struct ibuf *b = &c->in;

	b->off += n;
	b->len -= n;
	if (b->len == 0) {
		/* an idle connection holds no buffer */
		ibuf_release(c->w, b);
	}
}

int
conn_submit_send(struct conn *c)
{
	struct io_uring_sqe *sqe = ring_sqe(&c->w->ring, ud_pack(OP_SEND, c->slot, c->gen));

	if (sqe == NULL)
		return -EBUSY;
	io_uring_prep_send(sqe, c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
	c->inflight |= IF_SEND;
	return 0;
}

int
conn_send(struct conn *c, const char *buf, uint32_t len)
{
	const char *wire;
	size_t wlen;
	int rc;

	if (c->flags & CF_CLOSING)
		return -ECANCELED;
	if (xprt_queued(&c->xprt)) {
		c->app = buf;
		c->app_len = len;
		c->app_off = 0;
		rc = conn_queued_push(c);
		if (rc < 0)
			c->app = NULL;
		return rc;
	}
	rc = c->xprt.ops->send(&c->xprt, buf, len, &wire, &wlen);
	if (rc < 0)
		return rc;
	c->out = wire;
	c->out_len = (uint32_t)wlen;
	c->out_off = 0;
	return conn_submit_send(c);
}

/* Completion of OP_SEND: resubmits the rest of a short send; returns 1 when the handler
 * should run with *res set (bytes or -errno), 0 when more is in flight. */
static int
conn_send_done(struct conn *c, int *res)
{
	if (c->flags & CF_CLOSING) {
		*res = -ECANCELED;
		return 1;
	}
	if (xprt_queued(&c->xprt))
		return conn_queued_send_done(c, res);
	if (*res > 0) {
		c->out_off += (uint32_t)*res;
		if (c->out_off < c->out_len) {
			int rc = conn_submit_send(c);

			if (rc == 0)
				return 0;
			*res = rc;
			return 1;
		}
		*res = (int)c->out_len;
	} else if (*res == 0) {
		*res = -EPIPE;
	}
	return 1;
}

int
conn_poll(struct conn *c, unsigned mask)
{
	struct io_uring_sqe *sqe;

	if (c->flags & CF_CLOSING)
		return -ECANCELED;
	bool out = mask == POLLOUT;

	if (c->inflight & (out ? IF_POLLOUT : IF_POLLIN))
		return 0;	/* already waiting for that */
	sqe = ring_sqe(&c->w->ring, ud_pack(out ? OP_POLLOUT : OP_POLLIN, c->slot, c->gen));
	if (sqe == NULL)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, c->fd, mask);
	c->inflight |= out ? IF_POLLOUT : IF_POLLIN;
	return 0;
}

void
conn_timer(struct conn *c, uint64_t ms)
{
	if (ms == 0)
		timer_del(&c->w->wheel, &c->tm);
	else
		timer_set(&c->w->wheel, &c->tm, c->w->now + ms);
}

int
conn_connect(struct conn *c, const struct sockaddr *addr, socklen_t len)
{
	struct io_uring_sqe *sqe = ring_sqe(&c->w->ring, ud_pack(OP_CONNECT, c->slot, c->gen));

	if (sqe == NULL)
		return -EBUSY;
	io_uring_prep_connect(sqe, c->fd, addr, len);
	c->inflight |= IF_CONNECT;
	return 0;
}

void
conn_set_owner(struct worker *w, const struct conn_owner *o)
{
	w->owner = o;
}

/* The in-flight bit of each connection op: cleared here, when its completion arrives. */
static const uint8_t conn_op_bit[OP_CANCEL + 1] = {
	[OP_RECV] = IF_RECV,
	[OP_SEND] = IF_SEND,
	[OP_CONNECT] = IF_CONNECT,
	[OP_POLLIN] = IF_POLLIN,
	[OP_POLLOUT] = IF_POLLOUT,
};

void
conn_complete(struct worker *w, struct io_uring_cqe *cqe, unsigned op)
{
	struct conn *c = conn_slot(w, ud_slot(cqe->user_data));
	int res = cqe->res;

	if (c == NULL || c->gen != ud_gen(cqe->user_data) || c->fd < 0) {
		/* stale: the slot was recycled; only a picked buffer needs giving back */
		if (cqe->flags & IORING_CQE_F_BUFFER) {
			w->ring.bufs_out++;
			ring_buf_put(&w->ring, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		}
		return;
	}
	c->inflight &= (uint8_t)~conn_op_bit[op];
	switch (op) {
	case OP_RECV:
		if (conn_recv_done(c, cqe, &res) && !(c->flags & CF_CLOSING))
			c->on_recv(c, res);
		break;
	case OP_SEND:
		if (conn_send_done(c, &res) && !(c->flags & CF_CLOSING))
			c->on_send(c, res);
		break;
	case OP_CONNECT:
		if (!(c->flags & CF_CLOSING))
			w->owner->on_connect(c, res);
		break;
	case OP_POLLIN:
	case OP_POLLOUT:
		if (!(c->flags & CF_CLOSING))
			w->owner->on_poll(c, res, op == OP_POLLOUT);
		break;
	}
	conn_maybe_free(c);
}
