/*
 * config/ unit tests: value parsers, every error the loader reports (exact FILE:LINE text),
 * defaults, the example configurations, and the generated reference in docs/.
 * argv[1] is the source root.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "config/config.h"
#include "test/unit/check.h"

static const char *srcdir = ".";

/* Loads `text` as t.ini and checks that the error text contains each expected line. */
static void
expect_errors(int line, const char *text, unsigned flags, const char *const *want, int nwant)
{
	struct cfg_errors err = { 0 };
	struct config *c = config_load_string("t.ini", text, flags, &err);

	check_total++;
	if (c != NULL) {
		check_failed++;
		fprintf(stderr, "%s:%d: config loaded but errors were expected\n", __FILE__, line);
		config_free(c);
		return;
	}
	for (int i = 0; i < nwant; i++) {
		char needle[600];

		snprintf(needle, sizeof(needle), "%s\n", want[i]);
		check_total++;
		if (err.text == NULL || strstr(err.text, needle) == NULL) {
			check_failed++;
			fprintf(stderr, "%s:%d: missing error line:\n  want: %s\n  got:\n%s", __FILE__,
				line, want[i], err.text ? err.text : "(none)\n");
		}
	}
	cfg_errors_free(&err);
}

/* ...and that none of its lines contains any of the given fragments (no follow-on errors) */
static void
expect_no_errors(int line, const char *text, unsigned flags, const char *const *bad, int nbad)
{
	struct cfg_errors err = { 0 };
	struct config *c = config_load_string("t.ini", text, flags, &err);

	config_free(c);
	for (int i = 0; i < nbad; i++) {
		check_total++;
		if (err.text != NULL && strstr(err.text, bad[i]) != NULL) {
			check_failed++;
			fprintf(stderr, "%s:%d: unexpected error containing \"%s\":\n%s", __FILE__,
				line, bad[i], err.text);
		}
	}
	cfg_errors_free(&err);
}

#define EXPECT_NO_ERR(text, flags, ...) do { \
	static const char *const bad_[] = { __VA_ARGS__ }; \
	expect_no_errors(__LINE__, text, flags, bad_, (int)RE_ARRAY_SIZE(bad_)); \
} while (0)

#define EXPECT_ERR(text, flags, ...) do { \
	static const char *const want_[] = { __VA_ARGS__ }; \
	expect_errors(__LINE__, text, flags, want_, (int)RE_ARRAY_SIZE(want_)); \
} while (0)

#define NOIO	(CONFIG_NO_RESOLVE | CONFIG_NO_FILES)

/* a minimal valid configuration, to which a case appends */
#define BASE \
	"[listener l]\nbind = 127.0.0.1:8080\n" \
	"[pool p]\nserver = 127.0.0.1:9000\n" \
	"[route r]\npool = p\n"

static void
test_values(void)
{
	uint64_t v;
	bool b;

	CHECK(cfg_parse_duration("250ms", &v) == 0 && v == 250);
	CHECK(cfg_parse_duration("5s", &v) == 0 && v == 5000);
	CHECK(cfg_parse_duration("30m", &v) == 0 && v == 30 * 60 * 1000);
	CHECK(cfg_parse_duration("2h", &v) == 0 && v == 2 * 3600 * 1000);
	CHECK(cfg_parse_duration("7", &v) == 0 && v == 7000);
	CHECK(cfg_parse_duration("0s", &v) == 0 && v == 0);
	CHECK(cfg_parse_duration("1800s", &v) == 0 && v == 1800000);
	CHECK(cfg_parse_duration("", &v) == -EINVAL);
	CHECK(cfg_parse_duration("s", &v) == -EINVAL);
	CHECK(cfg_parse_duration("5x", &v) == -EINVAL);
	CHECK(cfg_parse_duration("5 s", &v) == -EINVAL);
	CHECK(cfg_parse_duration("-1s", &v) == -EINVAL);
	CHECK(cfg_parse_duration("1.5s", &v) == -EINVAL);
	CHECK(cfg_parse_duration("5S", &v) == -EINVAL);
	CHECK(cfg_parse_duration("18446744073709551615h", &v) == -ERANGE);
	CHECK(cfg_parse_duration("99999999999999999999s", &v) == -ERANGE);

	CHECK(cfg_parse_size("512", &v) == 0 && v == 512);
	CHECK(cfg_parse_size("16k", &v) == 0 && v == 16384);
	CHECK(cfg_parse_size("16K", &v) == 0 && v == 16384);
	CHECK(cfg_parse_size("4m", &v) == 0 && v == 4 * 1024 * 1024);
	CHECK(cfg_parse_size("1g", &v) == 0 && v == 1024ULL * 1024 * 1024);
	CHECK(cfg_parse_size("k", &v) == -EINVAL);
	CHECK(cfg_parse_size("4kb", &v) == -EINVAL);
	CHECK(cfg_parse_size("", &v) == -EINVAL);
	CHECK(cfg_parse_size("18446744073709551615k", &v) == -ERANGE);

	CHECK(cfg_parse_bool("on", &b) == 0 && b);
	CHECK(cfg_parse_bool("off", &b) == 0 && !b);
	CHECK(cfg_parse_bool("ON", &b) == 0 && b);
	CHECK(cfg_parse_bool("yes", &b) == 0 && b);
	CHECK(cfg_parse_bool("false", &b) == 0 && !b);
	CHECK(cfg_parse_bool("maybe", &b) == -EINVAL);
	CHECK(cfg_parse_bool("", &b) == -EINVAL);
}

