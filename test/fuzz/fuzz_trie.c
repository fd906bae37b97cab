/*
 * libFuzzer target for routing/trie: builds a table from the input, then looks requests up,
 * and checks every answer against a naive reference matcher (linear scan over the routes).
 *
 * Input: lines. "A<host> <path>" adds a route, "L<host> <path>" looks up (raw bytes: host
 * may carry a port, path a query). All adds happen first, then all lookups. The value of
 * route i is &ids[i], so a wrong route is detected, not just a wrong NULL-ness.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routing/trie.h"

#define MAX_ROUTES	256
#define MAX_FIELD	300

struct ref_route {
	int	kind;			/* 0 exact, 1 wildcard (key = suffix), 2 any */
	char	host[MAX_FIELD];	/* lower-cased, trailing dot stripped */
	char	path[MAX_FIELD];	/* lower-cased, trailing '/' stripped */
};

static struct ref_route routes[MAX_ROUTES];
static int ids[MAX_ROUTES];
static int nroutes;

static void
lower_copy(char *dst, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[n] = '\0';
}

/* Normalises an accepted route the way the documentation says trie_builder_add does. */
static void
ref_normalise(const char *host, const char *path, struct ref_route *r)
{
	size_t n = strlen(host);

	r->kind = 0;
	if (strcmp(host, "*") == 0) {
		r->kind = 2;
		n = 0;
	} else if (host[0] == '*') {
		r->kind = 1;
		host += 2;
		n -= 2;
	}
	if (n > 0 && host[n - 1] == '.')
		n--;
	lower_copy(r->host, host, n);
	n = strlen(path);
	if (n > 1 && path[n - 1] == '/')
		n--;
	lower_copy(r->path, path, n);
}

static int
ref_find(const struct ref_route *r)
{
	for (int i = 0; i < nroutes; i++)
		if (routes[i].kind == r->kind && strcmp(routes[i].host, r->host) == 0
		    && strcmp(routes[i].path, r->path) == 0)
			return i;
	return -1;
}

static bool
ends_with(const char *s, size_t n, const char *suf)
{
	size_t m = strlen(suf);

	return m <= n && memcmp(s + n - m, suf, m) == 0;
}

static const void *
ref_lookup(const char *host, size_t hlen, const char *path, size_t plen)
{
	char h[MAX_FIELD], p[MAX_FIELD];
	const char *c;
	int kind = 2, best = -1;
	size_t best_len = 0, hkey_len = 0;
	const char *hkey = NULL;

	if (hlen > 0 && host[0] == '[') {
		c = memchr(host, ']', hlen);
		hlen = c ? (size_t)(c - host) + 1 : 0;
	} else if ((c = memchr(host, ':', hlen)) != NULL) {
		hlen = (size_t)(c - host);
	}
	if (hlen > 0 && host[hlen - 1] == '.')
		hlen--;
	if (hlen > TRIE_HOST_MAX)
		hlen = 0;
	lower_copy(h, host, hlen);

	/* host: exact, else longest wildcard, else any */
	if (hlen > 0) {
		for (int i = 0; i < nroutes; i++)
			if (routes[i].kind == 0 && strlen(routes[i].host) == hlen
			    && memcmp(routes[i].host, h, hlen) == 0)
				kind = 0, hkey = routes[i].host;
		for (int i = 0; hkey == NULL && i < nroutes; i++) {
			size_t m = strlen(routes[i].host), d;

			if (routes[i].kind != 1 || m + 1 >= hlen || !ends_with(h, hlen, routes[i].host))
				continue;
			d = hlen - m - 1;	/* the dot in front of the suffix */
			if (h[d] != '.' || h[d - 1] == '.')
				continue;
			if (kind != 1 || m > hkey_len)
				kind = 1, hkey_len = m, best = i;
		}
		if (kind == 1)
			hkey = routes[best].host;
	}

	if (plen == 0 || path[0] != '/')
		return NULL;
	c = memchr(path, '?', plen);
	if (c != NULL)
		plen = (size_t)(c - path);
	if (plen >= MAX_FIELD)
		plen = MAX_FIELD - 1;	/* route paths are shorter: no effect on the answer */
	lower_copy(p, path, plen);

	best = -1;
	for (int i = 0; i < nroutes; i++) {
		size_t m = strlen(routes[i].path);

		if (routes[i].kind != kind || (kind != 2 && strcmp(routes[i].host, hkey) != 0))
			continue;
		if (strcmp(routes[i].path, "/") != 0
		    && !(m <= plen && memcmp(p, routes[i].path, m) == 0
			 && (m == plen || p[m] == '/')))
			continue;
		if (best < 0 || m > best_len)
			best = i, best_len = m;
	}
	return best < 0 ? NULL : &ids[best];
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trie_builder *b = trie_builder_new();
	const char *s = (const char *)data, *end = s + size;
	struct trie *t;

	if (b == NULL)
		return 0;
	nroutes = 0;
	/* pass 1: adds */
	for (const char *line = s; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *le = nl ? nl : end;
		const char *sp = memchr(line, ' ', (size_t)(le - line));
		char host[MAX_FIELD], path[MAX_FIELD];
		size_t hl, pl;

		if (line < le && *line == 'A' && sp != NULL && nroutes < MAX_ROUTES) {
			hl = (size_t)(sp - line - 1);
			pl = (size_t)(le - sp - 1);
			if (hl < MAX_FIELD && pl < MAX_FIELD && !memchr(line, 0, (size_t)(le - line))) {
				struct ref_route r;
				int rc, dup;

				memcpy(host, line + 1, hl);
				host[hl] = '\0';
				memcpy(path, sp + 1, pl);
				path[pl] = '\0';
				rc = trie_builder_add(b, host, path, &ids[nroutes]);
				if (rc != -EINVAL) {
					ref_normalise(host, path, &r);
					dup = ref_find(&r);
					if ((rc == -EEXIST) != (dup >= 0)) {
						fprintf(stderr, "add %s %s: rc %d, reference dup %d\n", host,
							path, rc, dup);
						abort();
					}
					if (rc == 0)
						routes[nroutes++] = r;
				}
			}
		}
		line = le + 1;
	}
	t = trie_builder_finish(b);
	if (t == NULL)
		return 0;
	if (trie_route_count(t) != (size_t)nroutes)
		abort();

	/* pass 2: lookups */
	for (const char *line = s; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *le = nl ? nl : end;
		const char *sp = memchr(line, ' ', (size_t)(le - line));

		if (line < le && *line == 'L' && sp != NULL) {
			const char *host = line + 1, *path = sp + 1;
			size_t hl = (size_t)(sp - host), pl = (size_t)(le - path);
			const void *got = trie_lookup(t, host, hl, path, pl);
			const void *want = ref_lookup(host, hl, path, pl);

			if (got != want) {
				fprintf(stderr, "lookup \"%.*s\" \"%.*s\": got route %ld, want %ld\n",
					(int)hl, host, (int)pl, path,
					got ? (long)((const int *)got - ids) : -1L,
					want ? (long)((const int *)want - ids) : -1L);
				abort();
			}
		}
		line = le + 1;
	}
	trie_free(t);
	return 0;
}
