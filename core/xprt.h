/*
 * Transports. xprt_plain is stateless and shared by every plain connection on every worker.
 */
#ifndef RINGEDGE_CORE_XPRT_H
#define RINGEDGE_CORE_XPRT_H

#include "core/xprt-t.h"

extern const struct xprt_ops xprt_plain;

static inline void
xprt_init_plain(struct xprt *x)
{
	x->ops = &xprt_plain;
	x->ctx = NULL;
}

#endif