static void
test_defaults(void)
{
	struct cfg_errors err = { 0 };
	struct config *c = config_load_string("t.ini", BASE, NOIO, &err);

	CHECK(c != NULL);
	if (c == NULL) {
		fprintf(stderr, "%s", err.text);
		cfg_errors_free(&err);
		return;
	}
	CHECK(c->global.workers == 0);
	CHECK(c->global.max_connections == 100000);
	CHECK_STR(c->global.access_log, "stderr");
	CHECK(c->global.log_level == 2);
	CHECK(c->global.user == NULL);
	CHECK(c->global.drain_timeout == 30000);
	CHECK(c->tls.protocols == (CFG_TLS12 | CFG_TLS13));
	CHECK(c->tls.session_tickets);
	CHECK(c->nlisteners == 1);
	CHECK(c->listeners[0].nbinds == 1 && !c->listeners[0].tls);
	CHECK(c->listeners[0].header_timeout == 30000);
	CHECK(c->listeners[0].idle_timeout == 1800000);
	CHECK(c->npools == 1);
	CHECK(c->pools[0].nservers == 1 && c->pools[0].servers[0].port == 9000);
	CHECK(c->pools[0].servers[0].weight == 1 && !c->pools[0].servers[0].backup);
	CHECK(!c->pools[0].tls && c->pools[0].verify && c->pools[0].ca == NULL);
	CHECK(c->pools[0].balance == CFG_BALANCE_ROUND_ROBIN);
	CHECK(c->pools[0].connect_timeout == 5000);
	CHECK(c->pools[0].response_timeout == 1800000);
	CHECK(c->pools[0].idle_timeout == 1800000);
	CHECK(c->pools[0].keepalive == 32);
	CHECK(!c->pools[0].forwarded_for && c->pools[0].health_check == NULL);
	CHECK(c->pools[0].health_interval == 5000);
	CHECK(c->pools[0].max_fails == 3 && c->pools[0].fail_timeout == 30000);
	CHECK(c->nroutes == 1);
	CHECK_STR(c->routes[0].host, "*");
	CHECK_STR(c->routes[0].path, "/");
	CHECK(c->routes[0].pool == 0 && c->routes[0].kind == CFG_ROUTE_POOL);
	CHECK(c->routes[0].listeners == 1);
	config_free(c);
}

static void
test_values_in_file(void)
{
	struct cfg_errors err = { 0 };
	struct config *c = config_load_string("t.ini",
		"; comment\n# another\n"
		"[global]\nworkers = 3\nmax_connections = 50\nlog_level = debug\naccess_log = off\n"
		"drain_timeout = 250ms\n"
		"[tls]\nprotocols = TLSv1.3\nsession_tickets = off\n"
		"  [listener a]   \n  bind = [::1]:8443 ; inline comment\nbind = *:8080\n"
		"tls = on\ncertificate = /a.pem\nprivate_key = /a.key\n"
		"certificate = /b.pem\nprivate_key = /b.key\nheader_timeout = 2s\nidle_timeout = 1h\n"
		"[listener b]\nbind = :9090\n"
		"[pool p]\nserver = a.example:4443 weight=5\nserver = [::1]:4443 backup\n"
		"server = 10.0.0.1:80\ntls = on\nverify = off\nsni = int.example\n"
		"balance = cookie\nkeepalive = 0\nforwarded_for = on\nhealth_check = /hc\n"
		"health_interval = 1s\nmax_fails = 0\nfail_timeout = 10s\n"
		"connect_timeout = 100ms\nresponse_timeout = 2m\nidle_timeout = 30s\n"
		"[route r]\nlisteners = b , a\nhost = *.Contoso.COM.\npath = /Meet\npool = p\n"
		"[route s]\nlisteners = b\nredirect = https\n",
		NOIO, &err);

	CHECK(c != NULL);
	if (c == NULL) {
		fprintf(stderr, "%s", err.text);
		cfg_errors_free(&err);
		return;
	}
	CHECK(c->global.workers == 3 && c->global.max_connections == 50);
	CHECK(c->global.log_level == 3 && c->global.drain_timeout == 250);
	CHECK_STR(c->global.access_log, "off");
	CHECK(c->tls.protocols == CFG_TLS13 && !c->tls.session_tickets);
	CHECK(c->nlisteners == 2);
	CHECK(c->listeners[0].nbinds == 2 && c->listeners[0].tls);
	CHECK(c->listeners[0].binds[0].addr.ss_family == AF_INET6);
	CHECK(c->listeners[0].binds[1].addr.ss_family == AF_INET);
	CHECK(c->listeners[0].ncerts == 2);
	CHECK_STR(c->listeners[0].certs[1].certificate, "/b.pem");
	CHECK_STR(c->listeners[0].certs[1].private_key, "/b.key");
	CHECK(c->listeners[0].protocols == CFG_TLS13);
	CHECK(c->listeners[0].header_timeout == 2000);
	CHECK(c->listeners[0].idle_timeout == 3600000);
	CHECK(c->pools[0].nservers == 3);
	CHECK(c->pools[0].servers[0].weight == 5 && !c->pools[0].servers[0].backup);
	CHECK_STR(c->pools[0].servers[1].host, "::1");
	CHECK(c->pools[0].servers[1].backup && c->pools[0].servers[1].port == 4443);
	CHECK(c->pools[0].tls && !c->pools[0].verify);
	CHECK_STR(c->pools[0].sni, "int.example");
	CHECK(c->pools[0].balance == CFG_BALANCE_COOKIE && c->pools[0].keepalive == 0);
	CHECK(c->pools[0].forwarded_for && c->pools[0].max_fails == 0);
	CHECK_STR(c->pools[0].health_check, "/hc");
	CHECK(c->pools[0].connect_timeout == 100 && c->pools[0].response_timeout == 120000);
	CHECK(c->nroutes == 2);
	CHECK(c->routes[0].listeners == 3);
	CHECK_STR(c->routes[0].host, "*.contoso.com");
	CHECK_STR(c->routes[0].path, "/Meet");
	CHECK(c->routes[1].kind == CFG_ROUTE_REDIRECT_HTTPS && c->routes[1].pool == -1);
	CHECK(c->routes[1].listeners == 2);
	config_free(c);
}

