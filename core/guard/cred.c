/*
 * Credential extraction for the auth guard (issue 12). See cred.h for the contract.
 *
 * Everything here reads attacker-controlled bytes: every length is checked against what is
 * left before it is used, every output is bounded by a cap from cred-t.h, and nothing is
 * allocated. SipHash-2-4 is written out here (40 lines, the reference algorithm) because the
 * guard needs a keyed hash of short strings and Debian's libraries offer none that the pure
 * layer could link without pulling in TLS.
 */
#include "core/guard/cred.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "core/lib/b64.h"

/* ---- keyed hash ---- */

static uint8_t pw_key[16], key_key[16];

void
cred_init(void)
{
	uint8_t k[32];
	size_t got = 0;

	while (got < sizeof(k)) {
		ssize_t n = getrandom(k + got, sizeof(k) - got, 0);

		if (n > 0)
			got += (size_t)n;
	}
	memcpy(pw_key, k, 16);
	memcpy(key_key, k + 16, 16);
}

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
} while (0)

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t
siphash24(const uint8_t key[16], const uint8_t *in, size_t len)
{
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)len << 56, m;
	size_t i, end = len - len % 8;

	for (i = 0; i < end; i += 8) {
		m = le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; j < len % 8; j++)
		b |= (uint64_t)in[end + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t
cred_pw_hash(const void *pw, size_t len)
{
	return siphash24(pw_key, pw, len);
}

uint64_t
cred_hash(const void *data, size_t len)
{
	return siphash24(key_key, data, len);
}

/* ---- base64 ---- */

long
cred_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	long n = b64_decode(in, len, out, cap, B64_PAD);

	return n < 0 ? -1 : n;
}

/* ---- names ---- */

static int
malformed(struct cred *out, enum cred_kind kind)
{
	memset(out, 0, sizeof(*out));
	out->kind = kind;
	out->anonymous = true;
	return CRED_MALFORMED;
}

static size_t
put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* UTF-16LE to UTF-8 into out[CRED_NAME_MAX + 1]. -1: odd length, NUL, lone surrogate, or
 * longer than the cap. */
static int
utf16_to_utf8(const uint8_t *p, size_t n, char *out)
{
	size_t o = 0;

	if (n % 2 != 0)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		uint32_t u = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8;

		if (u == 0 || (u >= 0xdc00 && u <= 0xdfff))
			return -1;
		if (u >= 0xd800 && u <= 0xdbff) {
			uint32_t lo;

			if (i + 3 >= n)
				return -1;
			lo = (uint32_t)p[i + 2] | (uint32_t)p[i + 3] << 8;
			if (lo < 0xdc00 || lo > 0xdfff)
				return -1;
			u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
			i += 2;
		}
		if (o + (u < 0x80 ? 1 : u < 0x800 ? 2 : u < 0x10000 ? 3 : 4) > CRED_NAME_MAX)
			return -1;
		o += put_utf8(out + o, u);
	}
	out[o] = '\0';
	return 0;
}

/* OEM code page: unknown here; bytes >= 0x80 are taken as Latin-1 so the key is stable. */
static int
oem_to_utf8(const uint8_t *p, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == 0 || o + 2 > CRED_NAME_MAX)
			return -1;
		o += put_utf8(out + o, p[i]);
	}
	out[o] = '\0';
	return 0;
}

/* Copies a decoded "DOMAIN\user" or "user" (bytes, no NUL allowed) into out. */
static int
set_name(struct cred *out, const char *s, size_t n)
{
	const char *bs = memchr(s, '\\', n);
	size_t dl = 0;

	if (memchr(s, '\0', n) != NULL)
		return -1;
	if (bs != NULL) {
		dl = (size_t)(bs - s);
		if (dl > CRED_NAME_MAX)
			return -1;
		memcpy(out->domain, s, dl);
		out->domain[dl] = '\0';
		s = bs + 1;
		n -= dl + 1;
	}
	if (n > CRED_NAME_MAX)
		return -1;
	memcpy(out->user, s, n);
	out->user[n] = '\0';
	out->anonymous = n == 0;
	return 0;
}

