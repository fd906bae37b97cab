/*
 * Strict, resumable HTTP/1.1 parser (RFC 9112). See core/http/h1.h for the contract and
 * docs/http1.md for each strictness decision. Hot path: one switch per state and tight
 * table-driven loops inside tokens; every byte of the head is examined exactly once.
 */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "core/http/h1.h"
#include "core/http/h1-int.h"

/* The byte class table of core/http/h1-int.h (generated once; see docs/http1.md). */
const uint8_t h1_cls[256] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x04, 0x17, 0x06, 0x07, 0x17, 0x17, 0x17, 0x17, 0x16, 0x16, 0x17, 0x17, 0x16, 0x17, 0x17, 0x06,
	0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x16, 0x16, 0x06, 0x16, 0x06, 0x06,
	0x06, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17,
	0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x16, 0x06, 0x16, 0x07, 0x17,
	0x07, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17,
	0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x06, 0x07, 0x06, 0x17, 0x00,
	0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04,
	0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04,
	0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04,
	0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04,
	0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04,
	0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04,
	0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04,
	0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04,
};

static int
h1_fail(struct h1_msg *m, unsigned status, const char *reason, uint32_t off)
{
	m->state = H1_S_ERROR;
	/* Any defect in a backend's response becomes 502 for the client (RFC 9110 15.6.3). */
	m->err_status = m->is_response ? 502 : status;
	m->err_reason = reason;
	m->err_off = off;
	return -(int)m->err_status;
}

void
h1_msg_init(struct h1_msg *m, int is_response)
{
	memset(m, 0, offsetof(struct h1_msg, conn_names));
	m->is_response = is_response ? 1 : 0;
	m->limit = H1_MAX_REQLINE;
	m->host_idx = -1;
	m->state = H1_S_START;
}

const char *
h1_method_name(enum h1_method method)
{
	static const char *const names[] = {
		[H1_M_OTHER] = "OTHER", [H1_M_GET] = "GET", [H1_M_HEAD] = "HEAD",
		[H1_M_POST] = "POST", [H1_M_PUT] = "PUT", [H1_M_DELETE] = "DELETE",
		[H1_M_CONNECT] = "CONNECT", [H1_M_OPTIONS] = "OPTIONS", [H1_M_TRACE] = "TRACE",
		[H1_M_PATCH] = "PATCH",
	};

	if ((unsigned)method >= RE_ARRAY_SIZE(names))
		return "OTHER";
	return names[method];
}

/*
 * Names the parser recognises, indexed by length, at most two of a length (the switch of a
 * jump table, as data). Id 0 is H1_M_OTHER / H1_H_OTHER.
 */
struct h1_names {
	const char	*s[2];
	uint8_t		id[2];
};

/* Methods are case-sensitive (RFC 9110 9.1): "get" is a valid, unknown method. */
static const struct h1_names h1_method_names[8] = {
	[3] = { { "GET", "PUT" }, { H1_M_GET, H1_M_PUT } },
	[4] = { { "HEAD", "POST" }, { H1_M_HEAD, H1_M_POST } },
	[5] = { { "TRACE", "PATCH" }, { H1_M_TRACE, H1_M_PATCH } },
	[6] = { { "DELETE" }, { H1_M_DELETE } },
	[7] = { { "CONNECT", "OPTIONS" }, { H1_M_CONNECT, H1_M_OPTIONS } },
};

/* Field names are case-insensitive (RFC 9110 5.1). */
static const struct h1_names h1_hdr_names[18] = {
	[2] = { { "te" }, { H1_H_TE } },
	[4] = { { "host" }, { H1_H_HOST } },
	[6] = { { "expect" }, { H1_H_EXPECT } },
	[7] = { { "upgrade", "trailer" }, { H1_H_UPGRADE, H1_H_TRAILER } },
	[10] = { { "connection", "keep-alive" }, { H1_H_CONNECTION, H1_H_KEEP_ALIVE } },
	[14] = { { "content-length" }, { H1_H_CONTENT_LENGTH } },
	[16] = { { "proxy-connection" }, { H1_H_PROXY_CONNECTION } },
	[17] = { { "transfer-encoding" }, { H1_H_TRANSFER_ENCODING } },
};

