/* Strict base64 decoding, both alphabets (core/lib/b64.h). */
#include <errno.h>

#include "core/lib/b64.h"

static int
b64_val(unsigned char c, unsigned flags)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == ((flags & B64_URL) ? '-' : '+'))
		return 62;
	if (c == ((flags & B64_URL) ? '_' : '/'))
		return 63;
	return -1;
}

long
b64_decode(const char *in, size_t len, uint8_t *out, size_t cap, unsigned flags)
{
	uint32_t acc = 0;
	size_t n = len, o = 0;
	int bits = 0;

	if (flags & B64_PAD) {
		if (n > 0 && in[n - 1] == '=')
			n--;
		if (n > 0 && in[n - 1] == '=')
			n--;
		if (n != len && len % 4 != 0)	/* padding, when present, completes a quantum */
			return -EINVAL;
	}
	if (n % 4 == 1)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int v = b64_val((unsigned char)in[i], flags);

		if (v < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -ENOSPC;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if ((flags & B64_CANONICAL) && bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return -EINVAL;
	return (long)o;
}
