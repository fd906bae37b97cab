/*
 * Body pumps (core/proxy/pump.c): move one body, or one tunnel direction, from src to dst
 * with one buffer (or one pipe: splice) in flight; the end or an error goes to p->on_done.
 * Owner: the worker thread of src and dst.
 */
#ifndef RINGEDGE_CORE_PROXY_PUMP_H
#define RINGEDGE_CORE_PROXY_PUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/io/conn-t.h"

void pump_start(struct pump *p, struct conn *src, struct conn *dst, int mode, uint64_t len,
	void (*on_done)(struct pump *, int));

/* Frees what the pump holds outside its buffer (trailers held back); idempotent. */
void pump_release(struct pump *p);

/* Moves what can be moved now; arms what it waits for. */
void pump_advance(struct pump *p);

/* Splice readiness (the connection layer's owner hook): POLLOUT of c->wpump's destination
 * (out) or POLLIN of c->rpump's source. */
void pump_on_poll(struct conn *c, int res, bool out);

/*
 * How many of data[0..len) belong to the body; marks p->done at its end. err < 0: bad.
 * *out: how many bytes to forward, at data[0..*out): the consumed bytes, or with p->dechunk
 * only the chunk data, moved to the front in place.
 */
size_t pump_scan(struct pump *p, char *data, size_t len, size_t *out, int *err);

#endif