/* The id of the name s[0..len) in t (n entries), or 0; icase: compare ignoring ASCII case. */
static uint8_t
h1_name_id(const struct h1_names *t, uint32_t n, const uint8_t *s, uint32_t len, int icase)
{
	unsigned k;

	if (len >= n)
		return 0;
	for (k = 0; k < 2 && t[len].s[k]; k++)
		if ((icase ? strncasecmp((const char *)s, t[len].s[k], len) :
		    memcmp(s, t[len].s[k], len)) == 0)
			return t[len].id[k];
	return 0;
}

#define h1_method_id(s, len) \
	h1_name_id(h1_method_names, RE_ARRAY_SIZE(h1_method_names), s, len, 0)
#define h1_hdr_id(s, len) \
	h1_name_id(h1_hdr_names, RE_ARRAY_SIZE(h1_hdr_names), s, len, 1)

static int
h1_ieq(const uint8_t *s, uint32_t len, const char *lit, size_t lit_len)
{
	return len == lit_len && strncasecmp((const char *)s, lit, lit_len) == 0;
}

/*
 * Next token of a comma-separated list (RFC 9110 5.6.1) in p[*pi..end): skips OWS and
 * empty elements. Returns 1 and the token, 0 at the end, -1 (with *pi at the offending
 * byte) when an element is not a single token.
 */
static int
h1_list_next(const uint8_t *p, uint32_t *pi, uint32_t end, struct h1_span *tok)
{
	uint32_t i = *pi, s;

	for (;;) {
		while (i < end && IS_WS(p[i]))
			i++;
		if (i == end) {
			*pi = i;
			return 0;
		}
		if (p[i] != ',')
			break;
		i++;
	}
	s = i;
	while (i < end && IS(p[i], C_TCHAR))
		i++;
	if (i == s)
		goto bad;
	tok->off = s;
	tok->len = i - s;
	while (i < end && IS_WS(p[i]))
		i++;
	if (i < end) {
		if (p[i] != ',')
			goto bad;
		i++;
	}
	*pi = i;
	return 1;
bad:
	*pi = i;
	return -1;
}

/* "HTTP/1.0" -> 0, "HTTP/1.1" -> 1, other HTTP/d.d -> -505, anything else -> -400. */
static int
h1_version(const uint8_t *v, uint32_t len)
{
	if (len != 8 || memcmp(v, "HTTP/", 5) != 0 || !IS(v[5], C_DIGIT) || v[6] != '.'
	    || !IS(v[7], C_DIGIT))
		return -400;
	if (v[5] == '1' && (v[7] == '0' || v[7] == '1'))
		return v[7] - '0';
	return -505;
}

/* host [":" port]; the port, when present, is 1-5 digits. */
static int
h1_authority_ok(const uint8_t *s, uint32_t len, int need_port)
{
	uint32_t i, colon = len;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (!IS(s[i], C_HOST))
			return 0;
		if (s[i] == ':')
			colon = i;
		else if (s[i] == ']')
			colon = len;	/* ':' inside an IPv6 literal is not the port */
	}
	if (colon == len)
		return !need_port;
	if (colon == 0 || len - colon - 1 > 5 || (need_port && len - colon - 1 == 0))
		return 0;
	for (i = colon + 1; i < len; i++)
		if (!IS(s[i], C_DIGIT))
			return 0;
	return 1;
}

