/*
 * ACME client (RFC 8555): the protocol steps of one issuance (HTTP, account, order,
 * challenges, finalize, download) and the renewalInfo query. The state-directory files and
 * the offline checks are in store.c, the scheduler thread in sched.c; see acme.h and
 * docs/acme.md.
 *
 * One issuance is a straight sequence of blocking HTTPS requests (libcurl, one easy handle
 * per issuance) with jansson for the JSON and wolfSSL for keys and signatures. Every failure
 * leaves one sentence in `err`; the scheduler logs it with the retry delay.
 */
#include "core/acme/acme.h"
#include "core/acme/acme-int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "config/config.h"
#include "core/acme/certgen.h"
#include "core/acme/jws.h"
#include "core/acme/renew.h"
#include "core/acme/responder.h"
#include "core/lib/log.h"

#define NONCE_RETRIES	16		/* badNonce: retry with the nonce from the error; a
					 * bounded loop, long enough for pebble rejecting
					 * half of all nonces */
#define URL_MAX		1024

struct http_resp {
	long		 status;
	char		*body;
	size_t		 len;
	char		 nonce[256];
	char		 location[URL_MAX];
	char		 ctype[128];
	long		 retry_after;		/* seconds, -1 = none */
};

struct run {
	const struct acme_cert_cfg *cfg;
	CURL		*curl;
	struct jws_key	 account;
	bool		 have_account;
	json_t		*dir;
	char		 kid[URL_MAX];
	char		 nonce[256];
	char		 thumb[64];
	char		*err;
	size_t		 errlen;
	/* published challenges, withdrawn at the end whatever happens */
	char		*tokens[64];
	int		 ntokens;
	char		*alpn_names[64];
	int		 nalpn;
};

static int
fail(struct run *r, const char *fmt, ...) RE_PRINTF(2, 3);

static int
fail(struct run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, r->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- HTTP ---- */

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct http_resp *h = arg;
	size_t len = size * n;
	char *b;

	if (h->len + len > ACME_BODY_MAX)
		return 0;	/* makes curl fail with CURLE_WRITE_ERROR */
	b = realloc(h->body, h->len + len + 1);
	if (b == NULL)
		return 0;
	memcpy(b + h->len, p, len);
	h->body = b;
	h->len += len;
	h->body[h->len] = '\0';
	return len;
}

/* Copies the value of header line "Name: value\r\n" when it is `name`. */
static bool
header_value(const char *line, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name), vl;
	const char *v;

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return false;
	v = line + nl + 1;
	vl = len - nl - 1;
	while (vl > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
	if (vl >= outlen)
		vl = outlen - 1;
	memcpy(out, v, vl);
	out[vl] = '\0';
	return true;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct http_resp *h = arg;
	size_t len = size * n;
	char ra[64];

	if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* a new response (after a 1xx or a redirect): forget the previous headers */
		h->nonce[0] = h->location[0] = h->ctype[0] = '\0';
		h->retry_after = -1;
		return len;
	}
	if (header_value(p, len, "Replay-Nonce", h->nonce, sizeof(h->nonce)) ||
	    header_value(p, len, "Location", h->location, sizeof(h->location)) ||
	    header_value(p, len, "Content-Type", h->ctype, sizeof(h->ctype)))
		return len;
	if (header_value(p, len, "Retry-After", ra, sizeof(ra))) {
		char *end;
		long v = strtol(ra, &end, 10);

		if (end != ra && *end == '\0' && v >= 0)
			h->retry_after = v;
		else {
			time_t t = curl_getdate(ra, NULL);

			h->retry_after = t > time(NULL) ? (long)(t - time(NULL)) : 0;
		}
	}
	return len;
}

static int
on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)arg, (void)a, (void)b, (void)c, (void)d;
	return atomic_load(&acme_stopping) ? 1 : 0;	/* non-zero aborts the transfer */
}

static void
resp_reset(struct http_resp *h)
{
	free(h->body);
	memset(h, 0, sizeof(*h));
	h->retry_after = -1;
}

