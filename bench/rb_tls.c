#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfio.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/rb_tls.h"

/* wolfSSL asks for ciphertext: hand over what the ring has received, or say "would block". */
static int
on_tls_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct rb_tls *t = ctx;
	size_t avail = t->in_len - t->in_off, n;

	(void)ssl;
	if (avail == 0) {
		if (t->eof)
			return WOLFSSL_CBIO_ERR_CONN_CLOSE;
		return WOLFSSL_CBIO_ERR_WANT_READ;
	}
	n = avail < (size_t)sz ? avail : (size_t)sz;
	memcpy(buf, t->in + t->in_off, n);
	t->in_off += n;
	if (t->in_off == t->in_len)
		t->in_off = t->in_len = 0;
	return (int)n;
}

/* wolfSSL produced ciphertext: queue it for the ring's next send. */
static int
on_tls_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct rb_tls *t = ctx;
	size_t n;

	(void)ssl;
	n = t->out_cap - t->out_len;
	if (n == 0)
		return WOLFSSL_CBIO_ERR_WANT_WRITE;
	if ((size_t)sz < n)
		n = (size_t)sz;
	memcpy(t->out + t->out_len, buf, n);
	t->out_len += n;
	return (int)n;
}

int
rb_tls_global_init(void)
{
	return wolfSSL_Init() == WOLFSSL_SUCCESS ? 0 : -1;
}

void
rb_tls_thread_done(void)
{
#if defined(HAVE_ECC) && defined(FP_ECC)
	/* The fixed-point cache is thread-local and would otherwise leak at thread exit. */
	wc_ecc_fp_free();
#endif
}

/*
 * What a TLS 1.2 ClientHello offers. wolfSSL's defaults put AES-256 and P-521 first, and an
 * OpenSSL server (nginx) follows the client's order: every full handshake would then be a
 * P-521 ECDHE, several times the cost of the P-256 one a browser or ringbench's own TLS 1.3
 * key share gets. Offer what TLS 1.3 negotiates instead (AES-128-GCM, P-256 first), so a
 * TLS 1.2 vs 1.3 comparison measures the protocol, not the curve.
 */
static const char tls12_ciphers[] =
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

static int
tls12_offer(WOLFSSL_CTX *ctx, char *err, size_t errlen)
{
#ifdef HAVE_SUPPORTED_CURVES
	static const word16 groups[] = {
		WOLFSSL_ECC_SECP256R1, WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP384R1,
	};
	size_t i;

	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (wolfSSL_CTX_UseSupportedCurve(ctx, groups[i]) != WOLFSSL_SUCCESS) {
			snprintf(err, errlen, "TLS 1.2: cannot offer group %u", groups[i]);
			return -1;
		}
	}
#endif
	if (wolfSSL_CTX_set_cipher_list(ctx, tls12_ciphers) != WOLFSSL_SUCCESS) {
		snprintf(err, errlen, "TLS 1.2: cannot set the cipher list");
		return -1;
	}
	return 0;
}

WOLFSSL_CTX *
rb_tls_ctx_new(int insecure, const char *cacert, enum rb_tls_max max, char *err, size_t errlen)
{
	WOLFSSL_CTX *ctx;

	/*
	 * The version-specific method, not wolfSSL_CTX_set_max_proto_version: that one needs
	 * OPENSSL_EXTRA, which the lean build leaves out (docs/wolfssl.md).
	 */
	ctx = wolfSSL_CTX_new(max == RB_TLS_MAX_12 ? wolfTLSv1_2_client_method() :
	    wolfSSLv23_client_method());
	if (ctx == NULL) {
		snprintf(err, errlen, "wolfSSL_CTX_new failed");
		return NULL;
	}
	if (insecure) {
		wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	} else {
		wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
		if (cacert != NULL) {
			if (wolfSSL_CTX_load_verify_locations(ctx, cacert, NULL) != WOLFSSL_SUCCESS) {
				snprintf(err, errlen, "%s: cannot load CA certificates", cacert);
				goto fail;
			}
		} else if (wolfSSL_CTX_load_system_CA_certs(ctx) != WOLFSSL_SUCCESS) {
			snprintf(err, errlen, "cannot load the system CA store; use --cacert FILE or -k");
			goto fail;
		}
	}
	if (max == RB_TLS_MAX_12 && tls12_offer(ctx, err, errlen) < 0)
		goto fail;
	wolfSSL_SetIORecv(ctx, on_tls_recv);
	wolfSSL_SetIOSend(ctx, on_tls_send);
	return ctx;
fail:
	wolfSSL_CTX_free(ctx);
	return NULL;
}

