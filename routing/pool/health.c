/*
 * The health thread (see health.h, docs/pools.md): one poll loop over an eventfd and the
 * sockets of the probes in flight. Off the hot path: it may allocate, and it uses the TLS
 * layer's in-memory transport (tls_conn_*) over its own non-blocking sockets.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "core/lib/log.h"
#include "routing/pool/balance.h"
#include "routing/pool/health.h"
#include "tls/tls.h"

/* ---- state changes ------------------------------------------------------------------------ */

int
health_apply(const struct bal_set *s, int pool, int srv, bool ok, const char *reason,
	     uint64_t now_ms)
{
	const struct bal_pool *p = &s->pools[pool];
	struct bal_srv *sv = &p->srv[srv];
	struct timespec wall;

	clock_gettime(CLOCK_REALTIME, &wall);
	atomic_store_explicit(&sv->h.probe_last, (uint64_t)wall.tv_sec * 1000 +
			      (uint64_t)wall.tv_nsec / 1000000, memory_order_relaxed);
	if (!ok)
		atomic_fetch_add_explicit(&sv->h.probe_fails, 1, memory_order_relaxed);
	if (ok) {
		uint32_t was = atomic_exchange_explicit(&sv->h.probe_down, 0, memory_order_relaxed);
		uint64_t d = atomic_exchange_explicit(&sv->h.down_until, 0, memory_order_relaxed);
		bool passive = d == BAL_DOWN_UNTIL_PROBE || (d != 0 && d > now_ms);

		if (!was && !passive)
			return 0;
		atomic_store_explicit(&sv->h.fail_win, 0, memory_order_relaxed);
		atomic_store_explicit(&sv->h.up_since, now_ms, memory_order_relaxed);	/* slow_start */
		log_info("pool %s: server %s is UP: health check %s passed (%s)", p->cfg.name,
			 sv->name, p->cfg.health_check ? p->cfg.health_check : "", reason);
		return 1;
	}
	if (atomic_exchange_explicit(&sv->h.probe_down, 1, memory_order_relaxed))
		return 0;
	log_warn("pool %s: server %s is DOWN: health check %s failed: %s", p->cfg.name, sv->name,
		 p->cfg.health_check ? p->cfg.health_check : "", reason);
	return -1;
}

/* ---- one probe ----------------------------------------------------------------------------- */

static const struct bal_srv *
probe_srv(const struct health *h, const struct health_probe *pr)
{
	return &h->plan.set->pools[pr->pool].srv[pr->srv];
}

static const struct bal_pool *
probe_pool(const struct health *h, const struct health_probe *pr)
{
	return &h->plan.set->pools[pr->pool];
}

/* Ends the connection of a probe, keeps its schedule. */
static void
probe_close(struct health_probe *pr)
{
	if (pr->fd >= 0)
		close(pr->fd);
	pr->fd = -1;
	tls_conn_free(pr->tls);
	pr->tls = NULL;
	pr->req_off = 0;
	pr->req_sent = false;
	pr->in_len = 0;
}

static void
probe_done(struct health *h, struct health_probe *pr, bool ok, const char *reason, uint64_t now)
{
	const struct bal_pool *p = probe_pool(h, pr);
	int ch;

	probe_close(pr);
	pr->state = HP_IDLE;
	pr->next_at = pr->started + p->cfg.health_interval;
	if (pr->next_at < now)
		pr->next_at = now;
	ch = health_apply(h->plan.set, pr->pool, pr->srv, ok, reason, now);
	if (ch != 0 && h->opts.on_change != NULL)
		h->opts.on_change(h->opts.arg, h->plan.set, pr->pool, pr->srv, ch > 0, reason);
}

static void
probe_fail_errno(struct health *h, struct health_probe *pr, const char *what, int err,
		 uint64_t now)
{
	char buf[160];

	if (err == ECONNREFUSED)
		snprintf(buf, sizeof(buf), "connection refused");
	else if (err == ECONNRESET || err == EPIPE)
		snprintf(buf, sizeof(buf), "connection reset");
	else
		snprintf(buf, sizeof(buf), "%s: %s", what, strerror(err));
	probe_done(h, pr, false, buf, now);
}

