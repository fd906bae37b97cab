/* The JSON access log line (alog_json.h). */
#include "core/proxy/alog_json.h"

#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s[0..n) (RFC 3629: no overlongs, no surrogates,
 * nothing over U+10FFFF), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

size_t
alog_json_escape(char *out, size_t cap, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t w = 0, i = 0;
	bool full = false;

	while (i < n) {
		char esc[8];
		const char *piece = esc;
		size_t plen, adv = 1;

		if (u[i] == '"' || u[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)u[i];
			plen = 2;
		} else if (u[i] < 0x20 || u[i] == 0x7f) {
			plen = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", u[i]);
		} else if (u[i] < 0x80) {
			piece = s + i;
			plen = 1;
		} else if ((adv = utf8_len(u + i, n - i)) > 0) {
			piece = s + i;
			plen = adv;
		} else {
			adv = 1;
			plen = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", u[i]);
		}
		if (!full && w + plen <= cap)
			memcpy(out + w, piece, plen);
		else
			full = true;
		w += plen;
		i += adv;
	}
	return w;
}

struct jw {
	char	*p;
	size_t	 cap, len;
	bool	 over;
};

static void
jw_raw(struct jw *j, const char *s, size_t n)
{
	if (j->over || j->len + n > j->cap) {
		j->over = true;
		return;
	}
	memcpy(j->p + j->len, s, n);
	j->len += n;
}

static void
jw_key(struct jw *j, const char *key)
{
	jw_raw(j, j->len > 1 ? ",\"" : "\"", j->len > 1 ? 2 : 1);
	jw_raw(j, key, strlen(key));
	jw_raw(j, "\":", 2);
}

static void
jw_str(struct jw *j, const char *key, const char *s, size_t n)
{
	size_t need;

	jw_key(j, key);
	if (s == NULL) {
		jw_raw(j, "null", 4);
		return;
	}
	jw_raw(j, "\"", 1);
	if (!j->over) {
		need = alog_json_escape(j->p + j->len, j->cap - j->len, s, n);
		if (j->len + need > j->cap)
			j->over = true;
		else
			j->len += need;
	}
	jw_raw(j, "\"", 1);
}

static void
jw_cstr(struct jw *j, const char *key, const char *s)
{
	jw_str(j, key, s, s ? strlen(s) : 0);
}

static void
jw_astr(struct jw *j, const char *key, struct alog_str s)
{
	jw_str(j, key, s.p, s.len);
}

static void
jw_int(struct jw *j, const char *key, int64_t v, bool null_if_negative)
{
	char buf[24];
	int n;

	jw_key(j, key);
	if (null_if_negative && v < 0) {
		jw_raw(j, "null", 4);
		return;
	}
	n = snprintf(buf, sizeof(buf), "%lld", (long long)v);
	jw_raw(j, buf, (size_t)n);
}

static void
jw_bool(struct jw *j, const char *key, bool v)
{
	jw_key(j, key);
	jw_raw(j, v ? "true" : "false", v ? 4 : 5);
}

size_t
alog_json_line(char *out, size_t cap, const struct alog_fields *f)
{
	struct jw j = { .p = out, .cap = cap };

	jw_raw(&j, "{", 1);
	jw_cstr(&j, "time", f->time);
	jw_cstr(&j, "client_addr", f->client_addr);
	jw_int(&j, "client_port", f->client_port, false);
	jw_cstr(&j, "listener", f->listener);
	jw_astr(&j, "host", f->host);
	jw_astr(&j, "method", f->method);
	jw_astr(&j, "target", f->target);
	jw_astr(&j, "version", f->version);
	jw_astr(&j, "user_agent", f->user_agent);
	jw_int(&j, "status", f->status, false);
	jw_int(&j, "bytes_in", (int64_t)f->bytes_in, false);
	jw_int(&j, "bytes_out", (int64_t)f->bytes_out, false);
	jw_int(&j, "request_ms", f->request_ms, true);
	jw_cstr(&j, "backend", f->backend);
	jw_int(&j, "backend_connect_ms", f->connect_ms, true);
	jw_int(&j, "backend_response_ms", f->response_ms, true);
	jw_cstr(&j, "termination", f->termination);
	jw_cstr(&j, "tls_version", f->tls_version);
	jw_cstr(&j, "tls_cipher", f->tls_cipher);
	jw_bool(&j, "tls_resumed", f->tls_resumed);
	jw_bool(&j, "ntlm_pinned", f->ntlm_pinned);
	jw_cstr(&j, "user", f->user);
	jw_int(&j, "queue_ms", f->queue_ms, false);
	jw_int(&j, "retries", (int64_t)f->retries, false);
	jw_raw(&j, "}\n", 2);
	return j.over ? 0 : j.len;
}
