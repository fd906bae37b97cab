/*
 * trie_bench: lookups per second on a 10,000-route table (not a test).
 *
 * Routes: 1,000 exact hosts x 6 paths, 500 "*.wN.fabrikam.net" x 6 paths, 1,000 "*" paths.
 * Requests (64 Ki, pre-generated, random order): 40% exact-host hits at path depths 1..5,
 * 20% wildcard hits (with ":443" and mixed case), 10% "*" hits, 30% misses (unknown host,
 * or a path none of the host's routes has). Single thread; results summed into a sink.
 *
 * usage: trie_bench [seconds]   (default 2)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "routing/trie.h"

#define NEXACT	1000
#define NWILD	500
#define NANY	1000
#define NQ	65536

static const char *const paths[6] = {
	"/", "/meet", "/dialin", "/abs/handler", "/ucwa/v1/apps", "/webticket/webticketservice",
};

struct query {
	char	host[64];
	char	path[96];
	size_t	hlen, plen;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	struct trie_builder *b = trie_builder_new();
	struct query *q = calloc(NQ, sizeof(*q));
	static const char *const tails[] = { "", "/x", "/x/y?q=1", "/42/events?ack=3", "/a/b/c/d" };
	unsigned seed = 12345;
	char host[64], path[64];
	uintptr_t sink = 0;
	uint64_t n = 0, hits = 0;
	struct trie *t;
	double t0, el;
	int v = 1;

	if (b == NULL || q == NULL)
		return 1;
	for (int h = 0; h < NEXACT; h++) {
		snprintf(host, sizeof(host), "host%d.site%d.contoso.com", h, h % 37);
		for (int p = 0; p < 6; p++)
			if (trie_builder_add(b, host, paths[p], (void *)(uintptr_t)v++) != 0)
				return 1;
	}
	for (int h = 0; h < NWILD; h++) {
		snprintf(host, sizeof(host), "*.w%d.fabrikam.net", h);
		for (int p = 0; p < 6; p++)
			if (trie_builder_add(b, host, paths[p], (void *)(uintptr_t)v++) != 0)
				return 1;
	}
	for (int p = 0; p < NANY; p++) {
		snprintf(path, sizeof(path), "/any%d/svc", p);
		if (trie_builder_add(b, "*", path, (void *)(uintptr_t)v++) != 0)
			return 1;
	}
	t = trie_builder_finish(b);
	if (t == NULL)
		return 1;

	for (int i = 0; i < NQ; i++) {
		unsigned r = (unsigned)rand_r(&seed) % 100;
		const char *tail = tails[rand_r(&seed) % 5];
		int h = rand_r(&seed) % NEXACT, p = rand_r(&seed) % 6;

		if (r < 40) {
			snprintf(q[i].host, sizeof(q[i].host), "host%d.site%d.contoso.com:443", h, h % 37);
			snprintf(q[i].path, sizeof(q[i].path), "%s%s", p ? paths[p] : "", tail);
		} else if (r < 60) {
			snprintf(q[i].host, sizeof(q[i].host), "Client%d.W%d.fabrikam.net:443", h,
				 h % NWILD);
			snprintf(q[i].path, sizeof(q[i].path), "%s%s", p ? paths[p] : "", tail);
		} else if (r < 70) {
			snprintf(q[i].host, sizeof(q[i].host), "unknown%d.example.org", h);
			snprintf(q[i].path, sizeof(q[i].path), "/any%d/svc%s", h, tail);
		} else if (r < 85) {
			/* unknown host, and a path "*" does not have */
			snprintf(q[i].host, sizeof(q[i].host), "nohost%d.contoso.com", h);
			snprintf(q[i].path, sizeof(q[i].path), "/meet%s", tail);
		} else {
			/* wildcard bare domain (not covered), unknown path */
			snprintf(q[i].host, sizeof(q[i].host), "w%d.fabrikam.net", h % NWILD);
			snprintf(q[i].path, sizeof(q[i].path), "/nothere%s", tail);
		}
		if (q[i].path[0] == '\0')
			strcpy(q[i].path, "/");
		q[i].hlen = strlen(q[i].host);
		q[i].plen = strlen(q[i].path);
	}
	for (int i = 0; i < NQ; i++)
		hits += trie_lookup(t, q[i].host, q[i].hlen, q[i].path, q[i].plen) != NULL;

	t0 = now_s();
	do {
		for (int i = 0; i < NQ; i++)
			sink += (uintptr_t)trie_lookup(t, q[i].host, q[i].hlen, q[i].path, q[i].plen);
		n += NQ;
		el = now_s() - t0;
	} while (el < secs);

	printf("trie_bench: %zu routes, %d distinct requests (%.0f%% hits), %llu lookups in %.2f s\n",
	       trie_route_count(t), NQ, 100.0 * (double)hits / NQ, (unsigned long long)n, el);
	printf("%.0f lookups/s (%.1f ns/lookup) [sink %lx]\n", (double)n / el, el * 1e9 / (double)n,
	       (unsigned long)(sink & 0xf));
	trie_free(t);
	free(q);
	return 0;
}
