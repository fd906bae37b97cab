/*
 * libFuzzer target for core/http/msg.c: parse a head, rebuild it as the proxy would, and
 * parse the result again. Input: byte 0 picks request / response and the options (upgrade,
 * xff, TLS, HEAD request, HTTP/1.0 client, keep-alive, de-chunk, extra line); the rest is the
 * head. The rebuilt head must parse, whole, to the same start line, the same kept fields in
 * the same order (byte-exact names and values) and the same framing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/http/h1.h"
#include "core/http/msg.h"

#define FAIL()	__builtin_trap()

static struct h1_msg m1, m2;
static char out[H1_MAX_REQLINE + H1_MAX_FIELDS_LEN + 4096];

static int
same(const char *a, struct h1_span sa, const char *b, struct h1_span sb)
{
	return sa.len == sb.len && memcmp(a + sa.off, b + sb.off, sa.len) == 0;
}

static int
named(const char *buf, const struct h1_header *h, const char *name)
{
	return msg_hdr_is(buf, h, name, strlen(name));
}

/* A field the builder writes itself (not copied from the original head). */
static int
generated(const char *b, const struct h1_header *h, int resp, int xff)
{
	if (h->id == H1_H_CONNECTION || (h->flags & H1_HF_FRAMING))
		return 1;
	if (resp)
		return named(b, h, "Set-Cookie");
	return (xff && (named(b, h, "X-Forwarded-For") || named(b, h, "X-Forwarded-Proto"))) ||
	    (h->id == H1_H_HOST && m1.target_form == H1_TF_ABSOLUTE);
}

/* The original field h goes out unchanged. */
static int
kept(const char *a, const struct h1_header *h, int resp, int pass_upgrade, int xff)
{
	if (h->flags & H1_HF_HOP)
		return 0;
	if ((h->flags & H1_HF_UPGRADE) && !pass_upgrade)
		return 0;
	if (h->flags & H1_HF_FRAMING)
		return 0;	/* checked through the framing */
	return !generated(a, h, resp, xff);
}

static void
check_fields(const char *a, const char *b, int resp, int pass_upgrade, int xff)
{
	unsigned j = 0;

	for (unsigned i = 0; i < m1.nhdr; i++) {
		const struct h1_header *h = &m1.hdr[i];

		if (!kept(a, h, resp, pass_upgrade, xff))
			continue;
		while (j < m2.nhdr && generated(b, &m2.hdr[j], resp, xff))
			j++;
		if (j >= m2.nhdr || !same(a, h->name, b, m2.hdr[j].name) ||
		    !same(a, h->value, b, m2.hdr[j].value))
			FAIL();
		j++;
	}
	while (j < m2.nhdr && generated(b, &m2.hdr[j], resp, xff))
		j++;
	if (j != m2.nhdr)
		FAIL();		/* a field out of nowhere */
}

static void
fuzz_request(const char *a, uint8_t opt)
{
	int upgrade = (opt & 1) && (m1.flags & H1_MF_UPGRADE) && (m1.flags & H1_MF_CONN_UPGRADE);
	struct msg_req_opts o = { .upgrade = upgrade, .xff = (opt & 2) != 0, .tls = (opt & 4) != 0,
		.peer = "[2001:db8::1]:65535", .peer_len = 19 };
	struct msg_req_info info;
	size_t n;

	if (m1.method == H1_M_CONNECT)
		return;		/* answered 501 by the proxy, never rebuilt */
	if (msg_request_cap(&m1) > sizeof(out))
		FAIL();
	n = msg_build_request(out, &m1, a, &o, &info);
	if (n > msg_request_cap(&m1))
		FAIL();
	h1_msg_init(&m2, 0);
	if (h1_parse_head(&m2, out, n) != (int)n)
		FAIL();
	if (!same(a, m1.method_s, out, m2.method_s) || !same(a, m1.target, out, m2.target) ||
	    !same(a, m1.version, out, m2.version) || m1.target_form != m2.target_form)
		FAIL();
	if (info.reqline_len != m2.version.off + m2.version.len)
		FAIL();
	if (h1_body_framing(&m1, 0, 0, 0) != h1_body_framing(&m2, 0, 0, 0) ||
	    ((m1.flags & H1_MF_HAS_CL) && m1.content_length != m2.content_length))
		FAIL();
	if ((m1.host_idx >= 0) != (m2.host_idx >= 0))
		FAIL();
	if (m2.host_idx >= 0 && (info.host_off != m2.hdr[m2.host_idx].value.off ||
				 info.host_len != m2.hdr[m2.host_idx].value.len))
		FAIL();
	if (upgrade && !(m2.flags & H1_MF_CONN_UPGRADE))
		FAIL();
	check_fields(a, out, 0, upgrade, o.xff);
}

static void
fuzz_response(const char *a, uint8_t opt)
{
	unsigned st = m1.status;
	int tunnel = st == 101 && (opt & 1), interim = msg_status_interim(st);
	struct msg_resp_opts o = { .tunnel = tunnel, .head_req = (opt & 2) != 0,
		.ver10 = (opt & 4) != 0, .cli_ka = (opt & 8) != 0 };
	bool auth = false;
	size_t n;

	if (st == 101 && !tunnel)
		return;		/* a 101 without an upgrade request is a 502, never rebuilt */
	o.fr = interim || tunnel ? H1_BODY_NONE : h1_body_framing(&m1, 1, o.head_req, st);
	o.dechunk = o.fr == H1_BODY_CHUNKED && o.ver10;
	if (opt & 16) {
		o.extra = "Set-Cookie: MS-WSMAN=0123456789abcdef; Path=/\r\n";
		o.extra_len = strlen(o.extra);
	}
	n = msg_build_response(out, &m1, a, m1.head_len, &o, &auth);
	if (n > msg_response_cap(m1.head_len))
		FAIL();
	h1_msg_init(&m2, 1);
	if (h1_parse_head(&m2, out, n) != (int)n)
		FAIL();
	if (m2.status != st || !same(a, m1.version, out, m2.version) ||
	    !same(a, m1.reason, out, m2.reason))
		FAIL();
	/* a body the client reads the same way the proxy relays it */
	if (!interim && !tunnel && !o.dechunk &&
	    h1_body_framing(&m2, 1, o.head_req, st) != o.fr)
		FAIL();
	if (o.fr == H1_BODY_LENGTH && m2.content_length != m1.content_length)
		FAIL();
	if (o.dechunk && (m2.flags & H1_MF_HAS_TE))
		FAIL();
	check_fields(a, out, 1, tunnel, 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *a;
	int rc;

	if (size < 2 || size > H1_MAX_REQLINE + H1_MAX_FIELDS_LEN + 1)
		return 0;
	a = malloc(size - 1);
	memcpy(a, data + 1, size - 1);
	h1_msg_init(&m1, data[0] & 0x80 ? 1 : 0);
	rc = h1_parse_head(&m1, a, size - 1);
	/*
	 * The rebuilt head may add up to 4 field lines and 256 bytes (Connection, framing,
	 * X-Forwarded-*, Set-Cookie): one at our own parser's limits would not parse again,
	 * which is the next hop's business (its limits are its own), not a rewriting error.
	 */
	if (rc > 0 && m1.nhdr <= H1_MAX_FIELDS - 4 &&
	    m1.head_len - m1.fields_start + 512 <= H1_MAX_FIELDS_LEN) {
		if (data[0] & 0x80)
			fuzz_response(a, data[0]);
		else
			fuzz_request(a, data[0]);
	}
	free(a);
	return 0;
}
