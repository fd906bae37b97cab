/* PROXY protocol parser (core/io/proxyproto.c): v1, v2, TLVs, incremental feeding, caps. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "core/io/proxyproto.h"
#include "core/lib/cidr.h"
#include "core/lib/api-t.h"
#include "test/unit/check.h"

static const uint8_t SIG[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51,
				 0x55, 0x49, 0x54, 0x0A };

static char *
ntop(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	uint16_t port;
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;

		inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
		port = ntohs(s->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
		port = ntohs(s->sin6_port);
	} else {
		snprintf(buf, len, "?");
		return buf;
	}
	snprintf(buf, len, "%s/%u", a, port);
	return buf;
}

/* Feeds s one byte more at a time: every strict prefix must say "need more", the whole
 * must give rc_full. Returns rc_full's h. */
static int
feed(const void *s, size_t n, size_t max, struct pp_hdr *h)
{
	for (size_t i = 0; i < n; i++) {
		/* a copy of exactly i bytes: ASan catches a read past what we gave */
		uint8_t *c = malloc(i ? i : 1);
		int rc;

		memcpy(c, s, i);
		rc = pp_parse(c, i, max, h);
		free(c);
		if (rc != 0)
			return rc;	/* an early answer (error) */
	}
	uint8_t *c = malloc(n);
	int rc;

	memcpy(c, s, n);
	rc = pp_parse(c, n, max, h);
	free(c);
	return rc;
}

static void
test_v1(void)
{
	struct pp_hdr h;
	char buf[80];
	const char *l4 = "PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\nGET / HTTP/1.1\r\n";
	const char *l6 = "PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 1 65535\r\n";
	int rc;

	rc = feed(l4, strlen(l4), 0, &h);
	CHECK(rc == (int)strlen("PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n"));
	CHECK(h.version == 1 && !h.local && h.addrlen == sizeof(struct sockaddr_in));
	CHECK_STR(ntop(&h.src, buf, sizeof(buf)), "192.0.2.10/56324");
	CHECK_STR(ntop(&h.dst, buf, sizeof(buf)), "198.51.100.1/443");

	rc = feed(l6, strlen(l6), 0, &h);
	CHECK(rc == (int)strlen(l6));
	CHECK(h.addrlen == sizeof(struct sockaddr_in6));
	CHECK_STR(ntop(&h.src, buf, sizeof(buf)), "2001:db8::1/1");
	CHECK_STR(ntop(&h.dst, buf, sizeof(buf)), "::ffff:10.0.0.1/65535");

	rc = pp_parse("PROXY UNKNOWN\r\n", 15, 0, &h);
	CHECK(rc == 15 && h.local && h.version == 1);
	rc = pp_parse("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", 35, 0, &h);
	CHECK(rc == 35 && h.local);

	/* the longest TCP6 line (104 bytes) and the longest legal line (107, UNKNOWN) */
	const char *max6 = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
			   "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	const char *maxl = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
			   "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	CHECK(pp_parse(max6, strlen(max6), 0, &h) == 104 && !h.local);
	CHECK(strlen(maxl) == PP_V1_MAX);
	CHECK(pp_parse(maxl, strlen(maxl), 0, &h) == PP_V1_MAX && h.local);

	/* errors */
	static const char *const bad[] = {
		"PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\n",	/* bare LF */
		"PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\rX",	/* CR without LF */
		"PROXY TCP4  192.0.2.10 198.51.100.1 56324 443\r\n",	/* double space */
		"PROXY TCP4 192.0.2.10 198.51.100.1 56324\r\n",		/* missing port */
		"PROXY TCP4 192.0.2.10 198.51.100.1 56324 443 1\r\n",	/* extra field */
		"PROXY TCP4 192.0.2.10 198.51.100.1 65536 443\r\n",	/* port range */
		"PROXY TCP4 192.0.2.10 198.51.100.1 123456 443\r\n",	/* 6 digits */
		"PROXY TCP4 192.0.2.10 198.51.100.1 -1 443\r\n",
		"PROXY TCP4 2001:db8::1 198.51.100.1 1 443\r\n",	/* v6 in TCP4 */
		"PROXY TCP6 192.0.2.10 ::1 1 443\r\n",			/* v4 in TCP6 */
		"PROXY TCP4 192.0.2.256 198.51.100.1 1 443\r\n",
		"PROXY UDP4 192.0.2.10 198.51.100.1 1 443\r\n",
		"PROXY UNKNOWNX\r\n",
		"PROXY \r\n",
		"PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n",			/* tab */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n",
	};
	for (size_t i = 0; i < RE_ARRAY_SIZE(bad); i++) {
		rc = feed(bad[i], strlen(bad[i]), 0, &h);
		if (rc != -PP_E_V1_SYNTAX)
			fprintf(stderr, "bad[%zu] = %d\n", i, rc);
		CHECK(rc == -PP_E_V1_SYNTAX && h.why != NULL);
	}
	/* no CRLF within 107 bytes: refused at byte 107, not later */
	char longl[200];

	memset(longl, 'A', sizeof(longl));
	memcpy(longl, "PROXY TCP4 ", 11);
	CHECK(pp_parse(longl, PP_V1_MAX - 1, 0, &h) == 0);
	CHECK(pp_parse(longl, PP_V1_MAX, 0, &h) == -PP_E_V1_TOO_LONG);
	CHECK(pp_parse(longl, sizeof(longl), 0, &h) == -PP_E_V1_TOO_LONG);
	/* CR as byte 107: the LF would make it 108 */
	longl[PP_V1_MAX - 1] = '\r';
	CHECK(pp_parse(longl, PP_V1_MAX, 0, &h) == -PP_E_V1_TOO_LONG);
}

