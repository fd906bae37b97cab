/*
 * ringbench reporting: the results as text or JSON (latency percentiles, rate, statuses,
 * errors, TLS, client CPU), the --wait-stats blocks, the --idle report (what was held, what it
 * cost, why not more), and the live progress line and --idle samples taken while it runs.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "bench/hist.h"
#include "bench/rb_idle.h"
#include "bench/rb_run.h"
#include "bench/rb_tls.h"

static const char *const err_names[E_NERR] = {
	"connect", "tls", "reset", "closed", "short_body", "parse", "timeout", "status",
};

double
tv_sec(struct timeval tv)
{
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static void
fmt_ns(char *b, size_t n, uint64_t ns)
{
	if (ns < 1000000)
		snprintf(b, n, "%.1fus", ns / 1e3);
	else if (ns < 1000000000)
		snprintf(b, n, "%.2fms", ns / 1e6);
	else
		snprintf(b, n, "%.2fs", ns / 1e9);
}

static const double pcts[] = { 50, 90, 99, 99.9, 99.99, 100 };
static const char *const pct_names[] = { "p50", "p90", "p99", "p99.9", "p99.99", "max" };

/* The first error any thread noted ("" if none). */
static const char *
first_error(const struct worker *ws)
{
	uint32_t t;

	for (t = 0; t < R.o.threads; t++)
		if (ws[t].first_err[0])
			return ws[t].first_err;
	return "";
}

/*
 * --idle: why the count held is not --idle N, in plain words (buf), and a one-word kind for
 * the JSON: none, fd, ports, memory (a local limit), errors (the server, or its backend,
 * failed or closed them), closed (no keep-alive), or time (the hold ended before the ramp
 * and the connects did).
 */
static const char *
idle_why(const struct result *r, const char *first, char *buf, size_t len)
{
	static const char *const what[E_NERR] = {
		"failed to connect", "failed in the TLS handshake (or the server closed it there)",
		"were reset", "were closed by the server before a response",
		"got a short body", "got a malformed response", "had no response within --timeout",
		"got an unexpected status",
	};
	int err = atomic_load(&R.limit_err);
	uint64_t n = 0;
	size_t off;
	int i;

	if (r->open_max >= R.o.idle) {
		snprintf(buf, len, "Held all %u: no limit reached", R.o.idle);
		return "none";
	}
	if (err != 0) {
		snprintf(buf, len, "Stopped at %u: ran out of %s (%s); %s", r->open_max,
		    rb_limit_name(err), strerror(err), rb_limit_advice(err));
		return err == EMFILE || err == ENFILE ? "fd" :
		    err == EADDRNOTAVAIL || err == EADDRINUSE ? "ports" : "memory";
	}
	for (i = 0; i < E_NERR; i++)
		n += r->st.errors[i];
	if (n == 0 && atomic_load(&R.not_kept) > 0) {
		snprintf(buf, len, "Stopped at %u: the server ended %u connections with their "
		    "response (Connection: close or HTTP/1.0): it does not keep them alive",
		    r->open_max, atomic_load(&R.not_kept));
		return "closed";
	}
	if (n == 0) {
		snprintf(buf, len, "Stopped at %u: no errors and no local limit: the hold (-d) ended "
		    "before the ramp and the connects did (a slow client or server: raise -d)",
		    r->open_max);
		return "time";
	}
	off = (size_t)snprintf(buf, len, "Stopped at %u: not a local limit (fds, ports and memory "
	    "sufficed); the server side failed or dropped them:", r->open_max);
	for (i = 0; i < E_NERR && off < len; i++)
		if (r->st.errors[i])
			off += (size_t)snprintf(buf + off, len - off, " %llu %s;",
			    (unsigned long long)r->st.errors[i], what[i]);
	if (off < len)
		snprintf(buf + off, len - off, " first error: %s. Check the server's log: its "
		    "handshake/header timeouts against a client slower than the ramp, its connection "
		    "limits, its backend's", first[0] ? first : "-");
	return "errors";
}

