/*
 * ringbench's run: the options, the targets and requests, the state every thread reads (R),
 * each worker's counters and the merged result. Shared by ringbench.c (the worker loop and
 * main), rb_opts.c (usage, option parsing, target set-up) and rb_report.c (the text and JSON
 * results); struct conn and the loop's internals stay private to ringbench.c.
 */
#ifndef RINGEDGE_BENCH_RB_RUN_H
#define RINGEDGE_BENCH_RB_RUN_H

#include <liburing.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/hist.h"
#include "bench/rb_http.h"
#include "bench/rb_idle.h"
#include "bench/rb_tls.h"

#define RB_MAX_URLS		64
#define RB_MAX_HDRS		64
#define RB_MAX_THREADS		256
#define RB_MAX_CONNS		1000000
#define RB_BATCH_FROM		32	/* closed loop: batch waits from this many conns a thread
					 * (--batch-from; see batch_wait) */
#define RB_NELEM(a)		(sizeof(a) / sizeof((a)[0]))

struct target {
	int			tls;
	char			host[256];
	char			port[8];
	struct sockaddr_storage	addr;
	socklen_t		addrlen;
	char			addrtext[80];
	int			local;		/* loopback or an address of this host */
	uint32_t		urls[RB_MAX_URLS];
	uint32_t		nurls;
};

struct request {
	char		*buf;
	size_t		len;
	int		head;		/* HEAD request: the response has no body */
	uint32_t	target;
};

struct opts {
	uint32_t	conns, threads;
	uint64_t	duration_ns, warmup_ns, ramp_ns, timeout_ns;
	uint64_t	nreq;		/* -n, 0 = duration mode */
	int		have_duration;
	double		rate;		/* -R, 0 = closed loop */
	int		new_conn, resume, insecure, json, quiet;
	int		eager_wake;	/* --eager-wake: wake for every completion (no batch wait) */
	uint32_t	batch_from;	/* --batch-from: batch waits from this many conns a thread */
	int		wait_stats;	/* --wait-stats: the loop's waits, on stderr at the end */
	enum rb_tls_max	tls_max;	/* --tls-max */
	int		have_tls_max;
	const char	*cacert, *method, *body_file;
	char		*body;
	size_t		body_len;
	char		*hdrs[RB_MAX_HDRS];
	int		nhdrs;
	int		expect[16];
	int		nexpect;
	struct rb_url	urls[RB_MAX_URLS];
	uint32_t	nurls;
	uint32_t	idle;		/* --idle N: hold N connections (0 = off) */
	uint32_t	idle_sample;	/* --idle-sample: second requests, spread over the set */
	uint64_t	idle_second_ns;	/* --idle-second: when, after the ramp (0 = half of -d) */
	struct rb_source source;	/* --source */
	int		have_source;
};

/* Everything the workers read, set up before they start and never written after. */
struct run {
	struct opts	o;
	struct target	targets[RB_MAX_URLS];
	uint32_t	ntargets;
	struct request	reqs[RB_MAX_URLS];
	size_t		max_req_len;
	uint64_t	t0, tr, tw, te;	/* start, end of ramp-up, end of warm-up, end (duration mode) */
	_Atomic uint64_t tickets;	/* -n: request attempts claimed so far */
	_Atomic int	stop;		/* SIGINT/SIGTERM */
	_Atomic uint32_t running;	/* workers still running */
	/* --idle: connections open now, first responses, requests waiting for their response */
	uint64_t	t_second;	/* when the sampled connections send their second request */
	_Atomic uint32_t open, answered, waiting;
	_Atomic int	limit_err;	/* first errno that names a local limit (rb_limit_name) */
	_Atomic uint32_t not_kept;	/* --idle: responses that ended their connection */
};
extern struct run R;

/* Error kinds, each counted apart. */
enum rb_err {
	E_CONNECT,	/* connect failed or timed out (refused, unreachable, ...) */
	E_TLS,		/* handshake or record-layer failure */
	E_RESET,	/* send or recv failed (ECONNRESET, EPIPE, ...) */
	E_CLOSED,	/* peer closed before any byte of the response */
	E_SHORT,	/* peer closed inside the body (short body) */
	E_PARSE,	/* malformed response, head too large, or bytes after the response */
	E_TIMEOUT,	/* no complete response within --timeout */
	E_STATUS,	/* status not in --expect-status (default: 4xx, 5xx) */
	E_NERR,
};

