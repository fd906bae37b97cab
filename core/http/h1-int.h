/*
 * Private to the HTTP/1.1 parser (core/http/h1.c heads, core/http/h1_chunk.c chunked
 * bodies): the byte classes of the grammar and the reason for a bad line end.
 */
#ifndef RINGEDGE_CORE_HTTP_H1_INT_H
#define RINGEDGE_CORE_HTTP_H1_INT_H

#include <stdint.h>

/* Byte classes (table in h1.c; see docs/http1.md for the grammar they encode). */
#define C_TCHAR	0x01	/* RFC 9110 tchar */
#define C_VCHAR	0x02	/* 0x21-0x7E: request-target bytes */
#define C_FIELD	0x04	/* field-value bytes: VCHAR, obs-text, SP, HTAB */
#define C_HEX	0x08
#define C_HOST	0x10	/* uri-host / port bytes: unreserved, pct, sub-delims, ":[]" */
#define C_DIGIT	0x20

extern const uint8_t h1_cls[256];

#define IS(c, k)	(h1_cls[(uint8_t)(c)] & (k))
#define IS_WS(c)	((c) == ' ' || (c) == '\t')

/* Why a byte that ends a line-terminated token is wrong: the log should say which rule. */
static inline const char *
h1_eol_reason(uint8_t c, const char *other)
{
	if (c == '\n')
		return "bare LF";
	if (c == '\r')
		return "bare CR";
	if (c == 0)
		return "NUL byte";
	return other;
}

#endif