static void
test_errors(void)
{
	EXPECT_ERR("[global]\nfoo = 1\n", NOIO,
		   "t.ini:2: unknown key \"foo\" in [global]",
		   "t.ini: no [listener NAME] section: nothing to serve");
	EXPECT_ERR(BASE "[listener l2]\nbind = 127.0.0.1:1\nheader_timeout = 5 seconds\n", NOIO,
		   "t.ini:9: header_timeout: bad duration \"5 seconds\" (expected a number with "
		   "ms, s, m or h)");
	EXPECT_ERR(BASE "[global]\nworkers = many\nmax_connections = 0\nlog_level = loud\n", NOIO,
		   "t.ini:8: workers: expected auto or a number, got \"many\"",
		   "t.ini:9: max_connections: 0 out of range (1..10000000)",
		   "t.ini:10: log_level: expected error, warn, info or debug, got \"loud\"");
	EXPECT_ERR(BASE "[frontend x]\nbind = 1.2.3.4:80\n", NOIO,
		   "t.ini:7: unknown section [frontend x] (expected global, tls, auth_guard, admin, "
		   "listener NAME, pool NAME, route NAME or acme NAME)");
	EXPECT_ERR(BASE "[pool]\n[listener bad name!]\n", NOIO,
		   "t.ini:7: [pool]: a name is required",
		   "t.ini:8: [listener bad name!]: bad name (letters, digits, - _ . only)");
	EXPECT_ERR("[listener l]\nbind = 127.0.0.1:8080\n"
		   "[pool p]\nserver = 127.0.0.1:9000\n"
		   "[route a]\nhost = Meet.Contoso.com\npath = /meet\npool = p\n"
		   "[route b]\nhost = meet.contoso.com.\npath = /MEET\npool = p\n", NOIO,
		   "t.ini:9: [route b]: duplicate route: host meet.contoso.com path /MEET already "
		   "routed by [route a] at line 5 on listener l");
	EXPECT_ERR(BASE "[route e]\nhost = e\npath = /a//b\npool = p\n", NOIO,
		   "t.ini:9: path: \"/a//b\" has an empty segment (//)");
	EXPECT_ERR(BASE "[route m1]\nhost = m\npath = /meet/\npool = p\n"
		   "[route m2]\nhost = m\npath = /Meet\npool = p\n", NOIO,
		   "t.ini:11: [route m2]: duplicate route: host m path /Meet already routed by "
		   "[route m1] at line 7 on listener l");
	EXPECT_ERR(BASE "[route x]\nlisteners = l, nope\npool = q\n", NOIO,
		   "t.ini:8: [route x]: unknown listener \"nope\"",
		   "t.ini:9: [route x]: unknown pool \"q\"");
	EXPECT_ERR(BASE "[pool empty]\ntls = on\n", NOIO,
		   "t.ini:7: [pool empty] has no server");
	EXPECT_ERR(BASE "[listener s]\nbind = 127.0.0.1:8443\ntls = on\n", NOIO,
		   "t.ini:7: [listener s] has tls = on but no certificate (set certificate and "
		   "private_key here or in [tls], or acme = NAME)");
	EXPECT_ERR(BASE "[listener s]\nbind = 127.0.0.1:8443\ntls = on\n"
		   "certificate = /nonexistent/ringedge/edge.pem\nprivate_key = /nonexistent/k\n", 0,
		   "t.ini:10: certificate: cannot read \"/nonexistent/ringedge/edge.pem\": No such "
		   "file or directory",
		   "t.ini:11: private_key: cannot read \"/nonexistent/k\": No such file or directory");
	EXPECT_ERR(BASE "[pool q]\nserver = ringedge-test.invalid:80\n", CONFIG_NO_FILES,
		   "t.ini:8: server: host \"ringedge-test.invalid\" does not resolve: Name or "
		   "service not known");
	EXPECT_NO_ERR(BASE "[pool q]\nserver = ringedge-test.invalid:80\n"
		      "[listener s]\nbind = 127.0.0.1:8443\ntls = on\ncertificate = /nonexistent/c\n"
		      "private_key = /nonexistent/k\n", 0,
		      "has no server", "but no certificate");
	EXPECT_ERR(BASE "[pool q]\nserver = 127.0.0.1:80\nca = /nonexistent/ca.pem\n", 0,
		   "t.ini:9: ca: cannot read \"/nonexistent/ca.pem\": No such file or directory");
	EXPECT_ERR(BASE "[global]\nworkers = 2\nworkers = 3\n[global]\n", NOIO,
		   "t.ini:9: duplicate key \"workers\" in [global]",
		   "t.ini:10: duplicate section [global]");
	EXPECT_ERR(BASE "[pool p]\nserver = 127.0.0.1:1\n", NOIO,
		   "t.ini:7: duplicate section [pool p] (first at line 3)");
	EXPECT_ERR("workers = 2\n" BASE, NOIO,
		   "t.ini:1: key \"workers\" outside of any section");
	EXPECT_ERR(BASE "this line has no equals sign\n", NOIO,
		   "t.ini:7: syntax error (expected [section], key = value, or a ; or # comment)");
	EXPECT_ERR(BASE "[listener x]\nbind = 127.0.0.1\nbind = 127.0.0.1:99999\n"
		   "bind = ::1:80\nbind = 1.2.3:80\nbind = localhost:80\n", NOIO,
		   "t.ini:8: bind: \"127.0.0.1\" has no port (expected ADDRESS:PORT)",
		   "t.ini:9: bind: bad port in \"127.0.0.1:99999\"",
		   "t.ini:10: bind: IPv6 address \"::1:80\" must be in brackets: [ADDR]:PORT",
		   "t.ini:11: bind: bad IPv4 address \"1.2.3\" (numeric addresses only)",
		   "t.ini:12: bind: bad IPv4 address \"localhost\" (numeric addresses only)",
		   "t.ini:7: [listener x] has no bind");
	EXPECT_ERR(BASE "[listener x]\nbind = 127.0.0.1:8080\n", NOIO,
		   "t.ini:8: bind 127.0.0.1:8080: address already used by [listener l] at line 2");
	EXPECT_ERR(BASE "[pool q]\nserver = h\nserver = h:0\nserver = h:80 weight=0\n"
		   "server = h:80 heavy\nserver = bad_host!:80\n", NOIO,
		   "t.ini:8: server: \"h\" has no port (expected HOST:PORT)",
		   "t.ini:9: server: bad port \"0\"",
		   "t.ini:10: server: bad weight \"0\" (1..256)",
		   "t.ini:11: server: unknown option \"heavy\" (expected weight=N or backup)",
		   "t.ini:12: server: bad host name \"bad_host!\"");
	EXPECT_ERR(BASE "[pool q]\nserver = h:80 backup\n", NOIO,
		   "t.ini:7: [pool q]: every server is a backup; at least one must not be");
	EXPECT_ERR(BASE "[pool q]\nserver = h:80\nbalance = random\n", NOIO,
		   "t.ini:9: balance: expected round_robin, least_conn, source_hash or cookie, "
		   "got \"random\"");
	EXPECT_ERR(BASE "[route x]\nhost = a.b\npath = meet\n[route y]\nhost = a..b\n"
		   "pool = p\nredirect = https\n[route z]\nhost = z\npath = /z\nredirect = http\n",
		   NOIO,
		   "t.ini:9: path: \"meet\" must start with /",
		   "t.ini:7: [route x]: needs pool = NAME or redirect = https",
		   "t.ini:11: host: bad host \"a..b\" (expected a name, *.suffix or *)",
		   "t.ini:10: [route y]: both pool and redirect; choose one",
		   "t.ini:17: redirect: only \"https\" is supported, got \"http\"");
	EXPECT_ERR(BASE "[listener s]\nbind = 127.0.0.1:1\nprivate_key = /k\ncertificate = /c\n",
		   NOIO,
		   "t.ini:9: private_key: no certificate before it (write certificate, then "
		   "private_key)",
		   "t.ini:10: [listener s]: certificate without private_key");
	EXPECT_ERR(BASE "[tls]\nprotocols = TLSv1.2 SSLv3\nsession_tickets = sometimes\n", NOIO,
		   "t.ini:8: protocols: unknown protocol \"SSLv3\" (expected TLSv1.2, TLSv1.3, "
		   "TLSv1.1 or TLSv1)",
		   "t.ini:9: session_tickets: expected on or off, got \"sometimes\"");
	EXPECT_ERR(BASE "[global]\nuser = ringedge-no-such-user\n", 0,
		   "t.ini:8: user: unknown user \"ringedge-no-such-user\"");
	EXPECT_ERR(BASE "[pool q]\nserver = h:80\nhealth_check = hc\nkeepalive = -1\n", NOIO,
		   "t.ini:9: health_check: expected a path starting with /, got \"hc\"",
		   "t.ini:10: keepalive: bad number \"-1\"");

	/* a line longer than the limit is an error, and the next line still counts */
	{
		char *big = malloc(9000);
		size_t n;

		strcpy(big, BASE "[global]\nuser = ");
		n = strlen(big);
		memset(big + n, 'x', 5000);
		strcpy(big + n + 5000, "\nbogus = 1\n");
		EXPECT_ERR(big, NOIO, "t.ini:8: line too long (max 4093 bytes)",
			   "t.ini:9: unknown key \"bogus\" in [global]");
		free(big);
	}
}

