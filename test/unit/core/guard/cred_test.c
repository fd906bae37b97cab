/*
 * core/guard/cred.c: NTLM type-3 extraction (a real message from gss-ntlmssp plus built ones
 * for every rule and malformed case), Basic, the oauthtoken form, the WebTicket SOAP body,
 * the password hash and the user key.
 */
#include <stdlib.h>

#include "../../check.h"
#include "core/guard/cred.h"

/* A type 3 from gss-ntlmssp (python3-gssapi initiator, CONTOSO\alice, workstation VM). */
static const char real_t3[] =
	"TlRMTVNTUAADAAAAAAAAAEgAAACSAJIASAAAAA4ADgDaAAAACgAKAOgAAAAEAAQA8gAAABAAEAD2AAAAFYKK4gYC"
	"AAAAAAAPUa9fW86AYEsjM1mE0Kso1AEBAAAAAAAARu1aPA+D3QH3KX90yacaUwAAAAABAAQAVgBNAAIAFgBXAE8A"
	"UgBLAFMAVABBAFQASQBPAE4AAwAEAHYAbQAGAAQAAAAAAAcACABG7Vo8D4PdAQkAHABIAFQAVABQAC8AbABvAGMA"
	"YQBsAGgAbwBzAHQAAAAAAAAAAABDAE8ATgBUAE8AUwBPAGEAbABpAGMAZQBWAE0AOnSob5ydFBVg+3O87Y99zA==";

static void
put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

/* Builds a type 3 with the given raw domain and user bytes at offset 72. */
static size_t
build_t3(uint8_t *m, const void *dom, size_t dl, const void *user, size_t ul, uint32_t flags)
{
	memset(m, 0, 72);
	memcpy(m, "NTLMSSP\0", 8);
	put32(m + 8, 3);
	put16(m + 28, (unsigned)dl);
	put16(m + 30, (unsigned)dl);
	put32(m + 32, 72);
	put16(m + 36, (unsigned)ul);
	put16(m + 38, (unsigned)ul);
	put32(m + 40, (uint32_t)(72 + dl));
	put32(m + 60, flags);
	memcpy(m + 72, dom, dl);
	memcpy(m + 72 + dl, user, ul);
	return 72 + dl + ul;
}

/* ASCII to UTF-16LE */
static size_t
u16(uint8_t *o, const char *s)
{
	size_t n = 0;

	for (; *s; s++) {
		o[n++] = (uint8_t)*s;
		o[n++] = 0;
	}
	return n;
}

static void
b64(const uint8_t *in, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);

		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? a[v & 63] : '=';
	}
	out[o] = '\0';
}

static int
authz(const char *v, struct cred *c)
{
	return cred_authorization(v, strlen(v), c);
}

static int
authz_t3(const char *scheme, const uint8_t *m, size_t n, struct cred *c)
{
	static char hdr[70000];
	size_t sl = strlen(scheme);

	memcpy(hdr, scheme, sl);
	hdr[sl] = ' ';
	b64(m, n, hdr + sl + 1);
	return authz(hdr, c);
}

static void
test_b64(void)
{
	uint8_t o[16];

	CHECK(cred_b64_decode("YWJj", 4, o, sizeof(o)) == 3 && memcmp(o, "abc", 3) == 0);
	CHECK(cred_b64_decode("YWI=", 4, o, sizeof(o)) == 2 && memcmp(o, "ab", 2) == 0);
	CHECK(cred_b64_decode("YWI", 3, o, sizeof(o)) == 2);
	CHECK(cred_b64_decode("YQ==", 4, o, sizeof(o)) == 1 && o[0] == 'a');
	CHECK(cred_b64_decode("", 0, o, sizeof(o)) == 0);
	CHECK(cred_b64_decode("Y", 1, o, sizeof(o)) == -1);
	CHECK(cred_b64_decode("YW=", 3, o, sizeof(o)) == -1);	/* padding must complete */
	CHECK(cred_b64_decode("YW J", 4, o, sizeof(o)) == -1);
	CHECK(cred_b64_decode("YWJjZGVmZ2hpamtsbW5vcHE=", 24, o, sizeof(o)) == -1); /* 17 > 16 */
}

