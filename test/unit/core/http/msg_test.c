/*
 * core/http/msg.c unit tests: one case per rule of the proxy's head rewriting
 * (docs/internals.md "Stream", docs/http1.md "Connection options and hop-by-hop fields").
 * Each case parses a head with the real parser, builds, and compares the exact bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "core/http/h1.h"
#include "core/http/msg.h"
#include "test/unit/check.h"

static struct h1_msg m;
static char out[70000];

static void
parse(const char *head, int resp)
{
	int rc;

	h1_msg_init(&m, resp);
	rc = h1_parse_head(&m, head, strlen(head));
	CHECK(rc == (int)strlen(head));
}

/* Builds the backend request for head; returns out (NUL-terminated). */
static const char *
req(const char *head, bool upgrade, bool xff, bool tls, const char *peer,
	struct msg_req_info *info)
{
	struct msg_req_opts o = { .upgrade = upgrade, .xff = xff, .tls = tls, .peer = peer,
		.peer_len = peer ? strlen(peer) : 0 };
	struct msg_req_info dummy;
	size_t n;

	parse(head, 0);
	n = msg_build_request(out, &m, head, &o, info ? info : &dummy);
	CHECK(n <= msg_request_cap(&m));
	out[n] = '\0';
	return out;
}

static const char *
resp(const char *head, struct msg_resp_opts *o, bool *auth)
{
	bool dummy = false;
	size_t n;

	parse(head, 1);
	n = msg_build_response(out, &m, head, (uint32_t)strlen(head), o, auth ? auth : &dummy);
	CHECK(n <= msg_response_cap((uint32_t)strlen(head)));
	out[n] = '\0';
	return out;
}

