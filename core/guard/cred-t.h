/*
 * Types of the credential extractor (core/guard/cred.c): what one request tells the auth guard
 * about a password attempt. Plain data, no pointers: a struct cred can be copied into a stream
 * and kept until the response status arrives.
 */
#ifndef RINGEDGE_CORE_GUARD_CRED_T_H
#define RINGEDGE_CORE_GUARD_CRED_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Caps, in bytes of UTF-8 (a NTLM field of 256 UTF-16 units may need up to 768). */
#define CRED_NAME_MAX		768	/* user or domain */
#define CRED_KEY_MAX		(2 * CRED_NAME_MAX + 2)	/* "domain\user" + NUL */
#define CRED_B64_MAX		16384	/* longest base64 token read from a header */

/* The four kinds of password attempt the guard recognises (issue 12). */
enum cred_kind {
	CRED_NONE = 0,		/* no attempt */
	CRED_NTLM,		/* Authorization: NTLM / Negotiate with a raw NTLM type-3 token */
	CRED_BASIC,		/* Authorization: Basic */
	CRED_OAUTH,		/* POST /WebTicket/oauthtoken, grant_type=password form body */
	CRED_WEBTICKET,		/* POST /WebTicket/WebTicketService.svc/Auth, WS-Security SOAP */
};

/* Results of every cred_* parser. */
enum cred_rc {
	CRED_MALFORMED = -1,	/* claims to be an attempt but cannot be read: see cred.h */
	CRED_NOT_ATTEMPT = 0,	/* no password attempt in it (type 1, Kerberos, other grant) */
	CRED_ATTEMPT = 1,	/* out is filled */
};

struct cred {
	enum cred_kind	 kind;
	bool		 anonymous;	/* empty NTLM user: count per client address only */
	bool		 has_pw;	/* pw_hash is set (Basic, oauthtoken, WebTicket) */
	uint64_t	 pw_hash;	/* cred_pw_hash() of the password; the password is not kept */
	char		 user[CRED_NAME_MAX + 1];	/* UTF-8, as sent (NUL-terminated) */
	char		 domain[CRED_NAME_MAX + 1];	/* UTF-8, as sent; "" if none */
};

#endif
