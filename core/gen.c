#include "core/gen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#if RINGEDGE_ACME
#include "core/acme/listener.h"
#endif
#include "core/lib/log.h"
#include "routing/pool/balance.h"
#include "routing/trie.h"
#include "tls/tls.h"

static void
gen_free(struct generation *g)
{
	if (g->tries != NULL)
		for (int i = 0; i < g->cfg->nlisteners; i++)
			trie_free(g->tries[i]);
	free(g->tries);
	for (int i = 0; g->binds != NULL && i < g->nbinds; i++) {
		for (int w = 0; g->binds[i].fds != NULL && w < g->nworkers; w++)
			if (g->binds[i].fds[w] >= 0)
				close(g->binds[i].fds[w]);
		free(g->binds[i].fds);
	}
	free(g->binds);
	bal_set_put(g->bal);
	if (g->tls_srv != NULL)
		for (int i = 0; i < g->cfg->nlisteners; i++)
			tls_server_free(g->tls_srv[i]);
	free(g->tls_srv);
	if (g->tls_cli != NULL)
		for (int i = 0; i < g->cfg->npools; i++)
			tls_client_free(g->tls_cli[i]);
	free(g->tls_cli);
	/* no connection holds g any more: no handshake can still point at a slot */
	for (size_t i = 0; g->tls_slots != NULL && i < (size_t)g->nworkers * g->nsrv; i++)
		tls_sess_slot_clear(&g->tls_slots[i]);
	free(g->tls_slots);
	free(g->srv_base);
	config_free(g->cfg);
	log_debug("generation %u freed", g->id);
	free(g);
}

void
gen_put(struct generation *g)
{
	/* acq_rel: every holder's reads happen before the free */
	if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1)
		gen_free(g);
}

void
gen_retire_cb(void *g)
{
	gen_put(g);
}

struct tls_sess_slot *
gen_sess_slot(struct generation *g, int w, int pool, int srv)
{
	return &g->tls_slots[(size_t)w * g->nsrv + g->srv_base[pool] + (unsigned)srv];
}

/*
 * One server context per TLS listener, one client context per TLS pool (certificates, keys
 * and CAs read from disk now), and the backend session slots of every worker. 0, or -1 with
 * every reason in err.
 */
static int
gen_build_tls(struct generation *g, struct cfg_errors *err)
{
	const struct config *cfg = g->cfg;
	int bad = 0;

	g->tls_srv = calloc((size_t)cfg->nlisteners + 1, sizeof(*g->tls_srv));
	g->tls_cli = calloc((size_t)cfg->npools + 1, sizeof(*g->tls_cli));
	g->srv_base = calloc((size_t)cfg->npools + 1, sizeof(*g->srv_base));
	for (int p = 0; g->srv_base != NULL && p < cfg->npools; p++) {
		g->srv_base[p] = g->nsrv;
		g->nsrv += (unsigned)cfg->pools[p].nservers;
	}
	g->tls_slots = calloc((size_t)g->nworkers * g->nsrv + 1, sizeof(*g->tls_slots));
	if (g->tls_srv == NULL || g->tls_cli == NULL || g->srv_base == NULL ||
	    g->tls_slots == NULL) {
		cfg_error(err, cfg->file, 0, "out of memory building the TLS contexts");
		return -1;
	}
	for (int l = 0; l < cfg->nlisteners; l++) {
		if (!cfg->listeners[l].tls)
			continue;
#if RINGEDGE_ACME
		if (cfg->listeners[l].acme_idx >= 0)	/* saved files, or a placeholder */
			g->tls_srv[l] = acme_listener_server(cfg, &cfg->listeners[l], err);
		else
#endif
		g->tls_srv[l] = tls_server_new(cfg->file, &cfg->listeners[l], &cfg->tls, NULL, err);
		bad |= g->tls_srv[l] == NULL;
	}
	for (int p = 0; p < cfg->npools; p++) {
		if (!cfg->pools[p].tls)
			continue;
		g->tls_cli[p] = tls_client_new(cfg->file, &cfg->pools[p], err);
		bad |= g->tls_cli[p] == NULL;
	}
	return bad ? -1 : 0;
}

struct generation *
gen_build(struct config *cfg, unsigned id, int nworkers, const struct generation *old,
	  struct cfg_errors *err)
{
	struct generation *g;

	g = calloc(1, sizeof(*g));
	if (g == NULL) {
		config_free(cfg);
		return NULL;
	}
	atomic_init(&g->refs, 1);
	g->id = id;
	g->cfg = cfg;
	g->tries = calloc((size_t)cfg->nlisteners, sizeof(*g->tries));
	if (g->tries == NULL)
		goto fail;
	g->bal = bal_set_build(cfg, nworkers, old != NULL ? old->bal : NULL);
	if (g->bal == NULL)
		goto fail;
	g->nworkers = nworkers;
	for (int l = 0; l < cfg->nlisteners; l++)
		g->nbinds += cfg->listeners[l].nbinds;
	g->binds = calloc((size_t)g->nbinds + 1, sizeof(*g->binds));
	if (g->binds == NULL)
		goto fail;
	for (int l = 0, n = 0; l < cfg->nlisteners; l++) {
		for (int b = 0; b < cfg->listeners[l].nbinds; b++, n++) {
			const struct cfg_bind *bd = &cfg->listeners[l].binds[b];

			memcpy(&g->binds[n].addr, &bd->addr, bd->addrlen);
			g->binds[n].addrlen = bd->addrlen;
			g->binds[n].lidx = (uint16_t)l;
		}
	}
	for (int l = 0; l < cfg->nlisteners; l++) {
		struct trie_builder *b = trie_builder_new();

		if (b == NULL)
			goto fail;
		for (int r = 0; r < cfg->nroutes; r++) {
			const struct cfg_route *rt = &cfg->routes[r];
			int rc;

			if (!(rt->listeners & (1ULL << l)))
				continue;
			rc = trie_builder_add(b, rt->host ? rt->host : "*", rt->path ? rt->path : "/",
				rt);
			if (rc == -EEXIST) {
				log_warn("%s:%d: route %s duplicates an earlier host + path on "
					 "listener %s; ignored", cfg->file, rt->line, rt->name,
					 cfg->listeners[l].name);
			} else if (rc < 0) {
				log_error("%s:%d: route %s: cannot add to the routing table (%d)",
					  cfg->file, rt->line, rt->name, rc);
				trie_builder_free(b);
				goto fail;
			}
		}
		g->tries[l] = trie_builder_finish(b);
		if (g->tries[l] == NULL)
			goto fail;
	}
	if (gen_build_tls(g, err) < 0) {
		gen_free(g);
		return NULL;
	}
	return g;
fail:
	log_error("generation %u: out of memory building the routing tables", id);
	gen_free(g);
	return NULL;
}
