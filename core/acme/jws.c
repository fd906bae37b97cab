/*
 * Keys and JWS signatures for the ACME client (see jws.h). wolfSSL native API only (no
 * OpenSSL-compat layer: the lean build has none).
 */
#include "core/acme/jws.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "core/lib/b64.h"

#define KEY_FILE_MAX	(64 * 1024)
#define DER_MAX		4096

static int
fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int
rng_init(struct jws_key *k)
{
	if (k->rng_ready)
		return 0;
	if (wc_InitRng(&k->rng) != 0)
		return -EIO;
	k->rng_ready = true;
	return 0;
}

int
b64url_encode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t need = (len / 3) * 4 + (len % 3 ? len % 3 + 1 : 0), o = 0, i;

	if (need + 1 > outlen)
		return -ENOSPC;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		out[o++] = tab[v & 63];
	}
	if (len - i == 1) {
		out[o++] = tab[in[i] >> 2];
		out[o++] = tab[(in[i] & 3) << 4];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];

		out[o++] = tab[v >> 10 & 63];
		out[o++] = tab[v >> 4 & 63];
		out[o++] = tab[(v & 15) << 2];
	}
	out[o] = '\0';
	return (int)o;
}

int
b64url_decode(const char *in, size_t len, uint8_t *out, size_t outlen)
{
	return (int)b64_decode(in, len, out, outlen, B64_URL | B64_CANONICAL);
}

/* ---- keys ---- */

static int
key_from_der(struct jws_key *k, uint8_t *der, int derlen, char *err, size_t errlen)
{
	word32 start = 0, idx;

	/* PKCS#8 ("BEGIN PRIVATE KEY", what openssl genpkey writes): the traditional key
	 * starts inside it; the call moves `start` there and returns the key's length */
	if (wc_GetPkcs8TraditionalOffset(der, &start, (word32)derlen) < 0)
		start = 0;
	idx = start;
	if (wc_ecc_init(&k->ec) != 0)
		return fail(err, errlen, -ENOMEM, "cannot initialise an EC key");
	if (wc_EccPrivateKeyDecode(der, &idx, &k->ec, (word32)derlen) == 0) {
		if (wc_ecc_get_curve_id(k->ec.idx) != ECC_SECP256R1) {
			wc_ecc_free(&k->ec);
			return fail(err, errlen, -EINVAL, "EC key is not on P-256 (the only curve "
				    "supported)");
		}
		k->type = ACME_KEY_EC256;
		k->ready = true;
		return 0;
	}
	wc_ecc_free(&k->ec);

	idx = start;
	if (wc_InitRsaKey(&k->rsa, NULL) != 0)
		return fail(err, errlen, -ENOMEM, "cannot initialise an RSA key");
	if (wc_RsaPrivateKeyDecode(der, &idx, &k->rsa, (word32)derlen) == 0) {
		int bits = wc_RsaEncryptSize(&k->rsa) * 8;

		if (bits < 2048) {
			wc_FreeRsaKey(&k->rsa);
			return fail(err, errlen, -EINVAL, "RSA key has %d bits (at least 2048)",
				    bits);
		}
		k->type = bits >= 3072 ? ACME_KEY_RSA3072 : ACME_KEY_RSA2048;
		wc_RsaSetRNG(&k->rsa, &k->rng);
		k->ready = true;
		return 0;
	}
	wc_FreeRsaKey(&k->rsa);
	return fail(err, errlen, -EINVAL, "not a PEM EC P-256 or RSA private key");
}

int
jws_key_load(struct jws_key *k, const char *path, char *err, size_t errlen)
{
	uint8_t *pem = NULL, *der = NULL;
	ssize_t n;
	int fd, derlen, rc;

	memset(k, 0, sizeof(*k));
	if (rng_init(k) < 0)
		return fail(err, errlen, -EIO, "cannot initialise the random generator");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc != -ENOENT)
			fail(err, errlen, rc, "cannot read: %s", strerror(errno));
		goto fail_rng;
	}
	pem = malloc(KEY_FILE_MAX + 1);
	der = malloc(KEY_FILE_MAX);
	if (pem == NULL || der == NULL) {
		rc = fail(err, errlen, -ENOMEM, "out of memory");
		goto fail_fd;
	}
	n = read(fd, pem, KEY_FILE_MAX);
	if (n < 0) {
		rc = fail(err, errlen, -errno, "cannot read: %s", strerror(errno));
		goto fail_fd;
	}
	derlen = wc_KeyPemToDer(pem, (int)n, der, KEY_FILE_MAX, NULL);
	if (derlen <= 0) {
		rc = fail(err, errlen, -EINVAL, "not a PEM EC P-256 or RSA private key");
		goto fail_fd;
	}
	rc = key_from_der(k, der, derlen, err, errlen);
	if (rc < 0)
		goto fail_fd;
	close(fd);
	explicit_bzero(der, KEY_FILE_MAX);
	explicit_bzero(pem, KEY_FILE_MAX);
	free(der);
	free(pem);
	return 0;

