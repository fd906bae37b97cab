/*
 * ringedge entry point: command line, configuration check. The control thread lives here.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#if RINGEDGE_ACME
#include "core/acme/acme.h"
#endif
#include "core/accept_limit.h"
#include "core/admin/admin.h"
#include "core/acme/ctl.h"
#include "core/gen.h"
#include "core/io/timer.h"
#include "core/lib/log.h"
#include "core/notify.h"
#include "core/proxy/guard_hook.h"
#include "core/proxy/limits.h"
#include "core/worker.h"
#include "routing/pool/health.h"
#include "routing/qsbr.h"
#include "tls/tls.h"
#include "tls/tlsinfo.h"

/*
 * An IPv6 bind is IPv6 only (nginx's default, whatever net.ipv6.bindv6only says): with the
 * Linux default a [::]:443 socket would also take IPv4 and collide with 0.0.0.0:443, the pair
 * every dual-stack configuration (config/lync-edge.ini) lists. 0 or -1 (errno set).
 */
static int
v6only(int fd, const struct sockaddr_storage *addr)
{
	int one = 1;

	if (addr->ss_family != AF_INET6)
		return 0;
	return setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
}

/* One listening socket per worker per bind: SO_REUSEPORT lets the kernel spread accepts. */
static int
listen_on(const struct sockaddr_storage *addr, socklen_t alen)
{
	int fd, one = 1;

	fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    v6only(fd, addr) < 0 ||
	    bind(fd, (const struct sockaddr *)addr, alen) < 0 ||
	    listen(fd, 4096) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/*
 * SO_REUSEPORT would silently share the port with another process already listening there
 * (a second ringedge, an old instance): bind once without it first, which fails with
 * EADDRINUSE if anyone listens on the address. 0 or -errno.
 */
static int
probe_bind(const struct sockaddr_storage *addr, socklen_t alen)
{
	int fd, one = 1, rc = 0;

	fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    v6only(fd, addr) < 0 || bind(fd, (const struct sockaddr *)addr, alen) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static void
log_bind_error(const struct config *c, const struct cfg_bind *bd, int err)
{
	char why[128];

	snprintf(why, sizeof(why), "%s", strerror(-err));
	why[0] = (char)tolower((unsigned char)why[0]);
	log_error("%s:%d: bind %s: %s", c->file, bd->line, bd->text, why);
}

static void
close_listeners(struct worker *ws, int n)
{
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < ws[i].nls; j++)
			if (ws[i].ls[j].fd >= 0)
				close(ws[i].ls[j].fd);
		free(ws[i].ls);
	}
}

static int
open_listeners(struct worker *w, const struct config *c)
{
	int n = 0;

	for (int l = 0; l < c->nlisteners; l++)
		n += c->listeners[l].nbinds;
	w->ls = calloc((size_t)n + 1, sizeof(*w->ls));
	if (w->ls == NULL)
		return -ENOMEM;
	for (int l = 0; l < c->nlisteners; l++) {
		for (int b = 0; b < c->listeners[l].nbinds; b++) {
			const struct cfg_bind *bd = &c->listeners[l].binds[b];
			int fd = w->id == 0 ? probe_bind(&bd->addr, bd->addrlen) : 0;

			if (fd == 0)
				fd = listen_on(&bd->addr, bd->addrlen);
			if (fd < 0) {
				log_bind_error(c, bd, fd);
				return fd;
			}
			w->ls[w->nls].fd = fd;
			w->ls[w->nls].lidx = (uint16_t)l;
			memcpy(&w->ls[w->nls].addr, &bd->addr, bd->addrlen);
			w->ls[w->nls].addrlen = bd->addrlen;
			w->nls++;
		}
	}
	return 0;
}

/*
 * [global] user: after binding, become that user (supplementary groups, gid, uid, in that
 * order: setgid after setuid would fail). Before any thread starts, so every thread runs
 * as the user. 0 or -1 (logged: start-up fails rather than run as root by mistake).
 */
