/*
 * core/proxy/alog_json.c: JSON string escaping (quotes, backslashes, every control byte, DEL,
 * valid and invalid UTF-8) and the fixed-key line.
 */
#include <stdlib.h>
#include <string.h>

#include "core/proxy/alog_json.h"
#include "test/unit/check.h"

static void
expect_esc(int line, const char *in, size_t n, const char *want)
{
	char out[256];
	size_t len = alog_json_escape(out, sizeof(out), in, n);

	check_total++;
	if (len != strlen(want) || memcmp(out, want, len) != 0) {
		check_failed++;
		fprintf(stderr, "%s:%d: escape: got \"%.*s\", want \"%s\"\n", __FILE__, line,
			(int)(len < sizeof(out) ? len : sizeof(out)), out, want);
	}
}

#define ESC(in, want) expect_esc(__LINE__, in, sizeof(in) - 1, want)

static void
test_escape(void)
{
	char out[8], in[1];

	ESC("plain /a?b=c", "plain /a?b=c");
	ESC("q\"b\\", "q\\\"b\\\\");
	ESC("\x01\x1f\x7f\n\t", "\\u0001\\u001f\\u007f\\u000a\\u0009");
	ESC("nul\0x", "nul\\u0000x");
	ESC("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	ESC("\xff\xfe", "\\u00ff\\u00fe");
	ESC("\xc0\xaf", "\\u00c0\\u00af");			/* overlong '/' */
	ESC("\xed\xa0\x80", "\\u00ed\\u00a0\\u0080");		/* surrogate */
	ESC("\xf4\x90\x80\x80", "\\u00f4\\u0090\\u0080\\u0080");	/* over U+10FFFF */
	ESC("\xe2\x82", "\\u00e2\\u0082");			/* truncated sequence */
	ESC("\xc3", "\\u00c3");
	/* every single byte: printable ASCII as itself, the rest escaped */
	for (int b = 0; b < 256; b++) {
		size_t n;

		in[0] = (char)b;
		n = alog_json_escape(out, sizeof(out), in, 1);
		CHECK((b >= 0x20 && b < 0x7f && b != '"' && b != '\\') ? n == 1 && out[0] == b :
		      n == 2 || n == 6);
	}
	/* a short buffer: the needed size comes back, no escape is split */
	CHECK(alog_json_escape(out, 3, "\x01", 1) == 6);
	CHECK(alog_json_escape(out, 0, "abc", 3) == 3);
}

static void
test_line(void)
{
	struct alog_fields f = {
		.time = "2026-12-03T11:00:00.123Z", .client_addr = "192.0.2.1",
		.client_port = 50000, .listener = "edge443",
		.host = { "meet.contoso.com", 16 }, .method = { "GET", 3 },
		.target = { "/meet/\"x\"", 9 }, .version = { "HTTP/1.1", 8 },
		.status = 200, .bytes_in = 120, .bytes_out = 4567, .request_ms = 12,
		.backend = "10.0.0.5:4443", .connect_ms = 1, .response_ms = 10,
		.termination = "ok", .tls_version = "TLSv1.3", .tls_cipher = "TLS_AES_128_GCM_SHA256",
		.tls_resumed = true, .ntlm_pinned = true,
	};
	static const char want[] = "{\"time\":\"2026-12-03T11:00:00.123Z\",\"client_addr\":"
		"\"192.0.2.1\",\"client_port\":50000,\"listener\":\"edge443\",\"host\":"
		"\"meet.contoso.com\",\"method\":\"GET\",\"target\":\"/meet/\\\"x\\\"\","
		"\"version\":\"HTTP/1.1\",\"user_agent\":null,\"status\":200,\"bytes_in\":120,"
		"\"bytes_out\":4567,\"request_ms\":12,\"backend\":\"10.0.0.5:4443\","
		"\"backend_connect_ms\":1,\"backend_response_ms\":10,\"termination\":\"ok\","
		"\"tls_version\":\"TLSv1.3\",\"tls_cipher\":\"TLS_AES_128_GCM_SHA256\","
		"\"tls_resumed\":true,\"ntlm_pinned\":true,\"user\":null,\"queue_ms\":0,\"retries\":0}\n";
	char out[1024];
	size_t n = alog_json_line(out, sizeof(out), &f);

	CHECK(n == sizeof(want) - 1 && memcmp(out, want, n) == 0);
	if (n != sizeof(want) - 1 || memcmp(out, want, n) != 0)
		fprintf(stderr, "got  %.*swant %s", (int)n, out, want);
	/* too small: 0, for every size below the line's */
	for (size_t cap = 0; cap < sizeof(want) - 1; cap += 7)
		CHECK(alog_json_line(out, cap, &f) == 0);
	f.connect_ms = f.response_ms = -1;
	f.backend = NULL;
	n = alog_json_line(out, sizeof(out), &f);
	out[n] = '\0';
	CHECK(strstr(out, "\"backend\":null,\"backend_connect_ms\":null,"
			  "\"backend_response_ms\":null") != NULL);
}

int
main(void)
{
	test_escape();
	test_line();
	return check_done();
}
