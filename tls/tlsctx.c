/*
 * Boot side of TLS: wolfSSL server contexts (one per certificate of a listener's SNI set),
 * client contexts (one per backend pool), certificate loading and checks, SAN names and
 * host matching. Control thread at config load; the results are read-only afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include "config/config.h"
#include "core/lib/log.h"
#include "tls/tls.h"
#include "tls/tls-int.h"

#define SYSTEM_CA_BUNDLE	"/etc/ssl/certs/ca-certificates.crt"
#define MAX_PEM_FILE		(1 << 20)

/*
 * Listener suites: ECDHE + AEAD only (TLS 1.2) and the TLS 1.3 suites, in our order of
 * preference (wolfSSL picks in server order unless told to use the client's).
 */
static const char server_suites[] =
	"TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256:"
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/*
 * Appended to server_suites only on a listener whose protocols include TLSv1 or TLSv1.1 (they
 * have no AEAD suite): ECDHE + AES-CBC + HMAC-SHA1. Last, so with the server's order a TLS 1.2+
 * client offering AEAD still gets AEAD.
 */
static const char server_suites_old[] =
	":ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:"
	"ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA";

/*
 * Backend suites: the same, then what older Windows Server backends (2008 R2 / 2012 R2, still
 * common under Lync 2013) offer with RSA certificates: DHE-RSA-AES-GCM and ECDHE-RSA AES-CBC
 * with SHA-2. Only ever used after AEAD was refused by the backend.
 */
static const char client_suites[] =
	"TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256:"
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:"
	"ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256";

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void
do_init(void)
{
	init_rc = wolfSSL_Init() == WOLFSSL_SUCCESS ? 0 : -EIO;
}

int
tls_init(void)
{
	pthread_once(&init_once, do_init);
	return init_rc;
}

void
tls_thread_exit(void)
{
#ifdef FP_ECC
	wc_ecc_fp_free();
#endif
}

/* ---- files and certificates ----------------------------------------------------------- */

/* Reads a whole PEM file. Returns 0, or -errno (-EFBIG above MAX_PEM_FILE). */
static int
read_file(const char *path, char **out, size_t *out_len)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EISDIR;
		goto fail;
	}
	if (st.st_size > MAX_PEM_FILE) {
		rc = -EFBIG;
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	*out = buf;
	*out_len = len;
	return 0;
fail:
	free(buf);
	close(fd);
	return rc;
}

static time_t
asn_time(const byte *raw, int raw_len)
{
	const byte *date;
	byte format;
	int len;
	struct tm tm;

	if (raw == NULL || wc_GetDateInfo(raw, raw_len, &date, &format, &len) != 0)
		return (time_t)-1;
	memset(&tm, 0, sizeof(tm));
	if (wc_GetDateAsCalendarTime(date, len, format, &tm) != 0)
		return (time_t)-1;
	return timegm(&tm);
}

/* Adds DNS name n[0..len) to c->names, lower-cased; "*.x.y" becomes a wildcard on ".x.y".
 * Other wildcard forms ("w*.x", "*.com") are not honoured (RFC 6125 6.4.3). */
static int
add_name(struct tls_cert *c, const char *n, size_t len)
{
	struct tls_name *nm, *grown;
	bool wild = false;

	if (len > 0 && n[len - 1] == '.')
		len--;
	if (len == 0 || len > 253 || memchr(n, '\0', len) != NULL)
		return 0;
	if (n[0] == '*') {
		if (len < 4 || n[1] != '.' || memchr(n + 2, '.', len - 2) == NULL)
			return 0;
		wild = true;
		n++;
		len--;
	} else if (memchr(n, '*', len) != NULL) {
		return 0;
	}
	grown = realloc(c->names, (size_t)(c->nnames + 1) * sizeof(*c->names));
	if (grown == NULL)
		return -ENOMEM;
	c->names = grown;
	nm = &c->names[c->nnames];
	nm->name = malloc(len + 1);
	if (nm->name == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++)
		nm->name[i] = (char)((n[i] >= 'A' && n[i] <= 'Z') ? n[i] + 32 : n[i]);
	nm->name[len] = '\0';
	nm->len = len;
	nm->wildcard = wild;
	c->nnames++;
	return 0;
}