static int
h1_check_target(struct h1_msg *m, const uint8_t *p)
{
	const uint8_t *t = p + m->target.off;
	uint32_t len = m->target.len, i, a;

	if (m->method == H1_M_CONNECT) {
		/* authority-form, and only for CONNECT (RFC 9112 3.2.3) */
		if (!h1_authority_ok(t, len, 1))
			return h1_fail(m, 400, "CONNECT needs authority-form host:port",
			    m->target.off);
		m->target_form = H1_TF_AUTHORITY;
		m->abs_host = m->target;
		return 0;
	}
	if (t[0] == '/') {
		m->target_form = H1_TF_ORIGIN;
		return 0;
	}
	if (len == 1 && t[0] == '*') {
		if (m->method != H1_M_OPTIONS)
			return h1_fail(m, 400, "asterisk-form is only for OPTIONS", m->target.off);
		m->target_form = H1_TF_ASTERISK;
		return 0;
	}
	/* absolute-form; we only proxy http and https, and refuse userinfo ('@' is not C_HOST) */
	if (len > 7 && strncasecmp((const char *)t, "http://", 7) == 0)
		i = 7;
	else if (len > 8 && strncasecmp((const char *)t, "https://", 8) == 0)
		i = 8;
	else
		return h1_fail(m, 400, "invalid request-target", m->target.off);
	a = i;
	while (i < len && t[i] != '/' && t[i] != '?' && t[i] != '#')
		i++;
	if (!h1_authority_ok(t + a, i - a, 0))
		return h1_fail(m, 400, "invalid authority in absolute-form", m->target.off + a);
	m->target_form = H1_TF_ABSOLUTE;
	m->abs_host.off = m->target.off + a;
	m->abs_host.len = i - a;
	m->abs_path.off = m->target.off + i;
	m->abs_path.len = len - i;
	return 0;
}

/* Content-Length: 1*DIGIT, or a list of identical values (RFC 9110 8.6), <= INT64_MAX. */
static int
h1_content_length(struct h1_msg *m, const uint8_t *p, const struct h1_header *h)
{
	uint32_t i = h->value.off, end = h->value.off + h->value.len, k;
	struct h1_span tok;
	uint64_t v;
	int n = 0, rc;

	while ((rc = h1_list_next(p, &i, end, &tok)) > 0) {
		v = 0;
		for (k = tok.off; k < tok.off + tok.len; k++) {
			if (!IS(p[k], C_DIGIT))
				return h1_fail(m, 400, "invalid Content-Length", k);
			if (v > (UINT64_C(0x7fffffffffffffff) - (uint64_t)(p[k] - '0')) / 10)
				return h1_fail(m, 400, "Content-Length overflow", k);
			v = v * 10 + (uint64_t)(p[k] - '0');
		}
		if ((m->flags & H1_MF_HAS_CL) && v != m->content_length)
			return h1_fail(m, 400, "conflicting Content-Length values", tok.off);
		m->content_length = v;
		m->flags |= H1_MF_HAS_CL;
		n++;
	}
	if (rc < 0)
		return h1_fail(m, 400, "invalid Content-Length", i);
	if (n == 0)
		return h1_fail(m, 400, "empty Content-Length", h->value.off);
	return 0;
}

/* Transfer-Encoding: records the codings; the verdict waits for the end of the head. */
static int
h1_transfer_encoding(struct h1_msg *m, const uint8_t *p, const struct h1_header *h)
{
	uint32_t i = h->value.off, end = h->value.off + h->value.len;
	struct h1_span tok;
	int n = 0, rc;

	m->flags |= H1_MF_HAS_TE;
	while ((rc = h1_list_next(p, &i, end, &tok)) > 0) {
		n++;
		if (h1_ieq(p + tok.off, tok.len, "chunked", 7)) {
			/* RFC 9112 6.1: chunked MUST NOT be applied twice */
			if (m->te_chunked)
				return h1_fail(m, 400, "chunked applied twice", tok.off);
			m->te_chunked = 1;
			m->te_last_chunked = 1;
		} else {
			m->te_other = 1;
			m->te_last_chunked = 0;
		}
	}
	/* parameters (";q=") or garbage: no coding we accept takes parameters */
	if (rc < 0)
		return h1_fail(m, 400, "invalid Transfer-Encoding", i);
	if (n == 0)
		return h1_fail(m, 400, "empty Transfer-Encoding", h->value.off);
	return 0;
}

