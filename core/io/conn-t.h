/*
 * Connection, stream and pump types. Every object here belongs to one worker thread and
 * lives in that worker's fixed-size slot pool (core/io/conn.c); nothing is shared.
 *
 * Ownership (docs/internals.md has the picture):
 *  - A client conn embeds the stream (the request/response exchange in progress) and the two
 *    pumps that move bodies. A backend conn points at the stream it serves (be->s), or at
 *    nothing while it sits in the keep-alive pool.
 *  - A buffer being sent belongs to the pump (p->buf) until the send completes; a received
 *    buffer not yet consumed belongs to the conn (c->in).
 *  - A conn is freed only when CLOSING, with no op in flight, and (client) no backend still
 *    attached, since a backend's in-flight send may read the client's pump buffer.
 */
#ifndef RINGEDGE_CORE_IO_CONN_T_H
#define RINGEDGE_CORE_IO_CONN_T_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/http/h1-t.h"
#include "core/io/timer-t.h"
#include "core/lib/xprt-t.h"
#include "routing/pool/balance-t.h"

struct generation;
struct worker;
struct conn;

/* Received bytes: base[off .. off+len). bid >= 0: a provided ring buffer; -1: malloc'ed. */
struct ibuf {
	char		*base;
	uint32_t	 off;
	uint32_t	 len;
	uint32_t	 cap;
	int32_t		 bid;
};

enum conn_role {
	CONN_CLIENT = 0,
	CONN_BACKEND,
};

/* Client connection states. */
enum cli_state {
	CS_IDLE = 0,	/* between requests: recv armed with no buffer, idle_timeout */
	CS_HEAD,	/* request head arriving: header_timeout from its first byte */
	CS_STREAM,	/* a request is being proxied (the stream is active) */
	CS_TUNNEL,	/* after 101: bytes both ways, idle_timeout on no progress */
	CS_LINGER,	/* last response sent, write side shut: input discarded until EOF */
};

/* Backend connection states. */
enum be_state {
	BS_CONNECTING = 0,	/* connect in flight: connect_timeout */
	BS_REQUEST,		/* sending the request, awaiting the response head: response_timeout */
	BS_RESPONSE,		/* response body: pool idle_timeout on no progress */
	BS_TUNNEL,		/* after 101 */
	BS_IDLE,		/* in the keep-alive pool, recv armed to see the peer close */
};

/* In-flight op bits (conn.inflight); at most one op of each kind per conn (a tunnel conn
 * may wait on POLLIN for one direction and POLLOUT for the other at once). */
enum {
	IF_RECV		= 0x01,
	IF_SEND		= 0x02,
	IF_CONNECT	= 0x04,
	IF_POLLIN	= 0x08,	/* splice readiness for c->rpump */
	IF_POLLOUT	= 0x10,	/* splice readiness for c->wpump */
};

/* conn.flags */
enum {
	CF_CLOSING	= 0x01,	/* closing: no new ops; freed when inflight == 0 */
	CF_REUSED	= 0x02,	/* backend: came from the keep-alive pool */
	CF_EOF		= 0x04,	/* peer closed its write side */
	CF_PINNED	= 0x08,	/* backend: private to one client conn (NTLM/Negotiate) */
	CF_TLS_END	= 0x10,	/* TLS: the transport ended (close_notify) in the read that
				 * brought the last bytes: the next conn_recv reports EOF */
};

/* Body framing a pump enforces. */
enum pump_mode {
	PM_NONE = 0,	/* no body */
	PM_LENGTH,	/* `remaining` bytes */
	PM_CHUNKED,	/* chunked, relayed as-is; the decoder finds the end */
	PM_CLOSE,	/* until the source closes (close-delimited response, tunnel) */
};

