/*
 * libFuzzer target for bench/rb_http.c, ringbench's own client-side parsers: the resumable
 * response parser, the URL parser (and the request built from it) and the duration parser.
 * Input: byte 0 bit 0 = the request was HEAD; byte 1 seeds how the rest is cut into recv()-like
 * pieces (top bit set: one byte at a time; else 0..(byte&0x7f)+1 bytes, empty pieces included);
 * the rest is the response, and, as a NUL-terminated copy, also a URL and a duration.
 *
 * The response is fed three ways, each with ringbench's buffer discipline (bench/ringbench.c
 * conn_feed: unconsumed bytes stay at the front, new bytes are appended; so while in RB_R_HEAD
 * the buffer holds the head received so far, afterwards only new bytes), every feed from a fresh
 * heap buffer of exactly the bytes held so that ASan sees any over-read: whole, in the seeded
 * pieces and one byte at a time. The three must agree on result, status, keep-alive, body bytes,
 * where the response ended and what rb_resp_eof() says. The one-byte run also checks the framing
 * chosen by each final head against its Content-Length field.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bench/rb_http.h"

#define FAIL()	__builtin_trap()

struct outcome {
	int		ret;		/* last rb_resp_feed() result, or rb_resp_eof()'s */
	int		status;
	int		keepalive;
	uint64_t	body;
	size_t		consumed;	/* total bytes taken by the parser */
};

/* Next piece length from the seed (a small LCG over 7 bits, as fuzz_h1). */
static size_t
piece(uint8_t *seed, uint8_t max, size_t left)
{
	size_t n;

	if (max == 0)
		return 1;
	*seed = (uint8_t)((*seed * 37 + 11) & 0x7f);
	n = *seed % ((size_t)max + 2);
	return n < left ? n : left;
}

/* The value of the first "Content-Length:" line of head[0..len), as parse_head() reads it; -1. */
static int64_t
find_cl(const char *h, size_t len)
{
	const char *p = memchr(h, '\n', len), *end = h + len, *eol, *v;
	int64_t x;

	for (p = p ? p + 1 : end; p < end; p = eol + 1) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL || eol - p <= 1)
			return -1;
		if (eol - p < 15 || strncasecmp(p, "Content-Length:", 15) != 0)
			continue;
		for (v = p + 15; *v == ' ' || *v == '\t'; v++)
			;
		for (x = 0; *v >= '0' && *v <= '9'; v++)
			x = x * 10 + (*v - '0');
		return x;
	}
	return -1;
}

/* After any feed: what the rb_resp_feed() contract promises. */
static void
check_feed(const struct rb_resp *r, int ret, size_t len, size_t used)
{
	if (ret < RB_RESP_EPARSE || ret > 1 || used > len)
		FAIL();
	if (ret == 1 && (r->state != RB_R_DONE || r->status < 200 || r->status > 999))
		FAIL();
	if (ret == 0 && r->state == RB_R_DONE)
		FAIL();
	/* Past the head every new byte is taken (the caller keeps nothing). */
	if (ret == 0 && r->state != RB_R_HEAD && used != len)
		FAIL();
	if (ret >= 0 && r->state == RB_R_CLOSE && r->keepalive)
		FAIL();
	if (ret == 1 && (r->req_head || r->status == 204 || r->status == 304) && r->body_bytes)
		FAIL();
}

/* The head just completed in the one-byte run: its framing against its own fields. */
static void
check_head(const struct rb_resp *r, const char *head, size_t len, int req_head)
{
	int64_t cl = find_cl(head, len);
	int nobody = req_head || r->status == 204 || r->status == 304;

	if (len < 4 || memcmp(head + len - 4, "\r\n\r\n", 4) != 0 || r->body_bytes != 0)
		FAIL();
	if (r->state == RB_R_LEN && (nobody || cl <= 0 || (uint64_t)cl != r->remaining))
		FAIL();
	if (r->state == RB_R_DONE && !nobody && cl != 0)
		FAIL();
}

/*
 * Feeds msg[0..len) with ringbench's buffer discipline. mode 0: in one piece; 1: pieces from
 * seed/max; 2: one byte at a time (and check each final head).
 */