/* ---- NTLM ---- */

#define NTLM_OEM_MAX	256	/* bytes */
#define NTLM_U16_MAX	512	/* bytes: 256 UTF-16 units */

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One security buffer (len u16, maxlen u16, offset u32) converted into out. */
static int
ntlm_field(const uint8_t *msg, size_t len, size_t at, bool unicode, char *out)
{
	size_t flen = (size_t)msg[at] | (size_t)msg[at + 1] << 8;
	size_t foff = le32(msg + at + 4);

	out[0] = '\0';
	if (flen == 0)
		return 0;
	if (foff > len || flen > len - foff)
		return -1;
	if (flen > (unicode ? NTLM_U16_MAX : NTLM_OEM_MAX))
		return -1;
	return unicode ? utf16_to_utf8(msg + foff, flen, out) : oem_to_utf8(msg + foff, flen, out);
}

int
cred_ntlm_parse(const uint8_t *msg, size_t len, struct cred *out)
{
	uint32_t type;
	bool unicode;

	if (len < 12 || memcmp(msg, "NTLMSSP\0", 8) != 0)
		return malformed(out, CRED_NTLM);
	type = le32(msg + 8);
	if (type == 1 || type == 2)
		return CRED_NOT_ATTEMPT;
	if (type != 3 || len < 64)
		return malformed(out, CRED_NTLM);
	memset(out, 0, sizeof(*out));
	out->kind = CRED_NTLM;
	unicode = le32(msg + 60) & 0x1;
	if (ntlm_field(msg, len, 28, unicode, out->domain) < 0 ||
	    ntlm_field(msg, len, 36, unicode, out->user) < 0)
		return malformed(out, CRED_NTLM);
	out->anonymous = out->user[0] == '\0';
	return CRED_ATTEMPT;
}

/* ---- Authorization ---- */

#define B64_OUT_MAX	(CRED_B64_MAX / 4 * 3)

static int
auth_ntlm(const char *tok, size_t n, struct cred *out)
{
	uint8_t buf[B64_OUT_MAX];
	long dl;

	if (n == 0)
		return CRED_NOT_ATTEMPT;
	if (n > CRED_B64_MAX || (dl = cred_b64_decode(tok, n, buf, sizeof(buf))) < 0)
		return malformed(out, CRED_NTLM);
	return cred_ntlm_parse(buf, (size_t)dl, out);
}

/* Negotiate: raw NTLM ("TlRMTVNTUA..."), or NTLM wrapped in SPNEGO (a NegTokenResp whose
 * mechToken is the NTLM message: found by its signature; its offsets are relative to it).
 * Anything else is Kerberos: no password the proxy can count. */
static int
auth_negotiate(const char *tok, size_t n, struct cred *out)
{
	uint8_t buf[B64_OUT_MAX];
	const uint8_t *sig;
	long dl;

	if (n >= 10 && memcmp(tok, "TlRMTVNTUA", 10) == 0)
		return auth_ntlm(tok, n, out);
	/* a type 3 is a few hundred bytes; a token over the cap is a big Kerberos ticket */
	if (n == 0 || n > CRED_B64_MAX || (dl = cred_b64_decode(tok, n, buf, sizeof(buf))) < 0)
		return CRED_NOT_ATTEMPT;
	sig = memmem(buf, (size_t)dl, "NTLMSSP\0", 8);
	if (sig == NULL)
		return CRED_NOT_ATTEMPT;
	return cred_ntlm_parse(sig, (size_t)dl - (size_t)(sig - buf), out);
}

static int
auth_basic(const char *tok, size_t n, struct cred *out)
{
	uint8_t buf[B64_OUT_MAX];
	const uint8_t *colon;
	long dl;

	if (n > CRED_B64_MAX || (dl = cred_b64_decode(tok, n, buf, sizeof(buf))) < 0)
		return malformed(out, CRED_BASIC);
	colon = memchr(buf, ':', (size_t)dl);
	memset(out, 0, sizeof(*out));
	if (colon == NULL || set_name(out, (const char *)buf, (size_t)(colon - buf)) < 0)
		return malformed(out, CRED_BASIC);
	out->kind = CRED_BASIC;
	out->has_pw = true;
	out->pw_hash = cred_pw_hash(colon + 1, (size_t)(buf + dl - colon - 1));
	return CRED_ATTEMPT;
}

