/*
 * core/acme/responder.c: the challenge table (put, lookup, replace, delete, limits), the
 * lock-free checks, and the ClientHello ALPN scan on real ClientHellos (made by openssl
 * s_client against a socket we read) and on truncations of them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../check.h"
#include "core/acme/responder.h"

#define P RESPONDER_HTTP_PREFIX

static void
test_http(void)
{
	char out[256];
	const char *t = P "tok-EN_1";

	CHECK(responder_http_is_acme(t, strlen(t)));
	CHECK(!responder_http_is_acme("/.well-known/acme-challeng", 26));
	CHECK(!responder_http_is_acme("/meet/", 6));
	CHECK(responder_http_lookup(t, strlen(t), out, sizeof(out)) == -ENOENT);
	CHECK(responder_http_put("tok-EN_1", "tok-EN_1.thumb") == 0);
	CHECK(responder_http_lookup(t, strlen(t), out, sizeof(out)) == 14);
	CHECK_STR(out, "tok-EN_1.thumb");
	/* query string ignored; other tokens, traversal and bad characters are 404 */
	CHECK(responder_http_lookup(P "tok-EN_1?x=1", strlen(P "tok-EN_1?x=1"), out,
				    sizeof(out)) == 14);
	CHECK(responder_http_lookup(P "tok-EN_", strlen(P "tok-EN_"), out, sizeof(out)) == -ENOENT);
	CHECK(responder_http_lookup(P "../tok-EN_1", strlen(P "../tok-EN_1"), out, sizeof(out)) ==
	      -ENOENT);
	CHECK(responder_http_lookup(P, strlen(P), out, sizeof(out)) == -ENOENT);
	CHECK(responder_http_lookup(t, strlen(t), out, 5) == -ENOSPC);
	/* target is bytes, not a C string: a longer buffer does not leak into the token */
	CHECK(responder_http_lookup(P "tok-EN_1 HTTP/1.1", strlen(P "tok-EN_1"), out,
				    sizeof(out)) == 14);
	CHECK(responder_http_put("bad/token", "x") == -EINVAL);
	CHECK(responder_http_put("", "x") == -EINVAL);
	/* replace, delete */
	CHECK(responder_http_put("tok-EN_1", "second") == 0);
	CHECK(responder_http_lookup(t, strlen(t), out, sizeof(out)) == 6);
	responder_http_del("tok-EN_1");
	CHECK(responder_http_lookup(t, strlen(t), out, sizeof(out)) == -ENOENT);
	/* the table is bounded */
	for (int i = 0; i < RESPONDER_MAX; i++) {
		char tok[32];

		snprintf(tok, sizeof(tok), "t%d", i);
		CHECK(responder_http_put(tok, "k") == 0);
	}
	CHECK(responder_http_put("one-more", "k") == -ENOSPC);
	responder_clear();
	CHECK(responder_http_put("one-more", "k") == 0);
	responder_clear();
}

static void
test_alpn_table(void)
{
	uint8_t *c, *k;
	size_t cl, kl;

	CHECK(responder_alpn_pending() == 0);
	CHECK(responder_alpn_put("meet.example.test", (const uint8_t *)"CERT", 4,
				 (const uint8_t *)"KEY", 3) == 0);
	CHECK(responder_alpn_put("owa.example.test", (const uint8_t *)"C2", 2,
				 (const uint8_t *)"K2", 2) == 0);
	CHECK(responder_alpn_pending() == 2);
	CHECK(responder_alpn_get("MEET.example.test", &c, &cl, &k, &kl) == 0);
	CHECK(cl == 4 && memcmp(c, "CERT", 4) == 0 && kl == 3 && memcmp(k, "KEY", 3) == 0);
	free(c);
	free(k);
	CHECK(responder_alpn_get("dialin.example.test", &c, &cl, &k, &kl) == -ENOENT);
	/* replacing keeps the count */
	CHECK(responder_alpn_put("meet.example.test", (const uint8_t *)"C3", 2,
				 (const uint8_t *)"K3", 2) == 0);
	CHECK(responder_alpn_pending() == 2);
	responder_alpn_del("meet.example.test");
	CHECK(responder_alpn_pending() == 1);
	responder_clear();
	CHECK(responder_alpn_pending() == 0);
}

/* The first record openssl s_client sends with the given -alpn (NULL = none). */
static size_t
client_hello(const char *alpn, uint8_t *buf, size_t len)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int ls = socket(AF_INET, SOCK_STREAM, 0), c;
	char cmd[256];
	size_t have = 0;
	FILE *p;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(ls, 1) < 0 ||
	    getsockname(ls, (struct sockaddr *)&sin, &sl) < 0)
		return 0;
	snprintf(cmd, sizeof(cmd), "timeout 5 openssl s_client -connect 127.0.0.1:%d "
		 "-servername meet.example.test %s%s </dev/null >/dev/null 2>&1",
		 ntohs(sin.sin_port), alpn ? "-alpn " : "", alpn ? alpn : "");
	p = popen(cmd, "r");
	c = accept(ls, NULL, NULL);
	close(ls);
	if (c < 0) {
		pclose(p);
		return 0;
	}
	while (have < len) {
		ssize_t r = recv(c, buf + have, len - have, 0);

		if (r <= 0)
			break;
		have += (size_t)r;
		if (have >= 5 && have >= 5 + (size_t)(buf[3] << 8 | buf[4]))
			break;
	}
	close(c);
	pclose(p);
	return have >= 5 ? 5 + (size_t)(buf[3] << 8 | buf[4]) : 0;
}

static void
test_hello(void)
{
	uint8_t h[16384 + 5];
	size_t n;

	if (system("command -v openssl >/dev/null") != 0) {
		fprintf(stderr, "openssl not installed: ClientHello cases skipped\n");
		return;
	}
	n = client_hello("acme-tls/1", h, sizeof(h));
	CHECK(n > 100);
	CHECK(responder_hello_wants_acme(h, n));
	/* every truncation is a clean "no" */
	for (size_t i = 0; i < n; i++)
		CHECK(!responder_hello_wants_acme(h, i) || i >= n);
	n = client_hello("http/1.1,acme-tls/1", h, sizeof(h));
	CHECK(responder_hello_wants_acme(h, n));
	n = client_hello("http/1.1,acme-tls/2", h, sizeof(h));
	CHECK(n > 100 && !responder_hello_wants_acme(h, n));
	n = client_hello(NULL, h, sizeof(h));
	CHECK(n > 100 && !responder_hello_wants_acme(h, n));
	CHECK(!responder_hello_wants_acme((const uint8_t *)"GET / HTTP/1.1\r\n", 16));
}

int
main(void)
{
	test_http();
	test_alpn_table();
	test_hello();
	return check_done();
}
