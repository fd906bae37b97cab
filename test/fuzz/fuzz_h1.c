/*
 * libFuzzer target for core/http/h1.c: request heads, response heads, chunked bodies.
 * Input: byte 0 picks the mode, byte 1 seeds how the rest is split into recv()-like pieces
 * (top bit set: one byte at a time);
 * the rest is the message. Each input is parsed whole and in pieces (each piece from a fresh
 * heap buffer holding exactly the bytes received, so ASan sees any over-read) and both
 * results must agree; spans and error offsets are checked against the grammar.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/http/h1.h"

#define FAIL(...)	__builtin_trap()

static void
check_span(struct h1_span s, size_t lim)
{
	if ((size_t)s.off + s.len > lim)
		FAIL();
}

static int
span_eq(struct h1_span a, struct h1_span b)
{
	return a.off == b.off && a.len == b.len;
}

static void
same_msg(const struct h1_msg *a, const struct h1_msg *b)
{
	unsigned i;

	if (a->state != b->state || a->err_status != b->err_status || a->err_off != b->err_off
	    || a->err_reason != b->err_reason || a->head_len != b->head_len
	    || a->flags != b->flags || a->nhdr != b->nhdr || a->method != b->method
	    || a->status != b->status || a->content_length != b->content_length
	    || a->host_idx != b->host_idx || a->target_form != b->target_form
	    || a->nconn != b->nconn
	    || !span_eq(a->method_s, b->method_s) || !span_eq(a->target, b->target)
	    || !span_eq(a->version, b->version) || !span_eq(a->reason, b->reason)
	    || !span_eq(a->abs_host, b->abs_host) || !span_eq(a->abs_path, b->abs_path))
		FAIL();
	for (i = 0; i < a->nhdr; i++)
		if (!span_eq(a->hdr[i].name, b->hdr[i].name)
		    || !span_eq(a->hdr[i].value, b->hdr[i].value)
		    || a->hdr[i].id != b->hdr[i].id || a->hdr[i].flags != b->hdr[i].flags)
			FAIL();
}

/* What a successful head guarantees the proxy. */
static void
check_head(const struct h1_msg *m, const uint8_t *p, size_t len)
{
	unsigned i;
	uint32_t k;

	if (m->head_len > len || m->head_len < 4 || memcmp(p + m->head_len - 4, "\r\n\r\n", 4))
		FAIL();
	if (m->nhdr > H1_MAX_FIELDS || m->fields_start > m->head_len)
		FAIL();
	if (m->head_len - m->fields_start > H1_MAX_FIELDS_LEN || m->fields_start > H1_MAX_REQLINE)
		FAIL();
	if (!m->is_response) {
		check_span(m->target, m->head_len);
		if (m->target.len == 0)
			FAIL();
		for (k = 0; k < m->target.len; k++)
			if (p[m->target.off + k] < 0x21 || p[m->target.off + k] > 0x7e)
				FAIL();
		if ((m->flags & H1_MF_VER11) && m->host_idx < 0)
			FAIL();
		if ((m->flags & H1_MF_HAS_TE) && (m->flags & H1_MF_HAS_CL))
			FAIL();
		if ((m->flags & H1_MF_HAS_TE) && !(m->flags & H1_MF_CHUNKED))
			FAIL();
	} else if (m->status < 100 || m->status > 599)
		FAIL();
	for (i = 0; i < m->nhdr; i++) {
		const struct h1_header *h = &m->hdr[i];

		check_span(h->name, m->head_len);
		check_span(h->value, m->head_len);
		if (h->name.len == 0 || p[h->name.off + h->name.len] != ':')
			FAIL();
		for (k = 0; k < h->value.len; k++) {
			uint8_t c = p[h->value.off + k];

			if ((c < 0x20 && c != '\t') || c == 0x7f)
				FAIL();
		}
		if (h->value.len && (p[h->value.off] == ' ' || p[h->value.off] == '\t'
		    || p[h->value.off + h->value.len - 1] == ' '
		    || p[h->value.off + h->value.len - 1] == '\t'))
			FAIL();
	}
}

/* Next piece length: seeds with the top bit set feed one byte at a time, others 1-7. */
static size_t
piece(uint8_t *seed, size_t left)
{
	size_t n;

	if (*seed & 0x80)
		return 1;
	*seed = (uint8_t)((*seed * 37 + 11) & 0x7f);
	n = (*seed % 7) + 1;
	return n < left ? n : left;
}

