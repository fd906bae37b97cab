/* Strict base64 decoding (core/lib/b64.c): both alphabets, padding, canonical bits, limits. */
#include <errno.h>
#include <string.h>

#include "core/lib/b64.h"
#include "test/unit/check.h"

static long
dec(const char *s, uint8_t *out, size_t cap, unsigned flags)
{
	return b64_decode(s, strlen(s), out, cap, flags);
}

int
main(void)
{
	/* RFC 4648 10 test vectors, with and without padding */
	static const struct { const char *in, *pad; } v[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	uint8_t out[64];
	long n;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char bare[16];
		size_t bl = strlen(v[i].pad);

		while (bl > 0 && v[i].pad[bl - 1] == '=')
			bl--;
		memcpy(bare, v[i].pad, bl);
		bare[bl] = '\0';
		n = dec(v[i].pad, out, sizeof(out), B64_PAD);
		CHECK(n == (long)strlen(v[i].in) && memcmp(out, v[i].in, (size_t)n) == 0);
		n = dec(bare, out, sizeof(out), B64_PAD);
		CHECK(n == (long)strlen(v[i].in) && memcmp(out, v[i].in, (size_t)n) == 0);
		n = dec(bare, out, sizeof(out), B64_URL | B64_CANONICAL);
		CHECK(n == (long)strlen(v[i].in) && memcmp(out, v[i].in, (size_t)n) == 0);
	}

	/* the two alphabets: 0xfb 0xff 0xbf is "+/+/" standard, "-_-_" URL-safe */
	CHECK(dec("+/+/", out, sizeof(out), 0) == 3 && out[0] == 0xfb && out[1] == 0xff &&
	    out[2] == 0xbf);
	CHECK(dec("-_-_", out, sizeof(out), B64_URL) == 3 && out[0] == 0xfb && out[2] == 0xbf);
	CHECK(dec("-_-_", out, sizeof(out), 0) == -EINVAL);
	CHECK(dec("+/+/", out, sizeof(out), B64_URL) == -EINVAL);

	/* padding: only with B64_PAD, at most two, and then the length is a multiple of 4 */
	CHECK(dec("Zg==", out, sizeof(out), B64_URL) == -EINVAL);
	CHECK(dec("Zm9v=", out, sizeof(out), B64_URL) == -EINVAL);
	CHECK(dec("Zg=", out, sizeof(out), B64_PAD) == -EINVAL);
	CHECK(dec("Zg===", out, sizeof(out), B64_PAD) == -EINVAL);
	CHECK(dec("Z===", out, sizeof(out), B64_PAD) == -EINVAL);
	CHECK(dec("====", out, sizeof(out), B64_PAD) == -EINVAL);
	CHECK(dec("==", out, sizeof(out), B64_PAD) == -EINVAL);
	CHECK(dec("Zg==Zg==", out, sizeof(out), B64_PAD) == -EINVAL);

	/* impossible lengths, whitespace, NUL and other bytes */
	CHECK(dec("Z", out, sizeof(out), B64_PAD) == -EINVAL);
	CHECK(dec("Zm9vY", out, sizeof(out), 0) == -EINVAL);
	CHECK(dec("Zm 9v", out, sizeof(out), B64_PAD) == -EINVAL);
	CHECK(dec("Zm9v\n", out, sizeof(out), B64_PAD) == -EINVAL);
	CHECK(b64_decode("Zm\0v", 4, out, sizeof(out), B64_PAD) == -EINVAL);
	CHECK(dec("Zm9\xc3", out, sizeof(out), B64_PAD) == -EINVAL);

	/* unused bits: refused only with B64_CANONICAL ("Zh" has bits 0001 left over) */
	CHECK(dec("Zh", out, sizeof(out), B64_URL | B64_CANONICAL) == -EINVAL);
	CHECK(dec("Zh", out, sizeof(out), B64_URL) == 1 && out[0] == 'f');
	CHECK(dec("Zh==", out, sizeof(out), B64_PAD) == 1 && out[0] == 'f');
	CHECK(dec("Zm9=", out, sizeof(out), B64_PAD | B64_CANONICAL) == -EINVAL);

	/* output limit: exact fit, one short; the first defect in input order decides */
	CHECK(dec("Zm9vYmFy", out, 6, B64_PAD) == 6 && memcmp(out, "foobar", 6) == 0);
	CHECK(dec("Zm9vYmFy", out, 5, B64_PAD) == -ENOSPC);
	CHECK(dec("Zm9v", out, 0, 0) == -ENOSPC);
	CHECK(dec("", out, 0, 0) == 0);
	CHECK(dec("Zm9vYm!y", out, 3, 0) == -ENOSPC);
	CHECK(dec("Zm!vYmFy", out, 3, 0) == -EINVAL);
	return check_done();
}
