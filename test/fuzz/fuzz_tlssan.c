/*
 * libFuzzer target for tls/tlssan.c. Byte 0 picks: even = extension DER (tls_san_ips),
 * odd = a Host value / server name (tls_ip_literal). Checks: never a read past the input
 * (ASan), the count with no output array equals the count with one, every stored address is
 * 4 or 16 bytes and appears verbatim in the input as an iPAddress element (0x87 len addr),
 * and a literal accepted is printed back by inet_ntop and parsed to the same bytes.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls/tlssan.h"

static int
appears(const uint8_t *p, size_t len, const struct tls_ip *ip)
{
	/* the address bytes come from the input (its [7] length may be in long form, which
	 * the reader accepts: BER, e.g. 87 84 00 00 00 04) */
	return memmem(p, len, ip->a, ip->len) != NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_ip ips[8], ip, back;
	uint8_t *p;
	size_t len;
	int n, m;

	if (size < 1)
		return 0;
	len = size - 1;
	p = malloc(len ? len : 1);
	memcpy(p, data + 1, len);
	if ((data[0] & 1) == 0) {
		n = tls_san_ips(p, len, NULL, 0);
		m = tls_san_ips(p, len, ips, 8);
		if (n != m)
			abort();
		for (int i = 0; i < m && i < 8; i++)
			if ((ips[i].len != 4 && ips[i].len != 16) || !appears(p, len, &ips[i]))
				abort();
	} else if (tls_ip_literal((const char *)p, len, &ip)) {
		char s[INET6_ADDRSTRLEN];

		if (ip.len != 4 && ip.len != 16)
			abort();
		if (inet_ntop(ip.len == 4 ? AF_INET : AF_INET6, ip.a, s, sizeof(s)) == NULL)
			abort();
		if (!tls_ip_literal(s, strlen(s), &back) || back.len != ip.len ||
		    memcmp(back.a, ip.a, ip.len) != 0)
			abort();
	}
	free(p);
	return 0;
}
