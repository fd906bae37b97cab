/* core/guard/answer.c: the local answers, parsed back with the project's own HTTP/1 parser
 * rules in mind (status line, one WWW-Authenticate per challenge, exact Content-Length). */
#include <stdlib.h>

#include "../../check.h"
#include "core/guard/answer.h"

static size_t
content_length(const char *a)
{
	const char *p = strstr(a, "\r\nContent-Length: ");

	return p ? (size_t)strtoul(p + 18, NULL, 10) : (size_t)-1;
}

static size_t
body_len(const char *a, size_t n)
{
	const char *p = strstr(a, "\r\n\r\n");

	return p ? n - (size_t)(p + 4 - a) : (size_t)-1;
}

int
main(void)
{
	char buf[GUARD_ANSWER_MAX], realm[64];
	const char *ch[3];
	const char *const bad[] = { "NTLM", "", "Evil\r\nSet-Cookie: x", "Negotiate" };
	size_t n;
	int k;

	k = guard_challenges(CFG_AUTH_ANY, "lync", ch, realm, sizeof(realm));
	CHECK(k == 3);
	n = guard_answer(GUARD_ANSWER_401, ch, k, false, false, buf, sizeof(buf));
	CHECK(n > 0 && n < sizeof(buf));
	CHECK(strncmp(buf, "HTTP/1.1 401 Unauthorized\r\n", 27) == 0);
	CHECK(strstr(buf, "\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\n"
			  "WWW-Authenticate: Basic realm=\"lync\"\r\n") != NULL);
	CHECK(content_length(buf) == body_len(buf, n));
	CHECK(strstr(buf, "Connection: close") == NULL);
	/* HEAD: the same head (the GET's Content-Length), no body */
	{
		char get[GUARD_ANSWER_MAX];
		size_t gn = n, hn;

		memcpy(get, buf, gn);
		hn = guard_answer(GUARD_ANSWER_401, ch, k, false, true, buf, sizeof(buf));
		CHECK(hn > 0 && body_len(buf, hn) == 0);
		CHECK(hn == gn - body_len(get, gn) && memcmp(buf, get, hn) == 0);
		CHECK(content_length(buf) == content_length(get) && content_length(buf) > 0);
	}

	k = guard_challenges(CFG_AUTH_NTLM, NULL, ch, realm, sizeof(realm));
	CHECK(k == 1 && strcmp(ch[0], "NTLM") == 0);
	CHECK(guard_challenges(0, NULL, ch, realm, sizeof(realm)) == 0);

	/* challenges with control characters or empty are dropped */
	n = guard_answer(GUARD_ANSWER_401, bad, 4, true, false, buf, sizeof(buf));
	CHECK(n > 0 && strstr(buf, "Evil") == NULL && strstr(buf, "Set-Cookie") == NULL);
	CHECK(strstr(buf, "WWW-Authenticate: NTLM\r\nWWW-Authenticate: Negotiate\r\n") != NULL);
	CHECK(strstr(buf, "\r\nConnection: close\r\n") != NULL);

	n = guard_answer(guard_answer_kind_of(CRED_OAUTH), NULL, 0, false, false, buf,
			 sizeof(buf));
	CHECK(strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
	CHECK(strstr(buf, "WWW-Authenticate") == NULL);
	CHECK(strcmp(buf + n - 25, "{\"error\":\"invalid_grant\"}") == 0);
	CHECK(content_length(buf) == body_len(buf, n));

	n = guard_answer(guard_answer_kind_of(CRED_WEBTICKET), ch, 1, false, false, buf,
			 sizeof(buf));
	CHECK(strncmp(buf, "HTTP/1.1 500 Internal Server Error\r\n", 36) == 0);
	CHECK(strstr(buf, "No valid security token.") != NULL);
	CHECK(strstr(buf, "WWW-Authenticate") == NULL);
	CHECK(content_length(buf) == body_len(buf, n));

	CHECK(guard_answer_kind_of(CRED_NTLM) == GUARD_ANSWER_401);
	CHECK(guard_answer_kind_of(CRED_BASIC) == GUARD_ANSWER_401);

	n = guard_answer(GUARD_ANSWER_413, NULL, 0, false, false, buf, sizeof(buf));
	CHECK(strncmp(buf, "HTTP/1.1 413 ", 13) == 0 && strstr(buf, "Connection: close") != NULL);
	CHECK(content_length(buf) == body_len(buf, n));

	/* too small a buffer: 0, never a partial answer */
	for (size_t cap = 0; cap < 64; cap++)
		CHECK(guard_answer(GUARD_ANSWER_401, ch, 1, false, false, buf, cap) == 0);
	CHECK(guard_answer((enum guard_answer_kind)99, NULL, 0, false, false, buf, sizeof(buf)) == 0);
	return check_done();
}