int
cred_authorization(const char *v, size_t len, struct cred *out)
{
	size_t i = 0, s, e;

	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	s = i;
	while (i < len && v[i] != ' ' && v[i] != '\t')
		i++;
	e = i;
	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	while (len > i && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (e - s == 4 && strncasecmp(v + s, "NTLM", 4) == 0)
		return auth_ntlm(v + i, len - i, out);
	if (e - s == 9 && strncasecmp(v + s, "Negotiate", 9) == 0)
		return auth_negotiate(v + i, len - i, out);
	if (e - s == 5 && strncasecmp(v + s, "Basic", 5) == 0)
		return auth_basic(v + i, len - i, out);
	return CRED_NOT_ATTEMPT;
}

/* ---- oauthtoken form ---- */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* application/x-www-form-urlencoded value; -1 on a bad escape or over cap. */
static long
form_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -1;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (o >= cap)
			return -1;
		out[o++] = c;
	}
	return (long)o;
}

int
cred_oauth_body(const char *body, size_t len, struct cred *out)
{
	const char *user = NULL, *pw = NULL;
	size_t ulen = 0, plen = 0;
	bool password_grant = false;
	char ubuf[CRED_NAME_MAX * 2 + 1], pbuf[1024];
	long ul, pl;

	for (size_t i = 0; i < len;) {
		const char *f = body + i, *amp = memchr(f, '&', len - i);
		size_t flen = amp ? (size_t)(amp - f) : len - i;
		const char *eq = memchr(f, '=', flen);

		i += flen + 1;
		if (eq == NULL)
			continue;
		size_t klen = (size_t)(eq - f), vlen = flen - klen - 1;

		if (klen == 10 && memcmp(f, "grant_type", 10) == 0)
			password_grant = vlen == 8 && memcmp(eq + 1, "password", 8) == 0;
		else if (klen == 8 && memcmp(f, "username", 8) == 0 && user == NULL)
			user = eq + 1, ulen = vlen;
		else if (klen == 8 && memcmp(f, "password", 8) == 0 && pw == NULL)
			pw = eq + 1, plen = vlen;
	}
	if (!password_grant)
		return CRED_NOT_ATTEMPT;
	if (user == NULL || (ul = form_decode(user, ulen, ubuf, sizeof(ubuf))) <= 0)
		return malformed(out, CRED_OAUTH);
	memset(out, 0, sizeof(*out));
	if (set_name(out, ubuf, (size_t)ul) < 0)
		return malformed(out, CRED_OAUTH);
	out->kind = CRED_OAUTH;
	if (pw != NULL) {
		if ((pl = form_decode(pw, plen, pbuf, sizeof(pbuf))) < 0)
			return malformed(out, CRED_OAUTH);
		out->has_pw = true;
		out->pw_hash = cred_pw_hash(pbuf, (size_t)pl);
	}
	return CRED_ATTEMPT;
}

/* ---- WebTicket SOAP ---- */

/* Text of the first element whose local name is `local` (any prefix). 1 found, 0 none,
 * -1 unterminated. Comments and CDATA are not interpreted: a SOAP client sends neither
 * around these elements. */
