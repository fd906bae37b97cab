/*
 * QSBR reclamation. The scheme and the memory-order argument are in docs/routing.md
 * ("Reclamation"); the reader side is inline in qsbr.h.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "routing/qsbr.h"

struct qsbr_domain *
qsbr_domain_new(unsigned max_workers)
{
	struct qsbr_domain *d;
	size_t size;

	if (max_workers == 0 || max_workers > 65536)
		return NULL;
	size = sizeof(*d) + (size_t)max_workers * sizeof(struct qsbr_worker);
	size = (size + QSBR_CACHELINE - 1) & ~(size_t)(QSBR_CACHELINE - 1);
	d = aligned_alloc(QSBR_CACHELINE, size);
	if (d == NULL)
		return NULL;
	memset(d, 0, size);
	if (pthread_mutex_init(&d->lock, NULL) != 0) {
		free(d);
		return NULL;
	}
	atomic_init(&d->gp, 1);
	d->nworkers = max_workers;
	for (unsigned i = 0; i < max_workers; i++) {
		atomic_init(&d->workers[i].ctr, 0);
		atomic_init(&d->workers[i].in_use, 0);
		d->workers[i].domain = d;
	}
	return d;
}

void
qsbr_domain_free(struct qsbr_domain *d)
{
	struct qsbr_retired *r, *next;

	if (d == NULL)
		return;
	for (r = d->retired; r != NULL; r = next) {
		next = r->next;
		r->free_fn(r->ptr);
		free(r);
	}
	pthread_mutex_destroy(&d->lock);
	free(d);
}

struct qsbr_worker *
qsbr_register(struct qsbr_domain *d)
{
	for (unsigned i = 0; i < d->nworkers; i++) {
		struct qsbr_worker *w = &d->workers[i];
		int expect = 0;

		if (atomic_compare_exchange_strong_explicit(&w->in_use, &expect, 1,
							    memory_order_acquire, memory_order_relaxed)) {
			qsbr_online(w);
			return w;
		}
	}
	return NULL;
}

void
qsbr_unregister(struct qsbr_worker *w)
{
	qsbr_offline(w);
	atomic_store_explicit(&w->in_use, 0, memory_order_release);
}

/* Starts a grace period: returns the gp value every online worker must reach. */
static uint64_t
gp_advance(struct qsbr_domain *d)
{
	/*
	 * seq_cst RMW: release for workers that acquire gp in qsbr_quiescent; the fence makes
	 * the caller's earlier pointer store precede, in the single total order, the fence in
	 * qsbr_reclaim/qsbr_synchronize before the ctr loads (mirror of qsbr_online).
	 */
	uint64_t target = atomic_fetch_add_explicit(&d->gp, 1, memory_order_seq_cst) + 1;

	atomic_thread_fence(memory_order_seq_cst);
	return target;
}

/* Returns the smallest counter among online workers, UINT64_MAX if none is online. */
static uint64_t
min_online(struct qsbr_domain *d)
{
	uint64_t min = UINT64_MAX;

	atomic_thread_fence(memory_order_seq_cst);
	for (unsigned i = 0; i < d->nworkers; i++) {
		/* acquire: the worker's reads of old objects happen before our free */
		uint64_t c = atomic_load_explicit(&d->workers[i].ctr, memory_order_acquire);

		if (c != 0 && c < min)
			min = c;
	}
	return min;
}

void
qsbr_synchronize(struct qsbr_domain *d)
{
	uint64_t target = gp_advance(d);
	struct timespec ts = { 0, 100 * 1000 };
	unsigned spins = 0;

	while (min_online(d) < target) {
		/* workers quiesce once per loop iteration: yield first, then sleep briefly */
		if (++spins < 64)
			sched_yield();
		else
			nanosleep(&ts, NULL);
	}
}

void
qsbr_retire(struct qsbr_domain *d, void *ptr, void (*free_fn)(void *ptr))
{
	struct qsbr_retired *r = malloc(sizeof(*r));

	if (r == NULL) {
		qsbr_synchronize(d);
		free_fn(ptr);
		return;
	}
	r->ptr = ptr;
	r->free_fn = free_fn;
	pthread_mutex_lock(&d->lock);
	r->target = gp_advance(d);
	r->next = d->retired;
	d->retired = r;
	d->nretired++;
	pthread_mutex_unlock(&d->lock);
}

size_t
qsbr_reclaim(struct qsbr_domain *d)
{
	struct qsbr_retired *r, *next, **pp, *done = NULL;
	uint64_t min;
	size_t n = 0;

	pthread_mutex_lock(&d->lock);
	min = min_online(d);
	for (pp = &d->retired; (r = *pp) != NULL;) {
		if (r->target <= min) {
			*pp = r->next;
			r->next = done;
			done = r;
			d->nretired--;
		} else {
			pp = &r->next;
		}
	}
	pthread_mutex_unlock(&d->lock);

	/* outside the lock: a free_fn may retire or reclaim itself */
	for (r = done; r != NULL; r = next) {
		next = r->next;
		r->free_fn(r->ptr);
		free(r);
		n++;
	}
	return n;
}

size_t
qsbr_pending(struct qsbr_domain *d)
{
	size_t n;

	pthread_mutex_lock(&d->lock);
	n = d->nretired;
	pthread_mutex_unlock(&d->lock);
	return n;
}
