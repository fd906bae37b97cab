/*
 * routing/pool/health: the health thread against real tiny HTTP servers running in this process
 * (one thread each, a listening socket on 127.0.0.1): 200 stays up, 500 / close / silence /
 * a refused port go down with the right reason, logged once; switching a server's answer
 * flips it back; a passive down ends at the next good probe; a TLS pool is probed over TLS
 * (trusted CA: up; unrelated CA: "TLS verification failed"); a reload (health_set with a set
 * built from the old one) does not flap, and the new set gets the next changes. Bounded:
 * the whole test takes a few seconds, every wait has a deadline.
 *
 * Usage: health_test SOURCE_ROOT (for tls_gencerts.sh; without openssl the TLS part skips)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "core/lib/log.h"
#include "routing/pool/balance.h"
#include "routing/pool/health.h"
#include "test/unit/check.h"
#include "tls/tls.h"

enum mode {
	M_200 = 0,	/* 200 OK */
	M_500,		/* 500 */
	M_302,		/* redirect: counts as up */
	M_CLOSE,	/* reads the request, closes without answering */
	M_SILENT,	/* reads the request, never answers (until the client gives up) */
};

struct tsrv {
	int			 lfd;
	uint16_t		 port;
	_Atomic int		 mode;
	_Atomic int		 served;	/* requests read whole */
	const struct tls_server	*tls;		/* NULL: plain */
	pthread_t		 thread;
	pthread_mutex_t		 lock;
	char			 last[512];	/* last request head */
};

static _Atomic bool stopping;

/* ---- tiny servers --------------------------------------------------------------------- */

static int
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t rc = send(fd, p, n, MSG_NOSIGNAL);

		if (rc <= 0)
			return -1;
		p += rc;
		n -= (size_t)rc;
	}
	return 0;
}

static int
tls_flush(int fd, struct tls_conn *c)
{
	const char *w;
	size_t n;

	while ((n = tls_conn_wire(c, &w)) > 0) {
		if (send_all(fd, w, n) < 0)
			return -1;
		tls_conn_wire_done(c, n);
	}
	return 0;
}

/* Reads until the end of the request head (or EOF/error/timeout). Returns 0 when whole. */
static int
read_head(struct tsrv *t, int fd, struct tls_conn *tc, char *head, size_t cap)
{
	size_t len = 0;

	head[0] = '\0';
	while (strstr(head, "\r\n\r\n") == NULL) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char buf[4096];
		ssize_t n;

		if (atomic_load(&stopping) || poll(&pfd, 1, 2000) <= 0)
			return -1;
		if ((n = recv(fd, buf, sizeof(buf), 0)) <= 0)
			return -1;
		if (tc == NULL) {
			if ((size_t)n > cap - 1 - len)
				return -1;
			memcpy(head + len, buf, (size_t)n);
			len += (size_t)n;
		} else {
			for (size_t in = (size_t)n;; in = 0) {
				char *app;
				size_t alen = 0;
				int rc = tls_conn_recv(tc, in ? buf : NULL, in, &app, &alen);

				if (rc < 0) {
					tls_flush(fd, tc);	/* the alert */
					return -1;
				}
				if (alen > cap - 1 - len)
					return -1;
				if (alen > 0)
					memcpy(head + len, app, alen);
				len += alen;
				if (rc == 0 || !tls_conn_recv_more(tc))
					break;
			}
			if (tls_flush(fd, tc) < 0)
				return -1;
		}
		head[len] = '\0';
	}
	pthread_mutex_lock(&t->lock);
	snprintf(t->last, sizeof(t->last), "%s", head);
	pthread_mutex_unlock(&t->lock);
	atomic_fetch_add(&t->served, 1);
	return 0;
}

static void
answer(struct tsrv *t, int fd)
{
	static const char *resp[] = {
		[M_200] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
		[M_500] = ("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
			   "Connection: close\r\n\r\n"),
		[M_302] = "HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n",
	};
	struct tls_conn *tc = t->tls != NULL ? tls_conn_server(t->tls) : NULL;
	char head[2048];
	int mode;

	if (read_head(t, fd, tc, head, sizeof(head)) < 0)
		goto out;
	mode = atomic_load(&t->mode);
	if (mode == M_SILENT) {
		char buf[256];
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		/* until the prober closes (it times out) or the test ends */
		while (!atomic_load(&stopping))
			if (poll(&pfd, 1, 50) > 0 && recv(fd, buf, sizeof(buf), 0) <= 0)
				break;
		goto out;
	}
	if (mode == M_CLOSE)
		goto out;
	if (tc == NULL) {
		send_all(fd, resp[mode], strlen(resp[mode]));
	} else {
		tls_conn_send(tc, resp[mode], strlen(resp[mode]));
		tls_conn_shutdown(tc);
		tls_flush(fd, tc);
	}
out:
	tls_conn_free(tc);
	close(fd);
}

