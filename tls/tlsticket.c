/*
 * Session-ticket keys shared by every worker and every listener of the process.
 *
 * Workers read the current immutable key set through one atomic pointer load inside
 * wolfSSL's ticket callback; the control thread publishes a new set on rotation. A replaced
 * set is freed two rotations later (24 h), far longer than any callback runs: a time-based
 * grace period instead of RCU, because the readers hold the pointer for microseconds.
 *
 * Tickets are sealed with ChaCha20-Poly1305 (stateless: no per-key cipher object shared
 * between threads): nonce = the first 12 bytes of a fresh random IV, AAD = key name, IV and
 * ticket length (as wolfSSL's own example), tag in the MAC field.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/coding.h>
#include <wolfssl/wolfcrypt/hmac.h>

#include "tls/tls.h"
#include "tls/tls-int.h"

struct tls_tickets tls_tickets_global;

static int
fill_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
new_key(struct tls_ticket_key *k)
{
	int rc = fill_random(k->name, sizeof(k->name));

	return rc < 0 ? rc : fill_random(k->key, sizeof(k->key));
}

int
tls_tickets_init(struct tls_tickets *t)
{
	struct tls_ticket_keys *ks = calloc(1, sizeof(*ks));
	int rc;

	if (ks == NULL)
		return -ENOMEM;
	rc = new_key(&ks->cur);
	if (rc < 0) {
		free(ks);
		return rc;
	}
	ks->created = time(NULL);
	t->retired[0] = t->retired[1] = NULL;
	atomic_store_explicit(&t->keys, ks, memory_order_release);
	return 0;
}

int
tls_tickets_rotate(struct tls_tickets *t)
{
	struct tls_ticket_keys *old = atomic_load_explicit(&t->keys, memory_order_relaxed);
	struct tls_ticket_keys *ks = calloc(1, sizeof(*ks));
	int rc;

	if (ks == NULL)
		return -ENOMEM;
	rc = new_key(&ks->cur);
	if (rc < 0) {
		free(ks);
		return rc;
	}
	if (old != NULL) {
		ks->prev = old->cur;
		ks->have_prev = true;
	}
	ks->created = time(NULL);
	atomic_store_explicit(&t->keys, ks, memory_order_release);
	free(t->retired[1]);
	t->retired[1] = t->retired[0];
	t->retired[0] = old;
	return 0;
}

void
tls_tickets_destroy(struct tls_tickets *t)
{
	struct tls_ticket_keys *ks = atomic_exchange(&t->keys, NULL);

	if (ks != NULL)
		explicit_bzero(ks, sizeof(*ks));
	free(ks);
	for (int i = 0; i < 2; i++) {
		if (t->retired[i] != NULL)
			explicit_bzero(t->retired[i], sizeof(*t->retired[i]));
		free(t->retired[i]);
		t->retired[i] = NULL;
	}
}

/*
 * wolfSSL's SessionTicketEncCb: enc = 1 seals ticket[0..in_len) in place and fills key_name,
 * iv and mac; enc = 0 opens it. Returns WOLFSSL_TICKET_RET_OK, _CREATE (opened with the
 * previous key: issue a fresh ticket), _REJECT (unknown key or bad tag: full handshake).
 * Runs on any worker; reads the key set with one acquire load.
 */
int
tls_ticket_cb(struct WOLFSSL *ssl, unsigned char key_name[WOLFSSL_TICKET_NAME_SZ],
	      unsigned char iv[WOLFSSL_TICKET_IV_SZ], unsigned char mac[WOLFSSL_TICKET_MAC_SZ],
	      int enc, unsigned char *ticket, int in_len, int *out_len, void *arg)
{
	struct tls_tickets *t = arg;
	const struct tls_ticket_keys *ks;
	const struct tls_ticket_key *k;
	uint8_t aad[WOLFSSL_TICKET_NAME_SZ + WOLFSSL_TICKET_IV_SZ + 2];
	int ret = WOLFSSL_TICKET_RET_OK;

	if (t == NULL || in_len < 0 || in_len > 0xffff)
		return WOLFSSL_TICKET_RET_REJECT;
	ks = atomic_load_explicit(&t->keys, memory_order_acquire);
	if (ks == NULL)
		return WOLFSSL_TICKET_RET_REJECT;
	if (enc) {
		k = &ks->cur;
		memcpy(key_name, k->name, WOLFSSL_TICKET_NAME_SZ);
		if (fill_random(iv, WOLFSSL_TICKET_IV_SZ) < 0)
			return WOLFSSL_TICKET_RET_FATAL;
	} else if (memcmp(key_name, ks->cur.name, WOLFSSL_TICKET_NAME_SZ) == 0) {
		k = &ks->cur;
	} else if (ks->have_prev && memcmp(key_name, ks->prev.name, WOLFSSL_TICKET_NAME_SZ) == 0) {
		k = &ks->prev;
		/* TLS 1.2: resume and issue a ticket under the current key. wolfSSL's TLS 1.3
		 * PSK code takes only _OK (it sends a fresh ticket after every handshake). */
		if (wolfSSL_GetVersion(ssl) != WOLFSSL_TLSV1_3)
			ret = WOLFSSL_TICKET_RET_CREATE;
	} else {
		return WOLFSSL_TICKET_RET_REJECT;
	}
	memcpy(aad, key_name, WOLFSSL_TICKET_NAME_SZ);
	memcpy(aad + WOLFSSL_TICKET_NAME_SZ, iv, WOLFSSL_TICKET_IV_SZ);
	aad[sizeof(aad) - 2] = (uint8_t)(in_len >> 8);
	aad[sizeof(aad) - 1] = (uint8_t)in_len;
	if (enc) {
		if (wc_ChaCha20Poly1305_Encrypt(k->key, iv, aad, sizeof(aad), ticket,
						(word32)in_len, ticket, mac) != 0)
			return WOLFSSL_TICKET_RET_FATAL;
	} else if (wc_ChaCha20Poly1305_Decrypt(k->key, iv, aad, sizeof(aad), ticket,
					       (word32)in_len, mac, ticket) != 0) {
		return WOLFSSL_TICKET_RET_REJECT;
	}
	*out_len = in_len;
	return ret;
}

