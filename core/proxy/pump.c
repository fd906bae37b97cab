/*
 * Body pumps: one buffer or one pipe in flight per direction (back-pressure). A pump reads
 * its source conn and writes its destination conn, and reports the end to its on_done.
 */
#include "core/proxy/pump.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "core/gen.h"
#include "core/http/h1.h"
#include "core/io/conn.h"
#include "core/io/pipe.h"
#include "core/io/ring.h"
#include "core/io/timer.h"
#include "core/proxy/proxy.h"
#include "core/proxy/stream.h"

static void pump_on_recv(struct conn *src, int res);
static void pump_on_sent(struct conn *dst, int res);
static void pump_splice(struct pump *p);

/*
 * How many of data[0..len) belong to the body; marks p->done at its end. err < 0: bad.
 * *out: how many bytes to forward, at data[0..*out): the consumed bytes, or with p->dechunk
 * only the chunk data, moved to the front in place.
 */
/*
 * PM_CHUNKED request (RFC 9110 6.5.1): of the n bytes just consumed at data + used, the last
 * k are trailer section (the decoder counts them); the others move to data + *out. A whole
 * trailer section seen in this call is filtered in place; one split across reads is held in
 * p->tl and filtered once the body is done (pump_send sends it behind the body bytes).
 * Returns 0 or -errno.
 */
static int
pump_trailers(struct pump *p, char *data, size_t used, size_t n, uint32_t t0, size_t *out)
{
	size_t k = p->ck.trailer_len - t0;
	char *t = data + used + n - k;
	ssize_t m;

	memmove(data + *out, data + used, n - k);
	*out += n - k;
	if (k == 0)
		return 0;
	if (p->tl == NULL && t0 == 0 && h1_chunk_done(&p->ck)) {
		if ((m = h1_trailer_filter(t, k, data + *out, k)) < 0)
			return -EPROTO;
		*out += (size_t)m;
		return 0;
	}
	if (p->tl == NULL && (p->tl = malloc(H1_MAX_TRAILERS)) == NULL)
		return -ENOMEM;
	memcpy(p->tl + p->tl_len, t, k);
	p->tl_len += (uint32_t)k;
	if (h1_chunk_done(&p->ck)) {
		if ((m = h1_trailer_filter(p->tl, p->tl_len, p->tl, p->tl_len)) < 0)
			return -EPROTO;
		p->tl_len = (uint32_t)m;
	}
	return 0;
}

size_t
pump_scan(struct pump *p, char *data, size_t len, size_t *out, int *err)
{
	size_t used = 0;

	*out = 0;
	switch (p->mode) {
	case PM_LENGTH:
		used = len < p->remaining ? len : (size_t)p->remaining;
		p->remaining -= used;
		if (p->remaining == 0)
			p->done = true;
		*out = used;
		return used;
	case PM_CHUNKED:
		while (used < len && !h1_chunk_done(&p->ck)) {
			struct h1_span sp;
			uint32_t t0 = p->ck.trailer_len;
			ssize_t n = h1_chunk_parse(&p->ck, data + used, len - used, &sp);

			if (n < 0) {
				*err = (int)n;
				return used;
			}
			if (n == 0)
				break;
			if (p->dechunk && sp.len > 0) {
				/* data spans only move backwards: memmove in place is safe */
				memmove(data + *out, data + used + sp.off, sp.len);
				*out += sp.len;
			} else if (p->filter_trailers &&
				   (*err = pump_trailers(p, data, used, (size_t)n, t0, out)) < 0) {
				return used;
			}
			used += (size_t)n;
		}
		if (h1_chunk_done(&p->ck))
			p->done = true;
		if (!p->dechunk && !p->filter_trailers)
			*out = used;
		return used;
	default:
		*out = len;
		return len;
	}
}

void
pump_release(struct pump *p)
{
	free(p->tl);
	p->tl = NULL;
}

static void
pump_finish(struct pump *p, int err)
{
	pump_release(p);
	if (p->pipe >= 0) {
		pipe_put(&p->src->w->pipes, p->pipe, p->in_pipe == 0 && err == 0);
		p->pipe = -1;
	}
	p->splicing = false;
	p->on_done(p, err);
}

void
pump_start(struct pump *p, struct conn *src, struct conn *dst, int mode, uint64_t len,
	void (*on_done)(struct pump *, int))
{
	struct dp_shared *sh = src->w->sh;

	pump_release(p);
	memset(p, 0, sizeof(*p));
	p->src = src;
	p->dst = dst;
	p->mode = (uint8_t)mode;
	p->remaining = len;
	p->pipe = -1;
	p->buf.bid = -1;
	p->on_done = on_done;
	p->active = true;
	src->rpump = p;
	dst->wpump = p;
	if (mode == PM_CHUNKED)
		h1_chunk_init(&p->ck, src->role == CONN_BACKEND);
	p->filter_trailers = mode == PM_CHUNKED && src->role == CONN_CLIENT;
	if (mode == PM_NONE || (mode == PM_LENGTH && len == 0))
		p->done = true;
	/* large plaintext Content-Length bodies go through a pipe (see docs/internals.md) */
	if (sh->use_splice && mode == PM_LENGTH && len >= sh->splice_min &&
	    src->xprt.ops->splice_ok && dst->xprt.ops->splice_ok)
		p->splicing = true;
}

