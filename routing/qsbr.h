/*
 * QSBR: lets worker threads read a published pointer (the routing generation) without locks
 * or atomic read-modify-writes, and lets the control thread free the old object once no
 * worker can still hold it.
 *
 * Roles:
 *  - worker (reader): one io_uring loop per thread. qsbr_register() once at start; in each
 *    loop iteration load the pointer with qsbr_deref(), use it, keep no copy past the end of
 *    the iteration, and call qsbr_quiescent(). Around a wait that may block long (e.g.
 *    io_uring_submit_and_wait), call qsbr_offline() before and qsbr_online() after, and hold
 *    no pointer across it. qsbr_unregister() at exit.
 *  - control thread (writer): publishes a new object with qsbr_publish(), hands the old one
 *    to qsbr_retire(), and calls qsbr_reclaim() now and then (e.g. on a timer) to free what
 *    is safe. Control functions must not be called by an online worker of the same domain
 *    (qsbr_synchronize would wait for itself).
 *
 * An object retired at grace period E is freed once every online worker has reported a
 * quiescent state having observed gp >= E; offline workers do not delay reclamation.
 */
#ifndef RINGEDGE_ROUTING_QSBR_H
#define RINGEDGE_ROUTING_QSBR_H

#include <stddef.h>

#include "routing/qsbr-t.h"

/*
 * Returns a domain with room for max_workers readers, owned by the caller, or NULL (ENOMEM,
 * or max_workers == 0). Control thread.
 */
struct qsbr_domain *qsbr_domain_new(unsigned max_workers);

/*
 * Frees every object still retired, then the domain. Call when no worker is registered
 * any more (all threads joined or unregistered). NULL is allowed.
 */
void qsbr_domain_free(struct qsbr_domain *d);

/*
 * Claims a worker slot for the calling thread and puts it online. Returns the slot (owned by
 * the domain; only this thread may use it) or NULL if all max_workers slots are taken.
 */
struct qsbr_worker *qsbr_register(struct qsbr_domain *d);

/* Goes offline and releases the slot. The calling worker thread only. */
void qsbr_unregister(struct qsbr_worker *w);

/*
 * Reports a quiescent state: the calling worker holds no pointer obtained before this call.
 * Once per loop iteration; no lock, no RMW, and no store at all when nothing was retired
 * since the last call. The owning worker thread only, while online.
 */
static inline void
qsbr_quiescent(struct qsbr_worker *w)
{
	/*
	 * acquire: pairs with the seq_cst RMW in qsbr_retire; having seen gp >= E, every later
	 * qsbr_deref sees the pointer published before that retire, never the retired one.
	 */
	uint64_t gp = atomic_load_explicit(&w->domain->gp, memory_order_acquire);

	/*
	 * Unchanged: a previous call already told reclaimers "seen gp", and no object retired
	 * at gp or earlier can have been loaded since. Skipping keeps the line clean.
	 */
	if (atomic_load_explicit(&w->ctr, memory_order_relaxed) == gp)
		return;
	/* release: every read of an old object comes before the reclaimer's acquire of ctr */
	atomic_store_explicit(&w->ctr, gp, memory_order_release);
}

/*
 * Goes offline before a possibly long wait: from now until qsbr_online() the worker holds
 * no pointer and does not delay reclamation. The owning worker thread only.
 */
static inline void
qsbr_offline(struct qsbr_worker *w)
{
	/* release: our earlier reads of old objects happen before a reclaimer sees 0 */
	atomic_store_explicit(&w->ctr, 0, memory_order_release);
}

/*
 * Comes back online after qsbr_offline(); pointers may be loaded after this returns.
 * The owning worker thread only. Costs one full fence (once per wait, not per request).
 */
static inline void
qsbr_online(struct qsbr_worker *w)
{
	atomic_store_explicit(&w->ctr,
		atomic_load_explicit(&w->domain->gp, memory_order_acquire), memory_order_relaxed);
	/*
	 * seq_cst fence between "I am online" (store ctr) and "read the pointer" (the caller's
	 * next qsbr_deref). The reclaimer does the mirror image: store the new pointer, bump gp,
	 * seq_cst fence, read every ctr. This is a store-buffering (Dekker) pattern; without
	 * both fences each side could miss the other's store: the reclaimer would see us
	 * offline (ctr == 0) while we still read the old pointer, and free it under us.
	 * With the fences, one of the two must see the other's store.
	 */
	atomic_thread_fence(memory_order_seq_cst);
}

/*
 * Publishes p in *slot (release: p's contents, built before, are visible to any reader
 * that loads p) and returns the previous pointer, which the caller then retires.
 * Control thread.
 */
static inline void *
qsbr_publish(void *_Atomic *slot, void *p)
{
	return atomic_exchange_explicit(slot, p, memory_order_acq_rel);
}

/* Loads the current pointer of *slot. Online workers (and the control thread). */
static inline void *
qsbr_deref(void *_Atomic *slot)
{
	return atomic_load_explicit(slot, memory_order_acquire);
}

/*
 * Schedules free_fn(ptr) for when no online worker can still hold ptr. ptr must already be
 * unreachable for new readers (replaced with qsbr_publish) in this thread. Never fails: if
 * the bookkeeping node cannot be allocated it waits for a grace period (qsbr_synchronize)
 * and frees at once. Control threads only (serialised by the domain lock).
 */
void qsbr_retire(struct qsbr_domain *d, void *ptr, void (*free_fn)(void *ptr));

/*
 * Frees every retired object whose grace period has elapsed, never blocking on workers.
 * Returns how many were freed. free_fn runs in this thread, without the domain lock.
 * Control threads only.
 */
size_t qsbr_reclaim(struct qsbr_domain *d);

/* Number of retired objects not yet freed. Control threads only. */
size_t qsbr_pending(struct qsbr_domain *d);

/*
 * Waits (sleeping in short steps) until every online worker has passed a quiescent point
 * after this call. Never from an online worker of d.
 */
void qsbr_synchronize(struct qsbr_domain *d);

#endif