/* The leaf's iPAddress SANs (tls/tlssan.h) into c->ips. Returns NULL or why. */
static const char *
leaf_ips(struct tls_cert *c, const uint8_t *ext, int ext_len)
{
	int n;

	if (ext == NULL || ext_len <= 0)
		return NULL;
	n = tls_san_ips(ext, (size_t)ext_len, NULL, 0);
	if (n < 0)
		return "cannot parse the certificate's subjectAltName";
	if (n == 0)
		return NULL;
	c->ips = calloc((size_t)n, sizeof(*c->ips));
	if (c->ips == NULL)
		return "out of memory";
	c->nips = tls_san_ips(ext, (size_t)ext_len, c->ips, n);
	return NULL;
}

/* Parses the leaf (first PEM certificate): names, validity, key type. Returns NULL or why. */
static const char *
parse_leaf(struct tls_cert *c, const char *pem, size_t pem_len)
{
	DecodedCert dc;
	DNS_entry *d;
	byte *der;
	int der_len;
	const char *why = NULL;

	der = malloc(pem_len);
	if (der == NULL)
		return "out of memory";
	der_len = wc_CertPemToDer((const byte *)pem, (int)pem_len, der, (int)pem_len, CERT_TYPE);
	if (der_len <= 0) {
		free(der);
		return "no PEM certificate in file";
	}
	wc_InitDecodedCert(&dc, der, (word32)der_len, NULL);
	if (wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL) != 0) {
		why = "cannot parse the certificate";
		goto out;
	}
	for (d = dc.altNames; d != NULL; d = d->next)
		if (d->type == ASN_DNS_TYPE && add_name(c, d->name, (size_t)d->len) < 0) {
			why = "out of memory";
			goto out;
		}
	if ((why = leaf_ips(c, dc.extensions, dc.extensionsSz)) != NULL)
		goto out;
	/* RFC 6125: the CN counts only when there are no DNS SANs. */
	if (c->nnames == 0 && dc.subjectCN != NULL && dc.subjectCNLen > 0 &&
	    add_name(c, dc.subjectCN, (size_t)dc.subjectCNLen) < 0) {
		why = "out of memory";
		goto out;
	}
	c->not_before = asn_time(dc.beforeDate, dc.beforeDateLen);
	c->not_after = asn_time(dc.afterDate, dc.afterDateLen);
	if (c->not_before == (time_t)-1 || c->not_after == (time_t)-1)
		why = "cannot read the certificate's validity dates";
	c->ecdsa = dc.keyOID == ECDSAk;
out:
	wc_FreeDecodedCert(&dc);
	free(der);
	return why;
}

/* ---- host matching -------------------------------------------------------------------- */

/* Host header value -> bare lower-case-comparable name: drops ":port" and a trailing dot.
 * IP literals ("[::1]", "10.0.0.1") match no DNS name; that is fine for a SAN check. */
static size_t
host_trim(const char *h, size_t len)
{
	const char *colon;

	if (len > 0 && h[0] == '[')
		return len;
	colon = memchr(h, ':', len);
	if (colon != NULL)
		len = (size_t)(colon - h);
	if (len > 0 && h[len - 1] == '.')
		len--;
	return len;
}

static bool
name_eq(const struct tls_name *n, const char *h, size_t len)
{
	return !n->wildcard && n->len == len && strncasecmp(n->name, h, len) == 0;
}

/* "*.contoso.com" covers "x.contoso.com", not "contoso.com" nor "a.b.contoso.com". */
static bool
name_wild(const struct tls_name *n, const char *h, size_t len)
{
	size_t pre;

	if (!n->wildcard || len <= n->len)
		return false;
	pre = len - n->len;
	return memchr(h, '.', pre) == NULL && strncasecmp(h + pre, n->name, n->len) == 0;
}

/* Is ip one of c's iPAddress SANs? */
static bool
cert_has_ip(const struct tls_cert *c, const struct tls_ip *ip)
{
	for (int i = 0; i < c->nips; i++)
		if (c->ips[i].len == ip->len && memcmp(c->ips[i].a, ip->a, ip->len) == 0)
			return true;
	return false;
}

