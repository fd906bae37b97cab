/*
 * The auth guard's shared counts in Redis (see store.h), over hiredis' blocking API with
 * timeouts. The member of a failure is "<ms>-<instance nonce>-<seq>", unique across
 * instances, so two failures in the same millisecond both count.
 */
#include "core/guard/store.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "config/config-t.h"
#include "core/guard/guard.h"
#include "core/lib/log.h"

#define KEY_PREFIX	"ringedge:ag:"
#define NAME_MAX_LEN	256

struct gstore {
	pthread_mutex_t	 mu;
	redisContext	*rc;		/* NULL: not connected */
	char		*host;
	int		 port;
	uint64_t	 timeout_ms;
	uint64_t	 retry_at;	/* monotonic ms: no connect attempt before */
	bool		 down;		/* logged as unreachable, not yet back */
	uint64_t	 nonce;
	uint64_t	 seq;
	uint64_t	 errors;
};

static uint64_t
clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct gstore *
gstore_open(const char *host, int port, uint64_t timeout_ms)
{
	struct gstore *s = calloc(1, sizeof(*s));

	if (s == NULL || (s->host = strdup(host)) == NULL) {
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	s->port = port;
	s->timeout_ms = timeout_ms ? timeout_ms : 100;
	if (getrandom(&s->nonce, sizeof(s->nonce), 0) != sizeof(s->nonce))
		s->nonce = clock_ms(CLOCK_REALTIME) ^ (uint64_t)(uintptr_t)s;
	return s;
}

void
gstore_close(struct gstore *s)
{
	if (s == NULL)
		return;
	if (s->rc != NULL)
		redisFree(s->rc);
	pthread_mutex_destroy(&s->mu);
	free(s->host);
	free(s);
}

/* A failed call: drop the connection, count it, log the first of a run. */
static void
store_failed(struct gstore *s, const char *why)
{
	s->errors++;
	if (!s->down)	/* why may point into s->rc: logged before it is freed */
		log_warn("auth guard: store redis://%s:%d unreachable (%s): counting per instance "
			 "per the store_unreachable policy until it is back", s->host, s->port, why);
	s->down = true;
	if (s->rc != NULL) {
		redisFree(s->rc);
		s->rc = NULL;
	}
	s->retry_at = clock_ms(CLOCK_MONOTONIC) + GSTORE_RETRY_MS;
}

static bool
store_connect(struct gstore *s)
{
	struct timeval tv = { .tv_sec = (time_t)(s->timeout_ms / 1000),
			      .tv_usec = (suseconds_t)(s->timeout_ms % 1000) * 1000 };

	if (s->rc != NULL)
		return true;
	if (clock_ms(CLOCK_MONOTONIC) < s->retry_at) {
		s->errors++;
		return false;
	}
	s->rc = redisConnectWithTimeout(s->host, s->port, tv);
	if (s->rc == NULL || s->rc->err) {
		store_failed(s, s->rc ? s->rc->errstr : "out of memory");
		return false;
	}
	if (redisSetTimeout(s->rc, tv) != REDIS_OK) {
		store_failed(s, "cannot set the timeout");
		return false;
	}
	return true;
}

/* The EXEC reply: [zadd, zremrangebyscore, zcard, pexpire]; the count is the third. */
static int64_t
exec_count(const redisReply *r)
{
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
	    r->element[2]->type != REDIS_REPLY_INTEGER)
		return -1;
	return r->element[2]->integer;
}

int64_t
gstore_fail(struct gstore *s, char kind, const char *name, size_t len, uint64_t window_ms)
{
	char key[sizeof(KEY_PREFIX) + 2 + NAME_MAX_LEN], member[80], min[32], now_s[32], win[32];
	uint64_t now = clock_ms(CLOCK_REALTIME);
	redisReply *r = NULL;
	int64_t n = -1;
	void *rr;

	if (len > NAME_MAX_LEN)
		len = NAME_MAX_LEN;
	memcpy(key, KEY_PREFIX, sizeof(KEY_PREFIX) - 1);
	key[sizeof(KEY_PREFIX) - 1] = kind;
	key[sizeof(KEY_PREFIX)] = ':';
	memcpy(key + sizeof(KEY_PREFIX) + 1, name, len);
	len += sizeof(KEY_PREFIX) + 1;
	snprintf(now_s, sizeof(now_s), "%llu", (unsigned long long)now);
	snprintf(min, sizeof(min), "(%llu", (unsigned long long)(now > window_ms ? now - window_ms : 0));
	snprintf(win, sizeof(win), "%llu", (unsigned long long)window_ms);
	pthread_mutex_lock(&s->mu);
	snprintf(member, sizeof(member), "%s-%016llx-%llu", now_s, (unsigned long long)s->nonce,
		 (unsigned long long)++s->seq);
	if (!store_connect(s))
		goto out;
	redisAppendCommand(s->rc, "MULTI");
	redisAppendCommand(s->rc, "ZADD %b %s %s", key, len, now_s, member);
	redisAppendCommand(s->rc, "ZREMRANGEBYSCORE %b -inf %s", key, len, min);
	redisAppendCommand(s->rc, "ZCARD %b", key, len);
	redisAppendCommand(s->rc, "PEXPIRE %b %s", key, len, win);
	redisAppendCommand(s->rc, "EXEC");
	for (int i = 0; i < 6; i++) {
		if (redisGetReply(s->rc, &rr) != REDIS_OK || rr == NULL) {
			store_failed(s, s->rc->errstr[0] ? s->rc->errstr : "no reply");
			goto out;
		}
		if (i < 5) {
			freeReplyObject(rr);
			continue;
		}
		r = rr;
	}
	n = exec_count(r);
	freeReplyObject(r);
	if (n < 0) {
		store_failed(s, "unexpected reply");
		goto out;
	}
	if (s->down)
		log_info("auth guard: store redis://%s:%d is back: counts are shared again",
			 s->host, s->port);
	s->down = false;
out:
	pthread_mutex_unlock(&s->mu);
	return n;
}

uint64_t
gstore_errors(struct gstore *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->mu);
	n = s->errors;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static int64_t
counter_fail(void *ctx, char kind, const char *name, size_t len, uint64_t window_ms)
{
	return gstore_fail(ctx, kind, name, len, window_ms);
}

struct gstore *
gstore_attach(struct guard *g, const struct cfg_auth_guard *c)
{
	struct gstore *s;

	if (c->store == NULL)
		return NULL;
	s = gstore_open(c->store_host, c->store_port, c->store_timeout);
	if (s == NULL) {
		log_error("auth guard: out of memory for the store: counting stays local");
		return NULL;
	}
	guard_set_counter(g, &(struct guard_counter){ .fail = counter_fail, .ctx = s,
						      .fail_closed = c->store_fail_closed });
	log_info("auth guard: failures counted in %s (store_unreachable = %s)", c->store,
		 c->store_fail_closed ? "closed" : "open");
	return s;
}
