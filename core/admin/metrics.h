/* /metrics (core/admin/metrics.c): admin thread only. */
#ifndef RINGEDGE_CORE_ADMIN_METRICS_H
#define RINGEDGE_CORE_ADMIN_METRICS_H

#include "core/admin/page.h"

/* Appends the whole exposition (Prometheus text format 0.0.4) for generation g to b. */
void metrics_render(struct abuf *b, const struct admin_src *src, const struct generation *g);

#endif