static int
drop_privileges(const struct config *c)
{
	const char *u = c->global.user;
	struct passwd *pw;

	if (u == NULL)
		return 0;
	errno = 0;
	pw = getpwnam(u);
	if (pw == NULL) {
		log_error("%s: [global] user %s: %s", c->file, u,
			  errno != 0 ? strerror(errno) : "no such user");
		return -1;
	}
	/*
	 * The log files were created by root (the -t check, error_log): give them to the user,
	 * as nginx does for its workers, so the workers can open the access log and SIGUSR1 can
	 * reopen both. (A rotated file is created anew in its directory: the user needs write
	 * access there for that.)
	 */
	for (int i = 0; i < 2; i++) {
		const char *f = i == 0 ? c->global.access_log : c->global.error_log;

		if (f != NULL && strcmp(f, "stderr") != 0 && strcmp(f, "off") != 0 &&
		    chown(f, pw->pw_uid, (gid_t)-1) < 0)
			log_warn("%s: [global] user %s: cannot give %s to the user: %s", c->file, u,
				 f, strerror(errno));
	}
	if (initgroups(u, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		log_error("%s: [global] user %s: cannot drop privileges: %s", c->file, u,
			  strerror(errno));
		return -1;
	}
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		log_error("%s: [global] user %s: root could be regained; refusing to run",
			  c->file, u);
		return -1;
	}
	log_info("running as user %s (uid %u, gid %u)", u, (unsigned)pw->pw_uid,
		 (unsigned)pw->pw_gid);
	return 0;
}

/* What the control thread keeps while serving. */
struct ctl {
	struct dp_shared	*sh;
	struct worker		*ws;
	int			 nw;
	int			 started;
	const char		*file;
	struct health		*health;
	unsigned		 next_id;
	char			*errlog;	/* error_log as configured at start (SIGUSR1) */
	int			 sfd;		/* signalfd */
	bool			 stopping;
	uint64_t		 rotate_ms;	/* session-ticket key period */
	uint64_t		 rotate_next;
	struct admin		*admin;		/* NULL: no [admin] listen (or it failed to bind) */
	uint64_t		 stop_at;	/* drain_delay running: the drain starts then */
	int			 stop_signo;
};

static bool
old_has_bind(const struct generation *old, const struct gen_bind *b)
{
	for (int i = 0; i < old->nbinds; i++)
		if (old->binds[i].addrlen == b->addrlen &&
		    memcmp(&old->binds[i].addr, &b->addr, b->addrlen) == 0)
			return true;
	return false;
}

/* Opens one socket per worker for each bind of g that old does not have. 0 or -errno. */
static int
reload_listeners(struct ctl *x, struct generation *g, const struct generation *old)
{
	int n = 0;

	for (int l = 0; l < g->cfg->nlisteners; l++) {
		for (int b = 0; b < g->cfg->listeners[l].nbinds; b++, n++) {
			const struct cfg_bind *bd = &g->cfg->listeners[l].binds[b];
			struct gen_bind *gb = &g->binds[n];
			int rc;

			if (old_has_bind(old, gb))
				continue;
			gb->fds = malloc((size_t)x->nw * sizeof(*gb->fds));
			if (gb->fds == NULL)
				return -ENOMEM;
			for (int w = 0; w < x->nw; w++)
				gb->fds[w] = -1;
			if ((rc = probe_bind(&bd->addr, bd->addrlen)) < 0) {
				log_bind_error(g->cfg, bd, rc);
				return rc;
			}
			for (int w = 0; w < x->nw; w++) {
				gb->fds[w] = listen_on(&bd->addr, bd->addrlen);
				if (gb->fds[w] < 0) {
					log_bind_error(g->cfg, bd, gb->fds[w]);
					return gb->fds[w];
				}
			}
			log_info("reload: listener %s: new bind %s", g->cfg->listeners[l].name,
				 bd->text);
		}
	}
	return 0;
}

/* Logs every "FILE:LINE: message" line of a failed load. */
static void
log_cfg_errors(const struct cfg_errors *err)
{
	const char *p = err->text;

	while (p != NULL && *p != '\0') {
		const char *nl = strchr(p, '\n');
		int len = nl != NULL ? (int)(nl - p) : (int)strlen(p);

		if (len > 0)
			log_error("%.*s", len, p);
		p = nl != NULL ? nl + 1 : NULL;
	}
}

