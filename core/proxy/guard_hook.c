/*
 * The auth guard in the stream (core/proxy/guard_hook.h, docs/auth-guard.md "In the stream").
 * The counting is core/guard/guard.c (one table per process, sharded locks), the parsing
 * core/guard/cred.c, the local answers core/guard/answer.c; this file only connects them to
 * the exchange: which request is an attempt, when to answer here, what to log.
 */
#include "core/proxy/guard_hook.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/admin/counters.h"
#include "core/gen.h"
#include "core/guard/answer.h"
#include "core/guard/cred.h"
#include "core/guard/guard.h"
#include "core/guard/store.h"
#include "core/http/h1.h"
#include "core/io/conn.h"
#include "core/io/timer.h"
#include "core/lib/hash.h"
#include "core/lib/log.h"
#include "core/proxy/client.h"
#include "core/proxy/proxy.h"
#include "core/proxy/stream.h"
#include "core/worker-t.h"

#define GH_CHAL_SLOTS	64	/* pools whose 401 challenges are remembered (by name hash) */
#define GH_CHAL_MAX	3
#define GH_CHAL_LEN	160

/* One attempt of the exchange, from its request head to its response head. */
struct guard_hook_att {
	struct guard_attempt a;
	enum cred_kind	 kind;
	long		 ridx;		/* the route's index, for the counters */
	bool		 log_only;
	bool		 keep;		/* a local answer keeps the connection */
	char		 user[GUARD_NAME_MAX];	/* printable, for the access log */
};

/* The WWW-Authenticate values of the last bare 401 of a pool (IIS's usual schemes), copied
 * into local answers so they look like the backend's. Touched only on attempts. */
struct gh_chal {
	uint64_t	 pool_h;
	int		 n;
	char		 v[GH_CHAL_MAX][GH_CHAL_LEN];
};

static struct guard *gh_table;
static struct gstore *gh_store;	/* [auth_guard] store = redis://: shared counting */
static pthread_mutex_t gh_chal_mu = PTHREAD_MUTEX_INITIALIZER;
static struct gh_chal gh_chal[GH_CHAL_SLOTS];
static uint64_t gh_next_sweep;

int
guard_hook_start(const struct config *c)
{
	struct guard_params p;

	cred_init();
	guard_params_from_config(&p, &c->auth_guard);
	gh_table = guard_create(&p);
	if (gh_table == NULL) {
		log_error("auth guard: cannot allocate the table (max_tracked_keys %llu): the guard "
			  "is off", (unsigned long long)p.max_tracked_keys);
		return -1;
	}
	gh_store = gstore_attach(gh_table, &c->auth_guard);
	return 0;
}

void
guard_hook_reload(const struct config *c)
{
	struct guard_params p;

	if (gh_table == NULL)
		return;
	guard_params_from_config(&p, &c->auth_guard);
	guard_set_params(gh_table, &p);
}

static void
gh_log_event(const struct guard_event *e, void *arg)
{
	char line[400];

	guard_event_text(e, *(const uint64_t *)arg, line, sizeof(line));
	log_warn("%s", line);
}

/* Logs a worker's events and counts its locks (per worker: ringedge_auth_guard_locks_total). */
static void
gh_events(struct conn *c, const struct guard_events *ev)
{
	for (int i = 0; i < ev->n; i++) {
		if (ev->ev[i].type == GUARD_EV_LOCK)
			c->w->ctr.guard_locks[ev->ev[i].what % CTR_SCOPES]++;
		gh_log_event(&ev->ev[i], &c->w->now);
	}
}

bool
guard_hook_locks(uint64_t out[3])
{
	if (gh_table == NULL)
		return false;
	guard_locks(gh_table, out);
	return true;
}

void
guard_hook_tick(uint64_t now)
{
	if (gh_table == NULL || now < gh_next_sweep)
		return;
	gh_next_sweep = now + 1000;
	guard_sweep(gh_table, now, gh_log_event, &now);
}

void
guard_hook_stop(void)
{
	guard_destroy(gh_table);
	gh_table = NULL;
	gstore_close(gh_store);
	gh_store = NULL;
}

const char *
guard_hook_user(const struct conn *c)
{
	const struct guard_hook_att *t = c->s->gatt;

	return t != NULL && t->user[0] != '\0' ? t->user : NULL;
}

