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
#include "core/lib/xprt-t.h"
#include "core/proxy/alog_json.h"
#include "core/proxy/guard_hook.h"
#include "tls/tls.h"

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

/* The value of field name (lower case, with the colon) in the head h[0..n), or len 0. */
static struct alog_str
head_field(const char *h, size_t n, const char *name)
{
	size_t nl = strlen(name);
	struct alog_str v = { NULL, 0 };

	for (size_t i = 0; i + 2 + nl <= n; i++) {
		if (h[i] != '\n' || strncasecmp(h + i + 1, name, nl) != 0)
			continue;
		i += 1 + nl;
		while (i < n && (h[i] == ' ' || h[i] == '\t'))
			i++;
		v.p = h + i;
		while (i < n && h[i] != '\r' && h[i] != '\n')
			i++;
		v.len = (size_t)(h + i - v.p);
		return v;
	}
	return v;
}

/* method, target and version of the request line l[0..n) */
static void
split_reqline(const char *l, size_t n, struct alog_fields *f)
{
	const char *sp1 = memchr(l, ' ', n), *sp2 = NULL;

	if (sp1 != NULL)
		sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - l));
	if (sp2 == NULL)
		return;
	f->method = (struct alog_str){ l, (size_t)(sp1 - l) };
	f->target = (struct alog_str){ sp1 + 1, (size_t)(sp2 - sp1 - 1) };
	f->version = (struct alog_str){ sp2 + 1, n - (size_t)(sp2 + 1 - l) };
}

static const char *
termination(const struct stream *s)
{
	if (s->term[0] != '\0')
		return s->term;
	if (s->status == 499 || s->status == 0)
		return "client_closed";
	if (s->obuf == NULL && s->status >= 400)
		return "refused_request";	/* unparsable head, header timeout */
	return "ok";
}

/* access_log_format = json (core/proxy/alog_json.c builds the line) */
static void
accesslog_json(struct accesslog *a, struct conn *c, uint64_t now)
{
	const struct stream *s = &c->u.cli.st;
	const struct config *cfg = c->g->cfg;
	const struct sockaddr_in6 *peer = &c->u.cli.peer;
	struct alog_fields f = { .connect_ms = -1, .response_ms = -1 };
	char addr[64], ts[48], srv[300];
	struct timespec rt;
	struct tm tm;
	size_t n;

	fmt_addr(peer, addr, sizeof(addr));
	clock_gettime(CLOCK_REALTIME, &rt);
	gmtime_r(&rt.tv_sec, &tm);
	n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", rt.tv_nsec / 1000000);
	f.time = ts;
	f.client_addr = addr;
	f.client_port = ntohs(peer->sin6_port);	/* same offset in sockaddr_in */
	f.listener = c->u.cli.lidx < cfg->nlisteners ? cfg->listeners[c->u.cli.lidx].name : NULL;
	if (s->obuf != NULL) {
		f.host = (struct alog_str){ s->obuf + s->host_off, s->host_len };
		split_reqline(s->obuf, s->reqline_len, &f);
		f.user_agent = head_field(s->obuf, s->olen, "user-agent:");
	}
	f.status = s->status;
	f.bytes_in = s->head_in + s->req.bytes;
	f.bytes_out = s->bytes_out;
	f.request_ms = (int64_t)(now - s->t_start);
	if (s->pool >= 0 && s->srv >= 0) {
		snprintf(srv, sizeof(srv), "%s:%u", cfg->pools[s->pool].servers[s->srv].host,
			 cfg->pools[s->pool].servers[s->srv].port);
		f.backend = srv;
	}
	if (s->t_be_conn != 0)
		f.connect_ms = (int64_t)(s->t_be_conn - s->t_be);
	if (s->t_be_end != 0)
		f.response_ms = (int64_t)(s->t_be_end - s->t_be);
	f.termination = termination(s);
	if (xprt_queued(&c->xprt) && c->xprt.ctx != NULL) {
		f.tls_version = tls_conn_version(c->xprt.ctx);
		f.tls_cipher = tls_conn_cipher(c->xprt.ctx);
		f.tls_resumed = tls_conn_resumed(c->xprt.ctx);
	}
	f.ntlm_pinned = c->u.cli.auth || c->u.cli.pinned != NULL;
	f.user = guard_hook_user(c);
	f.queue_ms = s->q_ms;
	f.retries = s->retries;
	if (a->len + 4096 > ALOG_BUF)
		accesslog_flush(a);
	n = alog_json_line(a->buf + a->len, ALOG_BUF - a->len, &f);
	if (n == 0 && a->len > 0) {	/* a long line: retry in an empty buffer */
		accesslog_flush(a);
		n = alog_json_line(a->buf, ALOG_BUF, &f);
	}
	a->len += n;	/* 0: over ALOG_BUF even escaped, dropped */
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
	if (cfg->global.access_log_json) {
		accesslog_json(a, c, now);
		return;
	}
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
