/*
 * ringbench's response parser (bench/rb_http.c): framing by Content-Length, chunked
 * (extensions, trailers), close; 1xx before the final response; HEAD/204/304 without a body;
 * malformed heads and chunk framing; short bodies at EOF. Every response is also fed split at
 * every byte and one byte at a time, the way ringbench feeds it (the head re-fed from its first
 * byte until complete, then only new bytes).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/rb_http.h"
#include "test/unit/check.h"

struct outcome {
	int		ret;		/* last rb_resp_feed() result, or rb_resp_eof()'s */
	int		status;
	int		keepalive;
	uint64_t	body;
	size_t		left;		/* bytes not consumed after completion */
};

/*
 * Feeds msg[0..len) cut at the offsets in cuts[0..ncuts) (ascending), with ringbench's buffer
 * discipline: unconsumed bytes stay at the front of the buffer and new bytes are appended.
 * Stops at the first result != 0. If eof, signals the end of the connection when the bytes
 * ran out without a complete response.
 */
static struct outcome
run(const char *msg, size_t len, const size_t *cuts, size_t ncuts, int req_head, int eof)
{
	struct outcome o = { 0 };
	struct rb_resp r;
	char *buf = malloc(len + 1);
	size_t blen = 0, from = 0, to, used, i;

	rb_resp_init(&r, req_head);
	for (i = 0; i <= ncuts; i++) {
		to = i < ncuts ? cuts[i] : len;
		memcpy(buf + blen, msg + from, to - from);
		blen += to - from;
		from = to;
		o.ret = rb_resp_feed(&r, buf, blen, &used);
		if (o.ret < 0)
			break;
		if (used > blen) {	/* would be a parser bug: fail loudly */
			o.ret = -100;
			break;
		}
		memmove(buf, buf + used, blen - used);
		blen -= used;
		if (o.ret > 0) {
			/* Bytes still to come belong to no request either. */
			o.left = blen + (len - from);
			break;
		}
	}
	if (o.ret == 0 && eof)
		o.ret = rb_resp_eof(&r);
	o.status = r.status;
	o.keepalive = r.keepalive;
	o.body = r.body_bytes;
	free(buf);
	return o;
}

static struct outcome
whole(const char *msg, int req_head, int eof)
{
	return run(msg, strlen(msg), NULL, 0, req_head, eof);
}

static int
same(struct outcome a, struct outcome b)
{
	return a.ret == b.ret && a.status == b.status && a.keepalive == b.keepalive &&
	    a.body == b.body && a.left == b.left;
}

/*
 * The outcome of feeding msg whole must equal the outcome of every two-piece split and of one
 * byte at a time. Returns the number of mismatching feeds (0 on success).
 */
static int
splits_agree(const char *msg, int req_head, int eof)
{
	size_t len = strlen(msg), i, *cuts;
	struct outcome ref = whole(msg, req_head, eof), o;
	int bad = 0;

	for (i = 1; i < len; i++) {
		o = run(msg, len, &i, 1, req_head, eof);
		if (!same(o, ref)) {
			fprintf(stderr, "split at %zu: ret %d (want %d) body %llu (want %llu)\n",
			    i, o.ret, ref.ret, (unsigned long long)o.body,
			    (unsigned long long)ref.body);
			bad++;
		}
	}
	cuts = malloc(len * sizeof(*cuts));
	for (i = 1; i < len; i++)
		cuts[i - 1] = i;
	o = run(msg, len, cuts, len ? len - 1 : 0, req_head, eof);
	free(cuts);
	if (!same(o, ref)) {
		fprintf(stderr, "byte at a time: ret %d (want %d)\n", o.ret, ref.ret);
		bad++;
	}
	return bad;
}