bool
tls_cert_covers(const struct tls_cert *c, const char *host, size_t len)
{
	struct tls_ip ip;

	/* RFC 6125 / RFC 9110 4.3.4: an IP literal matches an iPAddress SAN, nothing else */
	if (c != NULL && tls_ip_literal(host, len, &ip))
		return cert_has_ip(c, &ip);
	len = host_trim(host, len);
	if (c == NULL || len == 0)
		return false;
	for (int i = 0; i < c->nnames; i++)
		if (name_eq(&c->names[i], host, len) || name_wild(&c->names[i], host, len))
			return true;
	return false;
}

int
tls_server_pick(const struct tls_server *s, const char *name, size_t len)
{
	if (name == NULL)
		return 0;
	len = host_trim(name, len);
	if (len == 0)
		return 0;
	for (int i = 0; i < s->ncerts; i++)
		for (int j = 0; j < s->certs[i].nnames; j++)
			if (name_eq(&s->certs[i].names[j], name, len))
				return i;
	for (int i = 0; i < s->ncerts; i++)
		for (int j = 0; j < s->certs[i].nnames; j++)
			if (name_wild(&s->certs[i].names[j], name, len))
				return i;
	return 0;
}

/* ---- server contexts ------------------------------------------------------------------ */

struct where {
	const char	*file;
	int		 line;
	const char	*kind;		/* "listener" or "pool" */
	const char	*name;
	struct cfg_errors *err;
};

#define WHERE_ERR(w, line, fmt, ...) \
	cfg_error((w)->err, (w)->file, (line), "[%s %s]: " fmt, (w)->kind, (w)->name, __VA_ARGS__)

/* The lowest version of a protocols set tls_server_new accepted. */
static int
min_version(unsigned protocols)
{
	if (protocols & CFG_TLS10)
		return WOLFSSL_TLSV1;
	if (protocols & CFG_TLS11)
		return WOLFSSL_TLSV1_1;
	return (protocols & CFG_TLS12) ? WOLFSSL_TLSV1_2 : WOLFSSL_TLSV1_3;
}

static WOLFSSL_CTX *
server_ctx_new(unsigned protocols)
{
	WOLFSSL_METHOD *m;
	WOLFSSL_CTX *ctx;
	bool v12 = protocols & CFG_TLS12, v13 = protocols & CFG_TLS13;
	bool old = protocols & (CFG_TLS10 | CFG_TLS11);
	char suites[sizeof(server_suites) + sizeof(server_suites_old)];

	/* Old versions come only with TLSv1.3 (checked by tls_server_new): the downgrading
	 * method's ceiling is 1.3, and capping it needs OpenSSL-compat. */
	if (v13 && (v12 || old))
		m = wolfSSLv23_server_method();
	else if (v13)
		m = wolfTLSv1_3_server_method();
	else
		m = wolfTLSv1_2_server_method();
	ctx = wolfSSL_CTX_new(m);
	if (ctx == NULL)
		return NULL;
	if (v13 && (v12 || old) &&
	    wolfSSL_CTX_SetMinVersion(ctx, min_version(protocols)) != WOLFSSL_SUCCESS)
		goto fail;
	snprintf(suites, sizeof(suites), "%s%s", server_suites, old ? server_suites_old : "");
	if (wolfSSL_CTX_set_cipher_list(ctx, suites) != WOLFSSL_SUCCESS)
		goto fail;
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	wolfSSL_CTX_SetIORecv(ctx, tls_io_recv);
	wolfSSL_CTX_SetIOSend(ctx, tls_io_send);
	/* Tickets are the resumption mechanism: wolfSSL's server cache is process-wide and
	 * takes a lock on every handshake. */
	wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_OFF);
	return ctx;
fail:
	wolfSSL_CTX_free(ctx);
	return NULL;
}

