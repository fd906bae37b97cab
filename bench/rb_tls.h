/*
 * ringbench TLS transport: wolfSSL driven entirely through memory buffers, so the ring does
 * all socket I/O. Ciphertext received by the ring is appended to `in`; wolfSSL reads it
 * through a custom recv callback. What wolfSSL writes lands in `out`, which the ring sends.
 * Neither callback touches a socket, so wolfSSL never blocks and never sees an fd.
 *
 * One rb_tls per connection, used only by the thread that owns the connection. WOLFSSL_CTX
 * objects are per thread too (no shared session cache, no locks).
 */
#ifndef RINGEDGE_BENCH_RB_TLS_H
#define RINGEDGE_BENCH_RB_TLS_H

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <stddef.h>

#define RB_TLS_IN_CAP	(17 * 1024)	/* one full TLS record plus header */

struct rb_tls {
	WOLFSSL		*ssl;
	char		*in;		/* ciphertext from the socket, not yet read by wolfSSL */
	size_t		in_off, in_len;
	char		*out;		/* ciphertext for the socket; never reallocated while a send is in flight */
	size_t		out_len, out_cap;
	int		eof;		/* the socket reached EOF: recv callback reports close */
};

/* Once per process, before threads start. Returns 0 or -1. */
int rb_tls_global_init(void);

/* On each TLS-using thread before it exits: frees wolfSSL's per-thread ECC point cache (FP_ECC). */
void rb_tls_thread_done(void);

/* Highest TLS version a client context offers (ringbench --tls-max). */
enum rb_tls_max {
	RB_TLS_MAX_13 = 0,	/* TLS 1.2 and 1.3 offered, 1.3 preferred (the default) */
	RB_TLS_MAX_12,		/* TLS 1.2 only: its tickets resume without a key exchange */
};

/*
 * A client context for one thread: verification on unless insecure; CA file if given, else
 * the system store; versions up to `max`. Returns NULL with a reason in err.
 */
WOLFSSL_CTX *rb_tls_ctx_new(int insecure, const char *cacert, enum rb_tls_max max, char *err,
    size_t errlen);

/* Allocates the buffers (out_cap bytes for outgoing ciphertext). 0 or -1. */
int rb_tls_alloc(struct rb_tls *t, size_t out_cap);
void rb_tls_release(struct rb_tls *t);

/*
 * New session on a freshly connected socket: SNI and host-name check for `host` (names only,
 * not IP literals), resuming `sess` when not NULL. 0 or -1.
 */
int rb_tls_begin(struct rb_tls *t, WOLFSSL_CTX *ctx, const char *host, int verify_name,
    WOLFSSL_SESSION *sess);

/* Drives the handshake: 1 done, 0 needs more ciphertext in, < 0 failed (reason in err). */
int rb_tls_handshake(struct rb_tls *t, char *err, size_t errlen);

/* Encrypts all of p[0..n) into out: 1 done, < 0 error (out too small or wolfSSL error). */
int rb_tls_write(struct rb_tls *t, const void *p, size_t n);

/* Decrypts into p: > 0 bytes, 0 needs more ciphertext, -1 error, -2 peer closed (EOF/close_notify). */
int rb_tls_read(struct rb_tls *t, void *p, size_t n);

/* 1 if this connection resumed a session. */
int rb_tls_resumed(struct rb_tls *t);

/* Ends the session; if save is not NULL, stores a resumable session there (caller frees the old). */
void rb_tls_end(struct rb_tls *t, WOLFSSL_SESSION **save);

/* Buffer bookkeeping for the ring. */
static inline size_t
rb_tls_in_space(const struct rb_tls *t)
{
	return RB_TLS_IN_CAP - t->in_len;
}

#endif
