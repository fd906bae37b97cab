/*
 * Transport layer types (HAProxy's xprt_ops). Connection code never touches socket bytes
 * directly: the ring delivers wire bytes to xprt->ops->recv, which hands back application
 * bytes; application bytes go through xprt->ops->send. The plain transport is the identity
 * and has no state (ctx NULL): core/conn.c checks ctx once and takes the direct path, so
 * plain connections pay nothing for the TLS operations. The TLS transport (tls/xprt_tls.c)
 * keeps its records in in-memory buffers and queues its own wire bytes (handshake flights
 * produced by recv, tickets, alerts, close_notify), which the ring drains through `pending`
 * and `sent`. Request code never branches on TLS. Contract: docs/tls.md.
 */
#ifndef RINGEDGE_CORE_XPRT_T_H
#define RINGEDGE_CORE_XPRT_T_H

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
	/* Keep-alive idle: release buffers. Plain: no-op. */
	void (*idle)(struct xprt *x);
	/* Why the last call failed, for the error log and the 502 line; NULL: use strerror. */
	const char *(*error)(struct xprt *x, char *buf, size_t len);
	/* Frees x->ctx when the connection is released. Plain: no-op. */
	void (*destroy)(struct xprt *x);
	/* Plaintext on the wire: the kernel may splice this socket's bytes. */
	bool splice_ok;
};

struct xprt {
	const struct xprt_ops	*ops;
	void			*ctx;	/* the transport's per-connection state (TLS session) */
};

#endif
