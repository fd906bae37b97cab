/*
 * libFuzzer target for core/proxy/alog_json.c. The input (split at its first 0x00 into a
 * target and a User-Agent) goes into a JSON access log line; checks: the line is accepted by
 * jansson (valid JSON, valid UTF-8), it has the fixed keys, and where the input was valid
 * UTF-8 without NUL the decoded strings equal the input exactly.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/proxy/alog_json.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nul = memchr(s, '\0', size);
	size_t tlen = nul ? (size_t)(nul - s) : size;
	struct alog_fields f = {
		.time = "t", .client_addr = "a", .listener = "l", .status = 200,
		.target = { s, tlen },
		.user_agent = { nul ? nul + 1 : NULL, nul ? size - tlen - 1 : 0 },
		.connect_ms = -1, .response_ms = -1, .termination = "ok",
	};
	size_t cap = 64 + 6 * size * 2 + 1024, n;
	char *out = malloc(cap);
	json_error_t err;
	json_t *doc, *ref;

	if (out == NULL)
		return 0;
	n = alog_json_line(out, cap, &f);
	if (n == 0 || out[n - 1] != '\n')
		abort();
	doc = json_loadb(out, n, JSON_ALLOW_NUL, &err);	/* \u0000 is valid JSON */
	if (doc == NULL || json_object_size(doc) != 24)	/* the fixed keys */
		abort();
	/* json_stringn() refuses what is not valid UTF-8: there the line must carry it exactly */
	ref = json_stringn(s, tlen);
	if (ref != NULL && !json_equal(ref, json_object_get(doc, "target")))
		abort();
	json_decref(ref);
	json_decref(doc);
	free(out);
	return 0;
}