struct stats {
	uint64_t	responses;
	uint64_t	status[6];	/* by status / 100; [0] = outside 1xx..5xx */
	uint64_t	errors[E_NERR];
	uint64_t	bytes_in;
	uint64_t	sent;		/* open loop: requests sent in the window */
	uint64_t	late;		/* open loop: sent more than RB_LATE_NS after their intended time */
	uint64_t	unsent;		/* open loop: slots due in the window and never sent */
	uint64_t	hs_full, hs_resumed;
	uint64_t	resume_failed;	/* handshakes that failed after offering a session */
	uint64_t	connects;
};

/* --wait-stats: what each io_uring_enter waited for and brought (measured window only). */
#define RB_WS_BUCKETS	12
struct waitstats {
	uint64_t	enters;		/* loop iterations: one io_uring_submit_and_wait each */
	uint64_t	etime;		/* waits that ended by the timeout */
	uint64_t	responses;	/* responses completed by those iterations */
	uint64_t	drained;	/* closed loop: woke with every response in (none left out) */
	uint64_t	asked;		/* sum of the responses each wait asked for */
	uint64_t	collects, collected;	/* no-wait enters after a filled batch; their responses */
	uint64_t	sleep_ns;	/* time inside io_uring_enter */
	uint64_t	busy_ns;	/* wake-up to the next submit: a response's next send waits this */
	uint64_t	per_wake[RB_WS_BUCKETS];	/* responses per wake: 0, 1, ..., 10, 11+ */
	uint64_t	busy_hist[RB_WS_BUCKETS];	/* busy time: <1us, <2us, <4us, ... */
};

struct worker {
	uint32_t	id;
	pthread_t	tid;
	struct io_uring	ring;
	struct conn	*conns;
	uint32_t	nconn, gbase;	/* global index of conns[0] (open-loop phase) */
	struct conn	**heap;		/* min-heap on conn->wake */
	uint32_t	nheap;
	WOLFSSL_CTX	*tls_ctx;
	struct hist	*lat, *lat_unc;
	struct stats	st;
	uint32_t	awaiting;	/* conns with a request out and its response not complete */
	uint32_t	nsend_q;	/* sends queued since the last submit */
	uint32_t	got;		/* responses completed in this loop iteration */
	uint32_t	batch_cap;	/* most responses a batch wait may ask for (adapts) */
	uint32_t	batch_calm;	/* plain waits left before batch waits are tried again */
	int		collect;	/* a batch wait filled: collect what came after it, no wait */
	uint32_t	late;		/* responses a collect finds (running mean): the wake-up's cost */
	uint32_t	late_calm;	/* plain waits left before late is halved */
	struct waitstats ws;		/* --wait-stats */
	uint64_t	ws_enter, ws_wake;
	int		stopping;
	uint64_t	t_stop, t_last_done, next_scan;
	struct rusage	ru0, ru1;
	uint64_t	ru_t0, ru_t1;
	int		ru_started;
	const char	*tls_version, *tls_cipher, *tls_group;	/* of the first handshake */
	char		first_err[192];
	char		fatal[192];
	_Atomic uint64_t live_done, live_err;
};

/* The threads' counters merged by main, and what --idle saw; what rb_report.c prints. */
struct result {
	struct stats	st;
	struct hist	*lat, *unc;
	double		secs, cpu[RB_MAX_THREADS];
	int		local;
	int		saturated;	/* some thread > 80% busy */
	/* --idle: the client's memory before the connections and while holding them (KiB),
	 * measured just before the second requests; counts at that moment */
	long		rss0, rss1;
	uint32_t	open, answered, waiting, open_max;
	int		said_all, said_mid, said_answered, said_waiting;
};

/* CLOCK_MONOTONIC in ns (ringbench.c). */
uint64_t now_ns(void);

/* rb_opts.c: the options from argv into o (defaults for the rest); reads --body. 0, or -1
 * after saying why on stderr (the usage too when it helps); --help prints it and exits. */
int parse_args(struct opts *o, int argc, char **argv);

/* Resolves and probes each URL's host:port into R.targets, builds R.reqs. 0 or -1 (said). */
int setup_targets(void);

/* Raises RLIMIT_NOFILE for -c connections when the hard limit allows. 0 or -1 (said). */
int check_fd_limit(void);

/* rb_report.c: the results, from main once the workers are joined. */
double tv_sec(struct timeval tv);
void report_waitstats(uint32_t t, const struct waitstats *s);
void report_text(struct result *r, struct worker *ws);
void report_json(struct result *r, struct worker *ws);

/* rb_report.c: while the workers run, every 100 ms (--idle) and every second (live line). */
void idle_sample(struct result *r);
void progress(uint64_t start, struct worker *ws, uint64_t *last_done, uint64_t *last_t);

#endif
