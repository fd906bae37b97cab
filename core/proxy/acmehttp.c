/*
 * ACME HTTP-01 answered locally; see acmehttp.h.
 */
#include "core/proxy/acmehttp.h"

#include "core/io/conn.h"
#include "core/proxy/client.h"
#include "core/proxy/stream.h"

#if RINGEDGE_ACME
#include "core/acme/responder.h"
#include "core/http/h1.h"
#include "core/proxy/proxy.h"

bool
stream_acme_http(struct conn *c, const struct h1_msg *m, const char *buf, uint32_t head_len)
{
	const char *t = h1_ptr(buf, m->target);
	char ka[512];
	bool keep;
	int n;

	if ((m->method != H1_M_GET && m->method != H1_M_HEAD) ||
	    m->target_form != H1_TF_ORIGIN || cli_listener(c)->tls ||
	    !responder_http_is_acme(t, m->target.len))
		return false;
	n = responder_http_lookup(t, m->target.len, ka, sizeof(ka));
	keep = c->s->req_body == PM_NONE;
	conn_consume(c, keep ? head_len : c->in.len);
	if (n >= 0)
		cli_respond_text(c, 200, NULL, ka, (size_t)n, keep);
	else
		cli_respond(c, 404, NULL, keep);
	return true;
}
#else
bool
stream_acme_http(struct conn *c, const struct h1_msg *m, const char *buf, uint32_t head_len)
{
	(void)c;
	(void)m;
	(void)buf;
	(void)head_len;
	return false;
}
#endif
