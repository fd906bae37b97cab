/*
 * acme_run: drives core/acme against a real ACME server (pebble) for the integration tests,
 * until the listeners answer challenges themselves. It answers the server's validations from
 * the responder table exactly as the data plane will:
 *
 *  - HTTP-01 on --http-port: responder_http_is_acme() + responder_http_lookup() on the
 *    request target, 200 text/plain or 404;
 *  - TLS-ALPN-01 on --tls-port: the first record is peeked, responder_hello_wants_acme() and
 *    the SNI pick the challenge certificate from responder_alpn_get(), wolfSSL completes the
 *    handshake with ALPN acme-tls/1 and the connection is closed.
 *
 * Modes: --once (one acme_issue, exit 0 on success, 1 with the error on stderr) or
 * --run-for SECONDS (the ACME thread with its scheduler, then acme_stop; exit 0).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "core/acme/acme.h"
#include "core/acme/responder.h"
#include "core/lib/log.h"

static int
listen_on(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 64) < 0) {
		fprintf(stderr, "acme_run: cannot listen on 127.0.0.1:%d: %s\n", port,
			strerror(errno));
		exit(2);
	}
	return fd;
}

static void
set_timeout(int fd)
{
	struct timeval tv = { .tv_sec = 5 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void *
http_thread(void *arg)
{
	int lfd = *(int *)arg;

	for (;;) {
		char req[4096], ka[512], out[1024];
		size_t have = 0;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), n;
		char *sp1, *sp2;

		if (fd < 0)
			continue;
		set_timeout(fd);
		while (have < sizeof(req) - 1) {
			ssize_t r = recv(fd, req + have, sizeof(req) - 1 - have, 0);

			if (r <= 0)
				break;
			have += (size_t)r;
			req[have] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		req[have] = '\0';
		sp1 = strchr(req, ' ');
		sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
		n = -ENOENT;
		if (sp2 && responder_http_is_acme(sp1 + 1, (size_t)(sp2 - sp1 - 1)))
			n = responder_http_lookup(sp1 + 1, (size_t)(sp2 - sp1 - 1), ka, sizeof(ka));
		if (n >= 0)
			n = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				     "Content-Length: %d\r\nConnection: close\r\n\r\n%s", n, ka);
		else
			n = snprintf(out, sizeof(out), "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
				     "Connection: close\r\n\r\n");
		if (send(fd, out, (size_t)n, MSG_NOSIGNAL) < 0)
			perror("acme_run: send");
		close(fd);
	}
	return NULL;
}

static void *
tls_thread(void *arg)
{
	int lfd = *(int *)arg;

	for (;;) {
		WOLFSSL_CTX *ctx = NULL;
		uint8_t rec[16384 + 5], *cert = NULL, *key = NULL;
		unsigned char name[256];
		unsigned int nlen = sizeof(name) - 1;
		size_t cl, kl;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		ssize_t got = 0;
		WOLFSSL *ssl = NULL;
		int rc = 0;

		if (fd < 0)
			continue;
		set_timeout(fd);
		/* peek until the whole first record is there, as tls/tlsconn.c hello() waits */
		for (int i = 0; i < 50; i++) {
			got = recv(fd, rec, sizeof(rec), MSG_PEEK);
			if (got <= 0 || (got >= 5 && got >= 5 + (rec[3] << 8 | rec[4])))
				break;
			usleep(10000);
		}
		if (got < 5 || !responder_hello_wants_acme(rec, (size_t)got) ||
		    wolfSSL_SNI_GetFromBuffer(rec, (unsigned int)got, WOLFSSL_SNI_HOST_NAME, name,
					      &nlen) != WOLFSSL_SUCCESS) {
			fprintf(stderr, "acme_run: TLS connection without acme-tls/1 or SNI\n");
			goto next;
		}
		name[nlen] = '\0';
		if (responder_alpn_get((char *)name, &cert, &cl, &key, &kl) < 0) {
			fprintf(stderr, "acme_run: no tls-alpn-01 challenge for %s\n", name);
			goto next;
		}
		/* a server context needs its certificate before wolfSSL_new: one context per
		 * challenge connection (a handful per issuance) */
		ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
		if (ctx == NULL ||
		    (rc = wolfSSL_CTX_use_certificate_buffer(ctx, cert, (long)cl,
							     WOLFSSL_FILETYPE_ASN1)) != WOLFSSL_SUCCESS ||
		    (rc = wolfSSL_CTX_use_PrivateKey_buffer(ctx, key, (long)kl,
							    WOLFSSL_FILETYPE_ASN1)) != WOLFSSL_SUCCESS ||
		    (ssl = wolfSSL_new(ctx)) == NULL ||
		    (rc = wolfSSL_UseALPN(ssl, (char *)RESPONDER_ALPN, sizeof(RESPONDER_ALPN) - 1,
					  WOLFSSL_ALPN_FAILED_ON_MISMATCH)) != WOLFSSL_SUCCESS) {
			fprintf(stderr, "acme_run: cannot set up the challenge handshake: %d\n", rc);
			goto next;
		}
		wolfSSL_set_fd(ssl, fd);
		if (wolfSSL_accept(ssl) != WOLFSSL_SUCCESS)
			fprintf(stderr, "acme_run: challenge handshake for %s failed: %d\n", name,
				wolfSSL_get_error(ssl, 0));
		else
			wolfSSL_shutdown(ssl);