static void
test_ntlm_real(void)
{
	struct cred c;
	char key[CRED_KEY_MAX];
	char hdr[sizeof(real_t3) + 16];

	snprintf(hdr, sizeof(hdr), "NTLM %s", real_t3);
	CHECK(authz(hdr, &c) == CRED_ATTEMPT);
	CHECK(c.kind == CRED_NTLM && !c.anonymous && !c.has_pw);
	CHECK_STR(c.user, "alice");
	CHECK_STR(c.domain, "CONTOSO");
	CHECK(cred_user_key(&c, NULL, key, sizeof(key)) == 13);
	CHECK_STR(key, "contoso\\alice");

	/* Negotiate carrying raw NTLM, any case of the scheme, extra blanks */
	snprintf(hdr, sizeof(hdr), "  negotiate   %s  ", real_t3);
	CHECK(authz(hdr, &c) == CRED_ATTEMPT && strcmp(c.user, "alice") == 0);
	/* type 1 and Kerberos-looking Negotiate are not attempts */
	CHECK(authz("NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==", &c) ==
	      CRED_NOT_ATTEMPT);
	CHECK(authz("Negotiate YIIGhgYGKwYBBQUCoIIGejCCBnagMDAuBgkqhkiC9xIBAgIGCSqGSIb3EgECAg==",
		    &c) == CRED_NOT_ATTEMPT);
	CHECK(authz("NTLM", &c) == CRED_NOT_ATTEMPT);
	CHECK(authz("Bearer abc", &c) == CRED_NOT_ATTEMPT);
	CHECK(authz("", &c) == CRED_NOT_ATTEMPT);
}

