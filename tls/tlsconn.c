/*
 * The TLS transport of one connection: wolfSSL driven through custom I/O callbacks over
 * in-memory buffers, never a socket call. The recv callback reads the wire bytes the caller
 * just handed in (in place), then any bytes left over from earlier calls, and says WANT_READ
 * when both are empty; the send callback appends every byte wolfSSL produces to an output
 * queue of chunks that never move (a SEND may be in flight on them), so wolfSSL never sees
 * WANT_WRITE and back-pressure lives above it (tls_conn_send refuses bytes over the high
 * watermark). All buffers are allocated on demand and freed when empty, so an idle
 * keep-alive connection holds only this struct and wolfSSL's own state.
 *
 * A server connection starts without a WOLFSSL object: it buffers the first record, reads
 * the SNI from it (wolfSSL_SNI_GetFromBuffer) and only then calls wolfSSL_new on the context
 * of the matching certificate (our lean wolfSSL has no wolfSSL_set_SSL_CTX).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>

#include "tls/tls.h"
#include "tls/tls-int.h"
#include "tls/tlsalpn.h"

#define TLS_RECORD_MAX	(5 + 16384 + 256)	/* header + largest TLSCiphertext body */
#define TLS_CHUNK_MIN	4096
#define TLS_SEND_STEP	(4 * 16384)		/* application bytes per tls_conn_send */

static char alpn_http11[] = "http/1.1";

/* ---- buffers -------------------------------------------------------------------------- */

/* Appends p[0..n) to the leftover input. Returns 0 or -ENOMEM. */
static int
in_append(struct tls_conn *c, const char *p, size_t n)
{
	size_t need;

	if (n == 0)
		return 0;
	if (c->in_off > 0 && c->in_len > 0)
		memmove(c->in, c->in + c->in_off, c->in_len);
	c->in_off = 0;
	need = (size_t)c->in_len + n;
	if (need > UINT32_MAX)
		return -ENOMEM;
	if (need > c->in_cap) {
		char *grown = realloc(c->in, need);

		if (grown == NULL)
			return -ENOMEM;
		c->in = grown;
		c->in_cap = (uint32_t)need;
	}
	memcpy(c->in + c->in_len, p, n);
	c->in_len = (uint32_t)need;
	return 0;
}

static void
in_release(struct tls_conn *c)
{
	free(c->in);
	c->in = NULL;
	c->in_off = c->in_len = c->in_cap = 0;
}

/* The caller's bytes wolfSSL did not read in this call are kept for the next one. */
static int
stash_cur(struct tls_conn *c)
{
	int rc = in_append(c, c->cur, c->cur_len);

	c->cur = NULL;
	c->cur_len = 0;
	return rc;
}

int
tls_io_recv(struct WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct tls_conn *c = arg;
	size_t want = (size_t)sz, n = 0, k;

	(void)ssl;
	if (c->in_len > 0) {
		k = want < c->in_len ? want : c->in_len;
		memcpy(buf, c->in + c->in_off, k);
		c->in_off += (uint32_t)k;
		c->in_len -= (uint32_t)k;
		n = k;
		if (c->in_len == 0)
			in_release(c);
	}
	if (n < want && c->cur_len > 0) {
		k = want - n < c->cur_len ? want - n : c->cur_len;
		memcpy(buf + n, c->cur, k);
		c->cur += k;
		c->cur_len -= k;
		n += k;
	}
	return n > 0 ? (int)n : WOLFSSL_CBIO_ERR_WANT_READ;
}

int
tls_io_send(struct WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct tls_conn *c = arg;
	struct tls_chunk *t = c->out_tail;
	size_t n = (size_t)sz;

	(void)ssl;
	if (sz <= 0)
		return 0;
	if (t == NULL || t->cap - t->len < n) {
		size_t cap = n > TLS_CHUNK_MIN ? n : TLS_CHUNK_MIN;

		t = malloc(sizeof(*t) + cap);
		if (t == NULL)
			return WOLFSSL_CBIO_ERR_GENERAL;
		t->next = NULL;
		t->head = t->len = 0;
		t->cap = (uint32_t)cap;
		if (c->out_tail != NULL)
			c->out_tail->next = t;
		else
			c->out_head = t;
		c->out_tail = t;
	}
	memcpy(t->data + t->len, buf, n);
	t->len += (uint32_t)n;
	c->out_bytes += n;
	return sz;
}

