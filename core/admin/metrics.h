/* /metrics (core/admin/metrics.c): admin thread only. */
#ifndef RINGEDGE_CORE_ADMIN_METRICS_H
#define RINGEDGE_CORE_ADMIN_METRICS_H

#include <stdint.h>

#include "core/admin/page.h"

/* Appends the whole exposition (Prometheus text format 0.0.4) for generation g to b. */
void metrics_render(struct abuf *b, const struct admin_src *src, const struct generation *g);

/* Every worker's counters summed into out (relaxed loads, see counters-t.h). */
struct wcounters;
void metrics_sum(const struct admin_src *src, struct wcounters *out);

/* Requests in progress on (pool, srv) of g, all workers. */
uint64_t metrics_srv_active(const struct admin_src *src, const struct generation *g, int pool,
			    int srv);

#endif
