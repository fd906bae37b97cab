/*
 * PROXY protocol v1/v2 parser: pure (bytes in, parsed header out), no I/O, no allocation, no
 * global state; safe on any worker. Every strictness decision is listed at the top of
 * proxyproto.c.
 *
 * Hook (for the connection layer): with `proxy_protocol = on` on a listener, right after
 * accept and before TLS or HTTP sees a byte, feed every received byte (from the first) to
 * pp_parse() until it returns non-zero; then check pp_signature() on the bytes that follow
 * the header (a second header from the client itself is refused), and hand those bytes to
 * TLS/HTTP as the connection's first bytes.
 */
#ifndef RINGEDGE_CORE_IO_PROXYPROTO_H
#define RINGEDGE_CORE_IO_PROXYPROTO_H

#include <stddef.h>

#include "core/io/proxyproto-t.h"
#include "core/lib/cidr-t.h"

/*
 * Parses the header at buf[0..len), the bytes received so far from the connection's first.
 * Never reads past len; stateless (call again from the start with more bytes). `max` caps the
 * whole header (0: PP_MAX_DEFAULT; a v1 line is always capped at PP_V1_MAX). Returns:
 *   > 0  done: the header length (h->len); h is filled; bytes after it were not examined;
 *   0    need more bytes (everything so far is a valid beginning of a header);
 *   < 0  -enum pp_err; h->why says what was wrong. The connection should be closed.
 */
int pp_parse(const void *buf, size_t len, size_t max, struct pp_hdr *h);

/* Whether buf[0..len) starts with a PROXY signature (v1 "PROXY " or the v2 12 bytes), is a
 * prefix of one (MAYBE: len too short to tell), or not. Use it on the bytes after a header. */
enum pp_sig pp_signature(const void *buf, size_t len);

/* A short static text for -PP_E_* (the enum name spelled out), for logs. */
const char *pp_strerror(int rc);

/*
 * The whole decision for a `proxy_protocol = on` listener, to call with the bytes received so
 * far (from the first; len may be 0 right after accept):
 *  - a peer outside `from` (proxy_protocol_from) is refused at once, whatever it sent;
 *  - a malformed, truncated-but-invalid or oversized (`max`, 0: PP_MAX_DEFAULT) header is
 *    refused;
 *  - a header followed by another PROXY signature (a client's own header passed through by a
 *    cloud balancer) is refused; to tell, up to 12 bytes after the header are needed, so
 *    "need more" lasts until the first application bytes arrive (or a prefix rules it out);
 *  - otherwise PP_ACCEPT: c->client is the address to use for routing, source_hash, limits,
 *    the auth guard, logs and X-Forwarded-For (the peer itself for LOCAL/UNKNOWN headers, e.g.
 *    the balancer's health checks), and buf + c->consumed is the first TLS/HTTP byte.
 * Pure; any worker.
 */
enum pp_verdict pp_conn_step(const struct cidr_list *from, const struct sockaddr *peer,
			     socklen_t peerlen, const void *buf, size_t len, size_t max,
			     struct pp_conn *c);

/* One log fragment for an accepted header: "PROXY v2 TCP4 SRC:PORT -> DST:PORT tlvs=N
 * aws_vpce=ID azure_linkid=N" (or "PROXY v2 LOCAL"). Returns buf. len >= 160 is enough. */
char *pp_format(const struct pp_hdr *h, char *buf, size_t len);

#endif
