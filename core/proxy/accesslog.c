#include "core/proxy/accesslog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/gen-t.h"
#include "core/io/conn-t.h"
#include "core/proxy/guard_hook.h"

int
accesslog_open(struct accesslog *a, const char *spec)
{
	a->fd = -1;
	a->owned = 0;
	a->path = NULL;
	a->len = 0;
	a->buf = NULL;
	if (spec == NULL || strcmp(spec, "off") == 0)
		return 0;
	a->buf = malloc(ALOG_BUF);
	if (a->buf == NULL)
		return -ENOMEM;
	if (strcmp(spec, "stderr") == 0) {
		a->fd = STDERR_FILENO;
		return 0;
	}
	a->path = strdup(spec);
	if (a->path == NULL)
		return -ENOMEM;
	a->fd = open(spec, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (a->fd < 0)
		return -errno;
	a->owned = 1;
	return 0;
}

void
accesslog_close(struct accesslog *a)
{
	if (a->owned && a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	free(a->buf);
	free(a->path);
	a->buf = NULL;
	a->path = NULL;
}

int
accesslog_reopen(struct accesslog *a)
{
	int fd;

	if (!a->owned)
		return 0;
	accesslog_flush(a);
	fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(a->fd);
	a->fd = fd;
	return 0;
}

void
accesslog_flush(struct accesslog *a)
{
	size_t off = 0;

	while (off < a->len) {
		ssize_t n = write(a->fd, a->buf + off, a->len - off);

		if (n <= 0)
			break;	/* a full disk must not stop the proxy: lines are dropped */
		off += (size_t)n;
	}
	a->len = 0;
}

static size_t
fmt_addr(const struct sockaddr_in6 *sa, char *out, size_t cap)
{
	const struct sockaddr *s = (const struct sockaddr *)sa;

	if (s->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, out, (socklen_t)cap);
	} else if (s->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &sa->sin6_addr, out, (socklen_t)cap);
	} else {
		snprintf(out, cap, "-");
	}
	return strlen(out);
}

size_t
accesslog_peer(const struct conn *c, char *out, size_t cap)
{
	return fmt_addr(&c->u.cli.peer, out, cap);
}

/* The auth guard's user of the request just written: " user=domain\\name" before its \n. */
static void
accesslog_user(struct accesslog *a, const char *user)
{
	int n = snprintf(a->buf + a->len - 1, ALOG_BUF - a->len + 1, " user=%s\n", user);

	if (n > 0 && (size_t)n < ALOG_BUF - a->len + 1)
		a->len += (size_t)n - 1;
}

void
accesslog_request(struct accesslog *a, struct conn *c, uint64_t now)
{
	const struct stream *s = &c->u.cli.st;
	const struct config *cfg = c->g->cfg;
	char addr[64], ts[40], *p;
	const char *pool = "-";
	char srv[300] = "-";
	struct timespec rt;
	struct tm tm;
	int n;

	if (a->fd < 0)
		return;
	if (a->len + 2048 + (s->obuf ? s->reqline_len + s->host_len : 0) > ALOG_BUF)
		accesslog_flush(a);
	fmt_addr(&c->u.cli.peer, addr, sizeof(addr));
	clock_gettime(CLOCK_REALTIME, &rt);
	gmtime_r(&rt.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (s->pool >= 0) {
		pool = cfg->pools[s->pool].name;
		if (s->srv >= 0)
			snprintf(srv, sizeof(srv), "%s:%u", cfg->pools[s->pool].servers[s->srv].host,
				 cfg->pools[s->pool].servers[s->srv].port);
	}
	p = a->buf + a->len;
	/* addr time "host" "request line" status bytes pool server total_ms backend_ms
	 * queue_len queued_ms retries */
	n = snprintf(p, ALOG_BUF - a->len,
		"%s %s \"%.*s\" \"%.*s\" %u %llu %s %s %llu %lld %u %u %u\n",
		addr, ts,
		(int)(s->obuf ? s->host_len : 1), s->obuf ? s->obuf + s->host_off : "-",
		(int)(s->obuf ? s->reqline_len : 1), s->obuf ? s->obuf : "-",
		s->status, (unsigned long long)s->bytes_out, pool, srv,
		(unsigned long long)(now - s->t_start),
		s->t_be ? (long long)((s->t_be_end ? s->t_be_end : now) - s->t_be) : -1LL,
		s->q_len, s->q_ms, s->retries);
	if (n > 0 && (size_t)n < ALOG_BUF - a->len)
		a->len += (size_t)n;
	if (n > 0 && guard_hook_user(c) != NULL)
		accesslog_user(a, guard_hook_user(c));
}