/* The client address the guard counts: the one the connection layer gives (the peer today,
 * the PROXY protocol / trusted X-Forwarded-For address when that lands in the same field). */
static size_t
gh_client_addr(const struct conn *c, uint8_t *bytes, char *text, size_t cap)
{
	const struct sockaddr_in6 *p = &c->u.cli.peer;

	if (p->sin6_family == AF_INET) {
		const struct sockaddr_in *p4 = (const struct sockaddr_in *)p;

		memcpy(bytes, &p4->sin_addr, 4);
		inet_ntop(AF_INET, &p4->sin_addr, text, (socklen_t)cap);
		return 4;
	}
	memcpy(bytes, &p->sin6_addr, 16);
	inet_ntop(AF_INET6, &p->sin6_addr, text, (socklen_t)cap);
	return 16;
}

/* The challenges a local 401 carries: the pool's last bare 401, else the route's schemes. */
static int
gh_challenges(const struct conn *c, const struct cfg_route *rt, char v[GH_CHAL_MAX][GH_CHAL_LEN])
{
	const char *name = stream_pool(c)->name;
	uint64_t h = fnv1a64(name, strlen(name), FNV64_BASIS);
	const char *def[3];
	char realm[GH_CHAL_LEN];
	int n;

	pthread_mutex_lock(&gh_chal_mu);
	n = gh_chal[h % GH_CHAL_SLOTS].pool_h == h ? gh_chal[h % GH_CHAL_SLOTS].n : 0;
	memcpy(v, gh_chal[h % GH_CHAL_SLOTS].v, sizeof(gh_chal[0].v));
	pthread_mutex_unlock(&gh_chal_mu);
	if (n > 0)
		return n;
	n = guard_challenges(rt->auth_schemes, rt->host ? rt->host : "", def, realm, sizeof(realm));
	for (int i = 0; i < n; i++)
		snprintf(v[i], GH_CHAL_LEN, "%s", def[i]);
	return n;
}

/* A 401 to an attempt: keep its challenges without a token (Negotiate, NTLM, Basic realm=). */
static void
gh_learn_challenges(const struct conn *c, const struct h1_msg *m, const char *buf)
{
	struct gh_chal k = { 0 };
	const char *name = stream_pool(c)->name;

	k.pool_h = fnv1a64(name, strlen(name), FNV64_BASIS);
	for (unsigned i = 0; i < m->nhdr && k.n < GH_CHAL_MAX; i++) {
		const struct h1_header *h = &m->hdr[i];
		const char *v = h1_ptr(buf, h->value), *sp;

		if (!msg_hdr_is(buf, h, "WWW-Authenticate", 16) || h->value.len >= GH_CHAL_LEN)
			continue;
		sp = memchr(v, ' ', h->value.len);
		if (sp != NULL && memchr(sp, '=', h->value.len - (size_t)(sp - v)) == NULL)
			return;	/* "NTLM <token>": a handshake step, not the bare challenge */
		memcpy(k.v[k.n], v, h->value.len);
		k.v[k.n++][h->value.len] = '\0';
	}
	if (k.n == 0)
		return;
	pthread_mutex_lock(&gh_chal_mu);
	gh_chal[k.pool_h % GH_CHAL_SLOTS] = k;
	pthread_mutex_unlock(&gh_chal_mu);
}

/* Sends the local answer waiting in s->rbuf (the floor is reached). */
static void
gh_on_floor(struct conn *c)
{
	struct stream *s = c->s;

	cli_respond_raw(c, s->status, s->rbuf, s->rlen, s->gatt->keep);
}