fail_fd:
	close(fd);
	if (der)
		explicit_bzero(der, KEY_FILE_MAX);
	if (pem)
		explicit_bzero(pem, KEY_FILE_MAX);
	free(der);
	free(pem);
fail_rng:
	wc_FreeRng(&k->rng);
	k->rng_ready = false;
	return rc;
}

int
jws_key_generate(struct jws_key *k, int type, char *err, size_t errlen)
{
	memset(k, 0, sizeof(*k));
	if (rng_init(k) < 0)
		return fail(err, errlen, -EIO, "cannot initialise the random generator");
	k->type = type;
	if (type == ACME_KEY_EC256) {
		if (wc_ecc_init(&k->ec) != 0)
			goto fail;
		if (wc_ecc_make_key_ex(&k->rng, 32, &k->ec, ECC_SECP256R1) != 0) {
			wc_ecc_free(&k->ec);
			goto fail;
		}
	} else {
		int bits = type == ACME_KEY_RSA3072 ? 3072 : 2048;

		if (wc_InitRsaKey(&k->rsa, NULL) != 0)
			goto fail;
		if (wc_MakeRsaKey(&k->rsa, bits, WC_RSA_EXPONENT, &k->rng) != 0) {
			wc_FreeRsaKey(&k->rsa);
			goto fail;
		}
		wc_RsaSetRNG(&k->rsa, &k->rng);
	}
	k->ready = true;
	return 0;
fail:
	wc_FreeRng(&k->rng);
	k->rng_ready = false;
	return fail(err, errlen, -EINVAL, "cannot generate a %s key",
		    type == ACME_KEY_EC256 ? "P-256" : "RSA");
}

void
jws_key_free(struct jws_key *k)
{
	if (k->ready) {
		if (k->type == ACME_KEY_EC256)
			wc_ecc_free(&k->ec);
		else
			wc_FreeRsaKey(&k->rsa);
	}
	if (k->rng_ready)
		wc_FreeRng(&k->rng);
	memset(k, 0, sizeof(*k));
}

int
jws_key_der(struct jws_key *k, uint8_t **der, size_t *len)
{
	uint8_t *buf = malloc(DER_MAX);
	int n;

	if (buf == NULL)
		return -ENOMEM;
	if (k->type == ACME_KEY_EC256)
		n = wc_EccKeyToDer(&k->ec, buf, DER_MAX);
	else
		n = wc_RsaKeyToDer(&k->rsa, buf, DER_MAX);
	if (n <= 0) {
		free(buf);
		return -EINVAL;
	}
	*der = buf;
	*len = (size_t)n;
	return 0;
}

int
jws_key_pem(struct jws_key *k, char **pem, size_t *len)
{
	uint8_t *der;
	size_t derlen;
	char *out;
	int n, rc;

	if ((rc = jws_key_der(k, &der, &derlen)) < 0)
		return rc;
	out = malloc(DER_MAX * 2);
	if (out == NULL) {
		free(der);
		return -ENOMEM;
	}
	n = wc_DerToPem(der, (word32)derlen, (byte *)out, DER_MAX * 2 - 1,
			k->type == ACME_KEY_EC256 ? ECC_PRIVATEKEY_TYPE : PRIVATEKEY_TYPE);
	explicit_bzero(der, derlen);
	free(der);
	if (n <= 0) {
		free(out);
		return -EINVAL;
	}
	out[n] = '\0';
	*pem = out;
	*len = (size_t)n;
	return 0;
}

const char *
jws_alg(const struct jws_key *k)
{
	return k->type == ACME_KEY_EC256 ? "ES256" : "RS256";
}

/* ---- JWK and thumbprint ---- */

static json_t *
jwk_object(struct jws_key *k)
{
	if (k->type == ACME_KEY_EC256) {
		uint8_t x[32], y[32];
		word32 xl = sizeof(x), yl = sizeof(y);
		char bx[48], by[48];

		if (wc_ecc_export_public_raw(&k->ec, x, &xl, y, &yl) != 0 || xl != 32 || yl != 32)
			return NULL;
		b64url_encode(x, xl, bx, sizeof(bx));
		b64url_encode(y, yl, by, sizeof(by));
		return json_pack("{s:s, s:s, s:s, s:s}", "crv", "P-256", "kty", "EC", "x", bx,
				 "y", by);
	} else {
		uint8_t n[512], e[8];
		word32 nl = sizeof(n), el = sizeof(e);
		char bn[700], be[16];

		if (wc_RsaFlattenPublicKey(&k->rsa, e, &el, n, &nl) != 0)
			return NULL;
		b64url_encode(n, nl, bn, sizeof(bn));
		b64url_encode(e, el, be, sizeof(be));
		return json_pack("{s:s, s:s, s:s}", "e", be, "kty", "RSA", "n", bn);
	}
}

