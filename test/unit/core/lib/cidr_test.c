/* CIDR lists (core/lib/cidr.c): parsing, errors, IPv4/IPv6/v4-mapped matching. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/lib/cidr.h"
#include "test/unit/check.h"

static struct sockaddr_storage
sa(const char *a)
{
	struct sockaddr_storage ss = { 0 };

	if (inet_pton(AF_INET, a, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, a, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	return ss;
}

static bool
m(const struct cidr_list *l, const char *a)
{
	struct sockaddr_storage ss = sa(a);

	return cidr_list_match(l, (struct sockaddr *)&ss);
}

int
main(void)
{
	struct cidr_list l = { 0 };
	struct cidr c;
	const char *why;
	char err[256], buf[64];

	CHECK(cidr_list_parse("10.0.0.0/8, 192.0.2.7,2001:db8::/32 ::1", &l, err,
			      sizeof(err)) == 0);
	CHECK(l.n == 4);
	CHECK(m(&l, "10.0.0.0") && m(&l, "10.255.255.255") && !m(&l, "11.0.0.0"));
	CHECK(m(&l, "192.0.2.7") && !m(&l, "192.0.2.8"));
	CHECK(m(&l, "2001:db8:ffff::1") && !m(&l, "2001:db9::1"));
	CHECK(m(&l, "::1") && !m(&l, "::2"));
	/* an IPv4 peer on a dual-stack socket is v4-mapped */
	CHECK(m(&l, "::ffff:10.1.2.3") && !m(&l, "::ffff:11.1.2.3"));
	CHECK_STR(cidr_format(&l.v[0], buf, sizeof(buf)), "10.0.0.0/8");
	CHECK_STR(cidr_format(&l.v[1], buf, sizeof(buf)), "192.0.2.7/32");
	CHECK_STR(cidr_format(&l.v[2], buf, sizeof(buf)), "2001:db8::/32");
	cidr_list_free(&l);

	/* a v4-mapped network written as IPv6 matches IPv4 peers */
	CHECK(cidr_list_parse("::ffff:172.16.0.0/108", &l, err, sizeof(err)) == 0);
	CHECK(m(&l, "172.16.5.5") && m(&l, "172.31.255.255") && !m(&l, "172.32.0.0"));
	cidr_list_free(&l);
	/* odd prefix lengths */
	CHECK(cidr_list_parse("192.168.0.0/23,fe80::/10", &l, err, sizeof(err)) == 0);
	CHECK(m(&l, "192.168.1.255") && !m(&l, "192.168.2.0"));
	CHECK(m(&l, "febf::1") && !m(&l, "fec0::1"));
	cidr_list_free(&l);
	/* everything */
	CHECK(cidr_list_parse("0.0.0.0/0", &l, err, sizeof(err)) == 0);
	CHECK(m(&l, "1.2.3.4") && !m(&l, "2001:db8::1"));
	cidr_list_free(&l);
	CHECK(cidr_list_parse("::/0", &l, err, sizeof(err)) == 0);
	CHECK(m(&l, "1.2.3.4") && m(&l, "2001:db8::1"));
	cidr_list_free(&l);

	/* errors */
	CHECK(cidr_parse("10.0.0.1/8", &c, &why) < 0 && strstr(why, "host bits") != NULL);
	CHECK(cidr_parse("10.0.0.0/33", &c, &why) < 0);
	CHECK(cidr_parse("2001:db8::/129", &c, &why) < 0);
	CHECK(cidr_parse("10.0.0.0/", &c, &why) < 0);
	CHECK(cidr_parse("10.0.0.0/8x", &c, &why) < 0);
	CHECK(cidr_parse("10.0.0.0/-1", &c, &why) < 0);
	CHECK(cidr_parse("10.0.0/8", &c, &why) < 0);
	CHECK(cidr_parse("host.example", &c, &why) < 0);
	CHECK(cidr_parse("[::1]", &c, &why) < 0);
	CHECK(cidr_parse("/8", &c, &why) < 0);
	CHECK(cidr_parse("10.0.0.0/0008", &c, &why) < 0);
	l.n = 7;	/* untouched on error */
	l.v = NULL;
	CHECK(cidr_list_parse("10.0.0.0/8,bogus", &l, err, sizeof(err)) < 0);
	CHECK_STR(err, "bad CIDR \"bogus\": not an IPv4 or IPv6 address");
	CHECK(l.n == 7);
	CHECK(cidr_list_parse(" , ", &l, err, sizeof(err)) < 0);
	CHECK(strstr(err, "empty") != NULL);
	CHECK(cidr_list_parse("1.2.3.4/24", &l, err, sizeof(err)) < 0);
	CHECK(strstr(err, "1.2.3.4/24") != NULL);

	/* no list matches nothing; other families never match */
	struct sockaddr sun = { .sa_family = AF_UNIX };

	l.n = 0;
	CHECK(!m(&l, "1.2.3.4"));
	CHECK(!cidr_list_match(NULL, &sun));
	return check_done();
}
