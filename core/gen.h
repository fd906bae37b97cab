/*
 * Configuration generations (see gen-t.h). gen_build/gen_put may run on any thread; the
 * build normally runs on the control thread.
 */
#ifndef RINGEDGE_CORE_GEN_H
#define RINGEDGE_CORE_GEN_H

#include "core/gen-t.h"

/*
 * Builds a generation that takes ownership of cfg (also on failure: cfg is freed).
 * Returns it with one reference held by the caller, or NULL (error logged).
 */
struct generation *gen_build(struct config *cfg, unsigned id);

static inline struct generation *
gen_get(struct generation *g)
{
	atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
	return g;
}

/* Drops one reference; the last one frees the tries and the config. Any thread. */
void gen_put(struct generation *g);

/* QSBR retire callback: gen_put for a void pointer. */
void gen_retire_cb(void *g);

/*
 * Server selection for a pool: the one place the balancing policy lives. rr is the calling
 * worker's round-robin cursor for that pool; skip is how many servers were already tried for
 * this request (connect failures move to the next). Returns a server index, or -1 when every
 * server was tried. Backup servers are used only when the pool has no other server.
 */
int gen_pick_server(const struct cfg_pool *p, unsigned *rr, unsigned skip);

#endif
