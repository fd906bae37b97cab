/*
 * The connection I/O path of a transport that keeps wire bytes in queues of its own (TLS;
 * core/lib/xprt-t.h): wire bytes are received into a provided buffer (or c->wbuf) and fed to
 * the transport at once, the application bytes it returns are appended to c->in; application
 * bytes to send are handed to it as its queue drains, and its queued wire bytes (handshake
 * flights, tickets, alerts) go out through the ring. Nothing here names a transport: it uses
 * only the operations of c->xprt. docs/tls.md has the contract.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/io/conn-int.h"
#include "core/io/conn.h"
#include "core/io/ring.h"

/*
 * Encrypts what it can of the conn_send in progress and submits the oldest queued wire run,
 * unless a SEND is already in flight (its completion calls this again). Returns 0 or -errno.
 */
int
conn_queued_push(struct conn *c)
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
conn_queued_input(struct conn *c, char *in, size_t len)
{
	const struct xprt_ops *o = c->xprt.ops;
	size_t total = 0, alen;
	char *app;
	int rc;

	rc = o->recv(&c->xprt, in, len, &app, &alen);
	for (;;) {
		if (rc == -ESHUTDOWN && total > 0)
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

int
conn_xprt_start(struct conn *c)
{
	size_t n = c->in.len;
	char *wire = malloc(n);
	int rc;

	if (wire == NULL)
		return -ENOMEM;
	memcpy(wire, c->in.base + c->in.off, n);
	conn_consume(c, c->in.len);
	rc = conn_queued_input(c, wire, n);
	free(wire);
	if (rc < 0)
		return rc;
	n = (size_t)rc;
	rc = conn_queued_push(c);
	return rc < 0 ? rc : (int)n;
}

/* Arms a socket recv of wire bytes: a provided buffer, else c->wbuf. */
int
conn_queued_recv(struct conn *c)
{
	struct worker *w = c->w;
	struct io_uring_sqe *sqe;

	if (c->flags & CF_TLS_END) {
		/* the transport ended (close_notify) after the last bytes: no socket read, a NOP
		 * completes this recv with 0 (EOF) instead of waiting for the peer's FIN */
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
int
conn_queued_recv_done(struct conn *c, struct io_uring_cqe *cqe, int *res)
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
		if ((*res = conn_queued_recv(c)) < 0)
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
		rc = conn_queued_input(c, wire, (size_t)rc);
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
	if ((*res = conn_queued_push(c)) < 0)
		return 1;
	if (rc > 0) {
		*res = rc;
		return 1;
	}
	if ((*res = conn_queued_recv(c)) < 0)
		return 1;
	return 0;
}

/* OP_SEND completion of a TLS conn (see conn_send_done). */
int
conn_queued_send_done(struct conn *c, int *res)
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
	rc = conn_queued_push(c);
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
