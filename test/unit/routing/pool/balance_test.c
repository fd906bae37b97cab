/*
 * routing/pool/balance: smooth weighted round robin (nginx's 5,1,1 sequence, distributions over
 * 10,000 picks), backup servers, no-server result, retries, least_conn (load and weights),
 * source_hash (two independent builds agree, removing/downing one of 4 servers moves only its
 * share, weighted shares, v4-mapped = v4), the MS-WSMAN cookie (parser, lookup, Set-Cookie,
 * stable ids, pick and fallback), passive failure accounting (max_fails within fail_timeout,
 * outside it, timed recovery, recovery by probe), and state carried over a rebuild (reload).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lib/log.h"
#include "routing/pool/balance.h"
#include "routing/pool/health.h"
#include "test/unit/check.h"

#define T0	1000000ULL	/* a fake CLOCK_MONOTONIC ms */

struct srvspec {
	const char	*host;
	int		 weight;
	bool		 backup;
};

/* One config with one pool of the given servers (ports 4443). */
static struct config *
mkcfg(int balance, const struct srvspec *sp, int n, const char *health_check)
{
	struct config *c = calloc(1, sizeof(*c));
	struct cfg_pool *p = calloc(1, sizeof(*p));

	c->file = "test.ini";
	c->pools = p;
	c->npools = 1;
	p->name = "fe";
	p->balance = balance;
	p->servers = calloc((size_t)n, sizeof(*p->servers));
	p->nservers = n;
	p->max_fails = 3;
	p->fail_timeout = 1000;
	p->health_check = (char *)health_check;
	p->health_interval = 5000;
	for (int i = 0; i < n; i++) {
		p->servers[i].host = (char *)sp[i].host;
		p->servers[i].port = 4443;
		p->servers[i].weight = sp[i].weight;
		p->servers[i].backup = sp[i].backup;
	}
	return c;
}

static void
cfgfree(struct config *c)
{
	free(c->pools[0].servers);
	free(c->pools);
	free(c);
}

static struct bal_set *
build(int balance, const struct srvspec *sp, int n, const char *hc, const struct bal_set *old)
{
	struct config *c = mkcfg(balance, sp, n, hc);
	struct bal_set *s = bal_set_build(c, 2, old);

	cfgfree(c);		/* the set must not point into the config */
	if (s != NULL && hc != NULL)	/* as if the health thread had taken the set */
		atomic_store(&s->pools[0].probing, true);
	return s;
}

static void
set_down(struct bal_set *s, int srv, bool down)
{
	health_apply(s, 0, srv, !down, down ? "test down" : "test up", T0);
}

static const struct srvspec abc[] = {
	{ "a.contoso.com", 5, false }, { "b.contoso.com", 1, false }, { "c.contoso.com", 1, false },
};

/* ---- round robin ----------------------------------------------------------------------- */

static void
test_swrr_sequence(void)
{
	struct bal_set *s = build(CFG_BALANCE_ROUND_ROBIN, abc, 3, NULL, NULL);
	char seq[15] = "";

	for (int i = 0; i < 14; i++)
		seq[i] = (char)('a' + bal_pick(s, 0, 0, NULL, 0, T0));
	CHECK_STR(seq, "aabacaaaabacaa");
	/* worker 1 has its own cursor: starts the same sequence */
	CHECK(bal_pick(s, 1, 0, NULL, 0, T0) == 0);
	CHECK(bal_pick(s, 1, 0, NULL, 0, T0) == 0);
	CHECK(bal_pick(s, 1, 0, NULL, 0, T0) == 1);
	bal_set_put(s);
}

static void
test_distribution(int balance)
{
	static const struct srvspec sp[] = {
		{ "s1", 5, false }, { "s2", 3, false }, { "s3", 2, false }, { "s4", 7, false },
	};
	struct bal_set *s = build(balance, sp, 4, NULL, NULL);
	int cnt[4] = { 0 };

	for (int i = 0; i < 17000; i++) {
		int r = bal_pick(s, 0, 0, NULL, 0, T0);

		CHECK(r >= 0 && r < 4);
		if (r < 0)
			break;
		cnt[r]++;
		bal_req_begin(s, 0, 0, r);
		bal_req_end(s, 0, 0, r);
	}
	/* smooth WRR is exact per cycle of 17 picks */
	CHECK(cnt[0] == 5000 && cnt[1] == 3000 && cnt[2] == 2000 && cnt[3] == 7000);
	bal_set_put(s);
}