static void
test_ntlm_built(void)
{
	static uint8_t m[70000];
	uint8_t d[2048], u[2048];
	struct cred c;
	char key[CRED_KEY_MAX];
	size_t dl, ul, n;

	/* UTF-16 with a non-ASCII letter and a surrogate pair */
	dl = u16(d, "Contoso");
	ul = u16(u, "J");
	u[ul++] = 0xe9; u[ul++] = 0x00;			/* é */
	u[ul++] = 0x3d; u[ul++] = 0xd8;			/* U+1F600 */
	u[ul++] = 0x00; u[ul++] = 0xde;
	n = build_t3(m, d, dl, u, ul, 0x1);
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_ATTEMPT);
	CHECK_STR(c.user, "J\xc3\xa9\xf0\x9f\x98\x80");
	CHECK_STR(c.domain, "Contoso");

	/* OEM (flag 0x1 clear): bytes, >= 0x80 as Latin-1 */
	n = build_t3(m, "DOM", 3, "B\xe9o", 3, 0x2);
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_ATTEMPT);
	CHECK_STR(c.user, "B\xc3\xa9o");
	CHECK(cred_user_key(&c, NULL, key, sizeof(key)) > 0);
	CHECK_STR(key, "dom\\b\xc3\xa9o");

	/* anonymous: empty user */
	n = build_t3(m, "", 0, "", 0, 0x1);
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_ATTEMPT && c.anonymous);
	CHECK(cred_user_key(&c, "X", key, sizeof(key)) == 0);
	CHECK(authz_t3("NTLM", m, n, &c) == CRED_ATTEMPT && c.anonymous);

	/* UPN in the user field, no domain */
	ul = u16(u, "Bob@Contoso.COM");
	n = build_t3(m, "", 0, u, ul, 0x1);
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_ATTEMPT);
	CHECK(cred_user_key(&c, NULL, key, sizeof(key)) > 0);
	CHECK_STR(key, "contoso\\bob");

	/* caps: 256 UTF-16 units pass, 257 do not; 256 OEM bytes pass, 257 do not */
	memset(u, 'a', sizeof(u));
	for (size_t i = 1; i < 1024; i += 2)
		u[i] = 0;
	n = build_t3(m, "", 0, u, 512, 0x1);
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_ATTEMPT && strlen(c.user) == 256);
	n = build_t3(m, "", 0, u, 514, 0x1);
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_MALFORMED && c.anonymous && c.kind == CRED_NTLM);
	memset(u, 'a', sizeof(u));
	n = build_t3(m, "", 0, u, 256, 0);
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_ATTEMPT && strlen(c.user) == 256);
	n = build_t3(m, "", 0, u, 257, 0);
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_MALFORMED);
	/* 256 units of 3-byte UTF-8 still fit the output */
	for (size_t i = 0; i < 512; i += 2) {
		u[i] = 0xac;
		u[i + 1] = 0x20;	/* U+20AC */
	}
	n = build_t3(m, "", 0, u, 512, 0x1);
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_ATTEMPT && strlen(c.user) == 768);

	/* odd UTF-16 length, lone surrogates, NUL in a name */
	n = build_t3(m, "", 0, "a\0b", 3, 0x1);
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_MALFORMED);
	n = build_t3(m, "", 0, "\x3d\xd8" "a\0", 4, 0x1);
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_MALFORMED);
	n = build_t3(m, "", 0, "\x00\xde", 2, 0x1);
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_MALFORMED);
	n = build_t3(m, "", 0, "\x3d\xd8", 2, 0x1);		/* high surrogate at the end */
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_MALFORMED);
	n = build_t3(m, "", 0, "a\0\0\0", 4, 0x1);
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_MALFORMED);
	n = build_t3(m, "", 0, "a\0b", 3, 0);
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_MALFORMED);

	/* offsets and lengths out of range, truncation */
	n = build_t3(m, "D\0", 2, "u\0", 2, 0x1);
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_ATTEMPT);
	CHECK(cred_ntlm_parse(m, n - 1, &c) == CRED_MALFORMED);	/* user runs past the end */
	put32(m + 40, 0xfffffff0);
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_MALFORMED);
	put32(m + 40, (uint32_t)n);					/* offset = end, len 2 */
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_MALFORMED);
	put32(m + 40, 74);
	put16(m + 36, 0xffff);
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_MALFORMED);
	n = build_t3(m, "D\0", 2, "u\0", 2, 0x1);
	put32(m + 32, 0x80000000);
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_MALFORMED);
	for (size_t cut = 0; cut < 64; cut++)
		CHECK(cred_ntlm_parse(m, cut, &c) != CRED_ATTEMPT);

	/* signature and type */
	n = build_t3(m, "D\0", 2, "u\0", 2, 0x1);
	m[0] = 'X';
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_MALFORMED);
	CHECK(authz_t3("NTLM", m, n, &c) == CRED_MALFORMED);
	CHECK(authz_t3("Negotiate", m, n, &c) == CRED_NOT_ATTEMPT);	/* not NTLM at all */
	m[0] = 'N';
	put32(m + 8, 4);
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_MALFORMED);
	put32(m + 8, 2);
	CHECK(cred_ntlm_parse(m, n, &c) == CRED_NOT_ATTEMPT);

	/* SPNEGO-wrapped NTLM (a NegTokenResp prefix before the message) */
	n = build_t3(m + 16, "D\0", 2, "w\0", 2, 0x1);
	memset(m, 0xa1, 16);
	CHECK(authz_t3("Negotiate", m, n + 16, &c) == CRED_ATTEMPT && strcmp(c.user, "w") == 0);

	/* bad and huge base64 */
	CHECK(authz("NTLM TlRMTVNTUA*DAAAA", &c) == CRED_MALFORMED);
	CHECK(authz("NTLM T", &c) == CRED_MALFORMED);
	memset(m, 'A', 40000);
	memcpy(m, "NTLM TlRMTVNTUA", 15);
	m[40000] = 0;
	CHECK(authz((char *)m, &c) == CRED_MALFORMED);
	memcpy(m, "Negotiate YIIAAA", 16);
	CHECK(authz((char *)m, &c) == CRED_NOT_ATTEMPT);	/* a big Kerberos ticket */
}

static void
test_basic(void)
{
	struct cred c, d;
	char key[CRED_KEY_MAX];

	/* CONTOSO\alice:pw1 */
	CHECK(authz("Basic Q09OVE9TT1xhbGljZTpwdzE=", &c) == CRED_ATTEMPT);
	CHECK(c.kind == CRED_BASIC && c.has_pw && !c.anonymous);
	CHECK_STR(c.domain, "CONTOSO");
	CHECK_STR(c.user, "alice");
	CHECK(c.pw_hash == cred_pw_hash("pw1", 3));
	/* alice@contoso.com:pw1 -> same key and hash */
	CHECK(authz("basic YWxpY2VAY29udG9zby5jb206cHcx", &d) == CRED_ATTEMPT);
	CHECK(d.pw_hash == c.pw_hash);
	CHECK(cred_user_key(&d, NULL, key, sizeof(key)) > 0);
	CHECK_STR(key, "contoso\\alice");
	/* alice:pw: (password with a colon) */
	CHECK(authz("Basic YWxpY2U6cHc6", &c) == CRED_ATTEMPT);
	CHECK(c.pw_hash == cred_pw_hash("pw:", 3) && c.pw_hash != d.pw_hash);
	CHECK(cred_user_key(&c, "CONTOSO", key, sizeof(key)) > 0);
	CHECK_STR(key, "contoso\\alice");
	CHECK(cred_user_key(&c, NULL, key, sizeof(key)) > 0);
	CHECK_STR(key, "alice");
	/* ":x" empty user: anonymous; "alice" without ':': malformed; bad base64 */
	CHECK(authz("Basic Ong=", &c) == CRED_ATTEMPT && c.anonymous);
	CHECK(authz("Basic YWxpY2U=", &c) == CRED_MALFORMED && c.kind == CRED_BASIC);
	CHECK(authz("Basic !!!!", &c) == CRED_MALFORMED);
	/* NUL in the user */
	CHECK(authz("Basic YQBiOng=", &c) == CRED_MALFORMED);
}