int
rb_tls_alloc(struct rb_tls *t, size_t out_cap)
{
	memset(t, 0, sizeof(*t));
	t->in = malloc(RB_TLS_IN_CAP);
	t->out = malloc(out_cap);
	t->out_cap = out_cap;
	if (t->in == NULL || t->out == NULL) {
		free(t->in);
		free(t->out);
		return -1;
	}
	return 0;
}

void
rb_tls_release(struct rb_tls *t)
{
	rb_tls_end(t, NULL);
	free(t->in);
	free(t->out);
	t->in = t->out = NULL;
}

static int
is_ip_literal(const char *host)
{
	unsigned char a[16];

	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

int
rb_tls_begin(struct rb_tls *t, WOLFSSL_CTX *ctx, const char *host, int verify_name,
    WOLFSSL_SESSION *sess)
{
	t->in_off = t->in_len = t->out_len = 0;
	t->eof = 0;
	t->ssl = wolfSSL_new(ctx);
	if (t->ssl == NULL)
		return -1;
	wolfSSL_SetIOReadCtx(t->ssl, t);
	wolfSSL_SetIOWriteCtx(t->ssl, t);
	/* SNI must be a DNS name (RFC 6066), never an address literal. */
	if (!is_ip_literal(host)) {
		if (wolfSSL_UseSNI(t->ssl, WOLFSSL_SNI_HOST_NAME, host, (unsigned short)strlen(host))
		    != WOLFSSL_SUCCESS)
			goto fail;
		if (verify_name && wolfSSL_check_domain_name(t->ssl, host) != WOLFSSL_SUCCESS)
			goto fail;
	}
	/* TLS 1.2 tickets need asking for; TLS 1.3 tickets come unasked. */
	wolfSSL_UseSessionTicket(t->ssl);
	if (sess != NULL)
		wolfSSL_set_session(t->ssl, sess);
	return 0;
fail:
	wolfSSL_free(t->ssl);
	t->ssl = NULL;
	return -1;
}

int
rb_tls_handshake(struct rb_tls *t, char *err, size_t errlen)
{
	char buf[128];
	int ret, e;

	ret = wolfSSL_connect(t->ssl);
	if (ret == WOLFSSL_SUCCESS)
		return 1;
	e = wolfSSL_get_error(t->ssl, ret);
	if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
		return 0;
	if (err != NULL) {
		wolfSSL_ERR_error_string_n((unsigned long)e, buf, sizeof(buf));
		snprintf(err, errlen, "TLS handshake: %s (%d)", buf, e);
	}
	return -1;
}

int
rb_tls_write(struct rb_tls *t, const void *p, size_t n)
{
	int ret = wolfSSL_write(t->ssl, p, (int)n);

	return ret == (int)n ? 1 : -1;
}

int
rb_tls_read(struct rb_tls *t, void *p, size_t n)
{
	int ret = wolfSSL_read(t->ssl, p, (int)n), e;

	if (ret > 0)
		return ret;
	e = wolfSSL_get_error(t->ssl, ret);
	if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
		return 0;
	if (e == WOLFSSL_ERROR_ZERO_RETURN || e == SOCKET_PEER_CLOSED_E || t->eof)
		return -2;
	return -1;
}

int
rb_tls_resumed(struct rb_tls *t)
{
	return t->ssl != NULL && wolfSSL_session_reused(t->ssl);
}

void
rb_tls_end(struct rb_tls *t, WOLFSSL_SESSION **save)
{
	WOLFSSL_SESSION *s;

	if (t->ssl == NULL)
		return;
	if (save != NULL) {
		s = wolfSSL_get1_session(t->ssl);
		if (s != NULL) {
			if (*save != NULL)
				wolfSSL_SESSION_free(*save);
			*save = s;
		}
	}
	wolfSSL_free(t->ssl);
	t->ssl = NULL;
}