static size_t
v2(uint8_t *b, uint8_t vc, uint8_t fam, const void *body, uint16_t blen)
{
	memcpy(b, SIG, 12);
	b[12] = vc;
	b[13] = fam;
	b[14] = (uint8_t)(blen >> 8);
	b[15] = (uint8_t)blen;
	if (blen > 0)	/* body may be NULL for an empty one (memcpy wants a pointer) */
		memcpy(b + 16, body, blen);
	return 16u + blen;
}

static void
test_v2(void)
{
	uint8_t b[600], body[512];
	struct pp_hdr h;
	char buf[80];
	size_t n;
	int rc;

	/* TCP4 192.0.2.10:56324 -> 198.51.100.1:443, no TLV */
	uint8_t a4[12] = { 192, 0, 2, 10, 198, 51, 100, 1, 0xDC, 0x04, 0x01, 0xBB };

	n = v2(b, 0x21, 0x11, a4, 12);
	b[n] = 0x16;	/* a ClientHello follows: not examined */
	rc = feed(b, n, 0, &h);
	CHECK(rc == 28 && h.version == 2 && !h.local && h.ntlvs == 0);
	CHECK_STR(ntop(&h.src, buf, sizeof(buf)), "192.0.2.10/56324");
	CHECK_STR(ntop(&h.dst, buf, sizeof(buf)), "198.51.100.1/443");
	CHECK(pp_parse(b, n + 1, 0, &h) == 28);
	CHECK(pp_signature(b + 28, 1) == PP_SIG_NO);

	/* TCP6 */
	uint8_t a6[36] = { 0 };

	inet_pton(AF_INET6, "2001:db8::7", a6);
	inet_pton(AF_INET6, "2001:db8::1", a6 + 16);
	a6[32] = 0x30; a6[33] = 0x39; a6[34] = 0x01; a6[35] = 0xBB;
	n = v2(b, 0x21, 0x21, a6, 36);
	rc = feed(b, n, 0, &h);
	CHECK(rc == 52 && h.addrlen == sizeof(struct sockaddr_in6));
	CHECK_STR(ntop(&h.src, buf, sizeof(buf)), "2001:db8::7/12345");
	CHECK_STR(ntop(&h.dst, buf, sizeof(buf)), "2001:db8::1/443");

	/* LOCAL (a balancer's health check): addresses and TLVs ignored, whatever the family */
	n = v2(b, 0x20, 0x00, NULL, 0);
	CHECK(feed(b, n, 0, &h) == 16 && h.local);
	n = v2(b, 0x20, 0x11, "\x01\x02\x03", 3);	/* short block: ignored under LOCAL */
	CHECK(pp_parse(b, n, 0, &h) == 19 && h.local);
	/* PROXY with AF_UNSPEC: accepted, local addresses */
	n = v2(b, 0x21, 0x00, "xyz", 3);
	CHECK(pp_parse(b, n, 0, &h) == 19 && h.local);

	/* TLVs: NOOP, AWS vpce, Azure LinkID, an SSL TLV with a sub-TLV, CRC32C */
	memcpy(body, a4, 12);
	n = 12;
	memcpy(body + n, "\x04\x00\x02zz", 5); n += 5;
	const char *vpce = "vpce-08d2bf15fac5001c9";
	body[n++] = 0xEA; body[n++] = 0; body[n++] = (uint8_t)(1 + strlen(vpce));
	body[n++] = 0x01; memcpy(body + n, vpce, strlen(vpce)); n += strlen(vpce);
	memcpy(body + n, "\xEE\x00\x05\x01\x78\x56\x34\x12", 8); n += 8;
	memcpy(body + n, "\x20\x00\x08\x01\x00\x00\x00\x00\x21\x00\x00", 11); n += 11;
	memcpy(body + n, "\x03\x00\x04\xde\xad\xbe\xef", 7); n += 7;
	size_t total = v2(b, 0x21, 0x11, body, (uint16_t)n);
	rc = feed(b, total, 0, &h);
	CHECK(rc == (int)total);
	CHECK(h.ntlvs == 5);
	CHECK(h.has_aws_vpce);
	CHECK_STR(h.aws_vpce, vpce);
	CHECK(h.has_azure_linkid && h.azure_linkid == 0x12345678);

	/* a TLV that runs past the header; a truncated TLV header */
	memcpy(body, a4, 12);
	memcpy(body + 12, "\x04\x00\x05zz", 5);
	n = v2(b, 0x21, 0x11, body, 17);
	CHECK(pp_parse(b, n, 0, &h) == -PP_E_V2_TLV);
	n = v2(b, 0x21, 0x11, body, 14);
	CHECK(pp_parse(b, n, 0, &h) == -PP_E_V2_TLV);
	/* AWS TLV of another subtype, a non-printable vpce, a short Azure TLV: skipped */
	memcpy(body + 12, "\xEA\x00\x03\x02hi\xEA\x00\x03\x01h\x01\xEE\x00\x02\x01\x00", 17);
	n = v2(b, 0x21, 0x11, body, 29);
	CHECK(pp_parse(b, n, 0, &h) == (int)n && h.ntlvs == 3 && !h.has_aws_vpce &&
	      !h.has_azure_linkid);

	/* header errors */
	n = v2(b, 0x11, 0x11, a4, 12);
	CHECK(feed(b, n, 0, &h) == -PP_E_V2_VERSION);
	n = v2(b, 0x22, 0x11, a4, 12);
	CHECK(feed(b, n, 0, &h) == -PP_E_V2_COMMAND);
	n = v2(b, 0x21, 0x12, a4, 12);	/* UDP */
	CHECK(feed(b, n, 0, &h) == -PP_E_V2_FAMILY);
	n = v2(b, 0x21, 0x31, a4, 12);	/* UNIX */
	CHECK(feed(b, n, 0, &h) == -PP_E_V2_FAMILY);
	n = v2(b, 0x21, 0x11, a4, 11);
	CHECK(feed(b, n, 0, &h) == -PP_E_V2_SHORT_ADDR);
	n = v2(b, 0x21, 0x21, a6, 35);
	CHECK(feed(b, n, 0, &h) == -PP_E_V2_SHORT_ADDR);
	/* caps: refused from the length field, before the body arrives */
	memset(body, 0, sizeof(body));
	memcpy(body, a4, 12);
	body[12] = 0x04; body[13] = 0x01; body[14] = 0xF0;	/* NOOP of 496 bytes */
	n = v2(b, 0x21, 0x11, body, 12 + 3 + 496);
	CHECK(pp_parse(b, n, 0, &h) == (int)n);
	CHECK(pp_parse(b, 16, 256, &h) == -PP_E_V2_TOO_LONG);
	CHECK(pp_parse(b, 16, n, &h) == 0);
	CHECK(pp_parse(b, n, n, &h) == (int)n);
	b[14] = 0xFF; b[15] = 0xFF;	/* 65535: over the default cap */
	CHECK(pp_parse(b, 16, 0, &h) == -PP_E_V2_TOO_LONG);
}

