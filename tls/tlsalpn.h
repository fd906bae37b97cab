/*
 * TLS-ALPN-01 (RFC 8737) on the TLS listeners, without tls/ knowing ACME: the ACME client
 * registers a lookup (core/acme/tlsalpn.c); hello() in tlsconn.c asks it about every
 * ClientHello while it is set, and a hit is answered with the challenge certificate and
 * ALPN "acme-tls/1" instead of the listener's certificate (docs/acme.md "How it works").
 */
#ifndef RINGEDGE_TLS_TLSALPN_H
#define RINGEDGE_TLS_TLSALPN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct tls_conn;

/*
 * rec[0..len) is the whole first record (a ClientHello), sni its server name (may be NULL).
 * 1 with the challenge certificate and key (DER, malloc'd: the caller frees them) when the
 * hello offers acme-tls/1 for a name with a pending challenge; 0 otherwise. Any thread.
 */
typedef int (*tls_alpn_lookup_fn)(const uint8_t *rec, size_t len, const char *sni,
				  uint8_t **cert, size_t *cert_len, uint8_t **key,
				  size_t *key_len);

/* NULL (nothing to look up) unless the ACME client is built in and running. */
extern _Atomic(tls_alpn_lookup_fn) tls_alpn_lookup;

/* hello(): 1 when c was attached to a challenge context (ALPN acme-tls/1 only), 0 when the
 * hello is not a challenge, < 0 on error. */
int tls_alpn_hello(struct tls_conn *c, const uint8_t *rec, size_t len, const char *sni);

#endif