static void *
srv_main(void *arg)
{
	struct tsrv *t = arg;

	while (!atomic_load(&stopping)) {
		struct pollfd pfd = { .fd = t->lfd, .events = POLLIN };
		int fd;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if ((fd = accept(t->lfd, NULL, NULL)) >= 0)
			answer(t, fd);
	}
	tls_thread_exit();
	return NULL;
}

static int
listen_any(uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

static int
tsrv_start(struct tsrv *t, int mode, const struct tls_server *tls)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	atomic_store(&t->mode, mode);
	t->tls = tls;
	if ((t->lfd = listen_any(&t->port)) < 0 || listen(t->lfd, 16) < 0)
		return -1;
	return pthread_create(&t->thread, NULL, srv_main, t) == 0 ? 0 : -1;
}

static void
tsrv_stop(struct tsrv *t)
{
	pthread_join(t->thread, NULL);
	close(t->lfd);
	pthread_mutex_destroy(&t->lock);
}

static void
tsrv_last(struct tsrv *t, char *buf, size_t size)
{
	pthread_mutex_lock(&t->lock);
	snprintf(buf, size, "%s", t->last);
	pthread_mutex_unlock(&t->lock);
}

/* ---- events from the health thread ------------------------------------------------------ */

struct event {
	const struct bal_set	*set;
	int			 pool, srv;
	bool			 up;
	char			 reason[160];
};

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static struct event events[256];
static int nevents;

static void
on_change(void *arg, const struct bal_set *s, int pool, int srv, bool up, const char *reason)
{
	(void)arg;
	pthread_mutex_lock(&ev_lock);
	if (nevents < (int)RE_ARRAY_SIZE(events)) {
		struct event *e = &events[nevents++];

		e->set = s;
		e->pool = pool;
		e->srv = srv;
		e->up = up;
		snprintf(e->reason, sizeof(e->reason), "%s", reason);
	}
	pthread_mutex_unlock(&ev_lock);
}

/* The first event for (pool, srv, up) at index >= from, waiting up to ms. Copies it into out. */
static int
wait_event(int from, int pool, int srv, bool up, int ms, struct event *out)
{
	uint64_t end = bal_now_ms() + (uint64_t)ms;

	do {
		pthread_mutex_lock(&ev_lock);
		for (int i = from; i < nevents; i++) {
			if (events[i].pool == pool && events[i].srv == srv && events[i].up == up) {
				*out = events[i];
				pthread_mutex_unlock(&ev_lock);
				return i;
			}
		}
		pthread_mutex_unlock(&ev_lock);
		usleep(10000);
	} while (bal_now_ms() < end);
	return -1;
}

static int
count_events(int pool, int srv)
{
	int n = 0;

	pthread_mutex_lock(&ev_lock);
	for (int i = 0; i < nevents; i++)
		n += events[i].pool == pool && events[i].srv == srv;
	pthread_mutex_unlock(&ev_lock);
	return n;
}

static int
event_count(void)
{
	int n;

	pthread_mutex_lock(&ev_lock);
	n = nevents;
	pthread_mutex_unlock(&ev_lock);
	return n;
}

/* ---- config ------------------------------------------------------------------------------ */

static void
server(struct cfg_server *s, const char *host, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&s->addr;

	memset(s, 0, sizeof(*s));
	s->host = (char *)host;
	s->port = port;
	s->weight = 1;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->addrlen = sizeof(*sin);
}

static void
pool(struct cfg_pool *p, const char *name, struct cfg_server *srv, int n)
{
	memset(p, 0, sizeof(*p));
	p->name = (char *)name;
	p->servers = srv;
	p->nservers = n;
	p->balance = CFG_BALANCE_ROUND_ROBIN;
	p->health_check = "/healthz";
	p->health_interval = 250;
	p->connect_timeout = 1000;
	p->response_timeout = 1000;
	p->max_fails = 3;
	p->fail_timeout = 10000;
	p->verify = true;
}

#define S_OK		0
#define S_ERR		1
#define S_CLOSE		2
#define S_SILENT	3
#define S_REFUSED	4
#define S_REDIR		5

static bool
is_up(struct bal_set *s, int p, int i)
{
	return bal_srv_up(&s->pools[p], &s->pools[p].srv[i], bal_now_ms());
}

