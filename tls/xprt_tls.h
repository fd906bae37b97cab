/*
 * The TLS transport (core/lib/xprt-t.h, HAProxy's ssl_sock xprt_ops): the whole of it lives
 * in tls/xprt_tls.c, its operations table included. x->ctx is a struct tls_conn, owned by the
 * connection's worker; every call runs on that worker.
 */
#ifndef RINGEDGE_TLS_XPRT_TLS_H
#define RINGEDGE_TLS_XPRT_TLS_H

#include "core/lib/xprt-t.h"
#include "tls/tls-t.h"

/* Binds x to a new server connection of listener s (ctx = tls_conn, ops = the TLS
 * transport). Returns 0, or -ENOMEM with x unchanged. */
int xprt_tls_init_server(struct xprt *x, const struct tls_server *s);

/* Binds x to a new backend connection; the ClientHello is queued (see pending). 0, or
 * -ENOMEM with x unchanged. */
int xprt_tls_init_client(struct xprt *x, const struct tls_client *cl, const char *host,
			 struct tls_sess_slot *slot);

/* The operations of the table, exported for the unit tests (test/unit/tls_conn_test.c);
 * contracts in core/lib/xprt-t.h. */
int xprt_tls_recv(struct xprt *x, char *in, size_t len, char **app, size_t *app_len);
int xprt_tls_send(struct xprt *x, const char *buf, size_t len, const char **wire,
		  size_t *wire_len);
int xprt_tls_shutdown(struct xprt *x, const char **wire, size_t *wire_len);
size_t xprt_tls_pending(struct xprt *x, const char **wire);
void xprt_tls_sent(struct xprt *x, size_t n);
bool xprt_tls_recv_more(struct xprt *x);
void xprt_tls_idle(struct xprt *x);
const char *xprt_tls_error(struct xprt *x, char *buf, size_t len);
void xprt_tls_destroy(struct xprt *x);

#endif
