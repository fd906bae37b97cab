#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bench/rb_http.h"

#define RB_MAX_LINE	8192	/* chunk extensions and trailer lines */

/* A space or control byte: it would split the request line or a header line on the wire. */
static int
has_ctl_or_space(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return 1;
	return 0;
}

int
rb_url_parse(struct rb_url *u, const char *s, char *err, size_t errlen)
{
	const char *p, *hend, *pend, *port = NULL;
	size_t hlen;
	long pn;
	char *end;

	memset(u, 0, sizeof(*u));
	u->text = s;
	if (strncasecmp(s, "http://", 7) == 0) {
		p = s + 7;
	} else if (strncasecmp(s, "https://", 8) == 0) {
		p = s + 8;
		u->tls = 1;
	} else {
		snprintf(err, errlen, "%s: only http:// and https:// URLs are supported", s);
		return -1;
	}
	pend = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(pend - p)) != NULL) {
		snprintf(err, errlen, "%s: user information in URLs is not supported", s);
		return -1;
	}
	if (*p == '[') {
		hend = memchr(p, ']', (size_t)(pend - p));
		if (hend == NULL) {
			snprintf(err, errlen, "%s: unterminated IPv6 address", s);
			return -1;
		}
		hlen = (size_t)(hend - p - 1);
		memcpy(u->host, p + 1, hlen < sizeof(u->host) ? hlen : 0);
		hend++;
		if (hend < pend && *hend != ':') {
			snprintf(err, errlen, "%s: junk after IPv6 address", s);
			return -1;
		}
	} else {
		hend = memchr(p, ':', (size_t)(pend - p));
		if (hend == NULL)
			hend = pend;
		hlen = (size_t)(hend - p);
		if (hlen >= sizeof(u->host)) {
			snprintf(err, errlen, "%s: host name too long", s);
			return -1;
		}
		memcpy(u->host, p, hlen);
	}
	if (u->host[0] == '\0') {
		snprintf(err, errlen, "%s: no host", s);
		return -1;
	}
	if (hend < pend && *hend == ':')
		port = hend + 1;
	if (port != NULL && port < pend) {
		errno = 0;
		pn = strtol(port, &end, 10);
		if (end != pend || pn < 1 || pn > 65535 || errno != 0) {
			snprintf(err, errlen, "%s: bad port", s);
			return -1;
		}
		snprintf(u->port, sizeof(u->port), "%ld", pn);
	} else {
		strcpy(u->port, u->tls ? "443" : "80");
	}
	/* Host header: keep the authority as written (with a non-default port), minus userinfo. */
	if ((size_t)(pend - p) >= sizeof(u->authority)) {
		snprintf(err, errlen, "%s: authority too long", s);
		return -1;
	}
	memcpy(u->authority, p, (size_t)(pend - p));
	if (port != NULL && port == pend)	/* "host:" with an empty port */
		u->authority[pend - p - 1] = '\0';
	if (has_ctl_or_space(u->authority)) {
		snprintf(err, errlen, "%s: space or control character in host", s);
		return -1;
	}
	/* The fragment never goes on the wire. */
	hlen = strcspn(pend, "#");
	if (hlen + 2 > sizeof(u->path)) {
		snprintf(err, errlen, "%s: path too long", s);
		return -1;
	}
	if (hlen == 0 || *pend == '?')
		u->path[0] = '/';
	memcpy(u->path + strlen(u->path), pend, hlen);
	if (has_ctl_or_space(u->path)) {
		snprintf(err, errlen, "%s: space or control character in path", s);
		return -1;
	}
	return 0;
}

static int
hdr_is(const char *line, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(line, name, n) == 0 && line[n] == ':';
}

int
rb_req_build(char **out, size_t *outlen, const struct rb_url *u, const char *method,
    char *const *hdrs, int nhdrs, const char *body, size_t bodylen, int conn_close)
{
	size_t cap, len;
	char *b;
	int i, have_host = 0, have_conn = 0, have_len = 0;

	cap = strlen(method) + strlen(u->path) + strlen(u->authority) + 128 + bodylen;
	for (i = 0; i < nhdrs; i++) {
		cap += strlen(hdrs[i]) + 2;
		have_host |= hdr_is(hdrs[i], "Host");
		have_conn |= hdr_is(hdrs[i], "Connection");
		have_len |= hdr_is(hdrs[i], "Content-Length") || hdr_is(hdrs[i], "Transfer-Encoding");
	}
	b = malloc(cap);
	if (b == NULL)
		return -1;
	len = (size_t)sprintf(b, "%s %s HTTP/1.1\r\n", method, u->path);
	if (!have_host)
		len += (size_t)sprintf(b + len, "Host: %s\r\n", u->authority);
	for (i = 0; i < nhdrs; i++)
		len += (size_t)sprintf(b + len, "%s\r\n", hdrs[i]);
	if (!have_len && (body != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0))
		len += (size_t)sprintf(b + len, "Content-Length: %zu\r\n", bodylen);
	if (conn_close && !have_conn)
		len += (size_t)sprintf(b + len, "Connection: close\r\n");
	len += (size_t)sprintf(b + len, "\r\n");
	if (bodylen > 0)
		memcpy(b + len, body, bodylen);
	*out = b;
	*outlen = len + bodylen;
	return 0;
}

