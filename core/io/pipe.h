/*
 * Pipe pool for splice. Owner: one worker. A pipe is taken for one body or tunnel direction
 * and put back only when empty (bytes in a pipe belong to a connection).
 */
#ifndef RINGEDGE_CORE_IO_PIPE_H
#define RINGEDGE_CORE_IO_PIPE_H

#include <stdbool.h>

#include "core/io/pipe-t.h"

void pipe_pool_init(struct pipe_pool *pp);
void pipe_pool_free(struct pipe_pool *pp);

/* Returns a pipe index, or -1 (pool exhausted or pipe() failed: copy instead). */
int pipe_get(struct pipe_pool *pp);

/* Returns an empty pipe to the pool; a pipe with bytes left (error path) is closed. */
void pipe_put(struct pipe_pool *pp, int idx, bool empty);

#endif
