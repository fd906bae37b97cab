/*
 * Credential extraction for the auth guard: pure functions, bytes in, a struct cred out. No
 * I/O, no allocation, no global state except the process-wide password-hash key
 * (cred_init()). Safe on any thread.
 *
 * Every parser returns enum cred_rc:
 *   CRED_ATTEMPT      out is filled (kind, user, domain, maybe pw_hash);
 *   CRED_NOT_ATTEMPT  nothing to count (no credentials, NTLM type 1, Kerberos, other grants);
 *   CRED_MALFORMED    it claims to carry credentials but cannot be read (truncated NTLM, field
 *                     out of range, odd UTF-16 length, over a cap, bad base64 or escapes).
 *                     out->kind is set and out->anonymous is true, so the caller may count it
 *                     against the client address only. Never a crash, whatever the input.
 */
#ifndef RINGEDGE_CORE_GUARD_CRED_H
#define RINGEDGE_CORE_GUARD_CRED_H

#include "core/guard/cred-t.h"

/* Draws the process's random password-hash key (getrandom). Call once at start-up, before
 * workers run; survives reloads. Until called, the key is zero (tests may call it or not). */
void cred_init(void);

/* Keyed 64-bit hash (SipHash-2-4 under the process key) of a password, or of any bytes. */
uint64_t cred_pw_hash(const void *pw, size_t len);
uint64_t cred_hash(const void *data, size_t len);

/* Strict base64 decode (RFC 4648 alphabet, '=' padding optional, no whitespace). Returns
 * the decoded length, or -1 when bad or when it would not fit in cap. */
long cred_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap);

/* A raw NTLM message (MS-NLMP 2.2.1.3). Type 3 with readable fields: ATTEMPT. Types 1, 2:
 * NOT_ATTEMPT. Wrong signature, unknown type, truncated, fields out of range or over the
 * caps, odd UTF-16 length, invalid UTF-16: MALFORMED. */
int cred_ntlm_parse(const uint8_t *msg, size_t len, struct cred *out);

/* The value of an Authorization header field: "NTLM <b64>", "Negotiate <b64>" (raw NTLM
 * only: a SPNEGO/Kerberos token is NOT_ATTEMPT), "Basic <b64>". Other schemes: NOT_ATTEMPT.
 * Basic: the user is the part before the first ':' (DOMAIN\user and user@domain kept as
 * sent for cred_user_key()); the password after it is hashed. */
int cred_authorization(const char *value, size_t len, struct cred *out);

/* The body of POST /WebTicket/oauthtoken (application/x-www-form-urlencoded):
 * grant_type=password with username and password: ATTEMPT; another grant_type: NOT_ATTEMPT;
 * password grant without a username, or bad %-escapes: MALFORMED. */
int cred_oauth_body(const char *body, size_t len, struct cred *out);

/* The body of POST /WebTicket/WebTicketService.svc/Auth: the first element whose local name
 * is Username (any namespace prefix) holds base64("DOMAIN\user"); Password, if present, holds
 * base64(password) and is hashed. No Username element: NOT_ATTEMPT; undecodable: MALFORMED. */
int cred_webticket_body(const char *body, size_t len, struct cred *out);

/*
 * The guard's user key for c: "domain\user" in ASCII lower case. DOMAIN\user in the user field
 * and user@dns.domain both work: the DNS domain's first label stands for the NetBIOS domain
 * (contoso.com -> contoso, the usual AD layout). A bare name takes default_domain (NULL or ""
 * means none: key "user"). Writes a NUL-terminated key into key[cap]; returns its length, 0
 * for an anonymous or empty user (no per-user key).
 */
size_t cred_user_key(const struct cred *c, const char *default_domain, char *key, size_t cap);

#endif
