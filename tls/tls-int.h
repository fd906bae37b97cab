/*
 * Internal to tls/: shared between tlsctx.c, tlsconn.c and tlsticket.c. Include after the
 * wolfSSL headers.
 */
#ifndef RINGEDGE_TLS_TLS_INT_H
#define RINGEDGE_TLS_TLS_INT_H

#include "tls/tls-t.h"

/* wolfSSL SessionTicketEncCb over struct tls_tickets (arg). */
int tls_ticket_cb(struct WOLFSSL *ssl, unsigned char key_name[WOLFSSL_TICKET_NAME_SZ],
		  unsigned char iv[WOLFSSL_TICKET_IV_SZ], unsigned char mac[WOLFSSL_TICKET_MAC_SZ],
		  int enc, unsigned char *ticket, int in_len, int *out_len, void *arg);

/* wolfSSL I/O callbacks over struct tls_conn's in-memory buffers (tlsconn.c). */
int tls_io_recv(struct WOLFSSL *ssl, char *buf, int sz, void *arg);
int tls_io_send(struct WOLFSSL *ssl, char *buf, int sz, void *arg);

#endif
