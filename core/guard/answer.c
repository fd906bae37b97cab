/*
 * The auth guard's local answers: pure message building, bytes out (STYLE.md "A stream in
 * the middle"). A refused attempt must look like the backend's own failure for that kind
 * (issue 12), so the status and the challenge schemes are the backend's; see
 * docs/auth-guard.md for where each body comes from.
 */
#include "core/guard/answer.h"

#include <stdio.h>
#include <string.h>

static const char body_401[] =
	"<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" "
	"\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\r\n"
	"<html xmlns=\"http://www.w3.org/1999/xhtml\"><head><title>401 - Unauthorized: Access is "
	"denied due to invalid credentials.</title></head><body><h2>401 - Unauthorized: Access is "
	"denied due to invalid credentials.</h2></body></html>\r\n";

static const char body_oauth[] = "{\"error\":\"invalid_grant\"}";

static const char body_soap[] =
	"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault>"
	"<faultcode xmlns:a=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-"
	"wssecurity-secext-1.0.xsd\">a:FailedAuthentication</faultcode>"
	"<faultstring xml:lang=\"en-US\">No valid security token.</faultstring>"
	"</s:Fault></s:Body></s:Envelope>";

static const char body_413[] = "413 Request Entity Too Large\r\n";

/* A challenge value is put in a header line: it must be one line of visible text. */
static bool
field_ok(const char *v)
{
	if (v[0] == '\0')
		return false;
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return false;
	return true;
}

size_t
guard_answer(enum guard_answer_kind kind, const char *const *challenges, int n, bool close,
	     bool head, char *buf, size_t cap)
{
	const char *status, *ctype, *body;
	size_t o = 0, bl;
	int w;

	switch (kind) {
	case GUARD_ANSWER_401:
		status = "401 Unauthorized";
		ctype = "text/html";
		body = body_401;
		break;
	case GUARD_ANSWER_OAUTH:
		status = "400 Bad Request";
		ctype = "application/json;charset=UTF-8";
		body = body_oauth;
		break;
	case GUARD_ANSWER_WEBTICKET:
		status = "500 Internal Server Error";
		ctype = "text/xml; charset=utf-8";
		body = body_soap;
		break;
	case GUARD_ANSWER_413:
		status = "413 Request Entity Too Large";
		ctype = "text/plain";
		body = body_413;
		close = true;	/* the unread body is not drained */
		break;
	default:
		return 0;
	}
	bl = strlen(body);
	w = snprintf(buf, cap, "HTTP/1.1 %s\r\n", status);
	if (w < 0 || (size_t)w >= cap)
		return 0;
	o = (size_t)w;
	for (int i = 0; kind == GUARD_ANSWER_401 && i < n; i++) {
		if (!field_ok(challenges[i]))
			continue;
		w = snprintf(buf + o, cap - o, "WWW-Authenticate: %s\r\n", challenges[i]);
		if (w < 0 || (size_t)w >= cap - o)
			return 0;
		o += (size_t)w;
	}
	/* a HEAD request gets the GET's Content-Length and no body (RFC 9110 9.3.2) */
	w = snprintf(buf + o, cap - o, "Content-Type: %s\r\nContent-Length: %zu\r\n%s\r\n%s",
		     ctype, bl, close ? "Connection: close\r\n" : "", head ? "" : body);
	if (w < 0 || (size_t)w >= cap - o)
		return 0;
	return o + (size_t)w;
}

enum guard_answer_kind
guard_answer_kind_of(enum cred_kind kind)
{
	switch (kind) {
	case CRED_OAUTH:
		return GUARD_ANSWER_OAUTH;
	case CRED_WEBTICKET:
		return GUARD_ANSWER_WEBTICKET;
	default:
		return GUARD_ANSWER_401;
	}
}

int
guard_challenges(unsigned schemes, const char *realm, const char **out, char *realm_buf,
		 size_t realm_cap)
{
	int n = 0;

	if (schemes & CFG_AUTH_NEGOTIATE)
		out[n++] = "Negotiate";
	if (schemes & CFG_AUTH_NTLM)
		out[n++] = "NTLM";
	if (schemes & CFG_AUTH_BASIC) {
		snprintf(realm_buf, realm_cap, "Basic realm=\"%s\"", realm ? realm : "");
		out[n++] = realm_buf;
	}
	return n;
}
