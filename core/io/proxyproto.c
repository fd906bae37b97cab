/*
 * PROXY protocol v1 and v2 (HAProxy doc/proxy-protocol.txt), strict where the spec allows:
 *
 * v1: "PROXY" SP ("TCP4" | "TCP6") SP src SP dst SP sport SP dport CRLF, single spaces, at
 *     most PP_V1_MAX bytes with the CRLF; addresses numeric and of the announced family
 *     (inet_pton), ports decimal 0..65535 of 1..5 digits; a bare LF or a CR not followed by
 *     LF is an error. "PROXY UNKNOWN" followed by anything printable up to CRLF is accepted
 *     as local (spec: the receiver must ignore the rest of the line).
 * v2: the 12-byte signature, version 2, command LOCAL (0) or PROXY (1). LOCAL: the address
 *     block and TLVs are skipped unread (spec: the receiver must ignore them). PROXY: family
 *     TCP over IPv4 (0x11, 12 address bytes) or IPv6 (0x21, 36), or AF_UNSPEC (0x00, treated
 *     as local as the spec allows); UDP and UNIX families are refused (ringedge listens on
 *     TCP only). The length field may exceed the address block: what follows is TLVs
 *     {type, len u16 BE, value}, each checked to end inside the header. AWS 0xEA subtype 0x01
 *     (VPC endpoint id, kept if printable ASCII, truncated to PP_AWS_VPCE_MAX - 1) and Azure
 *     0xEE subtype 0x01 (LinkID, 4 bytes little-endian) are kept for logs; other types,
 *     including CRC32C and SSL, are skipped. The whole header is capped (`max`).
 * Incremental: the function is stateless and looks at most at len bytes; "need more" is
 * returned only while the bytes so far are a valid beginning, so a slow sender of garbage is
 * refused at its first wrong byte, and a v1 line at byte PP_V1_MAX.
 */
#include "core/io/proxyproto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "core/lib/cidr.h"

static const uint8_t v2sig[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51,
				   0x55, 0x49, 0x54, 0x0A };
static const char v1sig[6] = "PROXY ";

#define TLV_AWS		0xEA
#define TLV_AZURE	0xEE
#define TLV_SUB_ONE	0x01

enum pp_sig
pp_signature(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t n1 = len < sizeof(v1sig) ? len : sizeof(v1sig);
	size_t n2 = len < sizeof(v2sig) ? len : sizeof(v2sig);

	if (len == 0)
		return PP_SIG_MAYBE;
	if (memcmp(p, v1sig, n1) == 0)
		return n1 == sizeof(v1sig) ? PP_SIG_YES : PP_SIG_MAYBE;
	if (memcmp(p, v2sig, n2) == 0)
		return n2 == sizeof(v2sig) ? PP_SIG_YES : PP_SIG_MAYBE;
	return PP_SIG_NO;
}

const char *
pp_strerror(int rc)
{
	switch (-rc) {
	case PP_E_NOT_PROXY:	return "not a PROXY protocol header";
	case PP_E_V1_SYNTAX:	return "malformed PROXY v1 header";
	case PP_E_V1_TOO_LONG:	return "PROXY v1 header too long";
	case PP_E_V2_VERSION:	return "PROXY v2: bad version";
	case PP_E_V2_COMMAND:	return "PROXY v2: bad command";
	case PP_E_V2_FAMILY:	return "PROXY v2: unsupported address family or transport";
	case PP_E_V2_TOO_LONG:	return "PROXY v2 header too long";
	case PP_E_V2_SHORT_ADDR: return "PROXY v2: length shorter than the address block";
	case PP_E_V2_TLV:	return "PROXY v2: bad TLV";
	}
	return "PROXY protocol: unknown error";
}

static int
fail(struct pp_hdr *h, enum pp_err e, const char *why)
{
	h->why = why;
	return -(int)e;
}

/* ---- v1 ---- */

/* Next space-terminated field of line[*pos..end), copied NUL-terminated into out. */
static bool
v1_field(const char *line, size_t *pos, size_t end, char sep, char *out, size_t outsz)
{
	size_t i = *pos, n = 0;

	while (i < end && line[i] != sep) {
		if (n + 1 >= outsz)
			return false;
		out[n++] = line[i++];
	}
	if (i >= end || n == 0)
		return false;
	out[n] = '\0';
	*pos = i + 1;
	return true;
}

