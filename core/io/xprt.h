/*
 * The plain transport (core/io/xprt.c): stateless, shared by every plain connection on every
 * worker. The TLS transport is tls/xprt_tls.h. The interface: core/lib/xprt-t.h.
 */
#ifndef RINGEDGE_CORE_IO_XPRT_H
#define RINGEDGE_CORE_IO_XPRT_H

#include "core/lib/xprt-t.h"

extern const struct xprt_ops xprt_plain;

static inline void
xprt_init_plain(struct xprt *x)
{
	x->ops = &xprt_plain;
	x->ctx = NULL;
}

#endif
