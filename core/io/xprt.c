/* The plain transport: the identity, stateless, shared by every plain connection. */
#include "core/io/xprt.h"

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

static bool
plain_established(struct xprt *x)
{
	(void)x;
	return true;
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
	.idle = NULL,		/* nothing to release */
	.error = plain_error,
	.destroy = plain_nop,
	.established = plain_established,
	.covers_host = NULL,	/* no certificate: every host */
	.splice_ok = true,
};
