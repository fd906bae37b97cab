/*
 * libFuzzer target for the NTLM type-3 extraction in core/guard/cred.c.
 * Byte 0 picks the path: even = the raw message to cred_ntlm_parse() (from a heap copy of
 * exactly its size, so ASan sees any over-read); odd = the rest base64-encoded behind
 * "NTLM " or "Negotiate " (bit 1) to cred_authorization(). Checks what every result promises:
 * NUL-terminated names within the caps, a MALFORMED result marked anonymous, an empty user
 * marked anonymous, and the user key within its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/guard/cred.h"

#define FAIL()	__builtin_trap()

static void
check(int rc, const struct cred *c)
{
	char key[CRED_KEY_MAX];

	if (rc < CRED_MALFORMED || rc > CRED_ATTEMPT)
		FAIL();
	if (rc == CRED_MALFORMED && !c->anonymous)
		FAIL();
	if (rc != CRED_ATTEMPT)
		return;
	if (strnlen(c->user, sizeof(c->user)) > CRED_NAME_MAX ||
	    strnlen(c->domain, sizeof(c->domain)) > CRED_NAME_MAX)
		FAIL();
	if ((c->user[0] == '\0') != c->anonymous)
		FAIL();
	if (cred_user_key(c, "dflt", key, sizeof(key)) >= sizeof(key))
		FAIL();
}

static char *
b64(const uint8_t *in, size_t n, const char *prefix)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t pl = strlen(prefix), o = pl;
	char *out = malloc(pl + (n + 2) / 3 * 4 + 1);

	memcpy(out, prefix, pl);
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);

		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? a[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cred c;

	if (size < 1)
		return 0;
	if (!(data[0] & 1)) {
		uint8_t *m = malloc(size - 1 ? size - 1 : 1);

		memcpy(m, data + 1, size - 1);
		check(cred_ntlm_parse(m, size - 1, &c), &c);
		free(m);
	} else {
		char *h = b64(data + 1, size - 1, data[0] & 2 ? "Negotiate " : "NTLM ");

		check(cred_authorization(h, strlen(h), &c), &c);
		free(h);
	}
	return 0;
}