static void
test_backup(void)
{
	static const struct srvspec sp[] = {
		{ "p1", 1, false }, { "p2", 1, false }, { "b1", 1, true }, { "b2", 1, true },
	};
	struct bal_set *s = build(CFG_BALANCE_ROUND_ROBIN, sp, 4, "/h", NULL);
	int cnt[4] = { 0 }, r;

	for (int i = 0; i < 1000; i++)
		cnt[bal_pick(s, 0, 0, NULL, 0, T0)]++;
	CHECK(cnt[0] == 500 && cnt[1] == 500 && cnt[2] == 0 && cnt[3] == 0);
	set_down(s, 0, true);
	for (int i = 0; i < 100; i++)
		CHECK(bal_pick(s, 0, 0, NULL, 0, T0) == 1);
	set_down(s, 1, true);
	memset(cnt, 0, sizeof(cnt));
	for (int i = 0; i < 1000; i++)
		cnt[bal_pick(s, 0, 0, NULL, 0, T0)]++;
	CHECK(cnt[0] == 0 && cnt[1] == 0 && cnt[2] == 500 && cnt[3] == 500);
	set_down(s, 2, true);
	set_down(s, 3, true);
	CHECK(bal_pick(s, 0, 0, NULL, 0, T0) == BAL_NONE);
	CHECK(bal_retry_after(s, 0, T0) == 5);	/* health_interval 5 s */
	/* one primary back: it gets everything again */
	set_down(s, 1, false);
	set_down(s, 2, false);
	for (int i = 0; i < 100; i++)
		CHECK(bal_pick(s, 0, 0, NULL, 0, T0) == 1);
	/* retries: the tried primary is skipped, then the backup, then exhausted */
	set_down(s, 0, false);
	r = bal_pick(s, 0, 0, NULL, 0, T0);
	CHECK(r == 0 || r == 1);
	CHECK(bal_pick(s, 0, 0, NULL, 1ULL << r, T0) == 1 - r);
	CHECK(bal_pick(s, 0, 0, NULL, 3, T0) == 2);
	CHECK(bal_pick(s, 0, 0, NULL, 7, T0) == BAL_EXHAUSTED);
	bal_set_put(s);
}

/* ---- least_conn ------------------------------------------------------------------------- */

static void
test_least_conn(void)
{
	static const struct srvspec eq[] = { { "l1", 1, false }, { "l2", 1, false }, { "l3", 1, false } };
	static const struct srvspec wt[] = { { "w3", 3, false }, { "w1", 1, false } };
	struct bal_set *s = build(CFG_BALANCE_LEAST_CONN, eq, 3, NULL, NULL);
	int cnt[2] = { 0 };

	/* load 3, 0, 1: the idle one wins every time while loads stay */
	for (int i = 0; i < 3; i++)
		bal_req_begin(s, 0, 0, 0);
	bal_req_begin(s, 0, 0, 2);
	CHECK(bal_pick(s, 0, 0, NULL, 0, T0) == 1);
	CHECK(bal_pick(s, 0, 0, NULL, 0, T0) == 1);
	bal_req_begin(s, 0, 0, 1);
	bal_req_begin(s, 0, 0, 1);
	CHECK(bal_pick(s, 0, 0, NULL, 0, T0) == 2);		/* 3, 2, 1 */
	CHECK(bal_pick(s, 0, 0, NULL, 1ULL << 2, T0) == 1);	/* retry: next least loaded */
	/* the counts are per worker: worker 1 sees no load, all tied -> round robin */
	CHECK(bal_pick(s, 1, 0, NULL, 0, T0) == 0);
	CHECK(bal_pick(s, 1, 0, NULL, 0, T0) == 1);
	CHECK(bal_pick(s, 1, 0, NULL, 0, T0) == 2);
	bal_set_put(s);

	/* weights: requests that never end pile up 3:1 */
	s = build(CFG_BALANCE_LEAST_CONN, wt, 2, NULL, NULL);
	for (int i = 0; i < 400; i++) {
		int r = bal_pick(s, 0, 0, NULL, 0, T0);

		cnt[r]++;
		bal_req_begin(s, 0, 0, r);
	}
	CHECK(cnt[0] == 300 && cnt[1] == 100);
	/* active 300 vs 100 per weight 3:1 is a tie; one more on w3 makes w1 the least */
	bal_req_begin(s, 0, 0, 0);
	CHECK(bal_pick(s, 0, 0, NULL, 0, T0) == 1);
	/* w3 at 2 per weight unit is still better than w1 at 3: weight counts */
	for (int i = 0; i < 301; i++)
		bal_req_end(s, 0, 0, 0);
	bal_req_begin(s, 0, 0, 0);
	bal_req_begin(s, 0, 0, 0);
	for (int i = 0; i < 97; i++)
		bal_req_end(s, 0, 0, 1);
	CHECK(bal_wsrv(s, 0, 0, 0)->active == 2 && bal_wsrv(s, 0, 0, 1)->active == 3);
	CHECK(bal_pick(s, 0, 0, NULL, 0, T0) == 0);
	bal_set_put(s);
}