/* Answers a refused attempt here, no sooner than t_start + min_answer_time. */
static int
gh_answer(struct conn *c, const struct cfg_route *rt, enum guard_answer_kind kind,
	  uint32_t used)
{
	struct stream *s = c->s;
	char chal[GH_CHAL_MAX][GH_CHAL_LEN];
	const char *cv[GH_CHAL_MAX];
	/* t_start and now are whole ms of the loop's coarse clock, which may lag the real one
	 * by up to its resolution (4 ms at HZ=250; +2 was short by 1 ms once under ASan) */
	uint64_t floor = s->t_start + c->g->cfg->auth_guard.min_answer_time + timer_lag_ms() + 1;
	/* kept only when the whole request (head and any body) is in `used`: a body left
	 * unread would otherwise be parsed as the next request */
	bool read = s->req_body == PM_NONE ||
		(s->req_body == PM_LENGTH && used >= (uint64_t)s->head_in + s->req_cl);
	bool keep = (s->flags & SF_CLI_KA) && !(s->flags & (SF_VER10 | SF_UPGRADE)) && read &&
		c->in.len >= used && kind != GUARD_ANSWER_413;
	int n = kind == GUARD_ANSWER_401 ? gh_challenges(c, rt, chal) : 0;
	char *out = malloc(GUARD_ANSWER_MAX);

	if (out == NULL) {
		conn_close(c);
		return 1;
	}
	for (int i = 0; i < n; i++)
		cv[i] = chal[i];
	conn_consume(c, keep ? used : c->in.len);
	s->rlen = (uint32_t)guard_answer(kind, cv, n, !keep,
					 (s->flags & SF_HEAD_REQ) != 0, out, GUARD_ANSWER_MAX);
	s->status = kind == GUARD_ANSWER_401 ? 401 : kind == GUARD_ANSWER_OAUTH ? 400 :
		kind == GUARD_ANSWER_WEBTICKET ? 500 : 413;
	free(s->rbuf);
	s->rbuf = out;
	if (s->gatt != NULL)
		s->gatt->keep = keep;
	if (kind == GUARD_ANSWER_413 || floor <= c->w->now || s->gatt == NULL) {
		cli_respond_raw(c, s->status, out, s->rlen, keep);
		return 1;
	}
	c->on_timeout = gh_on_floor;
	conn_timer(c, floor - c->w->now);
	return 1;
}

enum { GH_BODY_NONE = 0, GH_BODY_OAUTH, GH_BODY_WEBTICKET };

/* POST /WebTicket/oauthtoken or /WebTicket/WebTicketService.svc/Auth (before '?')? */
static int
gh_body_path(const struct h1_msg *m, const char *buf)
{
	const char *p;
	size_t n = 0;

	if (m->method != H1_M_POST)
		return GH_BODY_NONE;
	p = h1_ptr(buf, m->target_form == H1_TF_ABSOLUTE ? m->abs_path : m->target);
	while (n < (m->target_form == H1_TF_ABSOLUTE ? m->abs_path.len : m->target.len) &&
	       p[n] != '?')
		n++;
	if (n == 21 && strncasecmp(p, "/WebTicket/oauthtoken", 21) == 0)
		return GH_BODY_OAUTH;
	if (n == 36 && strncasecmp(p, "/WebTicket/WebTicketService.svc/Auth", 36) == 0)
		return GH_BODY_WEBTICKET;
	return GH_BODY_NONE;
}

/*
 * The bounded body of those POSTs. 0: it is in c->in behind the head; 1: answered (413, 411)
 * or waiting for more (the head is parsed again when the rest arrives; the header_timeout
 * running since its first byte bounds the wait).
 */
static int
gh_read_body(struct conn *c, const struct cfg_route *rt, uint32_t head_len)
{
	struct stream *s = c->s;
	uint64_t limit = c->g->cfg->auth_guard.body_limit, want = (uint64_t)head_len + s->req_cl;

	if (s->req_body == PM_CHUNKED) {
		conn_consume(c, c->in.len);
		cli_respond(c, 411, NULL, false);
		return 1;
	}
	c->u.cli.body_wait = false;
	if (s->req_body == PM_NONE)
		return 0;
	if (s->req_cl > limit)	/* even when it is all here already */
		return gh_answer(c, rt, GUARD_ANSWER_413, head_len);
	if (c->in.len >= want)
		return 0;
	c->u.cli.nreq--;
	c->u.cli.body_wait = true;	/* the next parse of this head is not a new request */
	c->state = CS_HEAD;
	if (conn_own_buffer(c, (uint32_t)want) < 0 ||
	    (!(c->inflight & IF_RECV) && conn_recv(c, (uint32_t)(want - c->in.len)) < 0))
		conn_close(c);
	return 1;
}

/* Printable copy of the user key for the access log (no spaces, quotes or controls). */
static void
gh_printable(char *dst, const char *src, size_t cap)
{
	size_t i = 0;

	for (; src[i] != '\0' && i + 1 < cap; i++)
		dst[i] = (unsigned char)src[i] <= ' ' || src[i] == '"' || src[i] == 0x7f ? '?' :
			src[i];
	dst[i] = '\0';
}