static void
test_file_errors(void)
{
	struct cfg_errors err = { 0 };
	struct config *c = config_load("/nonexistent/ringedge.ini", 0, &err);

	CHECK(c == NULL);
	CHECK_STR(err.text, "/nonexistent/ringedge.ini: cannot open configuration: No such file "
			    "or directory\n");
	cfg_errors_free(&err);
}

static void
test_examples(void)
{
	struct cfg_errors err = { 0 };
	char path[4096];
	struct config *c;

	/* the Lync example names hosts and files of a real deployment: check everything else */
	snprintf(path, sizeof(path), "%s/config/lync-edge.ini", srcdir);
	c = config_load(path, NOIO, &err);
	CHECK(c != NULL);
	if (c == NULL) {
		fprintf(stderr, "%s", err.text);
		cfg_errors_free(&err);
	} else {
		int owa = -1, disc80 = -1, redirect = -1;

		CHECK(c->nlisteners == 2 && c->npools == 3);
		CHECK(c->listeners[0].tls && !c->listeners[1].tls);
		CHECK(c->pools[0].tls && c->pools[0].servers[0].port == 4443);
		CHECK(!c->pools[1].tls && c->pools[1].servers[0].port == 8080);
		CHECK(c->pools[2].tls && c->pools[2].servers[0].port == 443);
		for (int i = 0; i < c->nroutes; i++) {
			if (strcmp(c->routes[i].host, "owa.contoso.com") == 0)
				owa = i;
			if (strcmp(c->routes[i].host, "lyncdiscover.contoso.com") == 0 &&
			    c->routes[i].listeners == 2)
				disc80 = i;
			if (c->routes[i].kind == CFG_ROUTE_REDIRECT_HTTPS)
				redirect = i;
		}
		CHECK(owa >= 0 && c->routes[owa].pool == 2);
		CHECK(disc80 >= 0 && c->routes[disc80].pool == 1);
		CHECK(redirect >= 0 && strcmp(c->routes[redirect].host, "*") == 0 &&
		      c->routes[redirect].listeners == 2);
		config_free(c);
	}

	/* the demo runs on loopback: it must pass the full check, resolution included */
	snprintf(path, sizeof(path), "%s/config/demo.ini", srcdir);
	c = config_load(path, 0, &err);
	CHECK(c != NULL);
	if (c == NULL)
		fprintf(stderr, "%s", err.text);
	config_free(c);
	cfg_errors_free(&err);
}

