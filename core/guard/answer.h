/*
 * Local answers of the auth guard (pure: bytes out; any thread). The stream sends one when
 * guard_check() refuses an attempt (after the min_answer_time floor), when a request's
 * Authorization scheme is not in the route's auth_schemes, or when an oauthtoken/WebTicket
 * body is over body_limit (413).
 */
#ifndef RINGEDGE_CORE_GUARD_ANSWER_H
#define RINGEDGE_CORE_GUARD_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config-t.h"
#include "core/guard/cred-t.h"

enum guard_answer_kind {
	GUARD_ANSWER_401 = 1,	/* NTLM, Negotiate, Basic, refused scheme: 401 + challenges */
	GUARD_ANSWER_OAUTH,	/* oauthtoken: 400 {"error":"invalid_grant"} (RFC 6749 5.2) */
	GUARD_ANSWER_WEBTICKET,	/* WebTicket: 500 SOAP fault "No valid security token." */
	GUARD_ANSWER_413,	/* body over body_limit on those two paths; closes */
};

#define GUARD_ANSWER_MAX	2048	/* enough for every kind with a few challenges */

/* Writes the whole response (head and body) into buf[cap]. challenges[n] are the
 * WWW-Authenticate values of a 401 (one field each, in order; values with control characters
 * are skipped); close adds Connection: close; head (a HEAD request): the head only, with the
 * Content-Length the body would have (RFC 9110 9.3.2). Returns the length, 0 if cap is too
 * small. */
size_t guard_answer(enum guard_answer_kind kind, const char *const *challenges, int n,
		    bool close, bool head, char *buf, size_t cap);

/* The answer kind that looks like a real failure of an attempt of this kind. */
enum guard_answer_kind guard_answer_kind_of(enum cred_kind kind);

/* The challenge list for a route's schemes (CFG_AUTH_* bits), in IIS's order: Negotiate,
 * NTLM, Basic realm="realm" (written into realm_buf). out must hold 3. Returns the count.
 * Used when no backend 401 has been seen yet to copy the challenges from. */
int guard_challenges(unsigned schemes, const char *realm, const char **out, char *realm_buf,
		     size_t realm_cap);

#endif
