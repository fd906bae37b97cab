/*
 * ACME (RFC 8555) client types. Plain data: the configuration of one [acme NAME] section as
 * the client needs it, the account/certificate key, and what the renewal scheduler knows
 * about a certificate. See docs/acme.md.
 */
#ifndef RINGEDGE_CORE_ACME_ACME_T_H
#define RINGEDGE_CORE_ACME_ACME_T_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

enum acme_key_type {
	ACME_KEY_EC256 = 0,	/* ECDSA P-256, JWS ES256 (default) */
	ACME_KEY_RSA2048,	/* RSA 2048, JWS RS256 */
	ACME_KEY_RSA3072,	/* RSA 3072, JWS RS256 */
};

enum acme_chall {
	ACME_CHALL_HTTP01	= 1 << 0,	/* http-01: token on every plain listener */
	ACME_CHALL_TLSALPN01	= 1 << 1,	/* tls-alpn-01: acme-tls/1 on the TLS listener */
};

/* One certificate to obtain and keep renewed (one [acme NAME] section). Strings are owned by
 * whoever built it (config, or the test tool) and must outlive the client thread. */
struct acme_cert_cfg {
	const char	*name;		/* section name: files are STATE_DIR/NAME.crt, NAME.key */
	const char	*directory;	/* directory URL */
	const char	*contact;	/* e-mail, without mailto:; NULL = none */
	const char	*account_key;	/* PEM file; created (EC P-256) when missing */
	int		 key_type;	/* enum acme_key_type, of the certificate key */
	const char	*const *names;	/* DNS names, first = CN */
	int		 nnames;
	const char	*state_dir;	/* created 0700 when missing */
	const char	*ca;		/* CA bundle trusted for the ACME server; NULL = system */
	unsigned	 challenges;	/* enum acme_chall bits; first tried: http-01 */
	uint64_t	 retry_min_ms;	/* first retry after a failure (doubles up to retry_max) */
	uint64_t	 retry_max_ms;
	uint64_t	 timeout_ms;	/* per HTTP request to the ACME server */
	uint64_t	 poll_max_ms;	/* give up polling an authorization or order after this */
};

/* What the scheduler keeps about the certificate in the state directory. */
struct acme_cert_info {
	time_t		 not_before;
	time_t		 not_after;
	char		 ari_id[200];	/* RFC 9773 certID: b64url(AKI keyid) "." b64url(serial) */
};

#endif
