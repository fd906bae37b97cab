/*
 * ringbench HTTP/1.1 client pieces: URL parsing, request building and a small resumable
 * response parser (status line, Content-Length / chunked / close-delimited bodies).
 * No I/O, no globals: one rb_resp per connection, owned by that connection's thread.
 *
 * The parser is ringbench's own, deliberately small: it must only frame responses and read
 * the status; ringedge's strict parser (core/http/h1) serves a proxy's needs, not a client's.
 */
#ifndef RINGEDGE_BENCH_RB_HTTP_H
#define RINGEDGE_BENCH_RB_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct rb_url {
	const char	*text;		/* as given on the command line */
	int		tls;		/* https */
	char		host[256];	/* without IPv6 brackets */
	char		port[8];
	char		authority[272];	/* Host header value: host[:port], brackets kept */
	char		path[2048];	/* origin-form target, "/" if empty */
};

/* 0, or -1 with a one-line reason in err. */
int rb_url_parse(struct rb_url *u, const char *s, char *err, size_t errlen);

/*
 * Builds the bytes of one request into a malloc'ed buffer (*out, *outlen). hdrs are "Name: value"
 * lines from -H; a Host given there replaces the URL's. conn_close adds "Connection: close"
 * (new connection per request) unless -H set Connection. Returns 0 or -1 (ENOMEM).
 */
int rb_req_build(char **out, size_t *outlen, const struct rb_url *u, const char *method,
    char *const *hdrs, int nhdrs, const char *body, size_t bodylen, int conn_close);

/* Response parser states; the head is parsed in one go once "\r\n\r\n" has arrived. */
enum rb_resp_state {
	RB_R_HEAD = 0,		/* waiting for the end of the head */
	RB_R_LEN,		/* Content-Length body, `remaining` bytes left */
	RB_R_CLOSE,		/* body delimited by the end of the connection */
	RB_R_CHUNK_SIZE,	/* hex digits of a chunk size */
	RB_R_CHUNK_EXT,		/* chunk extension, skipped up to CR */
	RB_R_CHUNK_SIZE_LF,	/* LF after the chunk-size line */
	RB_R_CHUNK_DATA,	/* `remaining` bytes of chunk data */
	RB_R_CHUNK_DATA_CR,	/* CR after chunk data */
	RB_R_CHUNK_DATA_LF,	/* LF after chunk data */
	RB_R_TRAILER,		/* a trailer line (or the final empty line) */
	RB_R_TRAILER_LF,	/* LF ending a trailer line */
	RB_R_TRAILER_END_LF,	/* LF ending the message */
	RB_R_DONE,		/* response complete */
};

#define RB_RESP_EPARSE	(-1)	/* malformed response */
#define RB_RESP_ESHORT	(-2)	/* connection ended inside the body (short body) */
#define RB_RESP_EEMPTY	(-3)	/* connection ended before any response byte */

struct rb_resp {
	enum rb_resp_state state;
	int		status;
	int		keepalive;	/* the server lets us reuse the connection */
	int		req_head;	/* the request was HEAD: no body whatever the headers say */
	uint64_t	remaining;
	uint64_t	body_bytes;
	size_t		scan;		/* head bytes already searched for the end of head */
	size_t		seen;		/* any bytes at all (to tell EEMPTY from ESHORT) */
	uint32_t	line_len;	/* trailer / chunk-extension length, bounded */
};

void rb_resp_init(struct rb_resp *r, int req_head);

/*
 * Feeds buf[0..len). While in RB_R_HEAD, buf must hold the whole head received so far from
 * its first byte; nothing is consumed until the head is complete. Afterwards buf holds only
 * new bytes. *used is set to the bytes consumed. Returns > 0 response complete (bytes after
 * *used belong to no request), 0 need more, RB_RESP_EPARSE.
 */
int rb_resp_feed(struct rb_resp *r, const char *buf, size_t len, size_t *used);

/* The connection ended: 1 if that completes the response (close-delimited), else RB_RESP_E*. */
int rb_resp_eof(struct rb_resp *r);

/* Parses "10", "10s", "250ms", "500us", "2m", "1h" into ns; -1 on error. */
int64_t rb_parse_duration(const char *s);

#endif
