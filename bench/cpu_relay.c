/*
 * cpu_relay: the floor for bench/cpu_compare.sh. A byte relay with no HTTP at all: each
 * accepted client gets its own backend connection (connected at accept), and whatever one side
 * sends is sent to the other. For a keep-alive request/response load this is the least a proxy
 * can do per request: receive the request, send it, receive the response, send it.
 *
 *   cpu_relay uring PORT BACKEND_PORT   io_uring, one submit_and_wait per loop (as ringedge)
 *   cpu_relay epoll PORT BACKEND_PORT   epoll_wait + read + write (as nginx/HAProxy)
 *   cpu_relay uring-pf ...              recv with IORING_RECVSEND_POLL_FIRST (no first try)
 *   cpu_relay uring-ms ...              one multishot recv per socket into a provided
 *                                       buffer ring (no recv SQE per request)
 *
 * Loopback only (127.0.0.1), one thread, no error recovery beyond closing the pair. Not part of
 * the build: bench/cpu_compare.sh compiles it with cc -O2 ... -luring.
 */
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ	16384

struct side {
	int		 fd;
	struct pair	*p;
	int		 idx;
	char		 buf[BUFSZ];
};

struct pair {
	struct side	 s[2];	/* 0 client, 1 backend */
	int		 refs;	/* in-flight ops (uring) */
	int		 dead;
};

static int bport;

static int
listen_on(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0) {
		perror("listen");
		exit(1);
	}
	return fd;
}

static struct pair *
pair_new(int cfd)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)bport),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct pair *p = calloc(1, sizeof(*p));
	int one = 1;

	p->s[0].fd = cfd;
	p->s[1].fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(p->s[1].fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("connect backend");
		exit(1);
	}
	for (int i = 0; i < 2; i++) {
		p->s[i].p = p;
		p->s[i].idx = i;
		setsockopt(p->s[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	return p;
}

/* ---- io_uring ---- */

enum { U_ACCEPT = 1, U_RECV, U_SEND };

static struct io_uring ring;
static int poll_first, multishot;

#define NBUFS	1024
static struct io_uring_buf_ring *br;
static char *bufs;

static void
buf_put(unsigned bid)
{
	io_uring_buf_ring_add(br, bufs + (size_t)bid * BUFSZ, BUFSZ, (unsigned short)bid,
		io_uring_buf_ring_mask(NBUFS), 0);
	io_uring_buf_ring_advance(br, 1);
}

static void
u_prep(int op, struct side *s, unsigned len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

	if (sqe == NULL) {
		io_uring_submit(&ring);
		sqe = io_uring_get_sqe(&ring);
	}
	if (op == U_RECV && multishot) {
		io_uring_prep_recv_multishot(sqe, s->fd, NULL, 0, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = 1;
	} else if (op == U_RECV) {
		io_uring_prep_recv(sqe, s->fd, s->buf, BUFSZ, 0);
		if (poll_first)
			sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
	} else {
		io_uring_prep_send(sqe, s->p->s[!s->idx].fd, s->buf, len, 0);
	}
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)s | (uint64_t)op << 56);
	s->p->refs++;
}

static void
u_done(struct side *s, int op, int res, unsigned flags)
{
	struct pair *p = s->p;

	if (multishot && op == U_RECV && (flags & IORING_CQE_F_BUFFER)) {
		unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;

		/* copy out and recycle at once: the relay keeps one send per side */
		if (res > 0)
			memcpy(s->buf, bufs + (size_t)bid * BUFSZ, (size_t)res);
		buf_put(bid);
	}
	if (!(multishot && op == U_RECV && (flags & IORING_CQE_F_MORE)))
		p->refs--;
	if (res <= 0 && !p->dead) {
		p->dead = 1;
		shutdown(p->s[0].fd, SHUT_RDWR);
		shutdown(p->s[1].fd, SHUT_RDWR);
	}
	if (p->dead) {
		if (p->refs == 0) {
			close(p->s[0].fd);
			close(p->s[1].fd);
			free(p);
		}
		return;
	}
	if (op == U_RECV)
		u_prep(U_SEND, s, (unsigned)res);	/* small loopback sends complete whole */
	else if (!multishot)
		u_prep(U_RECV, s, 0);
}

static int
run_uring(int lfd)
{
	struct io_uring_params prm;
	struct io_uring_sqe *sqe;

	memset(&prm, 0, sizeof(prm));
	prm.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	if (io_uring_queue_init_params(1024, &ring, &prm) < 0 &&
	    io_uring_queue_init(1024, &ring, 0) < 0)
		return 1;
	io_uring_register_ring_fd(&ring);
	if (multishot) {
		struct io_uring_buf_reg reg = { .ring_entries = NBUFS, .bgid = 1 };

		br = aligned_alloc(4096, NBUFS * sizeof(struct io_uring_buf));
		bufs = malloc((size_t)NBUFS * BUFSZ);
		reg.ring_addr = (uint64_t)(uintptr_t)br;
		if (io_uring_register_buf_ring(&ring, &reg, 0) < 0)
			return 1;
		io_uring_buf_ring_init(br);
		for (unsigned i = 0; i < NBUFS; i++)
			buf_put(i);
	}
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, 0);
	io_uring_sqe_set_data64(sqe, (uint64_t)U_ACCEPT << 56);
	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;

		io_uring_submit_and_wait(&ring, 1);
		io_uring_for_each_cqe(&ring, head, cqe) {
			uint64_t ud = cqe->user_data;
			int op = (int)(ud >> 56);

			n++;
			if (op == U_ACCEPT) {
				if (cqe->res >= 0) {
					struct pair *p = pair_new(cqe->res);

					u_prep(U_RECV, &p->s[0], 0);
					u_prep(U_RECV, &p->s[1], 0);
				}
				continue;
			}
			u_done((struct side *)(uintptr_t)(ud & ((1ULL << 56) - 1)), op, cqe->res,
			       cqe->flags);
		}
		io_uring_cq_advance(&ring, n);
	}
	return 0;
}

