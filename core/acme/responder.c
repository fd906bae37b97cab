/*
 * Pending-challenge table (see responder.h): a fixed array under one mutex, touched only on
 * ACME paths, plus an atomic count of TLS-ALPN-01 entries for the lock-free handshake check.
 */
#include "core/acme/responder.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum ent_kind { ENT_FREE = 0, ENT_HTTP, ENT_ALPN };

struct ent {
	int		 kind;
	char		*key;		/* token or DNS name */
	char		*keyauth;	/* HTTP-01 */
	uint8_t		*cert, *pkey;	/* TLS-ALPN-01, DER */
	size_t		 cert_len, pkey_len;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct ent tab[RESPONDER_MAX];
static atomic_uint alpn_count;

static void
ent_free(struct ent *e)
{
	if (e->kind == ENT_ALPN)
		atomic_fetch_sub_explicit(&alpn_count, 1, memory_order_relaxed);
	free(e->key);
	free(e->keyauth);
	free(e->cert);
	free(e->pkey);
	memset(e, 0, sizeof(*e));
}

/* Caller holds lock. */
static struct ent *
find(int kind, const char *key, size_t len)
{
	for (int i = 0; i < RESPONDER_MAX; i++) {
		struct ent *e = &tab[i];

		if (e->kind != kind || strlen(e->key) != len)
			continue;
		if (kind == ENT_HTTP ? memcmp(e->key, key, len) == 0 :
				       strncasecmp(e->key, key, len) == 0)
			return e;
	}
	return NULL;
}

/* Caller holds lock: the existing entry for key (emptied) or a free one. */
static struct ent *
slot(int kind, const char *key)
{
	struct ent *e = find(kind, key, strlen(key));

	if (e != NULL) {
		ent_free(e);
		return e;
	}
	for (int i = 0; i < RESPONDER_MAX; i++)
		if (tab[i].kind == ENT_FREE)
			return &tab[i];
	return NULL;
}

static bool
is_token(const char *s, size_t len)
{
	if (len == 0 || len > 256)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

int
responder_http_put(const char *token, const char *keyauth)
{
	struct ent *e;
	int rc = 0;

	if (!is_token(token, strlen(token)))
		return -EINVAL;
	pthread_mutex_lock(&lock);
	e = slot(ENT_HTTP, token);
	if (e == NULL) {
		rc = -ENOSPC;
	} else {
		e->key = strdup(token);
		e->keyauth = strdup(keyauth);
		if (e->key == NULL || e->keyauth == NULL) {
			ent_free(e);
			rc = -ENOMEM;
		} else {
			e->kind = ENT_HTTP;
		}
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

void
responder_http_del(const char *token)
{
	struct ent *e;

	pthread_mutex_lock(&lock);
	if ((e = find(ENT_HTTP, token, strlen(token))) != NULL)
		ent_free(e);
	pthread_mutex_unlock(&lock);
}

bool
responder_http_is_acme(const char *target, size_t len)
{
	size_t pl = sizeof(RESPONDER_HTTP_PREFIX) - 1;

	return len >= pl && memcmp(target, RESPONDER_HTTP_PREFIX, pl) == 0;
}

int
responder_http_lookup(const char *target, size_t len, char *out, size_t outlen)
{
	size_t pl = sizeof(RESPONDER_HTTP_PREFIX) - 1, tl;
	const char *tok;
	struct ent *e;
	int rc;

	if (!responder_http_is_acme(target, len))
		return -ENOENT;
	tok = target + pl;
	tl = len - pl;
	/* a query string is not part of the token */
	for (size_t i = 0; i < tl; i++)
		if (tok[i] == '?') {
			tl = i;
			break;
		}
	if (!is_token(tok, tl))
		return -ENOENT;
	pthread_mutex_lock(&lock);
	e = find(ENT_HTTP, tok, tl);
	if (e == NULL) {
		rc = -ENOENT;
	} else if (strlen(e->keyauth) + 1 > outlen) {
		rc = -ENOSPC;
	} else {
		rc = (int)strlen(e->keyauth);
		memcpy(out, e->keyauth, (size_t)rc + 1);
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

int
responder_alpn_put(const char *name, const uint8_t *cert, size_t cert_len, const uint8_t *key,
		   size_t key_len)
{
	struct ent *e;
	int rc = 0;

	pthread_mutex_lock(&lock);
	e = slot(ENT_ALPN, name);
	if (e == NULL) {
		rc = -ENOSPC;
		goto out;
	}
	e->key = strdup(name);
	e->cert = malloc(cert_len);
	e->pkey = malloc(key_len);
	if (e->key == NULL || e->cert == NULL || e->pkey == NULL) {
		free(e->key);
		free(e->cert);
		free(e->pkey);
		memset(e, 0, sizeof(*e));
		rc = -ENOMEM;
		goto out;
	}
	memcpy(e->cert, cert, cert_len);
	memcpy(e->pkey, key, key_len);
	e->cert_len = cert_len;
	e->pkey_len = key_len;
	e->kind = ENT_ALPN;
	atomic_fetch_add_explicit(&alpn_count, 1, memory_order_relaxed);
out:
	pthread_mutex_unlock(&lock);
	return rc;
}

void
responder_alpn_del(const char *name)
{
	struct ent *e;

	pthread_mutex_lock(&lock);
	if ((e = find(ENT_ALPN, name, strlen(name))) != NULL)
		ent_free(e);
	pthread_mutex_unlock(&lock);
}

unsigned
responder_alpn_pending(void)
{
	return atomic_load_explicit(&alpn_count, memory_order_relaxed);
}

int
responder_alpn_get(const char *name, uint8_t **cert, size_t *cert_len, uint8_t **key,
		   size_t *key_len)
{
	struct ent *e;
	int rc = 0;

	pthread_mutex_lock(&lock);
	e = find(ENT_ALPN, name, strlen(name));
	if (e == NULL) {
		rc = -ENOENT;
		goto out;
	}
	*cert = malloc(e->cert_len);
	*key = malloc(e->pkey_len);
	if (*cert == NULL || *key == NULL) {
		free(*cert);
		free(*key);
		rc = -ENOMEM;
		goto out;
	}
	memcpy(*cert, e->cert, e->cert_len);
	memcpy(*key, e->pkey, e->pkey_len);
	*cert_len = e->cert_len;
	*key_len = e->pkey_len;
out:
	pthread_mutex_unlock(&lock);
	return rc;
}

void
responder_clear(void)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < RESPONDER_MAX; i++)
		if (tab[i].kind != ENT_FREE)
			ent_free(&tab[i]);
	pthread_mutex_unlock(&lock);
}

/* Big-endian length fields; every read is bounds-checked against end. */
static bool
get16(const uint8_t **p, const uint8_t *end, size_t *v)
{
	if (end - *p < 2)
		return false;
	*v = (size_t)(*p)[0] << 8 | (*p)[1];
	*p += 2;
	return true;
}

static bool
skip(const uint8_t **p, const uint8_t *end, size_t n)
{
	if ((size_t)(end - *p) < n)
		return false;
	*p += n;
	return true;
}

static bool
alpn_has_acme(const uint8_t *p, const uint8_t *end)
{
	size_t list;

	if (!get16(&p, end, &list) || (size_t)(end - p) < list)
		return false;
	end = p + list;
	while (p < end) {
		size_t n = *p++;

		if ((size_t)(end - p) < n)
			return false;
		if (n == sizeof(RESPONDER_ALPN) - 1 && memcmp(p, RESPONDER_ALPN, n) == 0)
			return true;
		p += n;
	}
	return false;
}

bool
responder_hello_wants_acme(const uint8_t *rec, size_t len)
{
	const uint8_t *p = rec, *end = rec + len;
	size_t rlen, hlen, n, ext_len;

	/* record header: handshake(22), version, length */
	if (len < 9 || p[0] != 0x16)
		return false;
	p += 3;
	if (!get16(&p, end, &rlen) || (size_t)(end - p) < rlen)
		return false;
	end = p + rlen;
	/* handshake header: client_hello(1), 24-bit length */
	if (end - p < 4 || p[0] != 0x01)
		return false;
	hlen = (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
	p += 4;
	if ((size_t)(end - p) < hlen)
		return false;	/* split ClientHello: not handled, like the SNI read */
	end = p + hlen;
	/* version(2) random(32) session_id<0..32> cipher_suites<2..> compression<1..> */
	if (!skip(&p, end, 34) || p >= end)
		return false;
	n = *p++;
	if (!skip(&p, end, n) || !get16(&p, end, &n) || !skip(&p, end, n) || p >= end)
		return false;
	n = *p++;
	if (!skip(&p, end, n) || !get16(&p, end, &ext_len) || (size_t)(end - p) < ext_len)
		return false;
	end = p + ext_len;
	while (end - p >= 4) {
		size_t type = 0, elen = 0;

		get16(&p, end, &type);
		get16(&p, end, &elen);
		if ((size_t)(end - p) < elen)
			return false;
		if (type == 16)	/* application_layer_protocol_negotiation */
			return alpn_has_acme(p, p + elen);
		p += elen;
	}
	return false;
}
