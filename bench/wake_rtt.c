/*
 * wake_rtt: what it costs to wake a thread on another CPU that is asleep, against one that
 * polls. Two threads pinned to two CPUs pass a token back and forth through a pair of
 * eventfds, N round trips each way:
 *   blocking: read() sleeps, so the CPU goes idle between tokens and every token is a
 *             wake-up of an idle CPU (on a VM: a halted vCPU, woken through the host);
 *   polling:  non-blocking read() in a loop, the CPUs never go idle: the floor.
 * Prints the round trip's p50/p90/p99 for both. A closed-loop benchmark on loopback pays the
 * blocking figure (twice) every time client or server runs out of work; on the 2-CPU VM
 * that is ~60 us against ~2 us (docs/benchmarking.md, "Halts").
 *
 *   wake_rtt [-n ROUNDTRIPS] [-a CPU] [-b CPU]      (default 20000, CPUs 0 and 1)
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct pair {
	int		a2b, b2a;
	int		poll;
	int		cpu;
	long		n;
};

static uint64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int
pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	return pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
}

/* One token; bounded: a peer that stopped answering ends the run after 5 s. */
static int
take(int fd, int poll)
{
	uint64_t v, t0 = poll ? now_ns() : 0;

	for (;;) {
		if (read(fd, &v, sizeof(v)) == sizeof(v))
			return 0;
		if (!poll || errno != EAGAIN || now_ns() - t0 > 5000000000ull)
			return -1;
	}
}

static int
give(int fd)
{
	uint64_t v = 1;

	return write(fd, &v, sizeof(v)) == sizeof(v) ? 0 : -1;
}

static void *
peer(void *arg)
{
	struct pair *p = arg;
	long i;

	if (pin(p->cpu) != 0)
		return (void *)1;
	for (i = 0; i < p->n; i++)
		if (take(p->a2b, p->poll) < 0 || give(p->b2a) < 0)
			return (void *)1;
	return NULL;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
run(long n, int cpu_a, int cpu_b, int poll)
{
	struct pair p = { .poll = poll, .cpu = cpu_b, .n = n };
	int fl = poll ? EFD_NONBLOCK : 0;
	uint64_t *rt, t0;
	pthread_t th;
	void *ret;
	long i;

	p.a2b = eventfd(0, fl);
	p.b2a = eventfd(0, fl);
	rt = calloc((size_t)n, sizeof(*rt));
	if (p.a2b < 0 || p.b2a < 0 || rt == NULL || pin(cpu_a) != 0) {
		fprintf(stderr, "wake_rtt: set-up failed (CPU %d and %d?): %s\n", cpu_a, cpu_b,
		    strerror(errno));
		return -1;
	}
	if (pthread_create(&th, NULL, peer, &p) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		t0 = now_ns();
		if (give(p.a2b) < 0 || take(p.b2a, poll) < 0)
			break;
		rt[i] = now_ns() - t0;
	}
	pthread_join(th, &ret);
	close(p.a2b);
	close(p.b2a);
	if (i < n || ret != NULL) {
		fprintf(stderr, "wake_rtt: the peer stopped answering\n");
		free(rt);
		return -1;
	}
	qsort(rt, (size_t)n, sizeof(*rt), cmp_u64);
	printf("%-9s CPU %d <-> CPU %d, %ld round trips: p50 %.1f us, p90 %.1f us, p99 %.1f us\n",
	    poll ? "polling" : "blocking", cpu_a, cpu_b, n, rt[n / 2] / 1e3, rt[n * 9 / 10] / 1e3,
	    rt[n * 99 / 100] / 1e3);
	free(rt);
	return 0;
}

int
main(int argc, char **argv)
{
	long n = 20000;
	int a = 0, b = 1, ch;

	while ((ch = getopt(argc, argv, "n:a:b:")) != -1) {
		switch (ch) {
		case 'n':
			n = atol(optarg);
			break;
		case 'a':
			a = atoi(optarg);
			break;
		case 'b':
			b = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: wake_rtt [-n ROUNDTRIPS] [-a CPU] [-b CPU]\n");
			return 2;
		}
	}
	if (n < 100 || n > 10000000 || a == b || a < 0 || b < 0) {
		fprintf(stderr, "wake_rtt: -n 100..10000000 and two distinct CPUs\n");
		return 2;
	}
	if (run(n, a, b, 0) < 0 || run(n, a, b, 1) < 0)
		return 1;
	return 0;
}
