/*
 * What the admin listener answers: one function per path, all on the admin thread, reading
 * only the published generation and the workers' counters. Pure of sockets: the result is a
 * status, a content type and a body (unit-tested without a listener).
 */
#ifndef RINGEDGE_CORE_ADMIN_PAGE_H
#define RINGEDGE_CORE_ADMIN_PAGE_H

#include <stdbool.h>
#include <time.h>

#include "core/admin/admin.h"

struct generation;
struct worker;

/* What the admin thread reads besides the generation. */
struct admin_src {
	struct worker	*ws;		/* the workers (their counters), read only */
	int		 nw;
	time_t		 start_time;	/* process start (wall clock) */
};

struct page {
	int		 status;	/* HTTP status; 0 on entry */
	const char	*ctype;		/* static */
	struct abuf	 body;
};

/*
 * Fills pg for path (no query string): /healthz, /metrics, /status, /status.json; 404 for
 * anything else. g may be NULL (nothing published yet: only /healthz answers, 503).
 */
void page_render(struct page *pg, const char *path, const struct admin_src *src,
		 const struct generation *g, bool draining);

#endif
