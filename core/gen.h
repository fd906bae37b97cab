/*
 * Configuration generations (see gen-t.h). gen_build/gen_put may run on any thread; the
 * build normally runs on the control thread.
 */
#ifndef RINGEDGE_CORE_GEN_H
#define RINGEDGE_CORE_GEN_H

#include "core/gen-t.h"

/*
 * Builds a generation that takes ownership of cfg (also on failure: cfg is freed), for
 * nworkers workers: the routing tries, the balancing state, and the TLS contexts of TLS
 * listeners and pools (certificates and keys are read from disk here, so each reload picks
 * up new files; tls_init and tls_tickets_init must have run) with their per-worker backend
 * session slots. old (may be NULL) is the generation it replaces: servers found again (same
 * pool name, same host:port) keep their up/down state. Returns it with one reference held by
 * the caller, or NULL: TLS errors as "FILE:LINE: why" lines in err, other failures logged.
 * Control thread.
 */
struct generation *gen_build(struct config *cfg, unsigned id, int nworkers,
			     const struct generation *old, struct cfg_errors *err);

/*
 * The backend TLS session slot of worker w for server srv of pool (indices of g's config):
 * owned by g, so it lives as long as a connection holding a reference to g (a handshake in
 * progress, a connection saving a late ticket). Only worker w touches it (no lock).
 */
struct tls_sess_slot *gen_sess_slot(struct generation *g, int w, int pool, int srv);

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

#endif