/* ---- source_hash ------------------------------------------------------------------------ */

static void
key_v4(struct bal_key *k, uint32_t a)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(a) };

	*k = (struct bal_key)BAL_KEY_INIT;
	bal_key_addr(k, (struct sockaddr *)&sin);
}

static void
test_source_hash(void)
{
	static const struct srvspec four[] = {
		{ "fe1.contoso.com", 1, false }, { "fe2.contoso.com", 1, false },
		{ "fe3.contoso.com", 1, false }, { "fe4.contoso.com", 1, false },
	};
	static const struct srvspec three[] = {	/* fe3 removed */
		{ "fe1.contoso.com", 1, false }, { "fe2.contoso.com", 1, false },
		{ "fe4.contoso.com", 1, false },
	};
	static const struct srvspec w[] = {
		{ "w1", 1, false }, { "w2", 2, false }, { "w3", 3, false }, { "w4", 4, false },
	};
	static const int map3[] = { 0, 1, 3 };
	struct bal_set *a = build(CFG_BALANCE_SOURCE_HASH, four, 4, NULL, NULL);
	struct bal_set *b = build(CFG_BALANCE_SOURCE_HASH, four, 4, NULL, NULL);
	struct bal_set *c = build(CFG_BALANCE_SOURCE_HASH, three, 3, NULL, NULL);
	int diff = 0, moved = 0, moved_wrong = 0, moved_dn = 0, wrong_dn = 0, on3 = 0, cnt[4] = { 0 };
	struct bal_key k;

	for (uint32_t i = 0; i < 10000; i++) {
		uint32_t addr = 0x0a000000u + i * 2654435761u % 0x00ffffffu;	/* 10.x.y.z */
		int ra, rb, rc;

		key_v4(&k, addr);
		ra = bal_pick(a, 0, 0, &k, 0, T0);
		rb = bal_pick(b, 1, 0, &k, 0, T0);
		rc = map3[bal_pick(c, 0, 0, &k, 0, T0)];
		diff += ra != rb;
		cnt[ra]++;
		on3 += ra == 2;
		if (rc != ra) {
			moved++;
			moved_wrong += ra != 2;
		}
		CHECK(bal_pick(a, 0, 0, &k, 0, T0) == ra);	/* repeatable */
	}
	CHECK(diff == 0);
	CHECK(moved == on3 && moved_wrong == 0);
	CHECK(moved > 2000 && moved < 3000);
	for (int i = 0; i < 4; i++)
		CHECK(cnt[i] > 2200 && cnt[i] < 2800);
	printf("source_hash: removing 1 of 4 moved %d of 10000 keys (all from it)\n", moved);

	/* taking fe3 down (not removing it) moves exactly the same keys */
	set_down(a, 2, true);
	for (uint32_t i = 0; i < 10000; i++) {
		uint32_t addr = 0x0a000000u + i * 2654435761u % 0x00ffffffu;
		int ra, rb;

		key_v4(&k, addr);
		ra = bal_pick(a, 0, 0, &k, 0, T0);
		rb = bal_pick(b, 0, 0, &k, 0, T0);
		if (ra != rb) {
			moved_dn++;
			wrong_dn += rb != 2;
		}
		CHECK(ra == map3[bal_pick(c, 0, 0, &k, 0, T0)]);
	}
	CHECK(moved_dn == on3 && wrong_dn == 0);

	/* IPv6, and v4-mapped IPv6 = IPv4 */
	{
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
		struct bal_key k6 = BAL_KEY_INIT;

		inet_pton(AF_INET6, "::ffff:10.1.2.3", &s6.sin6_addr);
		bal_key_addr(&k6, (struct sockaddr *)&s6);
		key_v4(&k, 0x0a010203u);
		CHECK(k6.addr_len == 4 && memcmp(k6.addr, k.addr, 4) == 0);
		inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
		bal_key_addr(&k6, (struct sockaddr *)&s6);
		CHECK(k6.addr_len == 16);
		CHECK(bal_pick(b, 0, 0, &k6, 0, T0) == bal_pick(b, 1, 0, &k6, 0, T0));
	}
	bal_set_put(a);
	bal_set_put(b);
	bal_set_put(c);

	/* weighted rendezvous: shares follow 1:2:3:4 */
	a = build(CFG_BALANCE_SOURCE_HASH, w, 4, NULL, NULL);
	memset(cnt, 0, sizeof(cnt));
	for (uint32_t i = 0; i < 10000; i++) {
		key_v4(&k, 0xc0a80000u + i);
		cnt[bal_pick(a, 0, 0, &k, 0, T0)]++;
	}
	printf("source_hash weights 1:2:3:4 -> %d %d %d %d\n", cnt[0], cnt[1], cnt[2], cnt[3]);
	for (int i = 0; i < 4; i++)
		CHECK(cnt[i] > (i + 1) * 1000 * 85 / 100 && cnt[i] < (i + 1) * 1000 * 115 / 100);
	/* no address: round robin */
	k = (struct bal_key)BAL_KEY_INIT;
	CHECK(bal_pick(a, 0, 0, &k, 0, T0) >= 0);
	bal_set_put(a);
}

