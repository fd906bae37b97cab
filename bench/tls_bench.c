/*
 * tls_bench: handshakes per CPU-second of ringedge's TLS layer, in memory (no sockets): a
 * tls_conn client and a tls_conn server in one thread exchange wire bytes; the server side's
 * CPU time (CLOCK_THREAD_CPUTIME_ID around every server call) is what the rate divides by.
 * Full handshakes (ECDSA P-256 certificate, ECDHE, no session) and resumed ones (ticket from
 * the previous handshake; TLS 1.3 resumption still does an ECDHE key share, psk_dhe_ke), for
 * TLS 1.3 and TLS 1.2. Certificate: a throw-away P-256 self-signed one made with openssl.
 *
 * Usage: tls_bench [-n HANDSHAKES]   (default 2000 per row)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "tls/tls.h"

static double srv_cpu;	/* seconds of server-side CPU */

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Moves wire bytes from one side to the other; `to_server` says whose CPU it is. */
static int
move(struct tls_conn *from, struct tls_conn *to, int to_server)
{
	static char tmp[70000];
	const char *w;
	size_t n;
	int moved = 0;

	while ((n = tls_conn_wire(from, &w)) > 0) {
		char *app;
		size_t alen;
		double t0 = 0;
		int rc;

		memcpy(tmp, w, n);
		tls_conn_wire_done(from, n);
		if (to_server)
			t0 = cpu_now();
		rc = tls_conn_recv(to, tmp, n, &app, &alen);
		if (to_server)
			srv_cpu += cpu_now() - t0;
		if (rc < 0)
			return -1;
		moved = 1;
	}
	return moved;
}

/* One handshake; returns 1 resumed, 0 full, -1 failed. */
static int
handshake(const struct tls_server *s, const struct tls_client *c, struct tls_sess_slot *slot)
{
	double t0 = cpu_now();
	struct tls_conn *sc = tls_conn_server(s), *cc;
	int rc = -1;

	srv_cpu += cpu_now() - t0;
	cc = tls_conn_client(c, "bench.example", slot);
	if (sc == NULL || cc == NULL)
		goto out;
	for (int i = 0; i < 20; i++) {
		int a = move(cc, sc, 1), b = move(sc, cc, 0);

		if (a < 0 || b < 0)
			goto out;
		if (a == 0 && b == 0)
			break;
	}
	if (tls_conn_established(sc) && tls_conn_established(cc))
		rc = tls_conn_resumed(sc);
out:
	tls_conn_free(cc);
	t0 = cpu_now();
	tls_conn_free(sc);
	srv_cpu += cpu_now() - t0;
	return rc;
}

static void
row(const char *name, const struct tls_server *s, const struct tls_client *c, int n, int resume)
{
	struct tls_sess_slot slot = { NULL };
	double all0, all;
	int ok = 0, resumed = 0;

	if (resume && handshake(s, c, &slot) < 0) {	/* primes the slot */
		printf("%-32s handshake failed\n", name);
		return;
	}
	srv_cpu = 0;
	all0 = cpu_now();
	for (int i = 0; i < n; i++) {
		int rc = handshake(s, c, resume ? &slot : NULL);

		ok += rc >= 0;
		resumed += rc == 1;
	}
	all = cpu_now() - all0;
	printf("%-32s %6d ok %6d resumed  server %8.0f /cpu-s  (client+server %7.0f /cpu-s)\n",
	       name, ok, resumed, ok / srv_cpu, ok / all);
	tls_sess_slot_clear(&slot);
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/tls_bench.XXXXXX", cmd[1024], crt[64], key[64];
	struct cfg_errors err = { 0 };
	struct cfg_cert pair;
	struct cfg_listener l = { .name = "bench", .line = 1, .tls = true, .certs = &pair,
				  .ncerts = 1, .session_tickets = true };
	struct cfg_pool p = { .name = "bench", .line = 1, .tls = true, .verify = true };
	struct tls_server *s13, *s12;
	struct tls_client *c;
	int n = 2000, opt;

	while ((opt = getopt(argc, argv, "n:")) != -1) {
		if (opt != 'n' || (n = atoi(optarg)) <= 0) {
			fprintf(stderr, "usage: tls_bench [-n HANDSHAKES]\n");
			return 2;
		}
	}
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(crt, sizeof(crt), "%s/c.pem", dir);
	snprintf(key, sizeof(key), "%s/k.pem", dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 "
		 "-subj /CN=bench.example -addext subjectAltName=DNS:bench.example "
		 "-keyout %s -out %s >/dev/null 2>&1", key, crt);
	if (system(cmd) != 0) {
		fprintf(stderr, "tls_bench: openssl failed\n");
		return 1;
	}
	pair.certificate = crt;
	pair.private_key = key;
	pair.line = 1;
	p.ca = crt;
	if (tls_init() < 0 || tls_tickets_init(&tls_tickets_global) < 0)
		return 1;
	l.protocols = CFG_TLS12 | CFG_TLS13;
	s13 = tls_server_new("bench", &l, NULL, NULL, &err);
	l.protocols = CFG_TLS12;
	s12 = tls_server_new("bench", &l, NULL, NULL, &err);
	c = tls_client_new("bench", &p, &err);
	if (s13 == NULL || s12 == NULL || c == NULL) {
		fprintf(stderr, "%s", err.text ? err.text : "setup failed\n");
		return 1;
	}
	printf("tls_bench: %d handshakes per row, ECDSA P-256 certificate, client verifies it\n", n);
	row("TLSv1.3 full (ECDHE, ECDSA)", s13, c, n, 0);
	row("TLSv1.3 resumed (ticket, psk_dhe)", s13, c, n, 1);
	row("TLSv1.2 full (ECDHE-ECDSA)", s12, c, n, 0);
	row("TLSv1.2 resumed (ticket)", s12, c, n, 1);
	tls_server_free(s13);
	tls_server_free(s12);
	tls_client_free(c);
	tls_tickets_destroy(&tls_tickets_global);
	cfg_errors_free(&err);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) != 0;
}
