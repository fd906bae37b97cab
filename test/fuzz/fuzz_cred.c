/*
 * libFuzzer target for the body and header parsers of core/guard/cred.c: byte 0 picks
 * cred_oauth_body(), cred_webticket_body() or cred_authorization() (Basic and any scheme);
 * the rest, from a heap copy of exactly its size, is the input. Checks the promises of every
 * result (see fuzz_ntlm.c) and that the user key stays within its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/guard/cred.h"

#define FAIL()	__builtin_trap()

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cred c;
	char key[CRED_KEY_MAX], *in;
	int rc;

	if (size < 1)
		return 0;
	in = malloc(size);
	memcpy(in, data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		rc = cred_oauth_body(in, size - 1, &c);
		break;
	case 1:
		rc = cred_webticket_body(in, size - 1, &c);
		break;
	default:
		rc = cred_authorization(in, size - 1, &c);
		break;
	}
	if (rc < CRED_MALFORMED || rc > CRED_ATTEMPT)
		FAIL();
	if (rc == CRED_MALFORMED && !c.anonymous)
		FAIL();
	if (rc == CRED_ATTEMPT) {
		if (strnlen(c.user, sizeof(c.user)) > CRED_NAME_MAX ||
		    strnlen(c.domain, sizeof(c.domain)) > CRED_NAME_MAX)
			FAIL();
		if (cred_user_key(&c, data[0] & 4 ? "CONTOSO" : NULL, key, sizeof(key)) >=
		    sizeof(key))
			FAIL();
	}
	free(in);
	return 0;
}
