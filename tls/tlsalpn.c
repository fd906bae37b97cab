/*
 * TLS-ALPN-01 challenge handshakes; see tlsalpn.h. A context per challenge connection (a
 * handful per issuance): wolfSSL counts the context's references, so freeing it right after
 * wolfSSL_new leaves it to the connection.
 */
#include "tls/tlsalpn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "tls/tls-int.h"
#include "tls/tls.h"

_Atomic(tls_alpn_lookup_fn) tls_alpn_lookup;

static char alpn_acme[] = "acme-tls/1";

static WOLFSSL_CTX *
challenge_ctx(const uint8_t *cert, size_t cl, const uint8_t *key, size_t kl)
{
	WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());

	if (ctx == NULL)
		return NULL;
	if (wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_certificate_buffer(ctx, cert, (long)cl, WOLFSSL_FILETYPE_ASN1) !=
	    WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_PrivateKey_buffer(ctx, key, (long)kl, WOLFSSL_FILETYPE_ASN1) !=
	    WOLFSSL_SUCCESS) {
		wolfSSL_CTX_free(ctx);
		return NULL;
	}
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	wolfSSL_CTX_SetIORecv(ctx, tls_io_recv);
	wolfSSL_CTX_SetIOSend(ctx, tls_io_send);
	wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_OFF);
	return ctx;
}

int
tls_alpn_hello(struct tls_conn *c, const uint8_t *rec, size_t len, const char *sni)
{
	tls_alpn_lookup_fn f = atomic_load_explicit(&tls_alpn_lookup, memory_order_acquire);
	uint8_t *cert = NULL, *key = NULL;
	size_t cl = 0, kl = 0;
	WOLFSSL_CTX *ctx;
	int rc = -ENOMEM;

	if (f == NULL || f(rec, len, sni, &cert, &cl, &key, &kl) <= 0)
		return 0;
	ctx = challenge_ctx(cert, cl, key, kl);
	if (key != NULL)
		memset(key, 0, kl);
	free(key);
	free(cert);
	if (ctx == NULL)
		return -EPROTO;
	c->ssl = wolfSSL_new(ctx);
	wolfSSL_CTX_free(ctx);	/* the connection holds its own reference */
	if (c->ssl == NULL)
		return rc;
	wolfSSL_SetIOReadCtx(c->ssl, c);
	wolfSSL_SetIOWriteCtx(c->ssl, c);
	if (wolfSSL_UseALPN(c->ssl, alpn_acme, sizeof(alpn_acme) - 1,
			    WOLFSSL_ALPN_FAILED_ON_MISMATCH) != WOLFSSL_SUCCESS)
		return rc;
	c->state = TLS_ST_HANDSHAKE;
	return 1;
}
