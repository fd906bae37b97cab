/*
 * TLS: wolfSSL server contexts per listener (SNI sets), client contexts per backend pool,
 * process-wide ticket keys, and the per-connection transport (tls_conn_*) that turns wire
 * bytes into application bytes over in-memory buffers. tls/ knows nothing of io_uring: the
 * data plane hands it bytes and sends what it hands back. Design: docs/tls.md.
 *
 * Return conventions (core/lib/api-t.h): boot functions report config errors as
 * "FILE:LINE: message" lines in a struct cfg_errors and return NULL; connection functions are
 * tri-state (< 0 -errno, 0 would block / need more, > 0 progress).
 */
#ifndef RINGEDGE_TLS_TLS_H
#define RINGEDGE_TLS_TLS_H

#include "config/config-t.h"
#include "tls/tls-t.h"

/* ---- process ------------------------------------------------------------------------- */

/* wolfSSL_Init, once per process (any thread, idempotent). Returns 0 or -EIO. */
int tls_init(void);

/* Per-thread cleanup of wolfSSL's thread-local caches; call when a worker thread exits. */
void tls_thread_exit(void);

/* ---- session-ticket keys (control thread writes, workers read lock-free) -------------- */

/* The keys every server context of the process uses, so a ticket resumes on any worker. */
extern struct tls_tickets tls_tickets_global;

/* Generates a first key. Returns 0 or -errno. Control thread. */
int tls_tickets_init(struct tls_tickets *t);
/* Makes a fresh key current and keeps the current one as previous (decrypt only). Call every
 * TLS_TICKET_ROTATE_S seconds from the control thread. Returns 0 or -errno. */
int tls_tickets_rotate(struct tls_tickets *t);
/* Frees every key set. Only when no worker can run a handshake any more. */
void tls_tickets_destroy(struct tls_tickets *t);

/*
 * Parses a `ticket_keys` file's text (HAProxy's format: one base64 key per line, 48 or 80
 * bytes each, all the same size, at least TLS_FILE_KEYS of them; empty lines and lines
 * starting with '#' are skipped) into out: its last TLS_FILE_KEYS keys. Returns 0, or -1 with
 * *line (1-based, 0: the whole file) and *why (static text). Pure; any thread.
 */
int tls_file_keys_parse(const char *text, size_t len, struct tls_file_keys *out, int *line,
			const char **why);

/* wolfSSL SessionTicketEncCb over a struct tls_file_keys (arg); see docs/tls.md. Exposed for
 * unit tests; installed by tls_server_new for listeners with ticket_keys. */
struct WOLFSSL;
int tls_ticket_file_cb(struct WOLFSSL *ssl, unsigned char key_name[16], unsigned char iv[16],
		       unsigned char mac[32], int enc, unsigned char *ticket, int in_len,
		       int *out_len, void *arg);

/* ---- listener side -------------------------------------------------------------------- */

/*
 * Builds the SNI set of listener `l` (its certificates, or def's pair when it has none) from
 * config file `file`: loads each PEM chain and key, checks that they match, that the
 * certificate is already valid (expired or expiring within TLS_EXPIRY_WARN_DAYS days: a
 * warning in the error log), applies protocols (TLSv1.0/1.1 are refused: not compiled in),
 * AEAD-only suites in server order, ALPN http/1.1, and session tickets with the keys of
 * l->ticket_keys when set (read now: a bad file is an error at l->ticket_keys_line), else
 * `tk`'s keys (NULL: tls_tickets_global; tls_tickets_init must have run), or none. wolfSSL's locked
 * server session cache is off. Returns NULL with the reasons in err. Control thread.
 */
struct tls_server *tls_server_new(const char *file, const struct cfg_listener *l,
				  const struct cfg_tls_defaults *def, struct tls_tickets *tk,
				  struct cfg_errors *err);
/* A certificate chain and key in memory (PEM), named label in messages. */
struct tls_mem_pair {
	const char	*label;
	const char	*cert;
	size_t		 cert_len;
	const char	*key;
	size_t		 key_len;
};
/* tls_server_new with this one pair instead of l's files (the ACME placeholder: no file
 * exists yet). */
struct tls_server *tls_server_new_mem(const char *file, const struct cfg_listener *l,
				      const struct tls_mem_pair *pair, struct tls_tickets *tk,
				      struct cfg_errors *err);
void tls_server_free(struct tls_server *s);

/* The index of the certificate chosen for SNI `name` (exact SAN, then one-label "*." SAN, in
 * certificate order; no name or no match: 0). Any thread. */
int tls_server_pick(const struct tls_server *s, const char *name, size_t len);

/* Does certificate `c` cover host (a Host header value: case-insensitive, an optional :port
 * and trailing dot ignored)? Any thread. */
bool tls_cert_covers(const struct tls_cert *c, const char *host, size_t len);