/* docs/configuration.md must carry the reference generated from the key table */
static void
test_reference_doc(void)
{
	char path[4096], *gen = NULL, *doc = NULL;
	size_t genlen = 0, doclen = 0;
	FILE *f, *m;

	m = open_memstream(&gen, &genlen);
	config_write_reference(m);
	fclose(m);

	snprintf(path, sizeof(path), "%s/docs/configuration.md", srcdir);
	f = fopen(path, "r");
	CHECK(f != NULL);
	if (f != NULL) {
		m = open_memstream(&doc, &doclen);
		for (int ch; (ch = fgetc(f)) != EOF;)
			fputc(ch, m);
		fclose(m);
		fclose(f);
		CHECK(strstr(doc, gen) != NULL);
		if (strstr(doc, gen) == NULL)
			fprintf(stderr, "docs/configuration.md is stale: regenerate the reference "
					"with `ringedge --config-reference`\n");
	}
	free(gen);
	free(doc);
}

/* scale-out keys: proxy_protocol, proxy_protocol_from, real_ip_from, ticket_keys */
static void
test_scaleout(void)
{
	struct cfg_errors err = { 0 };
	struct config *c;
	char *dump = NULL;
	size_t dlen = 0;
	FILE *f;

	c = config_load_string("t.ini",
		"[listener l]\nbind = 127.0.0.1:8443\ntls = on\ncertificate = c.pem\n"
		"private_key = k.pem\nproxy_protocol = on\n"
		"proxy_protocol_from = 10.0.0.0/8, 2001:db8::/32\n"
		"real_ip_from = 192.0.2.0/24\nticket_keys = /etc/ringedge/tickets.keys\n"
		"[listener plain]\nbind = 127.0.0.1:8080\n"
		"[pool p]\nserver = 127.0.0.1:9000\n[route r]\npool = p\n", NOIO, &err);
	CHECK(c != NULL);
	if (c == NULL) {
		fputs(err.text ? err.text : "?\n", stderr);
		cfg_errors_free(&err);
		return;
	}
	CHECK(c->listeners[0].proxy_protocol);
	CHECK(c->listeners[0].proxy_protocol_from.n == 2);
	CHECK(c->listeners[0].real_ip_from.n == 1);
	CHECK_STR(c->listeners[0].ticket_keys, "/etc/ringedge/tickets.keys");
	CHECK(!c->listeners[1].proxy_protocol && c->listeners[1].proxy_protocol_from.n == 0 &&
	      c->listeners[1].real_ip_from.n == 0 && c->listeners[1].ticket_keys == NULL);
	f = open_memstream(&dump, &dlen);
	config_dump(c, f);
	fclose(f);
	CHECK(strstr(dump, "proxy_protocol = on\nproxy_protocol_from = 10.0.0.0/8,2001:db8::/32\n"
			   "real_ip_from = 192.0.2.0/24\n"
			   "ticket_keys = /etc/ringedge/tickets.keys\n") != NULL);
	free(dump);
	config_free(c);

	EXPECT_ERR(BASE "[listener m]\nbind = 127.0.0.1:8081\nproxy_protocol_from = 10.0.0.0/8\n",
		   NOIO, "t.ini:9: [listener m]: proxy_protocol_from without proxy_protocol = on");
	EXPECT_ERR(BASE "[listener m]\nbind = 127.0.0.1:8081\nproxy_protocol = on\n", NOIO,
		   "t.ini:7: [listener m]: proxy_protocol = on needs proxy_protocol_from = "
		   "CIDR[,CIDR...] (the balancers' addresses)");
	EXPECT_ERR(BASE "[listener m]\nbind = 127.0.0.1:8081\nproxy_protocol = on\n"
		   "proxy_protocol_from = 10.0.0.1/8\n", NOIO,
		   "t.ini:10: proxy_protocol_from: bad CIDR \"10.0.0.1/8\": host bits set after "
		   "the prefix (write the network address)");
	EXPECT_ERR(BASE "[listener m]\nbind = 127.0.0.1:8081\nreal_ip_from = 10.0.0.0/8,lb1\n",
		   NOIO, "t.ini:9: real_ip_from: bad CIDR \"lb1\": not an IPv4 or IPv6 address");
	EXPECT_ERR(BASE "[listener m]\nbind = 127.0.0.1:8081\nreal_ip_from = ,\n", NOIO,
		   "t.ini:9: real_ip_from: empty list (expected CIDR[,CIDR...])");
	/* client limits (issue 12) */
	EXPECT_ERR(BASE "[listener m]\nbind = 127.0.0.1:8081\nclient_request_burst = 0\n", NOIO,
		   "t.ini:9: client_request_burst: 0 out of range (1..1000000)");
	EXPECT_ERR(BASE "[listener m]\nbind = 127.0.0.1:8081\nclient_max_connections = -1\n",
		   NOIO, "t.ini:9: client_max_connections: bad number \"-1\"");
	EXPECT_ERR(BASE "[listener m]\nbind = 127.0.0.1:8081\nclient_limits_exempt = 10.1.0.0/8\n",
		   NOIO, "t.ini:9: client_limits_exempt: bad CIDR \"10.1.0.0/8\": host bits set after "
		   "the prefix (write the network address)");
	EXPECT_ERR(BASE "[listener m]\nbind = 127.0.0.1:8081\nproxy_protocol = maybe\n", NOIO,
		   "t.ini:9: proxy_protocol: expected on or off, got \"maybe\"");
	EXPECT_ERR(BASE "[listener m]\nbind = 127.0.0.1:8081\nticket_keys = k\n", NOIO,
		   "t.ini:9: [listener m]: ticket_keys needs tls = on");
	EXPECT_ERR(BASE "[tls]\nsession_tickets = off\ncertificate = c\nprivate_key = k\n"
		   "[listener m]\nbind = 127.0.0.1:8081\ntls = on\nticket_keys = k\n", NOIO,
		   "t.ini:14: [listener m]: ticket_keys, but session_tickets = off in [tls]");
	EXPECT_ERR(BASE "[tls]\ncertificate = c\nprivate_key = k\n"
		   "[listener m]\nbind = 127.0.0.1:8081\ntls = on\n"
		   "ticket_keys = /nonexistent/tickets.keys\n", CONFIG_NO_RESOLVE,
		   "t.ini:13: ticket_keys: cannot read \"/nonexistent/tickets.keys\": No such file "
		   "or directory");
}

