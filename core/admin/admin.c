/*
 * The admin listener's thread: a poll() loop over one listening socket and at most
 * max_connections connections, one request each (Connection: close). See admin.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/admin/admin.h"
#include "core/admin/page.h"
#include "core/gen.h"
#include "core/http/h1.h"
#include "core/lib/cidr.h"
#include "core/lib/log.h"

#define ADMIN_HEAD_MAX		8192	/* request head; longer: 431 */
#define ADMIN_TIMEOUT_MS	10000	/* a connection that has not finished in this long closes */

struct admin_conn {
	int		 fd;
	bool		 denied;	/* outside [admin] allow: 403 once the head is in */
	bool		 writing;
	uint64_t	 deadline;
	size_t		 inlen;
	char		 in[ADMIN_HEAD_MAX];
	struct abuf	 out;
	size_t		 outoff;
	struct h1_msg	 m;
};

struct admin {
	int			 lfd;
	int			 evfd;		/* admin_stop wakes the thread */
	pthread_t		 thread;
	bool			 started;
	_Atomic int		 stop;
	_Atomic int		 draining;
	int			 maxconns;
	struct cidr_list	 allow;		/* a copy: the config may retire under us */
	char			*addr_text;
	struct admin_conn	**conns;	/* [maxconns], NULL = free slot */
	int			 nconns;
	struct admin_src	 src;
	pthread_mutex_t		 gen_lock;	/* guards gen (control publishes, we read) */
	struct generation	*gen;
};

/* ---- abuf ---- */

