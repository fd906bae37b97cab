/*
 * tls/tlssan.c unit tests: iPAddress SANs read from hand-built extension DER (valid, odd and
 * malformed), each input copied to a buffer of its exact size (ASan sees any over-read),
 * and IP literals in Host values and server names.
 */
#include <stdlib.h>
#include <string.h>

#include "tls/tlssan.h"
#include "test/unit/check.h"

/* Appends tag + DER length + content to b at *n. */
static void
put(uint8_t *b, size_t *n, uint8_t tag, const uint8_t *c, size_t len)
{
	b[(*n)++] = tag;
	if (len < 0x80) {
		b[(*n)++] = (uint8_t)len;
	} else if (len < 0x100) {
		b[(*n)++] = 0x81;
		b[(*n)++] = (uint8_t)len;
	} else {
		b[(*n)++] = 0x82;
		b[(*n)++] = (uint8_t)(len >> 8);
		b[(*n)++] = (uint8_t)len;
	}
	memcpy(b + *n, c, len);
	*n += len;
}

static const uint8_t SAN_OID[] = { 0x55, 0x1d, 0x11 };
static const uint8_t BC_OID[] = { 0x55, 0x1d, 0x13 };
static const uint8_t V4[] = { 127, 0, 0, 1 };
static const uint8_t V6[16] = { [15] = 1 };

/* An Extension: OID, optional critical, extnValue holding `val`. */
static size_t
ext(uint8_t *out, const uint8_t *oid, int critical, const uint8_t *val, size_t vlen)
{
	uint8_t in[1024];
	size_t n = 0, m = 0;
	static const uint8_t t[] = { 0xff };

	put(in, &n, 0x06, oid, 3);
	if (critical)
		put(in, &n, 0x01, t, 1);
	put(in, &n, 0x04, val, vlen);
	put(out, &m, 0x30, in, n);
	return m;
}

/* Runs tls_san_ips on a heap copy of exactly len bytes. */
static int
san(const uint8_t *der, size_t len, struct tls_ip *out, int max)
{
	uint8_t *copy = malloc(len ? len : 1);
	int n;

	memcpy(copy, der, len);
	n = tls_san_ips(copy, len, out, max);
	free(copy);
	return n;
}

