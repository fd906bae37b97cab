/* libFuzzer target: the PROXY protocol parser (core/io/proxyproto.c). The first input byte
 * picks the cap; the rest is fed whole and as every prefix (the incremental contract: a prefix
 * of a done header is "need more" or the same error, never a different length). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/io/proxyproto.h"

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
	free(c);
	return 0;
}
