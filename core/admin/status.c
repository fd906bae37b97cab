/*
 * /status and /status.json (status.h). One jansson document is built from the generation and
 * the summed counters; /status.json dumps it and /status renders it as HTML, so the two can
 * never disagree.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/admin/counters-t.h"
#include "core/admin/metrics.h"
#include "core/admin/status.h"
#include "core/gen-t.h"
#include "core/worker-t.h"
#include "routing/pool/balance.h"
#include "tls/tls-t.h"

/* Request rates: the totals seen at the previous render (admin thread only). */
static struct {
	uint64_t	 ms;			/* monotonic ms of the sample, 0 = none */
	uint64_t	 req[CTR_LISTENERS];
	double		 rate[CTR_LISTENERS];
} prev;

static void
iso_time(char *buf, size_t len, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *
json_time(time_t t)
{
	char buf[40];

	if (t == 0)
		return json_null();
	iso_time(buf, sizeof(buf), t);
	return json_string(buf);
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static json_t *
listener_json(const struct generation *g, int i, const struct ctr_listener *c, double rate)
{
	const struct cfg_listener *l = &g->cfg->listeners[i];
	json_t *o = json_object(), *binds = json_array(), *certs = json_array();

	for (int j = 0; j < l->nbinds; j++)
		json_array_append_new(binds, json_string(l->binds[j].text));
	for (int j = 0; g->tls_srv[i] != NULL && j < g->tls_srv[i]->ncerts; j++) {
		const struct tls_cert *tc = &g->tls_srv[i]->certs[j];
		json_t *cj = json_object(), *names = json_array();

		for (int k = 0; k < tc->nnames; k++) {
			char n[300];

			snprintf(n, sizeof(n), "%s%s", tc->names[k].wildcard ? "*" : "",
				 tc->names[k].name);
			json_array_append_new(names, json_string(n));
		}
		json_object_set_new(cj, "file", json_string(tc->file ? tc->file : ""));
		json_object_set_new(cj, "names", names);
		json_object_set_new(cj, "not_after", json_time(tc->not_after));
		json_object_set_new(cj, "days_left",
				    json_integer((json_int_t)(tc->not_after - time(NULL)) / 86400));
		json_array_append_new(certs, cj);
	}
	json_object_set_new(o, "name", json_string(l->name));
	json_object_set_new(o, "binds", binds);
	json_object_set_new(o, "tls", json_boolean(l->tls));
	json_object_set_new(o, "current_connections",
			    json_integer((json_int_t)(c->conns_opened - c->conns_closed)));
	json_object_set_new(o, "connections_total", json_integer((json_int_t)c->conns_opened));
	json_object_set_new(o, "requests_total", json_integer((json_int_t)c->requests));
	json_object_set_new(o, "requests_per_second", json_real(rate));
	json_object_set_new(o, "certificates", certs);
	return o;
}

/* The auth guard's figures of route i (summed over kinds), when it has the guard. */
static void
route_guard_json(json_t *o, const struct cfg_route *r, int i, const struct wcounters *c)
{
	static const char *const mode[] = { "off", "on", "log_only" };
	uint64_t n[4] = { 0 };

	json_object_set_new(o, "auth_guard", json_string(mode[r->auth_guard % 3]));
	if (r->auth_guard == CFG_GUARD_OFF || i >= CTR_ROUTES)
		return;
	for (int k = 1; k < CTR_KINDS; k++) {
		n[0] += c->r[i].g[k].attempts;
		n[1] += c->r[i].g[k].failures;
		n[2] += c->r[i].g[k].local;
		n[3] += c->r[i].g[k].would;
	}
	json_object_set_new(o, "guard_attempts", json_integer((json_int_t)n[0]));
	json_object_set_new(o, "guard_failures", json_integer((json_int_t)n[1]));
	json_object_set_new(o, "guard_local_answers", json_integer((json_int_t)n[2]));
	json_object_set_new(o, "guard_would_block", json_integer((json_int_t)n[3]));
}

static json_t *
routes_json(const struct config *cfg, const struct wcounters *c)
{
	json_t *a = json_array();

	for (int i = 0; i < cfg->nroutes; i++) {
		const struct cfg_route *r = &cfg->routes[i];
		json_t *o = json_object();

		json_object_set_new(o, "name", json_string(r->name));
		json_object_set_new(o, "host", json_string(r->host ? r->host : "*"));
		json_object_set_new(o, "path", json_string(r->path ? r->path : "/"));
		json_object_set_new(o, "listeners",
				    json_string(r->listeners_text ? r->listeners_text : "all"));
		json_object_set_new(o, "target", json_string(r->kind == CFG_ROUTE_POOL ?
			r->pool_name : "redirect to https"));
		route_guard_json(o, r, i, c);
		json_array_append_new(a, o);
	}
	return a;
}

/* state and why, from the balancer's view of the server */
static void
server_state(const struct bal_pool *bp, struct bal_srv *sv, json_t *o)
{
	uint64_t now = bal_now_ms();
	uint64_t d = atomic_load_explicit(&sv->h.down_until, memory_order_relaxed);
	uint64_t last = atomic_load_explicit(&sv->h.probe_last, memory_order_relaxed);
	bool probe_down = atomic_load_explicit(&sv->h.probe_down, memory_order_relaxed) != 0;
	bool up = bal_srv_up(bp, sv, now);
	const char *why;

	if (probe_down)
		why = "health check failed";
	else if (d == BAL_DOWN_UNTIL_PROBE || (d != 0 && d > now))
		why = "passive: too many failed requests";
	else if (bp->probed)
		why = last ? "health check passed" : "not checked yet";
	else
		why = "no health check (passive only)";
	json_object_set_new(o, "state", json_string(!up ? "down" : sv->backup ? "backup" : "up"));
	json_object_set_new(o, "reason", json_string(why));
	json_object_set_new(o, "last_check", json_time((time_t)(last / 1000)));
	json_object_set_new(o, "check_failures_total", json_integer((json_int_t)
		atomic_load_explicit(&sv->h.probe_fails, memory_order_relaxed)));
}

static json_t *
pool_json(const struct admin_src *src, const struct generation *g, int p,
	  const struct wcounters *c)
{
	const struct cfg_pool *cp = &g->cfg->pools[p];
	const struct bal_pool *bp = &g->bal->pools[p];
	json_t *o = json_object(), *servers = json_array();
	const struct ctr_pool *pc = p < CTR_POOLS ? &c->p[p] : NULL;

	for (int j = 0; j < bp->nsrv; j++) {
		unsigned x = g->srv_base[p] + (unsigned)j;
		const struct ctr_server *sc = x < CTR_SERVERS ? &c->s[x] : NULL;
		json_t *s = json_object();

		json_object_set_new(s, "name", json_string(bp->srv[j].name));
		server_state(bp, &bp->srv[j], s);
		json_object_set_new(s, "active", json_integer((json_int_t)metrics_srv_active(src, g,
			p, j)));
		json_object_set_new(s, "idle", json_integer(sc ? (json_int_t)(sc->idle_in -
			sc->idle_out) : 0));
		json_object_set_new(s, "requests_total", json_integer(sc ?
			(json_int_t)sc->requests : 0));
		json_object_set_new(s, "connection_errors_total", json_integer(sc ?
			(json_int_t)sc->conn_errors : 0));
		json_array_append_new(servers, s);
	}
	json_object_set_new(o, "name", json_string(cp->name));
	json_object_set_new(o, "tls", json_boolean(cp->tls));
	json_object_set_new(o, "pinned", json_integer(pc ? (json_int_t)(pc->pinned_opened -
		pc->pinned_closed) : 0));
	json_object_set_new(o, "servers", servers);
	return o;
}

static json_t *
build(const struct admin_src *src, const struct generation *g, bool draining)
{
	static struct wcounters c;
	const struct config *cfg = g->cfg;
	json_t *doc = json_object(), *ls = json_array(), *ps = json_array();
	uint64_t now = mono_ms();
	int nl = cfg->nlisteners < CTR_LISTENERS ? cfg->nlisteners : CTR_LISTENERS;

	metrics_sum(src, &c);
	for (int i = 0; i < nl; i++) {
		/* the rate over the time since the previous view (at least a second apart) */
		if (prev.ms != 0 && now >= prev.ms + 1000 && c.l[i].requests >= prev.req[i])
			prev.rate[i] = (double)(c.l[i].requests - prev.req[i]) * 1000 /
				       (double)(now - prev.ms);
		json_array_append_new(ls, listener_json(g, i, &c.l[i], prev.rate[i]));
	}
	if (prev.ms == 0 || now >= prev.ms + 1000) {
		prev.ms = now;
		for (int i = 0; i < nl; i++)
			prev.req[i] = c.l[i].requests;
	}
	for (int p = 0; p < cfg->npools; p++)
		json_array_append_new(ps, pool_json(src, g, p, &c));
	json_object_set_new(doc, "version", json_string(RINGEDGE_VERSION));
	json_object_set_new(doc, "config", json_string(cfg->file));
	json_object_set_new(doc, "generation", json_integer(g->id));
	json_object_set_new(doc, "started", json_time(src->start_time));
	json_object_set_new(doc, "now", json_time(time(NULL)));
	json_object_set_new(doc, "workers", json_integer(src->nw));
	json_object_set_new(doc, "state", json_string(draining ? "draining" : "serving"));
	json_object_set_new(doc, "listeners", ls);
	json_object_set_new(doc, "routes", routes_json(cfg, &c));
	json_object_set_new(doc, "pools", ps);
	return doc;
}

void
status_json(struct abuf *b, const struct admin_src *src, const struct generation *g,
	    bool draining)
{
	json_t *doc = build(src, g, draining);
	char *text = json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER);

	if (text != NULL) {
		abuf_puts(b, text);
		abuf_puts(b, "\n");
	} else {
		b->failed = true;
	}
	free(text);
	json_decref(doc);
}

/* ---- HTML ---- */

static void
esc(struct abuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': abuf_puts(b, "&lt;"); break;
		case '>': abuf_puts(b, "&gt;"); break;
		case '&': abuf_puts(b, "&amp;"); break;
		case '"': abuf_puts(b, "&quot;"); break;
		default: abuf_put(b, s, 1);
		}
	}
}

