/* Real client address from X-Forwarded-For (core/http/realip.c), nginx realip semantics. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/http/realip.h"
#include "test/unit/check.h"

static struct cidr_list trusted;

static struct sockaddr_storage
sa(const char *a, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };

	if (inet_pton(AF_INET, a, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, a, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	}
	return ss;
}

static char out_text[64];
static int out_rc;

/* Runs realip for peer and up to three fields; returns the client as text. */
static const char *
client(const char *peer, const char *f1, const char *f2, const char *f3)
{
	struct sockaddr_storage p = sa(peer, 40000), out;
	struct realip_field f[3];
	int n = 0;

	if (f1) f[n++] = (struct realip_field){ f1, strlen(f1) };
	if (f2) f[n++] = (struct realip_field){ f2, strlen(f2) };
	if (f3) f[n++] = (struct realip_field){ f3, strlen(f3) };
	out_rc = realip_from_xff(&trusted, (struct sockaddr *)&p, sizeof(p), f, n, &out);
	if (out.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&out)->sin_addr, out_text,
			  sizeof(out_text));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&out)->sin6_addr, out_text,
			  sizeof(out_text));
	return out_text;
}

int
main(void)
{
	char err[128];

	CHECK(cidr_list_parse("10.0.0.0/8,2001:db8:1::/48", &trusted, err, sizeof(err)) == 0);

	/* untrusted peer: its own address, XFF ignored (anyone can write one) */
	CHECK_STR(client("203.0.113.9", "1.1.1.1", NULL, NULL), "203.0.113.9");
	CHECK(out_rc == 0);
	/* trusted peer: the rightmost untrusted address wins */
	CHECK_STR(client("10.0.0.5", "1.1.1.1, 198.51.100.7", NULL, NULL), "198.51.100.7");
	CHECK(out_rc == 1);
	CHECK_STR(client("10.0.0.5", "1.1.1.1, 198.51.100.7, 10.9.9.9", NULL, NULL),
		  "198.51.100.7");
	/* a client-forged leftmost entry does not win */
	CHECK_STR(client("10.0.0.5", "6.6.6.6, 198.51.100.7,10.1.1.1 ", NULL, NULL),
		  "198.51.100.7");
	/* several fields are one list, in order */
	CHECK_STR(client("10.0.0.5", "6.6.6.6", "198.51.100.7", "10.2.2.2"), "198.51.100.7");
	CHECK_STR(client("10.0.0.5", "198.51.100.7", "10.3.3.3, 10.2.2.2", NULL),
		  "198.51.100.7");
	/* every address trusted: the leftmost */
	CHECK_STR(client("10.0.0.5", "10.7.7.7, 10.8.8.8", NULL, NULL), "10.7.7.7");
	CHECK(out_rc == 1);
	/* no field, or an empty one: the peer */
	CHECK_STR(client("10.0.0.5", NULL, NULL, NULL), "10.0.0.5");
	CHECK(out_rc == 0);
	CHECK_STR(client("10.0.0.5", "", " , ", NULL), "10.0.0.5");
	/* garbage stops the walk at the last address reached (trusted) */
	CHECK_STR(client("10.0.0.5", "1.1.1.1, unknown, 10.4.4.4", NULL, NULL), "10.4.4.4");
	CHECK_STR(client("10.0.0.5", "1.1.1.1, 1.1.1.1.1", NULL, NULL), "10.0.0.5");
	CHECK(out_rc == 0);
	/* ports and brackets */
	CHECK_STR(client("10.0.0.5", "198.51.100.7:5555", NULL, NULL), "198.51.100.7");
	CHECK_STR(client("10.0.0.5", "[2001:db8:2::1]:443", NULL, NULL), "2001:db8:2::1");
	CHECK_STR(client("10.0.0.5", "[2001:db8:2::1]", NULL, NULL), "2001:db8:2::1");
	CHECK_STR(client("10.0.0.5", "2001:db8:2::1", NULL, NULL), "2001:db8:2::1");
	CHECK_STR(client("10.0.0.5", "1.1.1.1, 198.51.100.7:", NULL, NULL), "10.0.0.5");
	CHECK_STR(client("10.0.0.5", "[2001:db8:2::1]x", NULL, NULL), "10.0.0.5");
	/* IPv6 trusted hops, v4-mapped peer */
	CHECK_STR(client("::ffff:10.0.0.5", "198.51.100.7, 2001:db8:1::9", NULL, NULL),
		  "198.51.100.7");
	CHECK_STR(client("2001:db8:1::2", "2001:db8:3::3", NULL, NULL), "2001:db8:3::3");
	cidr_list_free(&trusted);
	return check_done();
}