static int
xml_text(const char *b, size_t n, const char *local, const char **text, size_t *tlen)
{
	size_t ll = strlen(local);

	for (size_t i = 0; i < n; i++) {
		size_t j = i + 1, start, k;
		const char *name, *colon, *end;
		size_t nlen;

		if (b[i] != '<' || j >= n || b[j] == '/' || b[j] == '?' || b[j] == '!')
			continue;
		start = j;
		while (j < n && !isspace((unsigned char)b[j]) && b[j] != '>' && b[j] != '/')
			j++;
		name = b + start;
		nlen = j - start;
		colon = memrchr(name, ':', nlen);
		if (colon != NULL) {
			nlen -= (size_t)(colon + 1 - name);
			name = colon + 1;
		}
		if (nlen != ll || memcmp(name, local, ll) != 0)
			continue;
		end = memchr(b + j, '>', n - j);
		if (end == NULL)
			return -1;
		k = (size_t)(end - b);
		if (b[k - 1] == '/') {
			*text = end;
			*tlen = 0;
			return 1;
		}
		*text = end + 1;
		end = memchr(end + 1, '<', n - k - 1);
		if (end == NULL)
			return -1;
		*tlen = (size_t)(end - *text);
		while (*tlen > 0 && isspace((unsigned char)**text))
			(*text)++, (*tlen)--;
		while (*tlen > 0 && isspace((unsigned char)(*text)[*tlen - 1]))
			(*tlen)--;
		return 1;
	}
	return 0;
}

int
cred_webticket_body(const char *body, size_t len, struct cred *out)
{
	uint8_t ubuf[CRED_NAME_MAX * 2 + 2], pbuf[1024];
	const char *t;
	size_t tl;
	long ul, pl;
	int rc;

	rc = xml_text(body, len, "Username", &t, &tl);
	if (rc == 0)
		return CRED_NOT_ATTEMPT;
	if (rc < 0 || (ul = cred_b64_decode(t, tl, ubuf, sizeof(ubuf))) <= 0)
		return malformed(out, CRED_WEBTICKET);
	memset(out, 0, sizeof(*out));
	if (set_name(out, (const char *)ubuf, (size_t)ul) < 0)
		return malformed(out, CRED_WEBTICKET);
	out->kind = CRED_WEBTICKET;
	rc = xml_text(body, len, "Password", &t, &tl);
	if (rc < 0)
		return malformed(out, CRED_WEBTICKET);
	if (rc > 0) {
		/* base64(password) as lyncsmash and the Lync clients send it; if it is not
		 * base64, the text itself is what is compared */
		pl = cred_b64_decode(t, tl, pbuf, sizeof(pbuf));
		out->has_pw = true;
		out->pw_hash = pl >= 0 ? cred_pw_hash(pbuf, (size_t)pl) : cred_pw_hash(t, tl);
	}
	return CRED_ATTEMPT;
}

/* ---- user key ---- */

static size_t
put_lower(char *key, size_t o, size_t cap, const char *s, size_t n)
{
	if (o == SIZE_MAX || o + n >= cap)
		return SIZE_MAX;
	for (size_t i = 0; i < n; i++)
		key[o + i] = (char)tolower((unsigned char)s[i]);
	return o + n;
}

size_t
cred_user_key(const struct cred *c, const char *default_domain, char *key, size_t cap)
{
	const char *u = c->user, *d = c->domain, *p;
	size_t ul = strlen(u), dl = strlen(d), o = 0;

	if (c->anonymous || ul == 0 || cap == 0)
		return 0;
	if ((p = memchr(u, '\\', ul)) != NULL) {
		d = u;
		dl = (size_t)(p - u);
		ul -= dl + 1;
		u = p + 1;
	} else if ((p = memrchr(u, '@', ul)) != NULL && p != u) {
		d = p + 1;
		dl = ul - (size_t)(p - u) - 1;
		ul = (size_t)(p - u);
	}
	if (dl == 0 && default_domain != NULL) {
		d = default_domain;
		dl = strlen(d);
	}
	if ((p = memchr(d, '.', dl)) != NULL)	/* contoso.com -> contoso */
		dl = (size_t)(p - d);
	if (ul == 0)
		return 0;
	if (dl > 0) {
		o = put_lower(key, o, cap, d, dl);
		o = put_lower(key, o, cap, "\\", 1);
	}
	o = put_lower(key, o, cap, u, ul);
	if (o == SIZE_MAX) {
		key[0] = '\0';
		return 0;
	}
	key[o] = '\0';
	return o;
}