static void
test_signature(void)
{
	struct pp_hdr h;
	uint8_t b[64];

	CHECK(pp_signature("", 0) == PP_SIG_MAYBE);
	CHECK(pp_signature("P", 1) == PP_SIG_MAYBE);
	CHECK(pp_signature("PROXY", 5) == PP_SIG_MAYBE);
	CHECK(pp_signature("PROXY ", 6) == PP_SIG_YES);
	CHECK(pp_signature("PROPFIND / HTTP/1.1", 19) == PP_SIG_NO);
	CHECK(pp_signature("POST", 4) == PP_SIG_NO);
	CHECK(pp_signature("GET", 3) == PP_SIG_NO);
	CHECK(pp_signature("\x16\x03\x01", 3) == PP_SIG_NO);
	CHECK(pp_signature(SIG, 5) == PP_SIG_MAYBE);
	CHECK(pp_signature(SIG, 12) == PP_SIG_YES);
	memcpy(b, SIG, 12);
	b[11] = 0;
	CHECK(pp_signature(b, 12) == PP_SIG_NO);
	CHECK(pp_parse(b, 12, 0, &h) == -PP_E_NOT_PROXY);
	CHECK(pp_parse("GET / HTTP/1.1\r\n", 16, 0, &h) == -PP_E_NOT_PROXY);
	CHECK(pp_parse("\x16\x03\x01\x02\x00", 5, 0, &h) == -PP_E_NOT_PROXY);
	CHECK(pp_parse("PRO", 3, 0, &h) == 0);

	/* a second header inside the first (a cloud balancer passing the client's own one):
	 * the caller sees it with pp_signature on the bytes after the header */
	const char *two = "PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\nPROXY TCP4 6.6.6.6 10.0.0.2 1 2\r\n";
	int rc = pp_parse(two, strlen(two), 0, &h);

	CHECK(rc > 0 && pp_signature(two + rc, strlen(two) - (size_t)rc) == PP_SIG_YES);
	CHECK(pp_signature(two + rc, 3) == PP_SIG_MAYBE);
	for (int e = 1; e <= PP_E_V2_TLV + 1; e++)
		CHECK(pp_strerror(-e) != NULL);
}

