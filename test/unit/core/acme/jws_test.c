/*
 * core/acme/jws.c and certgen.c: base64url, keys (generate, PEM round trip, PKCS#8 load,
 * rejects), the RFC 7638 thumbprint vector, ES256 and RS256 JWS verified with wolfSSL, the
 * CSR's SANs, the TLS-ALPN-01 certificate's critical acmeIdentifier extension.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "../../check.h"
#include "core/acme/certgen.h"
#include "core/acme/jws.h"

static void
test_b64url(void)
{
	static const struct { const char *in, *out; } v[] = {
		{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg" },
		{ "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" }, { "\xfb\xff", "-_8" },
	};
	char out[64];
	uint8_t back[64];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int n = b64url_encode((const uint8_t *)v[i].in, strlen(v[i].in), out, sizeof(out));

		CHECK(n == (int)strlen(v[i].out));
		CHECK_STR(out, v[i].out);
		n = b64url_decode(v[i].out, strlen(v[i].out), back, sizeof(back));
		CHECK(n == (int)strlen(v[i].in) && memcmp(back, v[i].in, (size_t)n) == 0);
	}
	CHECK(b64url_encode((const uint8_t *)"foo", 3, out, 4) == -ENOSPC);
	CHECK(b64url_decode("Zm9v=", 5, back, sizeof(back)) == -EINVAL);	/* no padding */
	CHECK(b64url_decode("Zm+v", 4, back, sizeof(back)) == -EINVAL);	/* not url-safe */
	CHECK(b64url_decode("Z", 1, back, sizeof(back)) == -EINVAL);
	CHECK(b64url_decode("Zh", 2, back, sizeof(back)) == -EINVAL);	/* non-zero pad bits */
	CHECK(b64url_decode("Zm9v", 4, back, 2) == -ENOSPC);
}