/* ---- cookie ----------------------------------------------------------------------------- */

static int
find(const char *val, char *out, size_t size)
{
	const char *v;
	size_t n;

	if (!bal_cookie_find(val, strlen(val), &v, &n))
		return 0;
	snprintf(out, size, "%.*s", (int)n, v);
	return 1;
}

static void
test_cookie_parse(void)
{
	char v[64];

	CHECK(find("MS-WSMAN=abc", v, sizeof(v)) && strcmp(v, "abc") == 0);
	CHECK(find("a=b; MS-WSMAN=0123456789abcdef; c=d", v, sizeof(v)) &&
	      strcmp(v, "0123456789abcdef") == 0);
	CHECK(find("  a=b ;\tMS-WSMAN = \"q1\" ; c=\"x;", v, sizeof(v)) && strcmp(v, "q1") == 0);
	CHECK(find("a=\"x\";MS-WSMAN=z", v, sizeof(v)) && strcmp(v, "z") == 0);
	CHECK(find("flag; MS-WSMAN=after-flag", v, sizeof(v)) && strcmp(v, "after-flag") == 0);
	CHECK(find("MS-WSMAN=first; MS-WSMAN=second", v, sizeof(v)) && strcmp(v, "first") == 0);
	CHECK(find("MS-WSMAN=", v, sizeof(v)) && strcmp(v, "") == 0);
	CHECK(find("MS-WSMAN=\"\"", v, sizeof(v)) && strcmp(v, "") == 0);
	CHECK(find("x=MS-WSMAN=no; y=1", v, sizeof(v)) == 0);
	CHECK(find("xMS-WSMAN=1; MS-WSMANx=2", v, sizeof(v)) == 0);
	CHECK(find("ms-wsman=1", v, sizeof(v)) == 0);		/* names are case-sensitive */
	CHECK(find("MS-WSMAN", v, sizeof(v)) == 0);
	CHECK(find("", v, sizeof(v)) == 0);
	CHECK(find(";;; ;", v, sizeof(v)) == 0);
	/* random inputs over the parser's alphabet (a poor man's fuzzer; ASan builds check the
	 * bounds): a found value always lies inside the input, behind "MS-WSMAN" and '=' */
	{
		static const char abc[] = "MS-WAN=;\" \tx";
		char buf[40];
		unsigned seed = 12345, found = 0;

		for (int i = 0; i < 200000; i++) {
			size_t len = (seed = seed * 1103515245u + 12345u) >> 16 & 31, n;
			const char *p;

			for (size_t j = 0; j < len; j++)
				buf[j] = abc[((seed = seed * 1103515245u + 12345u) >> 16) % (sizeof(abc) - 1)];
			if (i % 7 == 0 && len >= 9)
				memcpy(buf + len / 3, "MS-WSMAN=", 9 > len - len / 3 ? len - len / 3 : 9);
			if (!bal_cookie_find(buf, len, &p, &n))
				continue;
			found++;
			CHECK(p >= buf && p + n <= buf + len);
			CHECK(memchr(p, ';', n) == NULL);
			CHECK(memmem(buf, (size_t)(p - buf), "MS-WSMAN", 8) != NULL);
		}
		CHECK(found > 1000);
	}
	/* the length bounds the scan: no NUL needed */
	{
		const char *val = "MS-WSMAN=abcdef", *p;
		size_t n;

		CHECK(bal_cookie_find(val, 12, &p, &n) && n == 3 && memcmp(p, "abc", 3) == 0);
		CHECK(!bal_cookie_find(val, 7, &p, &n));
	}
}