/* ---- epoll ---- */

static int
run_epoll(int lfd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL }, evs[256];
	int ep = epoll_create1(0);

	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			struct side *s = evs[i].data.ptr;
			ssize_t r;

			if (s == NULL) {
				int cfd = accept(lfd, NULL, NULL);
				struct pair *p;

				if (cfd < 0)
					continue;
				p = pair_new(cfd);
				for (int k = 0; k < 2; k++) {
					struct epoll_event e = { .events = EPOLLIN,
								 .data.ptr = &p->s[k] };

					epoll_ctl(ep, EPOLL_CTL_ADD, p->s[k].fd, &e);
				}
				continue;
			}
			r = read(s->fd, s->buf, BUFSZ);
			if (r <= 0 || write(s->p->s[!s->idx].fd, s->buf, (size_t)r) != r) {
				struct pair *p = s->p;

				if (p->s[0].fd < 0)
					continue;	/* the pair already closed in this batch */
				close(p->s[0].fd);
				close(p->s[1].fd);
				/* leaked on purpose: a later event in this batch may still point
				 * at it (the benchmark closes a few dozen pairs per run) */
				p->s[0].fd = p->s[1].fd = -1;
			}
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	int lfd;

	if (argc != 4) {
		fprintf(stderr, "usage: cpu_relay uring|uring-pf|uring-ms|epoll PORT BACKEND_PORT\n");
		return 2;
	}
	bport = atoi(argv[3]);
	lfd = listen_on(atoi(argv[2]));
	poll_first = strcmp(argv[1], "uring-pf") == 0;
	multishot = strcmp(argv[1], "uring-ms") == 0;
	return strcmp(argv[1], "epoll") == 0 ? run_epoll(lfd) : run_uring(lfd);
}
