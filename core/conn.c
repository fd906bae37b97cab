#include "core/conn.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/gen.h"
#include "core/proxy.h"
#include "core/ring.h"
#include "core/timer.h"
#include "core/xprt.h"

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

	proxy_conn_freed(c);
	ibuf_release(w, &c->in);
	free(c->msg);
	c->msg = NULL;
	if (!xprt_is_plain(&c->xprt))
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

/* ---- TLS transport (x->ctx != NULL): wire bytes in memory queues, see docs/tls.md ---- */

/*
 * Last words on a connection being closed or half-closed: close_notify (if the session is
 * open) and any queued alert, written synchronously and without waiting (a few bytes; the
 * ring would only see them after the socket is shut down). Only when no SEND is in flight:
 * its bytes come first.
 */
static void
conn_tls_goodbye(struct conn *c)
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

static int conn_submit_send(struct conn *c);

/*
 * Encrypts what it can of the conn_send in progress and submits the oldest queued wire run,
 * unless a SEND is already in flight (its completion calls this again). Returns 0 or -errno.
 */
static int
conn_tls_push(struct conn *c)
{
	const struct xprt_ops *o = c->xprt.ops;
	const char *w;
	size_t wl;

	if (c->inflight & IF_SEND)
		return 0;
	while (c->app != NULL && c->app_off < c->app_len) {
		int n = o->send(&c->xprt, c->app + c->app_off, c->app_len - c->app_off, &w, &wl);

		if (n < 0)
			return n;
		if (n == 0)
			break;		/* queue full, or the handshake is not done yet */
		c->app_off += (uint32_t)n;
	}
	wl = o->pending(&c->xprt, &w);
	if (wl == 0)
		return 0;
	c->out = w;
	c->out_len = (uint32_t)wl;
	c->out_off = 0;
	return conn_submit_send(c);
}

/* Appends application bytes to c->in (a malloc'ed buffer, grown as needed). */
static int
conn_append(struct conn *c, const char *p, size_t n)
{
	struct ibuf *b = &c->in;

	if (b->base == NULL || (size_t)b->off + b->len + n > b->cap) {
		uint32_t cap = b->base != NULL ? b->cap : RING_BUF_SIZE;

		while (cap < b->len + n)
			cap *= 2;
		if (conn_own_buffer(c, cap) < 0)
			return -ENOMEM;
	}
	memcpy(b->base + b->off + b->len, p, n);
	b->len += (uint32_t)n;
	return 0;
}

/* Feeds wire bytes to the transport until it has nothing buffered; the application bytes
 * go to c->in. Returns how many were appended (>= 0), or < 0 from the transport. */
static int
conn_tls_input(struct conn *c, char *in, size_t len)
{
	const struct xprt_ops *o = c->xprt.ops;
	size_t total = 0, alen;
	char *app;
	int rc;

	rc = o->recv(&c->xprt, in, len, &app, &alen);
	for (;;) {
		if (rc < 0 && total > 0 && rc == -ESHUTDOWN)
			c->flags |= CF_TLS_END;	/* the bytes now, the end at the next recv */
		if (rc < 0)
			return total > 0 ? (int)total : rc;
		if (alen > 0) {
			if (conn_append(c, app, alen) < 0)
				return -ENOMEM;
			total += alen;
		}
		if (rc == 0 || !o->recv_more(&c->xprt))
			break;
		rc = o->recv(&c->xprt, NULL, 0, &app, &alen);
	}
	return (int)total;
}