static int
oauth(const char *b, struct cred *c)
{
	return cred_oauth_body(b, strlen(b), c);
}

static void
test_oauth(void)
{
	struct cred c;
	char key[CRED_KEY_MAX];

	CHECK(oauth("grant_type=password&username=CONTOSO%5Calice&password=p%40ss+word", &c) ==
	      CRED_ATTEMPT);
	CHECK(c.kind == CRED_OAUTH && c.has_pw);
	CHECK_STR(c.domain, "CONTOSO");
	CHECK_STR(c.user, "alice");
	CHECK(c.pw_hash == cred_pw_hash("p@ss word", 9));
	CHECK(oauth("username=alice%40Contoso.com&password=x&grant_type=password", &c) ==
	      CRED_ATTEMPT);
	CHECK(cred_user_key(&c, NULL, key, sizeof(key)) > 0);
	CHECK_STR(key, "contoso\\alice");
	CHECK(oauth("grant_type=urn:microsoft.rtc:windows&username=a", &c) == CRED_NOT_ATTEMPT);
	CHECK(oauth("grant_type=passwordX&username=a&password=b", &c) == CRED_NOT_ATTEMPT);
	CHECK(oauth("", &c) == CRED_NOT_ATTEMPT);
	CHECK(oauth("&&==&", &c) == CRED_NOT_ATTEMPT);
	CHECK(oauth("grant_type=password&password=b", &c) == CRED_MALFORMED && c.anonymous);
	CHECK(oauth("grant_type=password&username=&password=b", &c) == CRED_MALFORMED);
	CHECK(oauth("grant_type=password&username=a%4&password=b", &c) == CRED_MALFORMED);
	CHECK(oauth("grant_type=password&username=a%&password=b", &c) == CRED_MALFORMED);
	CHECK(oauth("grant_type=password&username=a%zz&password=b", &c) == CRED_MALFORMED);
	CHECK(oauth("grant_type=password&username=a&password=b%", &c) == CRED_MALFORMED);
	CHECK(oauth("grant_type=password&username=a%00b", &c) == CRED_MALFORMED);
	CHECK(oauth("grant_type=password&username=a", &c) == CRED_ATTEMPT && !c.has_pw);
	/* first username wins */
	CHECK(oauth("grant_type=password&username=a&username=b&password=c", &c) == CRED_ATTEMPT);
	CHECK_STR(c.user, "a");
	/* over the caps */
	{
		static char big[8000];

		snprintf(big, sizeof(big), "grant_type=password&username=");
		memset(big + strlen(big), 'u', 2000);
		CHECK(oauth(big, &c) == CRED_MALFORMED);
	}
}

static int
wt(const char *b, struct cred *c)
{
	return cred_webticket_body(b, strlen(b), c);
}