static int
fuzz_head(const uint8_t *p, size_t len, int resp, uint8_t seed)
{
	static struct h1_msg a, b;
	int ra, rb = 0;
	size_t have = 0;

	h1_msg_init(&a, resp);
	ra = h1_parse_head(&a, (const char *)p, len);
	if (ra < 0 && (a.err_off >= len || -ra != a.err_status || !a.err_reason))
		FAIL();
	if (ra > 0)
		check_head(&a, p, len);

	h1_msg_init(&b, resp);
	while (have < len) {
		uint8_t *buf;

		have += piece(&seed, len - have);
		buf = malloc(have);
		memcpy(buf, p, have);
		rb = h1_parse_head(&b, (const char *)buf, have);
		free(buf);
		if (rb != 0)
			break;
	}
	if (len == 0)
		rb = 0;
	if (ra != rb)
		FAIL();
	same_msg(&a, &b);
	return ra;
}

/*
 * A trailer section the decoder accepted always filters: the output ends with the final
 * CRLF, every line in it is a line of the input, in order, whose name is not forbidden, and
 * every input line left out is forbidden.
 */
static void
fuzz_trailer(const uint8_t *t, size_t len)
{
	char *in = malloc(len + 1), *out = malloc(len + 1);
	ssize_t n;
	size_t i = 0, o = 0;

	memcpy(in, t, len);
	n = h1_trailer_filter(in, len, out, len);
	if (n < 2 || (size_t)n > len || out[n - 2] != '\r' || out[n - 1] != '\n')
		FAIL();
	while (i + 2 < len + 0 && in[i] != '\r') {
		const char *lf = memchr(in + i, '\n', len - i), *colon = memchr(in + i, ':', len - i);
		size_t line = (size_t)(lf - (in + i)) + 1;
		int forbidden = h1_trailer_forbidden(in + i, (size_t)(colon - (in + i)));

		if (!forbidden) {
			if (o + line > (size_t)n || memcmp(out + o, in + i, line) != 0)
				FAIL();
			o += line;
		}
		i += line;
	}
	if (o + 2 != (size_t)n)
		FAIL();
	free(in);
	free(out);
}

static void
fuzz_chunked(const uint8_t *p, size_t len, int resp, uint8_t seed)
{
	struct h1_chunk a, b;
	struct h1_span d;
	uint8_t *da = malloc(len + 1), *db = malloc(len + 1);
	size_t pa = 0, pb = 0, la = 0, lb = 0;
	ssize_t ra = 0, rb = 0;

	h1_chunk_init(&a, resp);
	while (pa < len && !h1_chunk_done(&a)) {
		ra = h1_chunk_parse(&a, (const char *)p + pa, len - pa, &d);
		if (ra < 0)
			break;
		if (ra == 0 || (size_t)ra > len - pa || (size_t)d.off + d.len > (size_t)ra)
			FAIL();
		memcpy(da + la, p + pa + d.off, d.len);
		la += d.len;
		pa += (size_t)ra;
	}
	h1_chunk_init(&b, resp);
	while (pb < len && !h1_chunk_done(&b)) {
		size_t n = piece(&seed, len - pb);
		uint8_t *buf = malloc(n);

		memcpy(buf, p + pb, n);
		rb = h1_chunk_parse(&b, (const char *)buf, n, &d);
		if (rb < 0) {
			free(buf);
			break;
		}
		if (rb == 0 || (size_t)rb > n || (size_t)d.off + d.len > (size_t)rb)
			FAIL();
		memcpy(db + lb, buf + d.off, d.len);
		lb += d.len;
		pb += (size_t)rb;
		free(buf);
	}
	if ((ra < 0) != (rb < 0) || a.state != b.state)
		FAIL();
	if (ra < 0) {
		if (ra != rb || a.err_off != b.err_off || a.err_off >= len || a.err_reason != b.err_reason)
			FAIL();
	} else if (pa != pb || la != lb || memcmp(da, db, la) != 0 || a.data_total != la)
		FAIL();
	if (ra >= 0 && h1_chunk_done(&a))
		fuzz_trailer(p + pa - a.trailer_len, a.trailer_len);
	free(da);
	free(db);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct h1_msg m;
	uint8_t mode, seed;
	int rc;

	if (size < 2)
		return 0;
	mode = data[0] % 4;
	seed = data[1];
	data += 2;
	size -= 2;

	switch (mode) {
	case 0:
	case 1:
		rc = fuzz_head(data, size, mode, seed);
		/* a complete request or response: decode what follows as its body */
		if (rc > 0) {
			h1_msg_init(&m, mode);
			h1_parse_head(&m, (const char *)data, size);
			if (h1_body_framing(&m, mode, 0, m.status) == H1_BODY_CHUNKED)
				fuzz_chunked(data + rc, size - (size_t)rc, mode, seed);
			(void)h1_keepalive(&m);
		}
		break;
	default:
		fuzz_chunked(data, size, mode == 3, seed);
		break;
	}
	return 0;
}
