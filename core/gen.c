#include "core/gen.h"

#include <errno.h>
#include <stdlib.h>

#include "config/config.h"
#include "core/log.h"
#include "routing/trie.h"

static void
gen_free(struct generation *g)
{
	if (g->tries != NULL)
		for (int i = 0; i < g->cfg->nlisteners; i++)
			trie_free(g->tries[i]);
	free(g->tries);
	config_free(g->cfg);
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

struct generation *
gen_build(struct config *cfg, unsigned id)
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
	return g;
fail:
	log_error("generation %u: out of memory building the routing tables", id);
	gen_free(g);
	return NULL;
}

int
gen_pick_server(const struct cfg_pool *p, unsigned *rr, unsigned skip)
{
	unsigned n = 0, k, i;

	for (i = 0; i < (unsigned)p->nservers; i++)
		n += !p->servers[i].backup;
	if (n == 0) {
		/* only backups: plain round robin over them */
		if (skip >= (unsigned)p->nservers)
			return -1;
		return (int)((*rr + skip) % (unsigned)p->nservers);
	}
	if (skip >= n)
		return -1;
	if (skip == 0)
		(*rr)++;
	k = (*rr + skip) % n;
	for (i = 0; i < (unsigned)p->nservers; i++) {
		if (p->servers[i].backup)
			continue;
		if (k-- == 0)
			return (int)i;
	}
	return -1;
}
