/*
 * The transport interface (HAProxy's xprt_ops), shared by the connection layer (core/io/,
 * which drives transports) and the transports themselves: plain in core/io/xprt.c, TLS in
 * tls/xprt_tls.c. It lives in core/lib/ because both sides include it: in tls/ the plain
 * transport would depend on the TLS layer for its own interface, in core/io/ the TLS layer
 * would include the connection layer above it. It names no core type.
 *
 * Connection code never touches socket bytes directly: the ring delivers wire bytes to
 * xprt->ops->recv, which hands back application bytes; application bytes go through
 * xprt->ops->send. A stateless transport (ctx NULL: the identity) has nothing queued, and the
 * connection layer sends and receives straight from the connection's buffers (no copy, no
 * indirect call on the plain fast path). A transport with state keeps its records in
 * in-memory buffers and queues its own wire bytes (handshake flights produced by recv,
 * tickets, alerts, close_notify), which the connection layer drains through `pending` and
 * `sent` (core/io/conn_queued.c). Request code never branches on TLS. Contract: docs/tls.md.
 */
#ifndef RINGEDGE_CORE_LIB_XPRT_T_H
#define RINGEDGE_CORE_LIB_XPRT_T_H

#include <stdbool.h>
#include <stddef.h>

struct xprt;

struct xprt_ops {
	const char *name;
	/*
	 * Wire bytes in[0..len) arrived (in = NULL, len = 0: continue, see recv_more). Every
	 * byte is consumed. Sets *app and *app_len to the application bytes now available
	 * (may alias in; TLS: valid until the next call). Returns > 0 progress, 0 need more
	 * wire bytes, < 0 -errno: -ESHUTDOWN the peer closed (TLS close_notify: EOF),
	 * -EKEYREJECTED the peer's certificate failed verification, -EPROTO other failures.
	 * May queue wire bytes: check `pending` after every call.
	 */
	int (*recv)(struct xprt *x, char *in, size_t len, char **app, size_t *app_len);
	/*
	 * Application bytes to send. Returns how many bytes of buf were taken (plain: len),
	 * 0 = back-pressure or handshake not done (flush `pending` first), < 0 -errno. Plain
	 * sets *wire and *wire_len to what the ring must send (aliases buf); TLS sets *wire_len = 0:
	 * its bytes come from `pending`.
	 */
	int (*send)(struct xprt *x, const char *buf, size_t len, const char **wire,
		size_t *wire_len);
	/* Starts an orderly close: wire bytes to flush first through *wire (0: none; TLS queues
	 * close_notify in `pending`). */
	int (*shutdown)(struct xprt *x, const char **wire, size_t *wire_len);
	/* The oldest contiguous run of wire bytes the transport queued on its own, stable until
	 * `sent`. Returns its length, 0 if none. Plain: always 0. */
	size_t (*pending)(struct xprt *x, const char **wire);
	/* n bytes of what `pending` returned are on the wire. Plain: no-op. */
	void (*sent)(struct xprt *x, size_t n);
	/* Bytes are buffered that recv has not returned yet: call recv(x, NULL, 0, ...) before
	 * arming a socket recv. Plain: false. */
	bool (*recv_more)(struct xprt *x);
	/* Optional (NULL: nothing to release): keep-alive idle, release buffers. */
	void (*idle)(struct xprt *x);
	/* Why the last call failed, for the error log and the 502 line; NULL: use strerror. */
	const char *(*error)(struct xprt *x, char *buf, size_t len);
	/* Frees x->ctx when the connection is released. Plain: no-op. */
	void (*destroy)(struct xprt *x);
	/* The handshake (if any) is complete: the peer is who it says. Plain: true. */
	bool (*established)(struct xprt *x);
	/* Optional (NULL: every host): the certificate this server connection presented covers
	 * host[0..len) (RFC 9110 15.5.20, else 421). */
	bool (*covers_host)(struct xprt *x, const char *host, size_t len);
	/* Plaintext on the wire: the kernel may splice this socket's bytes. */
	bool splice_ok;
};

struct xprt {
	const struct xprt_ops	*ops;
	void			*ctx;	/* the transport's per-connection state (TLS session) */
};

/* The transport keeps wire bytes in queues of its own (see above): the connection layer
 * takes the queued I/O path. */
static inline bool
xprt_queued(const struct xprt *x)
{
	return x->ctx != NULL;
}

#endif