/* Moves one body (or one tunnel direction) from src to dst with one buffer in flight. */
struct pump {
	struct conn	*src;
	struct conn	*dst;
	uint8_t		 mode;		/* enum pump_mode */
	bool		 active;
	bool		 done;
	bool		 sending;
	bool		 splicing;	/* moving through p->pipe instead of buffers */
	bool		 dechunk;	/* PM_CHUNKED: forward only the data (HTTP/1.0 client) */
	bool		 src_err;	/* the error given to on_done came from reading src */
	int16_t		 pipe;		/* index in the worker's pipe pool, -1 none */
	uint32_t	 in_pipe;	/* bytes sitting in the pipe */
	uint64_t	 remaining;	/* PM_LENGTH */
	uint64_t	 bytes;		/* moved so far */
	struct ibuf	 buf;		/* being sent to dst */
	struct h1_chunk	 ck;		/* PM_CHUNKED */
	bool		 filter_trailers; /* PM_CHUNKED request: h1_trailer_filter() the trailers */
	char		*tl;		/* trailer bytes held back across reads (H1_MAX_TRAILERS) */
	uint32_t	 tl_len;	/* held back so far; the filtered length once done */
	void		(*on_done)(struct pump *p, int err);
};

/* stream.flags */
enum {
	SF_ACTIVE	= 0x0001,
	SF_REQ_DONE	= 0x0002,	/* request head + body fully sent to the backend */
	SF_RESP_DONE	= 0x0004,	/* response fully sent to the client */
	SF_HEAD_SENT	= 0x0008,	/* response head given to the client: no error page now */
	SF_CLI_KA	= 0x0010,	/* client connection stays open after this exchange */
	SF_BE_KA	= 0x0020,	/* backend connection may be pooled after this exchange */
	SF_RETRIED	= 0x0040,
	SF_IDEMPOTENT	= 0x0080,	/* GET/HEAD without a body: may be retried once */
	SF_UPGRADE	= 0x0100,	/* client asked for Upgrade */
	SF_HEAD_REQ	= 0x0200,	/* request method HEAD */
	SF_RESP_BYTE	= 0x0400,	/* a response byte arrived from the backend */
	SF_VER10	= 0x0800,	/* client spoke HTTP/1.0 */
	SF_CONN_AUTH	= 0x1000,	/* NTLM/Negotiate seen: pin the backend conn */
	SF_TLS_RETRIED	= 0x2000,	/* a refused TLS resumption was retried in full */
};

/* One request/response exchange, embedded in the client conn. */
struct cfg_route;
struct guard_hook_att;

struct stream {
	uint16_t	 flags;
	uint16_t	 status;
	int16_t		 pool;		/* config pool index, -1 none */
	int16_t		 srv;		/* server index */
	int16_t		 active_srv;	/* 1 + server counted by bal_req_begin, 0 none */
	uint64_t	 tried;		/* bit (i % 64): server i tried for this request */
	struct bal_key	 key;		/* client address, MS-WSMAN cookie (balancing) */
	uint8_t		 req_body;	/* enum pump_mode for the request body */
	struct conn	*be;
	char		*obuf;		/* request head for the backend (kept for retry, log) */
	uint32_t	 olen;
	uint32_t	 reqline_len;	/* first line of obuf, without CRLF */
	uint32_t	 host_off, host_len;	/* Host value inside obuf */
	uint64_t	 req_cl;	/* request Content-Length */
	char		*rbuf;		/* response head (+ first body bytes) for the client */
	uint32_t	 rlen;
	uint64_t	 t_start;	/* ms: first request byte */
	uint64_t	 t_be;		/* ms: backend work started */
	uint64_t	 t_be_end;	/* ms: response head complete */
	uint64_t	 bytes_out;	/* bytes sent to the client */
	/* access log (json) and /metrics */
	uint32_t	 head_in;	/* bytes of the request head */
	uint64_t	 t_be_conn;	/* ms: backend connection ready (connected or reused) */
	char		 term[48];	/* why ringedge ended the exchange ("": normally) */
	struct pump	 req;		/* client -> backend */
	struct pump	 resp;		/* backend -> client */
	/* backend protection (core/proxy/queue.c): the pool's queue, retries */
	struct conn	*qnext, *qprev;	/* links in bal_wpool's FIFO while queued */
	uint64_t	 t_queued;	/* ms: entered the queue */
	uint32_t	 q_ms;		/* ms spent queued (access log) */
	uint32_t	 q_len;		/* queue length when it entered, itself included */
	int16_t		 q_srv;		/* the server it waits for, -1: any */
	uint8_t		 retries;	/* connects after the first, any kind (access log) */
	uint8_t		 spent;		/* of them, taken from the pool's `retries` budget */
	bool		 queued;
	bool		 q_woken;	/* dequeued by a freed connection: pick again */
	bool		 be_failed;	/* an attempt failed: the next connect is a retry */
	bool		 congested;	/* it was a connect_timeout under congestion (queue.c) */
	const struct cfg_route *route;	/* the exchange's route, NULL before/without one */
	struct guard_hook_att *gatt;	/* auth guard attempt (core/proxy/guard_hook.c) or NULL */
};

