/*
 * ringbench set-up: usage, option parsing (-c, -t, -d, ..., --idle) into struct opts, and the
 * targets: each URL's host:port resolved and probed once, its request built, the fd limit
 * raised. Runs before the workers start; nothing here is on the request path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/rb_http.h"
#include "bench/rb_idle.h"
#include "bench/rb_run.h"
#include "bench/rb_tls.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ringbench [options] URL [URL...]\n"
	    "  -c N              connections (total over all threads; default 10)\n"
	    "  -t N              threads, one io_uring ring each (default 1)\n"
	    "  -d DURATION       measured duration (default 10s): 500ms, 10s, 2m\n"
	    "  -n N              stop after N measured requests instead of a duration\n"
	    "  -R RATE           open loop: total requests/s over all connections\n"
	    "      --warmup D    run D before measuring (excluded from results; default 0)\n"
	    "      --ramp D      open the connections gradually over D (default 0)\n"
	    "      --timeout D   per request (default 10s); timed-out requests are errors\n"
	    "  -H 'Name: value'  add a header (Host overrides the URL's)\n"
	    "  -m METHOD         request method (default GET)\n"
	    "      --body FILE   request body\n"
	    "      --new-conn    a new connection per request (TLS: full handshake each time)\n"
	    "      --resume      with https: new connection per request, resuming TLS sessions\n"
	    "      --tls-max V   highest TLS version offered: 1.2 or 1.3 (default 1.3)\n"
	    "  -k, --insecure    do not verify the server certificate\n"
	    "      --cacert FILE CA certificates to verify the server with\n"
	    "      --expect-status LIST  e.g. 200,204; other statuses count as errors\n"
	    "                    (default: 4xx and 5xx count as errors)\n"
	    "      --json        machine-readable result on stdout\n"
	    "      --idle N      hold N keep-alive connections: one request each, then idle for\n"
	    "                    -d; halfway, a sample sends a second request (docs/benchmarking.md)\n"
	    "      --idle-sample K  connections (spread over the set) that send the second\n"
	    "                    request (default 100, at most N; 0 = none)\n"
	    "      --idle-second D  send them D after the ramp (default: half of -d)\n"
	    "      --source CIDR bind to addresses of CIDR in turn (127.0.0.0/16): more than\n"
	    "                    ~28,000 connections to one destination (IP_BIND_ADDRESS_NO_PORT)\n"
	    "      --eager-wake  closed loop: wake for every response instead of batches\n"
	    "                    (the old behaviour; for A/B comparisons only)\n"
	    "      --batch-from N  closed loop: wait for batches of responses from N\n"
	    "                    connections per thread (default 32; fewer: one at a time)\n"
	    "      --wait-stats  print what the loop's waits asked for and brought (stderr)\n"
	    "  -q, --quiet       no live progress line\n"
	    "URLs of one host:port share connections and are sent round-robin.\n");
}

static int
parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v > max || *s == '-')
		return -1;
	*out = v;
	return 0;
}

static int
read_body(struct opts *o)
{
	FILE *f = fopen(o->body_file, "rb");
	struct stat sb;

	if (f == NULL || fstat(fileno(f), &sb) < 0 || sb.st_size > (64 << 20)) {
		fprintf(stderr, "ringbench: --body %s: %s\n", o->body_file,
		    f == NULL ? strerror(errno) : "larger than 64 MiB or unreadable");
		if (f != NULL)
			fclose(f);
		return -1;
	}
	o->body_len = (size_t)sb.st_size;
	o->body = malloc(o->body_len + 1);
	if (o->body == NULL || fread(o->body, 1, o->body_len, f) != o->body_len) {
		fprintf(stderr, "ringbench: --body %s: read failed\n", o->body_file);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

enum {
	OPT_WARMUP = 256, OPT_RAMP, OPT_TIMEOUT, OPT_BODY, OPT_NEWCONN, OPT_RESUME, OPT_CACERT,
	OPT_EXPECT, OPT_JSON, OPT_HELP, OPT_CRYPTO, OPT_TLSMAX, OPT_EAGER, OPT_BATCH_FROM,
	OPT_WAITSTATS, OPT_IDLE,
	OPT_IDLE_SAMPLE, OPT_SOURCE, OPT_IDLE_SECOND,
};

int
parse_args(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{"warmup", required_argument, NULL, OPT_WARMUP},
		{"ramp", required_argument, NULL, OPT_RAMP},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"body", required_argument, NULL, OPT_BODY},
		{"new-conn", no_argument, NULL, OPT_NEWCONN},
		{"resume", no_argument, NULL, OPT_RESUME},
		{"tls-max", required_argument, NULL, OPT_TLSMAX},
		{"insecure", no_argument, NULL, 'k'},
		{"cacert", required_argument, NULL, OPT_CACERT},
		{"expect-status", required_argument, NULL, OPT_EXPECT},
		{"json", no_argument, NULL, OPT_JSON},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, OPT_HELP},
		{"crypto", no_argument, NULL, OPT_CRYPTO},
		{"eager-wake", no_argument, NULL, OPT_EAGER},
		{"batch-from", required_argument, NULL, OPT_BATCH_FROM},
		{"wait-stats", no_argument, NULL, OPT_WAITSTATS},
		{"idle", required_argument, NULL, OPT_IDLE},
		{"idle-sample", required_argument, NULL, OPT_IDLE_SAMPLE},
		{"source", required_argument, NULL, OPT_SOURCE},
		{"idle-second", required_argument, NULL, OPT_IDLE_SECOND},
		{NULL, 0, NULL, 0},
	};
	char err[512], *tok, *save;
	int64_t d;
	uint64_t v;
	int ch, li = 0;

	o->conns = 10;
	o->threads = 1;
	o->batch_from = RB_BATCH_FROM;
	o->duration_ns = 10000000000ull;
	o->timeout_ns = 10000000000ull;
	o->method = "GET";
	o->idle_sample = 100;
	while ((ch = getopt_long(argc, argv, "c:t:d:n:R:H:m:kq", lo, &li)) != -1) {
		switch (ch) {
		case 'c':
			if (parse_u64(optarg, RB_MAX_CONNS, &v) < 0 || v == 0)
				goto bad;
			o->conns = (uint32_t)v;
			break;
		case 't':
			if (parse_u64(optarg, RB_MAX_THREADS, &v) < 0 || v == 0)
				goto bad;
			o->threads = (uint32_t)v;
			break;
		case 'n':
			if (parse_u64(optarg, UINT64_MAX / 2, &o->nreq) < 0 || o->nreq == 0)
				goto bad;
			break;
		case 'R':
			o->rate = strtod(optarg, &tok);
			if (*tok != '\0' || !(o->rate > 0) || o->rate > 1e9)
				goto bad;
			break;
		case 'H':
			if (o->nhdrs == RB_MAX_HDRS || strchr(optarg, ':') == NULL ||
			    strpbrk(optarg, "\r\n") != NULL) {
				fprintf(stderr, "ringbench: -H '%s': want 'Name: value'\n", optarg);
				return -1;
			}
			o->hdrs[o->nhdrs++] = optarg;
			break;
		case 'm':
			if (strpbrk(optarg, " \t\r\n") != NULL || *optarg == '\0')
				goto bad;
			o->method = optarg;
			break;
		case 'k':
			o->insecure = 1;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'd':
		case OPT_WARMUP:
		case OPT_RAMP:
		case OPT_TIMEOUT:
		case OPT_IDLE_SECOND:
			d = rb_parse_duration(optarg);
			if (d < 0 || (d == 0 && (ch == 'd' || ch == OPT_TIMEOUT)))
				goto bad;
			if (ch == 'd') {
				o->duration_ns = (uint64_t)d;
				o->have_duration = 1;
			} else if (ch == OPT_WARMUP) {
				o->warmup_ns = (uint64_t)d;
			} else if (ch == OPT_RAMP) {
				o->ramp_ns = (uint64_t)d;
			} else if (ch == OPT_IDLE_SECOND) {
				o->idle_second_ns = (uint64_t)d;
			} else {
				o->timeout_ns = (uint64_t)d;
			}
			break;
		case OPT_BODY:
			o->body_file = optarg;
			break;
		case OPT_NEWCONN:
			o->new_conn = 1;
			break;
		case OPT_RESUME:
			o->resume = 1;
			o->new_conn = 1;
			break;
		case OPT_TLSMAX:
			o->have_tls_max = 1;
			if (strcmp(optarg, "1.2") == 0) {
				o->tls_max = RB_TLS_MAX_12;
			} else if (strcmp(optarg, "1.3") == 0) {
				o->tls_max = RB_TLS_MAX_13;
			} else {
				fprintf(stderr, "ringbench: --tls-max '%s': want 1.2 or 1.3\n",
				    optarg);
				return -1;
			}
			break;
		case OPT_CACERT:
			o->cacert = optarg;
			break;
		case OPT_EXPECT:
			for (tok = strtok_r(optarg, ",", &save); tok != NULL;
			    tok = strtok_r(NULL, ",", &save)) {
				if (o->nexpect == (int)RB_NELEM(o->expect) ||
				    parse_u64(tok, 599, &v) < 0 || v < 100)
					goto bad;
				o->expect[o->nexpect++] = (int)v;
			}
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		case OPT_EAGER:
			o->eager_wake = 1;
			break;
		case OPT_BATCH_FROM:
			if (parse_u64(optarg, RB_MAX_CONNS, &v) < 0 || v < 2)
				goto bad;
			o->batch_from = (uint32_t)v;
			break;
		case OPT_WAITSTATS:
			o->wait_stats = 1;
			break;
		case OPT_IDLE:
		case OPT_IDLE_SAMPLE:
			if (parse_u64(optarg, RB_MAX_CONNS, &v) < 0 || (ch == OPT_IDLE && v == 0))
				goto bad;
			if (ch == OPT_IDLE)
				o->idle = (uint32_t)v;
			else
				o->idle_sample = (uint32_t)v;
			break;
		case OPT_SOURCE:
			if (rb_source_parse(optarg, &o->source, err, sizeof(err)) < 0) {
				fprintf(stderr, "ringbench: --source %s\n", err);
				return -1;
			}
			o->have_source = 1;
			break;
		case OPT_HELP:
			usage(stdout);
			exit(0);
		case OPT_CRYPTO:
			fprintf(stderr, "ringbench: --crypto is provided by bench/crypto\n");
			return -1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "ringbench: no URL given\n");
		usage(stderr);
		return -1;
	}
	for (; optind < argc; optind++) {
		if (o->nurls == RB_MAX_URLS) {
			fprintf(stderr, "ringbench: at most %d URLs\n", RB_MAX_URLS);
			return -1;
		}
		if (rb_url_parse(&o->urls[o->nurls], argv[optind], err, sizeof(err)) < 0) {
			fprintf(stderr, "ringbench: bad URL %s\n", err);
			return -1;
		}
		o->nurls++;
	}
	for (v = 0; v < o->nurls && !o->urls[v].tls; v++)
		;
	if (v == o->nurls && (o->resume || o->have_tls_max)) {
		fprintf(stderr, "ringbench: %s needs an https:// URL (TLS); all URLs are http://\n",
		    o->resume ? "--resume" : "--tls-max");
		return -1;
	}
	if (o->idle > 0 && (o->rate > 0 || o->nreq > 0 || o->new_conn)) {
		fprintf(stderr, "ringbench: --idle holds keep-alive connections for -d: it does not "
		    "go with -R, -n, --new-conn or --resume\n");
		return -1;
	}
	if (o->idle > 0) {
		o->conns = o->idle;
		o->warmup_ns = 0;
		if (o->idle_sample > o->idle)
			o->idle_sample = o->idle;
	}
	if (o->threads > o->conns)
		o->threads = o->conns;
	if (o->body_file != NULL && read_body(o) < 0)
		return -1;
	return 0;
bad:
	/* Long-only options (ch >= 256) are reported by name; li is set when one matched. */
	if (ch < 256)
		fprintf(stderr, "ringbench: bad value for -%c: '%s'\n", ch, optarg);
	else
		fprintf(stderr, "ringbench: bad value for --%s: '%s'\n", lo[li].name, optarg);
	usage(stderr);
	return -1;
}