/* --idle: what was held, what it cost this client, and why it is not more. */
static void
report_idle_text(const struct result *r, const char *first)
{
	char why[1024];
	double per = r->open ? (r->rss1 - r->rss0) * 1024.0 / r->open : 0;

	printf("  Idle: %u of %u connections open at the hold's midpoint (most at once: %u); "
	    "%u had their first response, %u were still waiting for one\n", r->open, R.o.idle,
	    r->open_max, r->answered, r->waiting);
	printf("  Client memory: %ld KiB before, %ld KiB holding them: %.0f bytes per connection "
	    "(ringbench's own, not the server's)\n", r->rss0, r->rss1, per);
	idle_why(r, first, why, sizeof(why));
	printf("  %s\n", why);
}

/* A JSON string body: quotes and control characters escaped. */
static void
json_text(const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf(" ");
		else
			putchar(*s);
	}
}

static void
report_idle_json(const struct result *r, const char *first)
{
	char why[1024];
	const char *kind = idle_why(r, first, why, sizeof(why));
	int err = atomic_load(&R.limit_err);

	printf("\"idle\":{\"wanted\":%u,\"open\":%u,\"open_max\":%u,\"answered\":%u,"
	    "\"waiting\":%u,\"rss_before_kib\":%ld,\"rss_held_kib\":%ld,"
	    "\"client_bytes_per_conn\":%.1f,\"limit\":\"%s\",\"limit_errno\":\"%s\",\"why\":\"",
	    R.o.idle, r->open, r->open_max, r->answered, r->waiting, r->rss0, r->rss1,
	    r->open ? (r->rss1 - r->rss0) * 1024.0 / r->open : 0.0, kind,
	    err ? strerror(err) : "");
	json_text(why);
	printf("\"},");
}

/* --wait-stats: one block per thread on stderr. */
void
report_waitstats(uint32_t t, const struct waitstats *s)
{
	double e = s->enters ? (double)s->enters : 1, r = s->responses ? (double)s->responses : 1;
	unsigned i;

	fprintf(stderr, "wait-stats thread %u: %llu enters (%.3f per response), %.2f responses "
	    "per wake, asked %.2f, %.1f%% ended by timeout, %.1f%% drained (every response in), "
	    "mean sleep %.1f us, mean busy (wake to next submit) %.1f us\n", t,
	    (unsigned long long)s->enters, s->enters / r, s->responses / e, s->asked / e,
	    100.0 * s->etime / e, 100.0 * s->drained / e, s->sleep_ns / e / 1000,
	    s->busy_ns / e / 1000);
	fprintf(stderr, "wait-stats thread %u: %llu collects after a filled batch brought %llu "
	    "responses (%.2f each)\n", t, (unsigned long long)s->collects,
	    (unsigned long long)s->collected,
	    s->collects ? (double)s->collected / s->collects : 0.0);
	fprintf(stderr, "wait-stats thread %u: responses per wake (0,1,...,10,11+):", t);
	for (i = 0; i < RB_WS_BUCKETS; i++)
		fprintf(stderr, " %llu", (unsigned long long)s->per_wake[i]);
	fprintf(stderr, "\nwait-stats thread %u: busy us (<1,1,2-3,4-7,...):", t);
	for (i = 0; i < RB_WS_BUCKETS; i++)
		fprintf(stderr, " %llu", (unsigned long long)s->busy_hist[i]);
	fprintf(stderr, "\n");
}

