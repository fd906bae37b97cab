/*
 * Strict, resumable HTTP/1.1 head parser and chunked decoder. No I/O, no allocation, no
 * globals written: safe on any worker thread; each struct belongs to one connection.
 * Rules and every strictness decision: docs/http1.md.
 */
#ifndef RINGEDGE_CORE_HTTP_H1_H
#define RINGEDGE_CORE_HTTP_H1_H

#include <sys/types.h>

#include "core/http/h1-t.h"

/* Prepares m for a new message head (request if is_response == 0). */
void h1_msg_init(struct h1_msg *m, int is_response);

/*
 * Parses the head in buf[0..len): the whole head received so far, from its first byte. The
 * parser resumes at m->pos and never rescans: between calls buf may move or grow but
 * buf[0..m->pos) must not change. Returns:
 *   > 0  the head is complete; the value is its length (m->head_len); the body or the next
 *        pipelined message starts at buf + that offset and was not examined;
 *   0    need more bytes (all of buf examined; the limits are already enforced);
 *   < 0  -status: m->err_status (400, 414, 431, 501, 505; 502 for a response),
 *        m->err_reason and m->err_off (offending byte) are set. Calling again returns the
 *        same error.
 */
int h1_parse_head(struct h1_msg *m, const char *buf, size_t len);

/*
 * Body framing after a complete head (RFC 9112 section 6.3). For a request is_response = 0
 * and the other arguments are ignored. For a response req_head says the request was HEAD and
 * status is the response status (m->status). H1_BODY_LENGTH uses m->content_length.
 * A 2xx answer to CONNECT is not handled here (ringedge does not proxy CONNECT).
 */
enum h1_body h1_body_framing(const struct h1_msg *m, int is_response, int req_head,
    unsigned status);

/*
 * Connection persistence after this message: 1 keep-alive, 0 close. HTTP/1.1 unless
 * "Connection: close"; HTTP/1.0 only with "Connection: keep-alive".
 */
int h1_keepalive(const struct h1_msg *m);

/* Case-insensitive lookup of the first field named name; returns its index or -1. */
int h1_find(const struct h1_msg *m, const char *buf, const char *name, size_t name_len);

const char *h1_method_name(enum h1_method method);

/* Prepares c for the first byte of a chunked body. */
void h1_chunk_init(struct h1_chunk *c, int is_response);

/*
 * Decodes chunked framing in buf[0..len) (bytes that follow what earlier calls consumed).
 * Stops after each data span, at the end of the message, or at the end of buf. Returns:
 *   > 0  bytes consumed; *data is the chunk data among them (offsets into buf, len 0 if
 *        none). Forwarding the consumed bytes as-is relays the chunked body; forwarding only
 *        the data spans de-chunks it. h1_chunk_done() says the body (trailers included) ended
 *        and bytes after the consumed ones belong to the next message;
 *   0    len == 0 or the body is already done;
 *   < 0  -status (400, or 502 for a response); c->err_* set.
 */
ssize_t h1_chunk_parse(struct h1_chunk *c, const char *buf, size_t len, struct h1_span *data);

static inline int
h1_chunk_done(const struct h1_chunk *c)
{
	return c->state == H1_C_DONE;
}

/*
 * The trailer section of a chunked body, in[0..len): its field lines and the final CRLF,
 * exactly the bytes h1_chunk_parse() consumed after the last-chunk line ("0\r\n"); there
 * are c->trailer_len of them once h1_chunk_done(c), at most H1_MAX_TRAILERS. Copies to out
 * every field line except those h1_trailer_forbidden() names, then the final CRLF. out may
 * be in (lines only move towards the front); cap >= len is always enough. Returns the bytes
 * written (2 when every field was dropped), or -1 if in is not one whole trailer section
 * (the decoder already refused anything else) or cap is too small. Pure; any thread.
 * Plugs into the request body pump: docs/http1.md "Trailers".
 */
ssize_t h1_trailer_filter(const char *in, size_t len, char *out, size_t cap);

/*
 * Is the field name[0..len) one that a trailer section must not carry to the backend?
 * RFC 9110 6.5.1's categories (framing, routing, request modifiers, authentication,
 * response controls, content format), connection options, and the fields the proxy writes
 * itself (Forwarded, X-Forwarded-*, X-Real-IP, Via). Case-insensitive.
 */
int h1_trailer_forbidden(const char *name, size_t len);

/* Pointer to a span's first byte in the buffer the span was parsed from. */
static inline const char *
h1_ptr(const char *buf, struct h1_span s)
{
	return buf + s.off;
}

#endif