void
rb_resp_init(struct rb_resp *r, int req_head)
{
	memset(r, 0, sizeof(*r));
	r->req_head = req_head;
}

/* Case-insensitive: does the comma-separated list v[0..n) contain token t? */
static int
has_token(const char *v, size_t n, const char *t)
{
	size_t tl = strlen(t), i = 0, s, e;

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(v + s, t, tl) == 0)
			return 1;
	}
	return 0;
}

/* RFC 9110 tchar: the only bytes allowed in a field name. */
static int
is_token(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && strchr("!#$%&'*+-.^_`|~", c) == NULL)
			return 0;
	}
	return n > 0;
}

/* Case-insensitive: is the last element of the comma-separated list v[0..n) token t? */
static int
last_token_is(const char *v, size_t n, const char *t)
{
	size_t tl = strlen(t), s = n;

	while (s > 0 && v[s - 1] != ',')
		s--;
	while (s < n && (v[s] == ' ' || v[s] == '\t'))
		s++;
	return n - s == tl && strncasecmp(v + s, t, tl) == 0;
}

/* Parses a complete head buf[0..len) (ending in CRLFCRLF) and picks the body framing. */
static int
parse_head(struct rb_resp *r, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len, *eol, *colon, *v;
	int minor, chunked = 0, te = 0, have_len = 0, conn_close = 0, conn_ka = 0;
	uint64_t clen = 0, x;
	size_t vlen;

	if (len < 14 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
		return RB_RESP_EPARSE;
	minor = p[7] - '0';
	if (!isdigit((unsigned char)p[9]) || !isdigit((unsigned char)p[10]) ||
	    !isdigit((unsigned char)p[11]) || (p[12] != ' ' && p[12] != '\r'))
		return RB_RESP_EPARSE;
	r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if (r->status < 100)
		return RB_RESP_EPARSE;
	eol = memchr(p, '\n', len);
	p = eol + 1;
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL || eol == p || eol[-1] != '\r')
			return RB_RESP_EPARSE;
		if (eol - p == 1)	/* the empty line */
			break;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL || colon == p || !is_token(p, (size_t)(colon - p)))
			return RB_RESP_EPARSE;	/* also obs-fold and "Name :" (RFC 9112 5.1) */
		v = colon + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		vlen = (size_t)(eol - 1 - v);
		while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		if (colon - p == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
			if (vlen == 0 || vlen > 18)
				return RB_RESP_EPARSE;
			for (x = 0; vlen > 0; v++, vlen--) {
				if (!isdigit((unsigned char)*v))
					return RB_RESP_EPARSE;
				x = x * 10 + (uint64_t)(*v - '0');
			}
			if (have_len && x != clen)
				return RB_RESP_EPARSE;
			clen = x;
			have_len = 1;
		} else if (colon - p == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
			te = 1;
			/* Only a final "chunked" frames the body; anything else runs to close. */
			chunked = last_token_is(v, vlen, "chunked");
		} else if (colon - p == 10 && strncasecmp(p, "Connection", 10) == 0) {
			conn_close |= has_token(v, vlen, "close");
			conn_ka |= has_token(v, vlen, "keep-alive");
		}
		p = eol + 1;
	}
	r->keepalive = minor == 1 ? !conn_close : conn_ka && !conn_close;
	if (r->req_head || r->status == 204 || r->status == 304 || r->status / 100 == 1) {
		r->state = RB_R_DONE;
	} else if (te && chunked) {
		r->state = RB_R_CHUNK_SIZE;
		r->remaining = 0;
		r->line_len = 0;
	} else if (te) {
		r->state = RB_R_CLOSE;
		r->keepalive = 0;
	} else if (have_len) {
		r->remaining = clen;
		r->state = clen ? RB_R_LEN : RB_R_DONE;
	} else {
		r->state = RB_R_CLOSE;
		r->keepalive = 0;
	}
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Control bytes other than HTAB: a bare LF or NUL inside an extension or trailer line. */
static int
is_ctl(int c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* One step of the chunked framing; returns bytes consumed (>= 0) or RB_RESP_EPARSE. */
static long
chunk_step(struct rb_resp *r, const char *p, size_t n)
{
	int c = (unsigned char)*p, h;
	size_t take;

	switch (r->state) {
	case RB_R_CHUNK_DATA:
		take = n < r->remaining ? n : (size_t)r->remaining;
		r->remaining -= take;
		r->body_bytes += take;
		if (r->remaining == 0)
			r->state = RB_R_CHUNK_DATA_CR;
		return (long)take;
	case RB_R_CHUNK_SIZE:
		h = hexval(c);
		if (h >= 0) {
			if (r->remaining >> 56)
				return RB_RESP_EPARSE;
			r->remaining = r->remaining * 16 + (uint64_t)h;
			r->line_len++;
		} else if (r->line_len == 0) {
			return RB_RESP_EPARSE;
		} else if (c == ';' || c == ' ' || c == '\t') {
			r->state = RB_R_CHUNK_EXT;
		} else if (c == '\r') {
			r->state = RB_R_CHUNK_SIZE_LF;
		} else {
			return RB_RESP_EPARSE;
		}
		return 1;
	case RB_R_CHUNK_EXT:
		if (c == '\r')
			r->state = RB_R_CHUNK_SIZE_LF;
		else if (is_ctl(c) || ++r->line_len > RB_MAX_LINE)
			return RB_RESP_EPARSE;
		return 1;
	case RB_R_CHUNK_SIZE_LF:
		if (c != '\n')
			return RB_RESP_EPARSE;
		r->line_len = 0;
		r->state = r->remaining ? RB_R_CHUNK_DATA : RB_R_TRAILER;
		return 1;
	case RB_R_CHUNK_DATA_CR:
		if (c != '\r')
			return RB_RESP_EPARSE;
		r->state = RB_R_CHUNK_DATA_LF;
		return 1;
	case RB_R_CHUNK_DATA_LF:
		if (c != '\n')
			return RB_RESP_EPARSE;
		r->state = RB_R_CHUNK_SIZE;
		r->line_len = 0;
		return 1;
	case RB_R_TRAILER:
		if (c == '\r')
			r->state = r->line_len == 0 ? RB_R_TRAILER_END_LF : RB_R_TRAILER_LF;
		else if (is_ctl(c) || ++r->line_len > RB_MAX_LINE)
			return RB_RESP_EPARSE;
		return 1;
	case RB_R_TRAILER_LF:
		if (c != '\n')
			return RB_RESP_EPARSE;
		r->line_len = 0;
		r->state = RB_R_TRAILER;
		return 1;
	case RB_R_TRAILER_END_LF:
		if (c != '\n')
			return RB_RESP_EPARSE;
		r->state = RB_R_DONE;
		return 1;
	default:
		return RB_RESP_EPARSE;
	}
}

static int
feed_head(struct rb_resp *r, const char *buf, size_t len, size_t *used)
{
	size_t from = r->scan > 3 ? r->scan - 3 : 0, i;
	const char *e = NULL;

	for (i = from; i + 3 < len; i++) {
		if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
			e = buf + i + 4;
			break;
		}
	}
	if (e == NULL) {
		r->scan = len;
		return 0;
	}
	*used = (size_t)(e - buf);
	if (parse_head(r, buf, *used) < 0)
		return RB_RESP_EPARSE;
	/* 1xx interim responses (100 Continue, 103 Early Hints) precede the real one; 101 is not ours. */
	if (r->status / 100 == 1) {
		if (r->status == 101)
			return RB_RESP_EPARSE;
		rb_resp_init(r, r->req_head);
		r->seen = 1;
	}
	r->scan = 0;
	return 1;
}

