#include "core/lib/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static bool
is_v4mapped(const uint8_t a[16])
{
	return memcmp(a, v4mapped, 12) == 0;
}

int
cidr_parse(const char *s, struct cidr *out, const char **why)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t hlen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long bits, max;
	struct cidr c = { 0 };
	bool v4;

	if (hlen == 0 || hlen >= sizeof(host)) {
		*why = "not an IPv4 or IPv6 address";
		return -1;
	}
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, c.addr + 12) == 1) {
		memcpy(c.addr, v4mapped, 12);
		v4 = true;
	} else if (inet_pton(AF_INET6, host, c.addr) == 1) {
		v4 = false;
	} else {
		*why = "not an IPv4 or IPv6 address";
		return -1;
	}
	max = v4 ? 32 : 128;
	bits = max;
	if (slash != NULL) {
		const char *p = slash + 1;

		if (*p < '0' || *p > '9' || strlen(p) > 3) {
			*why = "bad prefix length";
			return -1;
		}
		bits = 0;
		for (; *p; p++) {
			if (*p < '0' || *p > '9') {
				*why = "bad prefix length";
				return -1;
			}
			bits = bits * 10 + (unsigned long)(*p - '0');
		}
		if (bits > max) {
			*why = v4 ? "prefix length over 32" : "prefix length over 128";
			return -1;
		}
	}
	c.bits = (uint8_t)(v4 ? bits + 96 : bits);
	for (unsigned i = c.bits; i < 128; i++) {
		if (c.addr[i / 8] & (0x80u >> (i % 8))) {
			*why = "host bits set after the prefix (write the network address)";
			return -1;
		}
	}
	*out = c;
	return 0;
}

int
cidr_list_parse(const char *s, struct cidr_list *l, char *err, size_t errlen)
{
	struct cidr_list nl = { 0 };
	const char *p = s;

	while (*p) {
		char item[INET6_ADDRSTRLEN + 8];
		const char *why;
		size_t n;

		p += strspn(p, ", \t");
		if (*p == '\0')
			break;
		n = strcspn(p, ", \t");
		if (n >= sizeof(item)) {
			snprintf(err, errlen, "bad CIDR \"%.*s...\": too long", 20, p);
			goto fail;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		p += n;
		if (nl.n == CIDR_LIST_MAX) {
			snprintf(err, errlen, "more than %d networks", CIDR_LIST_MAX);
			goto fail;
		}
		struct cidr *v = realloc(nl.v, (size_t)(nl.n + 1) * sizeof(*v));

		if (v == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		nl.v = v;
		if (cidr_parse(item, &nl.v[nl.n], &why) < 0) {
			snprintf(err, errlen, "bad CIDR \"%s\": %s", item, why);
			goto fail;
		}
		nl.n++;
	}
	if (nl.n == 0) {
		snprintf(err, errlen, "empty list (expected CIDR[,CIDR...])");
		goto fail;
	}
	*l = nl;
	return 0;
fail:
	free(nl.v);
	return -1;
}

void
cidr_list_free(struct cidr_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

bool
cidr_addr16(const struct sockaddr *sa, uint8_t out[16])
{
	if (sa->sa_family == AF_INET) {
		memcpy(out, v4mapped, 12);
		memcpy(out + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
		return true;
	}
	return false;
}

static bool
match_one(const struct cidr *c, const uint8_t a[16])
{
	unsigned full = c->bits / 8, rest = c->bits % 8;

	if (memcmp(c->addr, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ c->addr[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

bool
cidr_list_match16(const struct cidr_list *l, const uint8_t addr[16])
{
	for (int i = 0; l != NULL && i < l->n; i++)
		if (match_one(&l->v[i], addr))
			return true;
	return false;
}

bool
cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa)
{
	uint8_t a[16];

	return cidr_addr16(sa, a) && cidr_list_match16(l, a);
}

char *
cidr_format(const struct cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (is_v4mapped(c->addr) && c->bits >= 96) {
		inet_ntop(AF_INET, c->addr + 12, a, sizeof(a));
		snprintf(buf, len, "%s/%u", a, c->bits - 96u);
	} else {
		inet_ntop(AF_INET6, c->addr, a, sizeof(a));
		snprintf(buf, len, "%s/%u", a, (unsigned)c->bits);
	}
	return buf;
}
