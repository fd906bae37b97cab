#include "core/xprt.h"

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
	return 1;
}

static int
plain_shutdown(struct xprt *x, const char **wire, size_t *wire_len)
{
	(void)x;
	*wire = NULL;
	*wire_len = 0;
	return 0;
}

const struct xprt_ops xprt_plain = {
	.name = "plain",
	.recv = plain_recv,
	.send = plain_send,
	.shutdown = plain_shutdown,
	.splice_ok = true,
};
