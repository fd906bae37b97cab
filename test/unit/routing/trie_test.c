/*
 * routing/trie: precedence, segment boundaries, case, host/path stripping, duplicates,
 * malformed input, and a 10,000-route table.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routing/trie.h"
#include "test/unit/check.h"

#define RE_COUNT(a)	(sizeof(a) / sizeof((a)[0]))

/* Values are strings naming the route, so a wrong match prints something readable. */
static const char *
look(const struct trie *t, const char *host, const char *path)
{
	const void *v = trie_lookup(t, host, strlen(host), path, strlen(path));

	return v ? v : "(none)";
}

static struct trie *
build(const char *const routes[][3], size_t n)
{
	struct trie_builder *b = trie_builder_new();

	CHECK(b != NULL);
	if (b == NULL)
		exit(1);
	for (size_t i = 0; i < n; i++) {
		int rc = trie_builder_add(b, routes[i][0], routes[i][1], routes[i][2]);

		if (rc != 0)
			fprintf(stderr, "add %s %s: %d\n", routes[i][0], routes[i][1], rc);
		CHECK(rc == 0);
	}
	return trie_builder_finish(b);
}

static void
test_precedence(void)
{
	static const char *const routes[][3] = {
		{ "meet.contoso.com", "/meet", "exact/meet" },
		{ "meet.contoso.com", "/", "exact/" },
		{ "*.contoso.com", "/", "wild-contoso/" },
		{ "*.contoso.com", "/dialin", "wild-contoso/dialin" },
		{ "*.eu.contoso.com", "/", "wild-eu/" },
		{ "*.com", "/", "wild-com/" },
		{ "*", "/", "any/" },
		{ "*", "/abs", "any/abs" },
		{ "only.example.net", "/ucwa", "only/ucwa" },
	};
	struct trie *t = build(routes, RE_COUNT(routes));

	CHECK(t != NULL);
	CHECK(trie_route_count(t) == RE_COUNT(routes));
	/* exact beats wildcards and "*" */
	CHECK_STR(look(t, "meet.contoso.com", "/meet/x"), "exact/meet");
	CHECK_STR(look(t, "meet.contoso.com", "/other"), "exact/");
	/* exact host chosen first: no fall back to *.contoso.com's /dialin */
	CHECK_STR(look(t, "meet.contoso.com", "/dialin"), "exact/");
	/* longest wildcard suffix */
	CHECK_STR(look(t, "a.contoso.com", "/x"), "wild-contoso/");
	CHECK_STR(look(t, "a.b.contoso.com", "/dialin/y"), "wild-contoso/dialin");
	CHECK_STR(look(t, "x.eu.contoso.com", "/dialin"), "wild-eu/");
	CHECK_STR(look(t, "y.x.eu.contoso.com", "/"), "wild-eu/");
	CHECK_STR(look(t, "eu.contoso.com", "/"), "wild-contoso/");
	/* the wildcard does not match the bare domain */
	CHECK_STR(look(t, "contoso.com", "/"), "wild-com/");
	CHECK_STR(look(t, "com", "/"), "any/");
	CHECK_STR(look(t, "fabrikam.com", "/abs"), "wild-com/");
	/* "*" */
	CHECK_STR(look(t, "fabrikam.org", "/abs/q"), "any/abs");
	CHECK_STR(look(t, "fabrikam.org", "/"), "any/");
	CHECK_STR(look(t, "", "/abs"), "any/abs");
	/* the chosen host has no matching path: NULL, not "*" */
	CHECK_STR(look(t, "only.example.net", "/ucwa/1"), "only/ucwa");
	CHECK_STR(look(t, "only.example.net", "/abs"), "(none)");
	CHECK_STR(look(t, "only.example.net", "/"), "(none)");
	trie_free(t);
}

