/* ringbench --idle helpers (bench/rb_idle.h). */
#include "bench/rb_idle.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

int
rb_source_parse(const char *s, struct rb_source *src, char *err, size_t errlen)
{
	char buf[32], *slash, *end;
	struct in_addr a;
	unsigned long len = 32;
	uint32_t base, mask;

	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "'%s': want A.B.C.D or A.B.C.D/LEN", s);
		return -1;
	}
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash != NULL) {
		*slash++ = '\0';
		errno = 0;
		len = strtoul(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || errno != 0 || len < 8 || len > 32) {
			snprintf(err, errlen, "'%s': the prefix length must be 8..32", s);
			return -1;
		}
	}
	if (inet_pton(AF_INET, buf, &a) != 1) {
		snprintf(err, errlen, "'%s': not an IPv4 address", s);
		return -1;
	}
	mask = len == 32 ? 0xffffffffu : ~(0xffffffffu >> len);
	base = ntohl(a.s_addr) & mask;
	if (len >= 31) {
		src->first = len == 32 ? ntohl(a.s_addr) : base;
		src->count = len == 32 ? 1 : 2;
	} else {
		src->first = base + 1;
		src->count = (uint32_t)((1ull << (32 - len)) - 2);
	}
	return 0;
}

int
rb_source_bind(int fd, const struct rb_source *src, uint64_t i)
{
	struct sockaddr_in sin;
	int one = 1;

	if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) < 0)
		return -errno;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(src->first + (uint32_t)(i % src->count));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return -errno;
	return 0;
}

const char *
rb_limit_name(int err)
{
	switch (err) {
	case EMFILE:
		return "the process's open-file limit (RLIMIT_NOFILE)";
	case ENFILE:
		return "the system's open-file limit (fs.file-max)";
	case EADDRNOTAVAIL:
	case EADDRINUSE:
		return "local ports (every source port to this destination is in use)";
	case ENOMEM:
	case ENOBUFS:
		return "memory (the kernel could not allocate a socket or its buffers)";
	default:
		return NULL;
	}
}

const char *
rb_limit_advice(int err)
{
	switch (err) {
	case EMFILE:
		return "raise ulimit -n (hard limit: LimitNOFILE, limits.conf; fs.nr_open caps it)";
	case ENFILE:
		return "raise fs.file-max";
	case EADDRNOTAVAIL:
	case EADDRINUSE:
		return "spread the clients over more source addresses (--source 127.0.0.0/16) or "
		    "widen net.ipv4.ip_local_port_range";
	case ENOMEM:
	case ENOBUFS:
		return "add memory, or lower net.ipv4.tcp_mem / the connection count";
	default:
		return "";
	}
}

long
rb_rss_kib(void)
{
	/* Opened once, at the first call (before the connections): at the fd limit, opening
	 * /proc/self/statm would fail just when the figure matters. */
	static int fd = -2;
	char buf[128];
	unsigned long size, rss;
	ssize_t n;

	if (fd == -2)
		fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "%lu %lu", &size, &rss) != 2)
		return -1;
	return (long)(rss * (unsigned long)sysconf(_SC_PAGESIZE) / 1024);
}