static int
server_tickets(WOLFSSL_CTX *ctx, unsigned protocols, bool on, struct tls_tickets *tk,
	       struct tls_file_keys *fk)
{
	if (!on) {
		if (wolfSSL_CTX_NoTicketTLSv12(ctx) != WOLFSSL_SUCCESS)
			return -1;
		/* returns 0 on success, and BAD_FUNC_ARG on a TLS 1.2-only context */
		if ((protocols & CFG_TLS13) && wolfSSL_CTX_no_ticket_TLSv13(ctx) != 0)
			return -1;
		return 0;
	}
	if (wolfSSL_CTX_set_TicketEncCb(ctx, fk ? tls_ticket_file_cb : tls_ticket_cb) !=
	    WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_set_TicketEncCtx(ctx, fk ? (void *)fk : (void *)tk) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_set_TicketHint(ctx, TLS_SESSION_LIFETIME_S) != WOLFSSL_SUCCESS)
		return -1;
	/* Returns SUCCESS natively but the previous timeout with OPENSSL_EXTRA (the system
	 * build): nothing to check. */
	(void)wolfSSL_CTX_set_timeout(ctx, TLS_SESSION_LIFETIME_S);
	return 0;
}

static const char *
errno_or(int rc)
{
	return rc == -EFBIG ? "file too large for a PEM file" : strerror(-rc);
}

static int load_pem(struct tls_cert *c, const struct cfg_cert *pair, const char *pem,
		    size_t pem_len, const char *key, size_t key_len, const struct tls_server *s,
		    struct tls_tickets *tk, const struct where *w);

/* Loads one certificate/key pair into c. Returns 0 or -1 (errors added). */
static int
load_cert(struct tls_cert *c, const struct cfg_cert *pair, const struct tls_server *s,
	  struct tls_tickets *tk, const struct where *w)
{
	char *pem = NULL, *key = NULL;
	size_t pem_len, key_len = 0;
	int rc, ok = -1;

	rc = read_file(pair->certificate, &pem, &pem_len);
	if (rc < 0) {
		WHERE_ERR(w, pair->line, "certificate %s: cannot read: %s", pair->certificate,
			  errno_or(rc));
		goto out;
	}
	if (pair->private_key == NULL) {
		WHERE_ERR(w, pair->line, "certificate %s has no private_key", pair->certificate);
		goto out;
	}
	rc = read_file(pair->private_key, &key, &key_len);
	if (rc < 0) {
		WHERE_ERR(w, pair->line, "private_key %s: cannot read: %s", pair->private_key,
			  errno_or(rc));
		goto out;
	}
	ok = load_pem(c, pair, pem, pem_len, key, key_len, s, tk, w);
out:
	if (key != NULL)
		explicit_bzero(key, key_len);
	free(key);
	free(pem);
	return ok;
}

/* load_cert's work once the files are read (pair names them in messages). */
static int
load_pem(struct tls_cert *c, const struct cfg_cert *pair, const char *pem, size_t pem_len,
	 const char *key, size_t key_len, const struct tls_server *s, struct tls_tickets *tk,
	 const struct where *w)
{
	const char *why;
	time_t now = time(NULL);
	int rc, ok = -1;

	c->file = strdup(pair->certificate);
	if (c->file == NULL)
		return -1;
	why = parse_leaf(c, pem, pem_len);
	if (why != NULL) {
		WHERE_ERR(w, pair->line, "certificate %s: %s", pair->certificate, why);
		goto out;
	}
	if (now < c->not_before) {
		char when[32];

		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&c->not_before));
		WHERE_ERR(w, pair->line, "certificate %s is not valid yet (not before %s)",
			  pair->certificate, when);
		goto out;
	}
	c->ctx = server_ctx_new(s->protocols);
	if (c->ctx == NULL || server_tickets(c->ctx, s->protocols, s->session_tickets, tk,
						      s->file_keys) < 0) {
		WHERE_ERR(w, pair->line, "certificate %s: cannot set up a wolfSSL context",
			  pair->certificate);
		goto out;
	}
	rc = wolfSSL_CTX_use_certificate_chain_buffer_format(c->ctx, (const byte *)pem,
							     (long)pem_len, WOLFSSL_FILETYPE_PEM);
	if (rc != WOLFSSL_SUCCESS) {
		WHERE_ERR(w, pair->line, "certificate %s: not a usable PEM certificate chain "
			  "(wolfSSL error %d)", pair->certificate, rc);
		goto out;
	}
	rc = wolfSSL_CTX_use_PrivateKey_buffer(c->ctx, (const byte *)key, (long)key_len,
					       WOLFSSL_FILETYPE_PEM);
	if (rc != WOLFSSL_SUCCESS) {
		WHERE_ERR(w, pair->line, "private_key %s: not a usable PEM RSA or EC private key "
			  "(wolfSSL error %d)", pair->private_key, rc);
		goto out;
	}
	if (wolfSSL_CTX_check_private_key(c->ctx) != WOLFSSL_SUCCESS) {
		WHERE_ERR(w, pair->line, "private_key %s does not match certificate %s",
			  pair->private_key, pair->certificate);
		goto out;
	}
	if (c->nnames == 0 && c->nips == 0)
		log_warn("%s:%d: [%s %s]: certificate %s has no DNS name (SAN or CN): it is "
			 "chosen only as the default", w->file, pair->line, w->kind, w->name,
			 pair->certificate);
	if (now >= c->not_after)
		log_warn("%s:%d: [%s %s]: certificate %s EXPIRED %lld days ago: clients will "
			 "refuse it", w->file, pair->line, w->kind, w->name, pair->certificate,
			 (long long)((now - c->not_after) / 86400));
	else if (c->not_after - now < (time_t)TLS_EXPIRY_WARN_DAYS * 86400)
		log_warn("%s:%d: [%s %s]: certificate %s expires in %lld days: renew it",
			 w->file, pair->line, w->kind, w->name, pair->certificate,
			 (long long)((c->not_after - now) / 86400));
	ok = 0;