/* Arms a socket recv of wire bytes: a provided buffer, else c->wbuf. */
static int
conn_tls_recv(struct conn *c)
{
	struct worker *w = c->w;
	struct io_uring_sqe *sqe;

	if (c->flags & CF_TLS_END) {
		/* the peer's close_notify is in: no socket read, a NOP completes with 0 (EOF) */
		if ((sqe = ring_sqe(&w->ring, ud_pack(OP_RECV, c->slot, c->gen))) == NULL)
			return -EBUSY;
		io_uring_prep_nop(sqe);
		c->inflight |= IF_RECV;
		return 0;
	}
	if (!w->ring.has_buf_ring && c->wbuf == NULL && (c->wbuf = malloc(RING_BUF_SIZE)) == NULL)
		return -ENOMEM;
	sqe = ring_sqe(&w->ring, ud_pack(OP_RECV, c->slot, c->gen));
	if (sqe == NULL)
		return -EBUSY;
	if (c->wbuf == NULL) {
		io_uring_prep_recv(sqe, c->fd, NULL, RING_BUF_SIZE, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = RING_BGID;
	} else {
		io_uring_prep_recv(sqe, c->fd, c->wbuf, RING_BUF_SIZE, 0);
	}
	c->inflight |= IF_RECV;
	return 0;
}

/*
 * OP_RECV completion of a TLS conn. Wire bytes are decrypted at once (the provided buffer
 * goes back to the ring right away); what the transport queued (handshake flights, tickets)
 * is sent; a recv that produced no application byte (handshake, ticket) is re-armed without
 * bothering the handler. Returns 1 when the handler runs with *res = bytes appended to c->in,
 * 0 = EOF (FIN or close_notify), or -errno; 0 when nothing is for it yet.
 */
static int
conn_tls_recv_done(struct conn *c, struct io_uring_cqe *cqe, int *res)
{
	struct worker *w = c->w;
	char *wire = c->wbuf;
	int bid = -1, rc;

	if (*res == -ENOBUFS && c->wbuf == NULL && !(c->flags & CF_CLOSING)) {
		/* the provided ring ran dry (see conn_recv_done): this read gets its own buffer */
		w->ring.nobufs++;
		if ((c->wbuf = malloc(RING_BUF_SIZE)) == NULL) {
			*res = -ENOMEM;
			return 1;
		}
		if ((*res = conn_tls_recv(c)) < 0)
			return 1;
		return 0;
	}
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		bid = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		w->ring.bufs_out++;
		wire = ring_buf(&w->ring, (unsigned)bid);
	}
	rc = *res;
	if (rc > 0 && !(c->flags & CF_CLOSING))
		rc = conn_tls_input(c, wire, (size_t)rc);
	if (bid >= 0)
		ring_buf_put(&w->ring, (unsigned)bid);
	if (wire != NULL && wire == c->wbuf && w->ring.has_buf_ring) {
		/* an ENOBUFS fallback buffer: the next recv goes back to the provided ring */
		free(c->wbuf);
		c->wbuf = NULL;
	}
	if (c->flags & CF_CLOSING) {
		*res = -ECANCELED;
		return 1;
	}
	if (*res <= 0)
		return 1;		/* socket EOF or error */
	if (rc < 0) {
		/* an alert may be queued: conn_close sends it before shutting the socket */
		*res = rc == -ESHUTDOWN ? 0 : rc;
		return 1;
	}
	/* handshake flights and tickets go out; a conn_send waiting for the handshake resumes */
	if ((*res = conn_tls_push(c)) < 0)
		return 1;
	if (rc > 0) {
		*res = rc;
		return 1;
	}
	if ((*res = conn_tls_recv(c)) < 0)
		return 1;
	return 0;
}

/* OP_SEND completion of a TLS conn (see conn_send_done). */
static int
conn_tls_send_done(struct conn *c, int *res)
{
	int rc;

	if (*res <= 0) {
		if (*res == 0)
			*res = -EPIPE;
		if (c->app == NULL)
			return 0;	/* only the transport's own bytes: the recv side will see it */
		c->app = NULL;
		return 1;
	}
	c->out_off += (uint32_t)*res;
	if (c->out_off < c->out_len) {
		rc = conn_submit_send(c);
		if (rc == 0)
			return 0;
		goto fail;
	}
	c->xprt.ops->sent(&c->xprt, c->out_len);
	rc = conn_tls_push(c);
	if (rc < 0)
		goto fail;
	if ((c->inflight & IF_SEND) || c->app == NULL || c->app_off < c->app_len)
		return 0;	/* more to send, or no conn_send waiting for this */
	*res = (int)c->app_len;
	c->app = NULL;
	return 1;
fail:
	if (c->app == NULL)
		return 0;
	c->app = NULL;
	*res = rc;
	return 1;
}

void
conn_shutdown_write(struct conn *c)
{
	if (!xprt_is_plain(&c->xprt) && !(c->inflight & IF_SEND))
		conn_tls_goodbye(c);
	shutdown(c->fd, SHUT_WR);
}

void
conn_idle(struct conn *c)
{
	if (!xprt_is_plain(&c->xprt))
		c->xprt.ops->idle(&c->xprt);
}

const char *
conn_strerror(struct conn *c, int err, char *buf, size_t len)
{
	const char *why = NULL;

	if (!xprt_is_plain(&c->xprt) && (err == -EPROTO || err == -EKEYREJECTED || err == -ENOMEM))
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
	if (!xprt_is_plain(&c->xprt) && c->fd >= 0 && !(c->inflight & IF_SEND))
		conn_tls_goodbye(c);
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
	if (!xprt_is_plain(&c->xprt))
		return conn_tls_recv(c);
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
int
conn_recv_done(struct conn *c, struct io_uring_cqe *cqe, int *resp)
{
	struct worker *w = c->w;
	struct ibuf *b = &c->in;
	int res = cqe->res;

	c->inflight &= ~IF_RECV;
	*resp = res;
	if (!xprt_is_plain(&c->xprt))
		return conn_tls_recv_done(c, cqe, resp);
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

static int
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
	if (!xprt_is_plain(&c->xprt)) {
		c->app = buf;
		c->app_len = len;
		c->app_off = 0;
		rc = conn_tls_push(c);
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
int
conn_send_done(struct conn *c, int *res)
{
	c->inflight &= ~IF_SEND;
	if (c->flags & CF_CLOSING) {
		*res = -ECANCELED;
		return 1;
	}
	if (!xprt_is_plain(&c->xprt))
		return conn_tls_send_done(c, res);
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