next:
		if (ssl)
			wolfSSL_free(ssl);
		if (ctx)
			wolfSSL_CTX_free(ctx);
		free(cert);
		free(key);
		close(fd);
	}
	return NULL;
}

static void
usage(void)
{
	fprintf(stderr, "usage: acme_run --directory URL --state DIR --account-key FILE "
		"--names A,B [--name NAME] [--ca FILE] [--contact MAIL] [--challenge http-01|"
		"tls-alpn-01|both] [--key-type ec256|rsa2048|rsa3072] [--http-port N] "
		"[--tls-port N] [--retry-min MS] [--poll-max MS] [--timeout MS] "
		"(--once | --run-for SECONDS)\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "directory", 1, NULL, 'd' }, { "state", 1, NULL, 's' },
		{ "account-key", 1, NULL, 'a' }, { "names", 1, NULL, 'n' },
		{ "name", 1, NULL, 'N' }, { "ca", 1, NULL, 'c' }, { "contact", 1, NULL, 'm' },
		{ "challenge", 1, NULL, 'C' }, { "key-type", 1, NULL, 'k' },
		{ "http-port", 1, NULL, 'h' }, { "tls-port", 1, NULL, 't' },
		{ "retry-min", 1, NULL, 'r' }, { "poll-max", 1, NULL, 'p' },
		{ "timeout", 1, NULL, 'T' }, { "once", 0, NULL, 'o' }, { "run-for", 1, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct acme_cert_cfg cfg = {
		.name = "acme", .key_type = ACME_KEY_EC256, .challenges = ACME_CHALL_HTTP01,
		.retry_min_ms = 60000, .retry_max_ms = 24 * 3600 * 1000ULL, .timeout_ms = 10000,
		.poll_max_ms = 60000,
	};
	const char *names[32];
	int nnames = 0, http_port = 0, tls_port = 0, once = 0, run_for = 0, c;
	pthread_t th;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': cfg.directory = optarg; break;
		case 's': cfg.state_dir = optarg; break;
		case 'a': cfg.account_key = optarg; break;
		case 'N': cfg.name = optarg; break;
		case 'c': cfg.ca = optarg; break;
		case 'm': cfg.contact = optarg; break;
		case 'n':
			for (char *t = strtok(optarg, ","); t && nnames < 32; t = strtok(NULL, ","))
				names[nnames++] = t;
			break;
		case 'C':
			cfg.challenges = strcmp(optarg, "http-01") == 0 ? ACME_CHALL_HTTP01 :
					 strcmp(optarg, "tls-alpn-01") == 0 ? ACME_CHALL_TLSALPN01 :
					 ACME_CHALL_HTTP01 | ACME_CHALL_TLSALPN01;
			break;
		case 'k':
			cfg.key_type = strcmp(optarg, "rsa2048") == 0 ? ACME_KEY_RSA2048 :
				       strcmp(optarg, "rsa3072") == 0 ? ACME_KEY_RSA3072 :
				       ACME_KEY_EC256;
			break;
		case 'h': http_port = atoi(optarg); break;
		case 't': tls_port = atoi(optarg); break;
		case 'r': cfg.retry_min_ms = strtoull(optarg, NULL, 10); break;
		case 'p': cfg.poll_max_ms = strtoull(optarg, NULL, 10); break;
		case 'T': cfg.timeout_ms = strtoull(optarg, NULL, 10); break;
		case 'o': once = 1; break;
		case 'R': run_for = atoi(optarg); break;
		default: usage();
		}
	}
	if (!cfg.directory || !cfg.state_dir || !cfg.account_key || nnames == 0 ||
	    (!once && run_for <= 0))
		usage();
	cfg.names = names;
	cfg.nnames = nnames;
	log_threshold = LOG_DEBUG;
	signal(SIGPIPE, SIG_IGN);	/* pebble closes the challenge connections first */
	wolfSSL_Init();
	if (http_port > 0) {
		static int fd;

		fd = listen_on(http_port);
		pthread_create(&th, NULL, http_thread, &fd);
		pthread_detach(th);
	}
	if (tls_port > 0) {
		static int fd;

		fd = listen_on(tls_port);
		pthread_create(&th, NULL, tls_thread, &fd);
		pthread_detach(th);
	}
	if (once) {
		char err[4096];

		curl_global_init(CURL_GLOBAL_DEFAULT);
		if (acme_issue(&cfg, err, sizeof(err)) < 0) {
			log_error("acme[%s]: %s", cfg.name, err);
			return 1;
		}
		log_info("acme[%s]: issued", cfg.name);
		return 0;
	}
	if (acme_start(&cfg, 1, NULL, NULL) < 0) {
		fprintf(stderr, "acme_run: acme_start failed\n");
		return 1;
	}
	sleep((unsigned)run_for);
	acme_stop();
	log_info("acme_run: stopped cleanly");
	return 0;
}