int
main(int argc, char **argv)
{
	const char *srcroot = argc > 1 ? argv[1] : ".";
	char dir[64] = "/tmp/health_test.XXXXXX", cmd[512], ca[128], ca2[128], crt[128], key[128];
	char last[512], want[128];
	struct tsrv ts[6], tt;
	struct cfg_server plain[6], tsrv1[1], tsrv2[1];
	struct cfg_pool pools[3];
	struct config cfg = { .file = "health.ini", .pools = pools, .npools = 1 };
	struct tls_server *tls = NULL;
	struct bal_set *set, *set2;
	struct health *h;
	struct health_opts opts = { .on_change = on_change };
	struct event e;
	uint64_t t0;
	int refused, mark, r;
	uint16_t rport;

	log_threshold = LOG_INFO;	/* the transitions are logged to stderr: visible in the log */
	CHECK(tls_init() == 0);

	/* TLS PKI, if openssl is there */
	if (mkdtemp(dir) != NULL) {
		snprintf(cmd, sizeof(cmd), "sh '%s/test/unit/tls/tls_gencerts.sh' '%s' >/dev/null 2>&1",
			 srcroot, dir);
		if (system(cmd) == 0) {
			struct cfg_cert cert;
			struct cfg_listener l = { .name = "t", .line = 1, .tls = true, .certs = &cert,
						  .ncerts = 1, .protocols = CFG_TLS12 | CFG_TLS13 };
			struct cfg_errors err = { 0 };

			snprintf(crt, sizeof(crt), "%s/lync.pem", dir);
			snprintf(key, sizeof(key), "%s/lync.key", dir);
			snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
			snprintf(ca2, sizeof(ca2), "%s/ca2.pem", dir);
			cert = (struct cfg_cert){ .certificate = crt, .private_key = key, .line = 1 };
			tls = tls_server_new("t.ini", &l, NULL, NULL, &err);
			if (tls == NULL)
				fprintf(stderr, "tls_server_new: %s\n", err.text ? err.text : "?");
			cfg_errors_free(&err);
		} else {
			fprintf(stderr, "no test certificates (openssl missing?): TLS part skipped\n");
		}
	}

	/* servers: 200, 500, close, silent, refused, 302 */
	t0 = bal_now_ms();
	CHECK(tsrv_start(&ts[S_OK], M_200, NULL) == 0);
	CHECK(tsrv_start(&ts[S_ERR], M_500, NULL) == 0);
	CHECK(tsrv_start(&ts[S_CLOSE], M_CLOSE, NULL) == 0);
	CHECK(tsrv_start(&ts[S_SILENT], M_SILENT, NULL) == 0);
	refused = listen_any(&rport);	/* bound, never listening: connections are refused */
	CHECK(refused >= 0);
	CHECK(tsrv_start(&ts[S_REDIR], M_302, NULL) == 0);
	for (int i = 0; i < 6; i++)
		server(&plain[i], "127.0.0.1", i == S_REFUSED ? rport : ts[i].port);
	pool(&pools[0], "fe", plain, 6);
	if (tls != NULL) {
		CHECK(tsrv_start(&tt, M_200, tls) == 0);
		server(&tsrv1[0], "webext.contoso.com", tt.port);
		server(&tsrv2[0], "webext.contoso.com", tt.port);
		pool(&pools[1], "fe-tls", tsrv1, 1);
		pools[1].tls = true;
		pools[1].ca = ca;
		pool(&pools[2], "fe-tls-untrusted", tsrv2, 1);
		pools[2].tls = true;
		pools[2].ca = ca2;
		cfg.npools = 3;
	}
	set = bal_set_build(&cfg, 2, NULL);
	CHECK(set != NULL);
	if (set == NULL)
		return check_done();
	h = health_start(set, &opts);
	CHECK(h != NULL);
	if (h == NULL)
		return check_done();

	/* every bad server goes down with its reason */
	CHECK(wait_event(0, 0, S_ERR, false, 3000, &e) >= 0);
	CHECK_STR(e.reason, "status 500");
	CHECK(wait_event(0, 0, S_CLOSE, false, 3000, &e) >= 0);
	CHECK_STR(e.reason, "connection closed before a response");
	CHECK(wait_event(0, 0, S_SILENT, false, 3000, &e) >= 0);
	CHECK(strncmp(e.reason, "timeout waiting for the response", 32) == 0);
	CHECK(wait_event(0, 0, S_REFUSED, false, 3000, &e) >= 0);
	CHECK_STR(e.reason, "connection refused");
	if (tls != NULL) {
		CHECK(wait_event(0, 2, 0, false, 3000, &e) >= 0);
		CHECK(strncmp(e.reason, "TLS verification failed", 23) == 0);
		fprintf(stderr, "(untrusted CA: %s)\n", e.reason);
	}
	CHECK(e.set == set);
	/* a few more rounds: the good ones stay up and were really probed, nothing is re-logged */
	usleep(600 * 1000);
	CHECK(is_up(set, 0, S_OK) && is_up(set, 0, S_REDIR));
	CHECK(!is_up(set, 0, S_ERR) && !is_up(set, 0, S_CLOSE) && !is_up(set, 0, S_SILENT) &&
	      !is_up(set, 0, S_REFUSED));
	CHECK(count_events(0, S_OK) == 0 && count_events(0, S_REDIR) == 0);
	CHECK(count_events(0, S_ERR) == 1 && count_events(0, S_CLOSE) == 1 &&
	      count_events(0, S_SILENT) == 1 && count_events(0, S_REFUSED) == 1);
	CHECK(atomic_load(&ts[S_OK].served) >= 3);
	tsrv_last(&ts[S_OK], last, sizeof(last));
	snprintf(want, sizeof(want), "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n", ts[S_OK].port);
	CHECK(strncmp(last, want, strlen(want)) == 0);
	if (tls != NULL) {
		CHECK(is_up(set, 1, 0) && count_events(1, 0) == 0);
		CHECK(atomic_load(&tt.served) >= 3);	/* requests decrypted by the TLS server */
		tsrv_last(&tt, last, sizeof(last));
		snprintf(want, sizeof(want), "GET /healthz HTTP/1.1\r\nHost: webext.contoso.com:%u\r\n",
			 tt.port);
		CHECK(strncmp(last, want, strlen(want)) == 0);
		CHECK(count_events(2, 0) == 1);
	}
	/* picks avoid what is down */
	for (int i = 0; i < 20; i++) {
		r = bal_pick(set, 0, 0, NULL, 0, bal_now_ms());
		CHECK(r == S_OK || r == S_REDIR);
	}

	/* answers change: 500 -> 200 comes up, 200 -> 500 goes down */
	mark = event_count();
	atomic_store(&ts[S_ERR].mode, M_200);
	atomic_store(&ts[S_OK].mode, M_500);
	CHECK(wait_event(mark, 0, S_ERR, true, 3000, &e) >= 0);
	CHECK_STR(e.reason, "status 200");
	CHECK(wait_event(mark, 0, S_OK, false, 3000, &e) >= 0);
	CHECK_STR(e.reason, "status 500");
	CHECK(is_up(set, 0, S_ERR) && !is_up(set, 0, S_OK));

	/* a passive down (max_fails reports) lasts until the next good probe */
	mark = event_count();
	for (int i = 0; i < 3; i++)
		bal_report_failure(set, 0, S_ERR, -ECONNRESET, bal_now_ms());
	CHECK(!is_up(set, 0, S_ERR));
	CHECK(wait_event(mark, 0, S_ERR, true, 3000, &e) >= 0);
	CHECK(is_up(set, 0, S_ERR));

	/* reload: the new set inherits the states, nothing flaps, and it gets the next change */
	set2 = bal_set_build(&cfg, 2, set);
	CHECK(set2 != NULL);
	mark = event_count();
	health_set(h, set2);
	usleep(700 * 1000);
	CHECK(event_count() == mark);
	CHECK(is_up(set2, 0, S_ERR) && is_up(set2, 0, S_REDIR) && !is_up(set2, 0, S_OK) &&
	      !is_up(set2, 0, S_SILENT) && !is_up(set2, 0, S_REFUSED));
	atomic_store(&ts[S_SILENT].mode, M_200);
	CHECK(wait_event(mark, 0, S_SILENT, true, 3000, &e) >= 0);
	CHECK(e.set == set2);
	CHECK(is_up(set2, 0, S_SILENT) && !is_up(set, 0, S_SILENT));	/* old set: not probed */

	health_stop(h);
	bal_set_put(set);
	bal_set_put(set2);
	atomic_store(&stopping, true);
	for (int i = 0; i < 6; i++)
		if (i != S_REFUSED)
			tsrv_stop(&ts[i]);
	close(refused);
	if (tls != NULL) {
		tsrv_stop(&tt);
		tls_server_free(tls);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	printf("health test took %llu ms\n", (unsigned long long)(bal_now_ms() - t0));
	CHECK(bal_now_ms() - t0 < 10000);
	tls_thread_exit();
	return check_done();
}