size_t
tls_conn_wire(struct tls_conn *c, const char **wire)
{
	struct tls_chunk *h = c->out_head;

	if (h == NULL) {
		*wire = NULL;
		return 0;
	}
	*wire = h->data + h->head;
	return h->len - h->head;
}

void
tls_conn_wire_done(struct tls_conn *c, size_t n)
{
	while (n > 0 && c->out_head != NULL) {
		struct tls_chunk *h = c->out_head;
		size_t k = h->len - h->head;

		if (k > n)
			k = n;
		h->head += (uint32_t)k;
		c->out_bytes -= k;
		n -= k;
		if (h->head < h->len)
			break;
		c->out_head = h->next;
		if (c->out_head == NULL)
			c->out_tail = NULL;
		free(h);
	}
}

size_t
tls_conn_wire_pending(const struct tls_conn *c)
{
	return c->out_bytes;
}

/* ---- errors --------------------------------------------------------------------------- */

/* wolfSSL errors that mean "the peer's certificate failed verification". */
static const char *
verify_reason(int e)
{
	switch (e) {
	case ASN_NO_SIGNER_E:		return "unknown issuer (not signed by a trusted CA)";
	case ASN_SELF_SIGNED_E:		return "self-signed certificate";
	case DOMAIN_NAME_MISMATCH:	return "name mismatch";
	case IPADDR_MISMATCH:		return "IP address mismatch";
	case ASN_AFTER_DATE_E:		return "certificate expired";
	case ASN_BEFORE_DATE_E:		return "certificate not yet valid";
	case ASN_SIG_CONFIRM_E:		return "bad certificate signature";
	case ASN_PATHLEN_INV_E:
	case ASN_PATHLEN_SIZE_E:	return "bad certificate chain length";
	case ASN_SIG_OID_E:
	case ASN_SIG_KEY_E:
	case ASN_SIG_HASH_E:		return "unsupported certificate signature";
	case NO_PEER_CERT:		return "no peer certificate";
	case VERIFY_CERT_ERROR:		return "certificate verification failed";
	default:			return NULL;
	}
}

static int
fail(struct tls_conn *c, int wolf_err)
{
	c->state = TLS_ST_ERROR;
	c->wolf_err = wolf_err;
	c->err = verify_reason(wolf_err) != NULL ? -EKEYREJECTED : -EPROTO;
	c->cur = NULL;
	c->cur_len = 0;
	in_release(c);
	return c->err;
}

static int
fail_errno(struct tls_conn *c, int rc)
{
	c->state = TLS_ST_ERROR;
	c->wolf_err = 0;
	c->err = rc;
	c->cur = NULL;
	c->cur_len = 0;
	in_release(c);
	return rc;
}

const char *
tls_conn_error(const struct tls_conn *c, char *buf, size_t len)
{
	const char *why;

	if (c->state != TLS_ST_ERROR) {
		snprintf(buf, len, "%s", c->state == TLS_ST_CLOSED ? "closed" : "no error");
	} else if (c->wolf_err == 0) {
		snprintf(buf, len, "%s", c->err == -EPROTO ? "not a TLS ClientHello" :
			 strerror(-c->err));
	} else if ((why = verify_reason(c->wolf_err)) != NULL) {
		snprintf(buf, len, "certificate verify failed: %s (wolfSSL %d)", why, c->wolf_err);
	} else {
		snprintf(buf, len, "%s (wolfSSL %d)",
			 wolfSSL_ERR_reason_error_string((unsigned long)c->wolf_err), c->wolf_err);
	}
	return buf;
}

/* ---- life cycle ----------------------------------------------------------------------- */

static void
save_session(struct tls_conn *c)
{
	WOLFSSL_SESSION *s;

	c->ticket_seen = false;
	if (c->slot == NULL)
		return;
	s = wolfSSL_get1_session(c->ssl);
	if (s == NULL)
		return;
	tls_sess_slot_clear(c->slot);
	c->slot->sess = s;
}

static int
on_ticket(WOLFSSL *ssl, const unsigned char *ticket, int len, void *arg)
{
	struct tls_conn *c = arg;

	(void)ssl;
	(void)ticket;
	(void)len;
	c->ticket_seen = true;
	return 0;
}

