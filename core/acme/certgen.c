/*
 * CSR, TLS-ALPN-01 challenge certificate and certificate facts (see certgen.h). Needs a
 * wolfSSL built with --enable-certgen --enable-certreq --enable-certext and
 * WOLFSSL_ALT_NAMES, WOLFSSL_CUSTOM_OID, HAVE_OID_ENCODING (docs/wolfssl.md).
 */
#include "core/acme/certgen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/sha256.h>

#if !defined(WOLFSSL_CERT_GEN) || !defined(WOLFSSL_CERT_REQ) || !defined(WOLFSSL_ALT_NAMES) || \
	!defined(WOLFSSL_CUSTOM_OID) || !defined(HAVE_OID_ENCODING)
#error "core/acme needs wolfSSL with certgen, certreq, certext, ALT_NAMES and CUSTOM_OID (scripts/build-wolfssl.sh)"
#endif

#define DER_MAX		8192

/* DER length octets; returns how many were written (1..3). */
static size_t
der_len(uint8_t *p, size_t len)
{
	if (len < 0x80) {
		p[0] = (uint8_t)len;
		return 1;
	}
	if (len < 0x100) {
		p[0] = 0x81;
		p[1] = (uint8_t)len;
		return 2;
	}
	p[0] = 0x82;
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)len;
	return 3;
}

int
certgen_san_der(const char *const *names, int n, uint8_t *out, size_t outlen)
{
	size_t body = 0, o;

	if (n <= 0)
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(names[i]);

		if (l == 0 || l > 253)
			return -EINVAL;
		body += 1 + (l < 0x80 ? 1 : 2) + l;
	}
	if (body > 0xffff || 4 + body > outlen)
		return -ENOSPC;
	out[0] = 0x30;				/* SEQUENCE */
	o = 1 + der_len(out + 1, body);
	for (int i = 0; i < n; i++) {
		size_t l = strlen(names[i]);

		out[o++] = 0x82;		/* [2] IMPLICIT IA5String: dNSName */
		o += der_len(out + o, l);
		memcpy(out + o, names[i], l);
		o += l;
	}
	return (int)o;
}

static int
set_names(Cert *c, const char *const *names, int n)
{
	int san;

	if (strlen(names[0]) < CTC_NAME_SIZE)
		strncpy(c->subject.commonName, names[0], CTC_NAME_SIZE - 1);
	san = certgen_san_der(names, n, c->altNames, sizeof(c->altNames));
	if (san < 0)
		return san;
	c->altNamesSz = san;
	return 0;
}

int
certgen_csr(struct jws_key *key, const char *const *names, int n, uint8_t **der, size_t *len)
{
	bool ec = key->type == ACME_KEY_EC256;
	int ktype = ec ? ECC_TYPE : RSA_TYPE;
	void *kp = ec ? (void *)&key->ec : (void *)&key->rsa;
	uint8_t *buf;
	Cert *req;
	int rc = -EINVAL, sz;

	req = malloc(sizeof(*req));
	buf = malloc(DER_MAX);
	if (req == NULL || buf == NULL)
		goto out;
	if (wc_InitCert(req) != 0 || set_names(req, names, n) < 0)
		goto out;
	req->version = 0;
	req->sigType = ec ? CTC_SHA256wECDSA : CTC_SHA256wRSA;
	sz = wc_MakeCertReq_ex(req, buf, DER_MAX, ktype, kp);
	if (sz <= 0)
		goto out;
	sz = wc_SignCert_ex(req->bodySz, req->sigType, buf, DER_MAX, ktype, kp, &key->rng);
	if (sz <= 0)
		goto out;
	*der = buf;
	*len = (size_t)sz;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	free(req);
	return rc;
}

/* Self-signed P-256 certificate for names, valid `days`; with keyauth, the critical
 * acmeIdentifier extension of RFC 8737 is added. */