out:
	return ok;
}

static const char *
proto_text(unsigned p)
{
	if ((p & CFG_TLS10) && (p & CFG_TLS11))
		return "TLSv1.0 and TLSv1.1 are";
	return (p & CFG_TLS10) ? "TLSv1.0 is" : "TLSv1.1 is";
}

/*
 * What wolfSSL cannot do with a protocols set, or NULL. One contiguous range, and TLSv1.0/1.1
 * only up to TLSv1.3: the native API has a minimum version (wolfSSL_CTX_SetMinVersion) but no
 * maximum for a downgrading server (that needs OpenSSL-compat, not in the lean build).
 */
static const char *
proto_problem(unsigned p)
{
	unsigned old = p & (CFG_TLS10 | CFG_TLS11);

	if (!(p & (CFG_TLS12 | CFG_TLS13)))
		return "neither TLSv1.2 nor TLSv1.3 enabled";
	if (old == 0)
		return NULL;
#ifdef NO_OLD_TLS
	return (p & CFG_TLS11) ? "TLSv1.1 is not supported (this wolfSSL is built with "
				 "--disable-oldtls); use TLSv1.2 and/or TLSv1.3" :
				 "TLSv1.0 is not supported (this wolfSSL is built with "
				 "--disable-oldtls); use TLSv1.2 and/or TLSv1.3";
#endif
#ifndef WOLFSSL_ALLOW_TLSV10
	if (p & CFG_TLS10)
		return "TLSv1.0 is not supported (this wolfSSL is built without "
		       "--enable-tlsv10); use TLSv1.1, TLSv1.2 and/or TLSv1.3";
#endif
	if ((p & CFG_TLS10) && !(p & CFG_TLS11))
		return "TLSv1 without TLSv1.1: give a contiguous range of versions";
	if (!(p & CFG_TLS12))
		return "TLSv1.1 without TLSv1.2: give a contiguous range of versions";
	if (!(p & CFG_TLS13))
		return "TLSv1/TLSv1.1 need TLSv1.3 as well (wolfSSL cannot cap a server that "
		       "accepts older versions at TLSv1.2)";
	return NULL;
}

/* Reads l->ticket_keys into s->file_keys. 0, or -1 with the reason at the key's line. */
static int
load_file_keys(struct tls_server *s, const struct cfg_listener *l, const struct where *w)
{
	const char *why = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc, line = 0;

	rc = read_file(l->ticket_keys, &text, &len);
	if (rc < 0) {
		WHERE_ERR(w, l->ticket_keys_line, "ticket_keys %s: cannot read: %s", l->ticket_keys,
			  rc == -EFBIG ? "file too large" : strerror(-rc));
		return -1;
	}
	s->file_keys = calloc(1, sizeof(*s->file_keys));
	if (s->file_keys == NULL) {
		WHERE_ERR(w, l->ticket_keys_line, "%s", "out of memory");
		rc = -1;
	} else if (tls_file_keys_parse(text, len, s->file_keys, &line, &why) < 0) {
		if (line > 0)
			WHERE_ERR(w, l->ticket_keys_line, "ticket_keys %s:%d: %s", l->ticket_keys,
				  line, why);
		else
			WHERE_ERR(w, l->ticket_keys_line, "ticket_keys %s: %s", l->ticket_keys, why);
		rc = -1;
	} else {
		log_info("[listener %s]: %d session-ticket keys in %s (AES-%d): the last %d "
			 "decrypt, key #%d encrypts", l->name, s->file_keys->nfile, l->ticket_keys,
			 s->file_keys->k[0].len * 8, TLS_FILE_KEYS,
			 s->file_keys->nfile - TLS_FILE_KEYS + TLS_FILE_KEY_ENC + 1);
		rc = 0;
	}
	explicit_bzero(text, len);
	free(text);
	return rc;
}

