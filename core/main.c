/*
 * ringedge entry point: command line, configuration check. The control thread lives here.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "core/gen.h"
#include "core/log.h"
#include "core/timer.h"
#include "core/worker.h"
#include "routing/qsbr.h"
#include "tls/tlsinfo.h"

/* One listening socket per worker per bind: SO_REUSEPORT lets the kernel spread accepts. */
static int
listen_on(const struct cfg_bind *b)
{
	int fd, one = 1;

	fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)&b->addr, b->addrlen) < 0 ||
	    listen(fd, 4096) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
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
	w->ls = calloc((size_t)n, sizeof(*w->ls));
	if (w->ls == NULL)
		return -ENOMEM;
	for (int l = 0; l < c->nlisteners; l++) {
		for (int b = 0; b < c->listeners[l].nbinds; b++) {
			const struct cfg_bind *bd = &c->listeners[l].binds[b];
			int fd = listen_on(bd);

			if (fd < 0) {
				log_error("%s:%d: listener %s: cannot listen on %s: %s", c->file,
					  bd->line, c->listeners[l].name, bd->text, strerror(-fd));
				return fd;
			}
			w->ls[w->nls].fd = fd;
			w->ls[w->nls].lidx = (uint16_t)l;
			w->nls++;
		}
	}
	return 0;
}

/* The control thread: starts workers, then waits for signals until they all exit. */
static int
serve(struct config *c)
{
	static struct dp_shared sh;
	struct generation *g;
	struct worker *ws;
	sigset_t set;
	int nw, sfd, rc = 0, started = 0;
	const char *e;

	nw = c->global.workers > 0 ? c->global.workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (nw < 1)
		nw = 1;
	log_threshold = c->global.log_level;
	g = gen_build(c, 1);
	if (g == NULL)
		return 1;
	sh.qsbr = qsbr_domain_new((unsigned)nw);
	if (sh.qsbr == NULL) {
		gen_put(g);
		return 1;
	}
	atomic_store(&sh.gen, g);
	sh.use_splice = true;
	sh.splice_min = 64 * 1024;
	/* benchmark knobs (docs/internals.md): not configuration, so not in the INI table */
	if ((e = getenv("RINGEDGE_SPLICE")) != NULL)
		sh.use_splice = atoi(e) != 0;
	if ((e = getenv("RINGEDGE_SPLICE_MIN")) != NULL)
		sh.splice_min = strtoull(e, NULL, 10);

	/* signals go to this thread only: block them before any worker exists */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0) {
		log_error("signalfd: %s", strerror(errno));
		return 1;
	}

	ws = calloc((size_t)nw, sizeof(*ws));
	if (ws == NULL)
		return 1;
	for (int i = 0; i < nw; i++) {
		ws[i].id = i;
		ws[i].sh = &sh;
		if (open_listeners(&ws[i], g->cfg) < 0) {
			close_listeners(ws, i + 1);
			return 1;
		}
	}
	for (int i = 0; i < nw; i++) {
		if (worker_start(&ws[i]) < 0) {
			log_error("cannot start worker %d", i);
			atomic_store(&sh.stop, 1);
			break;
		}
		started++;
	}
	log_info("ringedge %s serving %s with %d worker%s (pid %d)", RINGEDGE_VERSION,
		 g->cfg->file, started, started == 1 ? "" : "s", (int)getpid());

	for (bool stopping = atomic_load(&sh.stop) != 0; ; ) {
		struct pollfd pfd = { .fd = sfd, .events = POLLIN };
		struct signalfd_siginfo si;

		if (atomic_load_explicit(&sh.running, memory_order_acquire) == 0)
			break;
		qsbr_reclaim(sh.qsbr);
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGUSR1) {
			log_info("SIGUSR1: reopening log files");
			atomic_fetch_add(&sh.reopen, 1);
		} else if (si.ssi_signo == SIGHUP) {
			log_info("SIGHUP: reload is not implemented yet; ignored");
			continue;
		} else if (!stopping) {
			stopping = true;
			sh.drain_deadline_ms = timer_now_ms() + g->cfg->global.drain_timeout;
			log_info("%s: stopping: no new connections, draining for up to %llu ms",
				 strsignal((int)si.ssi_signo),
				 (unsigned long long)g->cfg->global.drain_timeout);
			atomic_store_explicit(&sh.stop, 1, memory_order_release);
		} else {
			continue;
		}
		for (int i = 0; i < started; i++)
			worker_wake(&ws[i]);
	}
	for (int i = 0; i < started; i++) {
		if (worker_join(&ws[i]) != 0)
			rc = 1;
		free(ws[i].ls);
	}
	free(ws);
	close(sfd);
	/* the published reference; workers already dropped theirs */
	g = qsbr_publish(&sh.gen, NULL);
	qsbr_domain_free(sh.qsbr);
	if (g != NULL)
		gen_put(g);
	log_info("stopped");
	return rc;
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
		"      --config-reference  the key reference (Markdown) of docs/configuration.md\n");
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
		{ "config-reference", no_argument, NULL, 'R' },
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
	if (test) {
		if (dump)
			config_dump(c, stdout);
		printf("configuration ok\n");
		config_free(c);
		return 0;
	}
	if (!tls_info_fast())
		log_warn("AES-NI is OFF: linked against the system libwolfssl");
	cfg_errors_free(&err);
	return serve(c);
}