static int
h1_connection(struct h1_msg *m, const uint8_t *p, const struct h1_header *h)
{
	uint32_t i = h->value.off, end = h->value.off + h->value.len;
	struct h1_span tok;
	int rc;

	while ((rc = h1_list_next(p, &i, end, &tok)) > 0) {
		if (h1_ieq(p + tok.off, tok.len, "close", 5))
			m->flags |= H1_MF_CONN_CLOSE;
		else if (h1_ieq(p + tok.off, tok.len, "keep-alive", 10))
			m->flags |= H1_MF_CONN_KEEPALIVE;
		else if (h1_ieq(p + tok.off, tok.len, "upgrade", 7))
			m->flags |= H1_MF_CONN_UPGRADE;
		else {
			/* bounded so marking named fields stays O(fields * 16) */
			if (m->nconn == H1_MAX_CONN_NAMES)
				return h1_fail(m, 400, "too many Connection options", tok.off);
			m->conn_names[m->nconn++] = tok;
		}
	}
	if (rc < 0)
		return h1_fail(m, 400, "invalid Connection", i);
	return 0;
}

/* A complete field line h (not yet counted in nhdr): classify and check it. */
static int
h1_field_done(struct h1_msg *m, const uint8_t *p, struct h1_header *h)
{
	uint32_t k;

	h->flags = 0;
	h->id = h1_hdr_id(p + h->name.off, h->name.len);
	switch (h->id) {
	case H1_H_HOST:
		if (m->is_response)
			break;
		if (m->flags & H1_MF_HAS_HOST)
			return h1_fail(m, 400, "duplicate Host", h->name.off);
		/* the router keys on Host: refuse anything that is not a plain host[:port] */
		if (!h1_authority_ok(p + h->value.off, h->value.len, 0)) {
			for (k = h->value.off; k < h->value.off + h->value.len; k++)
				if (!IS(p[k], C_HOST))
					break;
			return h1_fail(m, 400, "invalid Host", k);
		}
		m->flags |= H1_MF_HAS_HOST;
		m->host_idx = (int16_t)m->nhdr;
		break;
	case H1_H_CONTENT_LENGTH:
		h->flags = H1_HF_FRAMING;
		return h1_content_length(m, p, h);
	case H1_H_TRANSFER_ENCODING:
		h->flags = H1_HF_FRAMING;
		return h1_transfer_encoding(m, p, h);
	case H1_H_CONNECTION:
		h->flags = H1_HF_HOP;
		return h1_connection(m, p, h);
	case H1_H_KEEP_ALIVE:
	case H1_H_PROXY_CONNECTION:
	case H1_H_TE:
	case H1_H_TRAILER:
		h->flags = H1_HF_HOP;
		break;
	case H1_H_UPGRADE:
		h->flags = H1_HF_UPGRADE;
		m->flags |= H1_MF_UPGRADE;
		break;
	case H1_H_EXPECT:
		if (!m->is_response && h1_ieq(p + h->value.off, h->value.len, "100-continue", 12))
			m->flags |= H1_MF_EXPECT_CONTINUE;
		break;
	}
	return 0;
}

static uint32_t
h1_first_off(const struct h1_msg *m, uint8_t id, uint32_t dflt)
{
	unsigned i;

	for (i = 0; i < m->nhdr; i++)
		if (m->hdr[i].id == id)
			return m->hdr[i].value.off;
	return dflt;
}