static uint64_t
conn_idle_ms(const struct conn *x)
{
	return x->role == CONN_CLIENT ? cli_listener(x)->idle_timeout :
		x->g->cfg->pools[x->u.be.pool].idle_timeout;
}

static void
pump_progress(struct pump *p)
{
	/* no-progress deadlines restart on progress (header_timeout never does) */
	if (timer_armed(&p->src->tm))
		conn_timer(p->src, conn_idle_ms(p->src));
	if (timer_armed(&p->dst->tm))
		conn_timer(p->dst, conn_idle_ms(p->dst));
}

static void pump_send_buf(struct pump *p);

/* The body ended with a trailer section held across reads: body bytes + filtered trailers. */
static void
pump_send_trailers(struct pump *p, size_t n, size_t out)
{
	struct conn *src = p->src;
	char *b = malloc(out + p->tl_len);

	if (b == NULL) {
		pump_finish(p, -ENOMEM);
		return;
	}
	memcpy(b, src->in.base + src->in.off, out);
	memcpy(b + out, p->tl, p->tl_len);
	conn_consume(src, (uint32_t)n);
	p->buf.base = b;
	p->buf.off = 0;
	p->buf.len = p->buf.cap = (uint32_t)out + p->tl_len;
	p->buf.bid = -1;
	pump_release(p);
	pump_send_buf(p);
}

static void
pump_send(struct pump *p)
{
	struct conn *src = p->src;
	size_t n, out;
	int err = 0;

	n = pump_scan(p, src->in.base + src->in.off, src->in.len, &out, &err);
	if (err < 0) {
		p->src_err = true;	/* the source's bytes are malformed */
		pump_finish(p, err);
		return;
	}
	if (p->done && p->tl != NULL) {
		pump_send_trailers(p, n, out);
		return;
	}
	if (out == 0) {
		/* nothing to forward (framing only, or the body already ended) */
		conn_consume(src, (uint32_t)n);
		if (p->done)
			pump_finish(p, 0);
		else if (n > 0)
			pump_advance(p);
		return;
	}
	if (n == src->in.len) {
		/* the whole buffer is body: hand it to the pump, no copy */
		p->buf = src->in;
		p->buf.len = (uint32_t)out;
		src->in.base = NULL;
		src->in.off = src->in.len = src->in.cap = 0;
		src->in.bid = -1;
	} else {
		/* bytes after the body belong to the next message: copy the body part */
		p->buf.base = malloc(out);
		if (p->buf.base == NULL) {
			pump_finish(p, -ENOMEM);
			return;
		}
		memcpy(p->buf.base, src->in.base + src->in.off, out);
		p->buf.off = 0;
		p->buf.len = (uint32_t)out;
		p->buf.cap = (uint32_t)out;
		p->buf.bid = -1;
		conn_consume(src, (uint32_t)n);
	}
	pump_send_buf(p);
}

/* Sends p->buf to the destination (one buffer in flight). */
static void
pump_send_buf(struct pump *p)
{
	p->sending = true;
	p->dst->on_send = pump_on_sent;
	if (conn_send(p->dst, p->buf.base + p->buf.off, p->buf.len) < 0) {
		p->sending = false;
		ibuf_release(p->src->w, &p->buf);
		pump_finish(p, -EPIPE);
	}
}

void
pump_advance(struct pump *p)
{
	struct conn *src = p->src;
	uint32_t max = RING_BUF_SIZE;

	if (!p->active || p->sending)
		return;
	if (src->in.len > 0 && !p->done) {
		pump_send(p);
		return;
	}
	if (p->done) {
		pump_finish(p, 0);
		return;
	}
	if (p->splicing) {
		/* a recv armed before splicing began delivers first (byte order) */
		src->on_recv = pump_on_recv;
		if (!(src->inflight & IF_RECV))
			pump_splice(p);
		return;
	}
	if (p->mode == PM_LENGTH && p->remaining < max)
		max = (uint32_t)p->remaining;
	src->on_recv = pump_on_recv;
	if (!(src->inflight & IF_RECV) && conn_recv(src, max) < 0)
		pump_finish(p, -EBUSY);
}

static void
pump_on_recv(struct conn *src, int res)
{
	struct pump *p = src->rpump;

	if (p == NULL || !p->active) {
		/* input after the body while the exchange finishes: keep it for the next one */
		if (res <= 0)
			src->flags |= CF_EOF;
		return;
	}
	if (res == 0) {
		src->flags |= CF_EOF;
		if (p->mode == PM_CLOSE) {
			p->done = true;
			if (!p->sending)
				pump_finish(p, 0);
			return;
		}
		p->src_err = true;
		pump_finish(p, -EPIPE);
		return;
	}
	if (res < 0) {
		p->src_err = true;
		pump_finish(p, res);
		return;
	}
	pump_progress(p);
	pump_advance(p);
}

