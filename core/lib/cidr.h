/*
 * Lists of IPv4/IPv6 networks (CIDR) and matching an address against them. Pure: libc only,
 * no global state; a list is built on the control thread (config load) and read by any worker.
 *
 * Every address and network is held as IPv6: IPv4 as v4-mapped (::ffff:a.b.c.d, prefix + 96),
 * so "10.0.0.0/8" matches a peer seen as 10.1.2.3 on an IPv4 socket or as ::ffff:10.1.2.3 on a
 * dual-stack IPv6 socket, and "::ffff:10.0.0.0/104" is the same network.
 */
#ifndef RINGEDGE_CORE_LIB_CIDR_H
#define RINGEDGE_CORE_LIB_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/lib/cidr-t.h"

/* "ADDR" (a single host) or "ADDR/BITS". IPv6 without brackets. Host bits must be zero.
 * Returns 0, or -1 with a reason in why (static text). */
int cidr_parse(const char *s, struct cidr *out, const char **why);

/*
 * "CIDR[,CIDR...]" (commas, spaces or tabs between items). Returns 0, or -1 with a message
 * "bad CIDR \"ITEM\": reason" in err (l unchanged). At most CIDR_LIST_MAX items.
 */
#define CIDR_LIST_MAX	1024
int cidr_list_parse(const char *s, struct cidr_list *l, char *err, size_t errlen);
void cidr_list_free(struct cidr_list *l);

/* Normalises a sockaddr (AF_INET or AF_INET6) to 16 bytes, IPv4 v4-mapped. false for other
 * families. */
bool cidr_addr16(const struct sockaddr *sa, uint8_t out[16]);

/* Is addr (16 bytes, as cidr_addr16 gives) in a network of the list? Linear: lists are a
 * handful of balancer networks. */
bool cidr_list_match16(const struct cidr_list *l, const uint8_t addr[16]);
bool cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa);

/* Writes "a.b.c.d/N" or "v6/N" (IPv4 shown as IPv4). buf >= 64 bytes. Returns buf. */
char *cidr_format(const struct cidr *c, char *buf, size_t len);

#endif