static void
test_cookie(void)
{
	static const struct srvspec sp[] = {
		{ "fe1.contoso.com", 1, false }, { "fe2.contoso.com", 1, false },
		{ "fe3.contoso.com", 1, false },
	};
	struct bal_set *s = build(CFG_BALANCE_COOKIE, sp, 3, "/h", NULL);
	struct bal_set *s2 = build(CFG_BALANCE_COOKIE, sp, 3, "/h", NULL);
	struct bal_set *rr = build(CFG_BALANCE_ROUND_ROBIN, sp, 3, "/h", NULL);
	char line[128], hdr[128], id[BAL_ID_LEN + 1];
	struct bal_key k = BAL_KEY_INIT;
	int n, r;

	/* ids: stable (a golden value: no per-process seed), distinct, identical across builds */
	bal_server_id("fe1.contoso.com", 4443, id);
	CHECK_STR(id, s->pools[0].srv[0].id);
	CHECK_STR(id, "351b574cf3c9cd06");
	CHECK(strcmp(s->pools[0].srv[0].id, s->pools[0].srv[1].id) != 0);
	for (int i = 0; i < 3; i++)
		CHECK_STR(s->pools[0].srv[i].id, s2->pools[0].srv[i].id);
	bal_server_id("fe1.contoso.com", 443, id);
	CHECK(strcmp(id, s->pools[0].srv[0].id) != 0);

	/* Set-Cookie line */
	n = bal_cookie_line(s, 0, 1, line, sizeof(line));
	snprintf(hdr, sizeof(hdr), "Set-Cookie: MS-WSMAN=%s; Path=/\r\n", s->pools[0].srv[1].id);
	CHECK(n == (int)strlen(hdr));
	CHECK_STR(line, hdr);
	CHECK(bal_cookie_line(s, 0, 1, line, 20) == -ENOSPC);
	CHECK(bal_cookie_line(s, 0, 1, line, (size_t)n) == n);	/* exact fit, no NUL */

	/* lookup */
	CHECK(bal_cookie_lookup(&s->pools[0], s->pools[0].srv[2].id, BAL_ID_LEN) == 2);
	CHECK(bal_cookie_lookup(&s->pools[0], "0000000000000000", BAL_ID_LEN) == -1);
	CHECK(bal_cookie_lookup(&s->pools[0], s->pools[0].srv[2].id, 15) == -1);

	/* no cookie: round robin, and the response must set one */
	r = bal_pick(s, 0, 0, &k, 0, T0);
	CHECK(r >= 0 && bal_cookie_wanted(s, 0, &k, r));

	/* a cookie naming fe3 (among other cookies, second Cookie line): always fe3, no Set-Cookie */
	snprintf(hdr, sizeof(hdr), "lang=en; MS-WSMAN=%s; x=1", s->pools[0].srv[2].id);
	bal_key_cookie(s, 0, &k, "a=1", 3);
	CHECK(k.cookie_srv == -1 && !k.cookie_seen);
	bal_key_cookie(s, 0, &k, hdr, strlen(hdr));
	CHECK(k.cookie_srv == 2 && k.cookie_seen);
	for (int i = 0; i < 10; i++)
		CHECK(bal_pick(s, 0, 0, &k, 0, T0) == 2);
	CHECK(!bal_cookie_wanted(s, 0, &k, 2));
	/* fe3 down: round robin over the others, and a new cookie for the one chosen */
	set_down(s, 2, true);
	r = bal_pick(s, 0, 0, &k, 0, T0);
	CHECK(r == 0 || r == 1);
	CHECK(bal_cookie_wanted(s, 0, &k, r));
	set_down(s, 2, false);
	CHECK(bal_pick(s, 0, 0, &k, 0, T0) == 2);
	/* a retry after fe3 failed to connect goes elsewhere */
	r = bal_pick(s, 0, 0, &k, 1ULL << 2, T0);
	CHECK(r == 0 || r == 1);
	/* an unknown id: round robin + Set-Cookie */
	k = (struct bal_key)BAL_KEY_INIT;
	bal_key_cookie(s, 0, &k, "MS-WSMAN=ffffffffffffffff", 25);
	CHECK(k.cookie_srv == -1 && bal_cookie_wanted(s, 0, &k, 0));
	/* pools not balanced by cookie ignore it and never set it */
	k = (struct bal_key)BAL_KEY_INIT;
	bal_key_cookie(rr, 0, &k, hdr, strlen(hdr));
	CHECK(k.cookie_srv == -1 && !bal_cookie_wanted(rr, 0, &k, 0));
	bal_set_put(s);
	bal_set_put(s2);
	bal_set_put(rr);

	/* a backup's cookie counts only while no primary is up: backups serve only then */
	{
		static const struct srvspec bk[] = {
			{ "fe1.contoso.com", 1, false }, { "fe2.contoso.com", 1, false },
			{ "dr.contoso.com", 1, true },
		};
		struct bal_set *b = build(CFG_BALANCE_COOKIE, bk, 3, "/h", NULL);

		k = (struct bal_key)BAL_KEY_INIT;
		snprintf(hdr, sizeof(hdr), "MS-WSMAN=%s", b->pools[0].srv[2].id);
		bal_key_cookie(b, 0, &k, hdr, strlen(hdr));
		CHECK(k.cookie_srv == 2);
		for (int i = 0; i < 6; i++) {
			r = bal_pick(b, 0, 0, &k, 0, T0);
			CHECK((r == 0 || r == 1) && bal_cookie_wanted(b, 0, &k, r));
		}
		set_down(b, 0, true);
		set_down(b, 1, true);
		CHECK(bal_pick(b, 0, 0, &k, 0, T0) == 2 && !bal_cookie_wanted(b, 0, &k, 2));
		bal_set_put(b);
	}
}

