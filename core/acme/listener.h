/*
 * The TLS server of a listener with `acme = NAME` (docs/acme.md "How it works"): built by
 * gen_build like any TLS listener's, from the files the ACME thread saved, or from a
 * self-signed placeholder until the first issuance. Control thread (and `ringedge -t`).
 */
#ifndef RINGEDGE_CORE_ACME_LISTENER_H
#define RINGEDGE_CORE_ACME_LISTENER_H

#include "config/config-t.h"
#include "tls/tls.h"

/*
 * l->acme_idx >= 0. STATE_DIR/NAME.crt and NAME.key when both exist (first of the SNI set,
 * l's own certificates after it); else l's own certificates (or [tls]'s) when it has some;
 * else a fresh self-signed P-256 placeholder for the section's names (logged: "no ACME
 * certificate yet"). NULL with the reasons in err, as tls_server_new.
 */
struct tls_server *acme_listener_server(const struct config *c, const struct cfg_listener *l,
					struct cfg_errors *err);

#endif