/* Is addr loopback or one of this host's own addresses? */
static int
addr_is_local(const struct sockaddr_storage *a)
{
	struct ifaddrs *ifa, *i;
	int local = 0;

	if (a->ss_family == AF_INET &&
	    (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127)
		return 1;
	if (a->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)a)->sin6_addr))
		return 1;
	if (getifaddrs(&ifa) < 0)
		return 0;
	for (i = ifa; i != NULL && !local; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != a->ss_family)
			continue;
		if (a->ss_family == AF_INET)
			local = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr ==
			    ((const struct sockaddr_in *)a)->sin_addr.s_addr;
		else
			local = memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
			    &((const struct sockaddr_in6 *)a)->sin6_addr, 16) == 0;
	}
	freeifaddrs(ifa);
	return local;
}

/* One blocking connect with a deadline, so a dead target is a clear error before the run. */
static int
probe_target(const struct target *t, char *err, size_t errlen)
{
	struct pollfd pfd;
	socklen_t sl = sizeof(int);
	int fd, ret, soerr = 0;

	fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	ret = connect(fd, (const struct sockaddr *)&t->addr, t->addrlen);
	if (ret < 0 && errno == EINPROGRESS) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		ret = poll(&pfd, 1, 3000);
		if (ret == 0) {
			snprintf(err, errlen, "connect %s: no answer within 3 s", t->addrtext);
			close(fd);
			return -1;
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		ret = soerr ? -1 : 0;
		errno = soerr;
	}
	if (ret < 0) {
		snprintf(err, errlen, "connect %s: %s", t->addrtext, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static void
target_addrtext(struct target *t)
{
	char host[INET6_ADDRSTRLEN];

	if (t->addr.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&t->addr)->sin6_addr, host,
		    sizeof(host));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&t->addr)->sin_addr, host,
		    sizeof(host));
	snprintf(t->addrtext, sizeof(t->addrtext),
	    t->addr.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, t->port);
}