/* scale-out: [auth_guard] instances, store, store_unreachable, store_timeout */
static void
test_guard_store(void)
{
	struct cfg_errors err = { 0 };
	struct config *c = config_load_string("t.ini", BASE, NOIO, &err);

	CHECK(c != NULL && c->auth_guard.instances == 1 && c->auth_guard.store == NULL &&
	      !c->auth_guard.store_fail_closed && c->auth_guard.store_timeout == 100);
	config_free(c);
	c = config_load_string("t.ini", BASE "[auth_guard]\ninstances = 3\n"
		"store = redis://10.0.0.9:6380\nstore_unreachable = closed\nstore_timeout = 50ms\n",
		NOIO, &err);
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK(c->auth_guard.instances == 3 && c->auth_guard.store_port == 6380);
		CHECK_STR(c->auth_guard.store_host, "10.0.0.9");
		CHECK_STR(c->auth_guard.store, "redis://10.0.0.9:6380");
		CHECK(c->auth_guard.store_fail_closed && c->auth_guard.store_timeout == 50);
		config_free(c);
	}
	c = config_load_string("t.ini", BASE "[auth_guard]\nstore = redis://[::1]:6379\n", NOIO,
			       &err);
	CHECK(c != NULL && strcmp(c->auth_guard.store_host, "::1") == 0 &&
	      c->auth_guard.store_port == 6379);
	config_free(c);
	EXPECT_ERR(BASE "[auth_guard]\nstore = 10.0.0.9:6379\n", NOIO,
		   "t.ini:8: store: expected redis://HOST:PORT, got \"10.0.0.9:6379\"");
	EXPECT_ERR(BASE "[auth_guard]\nstore = redis://10.0.0.9\n", NOIO,
		   "t.ini:8: store: expected redis://HOST:PORT, got \"redis://10.0.0.9\"");
	EXPECT_ERR(BASE "[auth_guard]\nstore = redis://r1:70000\n", NOIO,
		   "t.ini:8: store: bad port in \"redis://r1:70000\" (1-65535)");
	EXPECT_ERR(BASE "[auth_guard]\nstore = redis://a b:1\n", NOIO,
		   "t.ini:8: store: bad host in \"redis://a b:1\"");
	EXPECT_ERR(BASE "[auth_guard]\nstore_unreachable = maybe\n", NOIO,
		   "t.ini:8: store_unreachable: expected open or closed, got \"maybe\"");
	EXPECT_ERR(BASE "[auth_guard]\ninstances = 0\n", NOIO,
		   "t.ini:8: instances: 0 out of range (1..1000)");
}