/* ---- keys shared by several instances: a `ticket_keys` file (docs/tls.md) ------------- */

static bool
b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* Strict base64 of a whole line: length a multiple of 4, '=' only as 1 or 2 final pads. */
static bool
b64_valid(const char *s, size_t n)
{
	size_t pad = 0;

	if (n == 0 || n % 4 != 0)
		return false;
	while (pad < 2 && pad < n && s[n - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < n - pad; i++)
		if (!b64_char((unsigned char)s[i]))
			return false;
	return true;
}

int
tls_file_keys_parse(const char *text, size_t len, struct tls_file_keys *out, int *line,
		    const char **why)
{
	struct tls_file_keys fk = { 0 };
	size_t pos = 0, keylen = 0;
	uint8_t raw[128];
	int ln = 0;

	while (pos < len) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		word32 rawlen = sizeof(raw);
		struct tls_file_key *k;

		pos += n + (nl != NULL);
		ln++;
		while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		while (n > 0 && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
		if (n == 0 || *s == '#')
			continue;
		*line = ln;
		if (n > 4 * ((sizeof(raw) + 2) / 3) || !b64_valid(s, n)) {
			*why = "not a base64 key (one key per line)";
			goto fail;
		}
		if (Base64_Decode((const byte *)s, (word32)n, raw, &rawlen) != 0) {
			*why = "not a base64 key (one key per line)";
			goto fail;
		}
		if (rawlen != 48 && rawlen != 80) {
			*why = "a key must be 48 bytes (AES-128) or 80 bytes (AES-256) once decoded";
			goto fail;
		}
		if (keylen != 0 && rawlen != keylen) {
			*why = "this key's size differs from the first key's (48- and 80-byte keys "
			       "cannot be mixed)";
			goto fail;
		}
		keylen = rawlen;
		/* keep the last TLS_FILE_KEYS: shift the window */
		memmove(&fk.k[0], &fk.k[1], sizeof(fk.k[0]) * (TLS_FILE_KEYS - 1));
		k = &fk.k[TLS_FILE_KEYS - 1];
		memset(k, 0, sizeof(*k));
		k->len = (uint8_t)((rawlen - TLS_TICKET_NAME_LEN) / 2);
		memcpy(k->name, raw, TLS_TICKET_NAME_LEN);
		memcpy(k->aes, raw + TLS_TICKET_NAME_LEN, k->len);
		memcpy(k->hmac, raw + TLS_TICKET_NAME_LEN + k->len, k->len);
		fk.nfile++;
	}
	if (fk.nfile < TLS_FILE_KEYS) {
		*line = 0;
		*why = fk.nfile == 0 ? "no key (at least 3 base64 lines are needed: the last 3 "
				       "decrypt, the second-to-last encrypts)"
				     : "fewer than 3 keys (the last 3 decrypt, the second-to-last "
				       "encrypts)";
		goto fail;
	}
	*out = fk;
	explicit_bzero(&fk, sizeof(fk));
	explicit_bzero(raw, sizeof(raw));
	return 0;
fail:
	explicit_bzero(&fk, sizeof(fk));
	explicit_bzero(raw, sizeof(raw));
	return -1;
}

/* HMAC-SHA256(hmac key, aad | ticket | gcm tag), first 16 bytes into out. */
static int
file_key_mac(const struct tls_file_key *k, const uint8_t *aad, size_t aad_len,
	     const uint8_t *ticket, int len, const uint8_t tag[16], uint8_t out[16])
{
	uint8_t full[WC_SHA256_DIGEST_SIZE];
	Hmac h;
	int rc;

	if (wc_HmacInit(&h, NULL, INVALID_DEVID) != 0)
		return -1;
	rc = wc_HmacSetKey(&h, WC_SHA256, k->hmac, k->len);
	if (rc == 0)
		rc = wc_HmacUpdate(&h, aad, (word32)aad_len);
	if (rc == 0)
		rc = wc_HmacUpdate(&h, ticket, (word32)len);
	if (rc == 0)
		rc = wc_HmacUpdate(&h, tag, 16);
	if (rc == 0)
		rc = wc_HmacFinal(&h, full);
	wc_HmacFree(&h);
	memcpy(out, full, 16);
	explicit_bzero(full, sizeof(full));
	return rc == 0 ? 0 : -1;
}

static int
ct_differ(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t d = 0;

	for (size_t i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return d != 0;
}

/*
 * Seals/opens a ticket with a file key: AES-GCM (128 or 256 by the key's size; nonce = the
 * first 12 bytes of the random IV; AAD = key name | IV | ticket length) with the tag in
 * mac[0..16), and HMAC-SHA256 with the key's HMAC key over AAD | ciphertext | tag, truncated,
 * in mac[16..32), checked first. A ticket of a decrypting-only key resumes; under TLS 1.2 it
 * is replaced by one of the encrypting key (_CREATE). A stack AES object per call: no cipher
 * state is shared between workers.
 */
int
tls_ticket_file_cb(struct WOLFSSL *ssl, unsigned char key_name[16], unsigned char iv[16],
		   unsigned char mac[32], int enc, unsigned char *ticket, int in_len,
		   int *out_len, void *arg)
{
	const struct tls_file_keys *fk = arg;
	const struct tls_file_key *k = NULL;
	uint8_t aad[WOLFSSL_TICKET_NAME_SZ + WOLFSSL_TICKET_IV_SZ + 2], check[16];
	int ret = WOLFSSL_TICKET_RET_OK, rc;
	Aes aes;

	if (fk == NULL || in_len < 0 || in_len > 0xffff)
		return WOLFSSL_TICKET_RET_REJECT;
	if (enc) {
		k = &fk->k[TLS_FILE_KEY_ENC];
		memcpy(key_name, k->name, WOLFSSL_TICKET_NAME_SZ);
		if (fill_random(iv, WOLFSSL_TICKET_IV_SZ) < 0)
			return WOLFSSL_TICKET_RET_FATAL;
	} else {
		/* the encrypting key first: it wins should two keys share a name */
		static const int order[TLS_FILE_KEYS] = { TLS_FILE_KEY_ENC, 2, 0 };

		for (int i = 0; i < TLS_FILE_KEYS && k == NULL; i++)
			if (memcmp(key_name, fk->k[order[i]].name, WOLFSSL_TICKET_NAME_SZ) == 0)
				k = &fk->k[order[i]];
		if (k == NULL)
			return WOLFSSL_TICKET_RET_REJECT;
		if (k != &fk->k[TLS_FILE_KEY_ENC] && ssl != NULL &&
		    wolfSSL_GetVersion(ssl) != WOLFSSL_TLSV1_3)
			ret = WOLFSSL_TICKET_RET_CREATE;
	}
	memcpy(aad, key_name, WOLFSSL_TICKET_NAME_SZ);
	memcpy(aad + WOLFSSL_TICKET_NAME_SZ, iv, WOLFSSL_TICKET_IV_SZ);
	aad[sizeof(aad) - 2] = (uint8_t)(in_len >> 8);
	aad[sizeof(aad) - 1] = (uint8_t)in_len;
	if (!enc) {
		if (file_key_mac(k, aad, sizeof(aad), ticket, in_len, mac, check) < 0 ||
		    ct_differ(check, mac + 16, 16))
			return WOLFSSL_TICKET_RET_REJECT;
	}
	if (wc_AesInit(&aes, NULL, INVALID_DEVID) != 0)
		return WOLFSSL_TICKET_RET_FATAL;
	rc = wc_AesGcmSetKey(&aes, k->aes, k->len);
	if (rc == 0 && enc)
		rc = wc_AesGcmEncrypt(&aes, ticket, ticket, (word32)in_len, iv, 12, mac, 16, aad,
				      sizeof(aad));
	else if (rc == 0)
		rc = wc_AesGcmDecrypt(&aes, ticket, ticket, (word32)in_len, iv, 12, mac, 16, aad,
				      sizeof(aad));
	wc_AesFree(&aes);
	if (rc != 0)
		return enc ? WOLFSSL_TICKET_RET_FATAL : WOLFSSL_TICKET_RET_REJECT;
	if (enc && file_key_mac(k, aad, sizeof(aad), ticket, in_len, mac, mac + 16) < 0)
		return WOLFSSL_TICKET_RET_FATAL;
	*out_len = in_len;
	return ret;
}
