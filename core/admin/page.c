/* Path dispatch of the admin listener (page.h). */
#include <string.h>

#include "core/admin/page.h"

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
	(void)src;
	pg->ctype = "text/plain; charset=utf-8";
	if (strcmp(path, "/healthz") == 0) {
		healthz(pg, g, draining);
		return;
	}
	pg->status = 404;
}