/* issue 12: [auth_guard], auth_guard / auth_schemes / hide_response_header */
static void
test_auth_guard(void)
{
	struct cfg_errors err = { 0 };
	struct config *c = config_load_string("t.ini", BASE, NOIO, &err);

	CHECK(c != NULL);
	if (c != NULL) {
		const struct cfg_auth_guard *a = &c->auth_guard;

		CHECK(a->user_failures == 5 && a->user_window == 30 * 60000);
		CHECK(a->addr_failures == 20 && a->addr_window == 10 * 60000);
		CHECK(a->familiar_failures == 5 && a->familiar_time == 168ULL * 3600000);
		CHECK(a->lock_time == 15 * 60000 && a->lock_time_max == 24ULL * 3600000);
		CHECK(a->default_domain == NULL && a->max_tracked_keys == 100000);
		CHECK(a->body_limit == 16384 && a->min_answer_time == 500);
		CHECK(c->routes[0].auth_guard == CFG_GUARD_OFF);
		CHECK(c->routes[0].auth_schemes == CFG_AUTH_ANY);
		CHECK(c->routes[0].hide_headers.n == 0 && c->pools[0].hide_headers.n == 0);
	}
	config_free(c);
	cfg_errors_free(&err);

	c = config_load_string("t.ini", BASE
		"auth_guard = log_only\nauth_schemes = NTLM, negotiate\n"
		"hide_response_header = X-MS-Server-Fqdn\nhide_response_header = Server\n"
		"[route r2]\npath = /abs\npool = p\nauth_guard = on\nauth_schemes = none\n"
		"[route r3]\npath = /x\npool = p\nauth_schemes = any\n"
		"[pool q]\nserver = 127.0.0.1:9001\nhide_response_header = X-Powered-By\n"
		"[auth_guard]\nuser_failures = 3\nuser_window = 1h\naddr_failures = 50\n"
		"addr_window = 5m\nfamiliar_failures = 8\nfamiliar_time = 48h\nlock_time = 1m\n"
		"lock_time_max = 2h\ndefault_domain = CONTOSO\nmax_tracked_keys = 5000\n"
		"body_limit = 8k\nmin_answer_time = 250ms\n", NOIO, &err);
	CHECK(c != NULL);
	if (c == NULL) {
		fprintf(stderr, "%s", err.text);
	} else {
		const struct cfg_auth_guard *a = &c->auth_guard;

		CHECK(a->user_failures == 3 && a->user_window == 3600000);
		CHECK(a->addr_failures == 50 && a->addr_window == 300000);
		CHECK(a->familiar_failures == 8 && a->familiar_time == 48ULL * 3600000);
		CHECK(a->lock_time == 60000 && a->lock_time_max == 7200000);
		CHECK_STR(a->default_domain, "CONTOSO");
		CHECK(a->max_tracked_keys == 5000 && a->body_limit == 8192);
		CHECK(a->min_answer_time == 250);
		CHECK(c->routes[0].auth_guard == CFG_GUARD_LOG_ONLY);
		CHECK(c->routes[0].auth_schemes == (CFG_AUTH_NTLM | CFG_AUTH_NEGOTIATE));
		CHECK(c->routes[0].hide_headers.n == 2);
		if (c->routes[0].hide_headers.n == 2) {
			CHECK_STR(c->routes[0].hide_headers.names[0], "X-MS-Server-Fqdn");
			CHECK_STR(c->routes[0].hide_headers.names[1], "Server");
		}
		CHECK(c->routes[1].auth_guard == CFG_GUARD_ON && c->routes[1].auth_schemes == 0);
		CHECK(c->routes[2].auth_schemes == CFG_AUTH_ANY);
		CHECK(c->pools[1].hide_headers.n == 1);
	}
	config_free(c);
	cfg_errors_free(&err);

	EXPECT_ERR(BASE "auth_guard = yes\nauth_schemes = ntlm,kerberos\n"
		   "hide_response_header = Content-Length\nhide_response_header = bad name\n"
		   "[auth_guard]\nuser_failures = 0\nuser_window = soon\naddr_failures = -1\n"
		   "lock_time = 1h\nlock_time_max = 30m\ndefault_domain = bad..domain\n"
		   "max_tracked_keys = 10\nbody_limit = 2g\nmin_answer_time = 2m\nbogus = 1\n"
		   "[auth_guard]\n", NOIO,
		   "t.ini:7: auth_guard: expected on, off or log_only, got \"yes\"",
		   "t.ini:8: auth_schemes: unknown scheme \"kerberos\" (expected any, none, or a "
		   "list of ntlm, negotiate, basic, bearer, other)",
		   "t.ini:9: hide_response_header: Content-Length frames the message and cannot be "
		   "hidden",
		   "t.ini:10: hide_response_header: \"bad name\" is not a header field name",
		   "t.ini:12: user_failures: 0 out of range (1..1000)",
		   "t.ini:13: user_window: bad duration \"soon\" (expected a number with ms, s, m or h)",
		   "t.ini:14: addr_failures: bad number \"-1\"",
		   "t.ini:17: default_domain: bad domain \"bad..domain\"",
		   "t.ini:18: max_tracked_keys: 10 out of range (64..100000000)",
		   "t.ini:19: body_limit: size \"2g\" out of range (256..1048576 bytes)",
		   "t.ini:20: min_answer_time: duration \"2m\" out of range (0ms..60000ms)",
		   "t.ini:21: unknown key \"bogus\" in [auth_guard]",
		   "t.ini:22: duplicate section [auth_guard]",
		   "t.ini:11: [auth_guard]: lock_time_max (1800000ms) is shorter than lock_time "
		   "(3600000ms)");
	EXPECT_ERR(BASE "auth_schemes = none,ntlm\n[auth_guard x]\n", NOIO,
		   "t.ini:7: auth_schemes: any and none stand alone, got \"none,ntlm\"",
		   "t.ini:8: section [auth_guard] takes no name");
	EXPECT_ERR(BASE "auth_schemes = ,\n", NOIO,
		   "t.ini:7: auth_schemes: empty (write none to refuse every scheme)");
}