static int
selfsigned(const char *const *names, int n, const char *keyauth, int days, uint8_t **cert,
	   size_t *cert_len, uint8_t **key, size_t *key_len)
{
	uint8_t ext[2 + WC_SHA256_DIGEST_SIZE];
	struct jws_key k;
	uint8_t *buf = NULL;
	Cert *c = NULL;
	int rc = -EINVAL, sz;

	if (jws_key_generate(&k, ACME_KEY_EC256, NULL, 0) < 0)
		return -EINVAL;
	c = malloc(sizeof(*c));
	buf = malloc(DER_MAX);
	if (c == NULL || buf == NULL || wc_InitCert(c) != 0 || set_names(c, names, n) < 0)
		goto out;
	c->sigType = CTC_SHA256wECDSA;
	c->daysValid = days;
	c->isCA = 0;
	if (keyauth != NULL) {
		/* extnValue content: Authorization ::= OCTET STRING (SIZE (32)) */
		ext[0] = 0x04;
		ext[1] = WC_SHA256_DIGEST_SIZE;
		if (wc_Sha256Hash((const byte *)keyauth, (word32)strlen(keyauth), ext + 2) != 0 ||
		    wc_SetCustomExtension(c, 1, CERTGEN_ACME_ID_OID, ext, sizeof(ext)) != 0)
			goto out;
	}
	sz = wc_MakeCert_ex(c, buf, DER_MAX, ECC_TYPE, &k.ec, &k.rng);
	if (sz <= 0)
		goto out;
	sz = wc_SignCert_ex(c->bodySz, c->sigType, buf, DER_MAX, ECC_TYPE, &k.ec, &k.rng);
	if (sz <= 0)
		goto out;
	if (jws_key_der(&k, key, key_len) < 0)
		goto out;
	*cert = buf;
	*cert_len = (size_t)sz;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	free(c);
	jws_key_free(&k);
	return rc;
}

int
certgen_alpn_cert(const char *name, const char *keyauth, uint8_t **cert, size_t *cert_len,
		  uint8_t **key, size_t *key_len)
{
	const char *names[1] = { name };

	return selfsigned(names, 1, keyauth, 7, cert, cert_len, key, key_len);
}

int
certgen_placeholder(const char *const *names, int n, uint8_t **cert, size_t *cert_len,
		    uint8_t **key, size_t *key_len)
{
	return selfsigned(names, n, NULL, 30, cert, cert_len, key, key_len);
}

int
certgen_info(const char *pem, size_t len, struct acme_cert_info *info)
{
	uint8_t *der = malloc(DER_MAX * 2);
	struct DecodedCert dc;
	struct tm before, after;
	Cert *c = malloc(sizeof(*c));
	int n, rc = -EINVAL;

	memset(info, 0, sizeof(*info));
	if (der == NULL || c == NULL)
		goto out;
	n = wc_CertPemToDer((const unsigned char *)pem, (int)len, der, DER_MAX * 2, CERT_TYPE);
	if (n <= 0 || wc_InitCert(c) != 0 || wc_SetDatesBuffer(c, der, n) != 0 ||
	    wc_GetCertDates(c, &before, &after) != 0)
		goto out;
	info->not_before = timegm(&before);
	info->not_after = timegm(&after);

	wc_InitDecodedCert(&dc, der, (word32)n, NULL);
	if (wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL) == 0 && dc.extAuthKeyIdSet &&
	    dc.serialSz > 0) {
		uint8_t ser[EXTERNAL_SERIAL_SIZE + 1];
		size_t sl = 0;
		char a[64], s[64];

		/* RFC 9773 §4.1: the serial as its DER INTEGER content octets; wolfSSL keeps the
		 * magnitude, so a leading 0x00 comes back when the top bit is set */
		if (dc.serial[0] & 0x80)
			ser[sl++] = 0;
		memcpy(ser + sl, dc.serial, (size_t)dc.serialSz);
		sl += (size_t)dc.serialSz;
		if (b64url_encode(dc.extAuthKeyId, KEYID_SIZE, a, sizeof(a)) > 0 &&
		    b64url_encode(ser, sl, s, sizeof(s)) > 0)
			snprintf(info->ari_id, sizeof(info->ari_id), "%s.%s", a, s);
	}
	wc_FreeDecodedCert(&dc);
	rc = info->not_after > info->not_before ? 0 : -EINVAL;
out:
	free(c);
	free(der);
	return rc;
}