void
report_text(struct result *r, struct worker *ws)
{
	const struct opts *o = &R.o;
	char a[32], b[32];
	uint64_t errs = 0, hs;
	size_t i;
	uint32_t t;

	printf("ringbench %s: %u threads, %u connections, %s, %s%s, %s\n", RINGEDGE_VERSION,
	    o->threads, o->conns, o->rate > 0 ? "open loop" : "closed loop",
	    o->resume ? "new connection per request, TLS resumption" :
	    o->new_conn ? "new connection per request" : "keep-alive",
	    R.targets[0].tls && !o->resume ? ", TLS" : "",
	    o->nreq ? "request count" : "duration");
	for (t = 0; t < R.ntargets; t++)
		printf("  target %s (%s%s)\n", R.targets[t].addrtext, R.targets[t].tls ? "https" : "http",
		    R.targets[t].local ? "; same host as ringbench" : "");
	if (o->rate > 0) {
		printf("  Latency  corrected (from intended send)   uncorrected (from actual send)\n");
		for (i = 0; i < RB_NELEM(pcts); i++) {
			fmt_ns(a, sizeof(a), hist_percentile(r->lat, pcts[i]));
			fmt_ns(b, sizeof(b), hist_percentile(r->unc, pcts[i]));
			printf("    %-7s %12s %36s\n", pct_names[i], a, b);
		}
	} else {
		printf("  Latency (closed loop: service time; coordinated omission applies, use -R for "
		    "real latency)\n");
		for (i = 0; i < RB_NELEM(pcts); i++) {
			fmt_ns(a, sizeof(a), hist_percentile(r->lat, pcts[i]));
			printf("    %-7s %12s\n", pct_names[i], a);
		}
	}
	fmt_ns(a, sizeof(a), (uint64_t)hist_mean(r->lat));
	fmt_ns(b, sizeof(b), (uint64_t)hist_stddev(r->lat));
	printf("    mean %s, stdev %s\n", a, b);
	if (o->idle)
		report_idle_text(r, first_error(ws));
	printf("  Requests: %llu in %.2fs = %.1f req/s, %.2f MB/s in\n",
	    (unsigned long long)r->st.responses, r->secs, r->st.responses / r->secs,
	    r->st.bytes_in / r->secs / 1e6);
	if (o->rate > 0)
		printf("  Rate: target %.1f req/s, sent %.1f req/s; late sends (>1ms): %llu, unsent: %llu\n",
		    o->rate, r->st.sent / r->secs, (unsigned long long)r->st.late,
		    (unsigned long long)r->st.unsent);
	if (o->rate > 0 && (r->st.sent < 0.95 * o->rate * r->secs || r->st.late * 100 > r->st.sent))
		printf("  WARNING: the target rate was not held (late or unsent requests): too few "
		    "connections (-c) for the latency, or a saturated server or client\n");
	printf("  Status: 1xx=%llu 2xx=%llu 3xx=%llu 4xx=%llu 5xx=%llu other=%llu\n",
	    (unsigned long long)r->st.status[1], (unsigned long long)r->st.status[2],
	    (unsigned long long)r->st.status[3], (unsigned long long)r->st.status[4],
	    (unsigned long long)r->st.status[5], (unsigned long long)r->st.status[0]);
	printf("  Errors:");
	for (i = 0; i < (size_t)E_NERR; i++) {
		printf(" %s=%llu", err_names[i], (unsigned long long)r->st.errors[i]);
		errs += r->st.errors[i];
	}
	printf("\n");
	hs = r->st.hs_full + r->st.hs_resumed;
	if (R.targets[0].tls || hs > 0)
		printf("  TLS: %llu handshakes (%.1f/s), %llu resumed (%.1f%%); %s %s %s\n",
		    (unsigned long long)hs, hs / r->secs, (unsigned long long)r->st.hs_resumed,
		    hs ? 100.0 * r->st.hs_resumed / hs : 0.0,
		    ws[0].tls_version ? ws[0].tls_version : "-", ws[0].tls_cipher ? ws[0].tls_cipher : "",
		    ws[0].tls_group ? ws[0].tls_group : "");
	if (r->st.resume_failed > 0)
		printf("  TLS: %llu handshakes failed after offering a session (counted as tls errors; "
		    "the session is dropped, the next handshake is full)\n",
		    (unsigned long long)r->st.resume_failed);
	printf("  Client CPU:");
	for (t = 0; t < o->threads; t++)
		printf(" t%u=%.0f%%", t, r->cpu[t] * 100);
	printf("\n");
	for (t = 0; t < o->threads; t++) {
		if (r->cpu[t] > 0.8) {
			printf("  WARNING: thread %u was %.0f%% busy: the client may be the bottleneck; "
			    "add threads (-t) or use another machine\n", t, r->cpu[t] * 100);
			break;
		}
	}
	if (r->local)
		printf("  NOTE: target is on this host: client and server share CPUs, the figures "
		    "include that contention\n");
	for (t = 0; t < o->threads; t++) {
		if (errs > 0 && ws[t].first_err[0]) {
			printf("  first error: %s\n", ws[t].first_err);
			break;
		}
	}
}

