/*
 * HTTP/1.1 message building for the proxy: pure functions, bytes and parsed fields in, bytes
 * out. No I/O, no allocation, no connection object: the stream (core/proxy/stream.c) gives a
 * parsed head (core/h1.h), the buffer it was parsed from, an output buffer of the size the
 * *_cap() helper names and the few facts a rule needs. Rules: docs/internals.md ("Stream")
 * and docs/http1.md ("Connection options and hop-by-hop fields"); tests:
 * test/unit/core/http/msg_test.c, test/fuzz/fuzz_msg.c. Any thread.
 */
#ifndef RINGEDGE_CORE_HTTP_MSG_H
#define RINGEDGE_CORE_HTTP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/http/h1-t.h"

/* Longest peer address text msg_build_request() accepts ("[v6]:port"). */
#define MSG_PEER_MAX	64
/* Longest extra field section msg_build_response() accepts (the MS-WSMAN Set-Cookie line). */
#define MSG_EXTRA_MAX	96

/* What the backend request head needs besides the client's head. */
struct msg_req_opts {
	bool		 upgrade;	/* pass Upgrade on, with "Connection: upgrade" */
	bool		 xff;		/* forwarded_for = on: X-Forwarded-For/-Proto rewritten */
	bool		 tls;		/* the client came over TLS: X-Forwarded-Proto: https */
	const char	*peer;		/* xff: the client address text, at most MSG_PEER_MAX */
	size_t		 peer_len;
};

/* Where the access log finds its parts in the built head. */
struct msg_req_info {
	uint32_t	 reqline_len;	/* request line, without CRLF, at offset 0 */
	uint32_t	 host_off;	/* Host value (host_len 0: no Host line) */
	uint32_t	 host_len;
};

/* Bytes msg_build_request() may write for head m. */
static inline size_t
msg_request_cap(const struct h1_msg *m)
{
	/* absolute-form: the authority goes out twice (target, Host) */
	return m->head_len + 256 + (m->target_form == H1_TF_ABSOLUTE ? m->abs_host.len : 0);
}

/*
 * Builds the backend request head from the client's head m (parsed from buf) into out (at
 * least msg_request_cap(m) bytes): the request line and every kept field line byte-exact,
 * hop-by-hop fields dropped, Upgrade only when upgrading, framing regenerated from the parsed
 * framing, Host replaced by the absolute-form authority, and with xff one X-Forwarded-For
 * (the client's non-empty values joined with ", ", then the peer) and a fresh
 * X-Forwarded-Proto. Returns the head length (ends with the empty line).
 */
size_t msg_build_request(char *out, const struct h1_msg *m, const char *buf,
	const struct msg_req_opts *o, struct msg_req_info *info);

/* What the client's response head needs besides the backend's head. */
struct msg_resp_opts {
	enum h1_body	 fr;		/* the response framing (h1_body_framing) */
	bool		 tunnel;	/* an accepted 101: Upgrade passes, "Connection: upgrade" */
	bool		 head_req;	/* the answer to a HEAD request */
	bool		 ver10;		/* the client spoke HTTP/1.0 */
	bool		 cli_ka;	/* the client connection stays open */
	bool		 dechunk;	/* a chunked body goes out de-chunked, close-delimited */
	const char	*extra;		/* field lines to add ("Name: v\r\n"), at most MSG_EXTRA_MAX */
	size_t		 extra_len;
	/* hide_response_header: field names dropped (ASCII case-insensitive), e.g. the route's
	 * list and the pool's; NULL/0 when none */
	char *const	*hide[2];
	int		 nhide[2];
};

/* Bytes msg_build_response() may write for a head of head_len bytes. */
static inline size_t
msg_response_cap(uint32_t head_len)
{
	return (size_t)head_len + 224;
}

/* A 1xx other than 101: relayed as it is (minus hop-by-hop fields), the final head follows. */
static inline bool
msg_status_interim(unsigned st)
{
	return st >= 100 && st < 200 && st != 101;
}

/*
 * Builds the client's response head from the backend's head m (status line byte-exact,
 * kept fields byte-exact, hop-by-hop dropped, framing regenerated, except that a 304 or an
 * answer to HEAD passes its first Content-Length and its Transfer-Encoding (not to an
 * HTTP/1.0 client) and a 204 neither; "Connection: close" when the client connection ends,
 * "Connection: keep-alive" for a keep-alive HTTP/1.0 client). *auth is set when a
 * WWW-Authenticate field offers NTLM or Negotiate. out holds msg_response_cap(head_len).
 * Returns the head length.
 */
size_t msg_build_response(char *out, const struct h1_msg *m, const char *buf, uint32_t head_len,
	const struct msg_resp_opts *o, bool *auth);

/* "NTLM" or "Negotiate" as an auth-scheme of the field value v[0..n) (RFC 9110 11.6.1). */
bool msg_auth_scheme(const char *v, size_t n);

/* Field h of a head parsed from buf is named name (case-insensitive). */
bool msg_hdr_is(const char *buf, const struct h1_header *h, const char *name, size_t len);

/* The reason phrase ringedge sends with status st. */
const char *msg_status_text(unsigned st);

/* Bytes msg_build_simple() may write with extra of extra_len bytes. */
static inline size_t
msg_simple_cap(size_t extra_len)
{
	return 256 + extra_len + 96;
}

/*
 * One of our own short responses: status, text/plain body "STATUS TEXT\n" (left out for a
 * HEAD request), extra field lines, "Connection: close" unless keep. Returns its length.
 */
size_t msg_build_simple(char *out, size_t cap, unsigned status, const char *extra, bool keep,
	bool head_req);
/* msg_build_simple with body[0..blen) (NULL: "STATUS TEXT\n") as the text/plain body;
 * cap must leave room for it (msg_simple_cap + blen). */
size_t msg_build_text(char *out, size_t cap, unsigned status, const char *extra, const char *body,
	size_t blen, bool keep, bool head_req);

/*
 * "Location: https://HOST+TARGET\r\n" for the redirect of a plain listener: the port of
 * host (that of the plain listener) is dropped. out holds hlen + tlen + 32 bytes. Returns
 * its length (a NUL follows).
 */
size_t msg_redirect_location(char *out, const char *host, size_t hlen, const char *target,
	size_t tlen);

#endif