/* A server with n empty certificate slots, its protocols and ticket keys set up (what every
 * listener needs whatever its certificates are). NULL with the reason in w. */
static struct tls_server *
server_alloc(const struct cfg_listener *l, int n, struct tls_tickets *tk, const struct where *w)
{
	struct tls_server *s;
	const char *why;

	why = proto_problem(l->protocols);
	if (why != NULL) {
		WHERE_ERR(w, l->line, "protocols: %s", why);
		return NULL;
	}
	if (tls_init() < 0) {
		WHERE_ERR(w, l->line, "%s", "wolfSSL_Init failed");
		return NULL;
	}
	if (l->session_tickets && atomic_load(&tk->keys) == NULL && tls_tickets_init(tk) < 0) {
		WHERE_ERR(w, l->line, "%s", "cannot create session ticket keys");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->certs = calloc((size_t)n, sizeof(*s->certs))) == NULL) {
		free(s);
		WHERE_ERR(w, l->line, "%s", "out of memory");
		return NULL;
	}
	s->ncerts = n;
	s->protocols = l->protocols;
	s->session_tickets = l->session_tickets;
	if (l->session_tickets && l->ticket_keys != NULL &&
	    load_file_keys(s, l, w) < 0) {
		tls_server_free(s);
		return NULL;
	}
	return s;
}

static void
warn_old_protocols(const char *file, const struct cfg_listener *l)
{
	if (l->protocols & (CFG_TLS10 | CFG_TLS11))
		log_warn("%s:%d: [listener %s]: protocols: %s enabled: weak (SHA-1/MD5 handshake "
			 "PRF, no AEAD); the AES-CBC-SHA suites are offered after the AEAD ones",
			 file, l->line, l->name, proto_text(l->protocols));
}

struct tls_server *
tls_server_new(const char *file, const struct cfg_listener *l, const struct cfg_tls_defaults *def,
	       struct tls_tickets *tk, struct cfg_errors *err)
{
	struct where w = { file, l->line, "listener", l->name, err };
	const struct cfg_cert *pairs = l->certs;
	int npairs = l->ncerts, bad = 0;
	struct tls_server *s;

	if (npairs == 0 && def != NULL && def->cert.certificate != NULL) {
		pairs = &def->cert;
		npairs = 1;
	}
	if (npairs == 0) {
		WHERE_ERR(&w, l->line, "%s", "TLS listener without a certificate");
		return NULL;
	}
	if (tk == NULL)
		tk = &tls_tickets_global;
	s = server_alloc(l, npairs, tk, &w);
	if (s == NULL)
		return NULL;
	for (int i = 0; i < npairs; i++)
		bad |= load_cert(&s->certs[i], &pairs[i], s, tk, &w) < 0;
	if (bad) {
		tls_server_free(s);
		return NULL;
	}
	warn_old_protocols(file, l);
	return s;
}

struct tls_server *
tls_server_new_mem(const char *file, const struct cfg_listener *l, const struct tls_mem_pair *mp,
		   struct tls_tickets *tk, struct cfg_errors *err)
{
	struct where w = { file, l->line, "listener", l->name, err };
	struct cfg_cert pair = { (char *)mp->label, (char *)mp->label, l->line };
	struct tls_server *s;

