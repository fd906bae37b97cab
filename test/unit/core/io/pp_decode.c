/*
 * pp_decode: reads bytes on stdin (what a balancer sent first on a connection) and prints
 * what ringedge's PROXY protocol parser makes of them, one line:
 *   "ok LEN FORMAT next=none|data|proxy" (pp_format; what follows the header) or "need-more" or "error REASON".
 * Used by test/integration/test_proxyproto_peers.py to check the parser against a real
 * sender (HAProxy's send-proxy / send-proxy-v2), before the connection hook exists.
 */
#include <stdio.h>
#include <unistd.h>

#include "core/io/proxyproto.h"

int
main(void)
{
	static unsigned char buf[70000];
	size_t len = 0;
	struct pp_hdr h;
	char line[300];
	int rc;

	while (len < sizeof(buf)) {
		ssize_t n = read(0, buf + len, sizeof(buf) - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	rc = pp_parse(buf, len, 0, &h);
	if (rc > 0)
		printf("ok %d %s next=%s\n", rc, pp_format(&h, line, sizeof(line)),
		       (size_t)rc == len ? "none" :
		       pp_signature(buf + rc, len - (size_t)rc) == PP_SIG_NO ? "data" : "proxy");
	else if (rc == 0)
		printf("need-more\n");
	else
		printf("error %s\n", h.why ? h.why : pp_strerror(rc));
	return 0;
}