/* method "GET", "HEAD" or "POST" (body = JWS JSON). 0 with h filled, or -1 with r->err. */
static int
http(struct run *r, const char *method, const char *url, const char *body, struct http_resp *h)
{
	struct curl_slist *hdrs = NULL;
	CURLcode cc;

	resp_reset(h);
	curl_easy_reset(r->curl);
	curl_easy_setopt(r->curl, CURLOPT_URL, url);
	curl_easy_setopt(r->curl, CURLOPT_USERAGENT, "ringedge/" RINGEDGE_VERSION " acme");
	curl_easy_setopt(r->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->curl, CURLOPT_TIMEOUT_MS, (long)r->cfg->timeout_ms);
	curl_easy_setopt(r->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)r->cfg->timeout_ms);
	curl_easy_setopt(r->curl, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(r->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(r->curl, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(r->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(r->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	if (r->cfg->ca != NULL)
		curl_easy_setopt(r->curl, CURLOPT_CAINFO, r->cfg->ca);
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(r->curl, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "POST") == 0) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/jose+json");
		curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, body);
	}
	hdrs = curl_slist_append(hdrs, "Accept-Language: en");
	curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, hdrs);
	cc = curl_easy_perform(r->curl);
	curl_slist_free_all(hdrs);
	if (cc != CURLE_OK)
		return fail(r, "%s %s: %s", method, url,
			    atomic_load(&acme_stopping) ? "aborted (stopping)" : curl_easy_strerror(cc));
	curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &h->status);
	return 0;
}

/* The problem document of an error response, compact, for the log. */
static const char *
problem_text(const struct http_resp *h, char *buf, size_t len)
{
	json_t *p = h->body ? json_loadb(h->body, h->len, 0, NULL) : NULL;
	char *s;

	if (p == NULL) {
		snprintf(buf, len, "HTTP %ld (no problem document)", h->status);
		return buf;
	}
	s = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
	snprintf(buf, len, "HTTP %ld %s", h->status, s ? s : "?");
	free(s);
	json_decref(p);
	return buf;
}

static bool
is_problem(const struct http_resp *h, const char *type)
{
	json_t *p = h->body ? json_loadb(h->body, h->len, 0, NULL) : NULL;
	const char *t = NULL;
	bool yes = false;

	if (p != NULL && json_unpack(p, "{s:s}", "type", &t) == 0)
		yes = strcmp(t, type) == 0;
	json_decref(p);
	return yes;
}

