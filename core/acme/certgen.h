/*
 * What the ACME client builds and reads with wolfSSL's certificate code: the CSR for
 * finalize, the TLS-ALPN-01 challenge certificate (RFC 8737) and the dates/ARI identity of an
 * issued certificate. Pure (buffers in, buffers out); any thread.
 */
#ifndef RINGEDGE_CORE_ACME_CERTGEN_H
#define RINGEDGE_CORE_ACME_CERTGEN_H

#include <stddef.h>
#include <stdint.h>

#include "core/acme/acme-t.h"
#include "core/acme/jws.h"

/* id-pe-acmeIdentifier (RFC 8737 §3) */
#define CERTGEN_ACME_ID_OID	"1.3.6.1.5.5.7.1.31"

/* DER GeneralNames (SEQUENCE OF dNSName) for names; returns the length or -ENOSPC/-EINVAL. */
int certgen_san_der(const char *const *names, int n, uint8_t *out, size_t outlen);

/* PKCS#10 CSR signed by key, CN = names[0] (when it fits 64 bytes), SAN = all names.
 * *der is malloc'd. 0 or -EINVAL. */
int certgen_csr(struct jws_key *key, const char *const *names, int n, uint8_t **der,
		size_t *len);

/*
 * Self-signed TLS-ALPN-01 challenge certificate for `name`: a fresh P-256 key, SAN = name and
 * the critical acmeIdentifier extension holding OCTET STRING(SHA-256(keyauth)). Both DER
 * buffers are malloc'd. 0 or -EINVAL.
 */
int certgen_alpn_cert(const char *name, const char *keyauth, uint8_t **cert, size_t *cert_len,
		      uint8_t **key, size_t *key_len);

/*
 * The placeholder a TLS listener with acme = NAME serves until the first issuance: a fresh
 * self-signed P-256 certificate for names (SANs; CN = first), valid 30 days (it is replaced
 * long before). DER, malloc'd. 0 or -EINVAL.
 */
int certgen_placeholder(const char *const *names, int n, uint8_t **cert, size_t *cert_len,
			uint8_t **key, size_t *key_len);

/* notBefore/notAfter and the RFC 9773 certID of the first certificate of a PEM chain.
 * 0 or -EINVAL. */
int certgen_info(const char *pem, size_t len, struct acme_cert_info *info);

#endif
