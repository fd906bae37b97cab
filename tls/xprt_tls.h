/*
 * The TLS transport in the shape of core/xprt-t.h (HAProxy xprt_ops): x->ctx is a struct
 * tls_conn. recv/send/shutdown have today's xprt_ops signatures; pending/sent/recv_more/
 * idle/error/destroy are the operations docs/tls.md asks core/xprt-t.h to add (TLS emits wire
 * bytes the caller did not ask for: handshake flights from recv, tickets, alerts,
 * close_notify). Owner worker only.
 */
#ifndef RINGEDGE_TLS_XPRT_TLS_H
#define RINGEDGE_TLS_XPRT_TLS_H

#include "core/xprt-t.h"
#include "tls/tls-t.h"

/* Binds x to a new server connection of listener s (ctx = tls_conn). Returns 0 or -ENOMEM. */
int xprt_tls_init_server(struct xprt *x, const struct tls_server *s);
/* Binds x to a new backend connection; the ClientHello is queued (see pending). 0 or -errno. */
int xprt_tls_init_client(struct xprt *x, const struct tls_client *cl, const char *host,
			 struct tls_sess_slot *slot);

/* tls_conn_recv: > 0 progress, 0 need more, -ESHUTDOWN EOF, -EKEYREJECTED verify, -EPROTO. */
int xprt_tls_recv(struct xprt *x, char *in, size_t len, char **app, size_t *app_len);
/* Encrypts into the queue; *wire_len = 0 (wire bytes come from pending). Returns the number
 * of bytes taken (may be < len), 0 back-pressure or handshake not done, < 0 -errno. */
int xprt_tls_send(struct xprt *x, const char *buf, size_t len, const char **wire,
		  size_t *wire_len);
/* Queues close_notify; *wire_len = 0 (flush pending). Returns 0 or -errno. */
int xprt_tls_shutdown(struct xprt *x, const char **wire, size_t *wire_len);
/* The oldest queued wire bytes (stable until sent); 0 if none. */
size_t xprt_tls_pending(struct xprt *x, const char **wire);
void xprt_tls_sent(struct xprt *x, size_t n);
bool xprt_tls_recv_more(struct xprt *x);
void xprt_tls_idle(struct xprt *x);
const char *xprt_tls_error(struct xprt *x, char *buf, size_t len);
void xprt_tls_destroy(struct xprt *x);

#endif
