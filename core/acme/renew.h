/*
 * Renewal decisions for the ACME scheduler: pure functions of the certificate's dates, the
 * server's ACME Renewal Information (RFC 9773) and the clock. Any thread.
 */
#ifndef RINGEDGE_CORE_ACME_RENEW_H
#define RINGEDGE_CORE_ACME_RENEW_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/acme/acme-t.h"

enum renew_expiry {
	RENEW_EXPIRY_OK = 0,	/* more than a sixth of the lifetime (and 14 days) left */
	RENEW_EXPIRY_WARN,	/* renewal is late: warn in the log on every check */
	RENEW_EXPIRY_CRIT,	/* under 3 days (or a tenth of the lifetime) left, or expired */
};

/*
 * When to renew: inside the ARI window when the server gave one (ari_end > ari_start; the
 * point is start + rnd % (end - start), as RFC 9773 §4.2 asks, so instances spread out),
 * else when a third of the lifetime is left. Never earlier than not_before.
 */
time_t renew_at(const struct acme_cert_info *ci, time_t ari_start, time_t ari_end, uint64_t rnd);

/* Delay before the next attempt after `failures` (>= 1) failures in a row: min doubled per
 * failure, capped at max. */
uint64_t renew_backoff_ms(unsigned failures, uint64_t min_ms, uint64_t max_ms);

/* enum renew_expiry for the certificate at `now`; *left gets the seconds left (may be < 0). */
int renew_expiry(const struct acme_cert_info *ci, time_t now, int64_t *left);

/*
 * Parses a renewalInfo response {"suggestedWindow": {"start": RFC3339, "end": RFC3339}, ...}.
 * 0, or -EINVAL for anything else (including end <= start).
 */
int renew_parse_ari(const char *json, size_t len, time_t *start, time_t *end);

/* RFC 3339 date-time ("2025-01-02T03:04:05Z", fractional seconds and +hh:mm offsets
 * allowed) to time_t. 0 or -EINVAL. */
int renew_parse_time(const char *s, time_t *out);

#endif