static bool
abuf_reserve(struct abuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->failed)
		return false;
	if (b->len + n + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 1024;
	while (cap < b->len + n + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (p == NULL) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void
abuf_put(struct abuf *b, const char *s, size_t n)
{
	if (!abuf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
abuf_puts(struct abuf *b, const char *s)
{
	abuf_put(b, s, strlen(s));
}

void
abuf_printf(struct abuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !abuf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* ---- set-up ---- */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
admin_bind(const struct cfg_bind *b)
{
	int one = 1, fd, rc;

	fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (b->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&b->addr, b->addrlen) < 0 || listen(fd, 64) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

struct admin *
admin_open(const struct cfg_admin *cfg, const char *file, bool *failed)
{
	struct admin *a;
	int fd;

	*failed = false;
	if (cfg->bind.addrlen == 0)
		return NULL;
	fd = admin_bind(&cfg->bind);
	if (fd < 0) {
		log_error("admin listener %s (%s:%d): cannot bind: %s; serving without it",
			  cfg->bind.text, file, cfg->bind.line, strerror(-fd));
		*failed = true;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		goto fail;
	a->lfd = fd;
	a->maxconns = (int)cfg->max_connections;
	a->conns = calloc((size_t)a->maxconns, sizeof(*a->conns));
	a->addr_text = strdup(cfg->bind.text);
	a->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (cfg->allow.n > 0) {
		a->allow.v = calloc((size_t)cfg->allow.n, sizeof(*a->allow.v));
		if (a->allow.v != NULL) {
			memcpy(a->allow.v, cfg->allow.v, (size_t)cfg->allow.n * sizeof(*a->allow.v));
			a->allow.n = cfg->allow.n;
		}
	}
	if (a->conns == NULL || a->addr_text == NULL || a->evfd < 0 ||
	    (cfg->allow.n > 0 && a->allow.v == NULL)) {
		admin_stop(a);
		goto fail_logged;
	}
	pthread_mutex_init(&a->gen_lock, NULL);
	log_info("admin listener on %s", cfg->bind.text);
	return a;
fail:
	close(fd);
fail_logged:
	log_error("admin listener %s: out of memory; serving without it", cfg->bind.text);
	*failed = true;
	return NULL;
}

/* ---- one connection ---- */

static void
conn_close(struct admin *a, int i)
{
	struct admin_conn *c = a->conns[i];

	close(c->fd);
	free(c->out.p);
	free(c);
	a->conns[i] = NULL;
	a->nconns--;
}

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	}
	return "Error";
}

/* The generation to render from (a reference), or NULL before the first publish. */
static struct generation *
gen_take(struct admin *a)
{
	struct generation *g;

	pthread_mutex_lock(&a->gen_lock);
	g = a->gen ? gen_get(a->gen) : NULL;
	pthread_mutex_unlock(&a->gen_lock);
	return g;
}

/* Builds the answer to the request in c (or to a parse error: status != 0). */
static void
conn_answer(struct admin *a, struct admin_conn *c, int status)
{
	struct page pg = { .status = status, .ctype = "text/plain; charset=utf-8" };
	bool head = false;

	if (status == 0 && c->denied) {
		pg.status = 403;
	} else if (status == 0) {
		char path[256];
		struct h1_span t = c->m.target;
		size_t n = t.len;
		const char *q = memchr(h1_ptr(c->in, t), '?', n);
		struct generation *g;

		if (q != NULL)
			n = (size_t)(q - h1_ptr(c->in, t));
		head = c->m.method == H1_M_HEAD;
		if (c->m.method != H1_M_GET && !head) {
			pg.status = 405;
		} else if (n == 0 || n >= sizeof(path)) {
			pg.status = 404;
		} else {
			memcpy(path, h1_ptr(c->in, t), n);
			path[n] = '\0';
			g = gen_take(a);
			page_render(&pg, path, &a->src, g, atomic_load(&a->draining) != 0);
			if (g != NULL)
				gen_put(g);
		}
	}
	if (pg.body.len == 0 && pg.status != 200 && pg.status != 503)
		abuf_printf(&pg.body, "%d %s\n", pg.status, reason(pg.status));
	abuf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		    "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n", pg.status,
		    reason(pg.status), pg.ctype, pg.body.len,
		    pg.status == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (!head && pg.body.len > 0)
		abuf_put(&c->out, pg.body.p, pg.body.len);
	free(pg.body.p);
	if (c->out.failed)
		c->out.len = 0;	/* out of memory: close without an answer */
	c->writing = true;
}

static bool
conn_read(struct admin *a, struct admin_conn *c)
{
	ssize_t n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
	int rc;

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false;
	c->inlen += (size_t)n;
	rc = h1_parse_head(&c->m, c->in, c->inlen);
	if (rc > 0)
		conn_answer(a, c, 0);
	else if (rc < 0)
		conn_answer(a, c, -rc);
	else if (c->inlen == sizeof(c->in))
		conn_answer(a, c, 431);
	return true;
}

static bool
conn_write(struct admin_conn *c)
{
	ssize_t n;

	if (c->outoff == c->out.len) {
		shutdown(c->fd, SHUT_WR);
		return false;
	}
	n = send(c->fd, c->out.p + c->outoff, c->out.len - c->outoff, MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	c->outoff += (size_t)n;
	if (c->outoff == c->out.len) {
		shutdown(c->fd, SHUT_WR);
		return false;
	}
	return true;
}

static void
do_accept(struct admin *a)
{
	while (a->nconns < a->maxconns) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct admin_conn *c;
		int fd = accept4(a->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int i;

		if (fd < 0)
			return;
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			return;
		}
		c->fd = fd;
		c->deadline = now_ms() + ADMIN_TIMEOUT_MS;
		c->denied = a->allow.n > 0 && !cidr_list_match(&a->allow, (struct sockaddr *)&ss);
		h1_msg_init(&c->m, 0);
		for (i = 0; a->conns[i] != NULL; i++)
			;
		a->conns[i] = c;
		a->nconns++;
	}
}

/* ---- the thread ---- */

static void *
admin_main(void *arg)
{
	struct admin *a = arg;
	struct pollfd *pfd = calloc((size_t)a->maxconns + 2, sizeof(*pfd));
	int *slot = calloc((size_t)a->maxconns + 2, sizeof(*slot));

	while (pfd != NULL && slot != NULL && atomic_load(&a->stop) == 0) {
		uint64_t now = now_ms();
		int n = 0;

		pfd[n++] = (struct pollfd){ .fd = a->evfd, .events = POLLIN };
		if (a->nconns < a->maxconns)
			pfd[n++] = (struct pollfd){ .fd = a->lfd, .events = POLLIN };
		for (int i = 0; i < a->maxconns; i++) {
			struct admin_conn *c = a->conns[i];

			if (c == NULL)
				continue;
			if (now >= c->deadline) {
				conn_close(a, i);
				continue;
			}
			slot[n] = i;
			pfd[n++] = (struct pollfd){ .fd = c->fd,
						    .events = c->writing ? POLLOUT : POLLIN };
		}
		if (poll(pfd, (nfds_t)n, 1000) <= 0)
			continue;
		for (int k = 1; k < n; k++) {
			struct admin_conn *c;
			bool keep;

			if (pfd[k].revents == 0)
				continue;
			if (pfd[k].fd == a->lfd) {
				do_accept(a);
				continue;
			}
			c = a->conns[slot[k]];
			keep = c->writing ? conn_write(c) : conn_read(a, c);
			if (keep && c->writing)
				keep = conn_write(c);
			if (!keep)
				conn_close(a, slot[k]);
		}
	}
	free(pfd);
	free(slot);
	return NULL;
}

int
admin_start(struct admin *a, struct worker *ws, int nw)
{
	int rc;

	a->src.ws = ws;
	a->src.nw = nw;
	a->src.start_time = time(NULL);
	rc = pthread_create(&a->thread, NULL, admin_main, a);
	if (rc != 0) {
		log_error("admin listener: cannot start its thread: %s", strerror(rc));
		return -rc;
	}
	a->started = true;
	return 0;
}

void
admin_publish(struct admin *a, struct generation *g)
{
	struct generation *old;

	if (a == NULL)
		return;
	gen_get(g);
	pthread_mutex_lock(&a->gen_lock);
	old = a->gen;
	a->gen = g;
	pthread_mutex_unlock(&a->gen_lock);
	if (old != NULL)
		gen_put(old);
}

void
admin_set_draining(struct admin *a)
{
	if (a != NULL)
		atomic_store(&a->draining, 1);
}

void
admin_stop(struct admin *a)
{
	uint64_t one = 1;

	if (a == NULL)
		return;
	atomic_store(&a->stop, 1);
	if (a->started) {
		if (write(a->evfd, &one, sizeof(one)) < 0)
			log_debug("admin: wake: %s", strerror(errno));
		pthread_join(a->thread, NULL);
	}
	for (int i = 0; a->conns != NULL && i < a->maxconns; i++)
		if (a->conns[i] != NULL)
			conn_close(a, i);
	if (a->gen != NULL) {
		gen_put(a->gen);
		pthread_mutex_destroy(&a->gen_lock);
	}
	if (a->evfd >= 0)
		close(a->evfd);
	close(a->lfd);
	free(a->conns);
	free(a->allow.v);
	free(a->addr_text);
	free(a);
}