static void
test_webticket(void)
{
	/* as lyncsmash sends it: Username = base64("CONTOSO\alice"), Password = base64("pw1") */
	static const char soap[] =
		"<?xml version=\"1.0\" encoding=\"utf-8\"?>"
		"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">"
		"<s:Header><Security s:mustUnderstand=\"1\" xmlns:u=\"x\" "
		"xmlns=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd\">"
		"<UsernameToken><Username>Q09OVE9TT1xhbGljZQ==</Username>"
		"<Password Type=\"PasswordText\">cHcx</Password></UsernameToken></Security></s:Header>"
		"<s:Body><RequestSecurityToken xmlns=\"http://docs.oasis-open.org/ws-sx/ws-trust/200512\">"
		"<TokenType>urn:component:Microsoft.Rtc.WebAuthentication.2010:user-cwt-1</TokenType>"
		"</RequestSecurityToken></s:Body></s:Envelope>";
	struct cred c;
	char key[CRED_KEY_MAX];

	CHECK(wt(soap, &c) == CRED_ATTEMPT);
	CHECK(c.kind == CRED_WEBTICKET && c.has_pw && c.pw_hash == cred_pw_hash("pw1", 3));
	CHECK(cred_user_key(&c, NULL, key, sizeof(key)) > 0);
	CHECK_STR(key, "contoso\\alice");
	/* prefixes vary; whitespace around the text; self-closing password */
	CHECK(wt("<o:Security><o:UsernameToken><o:Username>\n  Ym9i  \n</o:Username>"
		 "<o:Password/></o:UsernameToken>", &c) == CRED_ATTEMPT);
	CHECK_STR(c.user, "bob");
	CHECK(c.has_pw && c.pw_hash == cred_pw_hash("", 0));
	/* UsernameToken is not Username; no Username: not an attempt */
	CHECK(wt("<wsse:UsernameToken></wsse:UsernameToken>", &c) == CRED_NOT_ATTEMPT);
	CHECK(wt("", &c) == CRED_NOT_ATTEMPT);
	CHECK(wt("<<<<>>>", &c) == CRED_NOT_ATTEMPT);
	/* malformed: unterminated, not base64, empty, NUL inside */
	CHECK(wt("<Username>Ym9i", &c) == CRED_MALFORMED && c.kind == CRED_WEBTICKET);
	CHECK(wt("<Username", &c) == CRED_MALFORMED);
	CHECK(wt("<x:Username>bob smith</x:Username>", &c) == CRED_MALFORMED);
	CHECK(wt("<Username></Username>", &c) == CRED_MALFORMED);
	CHECK(wt("<Username/>", &c) == CRED_MALFORMED);
	CHECK(wt("<Username>YQBi</Username>", &c) == CRED_MALFORMED);
	CHECK(wt("<Username>Ym9i</Username><Password>cHcx", &c) == CRED_MALFORMED);
	/* a Password that is not base64 is hashed as written */
	CHECK(wt("<Username>Ym9i</Username><Password>p w</Password>", &c) == CRED_ATTEMPT);
	CHECK(c.pw_hash == cred_pw_hash("p w", 3));
}

static void
test_keys(void)
{
	struct cred c = { .kind = CRED_BASIC };
	char key[CRED_KEY_MAX], small[8];

	strcpy(c.user, "ALICE");
	CHECK(cred_user_key(&c, "contoso.local", key, sizeof(key)) > 0);
	CHECK_STR(key, "contoso\\alice");
	strcpy(c.domain, "Contoso.Local");
	CHECK(cred_user_key(&c, "other", key, sizeof(key)) > 0);
	CHECK_STR(key, "contoso\\alice");
	strcpy(c.user, "fabrikam\\Alice");	/* a domain in the user field wins */
	CHECK(cred_user_key(&c, NULL, key, sizeof(key)) > 0);
	CHECK_STR(key, "fabrikam\\alice");
	strcpy(c.user, "contoso\\");		/* no user after the domain */
	CHECK(cred_user_key(&c, NULL, key, sizeof(key)) == 0);
	strcpy(c.user, "@contoso.com");		/* '@' first: a name, not a UPN */
	c.domain[0] = '\0';
	CHECK(cred_user_key(&c, NULL, key, sizeof(key)) > 0);
	CHECK_STR(key, "@contoso.com");
	strcpy(c.user, "averylongname");
	CHECK(cred_user_key(&c, NULL, small, sizeof(small)) == 0 && small[0] == '\0');
	/* keyed hash: a new process key changes it */
	{
		uint64_t h = cred_pw_hash("x", 1);

		cred_init();
		CHECK(cred_pw_hash("x", 1) != h);
		CHECK(cred_pw_hash("x", 1) == cred_pw_hash("x", 1));
		CHECK(cred_hash("x", 1) != cred_pw_hash("x", 1));
	}
}

int
main(void)
{
	test_b64();
	test_ntlm_real();
	test_ntlm_built();
	test_basic();
	test_oauth();
	test_webticket();
	test_keys();
	return check_done();
}