/* ---- passive ---------------------------------------------------------------------------- */

static bool
up(struct bal_set *s, int srv, uint64_t now)
{
	return bal_srv_up(&s->pools[0], &s->pools[0].srv[srv], now);
}

static void
test_passive(void)
{
	static const struct srvspec sp[] = { { "p1", 1, false }, { "p2", 1, false } };
	struct bal_set *s = build(CFG_BALANCE_ROUND_ROBIN, sp, 2, NULL, NULL);	/* no probes */
	struct bal_set *hc, *s2;
	uint64_t t;

	/* max_fails = 3 within fail_timeout = 1000 ms */
	CHECK(!bal_report_failure(s, 0, 0, -ECONNREFUSED, T0));
	CHECK(!bal_report_failure(s, 0, 0, -ECONNRESET, T0 + 400));
	CHECK(up(s, 0, T0 + 500));
	CHECK(bal_report_failure(s, 0, 0, -ETIMEDOUT, T0 + 900));
	CHECK(!up(s, 0, T0 + 900));
	for (int i = 0; i < 10; i++)
		CHECK(bal_pick(s, 0, 0, NULL, 0, T0 + 950) == 1);
	CHECK(bal_retry_after(s, 0, T0 + 950) == 1);
	/* a late report while down is not a second transition */
	CHECK(!bal_report_failure(s, 0, 0, -ECONNRESET, T0 + 901));
	CHECK(!bal_report_failure(s, 0, 0, -ECONNRESET, T0 + 902));
	CHECK(!bal_report_failure(s, 0, 0, -ECONNRESET, T0 + 903));
	/* recovery after fail_timeout without probes */
	CHECK(!up(s, 0, T0 + 903 + 999));
	CHECK(up(s, 0, T0 + 903 + 1000));
	CHECK(up(s, 0, T0 + 903 + 1001));

	/* a pool of one server is never taken down passively (nginx's rule) */
	{
		static const struct srvspec one[] = { { "only", 1, false } };
		struct bal_set *s1 = build(CFG_BALANCE_ROUND_ROBIN, one, 1, NULL, NULL);

		for (int i = 0; i < 10; i++)
			CHECK(!bal_report_failure(s1, 0, 0, -ECONNREFUSED, T0 + (uint64_t)i));
		CHECK(up(s1, 0, T0 + 20));
		CHECK(bal_pick(s1, 0, 0, NULL, 0, T0 + 20) == 0);
		bal_set_put(s1);
	}

	/* both down: no server, Retry-After until the first comes back */
	t = T0 + 10000;
	for (int i = 0; i < 3; i++) {
		bal_report_failure(s, 0, 0, -ECONNREFUSED, t);
		bal_report_failure(s, 0, 1, -ECONNREFUSED, t + 500);
	}
	CHECK(bal_pick(s, 0, 0, NULL, 0, t + 600) == BAL_NONE);
	CHECK(bal_retry_after(s, 0, t + 600) == 1);

	/* failures spread wider than fail_timeout never take it down */
	t = T0 + 100000;
	for (int i = 0; i < 20; i++)
		CHECK(!bal_report_failure(s, 0, 1, -ECONNRESET, t + (uint64_t)i * 600));
	CHECK(up(s, 1, t + 20 * 600));
	bal_set_put(s);

	/* with health_check: down until a good probe, however long that takes */
	hc = build(CFG_BALANCE_ROUND_ROBIN, sp, 2, "/h", NULL);
	for (int i = 0; i < 3; i++)
		bal_report_failure(hc, 0, 1, -ECONNREFUSED, T0 + (uint64_t)i);
	CHECK(!up(hc, 1, T0 + 1000000));
	/* a reload keeps it down (no flap), and a pool without probes turns it into a timed down */
	s2 = build(CFG_BALANCE_ROUND_ROBIN, sp, 2, "/h", hc);
	CHECK(!up(s2, 1, T0 + 1000000) && up(s2, 0, T0));
	bal_set_put(s2);
	s2 = build(CFG_BALANCE_ROUND_ROBIN, sp, 1, NULL, hc);
	CHECK(up(s2, 0, T0));
	bal_set_put(s2);
	{
		static const struct srvspec moved[] = { { "p2", 1, false }, { "new", 1, false } };

		s2 = build(CFG_BALANCE_ROUND_ROBIN, moved, 2, NULL, hc);	/* p2 is now index 0 */
		t = bal_now_ms();
		CHECK(!up(s2, 0, t) && up(s2, 1, t));
		CHECK(up(s2, 0, t + 1000 + 1000));	/* fail_timeout from the rebuild */
		bal_set_put(s2);
	}
	CHECK(health_apply(hc, 0, 1, true, "status 200", T0) == 1);
	CHECK(up(hc, 1, T0));
	CHECK(up(hc, 1, T0 + 1000001));
	CHECK(health_apply(hc, 0, 1, true, "status 200", T0) == 0);	/* no change: no log */
	CHECK(health_apply(hc, 0, 1, false, "status 500", T0) == -1);
	CHECK(health_apply(hc, 0, 1, false, "status 500", T0) == 0);
	CHECK(!up(hc, 1, T0));
	bal_set_put(hc);

	/* health_check configured but nobody probing (no health thread): a timed down */
	hc = build(CFG_BALANCE_ROUND_ROBIN, sp, 2, "/h", NULL);
	atomic_store(&hc->pools[0].probing, false);
	for (int i = 0; i < 3; i++)
		bal_report_failure(hc, 0, 0, -ECONNREFUSED, T0);
	CHECK(!up(hc, 0, T0 + 999) && up(hc, 0, T0 + 1000));
	bal_set_put(hc);

	/* max_fails = 0: passive accounting off */
	{
		struct config *c = mkcfg(CFG_BALANCE_ROUND_ROBIN, sp, 2, NULL);

		c->pools[0].max_fails = 0;
		s = bal_set_build(c, 1, NULL);
		cfgfree(c);
		for (int i = 0; i < 10; i++)
			CHECK(!bal_report_failure(s, 0, 0, -ECONNREFUSED, T0));
		CHECK(up(s, 0, T0));
		bal_set_put(s);
	}
}

