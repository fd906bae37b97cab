/* IP-address SANs from a certificate's extensions (DER) and IP literals: see tls/tlssan.h. */
#include <arpa/inet.h>
#include <string.h>

#include "tls/tlssan.h"

/* A DER element: tag, and its contents at p[0..len). */
struct tlv {
	uint8_t		tag;
	const uint8_t	*p;
	size_t		len;
};

/*
 * Reads the element at *pp (below end) and moves *pp past it. Returns 0, or -1 for what a
 * certificate's extensions never hold validly: a high tag number, the indefinite length, a
 * length over 4 bytes or past end.
 */
static int
tlv_next(const uint8_t **pp, const uint8_t *end, struct tlv *t)
{
	const uint8_t *p = *pp;
	size_t n;

	if (end - p < 2)
		return -1;
	t->tag = *p++;
	if ((t->tag & 0x1f) == 0x1f)
		return -1;
	n = *p++;
	if (n & 0x80) {
		unsigned k = n & 0x7f;

		if (k == 0 || k > 4 || (size_t)(end - p) < k)
			return -1;
		for (n = 0; k > 0; k--)
			n = n << 8 | *p++;
	}
	if ((size_t)(end - p) < n)
		return -1;
	t->p = p;
	t->len = n;
	*pp = p + n;
	return 0;
}

/* GeneralNames (a SEQUENCE) in g: appends the iPAddress entries. Returns found or -1. */
static int
general_names(const struct tlv *g, struct tls_ip *out, int max, int found)
{
	const uint8_t *p = g->p, *end = g->p + g->len;
	struct tlv n;

	if (g->tag != 0x30)
		return -1;
	while (p < end) {
		if (tlv_next(&p, end, &n) < 0)
			return -1;
		/* [7] IMPLICIT OCTET STRING; 8 and 32 bytes are address/mask (name constraints) */
		if (n.tag != 0x87 || (n.len != 4 && n.len != 16))
			continue;
		if (found < max) {
			out[found].len = (uint8_t)n.len;
			memset(out[found].a, 0, sizeof(out[found].a));
			memcpy(out[found].a, n.p, n.len);
		}
		found++;
	}
	return found;
}

int
tls_san_ips(const uint8_t *der, size_t len, struct tls_ip *out, int max)
{
	static const uint8_t san_oid[] = { 0x55, 0x1d, 0x11 };	/* 2.5.29.17 */
	const uint8_t *p = der, *end = der + len, *q, *qend;
	struct tlv t, ext, f;
	int found = 0;

	if (der == NULL || len == 0)
		return 0;
	if (tlv_next(&p, end, &t) < 0)
		return -1;
	if (t.tag == 0xa3) {
		/* [3] EXPLICIT Extensions */
		p = t.p;
		end = t.p + t.len;
		if (tlv_next(&p, end, &t) < 0)
			return -1;
	}
	if (t.tag != 0x30)
		return -1;
	p = t.p;
	end = t.p + t.len;
	while (p < end) {
		/* Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue } */
		if (tlv_next(&p, end, &ext) < 0 || ext.tag != 0x30)
			return -1;
		q = ext.p;
		qend = ext.p + ext.len;
		if (tlv_next(&q, qend, &f) < 0 || f.tag != 0x06)
			return -1;
		if (f.len != sizeof(san_oid) || memcmp(f.p, san_oid, sizeof(san_oid)) != 0)
			continue;
		if (tlv_next(&q, qend, &f) < 0)
			return -1;
		if (f.tag == 0x01 && tlv_next(&q, qend, &f) < 0)
			return -1;
		if (f.tag != 0x04)
			return -1;
		/* extnValue: OCTET STRING holding the GeneralNames SEQUENCE, nothing after it */
		q = f.p;
		qend = f.p + f.len;
		if (tlv_next(&q, qend, &t) < 0 || q != qend)
			return -1;
		if ((found = general_names(&t, out, max, found)) < 0)
			return -1;
	}
	return found;
}

bool
tls_ip_literal(const char *host, size_t len, struct tls_ip *ip)
{
	char s[INET6_ADDRSTRLEN + 1];
	const char *close, *colon;

	if (host == NULL || len == 0)
		return false;
	if (host[0] == '[') {
		/* "[v6]" or "[v6]:port" */
		close = memchr(host, ']', len);
		if (close == NULL)
			return false;
		if ((size_t)(close - host) + 1 < len && close[1] != ':')
			return false;
		host++;
		len = (size_t)(close - host);
		if (len == 0 || len >= sizeof(s))
			return false;
		memcpy(s, host, len);
		s[len] = '\0';
		ip->len = 16;
		return inet_pton(AF_INET6, s, ip->a) == 1;
	}
	colon = memchr(host, ':', len);
	if (colon != NULL && memchr(colon + 1, ':', len - (size_t)(colon - host) - 1) != NULL) {
		/* two colons: a bare IPv6 literal (a server name, never a Host value) */
		if (len >= sizeof(s))
			return false;
		memcpy(s, host, len);
		s[len] = '\0';
		ip->len = 16;
		return inet_pton(AF_INET6, s, ip->a) == 1;
	}
	if (colon != NULL)
		len = (size_t)(colon - host);	/* "v4:port" */
	/* a dotted quad starts with a digit: names (every request's Host) stop here */
	if (len == 0 || len >= sizeof(s) || host[0] < '0' || host[0] > '9')
		return false;
	memcpy(s, host, len);
	s[len] = '\0';
	memset(ip->a, 0, sizeof(ip->a));
	ip->len = 4;
	return inet_pton(AF_INET, s, ip->a) == 1;
}
