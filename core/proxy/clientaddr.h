/*
 * The client's address behind balancers (core/proxy/clientaddr.c): the PROXY protocol header
 * read before TLS on `proxy_protocol = on` listeners (core/io/proxyproto.h decides), and
 * X-Forwarded-For from `real_ip_from` peers per request (core/http/realip.h decides). Both
 * write c->u.cli.peer, which routing (source_hash), the access log, the error log and the
 * X-Forwarded-For ringedge adds read. Owner: the worker thread of c.
 */
#ifndef RINGEDGE_CORE_PROXY_CLIENTADDR_H
#define RINGEDGE_CORE_PROXY_CLIENTADDR_H

#include "core/http/h1-t.h"
#include "core/io/conn-t.h"

/*
 * Right after accept on a proxy_protocol listener: reads the header in plain under the
 * listener's header_timeout (counted from accept). A peer outside proxy_protocol_from, a
 * malformed, truncated, oversized or doubled header: a log line and the connection closed.
 * Accepted: the header's client replaces the peer, its bytes are dropped and the session
 * starts (cli_session_start: TLS gets the bytes that followed as its first wire bytes).
 */
void cli_pp_start(struct conn *c);

/* A request head m (bytes buf) on a real_ip_from listener: the client of this request is the
 * rightmost untrusted X-Forwarded-For address when the connection's peer is trusted, else the
 * peer. */
void cli_realip(struct conn *c, const struct h1_msg *m, const char *buf);

#endif
