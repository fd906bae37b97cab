/*
 * Strict, resumable decoder of the chunked transfer coding (RFC 9112 7.1): chunk-size lines,
 * extensions, data spans and the trailer section. See core/http/h1.h for the contract and
 * docs/http1.md for each strictness decision; the head parser is core/http/h1.c.
 */
#include <stddef.h>
#include <string.h>

#include "core/http/h1.h"
#include "core/http/h1-int.h"

void
h1_chunk_init(struct h1_chunk *c, int is_response)
{
	memset(c, 0, sizeof(*c));
	c->is_response = is_response ? 1 : 0;
	c->state = H1_C_SIZE_START;
}

static ssize_t
h1_chunk_fail(struct h1_chunk *c, const char *reason, size_t i)
{
	c->state = H1_C_ERROR;
	c->err_status = c->is_response ? 502 : 400;
	c->err_reason = reason;
	c->err_off = c->total + i;
	return -(ssize_t)c->err_status;
}

static unsigned
h1_hexval(uint8_t c)
{
	if (c <= '9')
		return c - '0';
	return (c | 0x20) - 'a' + 10;
}

/*
 * The steps of h1_chunk_parse(), one per part of the chunked coding. Each takes the byte ch at
 * offset i in its states and returns 0 to go on or a negative status (h1_chunk_fail).
 */

/* Chunk extensions (RFC 9112 7.1.1): ';' name ['=' (token / quoted-string)], with BWS. */
static ssize_t
h1_chunk_ext_name(struct h1_chunk *c, uint8_t ch, size_t i)
{
	switch (c->state) {
	case H1_C_EXT_BWS:
		/*
		 * RFC 9112 7.1.1 allows BWS before ';' (and '='), not before the CRLF:
		 * "5 \r\n" is refused (docs/http1.md), "5 ;x\r\n" is relayed.
		 */
		if (ch == ';')
			c->state = H1_C_EXT_NAME_BWS;
		else if (ch == '\r')
			return h1_chunk_fail(c, "whitespace at the end of a chunk-size line",
			    i);
		else if (!IS_WS(ch))
			return h1_chunk_fail(c, h1_eol_reason(ch, "invalid chunk extension"),
			    i);
		break;
	case H1_C_EXT_NAME_BWS:
		if (IS(ch, C_TCHAR))
			c->state = H1_C_EXT_NAME;
		else if (!IS_WS(ch))
			return h1_chunk_fail(c, h1_eol_reason(ch, "invalid chunk extension"),
			    i);
		break;
	default:	/* H1_C_EXT_NAME, H1_C_EXT_AFTER_NAME */
		if (IS(ch, C_TCHAR) && c->state == H1_C_EXT_NAME)
			break;
		if (IS_WS(ch))
			c->state = H1_C_EXT_AFTER_NAME;
		else if (ch == '=')
			c->state = H1_C_EXT_VAL_BWS;
		else if (ch == ';')
			c->state = H1_C_EXT_NAME_BWS;
		else if (ch == '\r' && c->state == H1_C_EXT_NAME)
			c->state = H1_C_SIZE_LF;
		else if (ch == '\r')
			return h1_chunk_fail(c, "whitespace at the end of a chunk-size line",
			    i);
		else
			return h1_chunk_fail(c, h1_eol_reason(ch, "invalid chunk extension"),
			    i);
		break;
	}
	return 0;
}

/* An extension's value after '=', and what may follow it. */
static ssize_t
h1_chunk_ext_value(struct h1_chunk *c, uint8_t ch, size_t i)
{
	switch (c->state) {
	case H1_C_EXT_VAL_BWS:
		if (ch == '"')
			c->state = H1_C_EXT_QSTR;
		else if (IS(ch, C_TCHAR))
			c->state = H1_C_EXT_TOKEN;
		else if (!IS_WS(ch))
			return h1_chunk_fail(c, h1_eol_reason(ch, "invalid chunk extension"),
			    i);
		break;
	case H1_C_EXT_QSTR:
		if (ch == '"')
			c->state = H1_C_EXT_END;
		else if (ch == '\\')
			c->state = H1_C_EXT_QPAIR;
		else if (!IS(ch, C_FIELD))
			return h1_chunk_fail(c, h1_eol_reason(ch, "invalid chunk extension"),
			    i);
		break;
	case H1_C_EXT_QPAIR:
		if (!IS(ch, C_FIELD))
			return h1_chunk_fail(c, h1_eol_reason(ch, "invalid chunk extension"),
			    i);
		c->state = H1_C_EXT_QSTR;
		break;
	default:	/* H1_C_EXT_TOKEN, H1_C_EXT_END: after a value */
		if (IS(ch, C_TCHAR) && c->state == H1_C_EXT_TOKEN)
			break;
		if (IS_WS(ch))
			c->state = H1_C_EXT_BWS;
		else if (ch == ';')
			c->state = H1_C_EXT_NAME_BWS;
		else if (ch == '\r')
			c->state = H1_C_SIZE_LF;
		else
			return h1_chunk_fail(c, h1_eol_reason(ch, "invalid chunk extension"),
			    i);
		break;
	}
	return 0;
}