/*
 * SIGHUP: load and check the file again; on any error keep the running generation. Else
 * build the next generation (server state carried over by host:port), open the new binds,
 * publish it, and wait until every worker adopted it (so the next reload starts from a
 * known set of listening sockets). The old generation is retired through QSBR and freed by
 * its last user. NULL, or why the reload was refused (one line, for the service manager).
 */
/* why a reload was refused, from its config errors: "N errors: FIRST LINE" (static). */
static const char *
reload_why(const struct cfg_errors *err)
{
	static char why[256];

	snprintf(why, sizeof(why), "%d error%s: %.*s", err->count, err->count == 1 ? "" : "s",
		 err->text ? (int)strcspn(err->text, "\n") : 0, err->text ? err->text : "");
	return why;
}

static bool
str_differs(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") != 0;
}

/* [global] keys that a reload does not apply: say so. */
static void
reload_warn_restart_only(const struct config *c, const struct config *old)
{
	if (c->global.workers != old->global.workers)
		log_warn("reload: [global] workers changes at the next restart");
	if (str_differs(c->global.user, old->global.user))
		log_warn("reload: [global] user changes at the next restart");
	if (str_differs(c->global.access_log, old->global.access_log))
		log_warn("reload: [global] access_log changes at the next restart");
	if (str_differs(c->global.error_log, old->global.error_log))
		log_warn("reload: [global] error_log changes at the next restart");
}

/* Waits (bounded) until every worker adopted g and removed binds are closed. */
static void
reload_wait_adopted(struct ctl *x, const struct generation *g)
{
	struct dp_shared *sh = x->sh;
	uint64_t deadline = timer_now_ms() + 10000;

	for (int i = 0; i < x->started; i++) {
		while (atomic_load_explicit(&x->ws[i].gen_seen, memory_order_acquire) != g->id &&
		       atomic_load_explicit(&sh->running, memory_order_acquire) > 0 &&
		       timer_now_ms() < deadline)
			usleep(1000);
	}
	/*
	 * Removed binds close in their workers once the multishot accept is cancelled: wait for
	 * it, so the port is free when this returns (a next reload may bind it again at once).
	 */
	while (atomic_load_explicit(&sh->lsock_closing, memory_order_acquire) > 0 &&
	       atomic_load_explicit(&sh->running, memory_order_acquire) > 0 &&
	       timer_now_ms() < deadline)
		usleep(1000);
}

static const char *
reload(struct ctl *x)
{
	static char why[256];
	struct dp_shared *sh = x->sh;
	struct generation *old = qsbr_deref(&sh->gen), *g;
	struct cfg_errors err = { 0 };
	const char *refused = NULL;
	struct config *c;
	int rc;

	c = config_load(x->file, 0, &err);
	if (c == NULL) {
		log_cfg_errors(&err);
		log_error("reload: %s has %d error%s; still serving generation %u", x->file,
			  err.count, err.count == 1 ? "" : "s", old->id);
		refused = reload_why(&err);
		cfg_errors_free(&err);
		return refused;
	}
	cfg_errors_free(&err);
	reload_warn_restart_only(c, old->cfg);
	/* TLS listeners and pools read their certificates, keys and CAs again here */
	g = gen_build(c, x->next_id, x->nw, old, &err);
	if (g == NULL) {
		log_cfg_errors(&err);
		if (err.count > 0)
			log_error("reload: %s has %d error%s; still serving generation %u", x->file,
				  err.count, err.count == 1 ? "" : "s", old->id);
		else
			log_error("reload: still serving generation %u", old->id);
		refused = reload_why(&err);
		cfg_errors_free(&err);
		return refused;
	}
	cfg_errors_free(&err);
	if ((rc = reload_listeners(x, g, old)) < 0) {
		log_error("reload: still serving generation %u", old->id);
		gen_put(g);	/* closes the sockets it opened */
		snprintf(why, sizeof(why), "cannot bind a new listener: %s", strerror(-rc));
		return why;
	}
	x->next_id++;
	log_threshold = g->cfg->global.log_level;
	old = qsbr_publish(&sh->gen, g);
	admin_publish(x->admin, g);
	for (int i = 0; i < x->started; i++)
		worker_wake(&x->ws[i]);
	health_set(x->health, g->bal);
	acmectl_reload(g->cfg);
	qsbr_retire(sh->qsbr, old, gen_retire_cb);
	reload_wait_adopted(x, g);
	qsbr_reclaim(sh->qsbr);
	guard_hook_reload(g->cfg);
	log_info("reload: generation %u serving %s", g->id, x->file);
	return NULL;
}