static struct sockaddr_storage
peer(const char *a, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };

	if (inet_pton(AF_INET, a, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	} else {
		inet_pton(AF_INET6, a, &((struct sockaddr_in6 *)&ss)->sin6_addr);
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	}
	return ss;
}

static void
test_conn_step(void)
{
	struct cidr_list from = { 0 };
	struct sockaddr_storage lb = peer("10.0.0.5", 40000), other = peer("192.0.2.1", 40000);
	struct sockaddr_storage lb6 = peer("::ffff:10.0.0.6", 40000);
	struct pp_conn c;
	char err[128], buf[200];
	const char *v1 = "PROXY TCP4 203.0.113.7 10.0.0.1 5555 443\r\n\x16\x03\x01";
	size_t hl = strlen("PROXY TCP4 203.0.113.7 10.0.0.1 5555 443\r\n");

	CHECK(cidr_list_parse("10.0.0.0/24", &from, err, sizeof(err)) == 0);
	/* a peer outside proxy_protocol_from: refused before any byte */
	CHECK(pp_conn_step(&from, (struct sockaddr *)&other, sizeof(other), "", 0, 0, &c) ==
	      PP_REJECT);
	CHECK_STR(c.why, "peer not in proxy_protocol_from");
	CHECK(pp_conn_step(&from, (struct sockaddr *)&other, sizeof(other), v1, strlen(v1), 0,
			   &c) == PP_REJECT);
	/* trusted: need more until the header and a first byte after it are there */
	CHECK(pp_conn_step(&from, (struct sockaddr *)&lb, sizeof(lb), "", 0, 0, &c) ==
	      PP_NEED_MORE);
	CHECK(pp_conn_step(&from, (struct sockaddr *)&lb, sizeof(lb), v1, hl - 1, 0, &c) ==
	      PP_NEED_MORE);
	CHECK(pp_conn_step(&from, (struct sockaddr *)&lb, sizeof(lb), v1, hl, 0, &c) ==
	      PP_NEED_MORE);
	CHECK(pp_conn_step(&from, (struct sockaddr *)&lb6, sizeof(lb6), v1, hl + 1, 0, &c) ==
	      PP_ACCEPT);
	CHECK(c.consumed == hl && c.client_len == sizeof(struct sockaddr_in));
	CHECK_STR(ntop(&c.client, buf, sizeof(buf)), "203.0.113.7/5555");
	CHECK_STR(pp_format(&c.hdr, buf, sizeof(buf)),
		  "PROXY v1 TCP4 203.0.113.7:5555 -> 10.0.0.1:443");
	/* a second header inside the first */
	const char *two = "PROXY TCP4 203.0.113.7 10.0.0.1 5555 443\r\nPROXY TCP4 6.6.6.6 "
			  "10.0.0.1 1 2\r\n";

	CHECK(pp_conn_step(&from, (struct sockaddr *)&lb, sizeof(lb), two, hl + 3, 0, &c) ==
	      PP_NEED_MORE);
	CHECK(pp_conn_step(&from, (struct sockaddr *)&lb, sizeof(lb), two, hl + 6, 0, &c) ==
	      PP_REJECT);
	CHECK_STR(c.why, "a second PROXY header follows the first");
	uint8_t b[64];
	size_t n = v2(b, 0x21, 0x11, "\x01\x02\x03\x04\x0a\x00\x00\x01\x00\x50\x01\xbb", 12);

	memcpy(b + n, SIG, 12);
	CHECK(pp_conn_step(&from, (struct sockaddr *)&lb, sizeof(lb), b, n + 12, 0, &c) ==
	      PP_REJECT);
	/* "PROPFIND" after the header is HTTP, not a header */
	memcpy(b + n, "PROPFIND", 8);
	CHECK(pp_conn_step(&from, (struct sockaddr *)&lb, sizeof(lb), b, n + 8, 0, &c) ==
	      PP_ACCEPT);
	CHECK_STR(ntop(&c.client, buf, sizeof(buf)), "1.2.3.4/80");
	/* LOCAL (health check): the peer is the client */
	n = v2(b, 0x20, 0x00, NULL, 0);
	memcpy(b + n, "GET ", 4);
	CHECK(pp_conn_step(&from, (struct sockaddr *)&lb, sizeof(lb), b, n + 4, 0, &c) ==
	      PP_ACCEPT);
	CHECK(c.consumed == 16 && c.hdr.local);
	CHECK_STR(ntop(&c.client, buf, sizeof(buf)), "10.0.0.5/40000");
	CHECK_STR(pp_format(&c.hdr, buf, sizeof(buf)), "PROXY v2 LOCAL");
	/* garbage from a trusted peer: refused with the parser's reason */
	CHECK(pp_conn_step(&from, (struct sockaddr *)&lb, sizeof(lb), "GET / HTTP/1.1\r\n", 16,
			   0, &c) == PP_REJECT);
	CHECK_STR(c.why, "no PROXY protocol signature");
	/* the TLV fields in the log fragment */
	uint8_t body[80];

	memcpy(body, "\xc0\x00\x02\x0a\xc6\x33\x64\x01\xdc\x04\x01\xbb", 12);
	memcpy(body + 12, "\xEA\x00\x06\x01vpce1\xEE\x00\x05\x01\x2a\x00\x00\x00", 17);
	n = v2(b, 0x21, 0x11, body, 29);
	b[n] = 0x16;
	CHECK(pp_conn_step(&from, (struct sockaddr *)&lb, sizeof(lb), b, n + 1, 0, &c) ==
	      PP_ACCEPT);
	CHECK_STR(pp_format(&c.hdr, buf, sizeof(buf)),
		  "PROXY v2 TCP4 192.0.2.10:56324 -> 198.51.100.1:443 tlvs=2 aws_vpce=vpce1 "
		  "azure_linkid=42");
	/* a tiny buffer is not overrun */
	CHECK(strlen(pp_format(&c.hdr, buf, 10)) == 9);
	cidr_list_free(&from);
}

int
main(void)
{
	test_v1();
	test_v2();
	test_signature();
	test_conn_step();
	return check_done();
}
