/* Path dispatch of the admin listener (page.h). */
#include <string.h>

#include "core/admin/metrics.h"
#include "core/admin/page.h"
#include "core/admin/status.h"

static void
healthz(struct page *pg, const struct generation *g, bool draining)
{
	if (draining || g == NULL) {
		pg->status = 503;
		abuf_puts(&pg->body, draining ? "draining\n" : "starting\n");
	} else {
		pg->status = 200;
		abuf_puts(&pg->body, "ok\n");
	}
}

void
page_render(struct page *pg, const char *path, const struct admin_src *src,
	    const struct generation *g, bool draining)
{
	pg->ctype = "text/plain; charset=utf-8";
	if (strcmp(path, "/healthz") == 0) {
		healthz(pg, g, draining);
		return;
	}
	if (g == NULL) {
		pg->status = 503;
		return;
	}
	if (strcmp(path, "/metrics") == 0) {
		pg->status = 200;
		pg->ctype = "text/plain; version=0.0.4; charset=utf-8";
		metrics_render(&pg->body, src, g);
		return;
	}
	if (strcmp(path, "/status") == 0 || strcmp(path, "/") == 0) {
		pg->status = 200;
		pg->ctype = "text/html; charset=utf-8";
		status_html(&pg->body, src, g, draining);
		return;
	}
	if (strcmp(path, "/status.json") == 0) {
		pg->status = 200;
		pg->ctype = "application/json";
		status_json(&pg->body, src, g, draining);
		return;
	}
	pg->status = 404;
}