/* An attempt: count it, and answer it here when its user or address is locked. */
static int
gh_check(struct conn *c, const struct cfg_route *rt, const struct cred *cr, uint32_t used)
{
	const struct config *cfg = c->g->cfg;
	struct guard_hook_att *t = calloc(1, sizeof(*t));
	char key[CRED_KEY_MAX], addr[INET6_ADDRSTRLEN];
	uint8_t ab[16];
	size_t alen = gh_client_addr(c, ab, addr, sizeof(addr));
	struct guard_verdict v;
	struct ctr_guard *k;

	if (t == NULL)
		return 0;	/* no memory: forward uncounted rather than refuse */
	cred_user_key(cr, cfg->auth_guard.default_domain, key, sizeof(key));
	guard_attempt_init(&t->a, key, ab, alen, addr, cr);
	gh_printable(t->user, key, sizeof(t->user));
	t->kind = cr->kind;
	t->ridx = rt - cfg->routes;
	t->log_only = rt->auth_guard == CFG_GUARD_LOG_ONLY;
	c->s->gatt = t;
	guard_check(gh_table, &t->a, c->w->now, t->log_only, &v);
	gh_events(c, &v.events);
	if ((k = ctr_guard(&c->w->ctr, t->ridx, (int)t->kind)) != NULL) {
		k->attempts++;
		k->would += t->log_only && v.would != GUARD_ALLOW;
		k->local += v.action != GUARD_ALLOW;
	}
	if (t->log_only && v.would != GUARD_ALLOW)
		log_warn("auth guard (log_only, route %s): would answer %s from %s locally (%s %s)",
			 rt->name, key[0] ? key : "-", addr,
			 v.would == GUARD_REPEAT ? "repeated password of" : "locked",
			 v.would == GUARD_REPEAT ? "user" : guard_what_name(v.what));
	if (v.action == GUARD_ALLOW)
		return 0;
	return gh_answer(c, rt, guard_answer_kind_of(t->kind), used);
}

int
guard_hook_request_(struct conn *c, const struct cfg_route *rt, const struct h1_msg *m,
		    const char *buf, uint32_t head_len)
{
	const char *authz = NULL;
	size_t alen = 0;
	struct cred cr;
	int rc = CRED_NOT_ATTEMPT, body;

	for (unsigned i = 0; i < m->nhdr; i++)
		if (msg_hdr_is(buf, &m->hdr[i], "Authorization", 13)) {
			authz = h1_ptr(buf, m->hdr[i].value);
			alen = m->hdr[i].value.len;
			break;
		}
	if (!guard_scheme_allowed(rt->auth_schemes, authz, alen)) {
		ctr_scheme_refused(&c->w->ctr, rt - c->g->cfg->routes);
		conn_consume(c, c->in.len);
		return gh_answer(c, rt, GUARD_ANSWER_401, 0);
	}
	if (rt->auth_guard == CFG_GUARD_OFF || gh_table == NULL)
		return 0;
	body = gh_body_path(m, buf);
	if (body != GH_BODY_NONE) {
		if (gh_read_body(c, rt, head_len) != 0)
			return 1;
		if (body == GH_BODY_OAUTH)
			rc = cred_oauth_body(buf + head_len, (size_t)c->s->req_cl, &cr);
		else
			rc = cred_webticket_body(buf + head_len, (size_t)c->s->req_cl, &cr);
	} else if (authz != NULL) {
		rc = cred_authorization(authz, alen, &cr);
	}
	if (rc == CRED_NOT_ATTEMPT)
		return 0;
	return gh_check(c, rt, &cr, head_len + (uint32_t)(body ? c->s->req_cl : 0));
}

void
guard_hook_response_(struct conn *c, const struct h1_msg *m, const char *buf)
{
	struct guard_hook_att *t = c->s->gatt;
	struct guard_events ev;
	struct ctr_guard *k;
	bool failed;

	if (m->status < 200 || gh_table == NULL)
		return;
	if (m->status == 401)
		gh_learn_challenges(c, m, buf);
	failed = guard_failed(t->kind, m->status);
	if (failed && (k = ctr_guard(&c->w->ctr, t->ridx, (int)t->kind)) != NULL)
		k->failures++;
	guard_outcome(gh_table, &t->a, !failed, c->w->now, &ev);
	gh_events(c, &ev);
	t->kind = CRED_NONE;	/* counted once; the user stays for the access log */
}
