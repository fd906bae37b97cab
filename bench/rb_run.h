/*
 * ringbench's run: the options, the targets and requests, and the state every thread reads
 * (R), shared by ringbench.c (the worker loop and main), rb_opts.c (usage, option parsing,
 * target set-up) and rb_report.c (the text and JSON results).
 */
#ifndef RINGEDGE_BENCH_RB_RUN_H
#define RINGEDGE_BENCH_RB_RUN_H

#include <sys/socket.h>

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

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

/* The options from argv into o (defaults for the rest); reads --body. 0, or -1 after saying
 * why on stderr (the usage too when it helps); --help prints the usage and exits. */
int parse_args(struct opts *o, int argc, char **argv);

/* Resolves and probes each URL's host:port into R.targets, builds R.reqs. 0 or -1 (said). */
int setup_targets(void);

/* Raises RLIMIT_NOFILE for -c connections when the hard limit allows. 0 or -1 (said). */
int check_fd_limit(void);

#endif
