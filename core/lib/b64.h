/*
 * Strict base64 decoding (RFC 4648), one decoder for both alphabets: standard ("+/", the
 * Authorization schemes of core/guard/) and URL-safe ("-_", JWS in core/acme/). Pure: libc
 * only. No whitespace is ever accepted.
 */
#ifndef RINGEDGE_CORE_LIB_B64_H
#define RINGEDGE_CORE_LIB_B64_H

#include <stddef.h>
#include <stdint.h>

enum b64_flags {
	B64_URL		= 0x01,	/* alphabet "-_" for 62, 63 (RFC 4648 5); else "+/" (4) */
	B64_PAD		= 0x02,	/* '=' padding allowed (optional); when present it completes
				 * the last quantum. Without this flag '=' is invalid. */
	B64_CANONICAL	= 0x04,	/* the unused bits of the last character must be zero */
};

/*
 * Decodes in[0..len) into out (cap bytes). Returns the decoded length, -EINVAL for bad
 * input (a character outside the alphabet, a length no encoding has, bad padding, non-zero
 * unused bits with B64_CANONICAL) or -ENOSPC when the output does not fit in cap; the first
 * defect in input order decides which. out may hold partial output on error.
 */
long b64_decode(const char *in, size_t len, uint8_t *out, size_t cap, unsigned flags);

#endif
