/*
 * Workers: one thread per core, each with its own ring, listening sockets (SO_REUSEPORT),
 * connection pool, timer wheel, pipe pool and access log buffer.
 */
#ifndef RINGEDGE_CORE_WORKER_H
#define RINGEDGE_CORE_WORKER_H

#include "core/worker-t.h"

/*
 * Control thread: fills w (id, sh, listening sockets already bound) and starts the thread.
 * Returns 0 or -errno.
 */
int worker_start(struct worker *w);

/* Control thread: wakes the worker (stop, reopen) through its eventfd. */
void worker_wake(struct worker *w);

/* Control thread: waits for the worker to exit; returns its status (0 ok). */
int worker_join(struct worker *w);

#endif
