/*
 * routing/qsbr: deterministic grace-period rules, then a multi-threaded swap test: reader
 * threads look up through the published generation in a loop while the writer swaps tables
 * many times and retires the old ones. A retired generation is poisoned (magic, values) and
 * its trie freed, but the generation header itself is parked until the end, so a reader that
 * could still see it is caught even without ASan; under ASan the trie_free catches it too.
 *
 * QSBR_TEST_BROKEN=1 frees at once instead of retiring, to show the test can fail.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "routing/qsbr.h"
#include "routing/trie.h"
#include "test/unit/check.h"

/* ---- single-threaded rules ---- */

static int freed_count;

static void
count_free(void *p)
{
	(void)p;
	freed_count++;
}

static void
test_rules(void)
{
	struct qsbr_domain *d = qsbr_domain_new(2);
	struct qsbr_worker *w, *w2;
	int obj[4];

	CHECK(qsbr_domain_new(0) == NULL);
	CHECK(d != NULL);
	if (d == NULL)
		return;
	w = qsbr_register(d);
	w2 = qsbr_register(d);
	CHECK(w != NULL && w2 != NULL && w != w2);
	CHECK(qsbr_register(d) == NULL);	/* full */
	CHECK(((uintptr_t)w & (QSBR_CACHELINE - 1)) == 0);
	CHECK(((uintptr_t)w2 & (QSBR_CACHELINE - 1)) == 0);
	qsbr_unregister(w2);

	/* online worker that has not passed a quiescent point blocks reclamation */
	qsbr_retire(d, &obj[0], count_free);
	CHECK(qsbr_pending(d) == 1);
	CHECK(qsbr_reclaim(d) == 0);
	CHECK(freed_count == 0);
	qsbr_quiescent(w);
	CHECK(qsbr_reclaim(d) == 1);
	CHECK(freed_count == 1);
	CHECK(qsbr_pending(d) == 0);

	/* a quiescent point before the retire does not count */
	qsbr_quiescent(w);
	qsbr_retire(d, &obj[1], count_free);
	CHECK(qsbr_reclaim(d) == 0);
	qsbr_quiescent(w);
	qsbr_quiescent(w);
	CHECK(qsbr_reclaim(d) == 1);

	/* offline workers do not block */
	qsbr_offline(w);
	qsbr_retire(d, &obj[2], count_free);
	CHECK(qsbr_reclaim(d) == 1);
	/* coming online after the retire: already past it */
	qsbr_retire(d, &obj[3], count_free);
	qsbr_online(w);
	CHECK(qsbr_reclaim(d) == 1);
	CHECK(freed_count == 4);

	/* online before the retire: blocks until quiescent */
	qsbr_retire(d, &obj[0], count_free);
	CHECK(qsbr_reclaim(d) == 0);
	/* re-registered slot starts online at the current period */
	w2 = qsbr_register(d);
	CHECK(w2 != NULL);
	qsbr_quiescent(w);
	CHECK(qsbr_reclaim(d) == 1);
	qsbr_unregister(w2);

	/* synchronize returns with no online worker; domain_free frees what is pending */
	qsbr_offline(w);
	qsbr_synchronize(d);
	qsbr_retire(d, &obj[1], count_free);
	qsbr_unregister(w);
	qsbr_domain_free(d);
	CHECK(freed_count == 6);
}

/* ---- multi-threaded swap test ---- */

#define GEN_LIVE	0x4c49564547454e31ULL	/* "LIVEGEN1" */
#define GEN_DEAD	0xdeaddeaddeaddeadULL
#define NKEYS		8
#define NREADERS	3
#define NSWAPS		20000
#define MAX_SECONDS	5

struct gen {
	_Atomic uint64_t	magic;
	uint64_t		id;
	struct trie		*t;
	uint64_t		vals[NKEYS];
	struct gen		*grave_next;
};

static const char *const key_host[NKEYS] = {
	"meet.contoso.com", "dialin.contoso.com", "a.contoso.com", "x.y.contoso.com",
	"lyncdiscover.contoso.com", "other.example", "meet.contoso.com", "z.contoso.com",
};
static const char *const key_path[NKEYS] = {
	"/meet", "/dialin", "/abs", "/ucwa", "/autodiscover", "/x", "/meet/2", "/webticket",
};
static const char *const route_host[NKEYS] = {
	"meet.contoso.com", "dialin.contoso.com", "*.contoso.com", "*.y.contoso.com",
	"lyncdiscover.contoso.com", "*", "meet.contoso.com", "*.contoso.com",
};

static void *_Atomic current;
static struct qsbr_domain *domain;
static _Atomic int stop;
static _Atomic uint64_t reads, bad;
static struct gen *graveyard;
static int broken;