/* [acme NAME] and a listener's acme = NAME */
static void
test_acme(void)
{
	struct cfg_errors err = { 0 };
	struct config *c;
	const char *ok =
		"[listener web]\nbind = 127.0.0.1:8443\ntls = on\nacme = lync\n"
		"[listener plain]\nbind = 127.0.0.1:8080\n"
		"[pool p]\nserver = 127.0.0.1:9000\n"
		"[route meet]\nlisteners = web\nhost = Meet.Example.Test\npool = p\n"
		"[route dial]\nhost = dialin.example.test\npool = p\n"
		"[route dial2]\nhost = dialin.example.test\npath = /x\npool = p\n"
		"[route wild]\nhost = *.example.test\npool = p\n"
		"[route other]\nlisteners = plain\nhost = plain.example.test\npool = p\n"
		"[acme lync]\ndirectory = https://acme.example/dir\naccept_terms = yes\n"
		"contact = mailto:hostmaster@example.test\n";

	c = config_load_string("t.ini", ok, NOIO, &err);
	CHECK(c != NULL);
	if (c == NULL) {
		fprintf(stderr, "%s", err.text ? err.text : "");
		cfg_errors_free(&err);
		return;
	}
	CHECK(c->nacmes == 1);
	CHECK(c->listeners[0].acme_idx == 0);
	CHECK(c->listeners[1].acme_idx == -1);
	/* default names: exact hosts of web's routes, lower-cased, once each, no wildcard */
	CHECK(c->acmes[0].nnames == 2);
	CHECK(strcmp(c->acmes[0].names[0], "meet.example.test") == 0);
	CHECK(strcmp(c->acmes[0].names[1], "dialin.example.test") == 0);
	CHECK(strcmp(c->acmes[0].contact, "hostmaster@example.test") == 0);
	CHECK(strcmp(c->acmes[0].state_dir, "/var/lib/ringedge/acme") == 0);
	CHECK(strcmp(c->acmes[0].account_key, "/var/lib/ringedge/acme/lync.account.key") == 0);
	CHECK(c->acmes[0].key_type == CFG_ACME_KEY_EC256);
	CHECK(c->acmes[0].challenges == (CFG_ACME_HTTP01 | CFG_ACME_TLSALPN01));
	CHECK(c->acmes[0].retry_min == 60000 && c->acmes[0].retry_max == 86400000);
	config_free(c);

	/* explicit names and settings */
	c = config_load_string("t.ini",
		"[listener web]\nbind = 127.0.0.1:8443\ntls = on\nacme = a\n"
		"[pool p]\nserver = 127.0.0.1:9000\n[route r]\npool = p\n"
		"[acme a]\ndirectory = https://x/dir\naccept_terms = yes\n"
		"names = lyncext.example.test, meet.example.test,meet.example.test\n"
		"key_type = rsa3072\nchallenge = tls-alpn-01\nstate_dir = /srv/acme\n"
		"account_key = /srv/k.pem\nretry_min = 5s\n", NOIO, &err);
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK(c->acmes[0].nnames == 2);
		CHECK(c->acmes[0].key_type == CFG_ACME_KEY_RSA3072);
		CHECK(c->acmes[0].challenges == CFG_ACME_TLSALPN01);
		CHECK(strcmp(c->acmes[0].account_key, "/srv/k.pem") == 0);
		CHECK(c->acmes[0].retry_min == 5000);
	}
	config_free(c);
	cfg_errors_free(&err);

	EXPECT_ERR(BASE "[acme a]\ndirectory = http://x/dir\nnames = a.example\n"
		   "key_type = dsa\nchallenge = dns-01\ncontact = nobody\n", NOIO,
		   "t.ini:8: directory: expected an https:// URL, got \"http://x/dir\"",
		   "t.ini:10: key_type: expected ecdsa, rsa2048 or rsa3072, got \"dsa\"",
		   "t.ini:11: challenge: unknown challenge \"dns-01\" (expected http-01 and/or "
		   "tls-alpn-01)",
		   "t.ini:12: contact: expected an e-mail address, got \"nobody\"",
		   "t.ini:7: [acme a] has no directory",
		   "t.ini:7: [acme a]: accept_terms = yes is required (you agree to the ACME "
		   "server's terms of service)");
	EXPECT_ERR(BASE "[acme a]\ndirectory = https://x/\naccept_terms = yes\n"
		   "names = *.example.test\n", NOIO,
		   "t.ini:10: names: \"*.example.test\": wildcard names need the DNS-01 challenge, "
		   "which ringedge does not do",
		   "t.ini:7: [acme a] has no names (set names, or give the routes of a TLS listener "
		   "with acme = a exact host names)");
	EXPECT_ERR("[listener l]\nbind = 127.0.0.1:8080\nacme = nope\n"
		   "[listener t]\nbind = 127.0.0.1:8081\nacme = a\n"
		   "[pool p]\nserver = 127.0.0.1:9000\n[route r]\npool = p\n"
		   "[acme a]\ndirectory = https://x/\naccept_terms = yes\nnames = a.example\n"
		   "retry_min = 10m\nretry_max = 1m\n"
		   "[acme a]\n", NOIO,
		   "t.ini:3: [listener l]: unknown acme section \"nope\"",
		   "t.ini:6: [listener t]: acme = a needs tls = on",
		   "t.ini:11: [acme a]: retry_max is shorter than retry_min",
		   "t.ini:17: duplicate section [acme a] (first at line 11)");
	/* files: a state_dir under a regular file cannot be created */
	EXPECT_ERR(BASE "[acme a]\ndirectory = https://x/\naccept_terms = yes\nnames = a.example\n"
		   "state_dir = /etc/passwd/acme\n", CONFIG_NO_RESOLVE,
		   "t.ini:7: [acme a]: state_dir /etc/passwd/acme: Not a directory");
	/* a TLS listener with acme = NAME needs no certificate of its own */
	EXPECT_NO_ERR("[listener web]\nbind = 127.0.0.1:8443\ntls = on\nacme = a\n"
		      "[pool p]\nserver = 127.0.0.1:9000\n[route r]\nhost = a.example\npool = p\n"
		      "[acme a]\ndirectory = https://x/\naccept_terms = yes\n", NOIO,
		      "no certificate", "has no names");
}

/* issue 11: [admin] */
static void
test_admin(void)
{
	struct cfg_errors err = { 0 };
	struct config *c = config_load_string("t.ini", BASE, NOIO, &err);

	CHECK(c != NULL);
	if (c != NULL) {
		CHECK(c->admin.bind.addrlen == 0 && c->admin.allow.n == 0);
		CHECK(c->admin.max_connections == 16 && c->admin.drain_delay == 0);
	}
	config_free(c);
	cfg_errors_free(&err);

	c = config_load_string("t.ini", BASE "[admin]\nlisten = 127.0.0.1:9100\n"
			       "allow = 127.0.0.0/8, ::1\nmax_connections = 4\ndrain_delay = 5s\n",
			       NOIO, &err);
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK(c->admin.bind.addrlen != 0 && strcmp(c->admin.bind.text, "127.0.0.1:9100") == 0);
		CHECK(c->admin.allow.n == 2 && c->admin.line == 7);
		CHECK(c->admin.max_connections == 4 && c->admin.drain_delay == 5000);
	}
	config_free(c);
	cfg_errors_free(&err);

	EXPECT_ERR(BASE "[admin]\nlisten = 127.0.0.1\nallow = 10.0.0.0/33\nmax_connections = 0\n"
		   "drain_delay = soon\nbogus = 1\n[admin]\n[admin x]\n", NOIO,
		   "t.ini:8: bind: \"127.0.0.1\" has no port (expected ADDRESS:PORT)",
		   "t.ini:12: unknown key \"bogus\" in [admin]",
		   "t.ini:13: duplicate section [admin]",
		   "t.ini:14: section [admin] takes no name");
	EXPECT_ERR(BASE "[admin]\nlisten = 127.0.0.1:8080\n", NOIO,
		   "t.ini:8: [admin]: listen 127.0.0.1:8080 is also a bind of [listener l] (line 2): "
		   "the admin listener is never served on a proxied listener");
}

int
main(int argc, char **argv)
{
	if (argc > 1)
		srcdir = argv[1];
	test_values();
	test_defaults();
	test_values_in_file();
	test_errors();
	test_file_errors();
	test_examples();
	test_scaleout();
	test_guard_store();
	test_acme();
	test_reference_doc();
	test_auth_guard();
	test_admin();
	return check_done();
}
