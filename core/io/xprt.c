/* The plain transport (identity) and the table of the TLS transport (tls/xprt_tls.c). */
#include "core/io/xprt.h"

#include "tls/xprt_tls.h"

static int
plain_recv(struct xprt *x, char *in, size_t len, char **app, size_t *app_len)
{
	(void)x;
	*app = in;
	*app_len = len;
	return len > 0;
}

static int
plain_send(struct xprt *x, const char *buf, size_t len, const char **wire, size_t *wire_len)
{
	(void)x;
	*wire = buf;
	*wire_len = len;
	return (int)len;
}

static int
plain_shutdown(struct xprt *x, const char **wire, size_t *wire_len)
{
	(void)x;
	*wire = NULL;
	*wire_len = 0;
	return 0;
}

static size_t
plain_pending(struct xprt *x, const char **wire)
{
	(void)x;
	*wire = NULL;
	return 0;
}

static void
plain_sent(struct xprt *x, size_t n)
{
	(void)x;
	(void)n;
}

static bool
plain_recv_more(struct xprt *x)
{
	(void)x;
	return false;
}

static void
plain_nop(struct xprt *x)
{
	(void)x;
}

static const char *
plain_error(struct xprt *x, char *buf, size_t len)
{
	(void)x;
	(void)buf;
	(void)len;
	return NULL;
}

const struct xprt_ops xprt_plain = {
	.name = "plain",
	.recv = plain_recv,
	.send = plain_send,
	.shutdown = plain_shutdown,
	.pending = plain_pending,
	.sent = plain_sent,
	.recv_more = plain_recv_more,
	.idle = plain_nop,
	.error = plain_error,
	.destroy = plain_nop,
	.splice_ok = true,
};

const struct xprt_ops xprt_tls = {
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
	.splice_ok = false,
};
