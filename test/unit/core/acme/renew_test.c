/* core/acme/renew.c: renewal time, backoff, expiry levels, RFC 3339 and ARI parsing. */
#include <errno.h>

#include "../../check.h"
#include "core/acme/renew.h"

static void
test_renew_at(void)
{
	struct acme_cert_info ci = { .not_before = 1000000, .not_after = 1000000 + 90 * 86400 };

	/* a third of 90 days left: day 60 */
	CHECK(renew_at(&ci, 0, 0, 12345) == 1000000 + 60 * 86400);
	/* ARI window: start + rnd % width */
	CHECK(renew_at(&ci, 2000000, 2000100, 250) == 2000050);
	CHECK(renew_at(&ci, 2000000, 2000100, 99) == 2000099);
	/* a window in the past (revoked: renew now) is clamped to not_before at the earliest */
	CHECK(renew_at(&ci, 10, 20, 5) == 1000000);
	/* a degenerate window is ignored */
	CHECK(renew_at(&ci, 2000000, 2000000, 5) == 1000000 + 60 * 86400);
}

static void
test_backoff(void)
{
	CHECK(renew_backoff_ms(1, 60000, 86400000) == 60000);
	CHECK(renew_backoff_ms(2, 60000, 86400000) == 120000);
	CHECK(renew_backoff_ms(5, 60000, 86400000) == 960000);
	CHECK(renew_backoff_ms(30, 60000, 86400000) == 86400000);
	CHECK(renew_backoff_ms(1000000, 60000, 86400000) == 86400000);
	CHECK(renew_backoff_ms(3, 1000, 3000) == 3000);
}

static void
test_expiry(void)
{
	struct acme_cert_info ci = { .not_before = 0, .not_after = 90 * 86400 };
	int64_t left;

	CHECK(renew_expiry(&ci, 10 * 86400, &left) == RENEW_EXPIRY_OK && left == 80 * 86400);
	CHECK(renew_expiry(&ci, 77 * 86400, &left) == RENEW_EXPIRY_WARN);	/* 13 days */
	CHECK(renew_expiry(&ci, 88 * 86400, &left) == RENEW_EXPIRY_CRIT);	/* 2 days */
	CHECK(renew_expiry(&ci, 91 * 86400, &left) == RENEW_EXPIRY_CRIT && left < 0);
	/* a 12 s certificate: thresholds scale down (2 s warn, 1 s crit) */
	ci.not_after = 12;
	CHECK(renew_expiry(&ci, 5, &left) == RENEW_EXPIRY_OK);
	CHECK(renew_expiry(&ci, 10, &left) == RENEW_EXPIRY_WARN);
	CHECK(renew_expiry(&ci, 11, &left) == RENEW_EXPIRY_CRIT);
}

static void
test_time(void)
{
	time_t t;

	CHECK(renew_parse_time("1970-01-01T00:00:00Z", &t) == 0 && t == 0);
	CHECK(renew_parse_time("2025-01-02T03:04:05Z", &t) == 0 && t == 1735787045);
	CHECK(renew_parse_time("2025-01-02T03:04:05.123456Z", &t) == 0 && t == 1735787045);
	CHECK(renew_parse_time("2025-01-02T05:04:05+02:00", &t) == 0 && t == 1735787045);
	CHECK(renew_parse_time("2025-01-02t03:04:05z", &t) == 0 && t == 1735787045);
	CHECK(renew_parse_time("2025-01-02T03:04:05", &t) == -EINVAL);	/* no zone */
	CHECK(renew_parse_time("2025-13-02T03:04:05Z", &t) == -EINVAL);
	CHECK(renew_parse_time("2025-01-02 03:04:05Z", &t) == -EINVAL);
	CHECK(renew_parse_time("2025-01-02T03:04:05.Z", &t) == -EINVAL);
	CHECK(renew_parse_time("2025-01-02T03:04:05Zx", &t) == -EINVAL);
	CHECK(renew_parse_time("", &t) == -EINVAL);
}

static void
test_ari(void)
{
	const char *ok = "{\"suggestedWindow\":{\"start\":\"2025-01-02T03:04:05Z\","
			 "\"end\":\"2025-01-03T03:04:05Z\"},\"explanationURL\":\"https://x\"}";
	time_t s, e;

	CHECK(renew_parse_ari(ok, strlen(ok), &s, &e) == 0);
	CHECK(s == 1735787045 && e == 1735787045 + 86400);
	CHECK(renew_parse_ari("{}", 2, &s, &e) == -EINVAL);
	CHECK(renew_parse_ari("[1]", 3, &s, &e) == -EINVAL);
	CHECK(renew_parse_ari("{\"suggestedWindow\":{\"start\":\"2025-01-03T03:04:05Z\","
			      "\"end\":\"2025-01-02T03:04:05Z\"}}", 83, &s, &e) == -EINVAL);
	CHECK(renew_parse_ari("{\"suggestedWindow\":{\"start\":1,\"end\":2}}", 41, &s, &e) ==
	      -EINVAL);
	CHECK(renew_parse_ari("{\"suggestedWindow\"", 18, &s, &e) == -EINVAL);
}

int
main(void)
{
	test_renew_at();
	test_backoff();
	test_expiry();
	test_time();
	test_ari();
	return check_done();
}