static int
attach_ssl(struct tls_conn *c, WOLFSSL_CTX *ctx)
{
	c->ssl = wolfSSL_new(ctx);
	if (c->ssl == NULL)
		return -ENOMEM;
	wolfSSL_SetIOReadCtx(c->ssl, c);
	wolfSSL_SetIOWriteCtx(c->ssl, c);
	/* Offer/accept http/1.1 only; a client that offers only h2 still gets HTTP/1.1. */
	if (wolfSSL_UseALPN(c->ssl, alpn_http11, sizeof(alpn_http11) - 1,
			    WOLFSSL_ALPN_CONTINUE_ON_MISMATCH) != WOLFSSL_SUCCESS)
		return -ENOMEM;
	c->state = TLS_ST_HANDSHAKE;
	return 0;
}

struct tls_conn *
tls_conn_server(const struct tls_server *s)
{
	struct tls_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->srv = s;
	c->state = TLS_ST_HELLO;
	return c;
}

/* wolfSSL_connect / wolfSSL_accept step. Returns 1 done, 0 need more, < 0 failed. */
static int
handshake(struct tls_conn *c)
{
	int r = c->srv != NULL ? wolfSSL_accept(c->ssl) : wolfSSL_connect(c->ssl);
	int e;

	if (r == WOLFSSL_SUCCESS) {
		c->state = TLS_ST_OPEN;
		/*
		 * TLS 1.2: the ticket (or session id) belongs to this handshake: save now.
		 * TLS 1.3: tickets come after the handshake, and until the first one arrives a
		 * resumed connection's session pairs the OLD ticket with this connection's NEW
		 * resumption secret: saved now, the next resumption's binder would not verify
		 * (seen as "binder does not verify" on OpenSSL backends). Save on the ticket.
		 */
		if (c->srv == NULL && (c->ticket_seen || wolfSSL_GetVersion(c->ssl) != WOLFSSL_TLSV1_3))
			save_session(c);
		return 1;
	}
	e = wolfSSL_get_error(c->ssl, r);
	if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
		return 0;
	return fail(c, e);
}

static bool
is_ip_literal(const char *name)
{
	unsigned char a[16];

	return inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1;
}

/* Is ip an iPAddress SAN of the certificate der[0..len)? */
static bool
der_has_ip(const uint8_t *der, size_t len, const struct tls_ip *ip)
{
	struct tls_ip ips[16];
	DecodedCert dc;
	int n = -1;

	wc_InitDecodedCert(&dc, der, (word32)len, NULL);
	if (wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL) == 0)
		n = tls_san_ips(dc.extensions, dc.extensionsSz > 0 ? (size_t)dc.extensionsSz : 0,
				ips, 16);
	wc_FreeDecodedCert(&dc);
	for (int i = 0; i < n && i < 16; i++)
		if (ips[i].len == ip->len && memcmp(ips[i].a, ip->a, ip->len) == 0)
			return true;
	return false;
}

/*
 * Verify callback of a client connection to an IP-literal server name. wolfSSL (built
 * without WOLFSSL_IP_ALT_NAME) compares the name with DNS SANs and the CN only, so an
 * IP literal fails with DOMAIN_NAME_MISMATCH on the leaf, and this callback is called
 * for that error alone (wolfSSL calls it on errors): the name is accepted when it is
 * one of the leaf's iPAddress SANs (RFC 6125, RFC 9110 4.3.4). Any other error stands.
 */
static int
verify_ip(int preverify, WOLFSSL_X509_STORE_CTX *st)
{
	struct tls_conn *c = st->userCtx;

	if (preverify)
		return 1;
	if (c == NULL || !c->check_ip || st->error != DOMAIN_NAME_MISMATCH ||
	    st->error_depth != 0 || st->certs == NULL || st->totalCerts < 1)
		return 0;
	return der_has_ip(st->certs[0].buffer, st->certs[0].length, &c->peer_ip) ? 1 : 0;
}

struct tls_conn *
tls_conn_client(const struct tls_client *cl, const char *host, struct tls_sess_slot *slot)
{
	struct tls_conn *c = calloc(1, sizeof(*c));
	const char *name = cl->sni != NULL ? cl->sni : host;

	if (c == NULL)
		return NULL;
	c->slot = slot;
	if (attach_ssl(c, cl->ctx) < 0)
		goto fail;
	/* RFC 6066: no SNI for an IP address. */
	if (!is_ip_literal(name) &&
	    wolfSSL_UseSNI(c->ssl, WOLFSSL_SNI_HOST_NAME, name, (unsigned short)strlen(name)) !=
	    WOLFSSL_SUCCESS)
		goto fail;
	if (cl->verify && wolfSSL_check_domain_name(c->ssl, name) != WOLFSSL_SUCCESS)
		goto fail;
	if (cl->verify && tls_ip_literal(name, strlen(name), &c->peer_ip)) {
		c->check_ip = true;
		wolfSSL_SetCertCbCtx(c->ssl, c);
		wolfSSL_set_verify(c->ssl, WOLFSSL_VERIFY_PEER, verify_ip);
	}
	wolfSSL_set_SessionTicket_cb(c->ssl, on_ticket, c);
	if (slot != NULL && slot->sess != NULL &&
	    wolfSSL_set_session(c->ssl, slot->sess) != WOLFSSL_SUCCESS)
		tls_sess_slot_clear(slot);	/* expired or unusable: full handshake */
	if (handshake(c) < 0)
		goto fail;
	return c;
fail:
	tls_conn_free(c);
	return NULL;
}