/* Whole-head checks (framing, Host) and hop-by-hop marking; the head ends at m->head_len. */
static int
h1_head_done(struct h1_msg *m, const uint8_t *p)
{
	uint32_t te_off, end_off = m->head_len - 2;
	unsigned i, j;

	if (!m->is_response && (m->flags & H1_MF_VER11) && !(m->flags & H1_MF_HAS_HOST))
		return h1_fail(m, 400, "missing Host", end_off);
	if (m->flags & H1_MF_HAS_TE) {
		te_off = h1_first_off(m, H1_H_TRANSFER_ENCODING, end_off);
		/* RFC 9112 6.1: TE in HTTP/1.0 means the framing is faulty */
		if (!(m->flags & H1_MF_VER11))
			return h1_fail(m, 400, "Transfer-Encoding in HTTP/1.0", te_off);
		/* smuggling: we never pick one of two framings */
		if (m->flags & H1_MF_HAS_CL)
			return h1_fail(m, 400, "both Content-Length and Transfer-Encoding", te_off);
		if (m->is_response) {
			/* not ending in chunked: close-delimited (RFC 9112 6.3 rule 4) */
			if (m->te_last_chunked)
				m->flags |= H1_MF_CHUNKED;
		} else {
			if (!m->te_last_chunked)
				return h1_fail(m, 400, "chunked is not the final transfer coding",
				    te_off);
			if (m->te_other)
				return h1_fail(m, 501, "unsupported transfer coding", te_off);
			m->flags |= H1_MF_CHUNKED;
		}
	}
	for (i = 0; i < m->nconn; i++) {
		const struct h1_span *c = &m->conn_names[i];

		for (j = 0; j < m->nhdr; j++) {
			struct h1_header *h = &m->hdr[j];

			/* a client must not be able to make us drop routing or framing fields */
			if (h->id == H1_H_HOST || h->id == H1_H_CONTENT_LENGTH
			    || h->id == H1_H_TRANSFER_ENCODING)
				continue;
			if (h->name.len == c->len && strncasecmp((const char *)p + h->name.off,
			    (const char *)p + c->off, c->len) == 0)
				h->flags |= H1_HF_HOP;
		}
	}
	return 0;
}

static int
h1_fail_limit(struct h1_msg *m)
{
	/*
	 * RFC 9112 3: a method longer than any we implement is 501, a target longer than we
	 * parse is 414. The version is 8 bytes, so a line that overflows past the target was
	 * made long by the target. Endless empty lines before the line are just a bad request.
	 */
	if (!m->is_response && m->state <= H1_S_START_LF)
		return h1_fail(m, 400, "too many empty lines before the request line",
		    m->limit);
	if (!m->is_response && m->state == H1_S_METHOD)
		return h1_fail(m, 501, "method too long", m->limit);
	if (m->state < H1_S_FIELD_START)
		return h1_fail(m, 414, m->is_response ? "status line too long" :
		    "request line too long", m->limit);
	if (m->nhdr == H1_MAX_FIELDS && m->state == H1_S_FIELD_START)
		return h1_fail(m, 431, "too many header fields", m->limit);
	return h1_fail(m, 431, "header section too large", m->limit);
}

/*
 * The steps of h1_parse_head(), one per phase. Each takes the bytes p[*pi..end) in its states,
 * advances *pi and returns 0 to go on, a negative status on error (h1_fail) or, at the end of
 * the head, its length. A token loop that reaches end returns 0 with *pi == end.
 */

/* Start line up to the HTTP-version: leading empty lines, method, request-target. */
static int
h1_start_line(struct h1_msg *m, const uint8_t *p, uint32_t *pi, uint32_t end)
{
	uint32_t i = *pi;
	int rc;

	switch (m->state) {
	case H1_S_START:
		/* RFC 9112 2.2: ignore empty lines before the start line (CRLF only) */
		if (p[i] == '\r') {
			m->state = H1_S_START_LF;
			i++;
			break;
		}
		m->tok = i;
		if (m->is_response) {
			m->state = H1_S_RS_VERSION;
			break;
		}
		if (!IS(p[i], C_TCHAR))
			return h1_fail(m, 400, h1_eol_reason(p[i], "invalid method"), i);
		m->state = H1_S_METHOD;
		break;

	case H1_S_START_LF:
		if (p[i] != '\n')
			return h1_fail(m, 400, "bare CR", i);
		m->state = H1_S_START;
		i++;
		break;

	case H1_S_METHOD:
		while (i < end && IS(p[i], C_TCHAR))
			i++;
		if (i == end)
			break;
		if (p[i] != ' ')
			return h1_fail(m, 400, h1_eol_reason(p[i], "invalid method"), i);
		m->method_s.off = m->tok;
		m->method_s.len = i - m->tok;
		m->method = h1_method_id(p + m->tok, i - m->tok);
		m->tok = ++i;
		m->state = H1_S_TARGET;
		break;

	default:	/* H1_S_TARGET */
		while (i < end && IS(p[i], C_VCHAR))
			i++;
		if (i == end)
			break;
		if (p[i] != ' ' || i == m->tok)
			return h1_fail(m, 400, h1_eol_reason(p[i], "invalid request-target"),
			    i);
		m->target.off = m->tok;
		m->target.len = i - m->tok;
		if ((rc = h1_check_target(m, p)) < 0)
			return rc;
		m->tok = ++i;
		m->state = H1_S_RQ_VERSION;
		break;
	}
	*pi = i;
	return 0;
}

