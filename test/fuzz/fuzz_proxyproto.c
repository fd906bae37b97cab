/* libFuzzer target: the PROXY protocol parser (core/io/proxyproto.c). The first input byte
 * picks the cap; the rest is fed whole and as every prefix (the incremental contract: a prefix
 * of a done header is "need more" or the same error, never a different length). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/io/proxyproto.h"
#include "core/lib/cidr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pp_hdr h, hp;
	size_t max;
	int rc;

	if (size < 1)
		return 0;
	max = data[0] == 0 ? 0 : (size_t)data[0] * 32;
	data++;
	size--;
	/* exact-size copy: ASan flags any read past len */
	uint8_t *c = malloc(size ? size : 1);

	memcpy(c, data, size);
	rc = pp_parse(c, size, max, &h);
	if (rc > 0) {
		if ((size_t)rc > size || h.len != (uint32_t)rc)
			abort();
		(void)pp_signature(c + rc, size - (size_t)rc);
		for (size_t i = 0; i < (size_t)rc; i++) {
			int r2 = pp_parse(c, i, max, &hp);

			if (r2 > 0)
				abort();	/* done before its own end */
		}
	}
	(void)pp_strerror(rc);

	/* the connection-level decision over the same bytes, from a trusted peer */
	static struct cidr_list from;
	static char err[64];
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000001) };
	struct pp_conn pc;
	char line[200];

	if (from.n == 0 && cidr_list_parse("10.0.0.0/8", &from, err, sizeof(err)) < 0)
		abort();
	if (pp_conn_step(&from, (struct sockaddr *)&peer, sizeof(peer), c, size, max, &pc) ==
	    PP_ACCEPT) {
		if (pc.consumed == 0 || pc.consumed >= size || pc.client_len == 0)
			abort();	/* accepted only with a byte after the header */
		(void)pp_format(&pc.hdr, line, sizeof(line));
		(void)pp_format(&pc.hdr, line, 7);
	}
	free(c);
	return 0;
}