static void
test_content_length(void)
{
	const char *m = "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 10\r\n\r\n0123456789";
	struct outcome o = whole(m, 0, 0);

	CHECK(o.ret == 1);
	CHECK(o.status == 200);
	CHECK(o.keepalive == 1);
	CHECK(o.body == 10);
	CHECK(o.left == 0);
	CHECK(splits_agree(m, 0, 0) == 0);

	/* Incomplete: need more, then short at EOF. */
	o = whole("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234", 0, 0);
	CHECK(o.ret == 0);
	CHECK(o.body == 5);

	/* Zero length completes at the end of the head. */
	o = whole("HTTP/1.1 200 OK\r\ncontent-length:0\r\n\r\n", 0, 0);
	CHECK(o.ret == 1 && o.body == 0);

	/* Bytes after the body are not consumed: ringbench flags them. */
	o = whole("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabEXTRA", 0, 0);
	CHECK(o.ret == 1 && o.body == 2 && o.left == 5);

	/* Repeated identical Content-Length is fine; differing ones are not. */
	o = whole("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab", 0, 0);
	CHECK(o.ret == 1 && o.body == 2);
	o = whole("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc", 0, 0);
	CHECK(o.ret == RB_RESP_EPARSE);

	/* Connection: close on HTTP/1.1; HTTP/1.0 needs keep-alive to persist. */
	o = whole("HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 1\r\n\r\nx", 0, 0);
	CHECK(o.ret == 1 && o.keepalive == 0);
	o = whole("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", 0, 0);
	CHECK(o.ret == 1 && o.keepalive == 0);
	o = whole("HTTP/1.0 200 OK\r\nConnection: x, keep-alive\r\nContent-Length: 1\r\n\r\nx",
	    0, 0);
	CHECK(o.ret == 1 && o.keepalive == 1);

	/* A large length is framed without reading it all at once. */
	o = whole("HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\nabc", 0, 0);
	CHECK(o.ret == 0 && o.body == 3);
}