	if (tk == NULL)
		tk = &tls_tickets_global;
	s = server_alloc(l, 1, tk, &w);
	if (s == NULL)
		return NULL;
	if (load_pem(&s->certs[0], &pair, mp->cert, mp->cert_len, mp->key, mp->key_len, s, tk,
		     &w) < 0) {
		tls_server_free(s);
		return NULL;
	}
	warn_old_protocols(file, l);
	return s;
}

void
tls_server_free(struct tls_server *s)
{
	if (s == NULL)
		return;
	if (s->file_keys != NULL)
		explicit_bzero(s->file_keys, sizeof(*s->file_keys));
	free(s->file_keys);
	for (int i = 0; i < s->ncerts; i++) {
		struct tls_cert *c = &s->certs[i];

		if (c->ctx != NULL)
			wolfSSL_CTX_free(c->ctx);
		for (int j = 0; j < c->nnames; j++)
			free(c->names[j].name);
		free(c->names);
		free(c->ips);
		free(c->file);
	}
	free(s->certs);
	free(s);
}

/* ---- client contexts ------------------------------------------------------------------ */

struct tls_client *
tls_client_new(const char *file, const struct cfg_pool *p, struct cfg_errors *err)
{
	struct where w = { file, p->line, "pool", p->name, err };
	const char *ca = p->ca != NULL ? p->ca : SYSTEM_CA_BUNDLE;
	struct tls_client *cl;
	char *pem;
	size_t pem_len;
	int rc;

	if (tls_init() < 0) {
		WHERE_ERR(&w, p->line, "%s", "wolfSSL_Init failed");
		return NULL;
	}
	cl = calloc(1, sizeof(*cl));
	if (cl == NULL)
		goto nomem;
	cl->verify = p->verify;
	if (p->sni != NULL && (cl->sni = strdup(p->sni)) == NULL)
		goto nomem;
	cl->ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
	if (cl->ctx == NULL || wolfSSL_CTX_SetMinVersion(cl->ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_set_cipher_list(cl->ctx, client_suites) != WOLFSSL_SUCCESS) {
		WHERE_ERR(&w, p->line, "%s", "cannot set up a wolfSSL client context");
		goto fail;
	}
	wolfSSL_CTX_SetIORecv(cl->ctx, tls_io_recv);
	wolfSSL_CTX_SetIOSend(cl->ctx, tls_io_send);
	/* Sessions live in the caller's per-worker slots, not in wolfSSL's locked global cache. */
	wolfSSL_CTX_set_session_cache_mode(cl->ctx, WOLFSSL_SESS_CACHE_OFF);
	wolfSSL_CTX_UseSessionTicket(cl->ctx);
	if (!p->verify) {
		/* the config layer already warned at load (once, also for -t); every user of
		 * the pool's context (data plane, health checks) would repeat it here */
		wolfSSL_CTX_set_verify(cl->ctx, WOLFSSL_VERIFY_NONE, NULL);
		return cl;
	}
	wolfSSL_CTX_set_verify(cl->ctx, WOLFSSL_VERIFY_PEER, NULL);
	/* Read it ourselves first: the error then says why (ENOENT, EACCES), not just "-4". */
	rc = read_file(ca, &pem, &pem_len);
	if (rc < 0) {
		WHERE_ERR(&w, p->line, "ca %s: cannot read: %s", ca, errno_or(rc));
		goto fail;
	}
	rc = wolfSSL_CTX_load_verify_buffer(cl->ctx, (const byte *)pem, (long)pem_len,
					    WOLFSSL_FILETYPE_PEM);
	free(pem);
	if (rc != WOLFSSL_SUCCESS) {
		WHERE_ERR(&w, p->line, "ca %s: no usable PEM CA certificate (wolfSSL error %d)",
			  ca, rc);
		goto fail;
	}
	return cl;
nomem:
	WHERE_ERR(&w, p->line, "%s", "out of memory");
fail:
	tls_client_free(cl);
	return NULL;
}

void
tls_client_free(struct tls_client *cl)
{
	if (cl == NULL)
		return;
	if (cl->ctx != NULL)
		wolfSSL_CTX_free(cl->ctx);
	free(cl->sni);
	free(cl);
}

void
tls_sess_slot_clear(struct tls_sess_slot *slot)
{
	if (slot->sess != NULL)
		wolfSSL_SESSION_free(slot->sess);
	slot->sess = NULL;
}