static void
json_hist(const char *name, struct hist *h)
{
	size_t i;

	printf("\"%s\":{\"count\":%llu,\"min_us\":%.3f,\"mean_us\":%.3f,\"stdev_us\":%.3f", name,
	    (unsigned long long)h->count, h->count ? h->min / 1e3 : 0.0, hist_mean(h) / 1e3,
	    hist_stddev(h) / 1e3);
	for (i = 0; i < RB_NELEM(pcts); i++)
		printf(",\"%s_us\":%.3f", pct_names[i], hist_percentile(h, pcts[i]) / 1e3);
	printf("}");
}

void
report_json(struct result *r, struct worker *ws)
{
	const struct opts *o = &R.o;
	size_t i;
	uint32_t t;
	uint64_t hs = r->st.hs_full + r->st.hs_resumed;

	printf("{\"version\":\"%s\",\"mode\":\"%s\",\"connection\":\"%s\",\"threads\":%u,"
	    "\"connections\":%u,\"duration_s\":%.6f,\"requests\":%llu,\"requests_per_s\":%.3f,"
	    "\"bytes_in\":%llu,", RINGEDGE_VERSION, o->rate > 0 ? "open" : "closed",
	    o->resume ? "resume" : o->new_conn ? "new" : "keepalive", o->threads, o->conns,
	    r->secs, (unsigned long long)r->st.responses, r->st.responses / r->secs,
	    (unsigned long long)r->st.bytes_in);
	if (o->rate > 0)
		printf("\"target_rate\":%.3f,\"sent\":%llu,\"sent_per_s\":%.3f,\"late\":%llu,"
		    "\"unsent\":%llu,", o->rate, (unsigned long long)r->st.sent,
		    r->st.sent / r->secs, (unsigned long long)r->st.late,
		    (unsigned long long)r->st.unsent);
	json_hist("latency", r->lat);
	printf(",");
	if (o->idle)
		report_idle_json(r, first_error(ws));
	if (o->rate > 0) {
		json_hist("latency_uncorrected", r->unc);
		printf(",");
	}
	printf("\"status\":{\"1xx\":%llu,\"2xx\":%llu,\"3xx\":%llu,\"4xx\":%llu,\"5xx\":%llu,"
	    "\"other\":%llu},\"errors\":{", (unsigned long long)r->st.status[1],
	    (unsigned long long)r->st.status[2], (unsigned long long)r->st.status[3],
	    (unsigned long long)r->st.status[4], (unsigned long long)r->st.status[5],
	    (unsigned long long)r->st.status[0]);
	for (i = 0; i < (size_t)E_NERR; i++)
		printf("%s\"%s\":%llu", i ? "," : "", err_names[i], (unsigned long long)r->st.errors[i]);
	printf("},\"tls\":{\"max\":\"%s\",\"handshakes\":%llu,\"full\":%llu,\"resumed\":%llu,"
	    "\"resume_failed\":%llu,\"handshakes_per_s\":%.3f,\"resumption_rate\":%.4f,\"version\":\"%s\",\"cipher\":\"%s\","
	    "\"group\":\"%s\"},",
	    o->tls_max == RB_TLS_MAX_12 ? "1.2" : "1.3", (unsigned long long)hs,
	    (unsigned long long)r->st.hs_full, (unsigned long long)r->st.hs_resumed,
	    (unsigned long long)r->st.resume_failed, hs / r->secs,
	    hs ? (double)r->st.hs_resumed / hs : 0.0,
	    ws[0].tls_version ? ws[0].tls_version : "", ws[0].tls_cipher ? ws[0].tls_cipher : "",
	    ws[0].tls_group ? ws[0].tls_group : "");
	printf("\"connects\":%llu,\"cpu\":[", (unsigned long long)r->st.connects);
	for (t = 0; t < o->threads; t++)
		printf("%s%.4f", t ? "," : "", r->cpu[t]);
	printf("],\"client_saturated\":%s,\"target_local\":%s}\n", r->saturated ? "true" : "false",
	    r->local ? "true" : "false");
}