struct conn {
	uint32_t	 slot;
	uint32_t	 gen;		/* bumped on free: stale user_data is ignored */
	int		 fd;
	uint8_t		 role;		/* enum conn_role */
	uint8_t		 state;		/* enum cli_state / enum be_state */
	uint8_t		 inflight;	/* IF_* */
	uint8_t		 flags;		/* CF_* */
	uint32_t	 rmax;		/* max of the recv in flight (re-armed on ENOBUFS) */
	struct worker	*w;
	struct xprt	 xprt;
	struct timer	 tm;
	struct ibuf	 in;
	struct h1_msg	*msg;		/* a head parse spanning several reads (else NULL) */
	struct generation *g;		/* config generation this conn uses (a reference) */
	/*
	 * TLS only: the generation that built the transport's context (a reference, NULL when
	 * plain). Server side: the listener's certificates, including the one SNI chose (the 421
	 * check reads it); client side: the pool's context and this worker's session slot. g
	 * follows reloads between requests; xg stays, so a reload never frees what a live TLS
	 * connection still points at.
	 */
	struct generation *xg;
	struct pump	*rpump;		/* the pump reading from this conn */
	struct pump	*wpump;		/* the pump writing to this conn */
	struct stream	*s;		/* client: &u.cli.st; backend: the stream served */

	void		(*on_recv)(struct conn *c, int res);
	void		(*on_send)(struct conn *c, int res);
	void		(*on_timeout)(struct conn *c);

	/* the send in flight (wire bytes) */
	const char	*out;
	uint32_t	 out_len;
	uint32_t	 out_off;

	/*
	 * TLS only (plain sends `out` directly): the application bytes of the conn_send in
	 * progress, encrypted as the transport's queue drains (app_off = bytes taken); NULL when
	 * no conn_send is waiting. wbuf: the wire buffer of the recv in flight when there is no
	 * provided buffer ring.
	 */
	const char	*app;
	uint32_t	 app_len;
	uint32_t	 app_off;
	char		*wbuf;

	union {
		struct {
			struct stream		 st;
			struct sockaddr_in6	 peer;	/* or sockaddr_in: the client (after PROXY
							 * protocol and real_ip_from) */
			struct sockaddr_in6	 tcp_peer; /* the connection's own (after PROXY) */
			uint16_t		 lidx;	/* listener index */
			bool			 auth;	/* NTLM/Negotiate seen: backends pinned */
			bool			 body_wait; /* auth guard reads a bounded body */
			uint64_t		 limkey; /* client limits entry (limits.c), 0 none */
			uint32_t		 nreq;
			struct conn		*pinned; /* backend private to this conn, or NULL */
		} cli;
		struct {
			int16_t			 pool;
			int16_t			 srv;
			struct conn		*next;	/* keep-alive pool links */
			struct conn		*prev;
			struct conn		*owner;	/* CF_PINNED: the client conn */
		} be;
	} u;
	struct conn	*free_next;	/* slot free list */
};

#endif
