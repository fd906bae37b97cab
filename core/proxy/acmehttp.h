/*
 * ACME HTTP-01 on the plain listeners (docs/acme.md "How it works"): a GET or HEAD of
 * /.well-known/acme-challenge/TOKEN is answered here, before routing, from the responder
 * table the ACME thread fills: 200 text/plain with the key authorization, 404 for a token
 * it does not know. Any Host. Worker thread.
 */
#ifndef RINGEDGE_CORE_PROXY_ACMEHTTP_H
#define RINGEDGE_CORE_PROXY_ACMEHTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/http/h1-t.h"

struct conn;

/* Called from stream_on_request_head once the outgoing head is built (the access log needs
 * it): true when it answered (the caller returns), false for any other request. */
bool stream_acme_http(struct conn *c, const struct h1_msg *m, const char *buf,
		      uint32_t head_len);

#endif
