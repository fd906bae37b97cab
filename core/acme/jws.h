/*
 * ACME account and certificate keys, and JWS (RFC 7515) requests signed with them: ES256 for
 * ECDSA P-256 keys, RS256 for RSA keys, with a "jwk" (new account) or "kid" (everything
 * after) header. Pure apart from jws_key_load/jws_key_save (files). wolfSSL does the
 * cryptography, jansson the JSON. Runs on the ACME thread only (see acme.h); a key is not
 * shared between threads.
 */
#ifndef RINGEDGE_CORE_ACME_JWS_H
#define RINGEDGE_CORE_ACME_JWS_H

#include <stddef.h>
#include <stdint.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include "core/acme/acme-t.h"

struct jws_key {
	int		 type;		/* enum acme_key_type */
	bool		 ready;		/* key below initialised */
	union {
		ecc_key	 ec;
		RsaKey	 rsa;
	};
	WC_RNG		 rng;
	bool		 rng_ready;
};

/*
 * Reads a PEM private key (EC P-256 "EC PRIVATE KEY" / PKCS#8, or RSA >= 2048 bits).
 * Returns 0, -ENOENT when the file does not exist, or -EINVAL/-errno with a sentence in err
 * ("not a PEM EC P-256 or RSA private key", ...).
 */
int jws_key_load(struct jws_key *k, const char *path, char *err, size_t errlen);
/* Makes a new key of `type`. 0 or -EINVAL with err. */
int jws_key_generate(struct jws_key *k, int type, char *err, size_t errlen);
/* PEM of the private key in *pem (malloc'd, NUL-terminated). 0 or -ENOMEM/-EINVAL. */
int jws_key_pem(struct jws_key *k, char **pem, size_t *len);
/* DER of the private key (for wolfSSL_use_PrivateKey_buffer). 0 or -errno. */
int jws_key_der(struct jws_key *k, uint8_t **der, size_t *len);
void jws_key_free(struct jws_key *k);

/* "ES256" or "RS256". */
const char *jws_alg(const struct jws_key *k);
/* The public JWK as compact JSON with members in lexicographic order (RFC 7638), malloc'd;
 * NULL on error. */
char *jws_jwk_json(struct jws_key *k);
/* RFC 7638 thumbprint: base64url(SHA-256(jwk)) into out (>= 44 bytes). 0 or -EINVAL. */
int jws_thumbprint(struct jws_key *k, char *out, size_t outlen);

/*
 * A flattened JWS JSON body for a POST to `url`: protected header {alg, jwk or kid, nonce,
 * url}; `payload` NULL means POST-as-GET (empty payload). Returns a malloc'd string or NULL.
 */
char *jws_sign(struct jws_key *k, const char *url, const char *nonce, const char *kid,
	       const char *payload);

/* Raw signature over data as JWS wants it (ES256: r||s, 64 bytes; RS256: PKCS#1 v1.5).
 * Returns the length or -EINVAL. */
int jws_sign_raw(struct jws_key *k, const uint8_t *data, size_t len, uint8_t *sig,
		 size_t siglen);

/* base64url without padding (RFC 7515 §2). Returns the length written (NUL-terminated), or
 * -ENOSPC when out is too small. */
int b64url_encode(const uint8_t *in, size_t len, char *out, size_t outlen);
/* Decodes base64url (no padding, no whitespace). Returns the length or -EINVAL/-ENOSPC. */
int b64url_decode(const char *in, size_t len, uint8_t *out, size_t outlen);

#endif