static const char *
dir_url(struct run *r, const char *name)
{
	json_t *v = json_object_get(r->dir, name);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int
get_directory(struct run *r)
{
	struct http_resp h = { 0 };
	int rc = -1;

	if (http(r, "GET", r->cfg->directory, NULL, &h) < 0)
		goto out;
	if (h.status != 200) {
		char p[512];

		fail(r, "directory %s: %s", r->cfg->directory, problem_text(&h, p, sizeof(p)));
		goto out;
	}
	r->dir = json_loadb(h.body ? h.body : "", h.len, 0, NULL);
	if (!json_is_object(r->dir) || !dir_url(r, "newNonce") || !dir_url(r, "newAccount") ||
	    !dir_url(r, "newOrder")) {
		fail(r, "directory %s: not an ACME directory (no newNonce/newAccount/newOrder)",
		     r->cfg->directory);
		goto out;
	}
	rc = 0;
out:
	resp_reset(&h);
	return rc;
}

static int
new_nonce(struct run *r)
{
	struct http_resp h = { 0 };
	int rc = -1;

	if (http(r, "HEAD", dir_url(r, "newNonce"), NULL, &h) < 0)
		goto out;
	if (h.nonce[0] == '\0') {
		fail(r, "newNonce %s: HTTP %ld without Replay-Nonce", dir_url(r, "newNonce"),
		     h.status);
		goto out;
	}
	memcpy(r->nonce, h.nonce, sizeof(r->nonce));
	rc = 0;
out:
	resp_reset(&h);
	return rc;
}

/*
 * Signed POST (payload NULL = POST-as-GET). kid: use the account URL (else the JWK). On
 * badNonce, retries with the nonce the error carried (RFC 8555 §6.5). 0 with h filled (any
 * status), or -1.
 */
static int
post(struct run *r, const char *url, const char *payload, bool use_kid, struct http_resp *h)
{
	for (int attempt = 0; attempt < NONCE_RETRIES; attempt++) {
		char *body;
		int rc;

		if (r->nonce[0] == '\0' && new_nonce(r) < 0)
			return -1;
		body = jws_sign(&r->account, url, r->nonce, use_kid ? r->kid : NULL, payload);
		r->nonce[0] = '\0';
		if (body == NULL)
			return fail(r, "cannot sign the request to %s", url);
		rc = http(r, "POST", url, body, h);
		free(body);
		if (rc < 0)
			return -1;
		if (h->nonce[0] != '\0')
			memcpy(r->nonce, h->nonce, sizeof(r->nonce));
		if (h->status == 400 && is_problem(h, "urn:ietf:params:acme:error:badNonce")) {
			log_info("acme[%s]: %s: badNonce, retrying with the fresh nonce", r->cfg->name,
				 url);
			continue;
		}
		return 0;
	}
	return fail(r, "%s: badNonce %d times in a row", url, NONCE_RETRIES);
}

static json_t *
body_json(const struct http_resp *h)
{
	return h->body ? json_loadb(h->body, h->len, 0, NULL) : NULL;
}

/* ---- account ---- */

static int
load_account_key(struct run *r)
{
	const struct acme_cert_cfg *c = r->cfg;
	char why[256];
	char *pem;
	size_t len;
	int rc;

	rc = jws_key_load(&r->account, c->account_key, why, sizeof(why));
	if (rc == 0) {
		r->have_account = true;
		return 0;
	}
	if (rc != -ENOENT)
		return fail(r, "account key %s: %s", c->account_key, why);
	if (jws_key_generate(&r->account, ACME_KEY_EC256, why, sizeof(why)) < 0)
		return fail(r, "account key: %s", why);
	r->have_account = true;
	if (jws_key_pem(&r->account, &pem, &len) < 0)
		return fail(r, "account key: cannot encode it as PEM");
	{
		char dir[4096], *slash;
		const char *base;

		snprintf(dir, sizeof(dir), "%s", c->account_key);
		slash = strrchr(dir, '/');
		if (slash == NULL) {
			base = c->account_key;
			strcpy(dir, ".");
		} else {
			*slash = '\0';
			base = slash + 1;
			if (dir[0] == '\0')
				strcpy(dir, "/");
		}
		rc = acme_write_atomic(dir, base, pem, len, 0600);
	}
	explicit_bzero(pem, len);
	free(pem);
	if (rc < 0)
		return fail(r, "account key %s: cannot write: %s", c->account_key, strerror(-rc));
	log_info("acme[%s]: created account key %s (ECDSA P-256)", c->name, c->account_key);
	return 0;
}

static int
new_account(struct run *r)
{
	struct http_resp h = { 0 };
	json_t *pl = json_pack("{s:b}", "termsOfServiceAgreed", 1), *acct = NULL;
	const char *status = NULL;
	char *payload = NULL, p[1024];
	int rc = -1;

	if (r->cfg->contact != NULL) {
		char mail[512];

		snprintf(mail, sizeof(mail), "mailto:%s", r->cfg->contact);
		json_object_set_new(pl, "contact", json_pack("[s]", mail));
	}
	payload = json_dumps(pl, JSON_COMPACT);
	if (post(r, dir_url(r, "newAccount"), payload, false, &h) < 0)
		goto out;
	if (h.status != 200 && h.status != 201) {
		fail(r, "newAccount: %s", problem_text(&h, p, sizeof(p)));
		goto out;
	}
	if (h.location[0] == '\0') {
		fail(r, "newAccount: HTTP %ld without Location (account URL)", h.status);
		goto out;
	}
	acct = body_json(&h);
	if (acct != NULL && json_unpack(acct, "{s:s}", "status", &status) == 0 &&
	    strcmp(status, "valid") != 0) {
		fail(r, "account %s is %s", h.location, status);
		goto out;
	}
	memcpy(r->kid, h.location, sizeof(r->kid));
	log_debug("acme[%s]: account %s (%s)", r->cfg->name, r->kid,
		  h.status == 201 ? "created" : "existing");
	rc = 0;
out:
	json_decref(acct);
	json_decref(pl);
	free(payload);
	resp_reset(&h);
	return rc;
}

/* ---- order ---- */

static void
nap(long seconds, long fallback_ms)
{
	long ms = seconds >= 0 ? seconds * 1000 : fallback_ms;
	struct timespec ts;

	if (ms > 10000)
		ms = 10000;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	if (!atomic_load(&acme_stopping))
		nanosleep(&ts, NULL);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * POST-as-GET url until its "status" leaves the pending/processing states (honouring
 * Retry-After). Returns the final object (caller decrefs) or NULL with r->err.
 */
static json_t *
poll_status(struct run *r, const char *what, const char *url)
{
	uint64_t deadline = now_ms() + r->cfg->poll_max_ms;
	long delay_ms = 500;

	for (;;) {
		struct http_resp h = { 0 };
		const char *st = NULL;
		long ra;
		json_t *o;

		if (post(r, url, NULL, true, &h) < 0)
			return NULL;
		if (h.status != 200) {
			char p[1024];

			fail(r, "%s %s: %s", what, url, problem_text(&h, p, sizeof(p)));
			resp_reset(&h);
			return NULL;
		}
		o = body_json(&h);
		ra = h.retry_after;
		resp_reset(&h);
		if (o == NULL || json_unpack(o, "{s:s}", "status", &st) < 0) {
			json_decref(o);
			fail(r, "%s %s: answer has no status", what, url);
			return NULL;
		}
		if (strcmp(st, "pending") != 0 && strcmp(st, "processing") != 0)
			return o;
		json_decref(o);
		if (now_ms() > deadline || atomic_load(&acme_stopping)) {
			fail(r, "%s %s: still %s after %llu ms", what, url, st,
			     (unsigned long long)r->cfg->poll_max_ms);
			return NULL;
		}
		nap(ra, delay_ms);
		if (delay_ms < 4000)
			delay_ms *= 2;
	}
}

static int
publish(struct run *r, const char *type, const char *name, const char *token,
	const char *keyauth)
{
	if (strcmp(type, "http-01") == 0) {
		if (responder_http_put(token, keyauth) < 0 || r->ntokens == 64)
			return fail(r, "cannot publish the http-01 token for %s", name);
		r->tokens[r->ntokens++] = strdup(token);
		return 0;
	} else {
		uint8_t *cert, *key;
		size_t cl, kl;
		int rc;

		if (certgen_alpn_cert(name, keyauth, &cert, &cl, &key, &kl) < 0)
			return fail(r, "cannot make the tls-alpn-01 certificate for %s", name);
		rc = responder_alpn_put(name, cert, cl, key, kl);
		explicit_bzero(key, kl);
		free(key);
		free(cert);
		if (rc < 0 || r->nalpn == 64)
			return fail(r, "cannot publish the tls-alpn-01 certificate for %s", name);
		r->alpn_names[r->nalpn++] = strdup(name);
		return 0;
	}
}

static void
withdraw(struct run *r)
{
	for (int i = 0; i < r->ntokens; i++) {
		if (r->tokens[i] != NULL)
			responder_http_del(r->tokens[i]);
		free(r->tokens[i]);
	}
	for (int i = 0; i < r->nalpn; i++) {
		if (r->alpn_names[i] != NULL)
			responder_alpn_del(r->alpn_names[i]);
		free(r->alpn_names[i]);
	}
	r->ntokens = r->nalpn = 0;
}

/* Picks the challenge of the authorization we can answer: http-01 first, then tls-alpn-01. */
static json_t *
pick_challenge(struct run *r, json_t *authz, const char **type)
{
	static const struct { unsigned bit; const char *name; } pref[] = {
		{ ACME_CHALL_HTTP01, "http-01" }, { ACME_CHALL_TLSALPN01, "tls-alpn-01" },
	};
	json_t *chs = json_object_get(authz, "challenges");

	for (size_t p = 0; p < RE_ARRAY_SIZE(pref); p++) {
		size_t i;
		json_t *ch;

		if (!(r->cfg->challenges & pref[p].bit))
			continue;
		json_array_foreach(chs, i, ch) {
			json_t *t = json_object_get(ch, "type");

			if (json_is_string(t) && strcmp(json_string_value(t), pref[p].name) == 0) {
				*type = pref[p].name;
				return ch;
			}
		}
	}
	return NULL;
}

/*
 * First half of an authorization: fetch it, publish the answer to the chosen challenge and
 * tell the server to validate. Returns 1 (validation started: poll it with authz_wait), 0
 * (already valid, e.g. reused) or -1. All challenges are started before any is polled, so the
 * server validates the names in parallel.
 */
static int
authz_start(struct run *r, const char *url)
{
	struct http_resp h = { 0 };
	json_t *authz = NULL, *ch;
	const char *status, *name = NULL, *type = NULL, *token, *curl_;
	char keyauth[512], p[1024];
	int rc = -1;

	if (post(r, url, NULL, true, &h) < 0)
		goto out;
	authz = body_json(&h);
	if (h.status != 200 || authz == NULL ||
	    json_unpack(authz, "{s:s, s:{s:s}}", "status", &status, "identifier", "value",
			&name) < 0) {
		fail(r, "authorization %s: %s", url, problem_text(&h, p, sizeof(p)));
		goto out;
	}
	if (strcmp(status, "valid") == 0) {
		rc = 0;		/* reused authorization */
		goto out;
	}
	if (strcmp(status, "pending") != 0) {
		fail(r, "authorization %s for %s is %s", url, name, status);
		goto out;
	}
	ch = pick_challenge(r, authz, &type);
	if (ch == NULL || json_unpack(ch, "{s:s, s:s}", "token", &token, "url", &curl_) < 0) {
		fail(r, "authorization for %s offers none of the configured challenge types", name);
		goto out;
	}
	snprintf(keyauth, sizeof(keyauth), "%s.%s", token, r->thumb);
	if (publish(r, type, name, token, keyauth) < 0)
		goto out;
	log_info("acme[%s]: %s challenge for %s published", r->cfg->name, type, name);
	/* respond: an empty JSON object says "ready, validate now" */
	if (post(r, curl_, "{}", true, &h) < 0)
		goto out;
	if (h.status != 200) {
		fail(r, "challenge %s for %s: %s", curl_, name, problem_text(&h, p, sizeof(p)));
		goto out;
	}
	rc = 1;
out:
	json_decref(authz);
	resp_reset(&h);
	return rc;
}

/* Second half: poll the authorization until valid (0) or anything else (-1, with the
 * challenge's error document in r->err). */
static int
authz_wait(struct run *r, const char *url)
{
	json_t *done;
	const char *status = NULL, *name = "?";
	int rc = -1;

	done = poll_status(r, "authorization", url);
	if (done == NULL)
		return -1;
	json_unpack(done, "{s:{s:s}}", "identifier", "value", &name);
	if (json_unpack(done, "{s:s}", "status", &status) < 0 || strcmp(status, "valid") != 0) {
		json_t *chs = json_object_get(done, "challenges"), *c, *e;
		char *es = NULL;
		size_t i;

		json_array_foreach(chs, i, c)
			if ((e = json_object_get(c, "error")) != NULL && es == NULL)
				es = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
		fail(r, "authorization for %s is %s: %s", name, status ? status : "?",
		     es ? es : "(no error document)");
		free(es);
		goto out;
	}
	rc = 0;
out:
	json_decref(done);
	return rc;
}

static int
save(struct run *r, struct jws_key *certkey, const char *chain, size_t chainlen)
{
	const struct acme_cert_cfg *c = r->cfg;
	char name[300], *pem;
	size_t len;
	int rc;

	if (jws_key_pem(certkey, &pem, &len) < 0)
		return fail(r, "cannot encode the certificate key");
	/* key first: NAME.crt is what the loader looks for, and it only moves once its key is
	 * in place (the loader checks the pair and keeps the old one on a mismatch) */
	snprintf(name, sizeof(name), "%s.key", c->name);
	rc = acme_write_atomic(c->state_dir, name, pem, len, 0600);
	explicit_bzero(pem, len);
	free(pem);
	if (rc < 0)
		return fail(r, "state directory %s: cannot write %s: %s", c->state_dir, name,
			    strerror(-rc));
	snprintf(name, sizeof(name), "%s.crt", c->name);
	rc = acme_write_atomic(c->state_dir, name, chain, chainlen, 0644);
	if (rc < 0)
		return fail(r, "state directory %s: cannot write %s: %s", c->state_dir, name,
			    strerror(-rc));
	return 0;
}

static int
do_order(struct run *r)
{
	const struct acme_cert_cfg *c = r->cfg;
	struct http_resp h = { 0 };
	json_t *ids = json_array(), *pl = NULL, *order = NULL, *fin = NULL, *auths;
	const char *status, *finalize, *certurl;
	char *payload = NULL, order_url[URL_MAX], p[2048];
	struct jws_key certkey = { 0 };
	uint8_t *csr = NULL;
	size_t csrlen, i;
	json_t *a;
	int rc = -1;

	for (int n = 0; n < c->nnames; n++)
		json_array_append_new(ids, json_pack("{s:s, s:s}", "type", "dns", "value",
						     c->names[n]));
	pl = json_pack("{s:O}", "identifiers", ids);
	payload = json_dumps(pl, JSON_COMPACT);
	if (post(r, dir_url(r, "newOrder"), payload, true, &h) < 0)
		goto out;
	if (h.status != 201) {
		fail(r, "newOrder: %s", problem_text(&h, p, sizeof(p)));
		goto out;
	}
	snprintf(order_url, sizeof(order_url), "%s", h.location);
	order = body_json(&h);
	if (order == NULL || json_unpack(order, "{s:s, s:o, s:s}", "status", &status,
					 "authorizations", &auths, "finalize", &finalize) < 0) {
		fail(r, "newOrder: answer is not an order: %.300s", h.body ? h.body : "");
		goto out;
	}
	log_info("acme[%s]: order %s for %d names (%s)", c->name, order_url, c->nnames, status);
	{
		bool started[256] = { false };

		json_array_foreach(auths, i, a) {
			int st;

			if (!json_is_string(a) || i >= RE_ARRAY_SIZE(started)) {
				fail(r, "order %s: bad authorization list", order_url);
				goto out;
			}
			if ((st = authz_start(r, json_string_value(a))) < 0)
				goto invalid;
			started[i] = st > 0;
		}
		json_array_foreach(auths, i, a)
			if (started[i] && authz_wait(r, json_string_value(a)) < 0)
				goto invalid;
	}

	/* all authorizations valid: the order becomes ready */
	fin = poll_status(r, "order", order_url);
	if (fin == NULL)
		goto out;
	json_unpack(fin, "{s:s}", "status", &status);
	if (strcmp(status, "ready") != 0) {
		char *doc = json_dumps(fin, JSON_COMPACT | JSON_SORT_KEYS);

		fail(r, "order %s is %s: %.1500s", order_url, status, doc ? doc : "");
		free(doc);
		goto out;
	}
	json_decref(fin);
	fin = NULL;

	/* finalize with a CSR for a fresh key */
	if (jws_key_generate(&certkey, c->key_type, p, sizeof(p)) < 0 ||
	    certgen_csr(&certkey, c->names, c->nnames, &csr, &csrlen) < 0) {
		fail(r, "cannot make the certificate key and CSR");
		goto out;
	}
	{
		char *b = malloc(csrlen * 4 / 3 + 4);
		json_t *f;

		if (b == NULL) {
			fail(r, "out of memory");
			goto out;
		}
		b64url_encode(csr, csrlen, b, csrlen * 4 / 3 + 4);
		f = json_pack("{s:s}", "csr", b);
		free(b);
		free(payload);
		payload = json_dumps(f, JSON_COMPACT);
		json_decref(f);
	}
	if (post(r, finalize, payload, true, &h) < 0)
		goto out;
	if (h.status != 200) {
		fail(r, "finalize %s: %s", finalize, problem_text(&h, p, sizeof(p)));
		goto out;
	}
	fin = poll_status(r, "order", order_url);
	if (fin == NULL)
		goto out;
	if (json_unpack(fin, "{s:s}", "status", &status) < 0 || strcmp(status, "valid") != 0 ||
	    json_unpack(fin, "{s:s}", "certificate", &certurl) < 0) {
		char *doc = json_dumps(fin, JSON_COMPACT | JSON_SORT_KEYS);

		fail(r, "order %s is %s after finalize: %.1500s", order_url, status, doc ? doc : "");
		free(doc);
		goto out;
	}

	/* download the chain (PEM) */
	if (post(r, certurl, NULL, true, &h) < 0)
		goto out;
	if (h.status != 200 || h.body == NULL || strstr(h.body, "-----BEGIN CERTIFICATE") == NULL) {
		fail(r, "certificate %s: %s", certurl, problem_text(&h, p, sizeof(p)));
		goto out;
	}
	if (save(r, &certkey, h.body, h.len) < 0)
		goto out;
	rc = 0;
	goto out;

invalid:
	/* an authorization failed: the order is (or will be) invalid; log the order's own
	 * problem document too when the server attached one */
	{
		char why[1024];
		struct http_resp oh = { 0 };
		json_t *o;

		snprintf(why, sizeof(why), "%s", r->err);
		if (post(r, order_url, NULL, true, &oh) == 0 && (o = body_json(&oh)) != NULL) {
			const char *st = "?";
			json_t *e = json_object_get(o, "error");
			char *es = e ? json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

			json_unpack(o, "{s:s}", "status", &st);
			fail(r, "order %s is %s: %s%s%s", order_url, st, why, es ? "; order error: " : "",
			     es ? es : "");
			free(es);
			json_decref(o);
		} else {
			fail(r, "order %s: %s", order_url, why);
		}
		resp_reset(&oh);
	}
out:
	jws_key_free(&certkey);
	free(csr);
	json_decref(fin);
	json_decref(order);
	json_decref(pl);
	json_decref(ids);
	free(payload);
	resp_reset(&h);
	return rc;
}

/* ---- entry points ---- */

static int
run_init(struct run *r, const struct acme_cert_cfg *cfg, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	r->err = err;
	r->errlen = errlen;
	err[0] = '\0';
	r->curl = curl_easy_init();
	if (r->curl == NULL)
		return fail(r, "cannot create a libcurl handle");
	return 0;
}

static void
run_free(struct run *r)
{
	withdraw(r);
	if (r->have_account)
		jws_key_free(&r->account);
	json_decref(r->dir);
	if (r->curl)
		curl_easy_cleanup(r->curl);
}

int
acme_issue(const struct acme_cert_cfg *cfg, char *err, size_t errlen)
{
	struct run r;
	char why[2048];
	int rc = -1, lockfd = -1;

	if (run_init(&r, cfg, err, errlen) < 0)
		goto out;
	if (acme_state_dir_ready(cfg->state_dir, why, sizeof(why)) < 0) {
		fail(&r, "%s", why);
		goto out;
	}
	lockfd = acme_take_lock(cfg, why, sizeof(why));
	if (lockfd < 0) {
		fail(&r, "%s", why);
		rc = lockfd == -EBUSY ? -EBUSY : -1;
		goto out;
	}
	if (load_account_key(&r) < 0 || get_directory(&r) < 0 || new_account(&r) < 0)
		goto out;
	if (jws_thumbprint(&r.account, r.thumb, sizeof(r.thumb)) < 0) {
		fail(&r, "cannot compute the account key thumbprint");
		goto out;
	}
	rc = do_order(&r);
out:
	run_free(&r);
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}

int
acme_renewal_info(const struct acme_cert_cfg *cfg, const struct acme_cert_info *ci,
		  time_t *start, time_t *end, char *err, size_t errlen)
{
	struct http_resp h = { 0 };
	char url[URL_MAX + 256];
	const char *base;
	struct run r;
	int rc = -1;

	if (run_init(&r, cfg, err, errlen) < 0)
		goto out;
	if (get_directory(&r) < 0)
		goto out;
	base = dir_url(&r, "renewalInfo");
	if (base == NULL || ci->ari_id[0] == '\0') {
		rc = -ENOTSUP;
		goto out;
	}
	snprintf(url, sizeof(url), "%s%s%s", base, base[strlen(base) - 1] == '/' ? "" : "/",
		 ci->ari_id);
	if (http(&r, "GET", url, NULL, &h) < 0)
		goto out;
	if (h.status != 200 || h.body == NULL ||
	    renew_parse_ari(h.body, h.len, start, end) < 0) {
		char p[512];

		fail(&r, "renewalInfo %s: %s", url, problem_text(&h, p, sizeof(p)));
		goto out;
	}
	rc = 0;
out:
	resp_reset(&h);
	run_free(&r);
	return rc;
}

