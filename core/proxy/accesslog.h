/*
 * Access log: one line per request, buffered per worker and written with write(2) in whole
 * lines (O_APPEND), so workers never share a lock or a buffer. Owner: one worker.
 */
#ifndef RINGEDGE_CORE_PROXY_ACCESSLOG_H
#define RINGEDGE_CORE_PROXY_ACCESSLOG_H

#include <stdint.h>

#include "core/proxy/accesslog-t.h"

struct conn;

/* spec: "off", "stderr" or a path. Returns 0 or -errno (path not writable). */
int accesslog_open(struct accesslog *a, const char *spec);
void accesslog_close(struct accesslog *a);
/* Reopens a path (log rotation, SIGUSR1). Returns 0 or -errno (old fd kept). */
int accesslog_reopen(struct accesslog *a);

/* Appends the line for the exchange that just ended on client conn c. */
void accesslog_request(struct accesslog *a, struct conn *c, uint64_t now);

/* Writes buffered lines. Called once per loop iteration. */
void accesslog_flush(struct accesslog *a);

static inline int
accesslog_on(const struct accesslog *a)
{
	return a->fd >= 0;
}


/* Formats the client address of c into out (NUL-terminated); returns its length. */
size_t accesslog_peer(const struct conn *c, char *out, size_t cap);

#endif
