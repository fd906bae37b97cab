/*
 * TLS types (wolfSSL native API, no OpenSSL compat). Design and rationale: docs/tls.md.
 *
 * Ownership:
 * - struct tls_server (one per TLS listener: the SNI set of certificates, one wolfSSL server
 *   CTX each) and struct tls_client (one per `tls = on` pool: one wolfSSL client CTX) are boot
 *   objects built on the control thread at config load and only read afterwards, by every
 *   worker. They outlive every connection made from them (wolfSSL's CTX refcount also keeps a
 *   CTX alive until its last connection is freed).
 * - struct tls_tickets holds the process-wide session-ticket keys: written by the control
 *   thread (rotation), read lock-free by every worker inside the ticket callback.
 * - struct tls_conn is per connection, owned by one worker (never touched by two threads).
 * - struct tls_sess_slot is a client-session cache entry owned by one worker for one backend
 *   server: no lock, the caller owns it.
 */
#ifndef RINGEDGE_TLS_TLS_T_H
#define RINGEDGE_TLS_TLS_T_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "tls/tlssan.h"

struct WOLFSSL;
struct WOLFSSL_CTX;
struct WOLFSSL_SESSION;

#define TLS_TICKET_NAME_LEN	16
#define TLS_TICKET_KEY_LEN	32	/* ChaCha20-Poly1305 */
#define TLS_TICKET_ROTATE_S	(12 * 3600)	/* new key every 12 h, previous kept 12 h more */
#define TLS_SESSION_LIFETIME_S	TLS_TICKET_ROTATE_S	/* ticket lifetime = rotation period */

#define TLS_EXPIRY_WARN_DAYS	14

/* One ticket key: the name goes in clear in the ticket and selects the key. */
struct tls_ticket_key {
	uint8_t		 name[TLS_TICKET_NAME_LEN];
	uint8_t		 key[TLS_TICKET_KEY_LEN];
};

/* An immutable key set, published whole by one atomic pointer store. */
struct tls_ticket_keys {
	struct tls_ticket_key cur;	/* encrypts new tickets */
	struct tls_ticket_key prev;	/* still decrypts; such tickets are renewed */
	bool		 have_prev;
	time_t		 created;
};

struct tls_tickets {
	_Atomic(struct tls_ticket_keys *) keys;
	/*
	 * Sets replaced by the last rotations: a worker may still be reading one inside a ticket
	 * callback (microseconds), so a set is freed only two rotations (24 h) after it stopped
	 * being current. Control thread only.
	 */
	struct tls_ticket_keys *retired[2];
};

/*
 * Keys from a `ticket_keys` file (HAProxy's format, docs/tls.md): shared by every instance
 * that reads the same file. Immutable once loaded; owned by the tls_server of the listener.
 */
#define TLS_FILE_KEYS		3	/* the last 3 of the file decrypt (HAProxy TLS_TICKETS_NO) */
#define TLS_FILE_KEY_ENC	1	/* ...and the second-to-last (of those 3: index 1) encrypts */

struct tls_file_key {
	uint8_t		 name[TLS_TICKET_NAME_LEN];
	uint8_t		 aes[32];	/* AES-128 (48-byte keys) or AES-256 (80-byte keys) */
	uint8_t		 hmac[32];
	uint8_t		 len;		/* 16 or 32: of aes and of hmac */
};

struct tls_file_keys {
	struct tls_file_key k[TLS_FILE_KEYS];	/* oldest first; k[TLS_FILE_KEY_ENC] encrypts */
	int		 nfile;			/* keys in the file (>= TLS_FILE_KEYS) */
};

/* A DNS name a certificate covers: lower case, no trailing dot; "*.x" = wildcard. */
struct tls_name {
	char		*name;
	size_t		 len;
	bool		 wildcard;	/* name is the suffix after "*" (".contoso.com") */
};

/* One certificate of a listener's SNI set. */
struct tls_cert {
	struct WOLFSSL_CTX *ctx;
	struct tls_name	*names;		/* DNS SANs (the CN only if there are none) */
	int		 nnames;
	struct tls_ip	*ips;		/* iPAddress SANs (tls/tlssan.h) */
	int		 nips;
	char		*file;		/* certificate path, for logs */
	time_t		 not_before;
	time_t		 not_after;
	bool		 ecdsa;
};

/* A TLS listener: its certificates, first = default (no SNI, or no match). */
struct tls_server {
	struct tls_file_keys *file_keys;	/* `ticket_keys`; NULL: the process keys */
	struct tls_cert	*certs;
	int		 ncerts;
	unsigned	 protocols;	/* enum cfg_proto bits */
	bool		 session_tickets;
};

/* A backend pool's client context. */
struct tls_client {
	struct WOLFSSL_CTX *ctx;
	char		*sni;		/* pool `sni`, NULL: each server's host name */
	bool		 verify;
};

/* A worker's cached session for one backend server (resumption). */
struct tls_sess_slot {
	struct WOLFSSL_SESSION *sess;
};

/* A chunk of the output queue: bytes never move once written (a SEND may be in flight). */
struct tls_chunk {
	struct tls_chunk *next;
	uint32_t	 head;		/* first byte not yet handed back as sent */
	uint32_t	 len;
	uint32_t	 cap;
	char		 data[];
};

enum tls_conn_state {
	TLS_ST_HELLO = 0,	/* server: buffering the first record to read SNI; no WOLFSSL yet */
	TLS_ST_HANDSHAKE,	/* wolfSSL_accept / wolfSSL_connect in progress */
	TLS_ST_OPEN,		/* handshake done: application data both ways */
	TLS_ST_CLOSED,		/* close_notify received (EOF) or sent */
	TLS_ST_ERROR,		/* fatal: alert (if any) queued; tls_conn_error() says why */
};

struct tls_conn {
	struct WOLFSSL	*ssl;
	const struct tls_server *srv;	/* server side, else NULL */
	const struct tls_cert *cert;	/* server: the certificate chosen by SNI */
	struct tls_sess_slot *slot;	/* client: where sessions are saved/restored */
	/* Wire bytes received but not yet read by wolfSSL: lazily allocated, freed when empty. */
	char		*in;
	uint32_t	 in_off, in_len, in_cap;
	/* The caller's current input span, read in place by the recv callback. */
	const char	*cur;
	size_t		 cur_len;
	/* Decrypted application bytes handed to the caller: lazily allocated. */
	char		*app;
	/* Encrypted output waiting for the ring. */
	struct tls_chunk *out_head, *out_tail;
	size_t		 out_bytes;
	int		 err;		/* -errno once failed */
	int		 wolf_err;	/* wolfSSL error code behind err */
	uint8_t		 state;		/* enum tls_conn_state */
	bool		 ticket_seen;	/* client: a session ticket arrived, save the session */
	bool		 eof_sent;
	bool		 check_ip;	/* client: the server name is an IP literal: peer_ip */
	struct tls_ip	 peer_ip;	/* must be an iPAddress SAN of the peer (verify_ip) */
	bool		 eof_told;	/* -ESHUTDOWN returned after the peer's close_notify */
};

#endif