static void
probe_start(struct health *h, struct health_probe *pr, uint64_t now)
{
	const struct bal_pool *p = probe_pool(h, pr);
	const struct bal_srv *sv = probe_srv(h, pr);
	uint64_t ct = p->cfg.connect_timeout, total = p->cfg.connect_timeout + p->cfg.response_timeout;

	pr->started = now;
	if (ct > p->cfg.health_interval)
		ct = p->cfg.health_interval;
	if (total > p->cfg.health_interval)
		total = p->cfg.health_interval;
	pr->conn_deadline = now + ct;
	pr->deadline = now + total;
	if (sv->addrlen == 0) {
		probe_done(h, pr, false, "no address (host did not resolve)", now);
		return;
	}
	pr->fd = socket(sv->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (pr->fd < 0) {
		probe_fail_errno(h, pr, "socket", errno, now);
		return;
	}
	if (connect(pr->fd, (const struct sockaddr *)&sv->addr, sv->addrlen) == 0 ||
	    errno == EINPROGRESS) {
		pr->state = HP_CONNECT;
		return;
	}
	probe_fail_errno(h, pr, "connect", errno, now);
}

/* Connected: a TLS pool starts its handshake (the ClientHello is queued at once). */
static int
probe_connected(struct health *h, struct health_probe *pr)
{
	const struct tls_client *cl = h->plan.tls != NULL ? h->plan.tls[pr->pool] : NULL;

	pr->state = HP_IO;
	if (cl == NULL)
		return 0;
	pr->tls = tls_conn_client(cl, probe_srv(h, pr)->host, NULL);
	return pr->tls != NULL ? 0 : -ENOMEM;
}

/* Sends what is queued. Returns 0 or -errno. */
static int
probe_flush(struct health_probe *pr)
{
	const char *w;
	size_t n;
	ssize_t rc;

	if (pr->tls == NULL) {
		while (pr->req_off < pr->req_len) {
			rc = send(pr->fd, pr->req + pr->req_off, pr->req_len - pr->req_off,
				  MSG_NOSIGNAL);
			if (rc < 0)
				return errno == EAGAIN ? 0 : -errno;
			pr->req_off += (size_t)rc;
		}
		return 0;
	}
	while ((n = tls_conn_wire(pr->tls, &w)) > 0) {
		rc = send(pr->fd, w, n, MSG_NOSIGNAL);
		if (rc < 0)
			return errno == EAGAIN ? 0 : -errno;
		tls_conn_wire_done(pr->tls, (size_t)rc);
	}
	return 0;
}

static bool
probe_wants_out(const struct health_probe *pr)
{
	if (pr->tls != NULL)
		return tls_conn_wire_pending(pr->tls) > 0;
	return pr->req_off < pr->req_len;
}

static void
probe_collect(struct health_probe *pr, const char *b, size_t n)
{
	if (n > sizeof(pr->in) - pr->in_len)
		n = sizeof(pr->in) - pr->in_len;
	memcpy(pr->in + pr->in_len, b, n);
	pr->in_len += n;
}

/* Status of the response's first line: > 0, 0 need more, -1 not HTTP/1.x. */
static int
probe_status(const struct health_probe *pr)
{
	const char *b = pr->in, *eol = memchr(b, '\n', pr->in_len);

	if (eol == NULL)
		return pr->in_len >= sizeof(pr->in) || (pr->in_len >= 5 && memcmp(b, "HTTP/", 5))
		       ? -1 : 0;
	if (eol - b < 12 || memcmp(b, "HTTP/1.", 7) != 0 || b[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++)
		if (b[i] < '0' || b[i] > '9')
			return -1;
	if (eol - b > 12 && b[12] != ' ' && b[12] != '\r')
		return -1;
	return (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
}

/* TLS: wire bytes in, application bytes collected. Returns 0 or a failure (reason in buf). */
static int
probe_tls_in(struct health_probe *pr, char *in, size_t len, char *why, size_t wlen)
{
	for (;;) {
		char *app, err[128];
		size_t alen = 0;
		int rc = tls_conn_recv(pr->tls, in, len, &app, &alen);

		len = 0;
		if (rc == -ESHUTDOWN)
			return 0;	/* close_notify: what came before it decides; EOF follows */
		if (rc < 0) {
			snprintf(why, wlen, "%s: %s", rc == -EKEYREJECTED ?
				 "TLS verification failed" : "TLS handshake failed",
				 tls_conn_error(pr->tls, err, sizeof(err)));
			return -1;
		}
		if (alen > 0)
			probe_collect(pr, app, alen);
		if (rc == 0 || !tls_conn_recv_more(pr->tls))
			return 0;
	}
}

/* One poll readiness for a connected probe. */
static void
probe_io(struct health *h, struct health_probe *pr, short revents, uint64_t now)
{
	char buf[4096], why[200];
	int rc, st;

	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		ssize_t n = recv(pr->fd, buf, sizeof(buf), 0);

		if (n == 0) {
			probe_done(h, pr, false, pr->tls != NULL && !tls_conn_established(pr->tls) ?
				   "connection closed in the TLS handshake" :
				   "connection closed before a response", now);
			return;
		}
		if (n < 0 && errno != EAGAIN) {
			probe_fail_errno(h, pr, "recv", errno, now);
			return;
		}
		if (n > 0 && pr->tls == NULL)
			probe_collect(pr, buf, (size_t)n);
		if (n > 0 && pr->tls != NULL && probe_tls_in(pr, buf, (size_t)n, why, sizeof(why))) {
			probe_done(h, pr, false, why, now);
			return;
		}
	}
	if (pr->tls != NULL && !pr->req_sent && tls_conn_established(pr->tls)) {
		rc = tls_conn_send(pr->tls, pr->req, pr->req_len);
		if (rc < 0 || (size_t)rc != pr->req_len) {
			probe_done(h, pr, false, "TLS: cannot send the request", now);
			return;
		}
		pr->req_sent = true;
	}
	if ((rc = probe_flush(pr)) < 0) {
		probe_fail_errno(h, pr, "send", -rc, now);
		return;
	}
	if ((st = probe_status(pr)) == 0)
		return;
	if (st < 0) {
		probe_done(h, pr, false, "not an HTTP/1.x response", now);
		return;
	}
	snprintf(why, sizeof(why), "status %d", st);
	probe_done(h, pr, st >= 200 && st < 400, why, now);
}

static void
probe_ready(struct health *h, struct health_probe *pr, short revents, uint64_t now)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (pr->state == HP_CONNECT) {
		if (getsockopt(pr->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err == 0 && !(revents & (POLLOUT | POLLERR | POLLHUP)))
			return;
		if (err != 0) {
			probe_fail_errno(h, pr, "connect", err, now);
			return;
		}
		if (probe_connected(h, pr) < 0) {
			probe_done(h, pr, false, "TLS: cannot create a client connection", now);
			return;
		}
		revents = POLLOUT;
	}
	probe_io(h, pr, revents, now);
}

static void
probe_timeout(struct health *h, struct health_probe *pr, uint64_t now)
{
	char why[100];
	const char *what = pr->state == HP_CONNECT ? "connecting" :
			   pr->tls != NULL && !tls_conn_established(pr->tls) ?
			   "in the TLS handshake" : "waiting for the response";

	snprintf(why, sizeof(why), "timeout %s (%llu ms)", what,
		 (unsigned long long)(now - pr->started));
	probe_done(h, pr, false, why, now);
}

/* ---- plans ------------------------------------------------------------------------------ */

static void
plan_free(struct health_plan *pl)
{
	for (int i = 0; pl->set != NULL && i < pl->set->npools; i++)
		atomic_store_explicit(&pl->set->pools[i].probing, false, memory_order_relaxed);
	for (int i = 0; i < pl->nprobes; i++) {
		probe_close(&pl->probes[i]);
		free(pl->probes[i].req);
	}
	free(pl->probes);
	for (int i = 0; pl->tls != NULL && i < pl->set->npools; i++)
		tls_client_free(pl->tls[i]);
	free(pl->tls);
	bal_set_put(pl->set);
	memset(pl, 0, sizeof(*pl));
}

static char *
build_request(const struct bal_pool *p, const struct bal_srv *sv)
{
	const char *host = p->cfg.sni != NULL ? p->cfg.sni : sv->host;
	bool v6 = strchr(host, ':') != NULL, dflt = sv->port == (p->cfg.tls ? 443 : 80);
	char port[8] = "";
	char *req = NULL;

	if (!dflt)
		snprintf(port, sizeof(port), ":%u", sv->port);
	if (asprintf(&req, "GET %s HTTP/1.1\r\nHost: %s%s%s%s\r\nUser-Agent: ringedge-health\r\n"
		     "Connection: close\r\n\r\n", p->cfg.health_check, v6 ? "[" : "", host,
		     v6 ? "]" : "", port) < 0)
		return NULL;
	return req;
}

/* Builds the plan of set s (the caller's reference moves into it). */
static int
plan_build(struct health_plan *pl, struct bal_set *s, uint64_t now)
{
	struct cfg_errors err = { 0 };
	int n = 0;

	memset(pl, 0, sizeof(*pl));
	pl->set = s;
	if (s == NULL)
		return 0;
	for (int i = 0; i < s->npools; i++)
		if (s->pools[i].probed)
			n += s->pools[i].nsrv;
	if (n == 0)
		return 0;
	if ((pl->probes = calloc((size_t)n, sizeof(*pl->probes))) == NULL ||
	    (pl->tls = calloc((size_t)s->npools, sizeof(*pl->tls))) == NULL)
		return -ENOMEM;
	for (int i = 0; i < s->npools; i++) {
		const struct bal_pool *p = &s->pools[i];
		bool off = false;

		if (!p->probed || p->nsrv == 0)
			continue;
		if (p->cfg.tls) {
			pl->tls[i] = tls_client_new(s->file, &p->cfg, &err);
			if (pl->tls[i] == NULL) {
				log_error("pool %s: no health checks: TLS client context: %s",
					  p->cfg.name, err.text ? err.text : "failed");
				cfg_errors_free(&err);
				off = true;
			}
		}
		if (!off)
			atomic_store_explicit(&s->pools[i].probing, true, memory_order_relaxed);
		for (int j = 0; j < p->nsrv; j++) {
			struct health_probe *pr = &pl->probes[pl->nprobes++];

			pr->pool = i;
			pr->srv = j;
			pr->fd = -1;
			pr->state = off ? HP_OFF : HP_IDLE;
			pr->next_at = now;
			if ((pr->req = build_request(p, &p->srv[j])) == NULL)
				return -ENOMEM;
			pr->req_len = strlen(pr->req);
		}
	}
	return 0;
}

/* ---- the thread ------------------------------------------------------------------------- */

static void
take_pending(struct health *h)
{
	struct bal_set *s;
	bool pending;

	pthread_mutex_lock(&h->lock);
	pending = h->pending;
	s = h->next;
	h->pending = false;
	h->next = NULL;
	pthread_mutex_unlock(&h->lock);
	if (!pending)
		return;
	plan_free(&h->plan);
	if (plan_build(&h->plan, s, bal_now_ms()) < 0) {
		log_error("health checks: out of memory building the plan; checks stopped");
		plan_free(&h->plan);
	}
}

/* Starts due probes, times out late ones; returns the poll timeout in ms. */
static int
run_timers(struct health *h, uint64_t now)
{
	uint64_t next = now + 1000;

	for (int i = 0; i < h->plan.nprobes; i++) {
		struct health_probe *pr = &h->plan.probes[i];

		if (pr->state == HP_IDLE && now >= pr->next_at)
			probe_start(h, pr, now);
		if (pr->state == HP_CONNECT && now >= pr->conn_deadline)
			probe_timeout(h, pr, now);
		else if (pr->state == HP_IO && now >= pr->deadline)
			probe_timeout(h, pr, now);
		if (pr->state == HP_IDLE && pr->next_at < next)
			next = pr->next_at;
		if (pr->state == HP_CONNECT && pr->conn_deadline < next)
			next = pr->conn_deadline;
		if (pr->state == HP_IO && pr->deadline < next)
			next = pr->deadline;
	}
	return next > now ? (int)(next - now) : 0;
}

static void *
health_main(void *arg)
{
	struct health *h = arg;
	struct pollfd *pfd = NULL;
	int *idx = NULL, cap = 0;

	while (!atomic_load_explicit(&h->stop, memory_order_acquire)) {
		uint64_t now = bal_now_ms(), v;
		int n = 1, timeout;

		take_pending(h);
		timeout = run_timers(h, now);
		if (cap < h->plan.nprobes + 1) {
			cap = h->plan.nprobes + 1;
			free(pfd);
			free(idx);
			pfd = calloc((size_t)cap, sizeof(*pfd));
			idx = calloc((size_t)cap, sizeof(*idx));
			if (pfd == NULL || idx == NULL) {
				log_error("health checks: out of memory; checks stopped");
				break;
			}
		}
		pfd[0] = (struct pollfd){ .fd = h->efd, .events = POLLIN };
		for (int i = 0; i < h->plan.nprobes; i++) {
			struct health_probe *pr = &h->plan.probes[i];

			if (pr->state != HP_CONNECT && pr->state != HP_IO)
				continue;
			pfd[n] = (struct pollfd){ .fd = pr->fd, .events = POLLIN };
			if (pr->state == HP_CONNECT || probe_wants_out(pr))
				pfd[n].events |= POLLOUT;
			idx[n++] = i;
		}
		if (poll(pfd, (nfds_t)n, timeout) < 0)
			continue;	/* EINTR (signals are blocked, so unexpected) */
		if (pfd[0].revents & POLLIN)
			(void)!read(h->efd, &v, sizeof(v));
		now = bal_now_ms();
		for (int i = 1; i < n; i++)
			if (pfd[i].revents)
				probe_ready(h, &h->plan.probes[idx[i]], pfd[i].revents, now);
	}
	free(pfd);
	free(idx);
	plan_free(&h->plan);
	tls_thread_exit();
	return NULL;
}

static void
wake(struct health *h)
{
	uint64_t one = 1;

	(void)!write(h->efd, &one, sizeof(one));
}

struct health *
health_start(struct bal_set *s, const struct health_opts *opts)
{
	struct health *h = calloc(1, sizeof(*h));
	sigset_t all, old;
	int rc;

	if (h == NULL)
		goto fail;
	if (tls_init() < 0)
		log_warn("health checks: tls_init failed; TLS pools will not be probed");
	if ((h->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		log_error("health checks: eventfd: %s", strerror(errno));
		goto fail;
	}
	if (opts != NULL)
		h->opts = *opts;
	pthread_mutex_init(&h->lock, NULL);
	h->pending = true;
	h->next = s != NULL ? bal_set_get(s) : NULL;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&h->thread, NULL, health_main, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		log_error("health checks: cannot start the thread: %s", strerror(rc));
		bal_set_put(h->next);
		pthread_mutex_destroy(&h->lock);
		close(h->efd);
		goto fail;
	}
	return h;
fail:
	free(h);
	return NULL;
}

void
health_set(struct health *h, struct bal_set *s)
{
	struct bal_set *drop;

	pthread_mutex_lock(&h->lock);
	drop = h->next;		/* a set handed over earlier and not yet taken */
	h->next = s != NULL ? bal_set_get(s) : NULL;
	h->pending = true;
	pthread_mutex_unlock(&h->lock);
	bal_set_put(drop);
	wake(h);
}

void
health_stop(struct health *h)
{
	if (h == NULL)
		return;
	atomic_store_explicit(&h->stop, true, memory_order_release);
	wake(h);
	pthread_join(h->thread, NULL);
	bal_set_put(h->next);
	pthread_mutex_destroy(&h->lock);
	close(h->efd);
	free(h);
}