/* RFC 7638 §3.1: the example RSA key's thumbprint */
static void
test_thumbprint_vector(void)
{
	static const char n64[] =
		"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6t"
		"Soc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-"
		"65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08q"
		"NLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awa"
		"pJzKnqDKgw";
	uint8_t n[512], e[3] = { 1, 0, 1 };
	struct jws_key k;
	char tp[64];
	int nl = b64url_decode(n64, strlen(n64), n, sizeof(n));

	CHECK(nl == 256);
	memset(&k, 0, sizeof(k));
	k.type = ACME_KEY_RSA2048;
	CHECK(wc_InitRsaKey(&k.rsa, NULL) == 0);
	CHECK(wc_RsaPublicKeyDecodeRaw(n, (word32)nl, e, sizeof(e), &k.rsa) == 0);
	k.ready = true;
	CHECK(jws_thumbprint(&k, tp, sizeof(tp)) == 0);
	CHECK_STR(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	jws_key_free(&k);
}

/* Decodes a flattened JWS, checks header fields, verifies the signature with k. */
static void
verify_jws(struct jws_key *k, const char *jws, const char *url, const char *kid,
	   const char *payload)
{
	json_t *o = json_loads(jws, 0, NULL), *ph = NULL;
	const char *p64 = NULL, *pl64 = NULL, *s64 = NULL, *alg = NULL, *nonce = NULL, *u = NULL;
	uint8_t buf[4096], sig[512], h[32];
	char input[8192];
	int n, sl;

	CHECK(o != NULL);
	if (o == NULL)
		return;
	CHECK(json_unpack(o, "{s:s, s:s, s:s}", "protected", &p64, "payload", &pl64, "signature",
			  &s64) == 0);
	n = b64url_decode(p64, strlen(p64), buf, sizeof(buf) - 1);
	CHECK(n > 0);
	buf[n > 0 ? n : 0] = '\0';
	ph = json_loads((char *)buf, 0, NULL);
	CHECK(json_unpack(ph, "{s:s, s:s, s:s}", "alg", &alg, "nonce", &nonce, "url", &u) == 0);
	CHECK_STR(alg, jws_alg(k));
	CHECK_STR(nonce, "nonce-1");
	CHECK_STR(u, url);
	if (kid != NULL) {
		CHECK_STR(json_string_value(json_object_get(ph, "kid")), kid);
		CHECK(json_object_get(ph, "jwk") == NULL);
	} else {
		CHECK(json_is_object(json_object_get(ph, "jwk")));
		CHECK(json_object_get(ph, "kid") == NULL);
	}
	n = b64url_decode(pl64, strlen(pl64), buf, sizeof(buf) - 1);
	CHECK(n == (int)strlen(payload) && memcmp(buf, payload, (size_t)n) == 0);

	snprintf(input, sizeof(input), "%s.%s", p64, pl64);
	sl = b64url_decode(s64, strlen(s64), sig, sizeof(sig));
	wc_Sha256Hash((const byte *)input, (word32)strlen(input), h);
	if (k->type == ACME_KEY_EC256) {
		uint8_t der[80];
		word32 dl = sizeof(der);
		int ok = 0;

		CHECK(sl == 64);
		CHECK(wc_ecc_rs_raw_to_sig(sig, 32, sig + 32, 32, der, &dl) == 0);
		CHECK(wc_ecc_verify_hash(der, dl, h, sizeof(h), &ok, &k->ec) == 0 && ok == 1);
		/* a changed byte of the signed input must not verify */
		input[3] ^= 1;
		wc_Sha256Hash((const byte *)input, (word32)strlen(input), h);
		CHECK(wc_ecc_verify_hash(der, dl, h, sizeof(h), &ok, &k->ec) == 0 && ok == 0);
	} else {
		uint8_t enc[64], out[512];
		word32 el = wc_EncodeSignature(enc, h, sizeof(h), SHA256h);
		int ol = wc_RsaSSL_Verify(sig, (word32)sl, out, sizeof(out), &k->rsa);

		CHECK(ol == (int)el && memcmp(out, enc, el) == 0);
	}
	json_decref(ph);
	json_decref(o);
}

static void
test_sign(int type)
{
	struct jws_key k, k2;
	char err[256], *jws, *pem, path[] = "/tmp/jws_test.XXXXXX", tp1[64], tp2[64];
	size_t len;
	int fd;

	CHECK(jws_key_generate(&k, type, err, sizeof(err)) == 0);
	jws = jws_sign(&k, "https://acme.test/new-acct", "nonce-1", NULL, "{\"a\":1}");
	CHECK(jws != NULL);
	if (jws)
		verify_jws(&k, jws, "https://acme.test/new-acct", NULL, "{\"a\":1}");
	free(jws);
	jws = jws_sign(&k, "https://acme.test/order/1", "nonce-1", "https://acme.test/acct/7",
		       NULL);
	if (jws)
		verify_jws(&k, jws, "https://acme.test/order/1", "https://acme.test/acct/7", "");
	free(jws);

	/* PEM round trip: same public key, same thumbprint */
	CHECK(jws_key_pem(&k, &pem, &len) == 0);
	fd = mkstemp(path);
	CHECK(fd >= 0 && write(fd, pem, len) == (ssize_t)len);
	close(fd);
	CHECK(jws_key_load(&k2, path, err, sizeof(err)) == 0);
	CHECK(k2.type == type);
	CHECK(jws_thumbprint(&k, tp1, sizeof(tp1)) == 0 && jws_thumbprint(&k2, tp2, sizeof(tp2)) == 0);
	CHECK_STR(tp1, tp2);
	CHECK(strlen(tp1) == 43);
	jws_key_free(&k2);
	unlink(path);
	free(pem);
	jws_key_free(&k);
}

static void
test_key_rejects(void)
{
	char path[] = "/tmp/jws_test.XXXXXX", err[256] = "";
	struct jws_key k;
	int fd = mkstemp(path);

	CHECK(jws_key_load(&k, "/nonexistent/acme.key", err, sizeof(err)) == -ENOENT);
	CHECK(write(fd, "hello\n", 6) == 6);
	close(fd);
	CHECK(jws_key_load(&k, path, err, sizeof(err)) == -EINVAL);
	CHECK_STR(err, "not a PEM EC P-256 or RSA private key");
	unlink(path);
}

static bool
has_bytes(const uint8_t *h, size_t hl, const uint8_t *n, size_t nl)
{
	for (size_t i = 0; i + nl <= hl; i++)
		if (memcmp(h + i, n, nl) == 0)
			return true;
	return false;
}

static void
test_certgen(void)
{
	const char *names[] = { "lyncext.example.test", "meet.example.test",
				"owa.example.test" };
	struct jws_key k;
	uint8_t *der, *key, san[512];
	size_t len, kl;
	struct DecodedCert dc;
	int n;

	/* SAN encoding */
	n = certgen_san_der(names, 1, san, sizeof(san));
	CHECK(n == 2 + 2 + 20);
	CHECK(san[0] == 0x30 && san[1] == 22 && san[2] == 0x82 && san[3] == 20);
	CHECK(certgen_san_der(names, 0, san, sizeof(san)) == -EINVAL);
	CHECK(certgen_san_der(names, 3, san, 10) == -ENOSPC);

	/* CSR: parses, carries every name */
	CHECK(jws_key_generate(&k, ACME_KEY_EC256, NULL, 0) == 0);
	CHECK(certgen_csr(&k, names, 3, &der, &len) == 0);
	wc_InitDecodedCert(&dc, der, (word32)len, NULL);
	CHECK(wc_ParseCert(&dc, CERTREQ_TYPE, NO_VERIFY, NULL) == 0);
	n = 0;
	for (DNS_entry *e = dc.altNames; e; e = e->next)
		for (int i = 0; i < 3; i++)
			n += strcmp(e->name, names[i]) == 0;
	CHECK(n == 3);
	wc_FreeDecodedCert(&dc);
	free(der);
	jws_key_free(&k);

	/* TLS-ALPN-01 certificate: critical id-pe-acmeIdentifier = OCTET STRING(SHA-256) */
	{
		static const uint8_t oid[] = { 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01,
					       0x1f, 0x01, 0x01, 0xff, 0x04, 0x22, 0x04, 0x20 };
		const char *ka = "token.thumbprint";
		uint8_t want[sizeof(oid) + 32], pem[4096];
		int pl;

		memcpy(want, oid, sizeof(oid));
		wc_Sha256Hash((const byte *)ka, (word32)strlen(ka), want + sizeof(oid));
		CHECK(certgen_alpn_cert("meet.example.test", ka, &der, &len, &key, &kl) == 0);
		CHECK(has_bytes(der, len, want, sizeof(want)));
		CHECK(has_bytes(der, len, (const uint8_t *)"meet.example.test", 17));
		/* wolfSSL itself refuses to parse a certificate with an unknown critical
		 * extension: that is why certgen_info is not tried on it (see below) */
		pl = wc_DerToPem(der, (word32)len, pem, sizeof(pem), CERT_TYPE);
		CHECK(pl > 0);
		free(der);
		free(key);
	}
	/* placeholder: every name as a SAN, no acmeIdentifier, parses as an ordinary
	 * certificate, 30 days */
	{
		static const uint8_t acme_oid[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1f };
		struct acme_cert_info ci;
		uint8_t pem[4096];
		int pl;

		CHECK(certgen_placeholder(names, 3, &der, &len, &key, &kl) == 0);
		wc_InitDecodedCert(&dc, der, (word32)len, NULL);
		CHECK(wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL) == 0);
		n = 0;
		for (DNS_entry *e = dc.altNames; e; e = e->next)
			for (int i = 0; i < 3; i++)
				n += strcmp(e->name, names[i]) == 0;
		CHECK(n == 3);
		wc_FreeDecodedCert(&dc);
		CHECK(!has_bytes(der, len, acme_oid, sizeof(acme_oid)));
		pl = wc_DerToPem(der, (word32)len, pem, sizeof(pem), CERT_TYPE);
		CHECK(pl > 0 && certgen_info((char *)pem, (size_t)pl, &ci) == 0);
		CHECK(ci.not_after - ci.not_before >= 29 * 86400 &&
		      ci.not_after - ci.not_before <= 31 * 86400);
		free(der);
		free(key);
	}
	{
		struct acme_cert_info ci;
		char buf[4096];
		FILE *p;
		size_t n;

		CHECK(certgen_info("not a pem", 9, &ci) == -EINVAL);
		/* dates of an ordinary certificate (openssl: 30 days) */
		p = popen("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
			  "-keyout /dev/null -days 30 -subj /CN=x 2>/dev/null", "r");
		n = p ? fread(buf, 1, sizeof(buf), p) : 0;
		if (p)
			pclose(p);
		CHECK(n > 100);
		CHECK(certgen_info(buf, n, &ci) == 0);
		CHECK(ci.not_after - ci.not_before == 30 * 86400);

		/* ARI certID: b64url(AKI keyid) "." b64url(serial as DER INTEGER content): a serial
		 * with the top bit set keeps its leading zero (RFC 9773 §4.1 example style) */
		p = popen("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
			  "-keyout /dev/null -days 30 -subj /CN=x -set_serial 0x8000000000000001 "
			  "2>/dev/null", "r");
		n = p ? fread(buf, 1, sizeof(buf), p) : 0;
		if (p)
			pclose(p);
		CHECK(certgen_info(buf, n, &ci) == 0);
		CHECK(strlen(ci.ari_id) > 28 && strchr(ci.ari_id, '.') != NULL);
		CHECK_STR(strchr(ci.ari_id, '.'), ".AIAAAAAAAAAB");
		CHECK(strchr(ci.ari_id, '.') - ci.ari_id == 27);	/* 20-byte key id */
	}
}

int
main(void)
{
	test_b64url();
	test_thumbprint_vector();
	test_sign(ACME_KEY_EC256);
	test_sign(ACME_KEY_RSA2048);
	test_key_rejects();
	test_certgen();
	return check_done();
}
