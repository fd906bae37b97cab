/* `ticket_keys` files (tls/tlsticket.c): HAProxy's format, the last-3 window, and the ticket
 * callback's seal/open across key sets (what two instances and a rotation see). */
#include <stdlib.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "test/unit/check.h"
#include "tls/tls.h"

static void
b64(const uint8_t *in, size_t n, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);

		out[o++] = t[v >> 18 & 63];
		out[o++] = t[v >> 12 & 63];
		out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? t[v & 63] : '=';
	}
	out[o] = '\0';
}

/* key number `id` of size n (48 or 80): name = id repeated, material derived from id */
static char *
keyline(int id, size_t n, char *buf)
{
	uint8_t raw[80];

	for (size_t i = 0; i < n; i++)
		raw[i] = (uint8_t)(i < 16 ? id : id * 31 + (int)i);
	b64(raw, n, buf);
	strcat(buf, "\n");
	return buf;
}

/* a file of keys first..last (inclusive) */
static char *
file_of(int first, int last, size_t n)
{
	char *f = calloc(1, 4096), line[160];

	for (int i = first; i <= last; i++)
		strcat(f, keyline(i, n, line));
	return f;
}

static int
parse(const char *text, struct tls_file_keys *k, int *line, const char **why)
{
	return tls_file_keys_parse(text, strlen(text), k, line, why);
}

static void
test_parse(void)
{
	struct tls_file_keys k;
	const char *why = NULL;
	char *f, line[160], buf[4096];
	int ln = -1;

	f = file_of(1, 5, 80);
	CHECK(parse(f, &k, &ln, &why) == 0);
	CHECK(k.nfile == 5 && k.k[0].len == 32);
	/* the last three: 3, 4, 5; 4 (second-to-last) encrypts */
	CHECK(k.k[0].name[0] == 3 && k.k[TLS_FILE_KEY_ENC].name[0] == 4 && k.k[2].name[0] == 5);
	CHECK(k.k[1].aes[0] == (uint8_t)(4 * 31 + 16) && k.k[1].hmac[0] == (uint8_t)(4 * 31 + 48));
	free(f);

	/* 48-byte keys: AES-128; comments, blank lines and CRLF */
	snprintf(buf, sizeof(buf), "# rotated by cron\n\n%s", keyline(7, 48, line));
	strcat(buf, keyline(8, 48, line));
	buf[strlen(buf) - 1] = '\r';
	strcat(buf, "\n  ");
	strcat(buf, keyline(9, 48, line));
	CHECK(parse(buf, &k, &ln, &why) == 0);
	CHECK(k.nfile == 3 && k.k[0].len == 16 && k.k[1].name[0] == 8);
	CHECK(k.k[1].hmac[0] == (uint8_t)(8 * 31 + 32));

	/* errors, with their line */
	f = file_of(1, 2, 80);
	CHECK(parse(f, &k, &ln, &why) < 0 && ln == 0 && strstr(why, "fewer than 3") != NULL);
	free(f);
	CHECK(parse("", &k, &ln, &why) < 0 && ln == 0 && strstr(why, "no key") != NULL);
	f = file_of(1, 3, 80);
	strcat(f, keyline(4, 48, line));
	CHECK(parse(f, &k, &ln, &why) < 0 && ln == 4 && strstr(why, "mixed") != NULL);
	free(f);
	f = file_of(1, 3, 80);
	strcat(f, "not*base64\n");
	CHECK(parse(f, &k, &ln, &why) < 0 && ln == 4 && strstr(why, "base64") != NULL);
	free(f);
	f = file_of(1, 3, 80);
	f[10] = '=';	/* padding in the middle */
	CHECK(parse(f, &k, &ln, &why) < 0 && ln == 1 && strstr(why, "base64") != NULL);
	free(f);
	f = file_of(1, 3, 80);
	strcat(f, "AAAA\n");	/* 3 bytes */
	CHECK(parse(f, &k, &ln, &why) < 0 && ln == 4 && strstr(why, "48 bytes") != NULL);
	free(f);
	uint8_t raw64[64] = { 0 };

	b64(raw64, 64, buf);
	CHECK(parse(buf, &k, &ln, &why) < 0 && ln == 1 && strstr(why, "80 bytes") != NULL);
	memset(buf, 'A', 400);
	buf[400] = '\0';
	CHECK(parse(buf, &k, &ln, &why) < 0 && ln == 1);
}

