/*
 * ringbench --idle helpers: source address ranges, why a connection could not be opened, and
 * the client's own memory. No io_uring, no TLS: plain functions the idle mode calls.
 */
#ifndef RB_IDLE_H
#define RB_IDLE_H

#include <stddef.h>
#include <stdint.h>

/* An IPv4 source range, "127.0.0.0/16" or one address; host byte order. */
struct rb_source {
	uint32_t	first;	/* first usable address */
	uint32_t	count;	/* addresses in the range, at least 1 */
};

/* Parses "A.B.C.D[/LEN]" (LEN 8..32). A /LEN below 31 skips the network and broadcast
 * addresses. 0, or -1 with a reason in err. */
int rb_source_parse(const char *s, struct rb_source *src, char *err, size_t errlen);

/* Binds fd to the i-th address of src (round robin) with IP_BIND_ADDRESS_NO_PORT, so the
 * kernel picks the port at connect() per destination (4-tuple), not per bind. 0 or -errno. */
int rb_source_bind(int fd, const struct rb_source *src, uint64_t i);

/* The resource an errno from socket()/connect() says ran out, in plain words, or NULL when
 * the error is not a local limit (refused, reset, ...). */
const char *rb_limit_name(int err);

/* What to do about that limit, one sentence. */
const char *rb_limit_advice(int err);

/* This process's resident memory (KiB) from /proc/self/statm; -1 when unreadable. */
long rb_rss_kib(void);

#endif