static bool
v1_port(const char *s, uint16_t *port)
{
	unsigned v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

static bool
v1_addr(int af, const char *a, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		return inet_pton(AF_INET, a, &sin->sin_addr) == 1;
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	return inet_pton(AF_INET6, a, &sin6->sin6_addr) == 1;
}

static int
parse_v1(const char *p, size_t len, struct pp_hdr *h)
{
	size_t lim = len < PP_V1_MAX ? len : PP_V1_MAX, end, pos;
	char proto[8], src[48], dst[48], sport[8], dport[8];
	uint16_t sp, dp;
	int af;

	/* find CR; every byte before it must be printable ASCII */
	for (end = 0; end < lim; end++) {
		unsigned char c = (unsigned char)p[end];

		if (c == '\r')
			break;
		if (c < 0x20 || c > 0x7e)
			return fail(h, PP_E_V1_SYNTAX, "control byte in the v1 line");
	}
	if (end == lim)
		return len >= PP_V1_MAX ? fail(h, PP_E_V1_TOO_LONG, "no CRLF within 107 bytes") : 0;
	if (end + 1 >= len)
		return end + 1 >= PP_V1_MAX ? fail(h, PP_E_V1_TOO_LONG, "no CRLF within 107 bytes")
					    : 0;
	if (p[end + 1] != '\n')
		return fail(h, PP_E_V1_SYNTAX, "CR not followed by LF");

	h->version = 1;
	h->len = (uint32_t)(end + 2);
	pos = sizeof(v1sig);
	if (end - pos >= 7 && memcmp(p + pos, "UNKNOWN", 7) == 0 &&
	    (end - pos == 7 || p[pos + 7] == ' ')) {
		h->local = true;
		return (int)h->len;
	}
	if (!v1_field(p, &pos, end, ' ', proto, sizeof(proto)))
		return fail(h, PP_E_V1_SYNTAX, "bad protocol field");
	if (strcmp(proto, "TCP4") == 0)
		af = AF_INET;
	else if (strcmp(proto, "TCP6") == 0)
		af = AF_INET6;
	else
		return fail(h, PP_E_V1_SYNTAX, "protocol is not TCP4, TCP6 or UNKNOWN");
	if (!v1_field(p, &pos, end, ' ', src, sizeof(src)) ||
	    !v1_field(p, &pos, end, ' ', dst, sizeof(dst)))
		return fail(h, PP_E_V1_SYNTAX, "bad address field");
	if (!v1_field(p, &pos, end, ' ', sport, sizeof(sport)))
		return fail(h, PP_E_V1_SYNTAX, "bad source port");
	/* the last field runs to the CR */
	if (end - pos == 0 || end - pos >= sizeof(dport))
		return fail(h, PP_E_V1_SYNTAX, "bad destination port");
	memcpy(dport, p + pos, end - pos);
	dport[end - pos] = '\0';
	if (!v1_port(sport, &sp) || !v1_port(dport, &dp))
		return fail(h, PP_E_V1_SYNTAX, "bad port");
	if (!v1_addr(af, src, sp, &h->src) || !v1_addr(af, dst, dp, &h->dst))
		return fail(h, PP_E_V1_SYNTAX, "address not of the announced family");
	h->addrlen = af == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	return (int)h->len;
}

/* ---- v2 ---- */

static void
v2_tlv_keep(struct pp_hdr *h, uint8_t type, const uint8_t *v, size_t vlen)
{
	if (type == TLV_AWS && vlen >= 1 && v[0] == TLV_SUB_ONE) {
		size_t n = vlen - 1;

		if (n > PP_AWS_VPCE_MAX - 1)
			n = PP_AWS_VPCE_MAX - 1;
		for (size_t i = 0; i < n; i++)
			if (v[1 + i] < 0x21 || v[1 + i] > 0x7e)
				return;		/* not printable: not logged */
		memcpy(h->aws_vpce, v + 1, n);
		h->aws_vpce[n] = '\0';
		h->has_aws_vpce = true;
	} else if (type == TLV_AZURE && vlen == 5 && v[0] == TLV_SUB_ONE) {
		h->azure_linkid = (uint32_t)v[1] | (uint32_t)v[2] << 8 | (uint32_t)v[3] << 16 |
				  (uint32_t)v[4] << 24;
		h->has_azure_linkid = true;
	}
}

static int
v2_tlvs(const uint8_t *p, size_t off, size_t end, struct pp_hdr *h)
{
	while (off < end) {
		size_t vlen;

		if (end - off < 3)
			return fail(h, PP_E_V2_TLV, "truncated TLV header");
		vlen = (size_t)p[off + 1] << 8 | p[off + 2];
		if (vlen > end - off - 3)
			return fail(h, PP_E_V2_TLV, "TLV runs past the header");
		if (h->ntlvs < UINT16_MAX)
			h->ntlvs++;
		v2_tlv_keep(h, p[off], p + off + 3, vlen);
		off += 3 + vlen;
	}
	return 0;
}

static int
parse_v2(const uint8_t *p, size_t len, size_t max, struct pp_hdr *h)
{
	size_t total, alen;
	uint8_t ver, cmd, fam;
	int rc;

	if (len < 13)
		return 0;
	ver = p[12] >> 4;
	cmd = p[12] & 0x0f;
	if (ver != 2)
		return fail(h, PP_E_V2_VERSION, "version is not 2");
	if (cmd > 1)
		return fail(h, PP_E_V2_COMMAND, "command is neither LOCAL nor PROXY");
	if (len < 14)
		return 0;
	fam = p[13];
	if (cmd == 1 && fam != 0x00 && fam != 0x11 && fam != 0x21)
		return fail(h, PP_E_V2_FAMILY, "not TCP over IPv4 or IPv6");
	if (len < PP_V2_FIXED)
		return 0;
	total = PP_V2_FIXED + ((size_t)p[14] << 8 | p[15]);
	if (total > max)
		return fail(h, PP_E_V2_TOO_LONG, "header longer than the configured cap");
	alen = fam == 0x11 ? 12 : fam == 0x21 ? 36 : 0;
	if (cmd == 1 && total - PP_V2_FIXED < alen)
		return fail(h, PP_E_V2_SHORT_ADDR, "length shorter than the address block");
	if (len < total)
		return 0;

	h->version = 2;
	h->len = (uint32_t)total;
	if (cmd == 0 || fam == 0x00) {
		h->local = true;
		return (int)total;
	}
	if (fam == 0x11) {
		struct sockaddr_in *s = (struct sockaddr_in *)&h->src;
		struct sockaddr_in *d = (struct sockaddr_in *)&h->dst;

		memset(&h->src, 0, sizeof(h->src));
		memset(&h->dst, 0, sizeof(h->dst));
		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, p + 16, 4);
		memcpy(&d->sin_addr, p + 20, 4);
		memcpy(&s->sin_port, p + 24, 2);
		memcpy(&d->sin_port, p + 26, 2);
		h->addrlen = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&h->src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&h->dst;

		memset(&h->src, 0, sizeof(h->src));
		memset(&h->dst, 0, sizeof(h->dst));
		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, p + 16, 16);
		memcpy(&d->sin6_addr, p + 32, 16);
		memcpy(&s->sin6_port, p + 48, 2);
		memcpy(&d->sin6_port, p + 50, 2);
		h->addrlen = sizeof(*s);
	}
	rc = v2_tlvs(p, PP_V2_FIXED + alen, total, h);
	return rc < 0 ? rc : (int)total;
}