/* The chunk-size line: hex size, extensions (h1_chunk_ext_*), CRLF. */
static ssize_t
h1_chunk_size_line(struct h1_chunk *c, uint8_t ch, size_t i)
{
	switch (c->state) {
	case H1_C_SIZE_START:
		if (!IS(ch, C_HEX))
			return h1_chunk_fail(c, h1_eol_reason(ch, "invalid chunk size"), i);
		c->remaining = h1_hexval(ch);
		c->state = H1_C_SIZE;
		break;
	case H1_C_SIZE:
		if (IS(ch, C_HEX)) {
			/* 2^59 * 16 would pass 2^63: sizes stay representable as off_t */
			if (c->remaining >> 59)
				return h1_chunk_fail(c, "chunk size overflow", i);
			c->remaining = c->remaining * 16 + h1_hexval(ch);
		} else if (ch == ';')
			c->state = H1_C_EXT_NAME_BWS;
		else if (IS_WS(ch))
			c->state = H1_C_EXT_BWS;
		else if (ch == '\r')
			c->state = H1_C_SIZE_LF;
		else
			return h1_chunk_fail(c, h1_eol_reason(ch, "invalid chunk size"), i);
		break;
	case H1_C_SIZE_LF:
		if (ch != '\n')
			return h1_chunk_fail(c, "bare CR", i);
		c->line_len = 0;
		c->state = c->remaining ? H1_C_DATA : H1_C_TRAILER_START;
		break;
	case H1_C_EXT_BWS:
	case H1_C_EXT_NAME_BWS:
	case H1_C_EXT_NAME:
	case H1_C_EXT_AFTER_NAME:
		return h1_chunk_ext_name(c, ch, i);
	default:
		return h1_chunk_ext_value(c, ch, i);
	}
	return 0;
}

/* States that take exactly one byte: that byte, the state after it, the reason otherwise. */
static const struct {
	uint8_t		ch;
	uint8_t		next;
	const char	*why;
} h1_chunk_one[] = {
	[H1_C_DATA_CR] = { '\r', H1_C_DATA_LF, "missing CRLF after chunk data" },
	[H1_C_DATA_LF] = { '\n', H1_C_SIZE_START, "bare CR" },
	[H1_C_TRAILER_LF] = { '\n', H1_C_TRAILER_START, "bare CR" },
	[H1_C_END_LF] = { '\n', H1_C_DONE, "bare CR" },
};

/* c->state is one of h1_chunk_one's. */
static ssize_t
h1_chunk_expect(struct h1_chunk *c, uint8_t ch, size_t i)
{
	if (ch != h1_chunk_one[c->state].ch)
		return h1_chunk_fail(c, h1_chunk_one[c->state].why, i);
	c->state = h1_chunk_one[c->state].next;
	return 0;
}

/* The trailer section: field lines, then the final CRLF. */
static ssize_t
h1_chunk_trailer(struct h1_chunk *c, uint8_t ch, size_t i)
{
	switch (c->state) {
	case H1_C_TRAILER_START:
		if (ch == '\r')
			c->state = H1_C_END_LF;
		else if (IS(ch, C_TCHAR))
			c->state = H1_C_TRAILER_NAME;
		else
			return h1_chunk_fail(c, IS_WS(ch) ? "obs-fold in trailer" :
			    h1_eol_reason(ch, "invalid trailer field"), i);
		break;
	case H1_C_TRAILER_NAME:
		if (ch == ':')
			c->state = H1_C_TRAILER_VALUE;
		else if (!IS(ch, C_TCHAR))
			return h1_chunk_fail(c, IS_WS(ch) ? "whitespace before colon" :
			    h1_eol_reason(ch, "invalid trailer field"), i);
		break;
	case H1_C_TRAILER_VALUE:
		if (ch == '\r')
			c->state = H1_C_TRAILER_LF;
		else if (!IS(ch, C_FIELD))
			return h1_chunk_fail(c, h1_eol_reason(ch,
			    "control character in trailer"), i);
		break;
	case H1_C_TRAILER_LF:
	case H1_C_END_LF:
		return h1_chunk_expect(c, ch, i);
	default:
		return h1_chunk_fail(c, "decoder state corrupt", i);
	}
	return 0;
}

ssize_t
h1_chunk_parse(struct h1_chunk *c, const char *buf, size_t len, struct h1_span *data)
{
	const uint8_t *p = (const uint8_t *)buf;
	size_t i = 0, n;
	ssize_t rc;

	data->off = 0;
	data->len = 0;
	if (c->state == H1_C_ERROR)
		return -(ssize_t)c->err_status;
	/* spans are 32-bit: a larger buffer is simply consumed in several calls */
	if (len > UINT32_MAX)
		len = UINT32_MAX;

	while (i < len && c->state != H1_C_DONE) {
		if (c->state <= H1_C_SIZE_LF) {
			if (++c->line_len > H1_MAX_CHUNK_LINE)
				return h1_chunk_fail(c, "chunk-size line too long", i);
			rc = h1_chunk_size_line(c, p[i], i);
		} else if (c->state >= H1_C_TRAILER_START) {
			if (++c->trailer_len > H1_MAX_TRAILERS)
				return h1_chunk_fail(c, "trailer section too large", i);
			rc = h1_chunk_trailer(c, p[i], i);
		} else if (c->state == H1_C_DATA) {
			n = len - i;
			if (n > c->remaining)
				n = (size_t)c->remaining;
			data->off = (uint32_t)i;
			data->len = (uint32_t)n;
			c->remaining -= n;
			c->data_total += n;
			if (c->remaining == 0)
				c->state = H1_C_DATA_CR;
			i += n;
			c->total += i;
			/* one data span per call: the caller forwards it before we go on */
			return (ssize_t)i;
		} else	/* H1_C_DATA_CR, H1_C_DATA_LF */
			rc = h1_chunk_expect(c, p[i], i);
		if (rc < 0)
			return rc;
		i++;
	}
	c->total += i;
	return (ssize_t)i;
}
