/*
 * bench/crypto: bulk AEAD encryption speed of the linked wolfSSL, the cost ringedge pays twice
 * per proxied byte (decrypt from the client, encrypt to the backend).
 *
 *	crypto [-t SECONDS]
 *
 * Encrypts full 16 KiB TLS records (the size of a bulk transfer's records) with a 13-byte
 * TLS 1.2 style AAD and a fresh nonce per record, for about SECONDS (default 1) of wall clock
 * per cipher, and prints MB/s (1 MB = 10^6 bytes). A benchmark, never a test: nothing here
 * asserts a speed. See docs/wolfssl.md for measured figures.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tls/tlsinfo.h"

#define RECORD_SIZE	16384
#define AAD_SIZE	13
#define NONCE_SIZE	12
#define TAG_SIZE	16
/* Records between clock reads: keeps clock_gettime out of the measurement. */
#define BATCH		32

/* Encrypts one record; returns 0 or a wolfCrypt error code. */
typedef int (*seal_fn)(void *ctx, uint8_t *out, const uint8_t *in, const uint8_t *nonce,
		       const uint8_t *aad, uint8_t *tag);

struct aead {
	const char	*name;
	seal_fn		 seal;
	void		*ctx;
};

static uint8_t key[32];

static int
seal_aes_gcm(void *ctx, uint8_t *out, const uint8_t *in, const uint8_t *nonce,
	     const uint8_t *aad, uint8_t *tag)
{
	return wc_AesGcmEncrypt(ctx, out, in, RECORD_SIZE, nonce, NONCE_SIZE, tag, TAG_SIZE,
				aad, AAD_SIZE);
}

static int
seal_chacha_poly(void *ctx, uint8_t *out, const uint8_t *in, const uint8_t *nonce,
		 const uint8_t *aad, uint8_t *tag)
{
	(void)ctx;
	/* One-shot API: the key schedule is per call, as it is per record inside wolfSSL. */
	return wc_ChaCha20Poly1305_Encrypt(key, nonce, aad, AAD_SIZE, in, RECORD_SIZE, out, tag);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs one cipher for about seconds of wall clock; returns 0 or -1 after printing why. */
static int
run(const struct aead *a, double seconds, uint8_t *in, uint8_t *out)
{
	uint8_t nonce[NONCE_SIZE] = { 0 }, aad[AAD_SIZE] = { 0 }, tag[TAG_SIZE];
	uint64_t records = 0, seq;
	double start, elapsed;
	int i, rc;

	start = now();
	do {
		for (i = 0; i < BATCH; i++) {
			/* Per-record nonce and AAD sequence number, as TLS does. */
			seq = records + (uint64_t)i;
			memcpy(nonce + NONCE_SIZE - sizeof(seq), &seq, sizeof(seq));
			memcpy(aad, &seq, sizeof(seq));
			rc = a->seal(a->ctx, out, in, nonce, aad, tag);
			if (rc != 0) {
				fprintf(stderr, "crypto: %s: encrypt failed: %d (%s)\n", a->name, rc,
					wc_GetErrorString(rc));
				return -1;
			}
		}
		records += BATCH;
		elapsed = now() - start;
	} while (elapsed < seconds);

	printf("%-22s %10.1f MB/s  (%llu records of %d B in %.2f s)\n", a->name,
	       (double)records * RECORD_SIZE / elapsed / 1e6, (unsigned long long)records,
	       RECORD_SIZE, elapsed);
	return 0;
}

/* Other processes share these 2 cores: the load average says how much a figure is to be trusted. */
static void
print_load(void)
{
	char buf[64] = "";
	FILE *f = fopen("/proc/loadavg", "r");

	if (f == NULL)
		return;
	if (fgets(buf, sizeof(buf), f) != NULL)
		printf("load average (1 5 15 min): %.*s\n", 14, buf);
	fclose(f);
}

int
main(int argc, char **argv)
{
	static uint8_t in[RECORD_SIZE], out[RECORD_SIZE];
	Aes aes128, aes256;
	double seconds = 1.0;
	int opt, rc, failed = 0;
	size_t i;

	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt == 't' && (seconds = strtod(optarg, NULL)) > 0)
			continue;
		fprintf(stderr, "usage: crypto [-t SECONDS]\n");
		return 2;
	}

	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 31 + 7);
	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i + 1);

	if ((rc = wc_AesInit(&aes128, NULL, INVALID_DEVID)) != 0 ||
	    (rc = wc_AesGcmSetKey(&aes128, key, 16)) != 0 ||
	    (rc = wc_AesInit(&aes256, NULL, INVALID_DEVID)) != 0 ||
	    (rc = wc_AesGcmSetKey(&aes256, key, 32)) != 0) {
		fprintf(stderr, "crypto: AES-GCM key setup failed: %d (%s)\n", rc,
			wc_GetErrorString(rc));
		return 1;
	}

	const struct aead aeads[] = {
		{ "AES-128-GCM", seal_aes_gcm, &aes128 },
		{ "AES-256-GCM", seal_aes_gcm, &aes256 },
		{ "ChaCha20-Poly1305", seal_chacha_poly, NULL },
	};

	printf("wolfSSL %s, %s\n", tls_info_version(),
	       tls_info_fast() ? "fast build (static, AES-NI, intel asm)"
			       : "SYSTEM libwolfssl (slow build: no AES-NI, no asm)");
	printf("encrypt, %d B records, ~%.1f s each, 1 MB = 10^6 B\n", RECORD_SIZE, seconds);
	print_load();
	for (i = 0; i < sizeof(aeads) / sizeof(aeads[0]); i++)
		if (run(&aeads[i], seconds, in, out) != 0)
			failed = 1;

	wc_AesFree(&aes128);
	wc_AesFree(&aes256);
	return failed;
}