static struct gen *
gen_new(uint64_t id)
{
	struct gen *g = calloc(1, sizeof(*g));
	struct trie_builder *b = trie_builder_new();

	if (g == NULL || b == NULL)
		abort();
	g->id = id;
	for (int k = 0; k < NKEYS; k++) {
		g->vals[k] = id * 1000 + (uint64_t)k;
		if (trie_builder_add(b, route_host[k], key_path[k], &g->vals[k]) != 0)
			abort();
	}
	g->t = trie_builder_finish(b);
	if (g->t == NULL)
		abort();
	atomic_store_explicit(&g->magic, GEN_LIVE, memory_order_relaxed);
	return g;
}

/* free_fn: poison, free the trie, park the header (runs on the writer thread only) */
static void
gen_retired(void *p)
{
	struct gen *g = p;

	atomic_store_explicit(&g->magic, GEN_DEAD, memory_order_relaxed);
	memset(g->vals, 0xee, sizeof(g->vals));
	/* broken mode keeps the trie: reading freed memory could loop rather than fail */
	if (!broken) {
		trie_free(g->t);
		g->t = NULL;
	}
	g->grave_next = graveyard;
	graveyard = g;
}

static void *
reader(void *arg)
{
	struct qsbr_worker *w = qsbr_register(domain);
	uint64_t n = 0, errors = 0;
	unsigned seed = (unsigned)(uintptr_t)arg;

	if (w == NULL) {
		atomic_fetch_add(&bad, 1);
		return NULL;
	}
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		/* one "loop iteration": several lookups through the same generation */
		struct gen *g = qsbr_deref(&current);

		for (int i = 0; i < 16; i++) {
			int k = (int)(rand_r(&seed) % NKEYS);
			const uint64_t *v;

			if (atomic_load_explicit(&g->magic, memory_order_relaxed) != GEN_LIVE) {
				errors++;
				break;
			}
			v = trie_lookup(g->t, key_host[k], strlen(key_host[k]), key_path[k],
					strlen(key_path[k]));
			if (v != &g->vals[k] || *v != g->id * 1000 + (uint64_t)k)
				errors++;
			n++;
		}
		if (atomic_load_explicit(&g->magic, memory_order_relaxed) != GEN_LIVE)
			errors++;
		qsbr_quiescent(w);
		/* now and then, a "blocking wait" offline */
		if (rand_r(&seed) % 64 == 0) {
			qsbr_offline(w);
			if (rand_r(&seed) % 4 == 0)
				usleep(50);
			else
				sched_yield();
			qsbr_online(w);
		}
	}
	qsbr_unregister(w);
	atomic_fetch_add(&reads, n);
	atomic_fetch_add(&bad, errors);
	return NULL;
}

/* A worker parked offline for the whole run: must never hold reclamation back. */
static void *
sleeper(void *arg)
{
	struct qsbr_worker *w = qsbr_register(domain);

	(void)arg;
	if (w == NULL)
		return NULL;
	qsbr_offline(w);
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		usleep(1000);
	qsbr_online(w);
	qsbr_unregister(w);
	return NULL;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
test_threads(void)
{
	pthread_t th[NREADERS + 1];
	size_t freed = 0;
	uint64_t swaps = 0;
	double t0 = now_s();

	broken = getenv("QSBR_TEST_BROKEN") != NULL;
	domain = qsbr_domain_new(NREADERS + 1);
	CHECK(domain != NULL);
	if (domain == NULL)
		return;
	atomic_store(&current, gen_new(0));
	for (int i = 0; i < NREADERS; i++)
		CHECK(pthread_create(&th[i], NULL, reader, (void *)(uintptr_t)(i + 1)) == 0);
	CHECK(pthread_create(&th[NREADERS], NULL, sleeper, NULL) == 0);

	while (swaps < NSWAPS && now_s() - t0 < MAX_SECONDS) {
		struct gen *old = qsbr_publish(&current, gen_new(++swaps));

		if (broken)
			gen_retired(old);
		else
			qsbr_retire(domain, old, gen_retired);
		freed += qsbr_reclaim(domain);
		/* give readers time to run between swaps on a 2-core machine */
		if (swaps % 8 == 0)
			sched_yield();
	}
	/* reclamation progressed while the sleeper stayed offline */
	CHECK(freed > 0);
	atomic_store(&stop, 1);
	for (int i = 0; i <= NREADERS; i++)
		pthread_join(th[i], NULL);

	/* every reader gone: everything retired is freeable */
	freed += qsbr_reclaim(domain);
	CHECK(freed == swaps || broken);
	CHECK(qsbr_pending(domain) == 0);
	printf("qsbr: %llu swaps, %zu freed, %llu lookups, %llu bad, %.2fs\n",
	       (unsigned long long)swaps, freed, (unsigned long long)atomic_load(&reads),
	       (unsigned long long)atomic_load(&bad), now_s() - t0);
	CHECK(swaps >= 100);
	CHECK(atomic_load(&reads) > 0);
	CHECK(atomic_load(&bad) == 0);

	gen_retired(atomic_load(&current));
	qsbr_domain_free(domain);
	while (graveyard != NULL) {
		struct gen *g = graveyard;

		graveyard = g->grave_next;
		trie_free(g->t);
		free(g);
	}
}

int
main(void)
{
	test_rules();
	test_threads();
	return check_done();
}
