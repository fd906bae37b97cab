/*
 * QSBR (quiescent-state-based reclamation) types. See routing/qsbr.h for the API and
 * docs/routing.md ("Reclamation") for the scheme and its memory-order argument.
 */
#ifndef RINGEDGE_ROUTING_QSBR_T_H
#define RINGEDGE_ROUTING_QSBR_T_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define QSBR_CACHELINE	64

struct qsbr_domain;

/*
 * One reader (worker thread). Each sits on its own cache line: the owner writes ctr once per
 * loop iteration and must not false-share with the other workers or with the domain's gp.
 */
struct qsbr_worker {
	/* 0: offline (holds no reference); else the grace-period counter last observed */
	_Alignas(QSBR_CACHELINE) _Atomic uint64_t	ctr;
	struct qsbr_domain				*domain;
	_Atomic int					in_use;	/* slot claimed by qsbr_register */
};

/* An object waiting for every online worker to pass a quiescent point. */
struct qsbr_retired {
	struct qsbr_retired	*next;
	void			*ptr;
	void			(*free_fn)(void *ptr);
	uint64_t		target;		/* freeable once every online ctr >= target */
};

struct qsbr_domain {
	/* grace-period counter: starts at 1 (0 means offline), bumped by every retire */
	_Alignas(QSBR_CACHELINE) _Atomic uint64_t	gp;
	_Alignas(QSBR_CACHELINE) pthread_mutex_t	lock;	/* retired list; control side only */
	struct qsbr_retired				*retired;
	size_t						nretired;
	unsigned					nworkers;
	struct qsbr_worker				workers[];
};

#endif
