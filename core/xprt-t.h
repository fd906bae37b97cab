/*
 * Transport layer types (HAProxy's xprt_ops). Connection code never touches socket bytes
 * directly: the ring delivers wire bytes to xprt->ops->recv, which hands back application
 * bytes; application bytes go through xprt->ops->send, which hands back the wire bytes the
 * ring must send. The plain transport is the identity. The TLS transport (tls/, later) has
 * the same shape and keeps its records in in-memory buffers, so request code never branches
 * on TLS.
 */
#ifndef RINGEDGE_CORE_XPRT_T_H
#define RINGEDGE_CORE_XPRT_T_H

#include <stdbool.h>
#include <stddef.h>

struct xprt;

struct xprt_ops {
	const char *name;
	/*
	 * Wire bytes in[0..len) arrived. Sets *app and *app_len to the application bytes now
	 * available (may alias in). Returns > 0 progress, 0 need more wire bytes, < 0 -errno.
	 */
	int (*recv)(struct xprt *x, char *in, size_t len, char **app, size_t *app_len);
	/*
	 * Application bytes to send. Sets *wire and *wire_len to what the ring must send (may
	 * alias buf). Returns > 0, or < 0 -errno.
	 */
	int (*send)(struct xprt *x, const char *buf, size_t len, const char **wire,
		size_t *wire_len);
	/* Starts an orderly close: returns wire bytes to flush first through *wire (0: none). */
	int (*shutdown)(struct xprt *x, const char **wire, size_t *wire_len);
	/* Plaintext on the wire: the kernel may splice this socket's bytes. */
	bool splice_ok;
};

struct xprt {
	const struct xprt_ops	*ops;
	void			*ctx;	/* the transport's per-connection state (TLS session) */
};

#endif