struct sealed {
	unsigned char name[16], iv[16], mac[32], data[200];
	int len;
};

static int
seal(struct tls_file_keys *k, struct sealed *t, const char *plain)
{
	t->len = (int)strlen(plain) + 1;
	memcpy(t->data, plain, (size_t)t->len);
	int out = 0, rc = tls_ticket_file_cb(NULL, t->name, t->iv, t->mac, 1, t->data, t->len,
					     &out, k);
	return rc == WOLFSSL_TICKET_RET_OK && out == t->len ? 0 : -1;
}

static int
open_(struct tls_file_keys *k, struct sealed t, const char *want)
{
	int out = 0, rc = tls_ticket_file_cb(NULL, t.name, t.iv, t.mac, 0, t.data, t.len, &out, k);

	if (rc == WOLFSSL_TICKET_RET_OK && (out != t.len || strcmp((char *)t.data, want) != 0))
		return -100;
	return rc;
}

static void
test_seal_open(size_t ksz)
{
	struct tls_file_keys a, rot, other;
	struct sealed t, t2;
	const char *why;
	char *f;
	int ln;

	f = file_of(1, 3, ksz);		/* instance A and B: keys 1 2 3, 2 encrypts */
	CHECK(parse(f, &a, &ln, &why) == 0);
	free(f);
	f = file_of(1, 4, ksz);		/* after "append 4, reload": 2 3 4, 3 encrypts */
	CHECK(parse(f, &rot, &ln, &why) == 0);
	free(f);
	f = file_of(4, 6, ksz);		/* key 2 gone */
	CHECK(parse(f, &other, &ln, &why) == 0);
	free(f);

	CHECK(seal(&a, &t, "session state") == 0);
	CHECK(t.name[0] == 2);
	CHECK(memcmp(t.data, "session state", 13) != 0);	/* encrypted */
	CHECK(open_(&a, t, "session state") == WOLFSSL_TICKET_RET_OK);
	CHECK(open_(&rot, t, "session state") == WOLFSSL_TICKET_RET_OK);
	CHECK(open_(&other, t, "") == WOLFSSL_TICKET_RET_REJECT);
	/* after the rotation new tickets carry key 3 */
	CHECK(seal(&rot, &t2, "newer") == 0 && t2.name[0] == 3);
	CHECK(open_(&a, t2, "newer") == WOLFSSL_TICKET_RET_OK);	/* A not reloaded yet */

	/* tampering: ciphertext, IV, either half of the MAC, the name of another key */
	struct sealed x = t;

	x.data[0] ^= 1;
	CHECK(open_(&a, x, "") == WOLFSSL_TICKET_RET_REJECT);
	x = t;
	x.iv[3] ^= 1;
	CHECK(open_(&a, x, "") == WOLFSSL_TICKET_RET_REJECT);
	x = t;
	x.mac[0] ^= 1;
	CHECK(open_(&a, x, "") == WOLFSSL_TICKET_RET_REJECT);
	x = t;
	x.mac[31] ^= 1;
	CHECK(open_(&a, x, "") == WOLFSSL_TICKET_RET_REJECT);
	x = t;
	memset(x.name, 3, 16);
	CHECK(open_(&a, x, "") == WOLFSSL_TICKET_RET_REJECT);
	x = t;
	x.len--;
	CHECK(open_(&a, x, "") == WOLFSSL_TICKET_RET_REJECT);
	/* two seals of the same state differ (random IV) */
	CHECK(seal(&a, &x, "session state") == 0 && memcmp(x.iv, t.iv, 16) != 0);
	CHECK(open_(NULL, t, "") == WOLFSSL_TICKET_RET_REJECT);
}

int
main(void)
{
	if (tls_init() < 0)
		return 77;
	test_parse();
	test_seal_open(80);
	test_seal_open(48);
	return check_done();
}