/* a cell from a JSON value: strings escaped, numbers as numbers, null as a dash */
static void
cell(struct abuf *b, json_t *v, const char *cls)
{
	abuf_printf(b, "<td%s%s%s>", cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
	if (json_is_string(v))
		esc(b, json_string_value(v));
	else if (json_is_integer(v))
		abuf_printf(b, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		abuf_printf(b, "%.1f", json_real_value(v));
	else if (json_is_true(v))
		abuf_puts(b, "yes");
	else if (json_is_false(v))
		abuf_puts(b, "no");
	else
		abuf_puts(b, "-");
	abuf_puts(b, "</td>");
}

static void
cells(struct abuf *b, json_t *o, const char *const *keys)
{
	for (; *keys; keys++)
		cell(b, json_object_get(o, *keys), NULL);
}

static void
header(struct abuf *b, const char *title, const char *const *cols)
{
	abuf_printf(b, "<h2>%s</h2>\n<table><tr>", title);
	for (; *cols; cols++)
		abuf_printf(b, "<th>%s</th>", *cols);
	abuf_puts(b, "</tr>\n");
}

/* A cell with the strings of a JSON array, comma-separated and escaped. */
static void
list_cell(struct abuf *b, json_t *arr)
{
	size_t k;
	json_t *x;

	abuf_puts(b, "<td>");
	json_array_foreach(arr, k, x) {
		abuf_puts(b, k ? ", " : "");
		esc(b, json_string_value(x));
	}
	abuf_puts(b, "</td>");
}

static void
html_listeners(struct abuf *b, json_t *doc)
{
	static const char *const cols[] = { "listener", "binds", "TLS", "connections",
		"total", "requests", "req/s", NULL };
	static const char *const keys[] = { "tls", "current_connections", "connections_total",
		"requests_total", "requests_per_second", NULL };
	size_t i;
	json_t *l;

	header(b, "Listeners", cols);
	json_array_foreach(json_object_get(doc, "listeners"), i, l) {
		abuf_puts(b, "<tr>");
		cell(b, json_object_get(l, "name"), "name");
		list_cell(b, json_object_get(l, "binds"));
		cells(b, l, keys);
		abuf_puts(b, "</tr>\n");
	}
	abuf_puts(b, "</table>\n");
}

static void
html_certs(struct abuf *b, json_t *doc)
{
	static const char *const cols[] = { "listener", "names", "expires", "days left", "file",
		NULL };
	size_t i, j;
	json_t *l, *c;

	header(b, "Certificates", cols);
	json_array_foreach(json_object_get(doc, "listeners"), i, l) {
		json_array_foreach(json_object_get(l, "certificates"), j, c) {
			json_int_t left = json_integer_value(json_object_get(c, "days_left"));

			abuf_puts(b, "<tr>");
			cell(b, json_object_get(l, "name"), "name");
			list_cell(b, json_object_get(c, "names"));
			cell(b, json_object_get(c, "not_after"), NULL);
			cell(b, json_object_get(c, "days_left"), left < 14 ? "down" : "up");
			cell(b, json_object_get(c, "file"), NULL);
			abuf_puts(b, "</tr>\n");
		}
	}
	abuf_puts(b, "</table>\n");
}

static void
html_routes(struct abuf *b, json_t *doc)
{
	static const char *const cols[] = { "route", "host", "path", "listeners", "to",
		"auth guard", "attempts", "failures", "answered here", "would block", NULL };
	static const char *const keys[] = { "name", "host", "path", "listeners", "target",
		"auth_guard", "guard_attempts", "guard_failures", "guard_local_answers",
		"guard_would_block", NULL };
	size_t i;
	json_t *r;

	header(b, "Routes", cols);
	json_array_foreach(json_object_get(doc, "routes"), i, r) {
		abuf_puts(b, "<tr>");
		cells(b, r, keys);
		abuf_puts(b, "</tr>\n");
	}
	abuf_puts(b, "</table>\n");
}

static void
html_pools(struct abuf *b, json_t *doc)
{
	static const char *const cols[] = { "pool", "server", "state", "reason", "last check",
		"active", "idle", "pinned (pool)", "requests", "conn. errors", "check failures",
		NULL };
	static const char *const keys[] = { "reason", "last_check", "active", "idle", NULL };
	size_t i, j;
	json_t *p, *s;

	header(b, "Pools", cols);
	json_array_foreach(json_object_get(doc, "pools"), i, p) {
		json_array_foreach(json_object_get(p, "servers"), j, s) {
			abuf_puts(b, "<tr>");
			cell(b, json_object_get(p, "name"), "name");
			cell(b, json_object_get(s, "name"), NULL);
			cell(b, json_object_get(s, "state"),
			     json_string_value(json_object_get(s, "state")));
			cells(b, s, keys);
			cell(b, json_object_get(p, "pinned"), NULL);
			cell(b, json_object_get(s, "requests_total"), NULL);
			cell(b, json_object_get(s, "connection_errors_total"), NULL);
			cell(b, json_object_get(s, "check_failures_total"), NULL);
			abuf_puts(b, "</tr>\n");
		}
	}
	abuf_puts(b, "</table>\n");
}

void
status_html(struct abuf *b, const struct admin_src *src, const struct generation *g,
	    bool draining)
{
	json_t *doc = build(src, g, draining);

	abuf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		  "<title>ringedge status</title>\n<style>"
		  "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}"
		  "h1{font-size:20px}h2{font-size:16px;margin-top:1.4em}"
		  "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;"
		  "text-align:left}th{background:#eee}.name{font-weight:600}"
		  ".up{background:#d7f5d7}.down{background:#f8d0d0}.backup{background:#fff0c0}"
		  ".draining{color:#b00}</style></head><body>\n");
	abuf_puts(b, "<h1>ringedge ");
	esc(b, RINGEDGE_VERSION);
	abuf_printf(b, " &mdash; <span class=\"%s\">%s</span></h1>\n<p>", draining ?
		    "draining" : "serving", draining ? "draining" : "serving");
	abuf_puts(b, "config ");
	esc(b, json_string_value(json_object_get(doc, "config")));
	abuf_printf(b, " (generation %lld), %d worker%s, started ",
		    (long long)json_integer_value(json_object_get(doc, "generation")), src->nw,
		    src->nw == 1 ? "" : "s");
	esc(b, json_string_value(json_object_get(doc, "started")));
	abuf_puts(b, ", now ");
	esc(b, json_string_value(json_object_get(doc, "now")));
	abuf_puts(b, ". <a href=\"/status.json\">JSON</a> &middot; <a href=\"/metrics\">"
		  "metrics</a></p>\n");
	html_listeners(b, doc);
	html_pools(b, doc);
	html_routes(b, doc);
	html_certs(b, doc);
	abuf_puts(b, "</body></html>\n");
	json_decref(doc);
}
