/* Renewal scheduling arithmetic (see renew.h). */
#include "core/acme/renew.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include <jansson.h>

time_t
renew_at(const struct acme_cert_info *ci, time_t ari_start, time_t ari_end, uint64_t rnd)
{
	time_t t;

	if (ari_end > ari_start)
		t = ari_start + (time_t)(rnd % (uint64_t)(ari_end - ari_start));
	else
		t = ci->not_after - (ci->not_after - ci->not_before) / 3;
	return t < ci->not_before ? ci->not_before : t;
}

uint64_t
renew_backoff_ms(unsigned failures, uint64_t min_ms, uint64_t max_ms)
{
	uint64_t d = min_ms;

	for (unsigned i = 1; i < failures && d < max_ms; i++)
		d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
	return d > max_ms ? max_ms : d;
}

int
renew_expiry(const struct acme_cert_info *ci, time_t now, int64_t *left)
{
	int64_t life = (int64_t)(ci->not_after - ci->not_before);
	int64_t l = (int64_t)(ci->not_after - now);
	int64_t crit = 3 * 86400, warn = 14 * 86400;

	if (left != NULL)
		*left = l;
	/* short-lived certificates (days, hours): scale the thresholds down with them */
	if (life / 10 < crit)
		crit = life / 10;
	if (life / 6 < warn)
		warn = life / 6;
	if (l <= crit)
		return RENEW_EXPIRY_CRIT;
	if (l <= warn)
		return RENEW_EXPIRY_WARN;
	return RENEW_EXPIRY_OK;
}

static int
digits(const char **sp, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*sp)[i]))
			return -EINVAL;
		v = v * 10 + ((*sp)[i] - '0');
	}
	*sp += n;
	*out = v;
	return 0;
}

int
renew_parse_time(const char *s, time_t *out)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;

	if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' ||
	    digits(&s, 2, &d) || (*s != 'T' && *s != 't') || !*s++ || digits(&s, 2, &h) ||
	    *s++ != ':' || digits(&s, 2, &mi) || *s++ != ':' || digits(&s, 2, &sec))
		return -EINVAL;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		while (isdigit((unsigned char)*s))
			s++;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '+' ? 1 : -1;
		if (digits(&s, 2, &oh) || *s++ != ':' || digits(&s, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = timegm(&tm) - sign * (oh * 3600 + om * 60);
	return 0;
}

int
renew_parse_ari(const char *json, size_t len, time_t *start, time_t *end)
{
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	const char *s = NULL, *e = NULL;
	int rc = -EINVAL;

	if (root == NULL)
		return -EINVAL;
	if (json_unpack(root, "{s:{s:s, s:s}}", "suggestedWindow", "start", &s, "end", &e) == 0 &&
	    renew_parse_time(s, start) == 0 && renew_parse_time(e, end) == 0 && *end > *start)
		rc = 0;
	json_decref(root);
	return rc;
}