static struct outcome
run(const char *msg, size_t len, int req_head, int mode, uint8_t seed, uint8_t max)
{
	struct outcome o = { 0 };
	struct rb_resp r;
	char *keep = malloc(len + 1), *buf;
	size_t blen = 0, from = 0, n, used;
	int64_t cl = -1;
	enum rb_resp_state before;

	rb_resp_init(&r, req_head);
	do {
		n = mode == 0 ? len : mode == 2 ? 1 : piece(&seed, max, len - from);
		n = n < len - from ? n : len - from;
		memcpy(keep + blen, msg + from, n);
		blen += n;
		from += n;
		buf = malloc(blen ? blen : 1);
		memcpy(buf, keep, blen);
		before = r.state;
		o.ret = rb_resp_feed(&r, buf, blen, &used);
		check_feed(&r, o.ret, blen, used);
		if (o.ret >= 0 && mode == 2 && before == RB_R_HEAD && r.state != RB_R_HEAD) {
			if (used != blen)	/* one new byte: it ends the head */
				FAIL();
			check_head(&r, buf, blen, req_head);
			cl = r.state == RB_R_LEN ? (int64_t)r.remaining : -1;
		}
		free(buf);
		if (o.ret < 0)
			break;
		o.consumed += used;
		memmove(keep, keep + used, blen - used);
		blen -= used;
	} while (o.ret == 0 && from < len);
	if (o.ret > 0) {
		/* Complete is final: more bytes are not taken. */
		if (rb_resp_feed(&r, msg + o.consumed, len - o.consumed, &used) != 1 || used != 0)
			FAIL();
		if (cl >= 0 && r.body_bytes != (uint64_t)cl)
			FAIL();
	}
	if (o.ret == 0) {
		before = r.state;
		o.ret = rb_resp_eof(&r);
		if (o.ret == 1 && before != RB_R_CLOSE)
			FAIL();
		if (o.ret != 1 && o.ret != RB_RESP_ESHORT && o.ret != RB_RESP_EEMPTY)
			FAIL();
		if ((o.ret == RB_RESP_EEMPTY) != (len == 0))
			FAIL();
	}
	o.status = r.status;
	o.keepalive = r.keepalive;
	o.body = r.body_bytes;
	free(keep);
	return o;
}

static void
same(const struct outcome *a, const struct outcome *b)
{
	if (a->ret != b->ret || a->status != b->status || a->keepalive != b->keepalive
	    || a->body != b->body || (a->ret >= 0 && a->consumed != b->consumed))
		FAIL();
}

static int
has_ctl_or_space(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return 1;
	return 0;
}

static void
fuzz_url(const char *s)
{
	static struct rb_url u;
	char err[256], *req = NULL, xf[] = "X-Fuzz: 1", *hdr = xf;
	size_t reqlen, pl;
	long port;

	err[0] = '\0';
	if (rb_url_parse(&u, s, err, sizeof(err)) < 0) {
		if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL)
			FAIL();
		return;
	}
	if (memchr(u.host, '\0', sizeof(u.host)) == NULL || u.host[0] == '\0'
	    || memchr(u.port, '\0', sizeof(u.port)) == NULL
	    || memchr(u.authority, '\0', sizeof(u.authority)) == NULL
	    || memchr(u.path, '\0', sizeof(u.path)) == NULL)
		FAIL();
	if (u.tls != (strncasecmp(s, "https://", 8) == 0))
		FAIL();
	port = strtol(u.port, NULL, 10);
	if (port < 1 || port > 65535 || u.port[0] < '1' || u.port[0] > '9')
		FAIL();
	/* The request line and the Host header must stay one line each. */
	if (u.path[0] != '/' || has_ctl_or_space(u.path) || has_ctl_or_space(u.authority))
		FAIL();
	if (rb_req_build(&req, &reqlen, &u, "GET", &hdr, 1, NULL, 0, 1) < 0)
		return;
	pl = strlen(u.path);
	if (reqlen < 4 + pl + 11 || memcmp(req, "GET ", 4) != 0 || memcmp(req + 4, u.path, pl) != 0
	    || memcmp(req + 4 + pl, " HTTP/1.1\r\n", 11) != 0
	    || memcmp(req + reqlen - 4, "\r\n\r\n", 4) != 0)
		FAIL();
	free(req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome whole, cut, bytes;
	const char *msg;
	char *str;
	int req_head;
	int64_t d;

	if (size < 2)
		return 0;
	req_head = data[0] & 1;
	msg = (const char *)data + 2;
	size -= 2;

	whole = run(msg, size, req_head, 0, 0, 0);
	cut = run(msg, size, req_head, (data[1] & 0x80) ? 2 : 1, data[1], data[1] & 0x7f);
	bytes = run(msg, size, req_head, 2, 0, 0);
	same(&whole, &cut);
	same(&whole, &bytes);

	str = malloc(size + 1);
	memcpy(str, msg, size);
	str[size] = '\0';
	fuzz_url(str);
	d = rb_parse_duration(str);
	if (d < -1)
		FAIL();
	free(str);
	return 0;
}
