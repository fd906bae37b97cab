/*
 * /status (HTML a person reads at a glance) and /status.json (the same data): listeners,
 * routes, pools with each server's state, last check and reason, active/idle/pinned
 * connections, request rates, certificate names and expiry dates. Admin thread only.
 */
#ifndef RINGEDGE_CORE_ADMIN_STATUS_H
#define RINGEDGE_CORE_ADMIN_STATUS_H

#include <stdbool.h>

#include "core/admin/page.h"

/* Appends the JSON document to b. */
void status_json(struct abuf *b, const struct admin_src *src, const struct generation *g,
		 bool draining);

/* Appends the HTML page (built from the same document) to b. */
void status_html(struct abuf *b, const struct admin_src *src, const struct generation *g,
		 bool draining);

#endif