static void
test_request_byte_exact(void)
{
	struct msg_req_info info;

	/* request line and kept fields byte-exact: target never decoded, case kept */
	CHECK_STR(req("GET /x/%252F?a=b HTTP/1.1\r\nhOsT: Ex.COM:8080\r\nX-A:  v  \r\n\r\n",
		false, false, false, NULL, &info),
		"GET /x/%252F?a=b HTTP/1.1\r\nhOsT: Ex.COM:8080\r\nX-A:  v\r\n\r\n");
	CHECK(info.reqline_len == strlen("GET /x/%252F?a=b HTTP/1.1"));
	CHECK(info.host_len == 11 && memcmp(out + info.host_off, "Ex.COM:8080", 11) == 0);
	/* leading empty lines are not forwarded */
	CHECK_STR(req("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", false, false, false, NULL, NULL),
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	/* HTTP/1.0 without Host: no Host line, host_len 0 */
	CHECK_STR(req("GET / HTTP/1.0\r\n\r\n", false, false, false, NULL, &info),
		"GET / HTTP/1.0\r\n\r\n");
	CHECK(info.host_len == 0);
}

static void
test_request_hop_by_hop(void)
{
	/* Connection, Keep-Alive, Proxy-Connection, TE, Trailer and named fields dropped */
	CHECK_STR(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Drop\r\n"
		"Keep-Alive: 5\r\nProxy-Connection: x\r\nTE: trailers\r\nTrailer: X\r\n"
		"X-Drop: 1\r\nX-Keep: 2\r\n\r\n", false, false, false, NULL, NULL),
		"GET / HTTP/1.1\r\nHost: a\r\nX-Keep: 2\r\n\r\n");
	/* a client cannot make the proxy drop Host or the framing */
	CHECK_STR(req("POST / HTTP/1.1\r\nHost: a\r\nConnection: Host, Content-Length\r\n"
		"Content-Length: 3\r\n\r\n", false, false, false, NULL, NULL),
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n");
}

static void
test_request_upgrade(void)
{
	const char *h = "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\n\r\n";

	CHECK_STR(req(h, true, false, false, NULL, NULL),
		"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n");
	/* not upgrading: Upgrade dropped, no Connection line */
	CHECK_STR(req(h, false, false, false, NULL, NULL), "GET /ws HTTP/1.1\r\nHost: a\r\n\r\n");
}

static void
test_request_framing(void)
{
	/* Content-Length regenerated once, at the end, from the parsed value */
	CHECK_STR(req("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\nHost: a\r\n"
		"Content-Length: 5\r\n\r\n", false, false, false, NULL, NULL),
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n");
	/* Content-Length: 0 is still sent */
	CHECK_STR(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", false, false,
		false, NULL, NULL), "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
	/* chunked: one canonical Transfer-Encoding line */
	CHECK_STR(req("POST / HTTP/1.1\r\nTransfer-Encoding: CHUNKED\r\nHost: a\r\n\r\n", false,
		false, false, NULL, NULL),
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
}

static void
test_request_absolute_form(void)
{
	struct msg_req_info info;

	/* RFC 9112 3.2.2: the target's authority replaces Host; the target stays as sent */
	CHECK_STR(req("GET http://b.example:81/p?q HTTP/1.1\r\nHost: other\r\nX: 1\r\n\r\n",
		false, false, false, NULL, &info),
		"GET http://b.example:81/p?q HTTP/1.1\r\nHost: b.example:81\r\nX: 1\r\n\r\n");
	CHECK(info.host_len == 12 && memcmp(out + info.host_off, "b.example:81", 12) == 0);
}

static void
test_request_xff(void)
{
	const char *h = "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1\r\n"
		"X-Forwarded-Proto: gopher\r\nx-forwarded-for: \r\nX-Forwarded-For: 2.2.2.2, 3.3.3.3\r\n"
		"X-B: b\r\n\r\n";

	/* on: one line, non-empty values joined, the peer last; proto replaced */
	CHECK_STR(req(h, false, true, false, "10.0.0.1", NULL),
		"GET / HTTP/1.1\r\nHost: a\r\nX-B: b\r\n"
		"X-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.1\r\nX-Forwarded-Proto: http\r\n\r\n");
	/* no X-Forwarded-For from the client: just the address; TLS listener: https */
	CHECK_STR(req("GET / HTTP/1.1\r\nHost: a\r\n\r\n", false, true, true, "[::1]:4", NULL),
		"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: [::1]:4\r\n"
		"X-Forwarded-Proto: https\r\n\r\n");
	/* off: both pass byte-exact */
	CHECK_STR(req(h, false, false, false, NULL, NULL),
		"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1\r\n"
		"X-Forwarded-Proto: gopher\r\nx-forwarded-for: \r\nX-Forwarded-For: 2.2.2.2, 3.3.3.3\r\n"
		"X-B: b\r\n\r\n");
	/* an X-Forwarded-For named in Connection is hop-by-hop: dropped, not merged */
	CHECK_STR(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Forwarded-For\r\n"
		"X-Forwarded-For: 9.9.9.9\r\n\r\n", false, true, false, "1.2.3.4", NULL),
		"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4\r\n"
		"X-Forwarded-Proto: http\r\n\r\n");
}

static void
test_response_basic(void)
{
	struct msg_resp_opts o = { .fr = H1_BODY_LENGTH, .cli_ka = true };

	/* status line byte-exact (reason kept), hop-by-hop dropped, framing regenerated */
	CHECK_STR(resp("HTTP/1.1 200 Fine Thanks\r\nConnection: keep-alive, X-H\r\nX-H: 1\r\n"
		"Content-Length: 7\r\nKeep-Alive: timeout=5\r\nX-A: a\r\n\r\n", &o, NULL),
		"HTTP/1.1 200 Fine Thanks\r\nX-A: a\r\nContent-Length: 7\r\n\r\n");
	/* no reason phrase */
	CHECK_STR(resp("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", &o, NULL),
		"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n");
	/* chunked regenerated; Upgrade dropped without a tunnel */
	o.fr = H1_BODY_CHUNKED;
	CHECK_STR(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nUpgrade: x\r\n\r\n",
		&o, NULL), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
}

/* hide_response_header: the named fields go, case-insensitive, from both lists */
static void
test_response_hide(void)
{
	char *route[] = { "x-ms-server-fqdn" }, *pool[] = { "Server", "X-Powered-By" };
	struct msg_resp_opts o = { .fr = H1_BODY_LENGTH, .cli_ka = true,
		.hide = { route, pool }, .nhide = { 1, 2 } };

	CHECK_STR(resp("HTTP/1.1 401 Unauthorized\r\nX-MS-Server-Fqdn: fe01.contoso.local\r\n"
		"server: IIS\r\nX-Powered-By: ASP.NET\r\nX-Server: keep\r\n"
		"WWW-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n", &o, NULL),
		"HTTP/1.1 401 Unauthorized\r\nX-Server: keep\r\nWWW-Authenticate: NTLM\r\n"
		"Content-Length: 0\r\n\r\n");
	/* a name that is a prefix of a field's name does not hide it */
	o.nhide[1] = 0;
	CHECK_STR(resp("HTTP/1.1 200 OK\r\nX-MS-Server-Fqdn-X: 1\r\nContent-Length: 0\r\n\r\n",
		&o, NULL), "HTTP/1.1 200 OK\r\nX-MS-Server-Fqdn-X: 1\r\nContent-Length: 0\r\n\r\n");
}

static void
test_response_connection(void)
{
	struct msg_resp_opts o = { .fr = H1_BODY_LENGTH };

	/* the client connection ends: Connection: close */
	CHECK_STR(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", &o, NULL),
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n");
	/* a keep-alive HTTP/1.0 client is told so */
	o.cli_ka = o.ver10 = true;
	CHECK_STR(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", &o, NULL),
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n");
	/* de-chunked to HTTP/1.0: no framing field, close-delimited */
	o = (struct msg_resp_opts){ .fr = H1_BODY_CHUNKED, .ver10 = true, .dechunk = true };
	CHECK_STR(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", &o, NULL),
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
	/* close-delimited body: nothing to regenerate */
	o = (struct msg_resp_opts){ .fr = H1_BODY_CLOSE };
	CHECK_STR(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", &o, NULL),
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
}

static void
test_response_no_body(void)
{
	struct msg_resp_opts o = { .fr = H1_BODY_NONE, .cli_ka = true, .head_req = true };

	/* HEAD: the first Content-Length and Transfer-Encoding pass as they are */
	CHECK_STR(resp("HTTP/1.1 200 OK\r\nContent-Length: 42\r\nContent-Length: 42\r\n\r\n", &o,
		NULL), "HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n");
	CHECK_STR(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", &o, NULL),
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	/* ... but never Transfer-Encoding to an HTTP/1.0 client */
	o.ver10 = true;
	CHECK_STR(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", &o, NULL),
		"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n");
	/* 304 to a GET: same as HEAD */
	o = (struct msg_resp_opts){ .fr = H1_BODY_NONE, .cli_ka = true };
	CHECK_STR(resp("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", &o, NULL),
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n");
	/* 204: neither */
	CHECK_STR(resp("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", &o, NULL),
		"HTTP/1.1 204 No Content\r\n\r\n");
	/* a 200 to GET regenerates */
	o.fr = H1_BODY_LENGTH;
	CHECK_STR(resp("HTTP/1.1 200 OK\r\nContent-Length: 009\r\n\r\n", &o, NULL),
		"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n");
}

static void
test_response_interim_tunnel(void)
{
	struct msg_resp_opts o = { .fr = H1_BODY_NONE, .cli_ka = false };

	/* a 1xx passes as it is (its fields too) minus hop-by-hop, no Connection line */
	CHECK(msg_status_interim(100) && msg_status_interim(103) && !msg_status_interim(101) &&
	      !msg_status_interim(200));
	CHECK_STR(resp("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\nConnection: x\r\n\r\n", &o,
		NULL), "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n");
	/* an accepted 101: Upgrade passes, Connection: upgrade */
	o.tunnel = true;
	CHECK_STR(resp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n", &o, NULL),
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: x\r\n"
		"Connection: upgrade\r\n\r\n");
}

static void
test_response_extra_auth(void)
{
	struct msg_resp_opts o = { .fr = H1_BODY_LENGTH, .cli_ka = true,
		.extra = "Set-Cookie: MS-WSMAN=1; Path=/\r\n", .extra_len = 32 };
	bool auth = false;

	/* extra lines after the kept fields, before the framing */
	CHECK_STR(resp("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=x, NTLM\r\n"
		"Content-Length: 0\r\n\r\n", &o, &auth),
		"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=x, NTLM\r\n"
		"Set-Cookie: MS-WSMAN=1; Path=/\r\nContent-Length: 0\r\n\r\n");
	CHECK(auth);
	auth = false;
	o.extra_len = 0;
	resp("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"NTLM\"\r\n"
		"Content-Length: 0\r\n\r\n", &o, &auth);
	CHECK(!auth);
}

static void
test_auth_scheme(void)
{
	CHECK(msg_auth_scheme("NTLM", 4));
	CHECK(msg_auth_scheme("ntlm TlRMTVNTUAAB", 17));
	CHECK(msg_auth_scheme("Negotiate", 9));
	CHECK(msg_auth_scheme("Negotiate, NTLM", 15));
	CHECK(msg_auth_scheme("Basic realm=\"a, NTLM\", Negotiate", 32));
	CHECK(!msg_auth_scheme("Basic realm=\"a, NTLM\"", 21));
	CHECK(!msg_auth_scheme("NTLM=1", 6));
	CHECK(!msg_auth_scheme("NTLMv2", 6));
	CHECK(!msg_auth_scheme("", 0));
	CHECK(!msg_auth_scheme("Bearer x", 8));
}

static void
test_simple_and_redirect(void)
{
	char buf[512];
	size_t n;

	n = msg_build_simple(buf, sizeof(buf), 404, NULL, true, false);
	CHECK(n == strlen(buf));
	CHECK_STR(buf, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n"
		"\r\n404 Not Found\n");
	msg_build_simple(buf, sizeof(buf), 503, "Retry-After: 5\r\n", false, true);
	CHECK_STR(buf, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
		"Content-Length: 24\r\nRetry-After: 5\r\nConnection: close\r\n\r\n");
	CHECK_STR(msg_status_text(599), "Error");
	/* the plain listener's port goes, an IPv6 literal keeps its colons */
	n = msg_redirect_location(buf, "a.example:80", 12, "/p?q", 4);
	CHECK(n == strlen(buf));
	CHECK_STR(buf, "Location: https://a.example/p?q\r\n");
	msg_redirect_location(buf, "[::1]", 5, "/", 1);
	CHECK_STR(buf, "Location: https://[::1]/\r\n");
	msg_redirect_location(buf, "[::1]:8080", 10, "/", 1);
	CHECK_STR(buf, "Location: https://[::1]/\r\n");
}

int
main(void)
{
	test_request_byte_exact();
	test_request_hop_by_hop();
	test_request_upgrade();
	test_request_framing();
	test_request_absolute_form();
	test_request_xff();
	test_response_basic();
	test_response_connection();
	test_response_hide();
	test_response_no_body();
	test_response_interim_tunnel();
	test_response_extra_auth();
	test_auth_scheme();
	test_simple_and_redirect();
	return check_done();
}