/* Session-ticket keys: the first one now, a new one every TLS_TICKET_ROTATE_S seconds
 * (RINGEDGE_TICKET_ROTATE_MS overrides it for tests). Control thread. */
static int
tickets_start(uint64_t *period_ms)
{
	const char *e = getenv("RINGEDGE_TICKET_ROTATE_MS");
	int rc;

	*period_ms = (uint64_t)TLS_TICKET_ROTATE_S * 1000;
	if (e != NULL && atoll(e) > 0)
		*period_ms = (uint64_t)atoll(e);
	if (tls_init() < 0) {
		log_error("wolfSSL initialisation failed");
		return -1;
	}
	rc = tls_tickets_init(&tls_tickets_global);
	if (rc < 0) {
		log_error("session-ticket keys: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

static void
tickets_tick(uint64_t *next_ms, uint64_t period_ms)
{
	uint64_t now = timer_now_ms();
	int rc;

	if (now < *next_ms)
		return;
	*next_ms = now + period_ms;
	rc = tls_tickets_rotate(&tls_tickets_global);
	if (rc < 0)
		log_error("session-ticket key rotation: %s (the current key stays)", strerror(-rc));
	else
		log_info("session-ticket keys rotated (next in %llu s)",
			 (unsigned long long)(period_ms / 1000));
}

/* Data-plane knobs from the environment: benchmark switches (docs/internals.md), not
 * configuration, so not in the INI table. */
static void
splice_knobs(struct dp_shared *sh)
{
	const char *e;

	sh->use_splice = true;
	sh->splice_min = 64 * 1024;
	if ((e = getenv("RINGEDGE_SPLICE")) != NULL)
		sh->use_splice = atoi(e) != 0;
	if ((e = getenv("RINGEDGE_SPLICE_MIN")) != NULL)
		sh->splice_min = strtoull(e, NULL, 10);
}

/*
 * The error log, session-ticket keys, the first generation and the QSBR domain. Returns the
 * generation (published in x->sh->gen), or NULL after undoing what it did (c is consumed).
 */
/* Start-up: raise the soft fd limit toward max_connections' needs; warn when it cannot. */
static void
fd_limit_warn(const struct config *c)
{
	char msg[512];
	uint64_t have;

	if (accept_limit_check_fds(c->global.max_connections, &have, msg, sizeof(msg)) != 0)
		log_warn("%s", msg);
}

static struct generation *
serve_prepare(struct ctl *x, struct config *c, int nw)
{
	struct cfg_errors err = { 0 };
	struct generation *g;
	int rc;

	log_threshold = c->global.log_level;
	/*
	 * The error log first, so start-up warnings (certificate expiry, verify = off) land in
	 * it; until "serving" they are copied to the stderr we were started with as well. Opened
	 * as root, before dropping privileges, like the listeners.
	 */
	x->errlog = c->global.error_log != NULL ? strdup(c->global.error_log) : NULL;
	if ((rc = log_open(x->errlog)) < 0) {
		log_error("%s: error_log %s: %s", c->file, x->errlog, strerror(-rc));
		config_free(c);
		return NULL;
	}
	fd_limit_warn(c);
	if (tickets_start(&x->rotate_ms) < 0) {
		config_free(c);
		return NULL;
	}
	x->rotate_next = timer_now_ms() + x->rotate_ms;
	g = gen_build(c, 1, nw, NULL, &err);
	if (g == NULL) {
		/* start-up errors are FILE:LINE: why, like the configuration's */
		log_raw(err.text ? err.text : "cannot build the first generation\n");
		cfg_errors_free(&err);
		tls_tickets_destroy(&tls_tickets_global);
		return NULL;
	}
	cfg_errors_free(&err);
	x->sh->qsbr = qsbr_domain_new((unsigned)nw);
	if (x->sh->qsbr == NULL) {
		gen_put(g);
		tls_tickets_destroy(&tls_tickets_global);
		return NULL;
	}
	atomic_store(&x->sh->gen, g);
	splice_knobs(x->sh);
	return g;
}

/* Signals go to this thread only: blocked before any worker exists. The signalfd, or -1. */
static int
signals_block(void)
{
	sigset_t set;
	int sfd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		log_error("signalfd: %s", strerror(errno));
	return sfd;
}

/* Listeners (as root), privileges dropped, the health thread, the workers. 0 or -1 (the
 * listeners are closed again). */
static int
workers_start(struct ctl *x, struct worker *ws, int nw, const struct generation *g)
{
	int started = 0;

	for (int i = 0; i < nw; i++) {
		ws[i].id = i;
		ws[i].sh = x->sh;
		if (open_listeners(&ws[i], g->cfg) < 0) {
			close_listeners(ws, i + 1);
			return -1;
		}
	}
	acmectl_prepare(g->cfg);	/* state directories, owned by [global] user */
	if (drop_privileges(g->cfg) < 0) {
		close_listeners(ws, nw);
		return -1;
	}
	/* probes every pool with health_check; passive downs end at fail_timeout without it */
	x->health = health_start(g->bal, NULL);
	if (x->health == NULL) {
		close_listeners(ws, nw);
		return -1;
	}
	acmectl_start(g->cfg);	/* a failure is logged; serving goes on without renewals */
	for (int i = 0; i < nw; i++) {
		if (worker_start(&ws[i]) < 0) {
			log_error("cannot start worker %d", i);
			atomic_store(&x->sh->stop, 1);
			break;
		}
		started++;
	}
	x->ws = ws;
	x->nw = nw;
	x->started = started;
	return 0;
}

static void
workers_wake(struct ctl *x)
{
	for (int i = 0; i < x->started; i++)
		worker_wake(&x->ws[i]);
}

static void
on_sigusr1(struct ctl *x)
{
	int lrc;

	log_info("SIGUSR1: reopening log files");
	lrc = log_open(x->errlog);
	atomic_fetch_add(&x->sh->reopen, 1);
	workers_wake(x);
	if (lrc < 0)
		log_error("SIGUSR1: error_log %s: %s (still writing to the old one)", x->errlog,
			  strerror(-lrc));
	else if (x->errlog != NULL && strcmp(x->errlog, "stderr") != 0)
		log_info("error log reopened");
}

/* SIGTERM/SIGINT: /healthz says 503; after [admin] drain_delay (a second signal cuts it
 * short), stop accepting and drain for up to drain_timeout. */
static void
on_stop_signal(struct ctl *x, int signo)
{
	struct generation *g = qsbr_deref(&x->sh->gen);

	if (x->stopping)
		return;
	admin_set_draining(x->admin);
	if (x->stop_at == 0)
		notify_stopping();	/* at the first signal, before drain_delay */
	if (x->stop_at == 0 && g->cfg->admin.drain_delay > 0) {
		x->stop_at = timer_now_ms() + g->cfg->admin.drain_delay;
		x->stop_signo = signo;
		log_info("%s: /healthz answers 503; draining starts in %llu ms (drain_delay)",
			 strsignal(signo), (unsigned long long)g->cfg->admin.drain_delay);
		return;
	}
	x->stopping = true;
	x->sh->drain_deadline_ms = timer_now_ms() + g->cfg->global.drain_timeout;
	log_info("%s: stopping: no new connections, draining for up to %llu ms", strsignal(signo),
		 (unsigned long long)g->cfg->global.drain_timeout);
	atomic_store_explicit(&x->sh->stop, 1, memory_order_release);
	workers_wake(x);
}

/* Request heads received by every worker so far (their admin counters, relaxed loads). */
static uint64_t
requests_total(const struct ctl *x)
{
	uint64_t n = 0;

	for (int w = 0; w < x->started; w++)
		for (int l = 0; l < CTR_LISTENERS; l++)
			n += __atomic_load_n(&x->ws[w].ctr.l[l].requests, __ATOMIC_RELAXED);
	return n;
}

/* Waits for signals (and reclaims, rotates ticket keys) until every worker has exited. */
static void
control_loop(struct ctl *x)
{
	x->stopping = atomic_load(&x->sh->stop) != 0;
	for (;;) {
		struct pollfd pfd = { .fd = x->sfd, .events = POLLIN };
		struct signalfd_siginfo si;

		if (atomic_load_explicit(&x->sh->running, memory_order_acquire) == 0)
			break;
		qsbr_reclaim(x->sh->qsbr);
		tickets_tick(&x->rotate_next, x->rotate_ms);
		if (acmectl_take_issued() && !x->stopping) {
			log_info("acme: new certificate files: reloading %s", x->file);
			reload(x);
		}
		notify_tick(atomic_load_explicit(&x->sh->nconns, memory_order_relaxed),
			    requests_total(x));
		guard_hook_tick(timer_now_ms());
		if (x->stop_at != 0 && !x->stopping && timer_now_ms() >= x->stop_at)
			on_stop_signal(x, x->stop_signo);
		if (poll(&pfd, 1, x->stop_at != 0 && !x->stopping ? 20 : 200) <= 0)
			continue;
		if (read(x->sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGUSR1) {
			on_sigusr1(x);
		} else if (si.ssi_signo == SIGHUP) {
			if (x->stopping) {
				log_info("SIGHUP while stopping: ignored");
			} else {
				const char *why;

				log_info("SIGHUP: reloading %s", x->file);
				notify_reloading();
				why = reload(x);
				notify_reloaded(x->next_id - 1, why);
			}
		} else {
			on_stop_signal(x, (int)si.ssi_signo);
		}
	}
}

/* Joins the workers and releases what serve() built. Returns 1 if a worker failed. */
static int
serve_end(struct ctl *x)
{
	struct generation *g;
	int rc = 0;

	for (int i = 0; i < x->started; i++) {
		if (worker_join(&x->ws[i]) != 0)
			rc = 1;
		free(x->ws[i].ls);
	}
	health_stop(x->health);
	admin_stop(x->admin);
	acmectl_stop();
	free(x->ws);
	close(x->sfd);
	/* the published reference; workers already dropped theirs */
	g = qsbr_publish(&x->sh->gen, NULL);
	qsbr_domain_free(x->sh->qsbr);
	if (g != NULL)
		gen_put(g);
	tls_tickets_destroy(&tls_tickets_global);
	guard_hook_stop();
	limits_stop();
	log_info("stopped");
	free(x->errlog);
	return rc;
}

/* The control thread: starts workers, then waits for signals until they all exit. */
static int
serve(struct config *c, const char *file)
{
	static struct dp_shared sh;
	struct ctl x = { .sh = &sh, .file = file, .next_id = 2, .sfd = -1 };
	struct generation *g;
	struct worker *ws = NULL;
	bool admin_failed;
	int nw;

	nw = c->global.workers > 0 ? c->global.workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (nw < 1)
		nw = 1;
	g = serve_prepare(&x, c, nw);
	if (g == NULL) {
		free(x.errlog);
		return 1;
	}
	x.sfd = signals_block();
	if (x.sfd < 0)
		goto fail;
	x.admin = admin_open(&g->cfg->admin, g->cfg->file, &admin_failed);
	guard_hook_start(g->cfg);
	limits_start();
	ws = calloc((size_t)nw, sizeof(*ws));
	if (ws == NULL || workers_start(&x, ws, nw, g) < 0)
		goto fail;
	admin_publish(x.admin, g);
	if (x.admin != NULL && admin_start(x.admin, ws, x.started) < 0) {
		admin_stop(x.admin);
		x.admin = NULL;
	}
	log_info("ringedge %s serving %s with %d worker%s (pid %d)", RINGEDGE_VERSION,
		 g->cfg->file, x.started, x.started == 1 ? "" : "s", (int)getpid());
	log_tee_end();	/* from here on, error_log only */
	if (x.started == nw)
		notify_ready(x.started);
	control_loop(&x);
	return serve_end(&x);
fail:
	admin_stop(x.admin);
	free(ws);
	if (x.sfd >= 0)
		close(x.sfd);
	free(x.errlog);
	g = qsbr_publish(&sh.gen, NULL);
	qsbr_domain_free(sh.qsbr);
	gen_put(g);
	tls_tickets_destroy(&tls_tickets_global);
	return 1;
}

static int
check_only(struct config *c, const char *file, bool dump)
{
	struct cfg_errors err = { 0 };
	struct generation *g;
	uint64_t rotate_ms;

	if (dump)
		config_dump(c, stdout);
#if RINGEDGE_ACME
	/* [acme NAME]: account key parses, CA bundle readable; the server is not contacted */
	if (acme_check_config(c, &err) > 0) {
		fputs(err.text, stderr);
		fprintf(stderr, "ringedge: configuration %s test failed (%d error%s)\n", file,
			err.count, err.count == 1 ? "" : "s");
		cfg_errors_free(&err);
		config_free(c);
		return 1;
	}
#endif
	if (tickets_start(&rotate_ms) < 0) {
		config_free(c);
		return 1;
	}
	g = gen_build(c, 0, 1, NULL, &err);
	if (g == NULL) {
		tls_tickets_destroy(&tls_tickets_global);
		fputs(err.text ? err.text : "cannot load the configuration\n", stderr);
		fprintf(stderr, "ringedge: configuration %s test failed (%d error%s)\n", file,
			err.count, err.count == 1 ? "" : "s");
		cfg_errors_free(&err);
		return 1;
	}
	gen_put(g);
	tls_tickets_destroy(&tls_tickets_global);
	cfg_errors_free(&err);
	printf("configuration ok\n");
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: ringedge [-t | -T] -c FILE\n"
		"       ringedge --version | --config-reference\n"
		"\n"
		"  -c, --config FILE     configuration file (INI)\n"
		"  -t, --test            check the configuration, print \"configuration ok\" or the\n"
		"                        errors as FILE:LINE: message; exit 0 or 1 (like nginx -t)\n"
		"  -T, --dump            check, then print the effective configuration with defaults\n"
		"  -v, --version         version and the wolfSSL it was built with\n"
		"      --config-reference[=markdown|man]\n"
		"                        the key reference of docs/configuration.md (Markdown), or\n"
		"                        of ringedge.ini(5) (man: roff)\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "dump", no_argument, NULL, 'T' },
		{ "version", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "config-reference", optional_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL;
	bool test = false, dump = false;
	struct cfg_errors err = { 0 };
	struct config *c;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:tTvh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 't':
			test = true;
			break;
		case 'T':
			test = dump = true;
			break;
		case 'v':
			printf("ringedge %s\n", RINGEDGE_VERSION);
			tls_info_print(stdout);
			return 0;
		case 'R':
			if (optarg != NULL && strcmp(optarg, "man") == 0) {
				config_write_reference_man(stdout);
				return 0;
			}
			if (optarg != NULL && strcmp(optarg, "markdown") != 0) {
				usage(stderr);
				return 1;
			}
			config_write_reference(stdout);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc || file == NULL) {
		usage(stderr);
		return 1;
	}

	c = config_load(file, 0, &err);
	if (c == NULL) {
		fputs(err.text ? err.text : "configuration failed\n", stderr);
		fprintf(stderr, "ringedge: configuration %s test failed (%d error%s)\n", file,
			err.count, err.count == 1 ? "" : "s");
		cfg_errors_free(&err);
		return 1;
	}
	if (test)
		return check_only(c, file, dump);
	if (!tls_info_fast())
		log_warn("AES-NI is OFF: linked against the system libwolfssl");
	cfg_errors_free(&err);
	return serve(c, file);
}
