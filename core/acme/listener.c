/*
 * The TLS server of a listener with acme = NAME; see listener.h.
 */
#include "core/acme/listener.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>

#include "config/config.h"
#include "core/acme/certgen.h"
#include "core/acme/responder.h"
#include "core/lib/log.h"
#include "tls/tlsalpn.h"

#define PEM_MAX	8192	/* a P-256 certificate with a handful of names, or its key */

/* The placeholder as PEM: 0, or -1. */
static int
placeholder_pem(const struct cfg_acme *a, char *cert, size_t *cl, char *key, size_t *kl)
{
	uint8_t *dc = NULL, *dk = NULL;
	size_t dcl = 0, dkl = 0;
	int n, m = -1;

	if (certgen_placeholder((const char *const *)a->names, a->nnames, &dc, &dcl, &dk,
				&dkl) < 0)
		return -1;
	n = wc_DerToPem(dc, (word32)dcl, (byte *)cert, PEM_MAX, CERT_TYPE);
	if (n > 0)
		m = wc_DerToPem(dk, (word32)dkl, (byte *)key, PEM_MAX, ECC_PRIVATEKEY_TYPE);
	explicit_bzero(dk, dkl);
	free(dk);
	free(dc);
	if (n <= 0 || m <= 0)
		return -1;
	*cl = (size_t)n;
	*kl = (size_t)m;
	return 0;
}

/* tls_alpn_lookup_fn: a hello offering acme-tls/1 for a name with a pending challenge. */
static int
alpn_lookup(const uint8_t *rec, size_t len, const char *sni, uint8_t **cert, size_t *cert_len,
	    uint8_t **key, size_t *key_len)
{
	if (responder_alpn_pending() == 0 || sni == NULL || sni[0] == '\0' ||
	    !responder_hello_wants_acme(rec, len))
		return 0;
	return responder_alpn_get(sni, cert, cert_len, key, key_len) == 0;
}

struct tls_server *
acme_listener_server(const struct config *c, const struct cfg_listener *l,
		     struct cfg_errors *err)
{
	const struct cfg_acme *a = &c->acmes[l->acme_idx];
	char crt[4096], key[4096], *pc, *pk;
	struct cfg_listener one = *l;
	struct tls_server *s;
	struct tls_mem_pair mp;
	size_t cl, kl;

	/* TLS-ALPN-01 is answered on the TLS listeners from now on */
	atomic_store_explicit(&tls_alpn_lookup, alpn_lookup, memory_order_release);

	snprintf(crt, sizeof(crt), "%s/%s.crt", a->state_dir, a->name);
	snprintf(key, sizeof(key), "%s/%s.key", a->state_dir, a->name);
	if (access(crt, F_OK) == 0 && access(key, F_OK) == 0) {
		struct cfg_cert *certs = calloc((size_t)l->ncerts + 1, sizeof(*certs));

		if (certs == NULL) {
			cfg_error(err, c->file, l->line, "out of memory");
			return NULL;
		}
		certs[0] = (struct cfg_cert){ crt, key, a->line };
		if (l->ncerts > 0)
			memcpy(certs + 1, l->certs, (size_t)l->ncerts * sizeof(*certs));
		one.certs = certs;
		one.ncerts = l->ncerts + 1;
		s = tls_server_new(c->file, &one, &c->tls, NULL, err);
		free(certs);
		return s;
	}
	if (l->ncerts > 0 || c->tls.cert.certificate != NULL) {
		log_info("listener %s: no ACME certificate in %s yet, serving the configured one "
			 "until the first issuance", l->name, a->state_dir);
		return tls_server_new(c->file, l, &c->tls, NULL, err);
	}
	pc = malloc(PEM_MAX);
	pk = malloc(PEM_MAX);
	if (pc == NULL || pk == NULL || placeholder_pem(a, pc, &cl, pk, &kl) < 0) {
		cfg_error(err, c->file, l->line, "[listener %s]: cannot make the ACME placeholder "
			  "certificate", l->name);
		free(pc);
		free(pk);
		return NULL;
	}
	log_info("listener %s: no ACME certificate yet, serving a self-signed placeholder until "
		 "the first issuance", l->name);
	mp = (struct tls_mem_pair){ "(ACME placeholder)", pc, cl, pk, kl };
	s = tls_server_new_mem(c->file, l, &mp, NULL, err);
	explicit_bzero(pk, PEM_MAX);
	free(pk);
	free(pc);
	return s;
}