/* Start line from the HTTP-version on: version, status code, reason phrase, final LF. */
static int
h1_version_line(struct h1_msg *m, const uint8_t *p, uint32_t *pi, uint32_t end)
{
	uint32_t i = *pi;
	int rc;

	switch (m->state) {
	case H1_S_RQ_VERSION:
	case H1_S_RS_VERSION:
		for (; i < end && IS(p[i], C_VCHAR); i++)
			if (i - m->tok == 8)
				return h1_fail(m, 400, "invalid HTTP version", i);
		if (i == end)
			break;
		if (p[i] != (m->state == H1_S_RQ_VERSION ? '\r' : ' '))
			return h1_fail(m, 400, h1_eol_reason(p[i], "invalid HTTP version"),
			    i);
		rc = h1_version(p + m->tok, i - m->tok);
		if (rc < 0)
			return h1_fail(m, (unsigned)-rc, rc == -505 ?
			    "unsupported HTTP version" : "invalid HTTP version", m->tok);
		if (rc == 1)
			m->flags |= H1_MF_VER11;
		m->version.off = m->tok;
		m->version.len = i - m->tok;
		m->tok = ++i;
		m->state = m->state == H1_S_RQ_VERSION ? H1_S_LINE_LF : H1_S_RS_STATUS;
		break;

	case H1_S_RS_STATUS:
		for (; i < end && i - m->tok < 3; i++)
			if (!IS(p[i], C_DIGIT))
				return h1_fail(m, 502, "invalid status code", i);
		if (i == end)
			break;
		m->status = (uint16_t)((p[m->tok] - '0') * 100 + (p[m->tok + 1] - '0') * 10
		    + (p[m->tok + 2] - '0'));
		if (m->status < 100 || m->status > 599)
			return h1_fail(m, 502, "invalid status code", m->tok);
		/* "HTTP/1.1 200\r\n" without SP is common enough to accept */
		if (p[i] == ' ') {
			m->tok = ++i;
			m->state = H1_S_RS_REASON;
		} else if (p[i] == '\r') {
			m->reason.off = i;
			m->reason.len = 0;
			i++;
			m->state = H1_S_LINE_LF;
		} else
			return h1_fail(m, 502, h1_eol_reason(p[i], "invalid status line"), i);
		break;

	case H1_S_RS_REASON:
		while (i < end && IS(p[i], C_FIELD))
			i++;
		if (i == end)
			break;
		if (p[i] != '\r')
			return h1_fail(m, 502, h1_eol_reason(p[i], "invalid reason phrase"), i);
		m->reason.off = m->tok;
		m->reason.len = i - m->tok;
		i++;
		m->state = H1_S_LINE_LF;
		break;

	default:	/* H1_S_LINE_LF */
		if (p[i] != '\n')
			return h1_fail(m, 400, "bare CR", i);
		i++;
		m->fields_start = i;
		m->limit = i + H1_MAX_FIELDS_LEN;
		m->state = H1_S_FIELD_START;
		break;
	}
	*pi = i;
	return 0;
}