void
tls_conn_free(struct tls_conn *c)
{
	struct tls_chunk *h, *next;

	if (c == NULL)
		return;
	if (c->ssl != NULL)
		wolfSSL_free(c->ssl);
	for (h = c->out_head; h != NULL; h = next) {
		next = h->next;
		free(h);
	}
	free(c->in);
	free(c->app);
	free(c);
}

/* ---- receiving ------------------------------------------------------------------------ */

/*
 * Server, before wolfSSL_new: wait for the whole first record, read its SNI, pick the
 * certificate. Returns 1 (WOLFSSL attached; the bytes stay queued for it), 0 need more, < 0.
 */
static int
hello(struct tls_conn *c)
{
	const uint8_t *p;
	size_t have, rlen;
	unsigned char name[256] = "";
	unsigned int nlen = sizeof(name) - 1;
	int idx = 0, rc;

	if (c->in_len > 0) {
		rc = stash_cur(c);
		if (rc < 0)
			return fail_errno(c, rc);
		p = (const uint8_t *)c->in + c->in_off;
		have = c->in_len;
	} else {
		p = (const uint8_t *)c->cur;
		have = c->cur_len;
	}
	if (have < 5)
		return 0;
	/* A handshake record of a sane size, or this is not TLS (plain HTTP, scanners). */
	rlen = (size_t)p[3] << 8 | p[4];
	if (p[0] != 0x16 || p[1] != 3 || rlen == 0 || rlen > 16384)
		return fail_errno(c, -EPROTO);
	if (have < 5 + rlen)
		return 0;
	/* A ClientHello split over several records has its SNI past this one: default cert. */
	if (wolfSSL_SNI_GetFromBuffer(p, (unsigned int)(5 + rlen), WOLFSSL_SNI_HOST_NAME, name,
				      &nlen) == WOLFSSL_SUCCESS && nlen < sizeof(name)) {
		idx = tls_server_pick(c->srv, (const char *)name, nlen);
		name[nlen] = '\0';
	}
	c->cert = &c->srv->certs[idx];
	/* ACME TLS-ALPN-01 (tlsalpn.h): NULL unless the ACME client runs */
	if (atomic_load_explicit(&tls_alpn_lookup, memory_order_relaxed) != NULL &&
	    (rc = tls_alpn_hello(c, p, 5 + rlen, (const char *)name)) != 0)
		return rc < 0 ? fail_errno(c, rc) : 1;
	rc = attach_ssl(c, c->cert->ctx);
	if (rc < 0)
		return fail_errno(c, rc);
	return 1;
}

/* Decrypts into the application buffer. Returns bytes (>= 0) or < 0 (failed / EOF). */
static int
decrypt(struct tls_conn *c)
{
	int got = 0, r, e;

	if (c->app == NULL && (c->app = malloc(TLS_APP_MAX)) == NULL)
		return fail_errno(c, -ENOMEM);
	while (got < TLS_APP_MAX) {
		r = wolfSSL_read(c->ssl, c->app + got, TLS_APP_MAX - got);
		if (r > 0) {
			got += r;
			continue;
		}
		e = wolfSSL_get_error(c->ssl, r);
		if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
			break;
		if (e == WOLFSSL_ERROR_ZERO_RETURN) {
			/*
			 * The peer's close_notify. Answer with ours at once (queued here, sent
			 * with the wire bytes the caller flushes after this call): many stacks
			 * (asyncio, on which aiohttp and websockets run) close TCP only once
			 * they have it, and the close_notify may have come in the same read as
			 * the last data, which the caller gets first: without an answer that
			 * end of stream would wait for a FIN that waits for us.
			 */
			c->state = TLS_ST_CLOSED;
			(void)tls_conn_shutdown(c);
			break;
		}
		return fail(c, e);
	}
	return got;
}

