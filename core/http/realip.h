/*
 * The real client address behind HTTP-level balancers (`real_ip_from`), with nginx realip
 * semantics (real_ip_header X-Forwarded-For; real_ip_recursive on). Pure: no I/O, no
 * allocation; any worker.
 *
 * Hook (for the stream): once a request head is parsed on a listener with real_ip_from, call
 * realip_from_xff() with the connection's peer address (after PROXY protocol, if any), the
 * X-Forwarded-For field values in order, and the listener's list; use the result as the
 * client address of THIS request (routing by source_hash, limits, auth guard, access log, the
 * X-Forwarded-For ringedge appends). The connection's own peer address does not change.
 */
#ifndef RINGEDGE_CORE_HTTP_REALIP_H
#define RINGEDGE_CORE_HTTP_REALIP_H

#include <stddef.h>
#include <sys/socket.h>

#include "core/lib/cidr.h"

/* One X-Forwarded-For field value (not NUL-terminated; a comma list). */
struct realip_field {
	const char	*v;
	size_t		 len;
};

/*
 * If `peer` is not in `trusted`, the client is the peer. Otherwise the addresses of the fields
 * (taken as one list, fields in order, items separated by commas) are walked from the right:
 * the first address not in `trusted` is the client; when every address is trusted, the
 * leftmost is. An item that is not an address (IPv4, IPv4:port, IPv6, [IPv6], [IPv6]:port)
 * stops the walk: the client is the last address reached (a trusted one), as nginx does; so
 * a forged garbage item never makes an untrusted string the client.
 * Writes the client into *out (port 0 unless it is the peer). Returns 1 when the address came
 * from X-Forwarded-For, 0 when it is the peer.
 */
int realip_from_xff(const struct cidr_list *trusted, const struct sockaddr *peer,
		    socklen_t peerlen, const struct realip_field *fields, int nfields,
		    struct sockaddr_storage *out);

#endif