char *
jws_jwk_json(struct jws_key *k)
{
	json_t *o = jwk_object(k);
	char *s;

	if (o == NULL)
		return NULL;
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return s;
}

int
jws_thumbprint(struct jws_key *k, char *out, size_t outlen)
{
	uint8_t h[WC_SHA256_DIGEST_SIZE];
	char *jwk = jws_jwk_json(k);
	int rc;

	if (jwk == NULL)
		return -EINVAL;
	rc = wc_Sha256Hash((const byte *)jwk, (word32)strlen(jwk), h);
	free(jwk);
	if (rc != 0)
		return -EINVAL;
	return b64url_encode(h, sizeof(h), out, outlen) < 0 ? -ENOSPC : 0;
}

/* ---- signatures ---- */

int
jws_sign_raw(struct jws_key *k, const uint8_t *data, size_t len, uint8_t *sig, size_t siglen)
{
	uint8_t h[WC_SHA256_DIGEST_SIZE];

	if (wc_Sha256Hash(data, (word32)len, h) != 0)
		return -EINVAL;
	if (k->type == ACME_KEY_EC256) {
		uint8_t der[80], r[32], s[32];
		word32 dl = sizeof(der), rl = sizeof(r), sl = sizeof(s);

		if (siglen < 64)
			return -ENOSPC;
		if (wc_ecc_sign_hash(h, sizeof(h), der, &dl, &k->rng, &k->ec) != 0 ||
		    wc_ecc_sig_to_rs(der, dl, r, &rl, s, &sl) != 0 || rl > 32 || sl > 32)
			return -EINVAL;
		/* JWS wants both integers as fixed 32-byte big-endian values */
		memset(sig, 0, 64);
		memcpy(sig + 32 - rl, r, rl);
		memcpy(sig + 64 - sl, s, sl);
		return 64;
	} else {
		uint8_t enc[64];
		word32 el = wc_EncodeSignature(enc, h, sizeof(h), SHA256h);
		int n;

		if (el == 0)
			return -EINVAL;
		n = wc_RsaSSL_Sign(enc, el, sig, (word32)siglen, &k->rsa, &k->rng);
		return n > 0 ? n : -EINVAL;
	}
}

char *
jws_sign(struct jws_key *k, const char *url, const char *nonce, const char *kid,
	 const char *payload)
{
	json_t *prot = NULL, *body = NULL;
	char *ph = NULL, *php = NULL, *pl = NULL, *input = NULL, *out = NULL;
	size_t phl, pll, inl;
	uint8_t sig[512];
	char bsig[700];
	int n;

	prot = json_pack("{s:s, s:s, s:s}", "alg", jws_alg(k), "nonce", nonce, "url", url);
	if (prot == NULL)
		goto out;
	if (kid != NULL) {
		json_object_set_new(prot, "kid", json_string(kid));
	} else {
		json_t *jwk = jwk_object(k);

		if (jwk == NULL)
			goto out;
		json_object_set_new(prot, "jwk", jwk);
	}
	ph = json_dumps(prot, JSON_COMPACT);
	if (ph == NULL)
		goto out;
	phl = strlen(ph);
	php = malloc(phl * 4 / 3 + 4);
	payload = payload ? payload : "";
	pll = strlen(payload);
	pl = malloc(pll * 4 / 3 + 4);
	if (php == NULL || pl == NULL)
		goto out;
	b64url_encode((const uint8_t *)ph, phl, php, phl * 4 / 3 + 4);
	b64url_encode((const uint8_t *)payload, pll, pl, pll * 4 / 3 + 4);
	inl = strlen(php) + 1 + strlen(pl);
	input = malloc(inl + 1);
	if (input == NULL)
		goto out;
	snprintf(input, inl + 1, "%s.%s", php, pl);
	n = jws_sign_raw(k, (const uint8_t *)input, inl, sig, sizeof(sig));
	if (n < 0)
		goto out;
	b64url_encode(sig, (size_t)n, bsig, sizeof(bsig));
	body = json_pack("{s:s, s:s, s:s}", "protected", php, "payload", pl, "signature", bsig);
	if (body != NULL)
		out = json_dumps(body, JSON_COMPACT);
out:
	json_decref(body);
	json_decref(prot);
	free(input);
	free(pl);
	free(php);
	free(ph);
	return out;
}