int
setup_targets(void)
{
	struct addrinfo hints, *res, *ai;
	struct rb_url *u;
	struct target *t;
	uint32_t i, j;
	char err[512];
	int ret;

	for (i = 0; i < R.o.nurls; i++) {
		u = &R.o.urls[i];
		for (j = 0; j < R.ntargets; j++) {
			t = &R.targets[j];
			if (t->tls == u->tls && strcmp(t->host, u->host) == 0 &&
			    strcmp(t->port, u->port) == 0)
				break;
		}
		if (j == R.ntargets) {
			t = &R.targets[R.ntargets++];
			t->tls = u->tls;
			strcpy(t->host, u->host);
			strcpy(t->port, u->port);
			memset(&hints, 0, sizeof(hints));
			hints.ai_socktype = SOCK_STREAM;
			ret = getaddrinfo(u->host, u->port, &hints, &res);
			if (ret != 0) {
				fprintf(stderr, "ringbench: %s: cannot resolve %s: %s\n", u->text,
				    u->host, gai_strerror(ret));
				return -1;
			}
			/* like curl: use the first address that accepts a connection (localhost is
			 * often ::1 first while the server listens on 127.0.0.1 only) */
			ret = -1;
			for (ai = res; ai != NULL && ret < 0; ai = ai->ai_next) {
				memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
				t->addrlen = ai->ai_addrlen;
				target_addrtext(t);
				ret = probe_target(t, err, sizeof(err));
			}
			freeaddrinfo(res);
			if (ret < 0) {
				fprintf(stderr, "ringbench: %s: target unreachable: %s\n", u->text, err);
				return -1;
			}
			t->local = addr_is_local(&t->addr);
		}
		t->urls[t->nurls++] = i;
		R.reqs[i].target = j;
		R.reqs[i].head = strcasecmp(R.o.method, "HEAD") == 0;
		if (rb_req_build(&R.reqs[i].buf, &R.reqs[i].len, u, R.o.method, R.o.hdrs, R.o.nhdrs,
		    R.o.body, R.o.body_len, R.o.new_conn) < 0)
			return -1;
		if (R.reqs[i].len > R.max_req_len)
			R.max_req_len = R.reqs[i].len;
	}
	return 0;
}

/* Each connection needs an fd; raise the soft limit when the hard one allows it. */
int
check_fd_limit(void)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)R.o.conns + 32 + 2 * R.o.threads;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need && R.o.idle) {
		/* --idle: find out how many it can hold; the report says the limit stopped it. */
		fprintf(stderr, "ringbench: warning: --idle %u needs %llu file descriptors but the "
		    "hard limit (RLIMIT_NOFILE) is %llu: it will stop there\n", R.o.idle,
		    (unsigned long long)need, (unsigned long long)rl.rlim_max);
		need = rl.rlim_max;
	} else if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		fprintf(stderr, "ringbench: -c %u needs %llu file descriptors but the hard limit "
		    "(RLIMIT_NOFILE) is %llu: raise it (ulimit -Hn, limits.conf) or lower -c\n",
		    R.o.conns, (unsigned long long)need, (unsigned long long)rl.rlim_max);
		return -1;
	}
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		fprintf(stderr, "ringbench: cannot raise the fd limit to %llu: %s\n",
		    (unsigned long long)need, strerror(errno));
		return -1;
	}
	return 0;
}