/* A field line up to its colon, or the CR of the empty line that ends the head. */
static int
h1_field_name(struct h1_msg *m, const uint8_t *p, uint32_t *pi, uint32_t end)
{
	uint32_t i = *pi;

	if (m->state == H1_S_FIELD_START) {
		if (p[i] == '\r') {
			m->state = H1_S_END_LF;
			*pi = i + 1;
			return 0;
		}
		if (!IS(p[i], C_TCHAR)) {
			if (IS_WS(p[i]))
				return h1_fail(m, 400, m->nhdr ? "obs-fold" :
				    "whitespace before first field", i);
			return h1_fail(m, 400, h1_eol_reason(p[i], "invalid field name"), i);
		}
		if (m->nhdr == H1_MAX_FIELDS)
			return h1_fail(m, 431, "too many header fields", i);
		m->hdr[m->nhdr].name.off = i;
		m->tok = i;
		m->state = H1_S_FIELD_NAME;
		/* on into the name: one call per field name, not one per state */
	}
	/* H1_S_FIELD_NAME */
	while (i < end && IS(p[i], C_TCHAR))
		i++;
	*pi = i;
	if (i == end)
		return 0;
	if (p[i] != ':')
		return h1_fail(m, 400, IS_WS(p[i]) ? "whitespace before colon" :
		    h1_eol_reason(p[i], "invalid field name"), i);
	m->hdr[m->nhdr].name.len = i - m->tok;
	*pi = i + 1;
	m->state = H1_S_FIELD_OWS;
	return 0;
}

/* A field value and its line end (the field is then checked), or the head's final LF. */
static int
h1_field_value(struct h1_msg *m, const uint8_t *p, uint32_t *pi, uint32_t end)
{
	struct h1_header *h;
	uint32_t i = *pi, e;
	int rc;

	switch (m->state) {
	case H1_S_FIELD_OWS:
		while (i < end && IS_WS(p[i]))
			i++;
		if (i == end)
			break;
		m->tok = i;
		m->state = H1_S_FIELD_VALUE;
		/* fall through: the value usually follows in the same bytes */
	case H1_S_FIELD_VALUE:
		while (i < end && IS(p[i], C_FIELD))
			i++;
		if (i == end)
			break;
		if (p[i] != '\r')
			return h1_fail(m, 400, h1_eol_reason(p[i],
			    "control character in field value"), i);
		for (e = i; e > m->tok && IS_WS(p[e - 1]); e--)
			;
		h = &m->hdr[m->nhdr];
		h->value.off = m->tok;
		h->value.len = e - m->tok;
		i++;
		m->state = H1_S_FIELD_LF;
		/* fall through */
	case H1_S_FIELD_LF:
		if (i == end)
			break;
		if (p[i] != '\n')
			return h1_fail(m, 400, "bare CR", i);
		i++;
		if ((rc = h1_field_done(m, p, &m->hdr[m->nhdr])) < 0)
			return rc;
		m->nhdr++;
		m->state = H1_S_FIELD_START;
		break;

	case H1_S_END_LF:
		if (p[i] != '\n')
			return h1_fail(m, 400, "bare CR", i);
		i++;
		m->pos = i;
		m->head_len = i;
		if ((rc = h1_head_done(m, p)) < 0)
			return rc;
		m->state = H1_S_DONE;
		return (int)i;

	default:
		return h1_fail(m, 400, "parser state corrupt", i);
	}
	*pi = i;
	return 0;
}

int
h1_parse_head(struct h1_msg *m, const char *buf, size_t len)
{
	const uint8_t *p = (const uint8_t *)buf;
	uint32_t i = m->pos, end;
	int rc;

	if (m->state == H1_S_DONE)
		return (int)m->head_len;
	if (m->state == H1_S_ERROR)
		return -(int)m->err_status;

	while (i < len) {
		if (i >= m->limit)
			return h1_fail_limit(m);
		/* token loops stop at the limit; the check above then fires */
		end = len < m->limit ? (uint32_t)len : m->limit;

		if (m->state < H1_S_RQ_VERSION)
			rc = h1_start_line(m, p, &i, end);
		else if (m->state < H1_S_FIELD_START)
			rc = h1_version_line(m, p, &i, end);
		else if (m->state < H1_S_FIELD_OWS)
			rc = h1_field_name(m, p, &i, end);
		else
			rc = h1_field_value(m, p, &i, end);
		if (rc != 0)
			return rc;
	}
	m->pos = i;
	return 0;
}