static void
test_segments_case_query(void)
{
	static const char *const routes[][3] = {
		{ "h.test", "/meet", "meet" },
		{ "h.test", "/meet/a/b", "meet/a/b" },
		{ "h.test", "/Dialin/", "dialin" },
		{ "h.test", "/x%2Fy", "x%2fy" },
	};
	struct trie *t = build(routes, RE_COUNT(routes));

	CHECK(t != NULL);
	CHECK_STR(look(t, "h.test", "/meet"), "meet");
	CHECK_STR(look(t, "h.test", "/meet/"), "meet");
	CHECK_STR(look(t, "h.test", "/meet/x"), "meet");
	CHECK_STR(look(t, "h.test", "/Meet/x"), "meet");
	CHECK_STR(look(t, "h.test", "/MEET"), "meet");
	CHECK_STR(look(t, "h.test", "/meet?x=1"), "meet");
	CHECK_STR(look(t, "h.test", "/meet/a?b/c"), "meet");
	CHECK_STR(look(t, "h.test", "/meet?/a/b"), "meet");
	CHECK_STR(look(t, "h.test", "/meet/a/b"), "meet/a/b");
	CHECK_STR(look(t, "h.test", "/meet/A/B/c/d"), "meet/a/b");
	CHECK_STR(look(t, "h.test", "/meet/a/bc"), "meet");
	CHECK_STR(look(t, "h.test", "/meet//a/b"), "meet");
	CHECK_STR(look(t, "h.test", "/meetings"), "(none)");
	CHECK_STR(look(t, "h.test", "/mee"), "(none)");
	CHECK_STR(look(t, "h.test", "/"), "(none)");
	CHECK_STR(look(t, "h.test", "//meet"), "(none)");
	CHECK_STR(look(t, "h.test", "/dialin"), "dialin");
	CHECK_STR(look(t, "h.test", "/DIALIN/x"), "dialin");
	/* raw, never decoded: %2F is not a separator; hex case folds like any ASCII */
	CHECK_STR(look(t, "h.test", "/x%2fy/z"), "x%2fy");
	CHECK_STR(look(t, "h.test", "/x/y"), "(none)");
	/* not origin-form */
	CHECK_STR(look(t, "h.test", "meet"), "(none)");
	CHECK_STR(look(t, "h.test", ""), "(none)");
	CHECK_STR(look(t, "h.test", "?/meet"), "(none)");
	/* path length is honoured: "/meetings" cut to "/meet" */
	CHECK(trie_lookup(t, "h.test", 6, "/meetings", 5) != NULL);
	trie_free(t);
}

static void
test_host_forms(void)
{
	static const char *const routes[][3] = {
		{ "Lync.Contoso.COM.", "/", "lync" },
		{ "[2001:DB8::1]", "/", "v6" },
		{ "192.0.2.1", "/", "v4" },
		{ "*.Fabrikam.com", "/", "wild" },
	};
	struct trie *t = build(routes, RE_COUNT(routes));

	CHECK(t != NULL);
	CHECK_STR(look(t, "lync.contoso.com", "/"), "lync");
	CHECK_STR(look(t, "LYNC.CONTOSO.COM", "/"), "lync");
	CHECK_STR(look(t, "lync.contoso.com.", "/"), "lync");
	CHECK_STR(look(t, "lync.contoso.com:443", "/"), "lync");
	CHECK_STR(look(t, "lync.contoso.com.:443", "/"), "lync");
	CHECK_STR(look(t, "lync.contoso.com..", "/"), "(none)");
	CHECK_STR(look(t, "lync.contoso.co", "/"), "(none)");
	CHECK_STR(look(t, "xlync.contoso.com", "/"), "(none)");
	CHECK_STR(look(t, "[2001:db8::1]", "/"), "v6");
	CHECK_STR(look(t, "[2001:db8::1]:8080", "/"), "v6");
	CHECK_STR(look(t, "[2001:db8::2]:8080", "/"), "(none)");
	CHECK_STR(look(t, "[2001:db8::1", "/"), "(none)");
	CHECK_STR(look(t, "192.0.2.1:80", "/"), "v4");
	CHECK_STR(look(t, "a.FABRIKAM.COM:8443", "/"), "wild");
	CHECK_STR(look(t, "a.b.fabrikam.com.", "/"), "wild");
	CHECK_STR(look(t, "fabrikam.com", "/"), "(none)");
	CHECK_STR(look(t, ".fabrikam.com", "/"), "(none)");
	CHECK_STR(look(t, "a..fabrikam.com", "/"), "(none)");
	CHECK_STR(look(t, "", "/"), "(none)");
	CHECK_STR(look(t, ":443", "/"), "(none)");
	/* host_len is honoured (bytes after it are not part of the host) */
	CHECK(trie_lookup(t, "lync.contoso.comX", 16, "/", 1) != NULL);
	trie_free(t);
}

