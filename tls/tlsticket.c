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
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>

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
