/* Pure HTTP/1.1 message building for the proxy (core/http/msg.h). */
#include "core/http/msg.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/http/h1.h"

static size_t
append(char *dst, size_t off, const char *src, size_t n)
{
	memcpy(dst + off, src, n);
	return off + n;
}

/* Writes v in decimal at out (at most 20 digits); returns the length. sprintf() cost ~850
 * instructions here, on every response (bench/cg_per_request). */
static size_t
u64_dec(char *out, uint64_t v)
{
	char t[20];
	size_t n = 0, i;

	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		out[i] = t[n - 1 - i];
	return n;
}

/* Writes the framing field for a relayed body (at most 48 bytes); returns its length. */
static size_t
frame_header(char *out, enum h1_body fr, uint64_t len)
{
	size_t n;

	if (fr == H1_BODY_LENGTH) {
		memcpy(out, "Content-Length: ", 16);
		n = 16 + u64_dec(out + 16, len);
		memcpy(out + n, "\r\n", 2);
		return n + 2;
	}
	if (fr == H1_BODY_CHUNKED) {
		memcpy(out, "Transfer-Encoding: chunked\r\n", 28);
		return 28;
	}
	return 0;
}

bool
msg_hdr_is(const char *buf, const struct h1_header *h, const char *name, size_t len)
{
	return h->name.len == len && strncasecmp(buf + h->name.off, name, len) == 0;
}

/* An X-Forwarded-For field line the request head would forward. */
static bool
is_xff(const struct h1_header *h, const char *buf)
{
	return !(h->flags & H1_HF_HOP) && msg_hdr_is(buf, h, "X-Forwarded-For", 15);
}

/* With xff, like nginx's $proxy_add_x_forwarded_for: the client's X-Forwarded-For lines
 * become one field, their values joined with ", " and the client address last. */
static size_t
xff_lines(char *ob, size_t o, const struct h1_msg *m, const char *buf,
	const struct msg_req_opts *ro)
{
	o = append(ob, o, "X-Forwarded-For: ", 17);
	for (unsigned i = 0; i < m->nhdr; i++) {
		const struct h1_header *h = &m->hdr[i];

		if (!is_xff(h, buf) || h->value.len == 0)
			continue;
		o = append(ob, o, buf + h->value.off, h->value.len);
		o = append(ob, o, ", ", 2);
	}
	o = append(ob, o, ro->peer, ro->peer_len);
	o = append(ob, o, "\r\nX-Forwarded-Proto: ", 21);
	o = append(ob, o, ro->tls ? "https" : "http", ro->tls ? 5 : 4);
	return append(ob, o, "\r\n", 2);
}

/* A request field line that does not go out as it came. */
static bool
req_field_dropped(const struct h1_header *h, const char *buf, const struct msg_req_opts *ro)
{
	if (h->flags & (H1_HF_HOP | H1_HF_FRAMING))
		return true;	/* framing: regenerated from the parsed framing */
	if ((h->flags & H1_HF_UPGRADE) && !ro->upgrade)
		return true;
	/* xff: merged behind the kept fields */
	return ro->xff && (msg_hdr_is(buf, h, "X-Forwarded-Proto", 17) || is_xff(h, buf));
}

/*
 * The result never outgrows the lines it replaces by more than the address and a few bytes:
 * msg_request_cap()'s 256 covers it.
 */
size_t
msg_build_request(char *ob, const struct h1_msg *m, const char *buf,
	const struct msg_req_opts *ro, struct msg_req_info *info)
{
	uint32_t ls = m->method_s.off, le = m->version.off + m->version.len;
	size_t o = 0;

	info->host_off = info->host_len = 0;
	o = append(ob, o, buf + ls, le - ls);
	info->reqline_len = (uint32_t)o;
	o = append(ob, o, "\r\n", 2);
	for (unsigned i = 0; i < m->nhdr; i++) {
		const struct h1_header *h = &m->hdr[i];
		uint32_t end = h->value.off + h->value.len;

		if (req_field_dropped(h, buf, ro))
			continue;
		if (h->id == H1_H_HOST && m->target_form == H1_TF_ABSOLUTE) {
			/* RFC 9112 3.2.2: the target's authority wins; send a Host matching it */
			o = append(ob, o, "Host: ", 6);
			info->host_off = (uint32_t)o;
			info->host_len = m->abs_host.len;
			o = append(ob, o, h1_ptr(buf, m->abs_host), m->abs_host.len);
			o = append(ob, o, "\r\n", 2);
			continue;
		}
		if (h->id == H1_H_HOST) {
			info->host_off = (uint32_t)(o + (h->value.off - h->name.off));
			info->host_len = h->value.len;
		}
		o = append(ob, o, buf + h->name.off, end - h->name.off);
		o = append(ob, o, "\r\n", 2);
	}
	if (ro->upgrade)
		o = append(ob, o, "Connection: upgrade\r\n", 21);
	o += frame_header(ob + o, h1_body_framing(m, 0, 0, 0), m->content_length);
	if (ro->xff)
		o = xff_lines(ob, o, m, buf, ro);
	return append(ob, o, "\r\n", 2);
}

static bool resp_hidden(const char *buf, const struct h1_header *h,
	const struct msg_resp_opts *ro);

/* The "Connection" line of a response head (none for an interim one). */
static size_t
resp_connection(char *rb, size_t o, const struct msg_resp_opts *ro, bool interim)
{
	if (ro->tunnel)
		return append(rb, o, "Connection: upgrade\r\n", 21);
	if (!interim && !ro->cli_ka)
		return append(rb, o, "Connection: close\r\n", 19);
	if (!interim && ro->ver10)
		return append(rb, o, "Connection: keep-alive\r\n", 24);
	return o;
}