static void
test_add_errors(void)
{
	struct trie_builder *b = trie_builder_new();
	struct trie *t;
	static const char *const bad_hosts[] = {
		"", ".", "*.", "**", "*x.com", "a.*.com", "foo.*", "a b.com", "a..com", ".a.com",
		"a.com:443", "[::1", "[zz::1]", "[]", "h\xc3\xa9.com", "*.*.com",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
	};
	static const char *const bad_paths[] = {
		"", "meet", "//", "/a//b", "/a?b", "/a#b", "/a b", "/\x7f", "/\xc3\xa9",
	};

	CHECK(b != NULL);
	for (size_t i = 0; i < RE_COUNT(bad_hosts); i++) {
		int rc = trie_builder_add(b, bad_hosts[i], "/", "x");

		if (rc != -EINVAL)
			fprintf(stderr, "bad host %zu \"%s\" -> %d\n", i, bad_hosts[i], rc);
		CHECK(rc == -EINVAL);
	}
	for (size_t i = 0; i < RE_COUNT(bad_paths); i++) {
		int rc = trie_builder_add(b, "h.test", bad_paths[i], "x");

		if (rc != -EINVAL)
			fprintf(stderr, "bad path %zu \"%s\" -> %d\n", i, bad_paths[i], rc);
		CHECK(rc == -EINVAL);
	}
	CHECK(trie_builder_add(b, NULL, "/", "x") == -EINVAL);
	CHECK(trie_builder_add(b, "h.test", NULL, "x") == -EINVAL);
	CHECK(trie_builder_add(b, "h.test", "/", NULL) == -EINVAL);
	CHECK(trie_builder_add(NULL, "h.test", "/", "x") == -EINVAL);

	/* 253 bytes is the DNS limit; 254 is rejected */
	{
		char name[300];

		memset(name, 'a', sizeof(name));
		for (int i = 63; i < 300; i += 64)
			name[i] = '.';
		name[253] = '\0';
		CHECK(trie_builder_add(b, name, "/", "long") == 0);
		name[253] = 'a';
		name[254] = '\0';
		CHECK(trie_builder_add(b, name, "/", "long") == -EINVAL);
	}

	/* duplicates: case-insensitive, trailing dot and trailing slash ignored */
	CHECK(trie_builder_add(b, "h.test", "/meet", "1") == 0);
	CHECK(trie_builder_add(b, "H.TEST.", "/MEET/", "2") == -EEXIST);
	CHECK(trie_builder_add(b, "h.test", "/meet/x", "3") == 0);
	CHECK(trie_builder_add(b, "*.h.test", "/meet", "4") == 0);
	CHECK(trie_builder_add(b, "*.H.test.", "/Meet", "5") == -EEXIST);
	CHECK(trie_builder_add(b, "*", "/", "6") == 0);
	CHECK(trie_builder_add(b, "*", "/", "7") == -EEXIST);
	/* a path that only existed as an inner node is not a duplicate */
	CHECK(trie_builder_add(b, "h.test", "/a/b", "8") == 0);
	CHECK(trie_builder_add(b, "h.test", "/a", "9") == 0);
	CHECK(trie_builder_add(b, "h.test", "/A", "10") == -EEXIST);

	t = trie_builder_finish(b);
	CHECK(t != NULL);
	CHECK(trie_route_count(t) == 7);
	CHECK_STR(look(t, "h.test", "/meet/y"), "1");
	CHECK_STR(look(t, "x.h.test", "/meet/y"), "4");
	CHECK_STR(look(t, "h.test", "/a/c"), "9");
	CHECK_STR(look(t, "h.test", "/a/b/c"), "8");
	CHECK_STR(look(t, "other", "/"), "6");
	trie_free(t);

	/* empty table, and NULLs */
	t = trie_builder_finish(trie_builder_new());
	CHECK(t != NULL);
	CHECK(trie_lookup(t, "h", 1, "/", 1) == NULL);
	CHECK(trie_lookup(t, NULL, 0, NULL, 0) == NULL);
	CHECK(trie_lookup(NULL, "h", 1, "/", 1) == NULL);
	trie_free(t);
	trie_free(NULL);
	trie_builder_free(NULL);
	CHECK(trie_builder_finish(NULL) == NULL);
}

/*
 * 10,000 routes: 1,000 exact hosts x 6 paths, 500 wildcards x 6 paths, 1,000 "*" paths.
 * Values encode (kind, host, path) so every hit is checked for the right route.
 */