int
tls_conn_recv(struct tls_conn *c, char *in, size_t len, char **app, size_t *app_len)
{
	int rc, progress = 0, got;

	*app = NULL;
	*app_len = 0;
	if (c->state == TLS_ST_ERROR)
		return c->err;
	if (c->state == TLS_ST_CLOSED) {
		c->eof_told = true;
		return -ESHUTDOWN;
	}
	c->cur = in;
	c->cur_len = len;
	if (c->state == TLS_ST_HELLO) {
		rc = hello(c);
		if (rc <= 0)
			goto out;
	}
	if (c->state == TLS_ST_HANDSHAKE) {
		rc = handshake(c);
		if (rc <= 0)
			goto out;
		progress = 1;
	}
	got = decrypt(c);
	if (got < 0)
		return got;
	if (c->ticket_seen)
		save_session(c);
	if (got > 0) {
		*app = c->app;
		*app_len = (size_t)got;
		progress = 1;
	} else {
		free(c->app);
		c->app = NULL;
	}
	if (c->state == TLS_ST_CLOSED && got == 0) {
		c->eof_told = true;
		rc = -ESHUTDOWN;
	} else
		rc = progress;
out:
	if (rc >= 0 && c->cur_len > 0 && stash_cur(c) < 0)
		return fail_errno(c, -ENOMEM);
	return rc;
}

bool
tls_conn_recv_more(const struct tls_conn *c)
{
	/* close_notify came with the data just returned: the next call says -ESHUTDOWN */
	if (c->state == TLS_ST_CLOSED)
		return !c->eof_told;
	if (c->state != TLS_ST_OPEN)
		return false;
	return c->in_len > 0 || (c->ssl != NULL && wolfSSL_pending(c->ssl) > 0);
}

/* ---- sending -------------------------------------------------------------------------- */

int
tls_conn_send(struct tls_conn *c, const char *buf, size_t len)
{
	int n, r;

	if (c->state == TLS_ST_ERROR)
		return c->err;
	if (c->state != TLS_ST_OPEN || c->eof_sent)
		return c->state == TLS_ST_CLOSED || c->eof_sent ? -EPIPE : 0;
	if (c->out_bytes >= TLS_OUT_HIWAT || len == 0)
		return 0;
	n = len > TLS_SEND_STEP ? TLS_SEND_STEP : (int)len;
	r = wolfSSL_write(c->ssl, buf, n);
	if (r > 0)
		return r;
	return fail(c, wolfSSL_get_error(c->ssl, r));
}

int
tls_conn_shutdown(struct tls_conn *c)
{
	if (c->ssl == NULL || c->state == TLS_ST_ERROR)
		return c->state == TLS_ST_ERROR ? c->err : 0;
	if (c->eof_sent)
		return 0;
	c->eof_sent = true;
	/* Queues close_notify through the send callback; we do not wait for the peer's. */
	(void)wolfSSL_shutdown(c->ssl);
	return 0;
}

void
tls_conn_shrink(struct tls_conn *c)
{
	free(c->app);
	c->app = NULL;
	if (c->in_len == 0)
		in_release(c);
}

/* ---- queries -------------------------------------------------------------------------- */

bool
tls_conn_established(const struct tls_conn *c)
{
	return c->state == TLS_ST_OPEN;
}

bool
tls_conn_resumed(const struct tls_conn *c)
{
	return c->ssl != NULL && wolfSSL_session_reused(c->ssl) == 1;
}

bool
tls_conn_covers_host(const struct tls_conn *c, const char *host, size_t len)
{
	return c->cert != NULL && tls_cert_covers(c->cert, host, len);
}

const char *
tls_conn_version(const struct tls_conn *c)
{
	return c->ssl != NULL ? wolfSSL_get_version(c->ssl) : "none";
}

const char *
tls_conn_cipher(const struct tls_conn *c)
{
	const char *n = c->ssl != NULL ? wolfSSL_get_cipher_name(c->ssl) : NULL;

	return n != NULL ? n : "none";
}

const char *
tls_conn_alpn(const struct tls_conn *c)
{
	char *name = NULL;
	unsigned short size = 0;

	if (c->ssl == NULL || wolfSSL_ALPN_GetProtocol(c->ssl, &name, &size) != WOLFSSL_SUCCESS)
		return NULL;
	return size == sizeof(alpn_http11) - 1 && memcmp(name, alpn_http11, size) == 0 ?
	       alpn_http11 : NULL;
}