int
pp_parse(const void *buf, size_t len, size_t max, struct pp_hdr *h)
{
	const uint8_t *p = buf;

	memset(h, 0, sizeof(*h));
	if (max == 0)
		max = PP_MAX_DEFAULT;
	if (max > PP_V2_FIXED + 65535)
		max = PP_V2_FIXED + 65535;
	switch (pp_signature(p, len)) {
	case PP_SIG_NO:
		return fail(h, PP_E_NOT_PROXY, "no PROXY protocol signature");
	case PP_SIG_MAYBE:
		return 0;
	case PP_SIG_YES:
		break;
	}
	if (p[0] == 'P')
		return parse_v1((const char *)p, len, h);
	return parse_v2(p, len, max, h);
}

enum pp_verdict
pp_conn_step(const struct cidr_list *from, const struct sockaddr *peer, socklen_t peerlen,
	     const void *buf, size_t len, size_t max, struct pp_conn *c)
{
	const uint8_t *p = buf;
	int rc;

	memset(c, 0, sizeof(*c));
	if (!cidr_list_match(from, peer)) {
		c->why = "peer not in proxy_protocol_from";
		return PP_REJECT;
	}
	rc = pp_parse(buf, len, max, &c->hdr);
	if (rc < 0) {
		c->why = c->hdr.why ? c->hdr.why : pp_strerror(rc);
		return PP_REJECT;
	}
	if (rc == 0)
		return PP_NEED_MORE;
	switch (pp_signature(p + rc, len - (size_t)rc)) {
	case PP_SIG_YES:
		c->why = "a second PROXY header follows the first";
		return PP_REJECT;
	case PP_SIG_MAYBE:
		return PP_NEED_MORE;
	case PP_SIG_NO:
		break;
	}
	c->consumed = (uint32_t)rc;
	if (c->hdr.local) {
		if (peerlen > sizeof(c->client))
			peerlen = sizeof(c->client);
		memcpy(&c->client, peer, peerlen);
		c->client_len = peerlen;
	} else {
		c->client = c->hdr.src;
		c->client_len = c->hdr.addrlen;
	}
	return PP_ACCEPT;
}

static void
fmt_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;

		inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s->sin_port));
	} else {
		const struct sockaddr_in6 *s = (const void *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s->sin6_port));
	}
}

char *
pp_format(const struct pp_hdr *h, char *buf, size_t len)
{
	char src[64], dst[64];
	int n;

	if (h->local) {
		n = snprintf(buf, len, "PROXY v%u %s", h->version,
			     h->version == 1 ? "UNKNOWN" : "LOCAL");
	} else {
		fmt_addr(&h->src, src, sizeof(src));
		fmt_addr(&h->dst, dst, sizeof(dst));
		n = snprintf(buf, len, "PROXY v%u %s %s -> %s", h->version,
			     h->src.ss_family == AF_INET ? "TCP4" : "TCP6", src, dst);
	}
	if (n < 0 || (size_t)n >= len)
		return buf;
	if (h->ntlvs > 0)
		n += snprintf(buf + n, len - (size_t)n, " tlvs=%u", h->ntlvs);
	if (h->has_aws_vpce && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, " aws_vpce=%s", h->aws_vpce);
	if (h->has_azure_linkid && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, " azure_linkid=%u", h->azure_linkid);
	return buf;
}