/* ---- backend protection: max_conns shares, slow_start ramp ------------------------------ */

static void
test_conn_share(void)
{
	uint64_t sum = 0;

	CHECK(bal_conn_share(0, 4, 0) == 0);		/* unlimited */
	for (int w = 0; w < 3; w++)
		sum += bal_conn_share(10, 3, w);
	CHECK(sum == 10);				/* shares add up to max */
	CHECK(bal_conn_share(10, 3, 0) == 4 && bal_conn_share(10, 3, 2) == 3);
	CHECK(bal_conn_share(2, 4, 3) == 1);		/* max < workers: 1 each (documented) */
	CHECK(bal_conn_share(512, 1, 0) == 512);
}

static void
test_slow_start_weight(void)
{
	CHECK(bal_slow_start_weight(3, 0, 10000, T0) == 3 * BAL_W_SCALE);	/* never came up */
	CHECK(bal_slow_start_weight(3, T0, 0, T0) == 3 * BAL_W_SCALE);		/* off */
	CHECK(bal_slow_start_weight(3, T0, 10000, T0) == 1);			/* at least 1 */
	CHECK(bal_slow_start_weight(2, T0, 10000, T0 + 2500) == 2 * BAL_W_SCALE / 4);
	CHECK(bal_slow_start_weight(2, T0, 10000, T0 + 5000) == 2 * BAL_W_SCALE / 2);
	CHECK(bal_slow_start_weight(2, T0, 10000, T0 + 10000) == 2 * BAL_W_SCALE);
	CHECK(bal_slow_start_weight(2, T0 + 50, 10000, T0) == 1);		/* clock skew */
	/* linear: each step of 1/8 of the ramp adds the same weight (integer rounding aside) */
	for (uint64_t t = 0; t < 10000; t += 1250) {
		uint32_t a = bal_slow_start_weight(8, T0, 10000, T0 + t);
		uint32_t b = bal_slow_start_weight(8, T0, 10000, T0 + t + 1250);

		CHECK(b - (a == 1 && t == 0 ? 0 : a) == 8 * BAL_W_SCALE / 8);
	}
}