/* --idle: the main thread's 100 ms look at the held set, up to the second requests. */
void
idle_sample(struct result *r)
{
	uint32_t open = atomic_load_explicit(&R.open, memory_order_relaxed);
	uint64_t now = now_ns();

	if (atomic_load(&R.stop))
		return;		/* ^C: the connections are being closed; keep the last sample */

	if (open > r->open_max)
		r->open_max = open;
	/* Two lines for a harness (bench/compare) that measures the server while they are held. */
	if (open == R.o.idle && !r->said_all) {
		r->said_all = 1;
		fprintf(stderr, "ringbench: idle: all %u open after %.3fs\n", open,
		    (now - R.t0) / 1e9);
	}
	/* long polls: every request is out and none answered yet */
	if (atomic_load_explicit(&R.waiting, memory_order_relaxed) == R.o.idle &&
	    !r->said_waiting) {
		r->said_waiting = 1;
		fprintf(stderr, "ringbench: idle: all %u waiting after %.3fs\n", R.o.idle,
		    (now - R.t0) / 1e9);
	}
	if (atomic_load_explicit(&R.answered, memory_order_relaxed) == R.o.idle &&
	    !r->said_answered) {
		r->said_answered = 1;
		fprintf(stderr, "ringbench: idle: all %u answered after %.3fs\n", R.o.idle,
		    (now - R.t0) / 1e9);
	}
	if (now >= R.t_second) {
		if (!r->said_mid) {
			r->said_mid = 1;
			fprintf(stderr, "ringbench: idle: midpoint: %u open\n", r->open);
		}
		return;
	}
	r->rss1 = rb_rss_kib();
	r->open = open;
	r->answered = atomic_load_explicit(&R.answered, memory_order_relaxed);
	r->waiting = atomic_load_explicit(&R.waiting, memory_order_relaxed);
}

void
progress(uint64_t start, struct worker *ws, uint64_t *last_done, uint64_t *last_t)
{
	uint64_t done = 0, err = 0, now = now_ns();
	uint32_t t;
	const char *phase;

	for (t = 0; t < R.o.threads; t++) {
		done += atomic_load_explicit(&ws[t].live_done, memory_order_relaxed);
		err += atomic_load_explicit(&ws[t].live_err, memory_order_relaxed);
	}
	phase = now < R.tr ? " (ramp-up)" : now < R.tw ? " (warm-up)" : "";
	fprintf(stderr, "\r[%4.0fs] %10.0f req/s  %llu responses  %llu errors%s\033[K",
	    (now - start) / 1e9, (done - *last_done) / ((now - *last_t) / 1e9),
	    (unsigned long long)done, (unsigned long long)err, phase);
	*last_done = done;
	*last_t = now;
}