size_t
msg_build_response(char *rb, const struct h1_msg *m, const char *buf, uint32_t head_len,
	const struct msg_resp_opts *ro, bool *auth)
{
	unsigned st = m->status;
	bool interim = msg_status_interim(st), tunnel = ro->tunnel, cl_asis, te_asis, hide;
	const char *sl = buf + m->version.off;
	const char *cr = memchr(sl, '\r', head_len - m->version.off);
	size_t o = 0;

	o = append(rb, o, sl, cr ? (size_t)(cr - sl) : 12);
	o = append(rb, o, "\r\n", 2);
	/*
	 * A 304 or an answer to HEAD has no body, but its framing fields describe what a GET
	 * would have carried (RFC 9110 8.6, RFC 9112 6.1): Content-Length passes unmodified
	 * (the first one), Transfer-Encoding too, except to an HTTP/1.0 client (RFC 9112 6.1).
	 * A 204 has neither.
	 */
	cl_asis = !interim && !tunnel && st != 204 && (ro->head_req || st == 304);
	te_asis = cl_asis && !ro->ver10;
	hide = ro->nhide[0] + ro->nhide[1] > 0;
	for (unsigned i = 0; i < m->nhdr; i++) {
		const struct h1_header *h = &m->hdr[i];

		if ((h->flags & H1_HF_HOP) || (hide && resp_hidden(buf, h, ro)))
			continue;
		if ((h->flags & H1_HF_UPGRADE) && !tunnel)
			continue;
		if ((h->flags & H1_HF_FRAMING) && !interim && !tunnel &&
		    !(h->id == H1_H_CONTENT_LENGTH ? cl_asis : te_asis))
			continue;	/* regenerated from the parsed framing */
		if (h->id == H1_H_CONTENT_LENGTH)
			cl_asis = false;	/* only the first */
		if (msg_hdr_is(buf, h, "WWW-Authenticate", 16) &&
		    msg_auth_scheme(h1_ptr(buf, h->value), h->value.len))
			*auth = true;
		o = append(rb, o, buf + h->name.off, h->value.off + h->value.len - h->name.off);
		o = append(rb, o, "\r\n", 2);
	}
	if (ro->extra_len > 0)
		o = append(rb, o, ro->extra, ro->extra_len);
	if (!interim && !tunnel && !ro->dechunk)
		o += frame_header(rb + o, ro->fr, m->content_length);
	o = resp_connection(rb, o, ro, interim);
	return append(rb, o, "\r\n", 2);
}

/* Is field h one of the names ro hides (hide_response_header)? */
static bool
resp_hidden(const char *buf, const struct h1_header *h, const struct msg_resp_opts *ro)
{
	for (int l = 0; l < 2; l++)
		for (int i = 0; i < ro->nhide[l]; i++)
			if (msg_hdr_is(buf, h, ro->hide[l][i], strlen(ro->hide[l][i])))
				return true;
	return false;
}

/*
 * A WWW-Authenticate value may list several challenges (RFC 9110 11.6.1: "Negotiate, NTLM",
 * "Basic realm=x, NTLM"): a scheme is a token at the start of the value or of a
 * comma-separated element, followed by the end, whitespace or a comma (an auth-param token
 * is followed by '=').
 */
bool
msg_auth_scheme(const char *v, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t t, k = 0;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		t = i;
		while (i < n && v[i] != ' ' && v[i] != '\t' && v[i] != ',' && v[i] != '=')
			i++;
		if (i - t == 4 && strncasecmp(v + t, "NTLM", 4) == 0)
			k = 4;
		else if (i - t == 9 && strncasecmp(v + t, "Negotiate", 9) == 0)
			k = 9;
		if (k > 0 && (i == n || v[i] != '='))
			return true;
		/* the rest of this element: its token68 or auth-params, up to the next comma */
		while (i < n && v[i] != ',') {
			if (v[i] == '"') {
				for (i++; i < n && v[i] != '"'; i++)
					if (v[i] == '\\')
						i++;
			}
			i++;
		}
	}
	return false;
}

const char *
msg_status_text(unsigned st)
{
	switch (st) {
	case 301: return "Moved Permanently";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 421: return "Misdirected Request";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

size_t
msg_build_simple(char *out, size_t cap, unsigned status, const char *extra, bool keep,
	bool head_req)
{
	return msg_build_text(out, cap, status, extra, NULL, 0, keep, head_req);
}

size_t
msg_build_text(char *out, size_t cap, unsigned status, const char *extra, const char *body,
	size_t blen, bool keep, bool head_req)
{
	const char *txt = msg_status_text(status);
	char dflt[96];
	int n;

	if (body == NULL) {
		blen = (size_t)snprintf(dflt, sizeof(dflt), "%u %s\n", status, txt);
		body = dflt;
	}
	n = snprintf(out, cap,
		"HTTP/1.1 %u %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s%s\r\n%.*s",
		status, txt, blen, extra ? extra : "", keep ? "" : "Connection: close\r\n",
		head_req ? 0 : (int)blen, body);
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

size_t
msg_redirect_location(char *loc, const char *host, size_t hlen, const char *target, size_t tlen)
{
	size_t n = 0;

	/* https://host + target: the port belonged to the plain listener, drop it */
	for (size_t i = hlen; i > 0; i--) {
		if (host[i - 1] == ':') {
			hlen = i - 1;
			break;
		}
		if (host[i - 1] == ']')
			break;
	}
	n += (size_t)sprintf(loc, "Location: https://");
	memcpy(loc + n, host, hlen);
	n += hlen;
	memcpy(loc + n, target, tlen);
	n += tlen;
	memcpy(loc + n, "\r\n", 3);
	return n + 2;
}
