/*
 * libFuzzer target for the parsers of core/acme: the first byte picks one of
 *   0: responder_hello_wants_acme (TLS ClientHello ALPN scan, the TLS listener's input)
 *   1: responder_http_lookup on a request target (with one token published)
 *   2: renew_parse_ari (renewalInfo JSON via jansson) and renew_parse_time
 *   3: b64url_decode, then re-encode: the round trip must give the input back
 * and the rest is the input. Checks invariants, not just crashes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/acme/jws.h"
#include "core/acme/renew.h"
#include "core/acme/responder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	const uint8_t *p = data + 1;
	size_t n = size - 1;

	if (size == 0)
		return 0;
	if (!init) {
		responder_http_put("tok", "tok.thumb");
		init = 1;
	}
	switch (data[0] % 4) {
	case 0:
		(void)responder_hello_wants_acme(p, n);
		break;
	case 1: {
		char out[64];
		int r = responder_http_lookup((const char *)p, n, out, sizeof(out));

		if (r >= 0 && (r != 9 || memcmp(out, "tok.thumb", 9) != 0))
			abort();
		if (r >= 0 && !responder_http_is_acme((const char *)p, n))
			abort();
		break;
	}
	case 2: {
		char *s = malloc(n + 1);
		time_t a, b;

		memcpy(s, p, n);
		s[n] = '\0';
		if (renew_parse_ari(s, n, &a, &b) == 0 && b <= a)
			abort();
		(void)renew_parse_time(s, &a);
		free(s);
		break;
	}
	case 3: {
		uint8_t *dec = malloc(n + 1);
		char *enc = malloc(n * 2 + 4);
		int d = b64url_decode((const char *)p, n, dec, n + 1);

		if (d >= 0) {
			int e = b64url_encode(dec, (size_t)d, enc, n * 2 + 4);

			if (e != (int)n || memcmp(enc, p, n) != 0)
				abort();
		}
		free(enc);
		free(dec);
		break;
	}
	}
	return 0;
}
