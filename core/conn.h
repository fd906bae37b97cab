/*
 * Connection primitives over the worker's ring. Owner: the worker thread of c->w. Every
 * function that submits returns 0 or -errno; on error no completion will come.
 */
#ifndef RINGEDGE_CORE_CONN_H
#define RINGEDGE_CORE_CONN_H

#include "core/conn-t.h"
#include "core/worker-t.h"

/* A free slot (zeroed, gen kept), or NULL when memory is exhausted. */
struct conn *conn_alloc(struct worker *w, int role, int fd);

/*
 * Arms one recv of at most max bytes. With buffer rings and nothing buffered the kernel picks
 * a provided buffer; otherwise it reads into the tail of c->in. c->on_recv gets the byte
 * count appended to c->in (0 = EOF) or -errno.
 */
int conn_recv(struct conn *c, uint32_t max);

/* Sends buf[0..len) completely (through the transport); c->on_send gets len or -errno. */
int conn_send(struct conn *c, const char *buf, uint32_t len);

/*
 * Arms a poll for splice readiness: mask is POLLIN (for c->rpump) or POLLOUT (for c->wpump);
 * one of each may be in flight. proxy_on_poll() gets the result.
 */
int conn_poll(struct conn *c, unsigned mask);

struct io_uring_cqe;

/* Dispatcher helpers: completion bookkeeping for OP_RECV / OP_SEND (core/worker.c). Each
 * returns 1 when the handler should run with *res, 0 when the transport handled it. */
int conn_recv_done(struct conn *c, struct io_uring_cqe *cqe, int *res);
int conn_send_done(struct conn *c, int *res);

/* Drops n bytes from the front of c->in; releases the buffer when it empties. */
void conn_consume(struct conn *c, uint32_t n);

/* Makes sure c->in is a malloc'ed buffer of at least cap bytes (moving data). 0 or -ENOMEM. */
int conn_own_buffer(struct conn *c, uint32_t cap);

/* Releases a buffer (ring or malloc). */
void ibuf_release(struct worker *w, struct ibuf *b);

/* Arms c's deadline ms from now (0: disarm). */
void conn_timer(struct conn *c, uint64_t ms);

/*
 * Starts closing c: cancels what is in flight; the slot is freed when the last completion
 * arrives. Safe to call twice. The stream/pump links are cut by the caller first.
 */
void conn_close(struct conn *c);

/* Half-close after the last response: the transport's goodbye (TLS close_notify), then
 * shutdown(SHUT_WR). */
void conn_shutdown_write(struct conn *c);

/* c went keep-alive idle: the transport releases what it can (TLS buffers). */
void conn_idle(struct conn *c);

/* Why err (< 0, from a handler's res) happened: the transport's reason (TLS: wolfSSL's, e.g.
 * "certificate verify failed: name mismatch") or strerror. */
const char *conn_strerror(struct conn *c, int err, char *buf, size_t len);

/* Frees c if it is closing and nothing is in flight. */
void conn_maybe_free(struct conn *c);

#endif