static void
test_der(void)
{
	uint8_t names[256], gn[256], exts[512], seq[600], wrapped[700], bc[16];
	size_t nn = 0, ng = 0, ne = 0, ns = 0, nw = 0, nb = 0;
	struct tls_ip ips[4];
	static const uint8_t mask8[8] = { 10, 0, 0, 0, 255, 0, 0, 0 };

	/* GeneralNames: a DNS name, 127.0.0.1, an address/mask pair (skipped), ::1 */
	put(names, &nn, 0x82, (const uint8_t *)"a.test", 6);
	put(names, &nn, 0x87, V4, 4);
	put(names, &nn, 0x87, mask8, 8);
	put(names, &nn, 0x87, V6, 16);
	put(gn, &ng, 0x30, names, nn);
	put(bc, &nb, 0x30, V4, 0);
	ne += ext(exts + ne, BC_OID, 1, bc, nb);
	ne += ext(exts + ne, SAN_OID, 0, gn, ng);
	put(seq, &ns, 0x30, exts, ne);
	put(wrapped, &nw, 0xa3, seq, ns);

	CHECK(san(seq, ns, ips, 4) == 2);
	CHECK(ips[0].len == 4 && memcmp(ips[0].a, V4, 4) == 0);
	CHECK(ips[1].len == 16 && memcmp(ips[1].a, V6, 16) == 0);
	memset(ips, 0, sizeof(ips));
	CHECK(san(wrapped, nw, ips, 4) == 2);
	CHECK(ips[0].len == 4 && ips[1].len == 16);
	/* counting only, and a short out array: the count is still the total */
	CHECK(san(wrapped, nw, NULL, 0) == 2);
	CHECK(san(wrapped, nw, ips, 1) == 2 && ips[0].len == 4);
	/* a critical subjectAltName reads the same */
	{
		uint8_t e2[512], s2[600];
		size_t n2 = 0, m2 = 0;

		n2 += ext(e2, SAN_OID, 1, gn, ng);
		put(s2, &m2, 0x30, e2, n2);
		CHECK(san(s2, m2, ips, 4) == 2);
	}
	/* no subjectAltName, or no extensions at all */
	{
		uint8_t e3[64], s3[80];
		size_t n3 = 0, m3 = 0;

		n3 += ext(e3, BC_OID, 1, bc, nb);
		put(s3, &m3, 0x30, e3, n3);
		CHECK(san(s3, m3, ips, 4) == 0);
		CHECK(tls_san_ips(NULL, 0, ips, 4) == 0);
	}
	/* every truncation of a valid input is refused, never read past */
	for (size_t cut = 1; cut < nw; cut++)
		CHECK(san(wrapped, cut, ips, 4) == -1);
	/* malformed: indefinite length, 5-byte length, high tag, wrong outer tag */
	{
		static const uint8_t indef[] = { 0x30, 0x80, 0x00, 0x00 };
		static const uint8_t len5[] = { 0x30, 0x85, 0, 0, 0, 0, 1, 0 };
		static const uint8_t hightag[] = { 0x1f, 0x01, 0x00 };
		static const uint8_t notseq[] = { 0x31, 0x00 };
		static const uint8_t ext_not_seq[] = { 0x30, 0x02, 0x04, 0x00 };

		CHECK(san(indef, sizeof(indef), ips, 4) == -1);
		CHECK(san(len5, sizeof(len5), ips, 4) == -1);
		CHECK(san(hightag, sizeof(hightag), ips, 4) == -1);
		CHECK(san(notseq, sizeof(notseq), ips, 4) == -1);
		CHECK(san(ext_not_seq, sizeof(ext_not_seq), ips, 4) == -1);
	}
	/* extnValue with bytes after GeneralNames, or not a SEQUENCE inside */
	{
		uint8_t v[300], e4[400], s4[450];
		size_t nv = 0, n4 = 0, m4 = 0;

		memcpy(v, gn, ng);
		nv = ng;
		v[nv++] = 0x00;
		n4 += ext(e4, SAN_OID, 0, v, nv);
		put(s4, &m4, 0x30, e4, n4);
		CHECK(san(s4, m4, ips, 4) == -1);
		nv = n4 = m4 = 0;
		put(v, &nv, 0x31, names, nn);
		n4 += ext(e4, SAN_OID, 0, v, nv);
		put(s4, &m4, 0x30, e4, n4);
		CHECK(san(s4, m4, ips, 4) == -1);
	}
}

static int
lit(const char *s, struct tls_ip *ip)
{
	size_t len = strlen(s);
	char *copy = malloc(len ? len : 1);
	int ok;

	memcpy(copy, s, len);
	ok = tls_ip_literal(copy, len, ip);
	free(copy);
	return ok;
}

static void
test_literals(void)
{
	struct tls_ip ip;

	CHECK(lit("127.0.0.1", &ip) && ip.len == 4 && memcmp(ip.a, V4, 4) == 0);
	CHECK(lit("127.0.0.1:8443", &ip) && ip.len == 4 && memcmp(ip.a, V4, 4) == 0);
	CHECK(lit("[::1]", &ip) && ip.len == 16 && memcmp(ip.a, V6, 16) == 0);
	CHECK(lit("[::1]:443", &ip) && ip.len == 16);
	CHECK(lit("::1", &ip) && ip.len == 16 && memcmp(ip.a, V6, 16) == 0);
	CHECK(lit("[2001:db8::1]", &ip) && ip.len == 16 && ip.a[0] == 0x20 && ip.a[15] == 1);
	CHECK(lit("[::ffff:127.0.0.1]", &ip) && ip.len == 16);
	CHECK(!lit("", &ip));
	CHECK(!lit("meet.contoso.com", &ip));
	CHECK(!lit("meet.contoso.com:443", &ip));
	CHECK(!lit("127.1", &ip));
	CHECK(!lit("0127.0.0.1", &ip));
	CHECK(!lit("127.0.0.1.", &ip));
	CHECK(!lit("256.0.0.1", &ip));
	CHECK(!lit("[127.0.0.1]", &ip));
	CHECK(!lit("[::1", &ip));
	CHECK(!lit("[::1]x", &ip));
	CHECK(!lit("[]", &ip));
	CHECK(!lit("1::2::3", &ip));
	CHECK(!lit("[0000:0000:0000:0000:0000:0000:0000:0000:0000]", &ip));
	CHECK(!lit("127.0.0.1:", &ip) || ip.len == 4);	/* empty port: still the address */
}

int
main(void)
{
	test_der();
	test_literals();
	return check_done();
}
