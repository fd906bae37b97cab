/* The TLS transport: struct xprt over tls_conn_* (see tls/xprt_tls.h, docs/tls.md). */
#include <errno.h>

#include "tls/tls.h"
#include "tls/xprt_tls.h"


int
xprt_tls_recv(struct xprt *x, char *in, size_t len, char **app, size_t *app_len)
{
	return tls_conn_recv(x->ctx, in, len, app, app_len);
}

int
xprt_tls_send(struct xprt *x, const char *buf, size_t len, const char **wire, size_t *wire_len)
{
	*wire = NULL;
	*wire_len = 0;
	return tls_conn_send(x->ctx, buf, len);
}

int
xprt_tls_shutdown(struct xprt *x, const char **wire, size_t *wire_len)
{
	*wire = NULL;
	*wire_len = 0;
	return tls_conn_shutdown(x->ctx);
}

size_t
xprt_tls_pending(struct xprt *x, const char **wire)
{
	return tls_conn_wire(x->ctx, wire);
}

void
xprt_tls_sent(struct xprt *x, size_t n)
{
	tls_conn_wire_done(x->ctx, n);
}

bool
xprt_tls_recv_more(struct xprt *x)
{
	return tls_conn_recv_more(x->ctx);
}

void
xprt_tls_idle(struct xprt *x)
{
	tls_conn_shrink(x->ctx);
}

const char *
xprt_tls_error(struct xprt *x, char *buf, size_t len)
{
	return tls_conn_error(x->ctx, buf, len);
}

void
xprt_tls_destroy(struct xprt *x)
{
	tls_conn_free(x->ctx);
	x->ctx = NULL;
}

static bool
xprt_tls_established(struct xprt *x)
{
	return tls_conn_established(x->ctx);
}

static bool
xprt_tls_covers_host(struct xprt *x, const char *host, size_t len)
{
	return tls_conn_covers_host(x->ctx, host, len);
}

static const struct xprt_ops xprt_tls = {
	.name = "tls",
	.recv = xprt_tls_recv,
	.send = xprt_tls_send,
	.shutdown = xprt_tls_shutdown,
	.pending = xprt_tls_pending,
	.sent = xprt_tls_sent,
	.recv_more = xprt_tls_recv_more,
	.idle = xprt_tls_idle,
	.error = xprt_tls_error,
	.destroy = xprt_tls_destroy,
	.established = xprt_tls_established,
	.covers_host = xprt_tls_covers_host,
	.splice_ok = false,
};

/* x becomes a TLS transport over t (NULL: out of memory, x unchanged). */
static int
xprt_tls_bind(struct xprt *x, struct tls_conn *t)
{
	if (t == NULL)
		return -ENOMEM;
	x->ctx = t;
	x->ops = &xprt_tls;
	return 0;
}

int
xprt_tls_init_server(struct xprt *x, const struct tls_server *s)
{
	return xprt_tls_bind(x, tls_conn_server(s));
}

int
xprt_tls_init_client(struct xprt *x, const struct tls_client *cl, const char *host,
		     struct tls_sess_slot *slot)
{
	return xprt_tls_bind(x, tls_conn_client(cl, host, slot));
}
