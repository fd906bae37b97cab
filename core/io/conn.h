/*
 * Connection primitives over the worker's ring. Owner: the worker thread of c->w. Every
 * function that submits returns 0 or -errno; on error no completion will come.
 */
#ifndef RINGEDGE_CORE_IO_CONN_H
#define RINGEDGE_CORE_IO_CONN_H

#include <sys/socket.h>

#include "core/io/conn-t.h"
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
 * one of each may be in flight. The owner's on_poll gets the result.
 */
int conn_poll(struct conn *c, unsigned mask);

/* Starts connecting c's socket to addr; the owner's on_connect gets the result. */
int conn_connect(struct conn *c, const struct sockaddr *addr, socklen_t len);

/*
 * What the owner of the worker's connections (the proxy, core/proxy/proxy.h) is told by the
 * connection layer: connect and poll results, and a slot about to be recycled (cut every
 * link to it). Handlers never run for a closing conn; on_free always runs.
 */
struct conn_owner {
	void	(*on_connect)(struct conn *c, int res);
	void	(*on_poll)(struct conn *c, int res, bool out);	/* POLLOUT (out) or POLLIN */
	void	(*on_free)(struct conn *c);
};

/* Registers the owner of w's connections (before the first conn_alloc). */
void conn_set_owner(struct worker *w, const struct conn_owner *o);

struct io_uring_cqe;

/*
 * The completion of connection op `op` (OP_RECV, OP_SEND, OP_CONNECT, OP_POLLIN,
 * OP_POLLOUT): drops it when stale (slot reused), clears its in-flight bit, finishes the
 * transport's part, runs the handler, and frees a closing conn with nothing left in flight.
 */
void conn_complete(struct worker *w, struct io_uring_cqe *cqe, unsigned op);

/* The conn of slot, or NULL beyond the pool. */
static inline struct conn *
conn_slot(struct worker *w, uint32_t slot)
{
	if (slot / CONN_CHUNK >= w->nchunks)
		return NULL;
	return &w->chunks[slot / CONN_CHUNK][slot % CONN_CHUNK];
}

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

/*
 * c's transport was just bound (TLS) while c->in holds wire bytes already read in plain (what
 * followed a PROXY protocol header): they go through the transport as if just received, its
 * answer (a handshake flight) is sent, and c->in holds the application bytes. Returns their
 * count (>= 0) or -errno (the connection should be closed).
 */
int conn_xprt_start(struct conn *c);

/* c went keep-alive idle: the transport releases what it can (TLS buffers). */
void conn_idle(struct conn *c);

/* Why err (< 0, from a handler's res) happened: the transport's reason (TLS: wolfSSL's, e.g.
 * "certificate verify failed: name mismatch") or strerror. */
const char *conn_strerror(struct conn *c, int err, char *buf, size_t len);

/* c's transport finished its handshake (plain: always). */
static inline bool
conn_established(struct conn *c)
{
	return c->xprt.ops->established(&c->xprt);
}

/* The certificate c presented covers host[0..len) (plain: every host; RFC 9110 15.5.20). */
static inline bool
conn_covers_host(struct conn *c, const char *host, size_t len)
{
	return c->xprt.ops->covers_host == NULL || c->xprt.ops->covers_host(&c->xprt, host, len);
}

/* Frees c if it is closing and nothing is in flight. */
void conn_maybe_free(struct conn *c);

#endif
