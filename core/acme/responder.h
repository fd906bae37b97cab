/*
 * The process-wide table of pending ACME challenges, written by the ACME thread and read by
 * whoever answers the ACME server's validation requests:
 *
 *  - HTTP-01: the plain listeners' request path, BEFORE routing: if
 *    responder_http_is_acme(target) is true, answer responder_http_lookup() as
 *    "200 text/plain" (or 404 when it returns -ENOENT) and do not route.
 *  - TLS-ALPN-01: the TLS listener's ClientHello: when the client offers ALPN "acme-tls/1"
 *    and responder_alpn_pending() is non-zero, select "acme-tls/1" and serve the certificate
 *    responder_alpn_get(SNI) returns, then close after the handshake (RFC 8737 §3).
 *
 * Locking: the fast checks (responder_http_is_acme: pure prefix test; responder_alpn_pending:
 * one relaxed atomic load) take no lock, so ordinary requests and handshakes never touch the
 * mutex; only an actual ACME validation request (a handful per issuance) takes it.
 * Every function is safe from any thread.
 */
#ifndef RINGEDGE_CORE_ACME_RESPONDER_H
#define RINGEDGE_CORE_ACME_RESPONDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESPONDER_HTTP_PREFIX	"/.well-known/acme-challenge/"
#define RESPONDER_ALPN		"acme-tls/1"
#define RESPONDER_MAX		256	/* pending challenges (names x certificates) */

/* Publishes token -> key authorization (copied). 0, -EINVAL (bad token) or -ENOSPC. */
int responder_http_put(const char *token, const char *keyauth);
void responder_http_del(const char *token);

/* True when the origin-form target (bytes, not NUL-terminated) is under
 * /.well-known/acme-challenge/. Lock-free, pure. */
bool responder_http_is_acme(const char *target, size_t len);

/* For an ACME target: copies the key authorization into out; returns its length, -ENOENT
 * (unknown token: answer 404) or -ENOSPC. */
int responder_http_lookup(const char *target, size_t len, char *out, size_t outlen);

/* Publishes the challenge certificate and key (DER, copied) for a DNS name. */
int responder_alpn_put(const char *name, const uint8_t *cert, size_t cert_len,
		       const uint8_t *key, size_t key_len);
void responder_alpn_del(const char *name);
/* Number of TLS-ALPN-01 challenges published now (relaxed atomic; no lock). */
unsigned responder_alpn_pending(void);
/* Copies the DER certificate and key for name (case-insensitive; malloc'd, caller frees).
 * 0 or -ENOENT/-ENOMEM. */
int responder_alpn_get(const char *name, uint8_t **cert, size_t *cert_len, uint8_t **key,
		       size_t *key_len);

/* Drops every entry (tests, shutdown). */
void responder_clear(void);

#endif

/*
 * Pure ClientHello check for the TLS listener (before wolfSSL_new, where tls/tlsconn.c reads
 * the SNI): true when `rec` (the whole first TLS record, header included) is a ClientHello
 * whose ALPN extension offers "acme-tls/1". Malformed input is just false.
 */
bool responder_hello_wants_acme(const uint8_t *rec, size_t len);