int
rb_resp_feed(struct rb_resp *r, const char *buf, size_t len, size_t *used)
{
	size_t off = 0, n;
	long step;
	int ret;

	*used = 0;
	if (len > 0)
		r->seen = 1;
	/* Bounded: every pass consumes at least one byte or returns. */
	while (off < len) {
		switch (r->state) {
		case RB_R_HEAD:
			ret = feed_head(r, buf + off, len - off, &n);
			if (ret <= 0) {
				*used = off;
				return ret;
			}
			off += n;
			break;
		case RB_R_LEN:
			n = len - off < r->remaining ? len - off : (size_t)r->remaining;
			r->remaining -= n;
			r->body_bytes += n;
			off += n;
			if (r->remaining == 0)
				r->state = RB_R_DONE;
			break;
		case RB_R_CLOSE:
			r->body_bytes += len - off;
			off = len;
			break;
		case RB_R_DONE:
			*used = off;
			return 1;
		default:
			step = chunk_step(r, buf + off, len - off);
			if (step < 0)
				return RB_RESP_EPARSE;
			off += (size_t)step;
			break;
		}
	}
	*used = off;
	return r->state == RB_R_DONE ? 1 : 0;
}

int
rb_resp_eof(struct rb_resp *r)
{
	if (r->state == RB_R_DONE || r->state == RB_R_CLOSE) {
		r->state = RB_R_DONE;
		return 1;
	}
	return r->seen ? RB_RESP_ESHORT : RB_RESP_EEMPTY;
}

int64_t
rb_parse_duration(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || v < 0)
		return -1;
	if (*end == '\0' || strcmp(end, "s") == 0)
		v *= 1e9;
	else if (strcmp(end, "ms") == 0)
		v *= 1e6;
	else if (strcmp(end, "us") == 0)
		v *= 1e3;
	else if (strcmp(end, "m") == 0)
		v *= 60e9;
	else if (strcmp(end, "h") == 0)
		v *= 3600e9;
	else
		return -1;
	if (!(v <= 9e18))	/* also NaN ("nan", "nanms"), whose cast would be undefined */
		return -1;
	return (int64_t)v;
}