#define BIG_EXACT	1000
#define BIG_WILD	500
#define BIG_PATHS	6
#define BIG_ANY		1000

static const char *const big_paths[BIG_PATHS] = {
	"/", "/meet", "/dialin", "/abs/handler", "/ucwa/v1/apps", "/x%2Fy/deep/er/path",
};

static void
test_big(void)
{
	struct trie_builder *b = trie_builder_new();
	uintptr_t expected = 0;
	char host[64], path[64];
	struct trie *t;
	size_t n = 0;
	int missing = 0, wrong = 0;

	CHECK(b != NULL);
	for (int h = 0; h < BIG_EXACT; h++) {
		snprintf(host, sizeof(host), "host%d.site%d.contoso.com", h, h % 37);
		for (int p = 0; p < BIG_PATHS; p++, n++)
			CHECK(trie_builder_add(b, host, big_paths[p],
					       (void *)(uintptr_t)(1 + h * 16 + p)) == 0);
	}
	for (int h = 0; h < BIG_WILD; h++) {
		snprintf(host, sizeof(host), "*.w%d.fabrikam.net", h);
		for (int p = 0; p < BIG_PATHS; p++, n++)
			CHECK(trie_builder_add(b, host, big_paths[p],
					       (void *)(uintptr_t)(1000000 + h * 16 + p)) == 0);
	}
	for (int p = 0; p < BIG_ANY; p++, n++) {
		snprintf(path, sizeof(path), "/any%d/s", p);
		CHECK(trie_builder_add(b, "*", path, (void *)(uintptr_t)(2000000 + p)) == 0);
	}
	CHECK(n == 10000);
	t = trie_builder_finish(b);
	CHECK(t != NULL);
	if (t == NULL)
		return;
	CHECK(trie_route_count(t) == 10000);

	for (int h = 0; h < BIG_EXACT; h++) {
		snprintf(host, sizeof(host), "HOST%d.site%d.contoso.com:443", h, h % 37);
		for (int p = 0; p < BIG_PATHS; p++) {
			snprintf(path, sizeof(path), "%s/tail?q=1", big_paths[p]);
			expected = 1 + h * 16 + p;
			if ((uintptr_t)trie_lookup(t, host, strlen(host), path, strlen(path))
			    != expected)
				wrong++;
		}
		/* a path none of its routes has falls to its "/" (no fall back to "*") */
		if ((uintptr_t)trie_lookup(t, host, strlen(host), "/any1/s", 7)
		    != (uintptr_t)(1 + h * 16))
			wrong++;
	}
	for (int h = 0; h < BIG_WILD; h++) {
		snprintf(host, sizeof(host), "a%d.b.w%d.fabrikam.net", h, h);
		for (int p = 0; p < BIG_PATHS; p++) {
			expected = 1000000 + h * 16 + p;
			if ((uintptr_t)trie_lookup(t, host, strlen(host), big_paths[p],
						   strlen(big_paths[p])) != expected)
				wrong++;
		}
		/* the bare domain of a wildcard is not covered: "*" has no "/" route */
		snprintf(host, sizeof(host), "w%d.fabrikam.net", h);
		if (trie_lookup(t, host, strlen(host), "/meet", 5) != NULL)
			wrong++;
	}
	for (int p = 0; p < BIG_ANY; p++) {
		snprintf(path, sizeof(path), "/ANY%d/s/more", p);
		if ((uintptr_t)trie_lookup(t, "nowhere.example", 15, path, strlen(path))
		    != (uintptr_t)(2000000 + p))
			missing++;
		snprintf(path, sizeof(path), "/any%d/t", p);
		if (trie_lookup(t, "nowhere.example", 15, path, strlen(path)) != NULL)
			wrong++;
	}
	/* non-existing hosts near existing ones */
	for (int h = 0; h < BIG_EXACT; h++) {
		snprintf(host, sizeof(host), "host%d.site%d.contoso.com", h, (h + 1) % 37);
		if (trie_lookup(t, host, strlen(host), "/meet", 5) != NULL)
			wrong++;
	}
	if (missing || wrong)
		fprintf(stderr, "big: %d missing, %d wrong\n", missing, wrong);
	CHECK(missing == 0);
	CHECK(wrong == 0);
	trie_free(t);
}

int
main(void)
{
	test_precedence();
	test_segments_case_query();
	test_host_forms();
	test_add_errors();
	test_big();
	return check_done();
}
