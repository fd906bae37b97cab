/*
 * Decisions on a parsed message (body framing, keep-alive, field lookup) and the trailer
 * section of a chunked body: which fields are never forwarded as trailers, and the filter
 * that drops them (core/http/h1.h has the contracts; docs/http1.md why). Pure: no
 * allocation; the parser itself is core/http/h1.c.
 */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "core/http/h1.h"

/* RFC 9110 5.6.2 tchar */
static int
h1_tchar(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

enum h1_body
h1_body_framing(const struct h1_msg *m, int is_response, int req_head, unsigned status)
{
	if (!is_response) {
		/* RFC 9112 6.3 rules 4-6: h1_parse_head already refused every ambiguous case */
		if (m->flags & H1_MF_CHUNKED)
			return H1_BODY_CHUNKED;
		if (m->flags & H1_MF_HAS_CL)
			return H1_BODY_LENGTH;
		return H1_BODY_NONE;
	}
	if (req_head || (status >= 100 && status < 200) || status == 204 || status == 304)
		return H1_BODY_NONE;
	if (m->flags & H1_MF_CHUNKED)
		return H1_BODY_CHUNKED;
	if (m->flags & H1_MF_HAS_TE)
		return H1_BODY_CLOSE;
	if (m->flags & H1_MF_HAS_CL)
		return H1_BODY_LENGTH;
	return H1_BODY_CLOSE;
}

int
h1_keepalive(const struct h1_msg *m)
{
	if (m->flags & H1_MF_CONN_CLOSE)
		return 0;
	if (m->flags & H1_MF_VER11)
		return 1;
	return (m->flags & H1_MF_CONN_KEEPALIVE) ? 1 : 0;
}

int
h1_find(const struct h1_msg *m, const char *buf, const char *name, size_t name_len)
{
	unsigned i;

	for (i = 0; i < m->nhdr; i++)
		if (m->hdr[i].name.len == name_len
		    && strncasecmp(buf + m->hdr[i].name.off, name, name_len) == 0)
			return (int)i;
	return -1;
}

/*
 * Fields never forwarded in a trailer section (RFC 9110 6.5.1: "message framing, routing,
 * authentication, request modifiers, response controls, or content format" cannot be
 * processed after the content, and a recipient that merges trailers into the header
 * section would trust them there), plus the fields the proxy itself writes into the
 * request head. Sorted by nothing: the list is short and looked up by length first.
 */
static const char *const h1_trailer_deny[] = {
	/* framing and connection management (RFC 9112 6, 7; RFC 9110 7.6.1) */
	"Content-Length", "Transfer-Encoding", "Trailer", "TE", "Connection", "Keep-Alive",
	"Proxy-Connection", "Upgrade",
	/* routing (RFC 9110 7.2, 7.6.2) */
	"Host", "Max-Forwards",
	/* request modifiers: controls, conditionals, negotiation (RFC 9110 10.1, 13, 12.5) */
	"Expect", "Range", "If-Match", "If-None-Match", "If-Modified-Since",
	"If-Unmodified-Since", "If-Range", "Accept", "Accept-Charset", "Accept-Encoding",
	"Accept-Language", "Cache-Control", "Pragma",
	/* authentication and state (RFC 9110 11; RFC 6265) */
	"Authorization", "Proxy-Authorization", "WWW-Authenticate", "Proxy-Authenticate",
	"Authentication-Info", "Proxy-Authentication-Info", "Cookie", "Set-Cookie",
	/* response controls (RFC 9110 10.2; RFC 9111 5) */
	"Age", "Expires", "Date", "Location", "Retry-After", "Vary", "Warning",
	/* content format and processing (RFC 9110 8) */
	"Content-Encoding", "Content-Type", "Content-Range", "Content-Language",
	"Content-Location",
	/* written by the proxy into the forwarded head: a trailer must not forge them */
	"Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
	"X-Forwarded-Port", "X-Real-IP", "Via",
};

int
h1_trailer_forbidden(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(h1_trailer_deny) / sizeof(h1_trailer_deny[0]); i++)
		if (strlen(h1_trailer_deny[i]) == len &&
		    strncasecmp(name, h1_trailer_deny[i], len) == 0)
			return 1;
	return 0;
}

ssize_t
h1_trailer_filter(const char *in, size_t len, char *out, size_t cap)
{
	size_t i = 0, o = 0, line, colon;
	const char *lf;

	if (len > H1_MAX_TRAILERS)
		return -1;
	for (;;) {
		if (len - i < 2)
			return -1;
		if (in[i] == '\r') {
			/* the final CRLF: nothing may follow it */
			if (in[i + 1] != '\n' || i + 2 != len || cap - o < 2)
				return -1;
			memmove(out + o, in + i, 2);
			return (ssize_t)(o + 2);
		}
		lf = memchr(in + i, '\n', len - i);
		if (lf == NULL || lf == in + i || lf[-1] != '\r')
			return -1;
		line = (size_t)(lf - (in + i)) + 1;
		for (colon = 0; colon < line && in[i + colon] != ':'; colon++)
			if (!h1_tchar((uint8_t)in[i + colon]))
				return -1;
		if (colon == 0 || colon == line)
			return -1;
		if (!h1_trailer_forbidden(in + i, colon)) {
			if (cap - o < line)
				return -1;
			/* kept lines only move towards the front: in place is safe */
			memmove(out + o, in + i, line);
			o += line;
		}
		i += line;
	}
}
