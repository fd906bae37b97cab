/*
 * core/guard/store.c against a real redis-server (started here on a free loopback port, no
 * persistence; skipped with 77 when Debian's redis-server is not installed): two stores are
 * two instances sharing counts; the window slides; Redis expires the keys by itself; an
 * unreachable Redis fails fast, is counted and retried; two guards (guard.c) sharing one
 * Redis lock a user sprayed across both at the threshold, not twice it.
 */
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../check.h"
#include "config/config-t.h"
#include "core/guard/cred.h"
#include "core/guard/guard.h"
#include "core/guard/store.h"

extern char **environ;

static int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &al);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static pid_t
redis_start(int port)
{
	char ps[16];
	char *argv[] = { "redis-server", "--port", ps, "--bind", "127.0.0.1", "--save", "",
			 "--appendonly", "no", "--loglevel", "warning", NULL };
	pid_t pid;

	snprintf(ps, sizeof(ps), "%d", port);
	if (posix_spawnp(&pid, "redis-server", NULL, NULL, argv, environ) != 0)
		return -1;
	for (int i = 0; i < 100; i++) {		/* up to 5 s */
		redisContext *c = redisConnect("127.0.0.1", port);
		bool ok = c != NULL && !c->err;

		redisFree(c);
		if (ok)
			return pid;
		sleep_ms(50);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static void
redis_stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static long long
pttl(int port, const char *key)
{
	redisContext *c = redisConnect("127.0.0.1", port);
	redisReply *r = c && !c->err ? redisCommand(c, "PTTL %s", key) : NULL;
	long long v = r != NULL && r->type == REDIS_REPLY_INTEGER ? r->integer : -99;

	freeReplyObject(r);
	redisFree(c);
	return v;
}

static void
test_counts_window_expiry(int port)
{
	struct gstore *a = gstore_open("127.0.0.1", port, 200);
	struct gstore *b = gstore_open("127.0.0.1", port, 200);
	long long t;

	/* two instances count the same user together; other keys are apart */
	CHECK(gstore_fail(a, 'u', "contoso\\alice", 13, 60000) == 1);
	CHECK(gstore_fail(b, 'u', "contoso\\alice", 13, 60000) == 2);
	CHECK(gstore_fail(a, 'u', "contoso\\alice", 13, 60000) == 3);
	CHECK(gstore_fail(b, 'a', "contoso\\alice", 13, 60000) == 1);
	CHECK(gstore_fail(b, 'u', "contoso\\bob", 11, 60000) == 1);
	/* Redis forgets the key by itself a window after the last failure */
	t = pttl(port, "ringedge:ag:u:contoso\\alice");
	CHECK(t > 50000 && t <= 60000);
	/* the window slides: failures older than it no longer count */
	CHECK(gstore_fail(a, 'a', "10.0.0.1", 8, 300) == 1);
	CHECK(gstore_fail(b, 'a', "10.0.0.1", 8, 300) == 2);
	sleep_ms(200);
	CHECK(gstore_fail(a, 'a', "10.0.0.1", 8, 300) == 3);
	sleep_ms(200);		/* the first two are 400 ms old */
	CHECK(gstore_fail(b, 'a', "10.0.0.1", 8, 300) == 2);
	sleep_ms(500);		/* expired in Redis */
	CHECK(pttl(port, "ringedge:ag:a:10.0.0.1") == -2);
	CHECK(gstore_errors(a) == 0 && gstore_errors(b) == 0);
	gstore_close(a);
	gstore_close(b);
}

static void
test_unreachable(void)
{
	int port = free_port();
	struct gstore *s = gstore_open("127.0.0.1", port, 100);
	struct timespec t0, t1;
	pid_t pid;

	/* nobody listens: -1, counted; the next call within the retry interval does not even
	 * try (no round trip) */
	CHECK(gstore_fail(s, 'u', "x", 1, 60000) == -1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 100; i++)
		CHECK(gstore_fail(s, 'u', "x", 1, 60000) == -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(t1.tv_sec - t0.tv_sec < 1);
	CHECK(gstore_errors(s) == 101);
	/* Redis comes up: after the retry interval the store counts again */
	pid = redis_start(port);
	CHECK(pid > 0);
	sleep_ms(GSTORE_RETRY_MS + 100);
	CHECK(gstore_fail(s, 'u', "x", 1, 60000) == 1);
	/* and goes away in the middle: the next call fails and is counted */
	redis_stop(pid);
	CHECK(gstore_fail(s, 'u', "x", 1, 60000) == -1);
	CHECK(gstore_errors(s) == 102);
	gstore_close(s);
}

static enum guard_action
attempt(struct guard *g, const char *user, uint8_t host, uint64_t now)
{
	uint8_t ip[4] = { 10, 1, 0, host };
	char text[32], pw[16];
	struct cred c = { .kind = CRED_BASIC, .has_pw = true };
	struct guard_attempt a;
	struct guard_verdict v;
	struct guard_events ev;

	snprintf(text, sizeof(text), "10.1.0.%u", host);
	snprintf(pw, sizeof(pw), "pw%u", host);
	c.pw_hash = cred_pw_hash(pw, strlen(pw));
	guard_attempt_init(&a, user, ip, sizeof(ip), text, &c);
	if (guard_check(g, &a, now, false, &v) != GUARD_ALLOW)
		return v.action;
	guard_outcome(g, &a, false, now, &ev);
	return GUARD_ALLOW;
}

/* A spray of one user over two instances: locked after user_failures in total. */
static void
test_two_guards(int port)
{
	struct guard_params p = {
		.user_failures = 6, .user_window = 60000, .addr_failures = 100,
		.addr_window = 60000, .familiar_failures = 5, .familiar_time = 60000,
		.lock_time = 60000, .lock_time_max = 60000, .max_tracked_keys = 1000,
	};
	char host[] = "127.0.0.1", url[64];
	struct cfg_auth_guard c = { .store = url, .store_host = host, .store_port = port,
				    .store_timeout = 200 };
	struct guard *ga = guard_create(&p), *gb = guard_create(&p);
	struct gstore *sa, *sb;
	int allowed = 0;

	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
	sa = gstore_attach(ga, &c);
	sb = gstore_attach(gb, &c);
	CHECK(sa != NULL && sb != NULL);
	c.store = NULL;
	CHECK(gstore_attach(ga, &c) == NULL);	/* no store: nothing plugged */
	for (uint8_t i = 1; i <= 12; i++)
		allowed += attempt(i % 2 ? ga : gb, "contoso\\spray", i, 1000 + i) == GUARD_ALLOW;
	/* 6 failures reach the directory; the 6th locks on the instance that saw it, the other
	 * one locks at its next failure (one more): at most threshold + instances - 1 */
	CHECK(allowed == 7);
	CHECK(attempt(ga, "contoso\\spray", 50, 2000) == GUARD_LOCKED);
	CHECK(attempt(gb, "contoso\\spray", 51, 2000) == GUARD_LOCKED);
	guard_destroy(ga);
	guard_destroy(gb);
	gstore_close(sa);
	gstore_close(sb);
}

int
main(void)
{
	int port = free_port();
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	if (system("command -v redis-server >/dev/null 2>&1") != 0) {
		fprintf(stderr, "no redis-server: skipped\n");
		return 77;
	}
	cred_init();
	pid = redis_start(port);
	CHECK(pid > 0);
	if (pid <= 0)
		return check_done();
	test_counts_window_expiry(port);
	test_two_guards(port);
	redis_stop(pid);
	test_unreachable();
	return check_done();
}
