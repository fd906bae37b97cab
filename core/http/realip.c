#include "core/http/realip.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

/* An X-Forwarded-For item (spaces trimmed) as an address. false if it is none. */
static bool
parse_item(const char *s, size_t n, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *h = s, *colon;
	size_t hn = n;

	if (n == 0)
		return false;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (close == NULL)
			return false;
		h = s + 1;
		hn = (size_t)(close - h);
		/* after ']' only ":port" */
		if (close + 1 < s + n) {
			const char *p = close + 1;

			if (*p != ':' || p + 1 == s + n)
				return false;
			for (p++; p < s + n; p++)
				if (*p < '0' || *p > '9')
					return false;
		}
	} else if ((colon = memchr(s, ':', n)) != NULL &&
		   memchr(colon + 1, ':', (size_t)(s + n - colon - 1)) == NULL) {
		/* exactly one colon: IPv4:port */
		hn = (size_t)(colon - s);
		if (colon + 1 == s + n)
			return false;
		for (const char *p = colon + 1; p < s + n; p++)
			if (*p < '0' || *p > '9')
				return false;
	}
	if (hn == 0 || hn >= sizeof(host))
		return false;
	memcpy(host, h, hn);
	host[hn] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
		return true;
	}
	return false;
}

static bool
trusted_addr(const struct cidr_list *l, const struct sockaddr_storage *ss)
{
	return cidr_list_match(l, (const struct sockaddr *)ss);
}

int
realip_from_xff(const struct cidr_list *trusted, const struct sockaddr *peer, socklen_t peerlen,
		const struct realip_field *fields, int nfields, struct sockaddr_storage *out)
{
	struct sockaddr_storage cur;
	bool from_xff = false;

	memset(out, 0, sizeof(*out));
	if (peerlen > sizeof(*out))
		peerlen = sizeof(*out);
	memcpy(out, peer, peerlen);
	if (!cidr_list_match(trusted, peer))
		return 0;
	/* right to left over the fields, and inside each field over its items */
	for (int f = nfields - 1; f >= 0; f--) {
		const char *s = fields[f].v, *e = s + fields[f].len;

		while (e > s) {
			const char *b = e, *ie;

			while (b > s && b[-1] != ',')
				b--;
			ie = e;
			e = b > s ? b - 1 : s;
			while (b < ie && (*b == ' ' || *b == '\t'))
				b++;
			while (ie > b && (ie[-1] == ' ' || ie[-1] == '\t'))
				ie--;
			if (ie == b)
				continue;	/* empty item ("a,,b", trailing comma) */
			if (!parse_item(b, (size_t)(ie - b), &cur))
				return from_xff;
			*out = cur;
			from_xff = true;
			if (!trusted_addr(trusted, &cur))
				return 1;
		}
	}
	return from_xff;
}