/* ---- backend side --------------------------------------------------------------------- */

/*
 * Builds the client context of pool `p` (config file `file`): trust anchors from p->ca or
 * the system bundle, peer verification unless p->verify is off (then a startup warning),
 * TLS 1.2-1.3, SNI and name check per connection. Returns NULL with reasons in err.
 */
struct tls_client *tls_client_new(const char *file, const struct cfg_pool *p,
				  struct cfg_errors *err);
void tls_client_free(struct tls_client *cl);

/* Forgets a cached session. Owner worker only. */
void tls_sess_slot_clear(struct tls_sess_slot *slot);

/* ---- connections (one worker each) ---------------------------------------------------- */

/* A server connection of listener s; the certificate is chosen when the ClientHello
 * arrives. Returns NULL on ENOMEM. */
struct tls_conn *tls_conn_server(const struct tls_server *s);

/*
 * A client connection to backend server `host` (SNI and verified name, unless the pool sets
 * `sni`). If slot holds a session it is offered for resumption, and new sessions are saved
 * into it. The ClientHello is queued at once: send tls_conn_wire(). NULL on failure.
 */
struct tls_conn *tls_conn_client(const struct tls_client *cl, const char *host,
				 struct tls_sess_slot *slot);

void tls_conn_free(struct tls_conn *c);

/*
 * Wire bytes in[0..len) arrived (len may be 0 to continue after a previous call filled its
 * output). Drives the handshake and decrypts: *app and *app_len receive up to TLS_APP_MAX
 * application bytes, valid until the next tls_conn_recv/tls_conn_shrink/tls_conn_free. Every
 * byte of `in` is consumed (copied if wolfSSL cannot take it yet). May queue wire bytes
 * (handshake, tickets, alerts): check tls_conn_wire() after every call.
 * Returns > 0 progress (application bytes, or the handshake just completed), 0 need more
 * wire bytes, or < 0: -ESHUTDOWN the peer closed (close_notify: EOF), -EKEYREJECTED the peer's
 * certificate failed verification, -EPROTO any other TLS failure (tls_conn_error says why),
 * -ENOMEM. When > 0 and tls_conn_recv_more(c), call again with len 0 after consuming.
 */
int tls_conn_recv(struct tls_conn *c, char *in, size_t len, char **app, size_t *app_len);

/* Wire bytes are buffered that the last tls_conn_recv did not decrypt (its output was
 * full), or the peer's close_notify came with the application bytes it returned: call
 * tls_conn_recv(c, NULL, 0, ...) again (it then returns -ESHUTDOWN). */
bool tls_conn_recv_more(const struct tls_conn *c);

/*
 * Encrypts application bytes buf[0..len) into the wire queue. Returns the number of bytes
 * taken (> 0; may be less than len), 0 when the handshake is not done yet or the queue holds
 * TLS_OUT_HIWAT bytes or more (back-pressure: send tls_conn_wire first), < 0 -errno.
 */
int tls_conn_send(struct tls_conn *c, const char *buf, size_t len);

/* Queues close_notify (once). Returns 0, or -errno if the connection is unusable.
 * tls_conn_recv queues it by itself when the peer's close_notify arrives. */
int tls_conn_shutdown(struct tls_conn *c);

/* The oldest queued wire bytes (contiguous; more may follow). The bytes stay valid and do
 * not move until tls_conn_wire_done() releases them. Returns their length, 0 if none. */
size_t tls_conn_wire(struct tls_conn *c, const char **wire);
/* n bytes from the front of the queue are on the wire: releases them. */
void tls_conn_wire_done(struct tls_conn *c, size_t n);
/* Total queued wire bytes. */
size_t tls_conn_wire_pending(const struct tls_conn *c);

/* The connection went idle (keep-alive): releases the application buffer and empty queues.
 * wolfSSL frees its own record buffers when they are empty. */
void tls_conn_shrink(struct tls_conn *c);

bool tls_conn_established(const struct tls_conn *c);
bool tls_conn_resumed(const struct tls_conn *c);
/* Does the certificate this connection presented cover `host`? (false before SNI.) */
bool tls_conn_covers_host(const struct tls_conn *c, const char *host, size_t len);
/* "TLSv1.3", cipher suite name, negotiated ALPN ("http/1.1" or NULL): for logs. */
const char *tls_conn_version(const struct tls_conn *c);
const char *tls_conn_cipher(const struct tls_conn *c);
const char *tls_conn_alpn(const struct tls_conn *c);
/* Why the connection failed, e.g. "certificate verify failed: unknown issuer (-188)". */
const char *tls_conn_error(const struct tls_conn *c, char *buf, size_t len);

#define TLS_APP_MAX	16384		/* application bytes per tls_conn_recv */
#define TLS_OUT_HIWAT	(64 * 1024)	/* tls_conn_send stops taking bytes above this */

#endif