static void
pump_on_sent(struct conn *dst, int res)
{
	struct pump *p = dst->wpump;

	if (p == NULL)
		return;
	p->sending = false;
	ibuf_release(dst->w, &p->buf);
	if (res < 0) {
		pump_finish(p, res);
		return;
	}
	p->bytes += (uint64_t)res;
	if (dst->role == CONN_CLIENT)
		dst->s->bytes_out += (uint64_t)res;
	pump_progress(p);
	if (!p->active)
		return;
	if (p->done) {
		pump_finish(p, 0);
		return;
	}
	pump_advance(p);
}

/*
 * Splice: synchronous splice(2) with SPLICE_F_NONBLOCK on O_NONBLOCK sockets, and a ring
 * POLL_ADD when one side would block. io_uring's own IORING_OP_SPLICE always runs on an
 * io-wq thread; docs/internals.md has the measurements behind this choice.
 */
/* Source -> pipe. Returns 0 to go on (*rblock: the source would block), -1 when the pump
 * finished. */
static int
splice_fill(struct pump *p, int wfd, size_t room, bool *rblock)
{
	size_t want = room;
	ssize_t n;

	if (p->mode == PM_LENGTH && want > p->remaining)
		want = (size_t)p->remaining;
	n = splice(p->src->fd, NULL, wfd, NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0) {
		p->in_pipe += (uint32_t)n;
		if (p->mode == PM_LENGTH)
			p->remaining -= (uint64_t)n;
	} else if (n == 0 && p->mode == PM_CLOSE) {
		p->src->flags |= CF_EOF;
		p->done = true;		/* flush the pipe, then finish */
	} else if (n == 0) {
		p->src_err = true;
		pump_finish(p, -EPIPE);
		return -1;
	} else if (errno == EAGAIN) {
		*rblock = true;
	} else {
		p->src_err = true;
		pump_finish(p, -errno);
		return -1;
	}
	return 0;
}

/* Pipe -> destination. Returns 0 to go on, -1 when it waits for POLLOUT or finished. */
static int
splice_drain(struct pump *p, int rfd)
{
	ssize_t n = splice(rfd, NULL, p->dst->fd, NULL, p->in_pipe,
		SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

	if (n > 0) {
		p->in_pipe -= (uint32_t)n;
		p->bytes += (uint64_t)n;
		if (p->dst->role == CONN_CLIENT)
			p->dst->s->bytes_out += (uint64_t)n;
		return 0;
	}
	if (n < 0 && errno == EAGAIN) {
		pump_progress(p);
		if (conn_poll(p->dst, POLLOUT) < 0)
			pump_finish(p, -EBUSY);
		return -1;
	}
	pump_finish(p, n < 0 ? -errno : -EPIPE);
	return -1;
}

static void
pump_splice(struct pump *p)
{
	struct worker *w = p->src->w;
	int rounds = 0;

	if (p->pipe < 0) {
		p->pipe = (int16_t)pipe_get(&w->pipes);
		if (p->pipe < 0) {
			p->splicing = false;	/* no pipe: copy */
			pump_advance(p);
			return;
		}
		fcntl(p->src->fd, F_SETFL, fcntl(p->src->fd, F_GETFL) | O_NONBLOCK);
		fcntl(p->dst->fd, F_SETFL, fcntl(p->dst->fd, F_GETFL) | O_NONBLOCK);
	}
	while (rounds++ < 8) {
		int *pfd = w->pipes.fds[p->pipe];
		bool rblock = false;
		/* PM_LENGTH: until remaining is 0; PM_CLOSE (tunnel): until the source's EOF */
		bool more = p->mode == PM_CLOSE ? !p->done : p->remaining > 0;

		if (more && p->in_pipe < (uint32_t)w->pipes.size &&
		    splice_fill(p, pfd[1], (size_t)w->pipes.size - p->in_pipe, &rblock) < 0)
			return;
		if (p->in_pipe > 0 && splice_drain(p, pfd[0]) < 0)
			return;
		more = p->mode == PM_CLOSE ? !p->done : p->remaining > 0;
		if (!more && p->in_pipe == 0) {
			p->done = true;
			pump_finish(p, 0);
			return;
		}
		if (rblock && p->in_pipe == 0) {
			pump_progress(p);
			if (conn_poll(p->src, POLLIN) < 0)
				pump_finish(p, -EBUSY);
			return;
		}
	}
	/*
	 * Plenty moved: yield to other connections through a poll that fires at once. Bytes
	 * still in the pipe wait for the destination, not the source: the source may have sent
	 * its last byte, and its POLLIN would then never come (the body's tail would stall).
	 */
	pump_progress(p);
	if (conn_poll(p->in_pipe > 0 ? p->dst : p->src, p->in_pipe > 0 ? POLLOUT : POLLIN) < 0)
		pump_finish(p, -EBUSY);
}

void
pump_on_poll(struct conn *c, int res, bool out)
{
	/* POLLIN belongs to the pump reading c, POLLOUT to the one writing it */
	struct pump *p = out ? c->wpump : c->rpump;

	if (p == NULL || !p->active || !p->splicing)
		return;
	if (res < 0) {
		p->src_err = !out;
		pump_finish(p, res);
		return;
	}
	pump_splice(p);
}
