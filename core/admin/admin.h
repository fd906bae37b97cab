/*
 * The admin listener ([admin] listen): /healthz, /metrics, /status, /status.json.
 *
 * Served by one thread of its own with a poll() loop, outside the worker rings: a scrape never
 * takes a worker's time, and its own connection limit (max_connections) keeps a flood of
 * scrapes in the listen backlog. Never bound on a proxied listener's address (the config
 * loader refuses it). The thread only reads what workers publish (per-worker counters,
 * core/admin/metrics.h) and the generation the control thread hands it (admin_publish).
 *
 * Lifecycle, all on the control thread: admin_open() binds (before privileges are dropped),
 * admin_start() starts the thread, admin_publish() on every new generation,
 * admin_set_draining() on SIGTERM, admin_stop() at exit.
 */
#ifndef RINGEDGE_CORE_ADMIN_ADMIN_H
#define RINGEDGE_CORE_ADMIN_ADMIN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/config-t.h"
#include "core/lib/api-t.h"

struct admin;
struct generation;
struct worker;

/*
 * Binds cfg->bind (SO_REUSEADDR, non-blocking, close-on-exec). NULL if cfg has no listen;
 * NULL with an error logged ("admin listener ADDR (FILE:LINE): cannot bind: why") if the
 * bind fails: the proxy then serves without an admin listener. *failed tells the two apart.
 */
struct admin *admin_open(const struct cfg_admin *cfg, const char *file, bool *failed);

/* Starts the thread. ws[0..nw) are the workers whose counters /metrics sums (read only).
 * 0 or -errno (then a stays valid for admin_stop). */
int admin_start(struct admin *a, struct worker *ws, int nw);

/* Hands the admin thread a reference on g (taken here); the previous one is dropped. */
void admin_publish(struct admin *a, struct generation *g);

/* /healthz answers 503 from now on. Any thread. */
void admin_set_draining(struct admin *a);

/* Stops and joins the thread, closes every socket, frees a. NULL is fine. */
void admin_stop(struct admin *a);

/* ---- response bodies (admin thread) ---- */

/* A growable text buffer; on allocation failure `failed` is set and text stays valid. */
struct abuf {
	char	*p;
	size_t	 len, cap;
	bool	 failed;
};

void abuf_put(struct abuf *b, const char *s, size_t n);
void abuf_puts(struct abuf *b, const char *s);
void abuf_printf(struct abuf *b, const char *fmt, ...) RE_PRINTF(2, 3);

#endif