/* A server that comes back with slow_start gets a share that grows with the ramp. */
static void
test_slow_start_pick(void)
{
	static const struct srvspec sp[] = { { "s1", 1, false }, { "s2", 1, false } };
	struct config *c = mkcfg(CFG_BALANCE_ROUND_ROBIN, sp, 2, NULL);
	struct bal_set *s;
	int prev = -1;

	c->pools[0].slow_start = 10000;
	s = bal_set_build(c, 1, NULL);
	cfgfree(c);
	atomic_store(&s->pools[0].srv[1].h.up_since, T0);
	for (uint64_t q = 1; q <= 4; q++) {
		int n1 = 0, ew = (int)(BAL_W_SCALE * q * 2000 / 10000), want;

		for (int i = 0; i < 1000; i++)
			n1 += bal_pick(s, 0, 0, NULL, 0, T0 + q * 2000) == 1;
		/* weight q/5 of s1's (in 1/BAL_W_SCALE units): share ew / (ew + full) */
		want = 1000 * ew / (ew + BAL_W_SCALE);
		CHECK(n1 >= want - 3 && n1 <= want + 3);
		CHECK(n1 > prev);
		prev = n1;
	}
	CHECK(bal_pick(s, 0, 0, NULL, 0, T0 + 10000) >= 0);
	bal_set_put(s);
}

int
main(void)
{
	log_threshold = LOG_ERROR;	/* the transitions would be logged: keep the output short */
	test_swrr_sequence();
	test_distribution(CFG_BALANCE_ROUND_ROBIN);
	test_distribution(CFG_BALANCE_LEAST_CONN);	/* no load: every pick is a tie -> WRR */
	test_distribution(CFG_BALANCE_COOKIE);		/* no cookie: WRR */
	test_backup();
	test_least_conn();
	test_source_hash();
	test_cookie_parse();
	test_cookie();
	test_passive();
	test_conn_share();
	test_slow_start_weight();
	test_slow_start_pick();
	return check_done();
}
