/*
 * Transports. xprt_plain is stateless and shared by every plain connection on every worker;
 * xprt_tls wraps tls/ (x->ctx is a struct tls_conn, owned by the connection's worker).
 */
#ifndef RINGEDGE_CORE_IO_XPRT_H
#define RINGEDGE_CORE_IO_XPRT_H

#include "core/xprt-t.h"

extern const struct xprt_ops xprt_plain;
extern const struct xprt_ops xprt_tls;

static inline void
xprt_init_plain(struct xprt *x)
{
	x->ops = &xprt_plain;
	x->ctx = NULL;
}

/* Plain transports have no state: the data plane's fast path. */
static inline bool
xprt_is_plain(const struct xprt *x)
{
	return x->ctx == NULL;
}

#endif