static void
test_chunked(void)
{
	const char *m = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n"
	    "1A;name=value;x=\"q;uoted\"\r\nabcdefghijklmnopqrstuvwxyz\r\n"
	    "3 ; ext\r\nxyz\r\n"
	    "0\r\n"
	    "Trailer-One: 1\r\nTrailer-Two: two\r\n"
	    "\r\n";
	struct outcome o = whole(m, 0, 0);

	CHECK(o.ret == 1);
	CHECK(o.status == 200);
	CHECK(o.keepalive == 1);
	CHECK(o.body == 5 + 26 + 3);
	CHECK(o.left == 0);
	CHECK(splits_agree(m, 0, 0) == 0);

	/* No trailers, upper-case hex, leading zeros. */
	m = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
	    "000A\r\n0123456789\r\n0\r\n\r\n";
	o = whole(m, 0, 0);
	CHECK(o.ret == 1 && o.body == 10);
	CHECK(splits_agree(m, 0, 0) == 0);

	/* Chunked wins over Content-Length (RFC 9112 6.3). */
	o = whole("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "2\r\nab\r\n0\r\n\r\n", 0, 0);
	CHECK(o.ret == 1 && o.body == 2);

	/* Bytes after the last chunk are left over. */
	o = whole("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nHTTP", 0, 0);
	CHECK(o.ret == 1 && o.body == 0 && o.left == 4);

	/* Not done until the final CRLF. */
	o = whole("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\r\n", 0, 0);
	CHECK(o.ret == 0);

	/* A coding other than a final chunked is close-delimited. */
	m = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nabcd";
	o = whole(m, 0, 1);
	CHECK(o.ret == 1 && o.body == 4 && o.keepalive == 0);
	/* "chunked" must be a whole token, not a suffix. */
	o = whole("HTTP/1.1 200 OK\r\nTransfer-Encoding: notchunked\r\n\r\n0\r\n\r\n", 0, 1);
	CHECK(o.ret == 1 && o.body == 5 && o.keepalive == 0);
}

static void
test_close_delimited(void)
{
	const char *m = "HTTP/1.1 200 OK\r\nServer: x\r\n\r\nall of this until the end";
	struct outcome o = whole(m, 0, 0);

	CHECK(o.ret == 0);		/* never complete before EOF */
	CHECK(o.body == 25);
	o = whole(m, 0, 1);
	CHECK(o.ret == 1);
	CHECK(o.keepalive == 0);
	CHECK(o.body == 25);
	CHECK(splits_agree(m, 0, 1) == 0);

	/* Empty close-delimited body. */
	o = whole("HTTP/1.0 200 OK\r\n\r\n", 0, 1);
	CHECK(o.ret == 1 && o.body == 0);
}

static void
test_interim(void)
{
	const char *m = "HTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
	    "HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc";
	struct outcome o = whole(m, 0, 0);

	CHECK(o.ret == 1);
	CHECK(o.status == 201);
	CHECK(o.body == 3);
	CHECK(o.left == 0);
	CHECK(splits_agree(m, 0, 0) == 0);

	/* An interim response alone is not the response. */
	o = whole("HTTP/1.1 100 Continue\r\n\r\n", 0, 0);
	CHECK(o.ret == 0);
	/* A 1xx's Connection: close does not stick to the final response. */
	o = whole("HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 0);
	CHECK(o.ret == 1 && o.status == 200 && o.keepalive == 1);
	/* 101 switches protocols: not something ringbench can measure. */
	o = whole("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", 0, 0);
	CHECK(o.ret == RB_RESP_EPARSE);
}

static void
test_no_body(void)
{
	const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
	const char *chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	struct outcome o;

	/* HEAD: the headers describe the GET body; none follows. */
	o = whole(head, 1, 0);
	CHECK(o.ret == 1 && o.body == 0 && o.keepalive == 1);
	CHECK(splits_agree(head, 1, 0) == 0);
	o = whole(chunked, 1, 0);
	CHECK(o.ret == 1 && o.body == 0);
	/* A body after a HEAD response is bytes after the response. */
	o = whole("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", 1, 0);
	CHECK(o.ret == 1 && o.left == 3);

	o = whole("HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n", 0, 0);
	CHECK(o.ret == 1 && o.status == 204 && o.body == 0);
	o = whole("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 0);
	CHECK(o.ret == 1 && o.status == 304 && o.body == 0);
	/* 204 without any framing header is complete, not close-delimited. */
	o = whole("HTTP/1.1 204 No Content\r\n\r\n", 0, 0);
	CHECK(o.ret == 1 && o.keepalive == 1);
}

static void
test_malformed(void)
{
	static const char *const heads[] = {
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.2 200 OK\r\n\r\n",
		"http/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 abc OK\r\n\r\n",
		"HTTP/1.1 099 Low\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
		"ICY 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx",
		"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBare: lf\nX: y\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nx\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;ext\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\rX",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\rX",
		("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "fffffffffffffffff\r\n"),
	};
	size_t i;
	struct outcome o;

	for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		o = whole(heads[i], 0, 0);
		if (o.ret != RB_RESP_EPARSE)
			fprintf(stderr, "malformed #%zu accepted (ret %d): %s\n", i, o.ret, heads[i]);
		CHECK(o.ret == RB_RESP_EPARSE);
		CHECK(splits_agree(heads[i], 0, 0) == 0);
	}

	/* Extensions and trailers are bounded. */
	{
		size_t n = 10000, hl;
		const char *h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;";
		char *m = malloc(strlen(h) + n + 1);

		hl = strlen(h);
		memcpy(m, h, hl);
		memset(m + hl, 'e', n);
		m[hl + n] = '\0';
		o = whole(m, 0, 0);
		CHECK(o.ret == RB_RESP_EPARSE);
		free(m);
	}
}

static void
test_short_body(void)
{
	struct outcome o;

	/* Content-Length not reached. */
	o = whole("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234", 0, 1);
	CHECK(o.ret == RB_RESP_ESHORT);
	CHECK(splits_agree("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234", 0, 1) == 0);
	/* Inside a chunk, between chunks, inside the trailers. */
	o = whole("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 0, 1);
	CHECK(o.ret == RB_RESP_ESHORT);
	o = whole("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", 0, 1);
	CHECK(o.ret == RB_RESP_ESHORT);
	o = whole("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\r\n", 0, 1);
	CHECK(o.ret == RB_RESP_ESHORT);
	/* Inside the head: some bytes arrived, so short rather than empty. */
	o = whole("HTTP/1.1 200 OK\r\nContent-Le", 0, 1);
	CHECK(o.ret == RB_RESP_ESHORT);
	/* After an interim response only. */
	o = whole("HTTP/1.1 100 Continue\r\n\r\n", 0, 1);
	CHECK(o.ret == RB_RESP_ESHORT);
	/* Nothing at all: the server closed before answering. */
	o = whole("", 0, 1);
	CHECK(o.ret == RB_RESP_EEMPTY);
	/* A complete response is not short. */
	o = whole("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 0, 1);
	CHECK(o.ret == 1);
}

static void
test_reuse(void)
{
	/* One rb_resp re-initialised per request, as ringbench does on a keep-alive connection. */
	const char *a = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
	const char *b = "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
	struct rb_resp r;
	size_t used;

	rb_resp_init(&r, 0);
	CHECK(rb_resp_feed(&r, a, strlen(a), &used) == 1 && used == strlen(a));
	CHECK(r.status == 200);
	rb_resp_init(&r, 0);
	CHECK(rb_resp_feed(&r, b, strlen(b), &used) == 1 && used == strlen(b));
	CHECK(r.status == 404 && r.body_bytes == 1);
	/* Feeding nothing: need more, no state change. */
	rb_resp_init(&r, 0);
	CHECK(rb_resp_feed(&r, a, 0, &used) == 0 && used == 0);
	CHECK(rb_resp_eof(&r) == RB_RESP_EEMPTY);
}

static void
test_url(void)
{
	struct rb_url u;
	char err[256];

	CHECK(rb_url_parse(&u, "http://127.0.0.1:8080/p?q=1#frag", err, sizeof(err)) == 0);
	CHECK_STR(u.host, "127.0.0.1");
	CHECK_STR(u.port, "8080");
	CHECK_STR(u.authority, "127.0.0.1:8080");
	CHECK_STR(u.path, "/p?q=1");
	CHECK(rb_url_parse(&u, "https://[::1]:/?x", err, sizeof(err)) == 0);
	CHECK(u.tls == 1);
	CHECK_STR(u.host, "::1");
	CHECK_STR(u.port, "443");
	CHECK_STR(u.authority, "[::1]");
	CHECK_STR(u.path, "/?x");
	CHECK(rb_url_parse(&u, "http://a b/", err, sizeof(err)) == -1);
	CHECK(strstr(err, "space or control character in host") != NULL);
	/* would inject a header line after Host: (found by fuzz_rb_http) */
	CHECK(rb_url_parse(&u, "http://a\r\nX-Injected: 1/", err, sizeof(err)) == -1);
	CHECK(rb_url_parse(&u, "http://a\x7f/", err, sizeof(err)) == -1);
	CHECK(rb_url_parse(&u, "http://a/b c", err, sizeof(err)) == -1);
	CHECK(strstr(err, "space or control character in path") != NULL);
	CHECK(rb_url_parse(&u, "ftp://a/", err, sizeof(err)) == -1);
}

static void
test_duration(void)
{
	CHECK(rb_parse_duration("10") == 10000000000LL);
	CHECK(rb_parse_duration("250ms") == 250000000LL);
	CHECK(rb_parse_duration("500us") == 500000LL);
	CHECK(rb_parse_duration("2m") == 120000000000LL);
	CHECK(rb_parse_duration("1h") == 3600000000000LL);
	CHECK(rb_parse_duration("1.5s") == 1500000000LL);
	CHECK(rb_parse_duration("") == -1);
	CHECK(rb_parse_duration("5x") == -1);
	CHECK(rb_parse_duration("-1s") == -1);
	CHECK(rb_parse_duration("inf") == -1);
	CHECK(rb_parse_duration("1e19") == -1);
	/* NaN passes "v < 0" and "v > 9e18"; its cast to int64_t was undefined (fuzz_rb_http) */
	CHECK(rb_parse_duration("nan") == -1);
	CHECK(rb_parse_duration("nanms") == -1);
}

int
main(void)
{
	test_content_length();
	test_chunked();
	test_close_delimited();
	test_interim();
	test_no_body();
	test_malformed();
	test_short_body();
	test_reuse();
	test_url();
	test_duration();
	return check_done();
}
