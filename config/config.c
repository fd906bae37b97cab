/*
 * INI loader: inih does the lexing; a table of keys (name, section, setter, offset, default,
 * help) does everything else. The same table produces the unknown-key errors, the defaults
 * and the reference section of docs/configuration.md, so they cannot drift apart.
 *
 * inih (Debian's build) does not pass line numbers to the handler, so we feed it through our
 * own line reader: the reader counts lines, notices section headers (so empty sections and
 * bad section names are reported too) and rejects over-long lines instead of letting inih
 * silently split them.
 */
#include "config/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/lib/cidr.h"
#include "core/lib/log.h"

#define CFG_MAX_LINE	4096

enum sec {
	SEC_GLOBAL	= 1 << 0,
	SEC_TLS		= 1 << 1,
	SEC_LISTENER	= 1 << 2,
	SEC_POOL	= 1 << 3,
	SEC_ROUTE	= 1 << 4,
	SEC_AUTH_GUARD	= 1 << 5,
	SEC_ACME	= 1 << 6,
	SEC_ADMIN	= 1 << 7,
};

struct loader;
struct cfg_key;

/* A setter parses `val` into obj + key->offset; returns NULL or a message (static or
 * in ld->msg). */
typedef const char *(*cfg_set_fn)(struct loader *ld, void *obj, const struct cfg_key *k,
				  const char *val);

struct cfg_key {
	unsigned	 sec;
	const char	*name;
	cfg_set_fn	 set;
	size_t		 off;
	const char	*def;		/* default, applied through set; NULL = none */
	uint64_t	 min, max;	/* for numbers, durations, sizes */
	const char	*type;		/* for the reference */
	const char	*help;
	bool		 repeatable;
};

struct loader {
	struct config	*c;
	struct cfg_errors *err;
	const char	*file;
	unsigned	 flags;
	int		 line;		/* line inih is handling now */
	/* the section being read */
	unsigned	 sec;		/* 0: none yet or invalid (keys are then ignored) */
	void		*obj;
	uint64_t	 seen[4];	/* keys already set in this section (bit = table index) */
	bool		 sec_bad;	/* invalid header: skip its keys silently */
	bool		 saw_global, saw_tls, saw_auth_guard, saw_admin;
	/* reader state */
	const char	*text;
	size_t		 pos, len;
	FILE		*fp;
	char		 msg[512];
};

/* ---- errors ---- */

void
cfg_error(struct cfg_errors *err, const char *file, int line, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	if (line > 0)
		n = snprintf(buf, sizeof(buf), "%s:%d: ", file, line);
	else
		n = snprintf(buf, sizeof(buf), "%s: ", file);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	n = (int)strlen(buf);

	if (err->len + (size_t)n + 2 > err->cap) {
		size_t cap = err->cap ? err->cap * 2 : 1024;
		char *t;

		while (cap < err->len + (size_t)n + 2)
			cap *= 2;
		t = realloc(err->text, cap);
		if (t == NULL)
			return;
		err->text = t;
		err->cap = cap;
	}
	memcpy(err->text + err->len, buf, (size_t)n);
	err->len += (size_t)n;
	err->text[err->len++] = '\n';
	err->text[err->len] = '\0';
	err->count++;
}

void
cfg_errors_free(struct cfg_errors *err)
{
	free(err->text);
	memset(err, 0, sizeof(*err));
}

/* ---- value parsers ---- */

static int
parse_u64(const char **sp, uint64_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*sp = s;
	*out = v;
	return 0;
}

static int
scale(uint64_t v, uint64_t mul, uint64_t *out)
{
	if (mul != 0 && v > UINT64_MAX / mul)
		return -ERANGE;
	*out = v * mul;
	return 0;
}

int
cfg_parse_duration(const char *s, uint64_t *ms)
{
	uint64_t v, mul;
	int rc;

	if ((rc = parse_u64(&s, &v)) < 0)
		return rc;
	if (strcmp(s, "ms") == 0)
		mul = 1;
	else if (strcmp(s, "s") == 0 || *s == '\0')	/* bare number: seconds, like nginx */
		mul = 1000;
	else if (strcmp(s, "m") == 0)
		mul = 60 * 1000;
	else if (strcmp(s, "h") == 0)
		mul = 3600 * 1000;
	else
		return -EINVAL;
	return scale(v, mul, ms);
}

int
cfg_parse_size(const char *s, uint64_t *bytes)
{
	uint64_t v, mul;
	int rc;

	if ((rc = parse_u64(&s, &v)) < 0)
		return rc;
	if (*s == '\0')
		mul = 1;
	else if ((s[0] == 'k' || s[0] == 'K') && s[1] == '\0')
		mul = 1024;
	else if ((s[0] == 'm' || s[0] == 'M') && s[1] == '\0')
		mul = 1024 * 1024;
	else if ((s[0] == 'g' || s[0] == 'G') && s[1] == '\0')
		mul = 1024 * 1024 * 1024;
	else
		return -EINVAL;
	return scale(v, mul, bytes);
}

int
cfg_parse_bool(const char *s, bool *b)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };

	for (size_t i = 0; i < RE_ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*b = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*b = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- helpers for setters ---- */

#define FIELD(obj, k, type)	((type *)((char *)(obj) + (k)->off))

static const char *
msgf(struct loader *ld, const char *fmt, ...) RE_PRINTF(2, 3);

static const char *
msgf(struct loader *ld, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ld->msg, sizeof(ld->msg), fmt, ap);
	va_end(ap);
	return ld->msg;
}

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL) {
		fprintf(stderr, "ringedge: out of memory\n");
		abort();
	}
	return d;
}

static void *
xgrow(void *arr, int n, size_t size)
{
	/* arrays grow one element at a time; configs are small and this runs once */
	void *p = realloc(arr, (size_t)(n + 1) * size);

	if (p == NULL) {
		fprintf(stderr, "ringedge: out of memory\n");
		abort();
	}
	memset((char *)p + (size_t)n * size, 0, size);
	return p;
}

/* Returns NULL, or "KEY: cannot read "PATH": reason". */
static const char *
check_readable(struct loader *ld, const struct cfg_key *k, const char *path)
{
	int fd;

	if (ld->flags & CONFIG_NO_FILES)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return msgf(ld, "%s: cannot read \"%s\": %s", k->name, path, strerror(errno));
	close(fd);
	return NULL;
}

static bool
is_hostname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
			return false;
	return s[0] != '.' && strstr(s, "..") == NULL;
}

static bool valid_name(const char *s);

/* ---- setters ---- */

static const char *
set_duration(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	uint64_t v;
	int rc = cfg_parse_duration(val, &v);

	if (rc == -ERANGE || (rc == 0 && (v < k->min || v > k->max)))
		return msgf(ld, "%s: duration \"%s\" out of range (%llums..%llums)", k->name, val,
			    (unsigned long long)k->min, (unsigned long long)k->max);
	if (rc < 0)
		return msgf(ld, "%s: bad duration \"%s\" (expected a number with ms, s, m or h)",
			    k->name, val);
	*FIELD(obj, k, uint64_t) = v;
	return NULL;
}

static const char *
set_uint(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	const char *s = val;
	uint64_t v;
	int rc = parse_u64(&s, &v);

	if (rc == 0 && *s != '\0')
		rc = -EINVAL;
	if (rc == -ERANGE || (rc == 0 && (v < k->min || v > k->max)))
		return msgf(ld, "%s: %s out of range (%llu..%llu)", k->name, val,
			    (unsigned long long)k->min, (unsigned long long)k->max);
	if (rc < 0)
		return msgf(ld, "%s: bad number \"%s\"", k->name, val);
	*FIELD(obj, k, uint64_t) = v;
	return NULL;
}

static const char *
set_size(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	uint64_t v;
	int rc = cfg_parse_size(val, &v);

	if (rc == -ERANGE || (rc == 0 && (v < k->min || v > k->max)))
		return msgf(ld, "%s: size \"%s\" out of range (%llu..%llu bytes)", k->name, val,
			    (unsigned long long)k->min, (unsigned long long)k->max);
	if (rc < 0)
		return msgf(ld, "%s: bad size \"%s\" (expected a number with k, m or g)", k->name,
			    val);
	*FIELD(obj, k, uint64_t) = v;
	return NULL;
}

static const char *
set_bool(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	if (cfg_parse_bool(val, FIELD(obj, k, bool)) < 0)
		return msgf(ld, "%s: expected on or off, got \"%s\"", k->name, val);
	return NULL;
}

static const char *
set_string(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	char **p = FIELD(obj, k, char *);

	(void)ld;
	free(*p);
	*p = val[0] ? xstrdup(val) : NULL;
	return NULL;
}

static const char *
set_file(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	const char *e;

	if (val[0] == '\0')
		return msgf(ld, "%s: empty file name", k->name);
	if ((e = check_readable(ld, k, val)) != NULL)
		return e;
	return set_string(ld, obj, k, val);
}

static const char *
set_workers(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	const char *s = val;
	uint64_t v = 0;

	if (strcmp(val, "auto") == 0) {
		*FIELD(obj, k, int) = 0;
		return NULL;
	}
	if (parse_u64(&s, &v) < 0 || *s != '\0')
		return msgf(ld, "workers: expected auto or a number, got \"%s\"", val);
	if (v < k->min || v > k->max)
		return msgf(ld, "workers: %s out of range (auto or %llu..%llu)", val,
			    (unsigned long long)k->min, (unsigned long long)k->max);
	*FIELD(obj, k, int) = (int)v;
	return NULL;
}

static const char *
set_log_file(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	int fd;

	if (strcmp(val, "off") != 0 && strcmp(val, "stderr") != 0 &&
	    !(ld->flags & CONFIG_NO_FILES)) {
		/* like nginx -t: the log must be openable for appending */
		fd = open(val, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0)
			return msgf(ld, "%s: cannot open \"%s\": %s", k->name, val, strerror(errno));
		close(fd);
	}
	return set_string(ld, obj, k, val);
}

static const char *
set_access_log(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	if (val[0] == '\0')
		return "access_log: expected a path, stderr or off";
	return set_log_file(ld, obj, k, val);
}

/* access_log_format = line | json */
static const char *
set_alog_format(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	(void)ld;
	if (strcmp(val, "line") != 0 && strcmp(val, "json") != 0)
		return "access_log_format: expected line or json";
	*FIELD(obj, k, bool) = strcmp(val, "json") == 0;
	return NULL;
}

static const char *
set_error_log(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	if (val[0] == '\0' || strcmp(val, "off") == 0)
		return "error_log: expected a path or stderr";
	return set_log_file(ld, obj, k, val);
}

static const char *
set_log_level(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	int l = log_level_parse(val);

	if (l < 0)
		return msgf(ld, "log_level: expected error, warn, info or debug, got \"%s\"", val);
	*FIELD(obj, k, int) = l;
	return NULL;
}

static const char *
set_user(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	if (val[0] && !(ld->flags & CONFIG_NO_FILES) && getpwnam(val) == NULL)
		return msgf(ld, "user: unknown user \"%s\"", val);
	return set_string(ld, obj, k, val);
}

/* A list value's names: bit is OR'ed in, alone marks a name that must stand by itself. */
struct name_bit {
	const char	*name;
	unsigned	 bit;
	bool		 alone;
};

/*
 * Splits buf (modified) at spaces, commas and tabs; every token must be one of names[0..n)
 * (case-insensitive). Sets *bits to their OR, *ntok to the token count and *alone to whether
 * a stand-alone name was among them. NULL, or the first unknown token (inside buf).
 */
static const char *
name_bits(char *buf, const struct name_bit *names, size_t n, unsigned *bits, int *ntok,
	  bool *alone)
{
	char *save = NULL, *tok;

	*bits = 0;
	*ntok = 0;
	*alone = false;
	for (tok = strtok_r(buf, " ,\t", &save); tok; tok = strtok_r(NULL, " ,\t", &save)) {
		size_t i = 0;

		while (i < n && strcasecmp(tok, names[i].name) != 0)
			i++;
		if (i == n)
			return tok;
		*bits |= names[i].bit;
		*alone |= names[i].alone;
		(*ntok)++;
	}
	return NULL;
}

static const char *
set_protocols(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	static const struct name_bit names[] = {
		{ "TLSv1", CFG_TLS10, false }, { "TLSv1.0", CFG_TLS10, false },
		{ "TLSv1.1", CFG_TLS11, false }, { "TLSv1.2", CFG_TLS12, false },
		{ "TLSv1.3", CFG_TLS13, false },
	};
	char buf[256];
	const char *bad;
	unsigned bits;
	int ntok;
	bool alone;

	if (strlen(val) >= sizeof(buf))
		return "protocols: value too long";
	strcpy(buf, val);
	bad = name_bits(buf, names, RE_ARRAY_SIZE(names), &bits, &ntok, &alone);
	if (bad != NULL)
		return msgf(ld, "protocols: unknown protocol \"%s\" (expected TLSv1.2, "
			    "TLSv1.3, TLSv1.1 or TLSv1)", bad);
	if (bits == 0)
		return "protocols: no protocol given";
	*FIELD(obj, k, unsigned) = bits;
	return NULL;
}

static const char *
set_balance(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	static const char *const names[] = {
		[CFG_BALANCE_ROUND_ROBIN] = "round_robin",
		[CFG_BALANCE_LEAST_CONN] = "least_conn",
		[CFG_BALANCE_SOURCE_HASH] = "source_hash",
		[CFG_BALANCE_COOKIE] = "cookie",
	};

	for (size_t i = 0; i < RE_ARRAY_SIZE(names); i++) {
		if (strcmp(val, names[i]) == 0) {
			*FIELD(obj, k, int) = (int)i;
			return NULL;
		}
	}
	return msgf(ld, "balance: expected round_robin, least_conn, source_hash or cookie, "
		    "got \"%s\"", val);
}

/* "ADDR:PORT", "[V6]:PORT", "*:PORT" or ":PORT". Numeric addresses only: a listener must not
 * depend on DNS at start-up. */
static const char *
parse_bind(struct loader *ld, const char *val, struct cfg_bind *b)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *h, *port;
	size_t hlen;
	unsigned long p;
	char *end;

	if (val[0] == '[') {
		const char *close = strchr(val, ']');

		if (close == NULL || close[1] != ':')
			return msgf(ld, "bind: bad address \"%s\" (expected [IPv6]:PORT)", val);
		h = val + 1;
		hlen = (size_t)(close - h);
		port = close + 2;
	} else {
		colon = strrchr(val, ':');
		if (colon == NULL)
			return msgf(ld, "bind: \"%s\" has no port (expected ADDRESS:PORT)", val);
		if (memchr(val, ':', (size_t)(colon - val)) != NULL)
			return msgf(ld, "bind: IPv6 address \"%s\" must be in brackets: [ADDR]:PORT",
				    val);
		h = val;
		hlen = (size_t)(colon - val);
		port = colon + 1;
	}
	errno = 0;
	p = strtoul(port, &end, 10);
	if (port[0] == '\0' || !isdigit((unsigned char)port[0]) || *end != '\0' || p == 0 ||
	    p > 65535 || errno)
		return msgf(ld, "bind: bad port in \"%s\"", val);
	if (hlen >= sizeof(host))
		return msgf(ld, "bind: bad address \"%s\"", val);
	memcpy(host, h, hlen);
	host[hlen] = '\0';

	memset(&b->addr, 0, sizeof(b->addr));
	if (hlen == 0 || strcmp(host, "*") == 0) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&b->addr;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		sin->sin_port = htons((uint16_t)p);
		b->addrlen = sizeof(*sin);
	} else if (val[0] == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&b->addr;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return msgf(ld, "bind: bad IPv6 address \"%s\"", host);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		b->addrlen = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&b->addr;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return msgf(ld, "bind: bad IPv4 address \"%s\" (numeric addresses only)",
				    host);
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		b->addrlen = sizeof(*sin);
	}
	return NULL;
}

static const char *
set_bind(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	struct cfg_listener *l = obj;
	struct cfg_bind b = { .line = ld->line };
	const char *e;

	(void)k;
	if ((e = parse_bind(ld, val, &b)) != NULL)
		return e;
	b.text = xstrdup(val);
	l->binds = xgrow(l->binds, l->nbinds, sizeof(*l->binds));
	l->binds[l->nbinds++] = b;
	return NULL;
}

/* certificate / private_key: in [tls] they set the default pair; in a listener each
 * `certificate` starts a new pair of its SNI set and `private_key` completes the last one. */
static const char *
set_cert(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	bool is_key = strcmp(k->name, "private_key") == 0;
	struct cfg_cert *pair;
	const char *e;

	if (val[0] == '\0')
		return msgf(ld, "%s: empty file name", k->name);
	/* an unreadable file is still recorded, so that later checks ("no certificate") do
	 * not add misleading follow-on errors */
	e = check_readable(ld, k, val);
	if (ld->sec == SEC_TLS) {
		pair = &((struct cfg_tls_defaults *)obj)->cert;
		if (!is_key)
			pair->line = ld->line;
	} else {
		struct cfg_listener *l = obj;

		if (!is_key) {
			l->certs = xgrow(l->certs, l->ncerts, sizeof(*l->certs));
			l->certs[l->ncerts].line = ld->line;
			l->ncerts++;
		} else if (l->ncerts == 0 || l->certs[l->ncerts - 1].private_key != NULL) {
			return "private_key: no certificate before it (write certificate, then "
			       "private_key)";
		}
		pair = &l->certs[l->ncerts - 1];
	}
	if (is_key) {
		free(pair->private_key);
		pair->private_key = xstrdup(val);
	} else {
		free(pair->certificate);
		pair->certificate = xstrdup(val);
	}
	return e;
}

/* "host:port [weight=N] [backup]" */
static const char *
set_server(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	struct cfg_pool *p = obj;
	struct cfg_server s = { .weight = 1, .line = ld->line };
	char buf[512], *save = NULL, *tok, *addr, *colon, *end;
	const char *e = NULL;
	unsigned long port;

	(void)k;
	if (strlen(val) >= sizeof(buf))
		return "server: value too long";
	strcpy(buf, val);
	addr = strtok_r(buf, " \t", &save);
	if (addr == NULL)
		return "server: expected HOST:PORT";
	if (addr[0] == '[') {
		char *close = strchr(addr, ']');

		if (close == NULL || close[1] != ':')
			return msgf(ld, "server: bad address \"%s\" (expected [IPv6]:PORT)", addr);
		*close = '\0';
		colon = close + 1;
		addr++;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL)
			return msgf(ld, "server: \"%s\" has no port (expected HOST:PORT)", addr);
		*colon = '\0';
		if (!is_hostname(addr))
			return msgf(ld, "server: bad host name \"%s\"", addr);
	}
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!isdigit((unsigned char)colon[1]) || *end != '\0' || port == 0 || port > 65535 ||
	    errno)
		return msgf(ld, "server: bad port \"%s\"", colon + 1);
	s.port = (uint16_t)port;

	while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
		if (strncmp(tok, "weight=", 7) == 0) {
			unsigned long w;

			errno = 0;
			w = strtoul(tok + 7, &end, 10);
			if (!isdigit((unsigned char)tok[7]) || *end != '\0' || w < 1 || w > 256 ||
			    errno)
				return msgf(ld, "server: bad weight \"%s\" (1..256)", tok + 7);
			s.weight = (int)w;
		} else if (strcmp(tok, "backup") == 0) {
			s.backup = true;
		} else {
			return msgf(ld, "server: unknown option \"%s\" (expected weight=N or backup)",
				    tok);
		}
	}

	if (!(ld->flags & CONFIG_NO_RESOLVE)) {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
		struct addrinfo *res = NULL;
		char portstr[8];
		int rc;

		snprintf(portstr, sizeof(portstr), "%u", s.port);
		rc = getaddrinfo(addr, portstr, &hints, &res);
		if (rc != 0 || res == NULL) {
			e = msgf(ld, "server: host \"%s\" does not resolve: %s", addr,
				 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		} else {
			memcpy(&s.addr, res->ai_addr, res->ai_addrlen);
			s.addrlen = res->ai_addrlen;
			freeaddrinfo(res);
		}
	}
	/* recorded even when it does not resolve: no follow-on "pool has no server" error */
	s.host = xstrdup(addr);
	p->servers = xgrow(p->servers, p->nservers, sizeof(*p->servers));
	p->servers[p->nservers++] = s;
	return e;
}

static const char *
set_sni(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	if (!is_hostname(val))
		return msgf(ld, "sni: bad host name \"%s\"", val);
	return set_string(ld, obj, k, val);
}

static const char *
set_health_check(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	if (val[0] != '/' || strpbrk(val, " \t\r\n") != NULL)
		return msgf(ld, "health_check: expected a path starting with /, got \"%s\"", val);
	return set_string(ld, obj, k, val);
}

/* listeners = NAME[,NAME...] and pool = NAME: names resolved after the whole file is read,
 * so the line is kept for that error */
static const char *
set_route_ref(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	struct cfg_route *r = obj;
	bool pool = strcmp(k->name, "pool") == 0;

	if (val[0] == '\0')
		return pool ? "pool: empty pool name" : "listeners: empty list";
	*(pool ? &r->pool_line : &r->listeners_line) = ld->line;
	return set_string(ld, obj, k, val);
}

/* exact host, *.suffix or *; stored lower-case without a trailing dot */
static const char *
set_route_host(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	char buf[256];
	size_t n = strlen(val);

	if (n == 0 || n >= sizeof(buf))
		return msgf(ld, "host: bad host \"%s\"", val);
	for (size_t i = 0; i <= n; i++)
		buf[i] = (char)tolower((unsigned char)val[i]);
	if (n > 1 && buf[n - 1] == '.')
		buf[--n] = '\0';
	if (strcmp(buf, "*") != 0 && !is_hostname(buf[0] == '*' && buf[1] == '.' ? buf + 2 : buf))
		return msgf(ld, "host: bad host \"%s\" (expected a name, *.suffix or *)", val);
	return set_string(ld, obj, k, buf);
}

static const char *
set_route_path(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	if (val[0] != '/')
		return msgf(ld, "path: \"%s\" must start with /", val);
	for (const char *p = val; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '?' ||
		    *p == '#')
			return msgf(ld, "path: \"%s\" has a character not allowed in a path prefix",
				    val);
	if (strstr(val, "//") != NULL)
		return msgf(ld, "path: \"%s\" has an empty segment (//)", val);
	return set_string(ld, obj, k, val);
}

static const char *
set_route_redirect(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	struct cfg_route *r = obj;

	(void)k;
	if (strcmp(val, "https") != 0)
		return msgf(ld, "redirect: only \"https\" is supported, got \"%s\"", val);
	r->kind = CFG_ROUTE_REDIRECT_HTTPS;
	return NULL;
}

/* CIDR[,CIDR...] into a struct cidr_list at the key's offset */
static const char *
set_cidr_list(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	struct cidr_list *l = FIELD(obj, k, struct cidr_list);
	struct cidr_list nl;
	char why[200];

	if (cidr_list_parse(val, &nl, why, sizeof(why)) < 0)
		return msgf(ld, "%s: %s", k->name, why);
	cidr_list_free(l);
	*l = nl;
	if (strcmp(k->name, "proxy_protocol_from") == 0)
		((struct cfg_listener *)obj)->proxy_protocol_from_line = ld->line;
	return NULL;
}

static const char *
set_ticket_keys(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	((struct cfg_listener *)obj)->ticket_keys_line = ld->line;
	return set_file(ld, obj, k, val);
}

/* auth_guard = on | off | log_only */
static const char *
set_guard_mode(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	static const char *const names[] = {
		[CFG_GUARD_OFF] = "off", [CFG_GUARD_ON] = "on", [CFG_GUARD_LOG_ONLY] = "log_only",
	};

	for (size_t i = 0; i < RE_ARRAY_SIZE(names); i++)
		if (strcmp(val, names[i]) == 0) {
			*FIELD(obj, k, int) = (int)i;
			return NULL;
		}
	return msgf(ld, "auth_guard: expected on, off or log_only, got \"%s\"", val);
}

/* auth_schemes = any | none | ntlm,negotiate,basic,bearer,other */
static const char *
set_auth_schemes(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	static const struct name_bit names[] = {
		{ "ntlm", CFG_AUTH_NTLM, false }, { "negotiate", CFG_AUTH_NEGOTIATE, false },
		{ "basic", CFG_AUTH_BASIC, false }, { "bearer", CFG_AUTH_BEARER, false },
		{ "other", CFG_AUTH_OTHER, false }, { "any", CFG_AUTH_ANY, true },
		{ "none", 0, true },
	};
	char buf[256];
	const char *bad;
	unsigned bits;
	int ntok;
	bool alone;

	if (strlen(val) >= sizeof(buf))
		return "auth_schemes: value too long";
	strcpy(buf, val);
	bad = name_bits(buf, names, RE_ARRAY_SIZE(names), &bits, &ntok, &alone);
	if (bad != NULL)
		return msgf(ld, "auth_schemes: unknown scheme \"%s\" (expected any, none, or "
			    "a list of ntlm, negotiate, basic, bearer, other)", bad);
	if (ntok == 0)
		return "auth_schemes: empty (write none to refuse every scheme)";
	if (alone && ntok > 1)
		return msgf(ld, "auth_schemes: any and none stand alone, got \"%s\"", val);
	*FIELD(obj, k, unsigned) = bits;
	return NULL;
}

/* hide_response_header = NAME: a field name; never a framing field */
static const char *
set_hide_header(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	static const char *const framing[] = {
		"content-length", "transfer-encoding", "connection", "upgrade",
	};
	struct cfg_names *n = FIELD(obj, k, struct cfg_names);

	if (val[0] == '\0')
		return "hide_response_header: empty field name";
	for (const char *p = val; *p; p++)
		if (!isalnum((unsigned char)*p) && strchr("!#$%&'*+-.^_`|~", *p) == NULL)
			return msgf(ld, "hide_response_header: \"%s\" is not a header field name",
				    val);
	for (size_t i = 0; i < RE_ARRAY_SIZE(framing); i++)
		if (strcasecmp(val, framing[i]) == 0)
			return msgf(ld, "hide_response_header: %s frames the message and cannot be "
				    "hidden", val);
	n->names = xgrow(n->names, n->n, sizeof(*n->names));
	n->names[n->n++] = xstrdup(val);
	return NULL;
}

/* default_domain: a NetBIOS or DNS domain name */
static const char *
set_domain(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	if (val[0] != '\0' && !is_hostname(val))
		return msgf(ld, "default_domain: bad domain \"%s\"", val);
	return set_string(ld, obj, k, val);
}

/* store = redis://HOST:PORT (HOST: a name, an IPv4 address or [IPv6]) */
static const char *
set_guard_store(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	struct cfg_auth_guard *ag = obj;
	const char *h = val + 8, *colon, *end;
	char *host, *e;
	long port;

	(void)k;
	if (strncmp(val, "redis://", 8) != 0)
		return msgf(ld, "store: expected redis://HOST:PORT, got \"%s\"", val);
	if (*h == '[') {
		end = strchr(h, ']');
		colon = end != NULL && end[1] == ':' ? end + 1 : NULL;
		h++;
	} else {
		colon = strrchr(h, ':');
		end = colon;
	}
	if (colon == NULL || end == NULL || end == h)
		return msgf(ld, "store: expected redis://HOST:PORT, got \"%s\"", val);
	port = strtol(colon + 1, &e, 10);
	if (colon[1] == '\0' || *e != '\0' || port < 1 || port > 65535)
		return msgf(ld, "store: bad port in \"%s\" (1-65535)", val);
	host = strndup(h, (size_t)(end - h));
	if (host == NULL)
		return "out of memory";
	if (!is_hostname(host) && strchr(host, ':') == NULL) {
		free(host);
		return msgf(ld, "store: bad host in \"%s\"", val);
	}
	free(ag->store);
	free(ag->store_host);
	ag->store = strdup(val);
	ag->store_host = host;
	ag->store_port = (int)port;
	return ag->store == NULL ? "out of memory" : NULL;
}

/* store_unreachable = open | closed */
static const char *
set_guard_unreachable(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	if (strcmp(val, "open") != 0 && strcmp(val, "closed") != 0)
		return msgf(ld, "store_unreachable: expected open or closed, got \"%s\"", val);
	*FIELD(obj, k, bool) = strcmp(val, "closed") == 0;
	return NULL;
}

/* ---- [acme NAME] setters ---- */

static const char *
set_acme_directory(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	if (strncmp(val, "https://", 8) != 0 || val[8] == '\0' || strpbrk(val, " \t") != NULL)
		return msgf(ld, "directory: expected an https:// URL, got \"%s\"", val);
	return set_string(ld, obj, k, val);
}

static const char *
set_acme_contact(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	const char *at;

	if (strncmp(val, "mailto:", 7) == 0)
		val += 7;
	at = strchr(val, '@');
	if (at == NULL || at == val || at[1] == '\0' || strpbrk(val, " \t,<>\"") != NULL)
		return msgf(ld, "contact: expected an e-mail address, got \"%s\"", val);
	return set_string(ld, obj, k, val);
}

static const char *
set_acme_key_type(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	int t;

	if (strcasecmp(val, "ecdsa") == 0 || strcasecmp(val, "ecdsa-p256") == 0)
		t = CFG_ACME_KEY_EC256;
	else if (strcasecmp(val, "rsa2048") == 0)
		t = CFG_ACME_KEY_RSA2048;
	else if (strcasecmp(val, "rsa3072") == 0)
		t = CFG_ACME_KEY_RSA3072;
	else
		return msgf(ld, "key_type: expected ecdsa, rsa2048 or rsa3072, got \"%s\"", val);
	*FIELD(obj, k, int) = t;
	return NULL;
}

/* Adds name (lower-cased) to the section's list unless it is there already. */
static void
acme_add_name(struct cfg_acme *a, const char *name, size_t len)
{
	char *n = strndup(name, len);

	if (n == NULL) {
		fprintf(stderr, "ringedge: out of memory\n");
		abort();
	}
	for (char *p = n; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	for (int i = 0; i < a->nnames; i++)
		if (strcmp(a->names[i], n) == 0) {
			free(n);
			return;
		}
	a->names = xgrow(a->names, a->nnames, sizeof(*a->names));
	a->names[a->nnames++] = n;
}

static const char *
set_acme_names(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	struct cfg_acme *a = obj;
	char buf[CFG_MAX_LINE], *save = NULL, *tok;

	(void)k;
	snprintf(buf, sizeof(buf), "%s", val);
	for (tok = strtok_r(buf, " ,\t", &save); tok; tok = strtok_r(NULL, " ,\t", &save)) {
		if (tok[0] == '*')
			return msgf(ld, "names: \"%s\": wildcard names need the DNS-01 challenge, "
				    "which ringedge does not do", tok);
		if (!is_hostname(tok) || strchr(tok, '.') == NULL || strchr(tok, '_') != NULL)
			return msgf(ld, "names: \"%s\" is not a DNS name", tok);
		acme_add_name(a, tok, strlen(tok));
	}
	if (a->nnames == 0)
		return "names: empty list";
	free(a->names_text);
	a->names_text = xstrdup(val);
	return NULL;
}

static const char *
set_acme_challenge(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	char buf[256], *save = NULL, *tok;
	unsigned bits = 0;

	if (strlen(val) >= sizeof(buf))
		return "challenge: value too long";
	strcpy(buf, val);
	for (tok = strtok_r(buf, " ,\t", &save); tok; tok = strtok_r(NULL, " ,\t", &save)) {
		if (strcasecmp(tok, "http-01") == 0)
			bits |= CFG_ACME_HTTP01;
		else if (strcasecmp(tok, "tls-alpn-01") == 0)
			bits |= CFG_ACME_TLSALPN01;
		else
			return msgf(ld, "challenge: unknown challenge \"%s\" (expected http-01 "
				    "and/or tls-alpn-01)", tok);
	}
	if (bits == 0)
		return "challenge: no challenge given";
	*FIELD(obj, k, unsigned) = bits;
	return NULL;
}

static const char *
set_acme_path(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	if (val[0] == '\0')
		return msgf(ld, "%s: empty path", k->name);
	return set_string(ld, obj, k, val);
}

static const char *
set_listener_acme(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	struct cfg_listener *l = obj;

	if (!valid_name(val))
		return msgf(ld, "acme: bad section name \"%s\"", val);
	l->acme_line = ld->line;
	return set_string(ld, obj, k, val);
}

/* [admin] listen = ADDRESS:PORT */
static const char *
set_admin_listen(struct loader *ld, void *obj, const struct cfg_key *k, const char *val)
{
	struct cfg_admin *a = obj;
	struct cfg_bind b = { .line = ld->line };
	const char *e;

	(void)k;
	if ((e = parse_bind(ld, val, &b)) != NULL)
		return e;
	free(a->bind.text);
	b.text = xstrdup(val);
	a->bind = b;
	return NULL;
}

/* ---- the key table ---- */

#define G(f)	offsetof(struct cfg_global, f)
#define T(f)	offsetof(struct cfg_tls_defaults, f)
#define L(f)	offsetof(struct cfg_listener, f)
#define P(f)	offsetof(struct cfg_pool, f)
#define R(f)	offsetof(struct cfg_route, f)
#define A(f)	offsetof(struct cfg_auth_guard, f)
#define AC(f)	offsetof(struct cfg_acme, f)
#define AD(f)	offsetof(struct cfg_admin, f)
#define DUR_MAX	(7ULL * 24 * 3600 * 1000)

static const struct cfg_key keys[] = {
	{ SEC_GLOBAL, "workers", set_workers, G(workers), "auto", 1, 1024, "auto | N",
	  "worker threads, one io_uring ring each; auto = online CPUs", false },
	{ SEC_GLOBAL, "max_connections", set_uint, G(max_connections), "100000", 1, 10000000,
	  "number", "client connections across all workers; at it, accept pauses (clients wait in "
	  "the listen backlog)", false },
	{ SEC_GLOBAL, "access_log", set_access_log, G(access_log), "stderr", 0, 0,
	  "path | stderr | off", "one line per request", false },
	{ SEC_GLOBAL, "access_log_format", set_alog_format, G(access_log_json), "line", 0, 0,
	  "line | json", "line: the space-separated line below; json: one JSON object per line "
	  "with fixed keys (docs/operations.md), strings escaped, always valid UTF-8", false },
	{ SEC_GLOBAL, "error_log", set_error_log, G(error_log), "stderr", 0, 0,
	  "path | stderr", "error log; SIGUSR1 reopens it (and the access log)", false },
	{ SEC_GLOBAL, "log_level", set_log_level, G(log_level), "info", 0, 0,
	  "error | warn | info | debug", "error log threshold", false },
	{ SEC_GLOBAL, "user", set_user, G(user), NULL, 0, 0, "user name",
	  "drop privileges to this user after binding (optional)", false },
	{ SEC_GLOBAL, "drain_timeout", set_duration, G(drain_timeout), "30s", 0, DUR_MAX,
	  "duration", "graceful stop: time left for in-flight requests", false },

	{ SEC_TLS, "certificate", set_cert, 0, NULL, 0, 0, "file",
	  "PEM leaf + chain used by TLS listeners that name none", false },
	{ SEC_TLS, "private_key", set_cert, 0, NULL, 0, 0, "file",
	  "PEM private key of that certificate", false },
	{ SEC_TLS, "protocols", set_protocols, T(protocols), "TLSv1.2 TLSv1.3", 0, 0,
	  "list of TLSv1.2 TLSv1.3 (TLSv1.1 TLSv1)",
	  "TLS versions accepted from clients; TLSv1 and TLSv1.1 (weak: adds AES-CBC-SHA suites, "
	  "logs a warning) only in a range up to TLSv1.3", false },
	{ SEC_TLS, "session_tickets", set_bool, T(session_tickets), "on", 0, 0, "on | off",
	  "TLS session tickets (resumption on any worker)", false },

	{ SEC_LISTENER, "bind", set_bind, 0, NULL, 0, 0, "ADDRESS:PORT",
	  "address to listen on, repeatable; [::]:443 for IPv6, *:80 for any IPv4", true },
	{ SEC_LISTENER, "tls", set_bool, L(tls), "off", 0, 0, "on | off",
	  "terminate TLS on this listener", false },
	{ SEC_LISTENER, "certificate", set_cert, 0, NULL, 0, 0, "file",
	  "overrides [tls]; repeated certificate/private_key pairs form an SNI set", true },
	{ SEC_LISTENER, "private_key", set_cert, 0, NULL, 0, 0, "file",
	  "key of the certificate written just before it", true },
	{ SEC_LISTENER, "header_timeout", set_duration, L(header_timeout), "30s", 1, DUR_MAX,
	  "duration", "time to receive a full request head (and the TLS handshake)", false },
	{ SEC_LISTENER, "idle_timeout", set_duration, L(idle_timeout), "1800s", 1, DUR_MAX,
	  "duration", "keep-alive / long-poll inactivity on the client side", false },
	{ SEC_LISTENER, "acme", set_listener_acme, L(acme), NULL, 0, 0, "acme section name",
	  "certificate from [acme NAME] (first of the SNI set; a self-signed placeholder until the "
	  "first issuance); needs tls = on", false },
	{ SEC_LISTENER, "proxy_protocol", set_bool, L(proxy_protocol), "off", 0, 0, "on | off",
	  "every connection starts with a PROXY protocol v1 or v2 header (read before TLS) whose "
	  "client address replaces the peer's; needs proxy_protocol_from", false },
	{ SEC_LISTENER, "proxy_protocol_from", set_cidr_list, L(proxy_protocol_from), NULL, 0, 0,
	  "CIDR[,CIDR...]", "balancers allowed to send the PROXY header; a connection from "
	  "elsewhere is closed and logged", false },
	{ SEC_LISTENER, "real_ip_from", set_cidr_list, L(real_ip_from), NULL, 0, 0,
	  "CIDR[,CIDR...]", "trusted HTTP balancers: from them, the rightmost X-Forwarded-For "
	  "address not in this list is the client (nginx realip, recursive)", false },
	{ SEC_LISTENER, "ticket_keys", set_ticket_keys, L(ticket_keys), NULL, 0, 0, "file",
	  "TLS session-ticket keys shared by several instances, HAProxy's format (base64 lines of "
	  "48 or 80 bytes; the last 3 decrypt, the second-to-last encrypts; append a key and "
	  "reload to rotate; docs/tls.md); default: per-process keys", false },
	{ SEC_LISTENER, "client_max_connections", set_uint, L(client_max_connections), "0", 0,
	  1000000, "count", "open connections per client address (0: no limit); over it the "
	  "accepted connection is closed at once (logged at most once a second). Shared by all "
	  "workers (docs/auth-guard.md, \"Client limits\")", false },
	{ SEC_LISTENER, "client_request_rate", set_uint, L(client_request_rate), "0", 0, 1000000,
	  "requests per second", "request rate per client address (0: no limit), a token bucket "
	  "of client_request_burst; over it: 429 with Retry-After", false },
	{ SEC_LISTENER, "client_request_burst", set_uint, L(client_request_burst), "20", 1,
	  1000000, "count", "requests a client address may send at once above the rate", false },
	{ SEC_LISTENER, "client_limits_exempt", set_cidr_list, L(client_limits_exempt), NULL, 0, 0,
	  "CIDR[,CIDR...]", "client networks exempt from the client limits (e.g. the company's "
	  "own egress)", false },

	{ SEC_POOL, "server", set_server, 0, NULL, 0, 0, "HOST:PORT [weight=N] [backup]",
	  "a backend server, repeatable; the host must resolve", true },
	{ SEC_POOL, "tls", set_bool, P(tls), "off", 0, 0, "on | off",
	  "re-originate TLS to the servers", false },
	{ SEC_POOL, "ca", set_file, P(ca), NULL, 0, 0, "file",
	  "trust anchors for the servers' certificates; default: system CAs", false },
	{ SEC_POOL, "verify", set_bool, P(verify), "on", 0, 0, "on | off",
	  "verify the servers' certificates; off only with a startup warning", false },
	{ SEC_POOL, "sni", set_sni, P(sni), NULL, 0, 0, "host name",
	  "SNI sent and name verified; default: the server's host name", false },
	{ SEC_POOL, "balance", set_balance, P(balance), "round_robin", 0, 0,
	  "round_robin | least_conn | source_hash | cookie", "how requests are spread", false },
	{ SEC_POOL, "connect_timeout", set_duration, P(connect_timeout), "5s", 1, DUR_MAX,
	  "duration", "TCP (and TLS) connect to a server", false },
	{ SEC_POOL, "response_timeout", set_duration, P(response_timeout), "1800s", 1, DUR_MAX,
	  "duration", "wait for the response head (long polls wait long)", false },
	{ SEC_POOL, "idle_timeout", set_duration, P(idle_timeout), "1800s", 1, DUR_MAX,
	  "duration", "inactivity either way once streaming", false },
	{ SEC_POOL, "keepalive", set_uint, P(keepalive), "32", 0, 100000, "number",
	  "idle backend connections kept per server per worker", false },
	{ SEC_POOL, "forwarded_for", set_bool, P(forwarded_for), "off", 0, 0, "on | off",
	  "append the client address to X-Forwarded-For (one field); "
	  "set X-Forwarded-Proto", false },
	{ SEC_POOL, "health_check", set_health_check, P(health_check), NULL, 0, 0, "path",
	  "GET path probed on each server (optional)", false },
	{ SEC_POOL, "health_interval", set_duration, P(health_interval), "5s", 100, DUR_MAX,
	  "duration", "time between two probes of a server", false },
	{ SEC_POOL, "max_fails", set_uint, P(max_fails), "3", 0, 1000, "number",
	  "failures within fail_timeout that mark a server down; 0 = never (a pool of one server: never, as in nginx)", false },
	{ SEC_POOL, "fail_timeout", set_duration, P(fail_timeout), "30s", 1, DUR_MAX,
	  "duration", "window for max_fails, and time down without probes", false },
	{ SEC_POOL, "max_conns", set_uint, P(max_conns), "0", 0, 1000000, "number",
	  "connections per server across all workers (each worker gets its share); beyond, "
	  "requests wait in the pool's queue; 0 = unlimited", false },
	{ SEC_POOL, "max_queue", set_uint, P(max_queue), "1024", 0, 1000000, "number",
	  "requests waiting for a connection, per worker; full: 503 + Retry-After", false },
	{ SEC_POOL, "queue_timeout", set_duration, P(queue_timeout), "30s", 1, DUR_MAX,
	  "duration", "longest wait in the queue; then 503 + Retry-After; also how long connects "
	  "timed out under congestion are retried free of retries", false },
	{ SEC_POOL, "retries", set_uint, P(retries), "3", 0, 100, "number",
	  "failed connects (refused, timed out, reset before any response byte) retried: "
	  "another server first, else the same one after a short backoff; a connect_timeout "
	  "while the server completes other connects is congestion and spends none", false },
	{ SEC_POOL, "slow_start", set_duration, P(slow_start), "0", 0, DUR_MAX, "duration",
	  "a server coming back up gets its weight ramped from 0 to full over this time; "
	  "0 = off", false },
	{ SEC_POOL, "hide_response_header", set_hide_header, P(hide_headers), NULL, 0, 0,
	  "field name", "remove this field from the servers' responses (e.g. X-MS-Server-Fqdn), "
	  "repeatable", true },

	{ SEC_ROUTE, "listeners", set_route_ref, R(listeners_text), NULL, 0, 0,
	  "name[,name...]", "listeners this route applies to; default: all", false },
	{ SEC_ROUTE, "host", set_route_host, R(host), "*", 0, 0, "name | *.suffix | *",
	  "Host matched exactly, by longest suffix wildcard, or any", false },
	{ SEC_ROUTE, "path", set_route_path, R(path), "/", 0, 0, "/prefix",
	  "vDir prefix, matched on whole segments, ASCII case-insensitive", false },
	{ SEC_ROUTE, "pool", set_route_ref, R(pool_name), NULL, 0, 0, "pool name",
	  "the pool serving this route", false },
	{ SEC_ROUTE, "redirect", set_route_redirect, 0, NULL, 0, 0, "https",
	  "instead of a pool: 301 to the same host and target over https", false },
	{ SEC_ROUTE, "auth_guard", set_guard_mode, R(auth_guard), "off", 0, 0,
	  "on | off | log_only", "count password attempts (NTLM, Basic, oauthtoken, WebTicket) "
	  "and answer locked users and addresses locally ([auth_guard]); log_only: log what would "
	  "be blocked", false },
	{ SEC_ROUTE, "auth_schemes", set_auth_schemes, R(auth_schemes), "any", 0, 0,
	  "any | none | list of ntlm, negotiate, basic, bearer, other",
	  "Authorization schemes that may pass; others get 401 locally (Negotiate carrying NTLM "
	  "needs ntlm)", false },
	{ SEC_ROUTE, "hide_response_header", set_hide_header, R(hide_headers), NULL, 0, 0,
	  "field name", "remove this field from responses on this route (adds to the pool's), "
	  "repeatable", true },
	{ SEC_ROUTE, "client_request_rate", set_uint, R(client_request_rate), "0", 0, 1000000,
	  "requests per second", "request rate per client address on this route (0: no limit), "
	  "a token bucket of client_request_burst, counted apart from the listener's; over it: "
	  "429 with Retry-After (the listener's client_limits_exempt applies)", false },
	{ SEC_ROUTE, "client_request_burst", set_uint, R(client_request_burst), "20", 1,
	  1000000, "count", "requests a client address may send at once above the route's rate",
	  false },

	{ SEC_AUTH_GUARD, "user_failures", set_uint, A(user_failures), "5", 1, 1000, "number",
	  "failures per user from unfamiliar addresses within user_window that lock the user "
	  "(keep it below the directory's lockout threshold)", false },
	{ SEC_AUTH_GUARD, "user_window", set_duration, A(user_window), "30m", 1000, DUR_MAX,
	  "duration", "sliding window of the per-user counts", false },
	{ SEC_AUTH_GUARD, "addr_failures", set_uint, A(addr_failures), "20", 1, 1000000,
	  "number", "failures per client address within addr_window that lock the address",
	  false },
	{ SEC_AUTH_GUARD, "addr_window", set_duration, A(addr_window), "10m", 1000, DUR_MAX,
	  "duration", "sliding window of the per-address counts", false },
	{ SEC_AUTH_GUARD, "familiar_failures", set_uint, A(familiar_failures), "5", 1, 1000,
	  "number", "failures of a user from one of its familiar addresses (own counter) within "
	  "user_window that lock that pair only", false },
	{ SEC_AUTH_GUARD, "familiar_time", set_duration, A(familiar_time), "168h", 1000,
	  DUR_MAX, "duration", "a success makes the client address familiar for this long",
	  false },
	{ SEC_AUTH_GUARD, "lock_time", set_duration, A(lock_time), "15m", 1000, DUR_MAX,
	  "duration", "first lock; each further lock of the same key doubles it", false },
	{ SEC_AUTH_GUARD, "lock_time_max", set_duration, A(lock_time_max), "24h", 1000, DUR_MAX,
	  "duration", "longest lock", false },
	{ SEC_AUTH_GUARD, "default_domain", set_domain, A(default_domain), NULL, 0, 0,
	  "domain", "domain of bare user names, so that user, DOMAIN\\user and user@domain.tld "
	  "are one key (optional)", false },
	{ SEC_AUTH_GUARD, "max_tracked_keys", set_uint, A(max_tracked_keys), "100000", 64,
	  100000000, "number", "users, addresses and pairs tracked; the least recently used is "
	  "forgotten beyond it (applies at start-up, not on reload)", false },
	{ SEC_AUTH_GUARD, "body_limit", set_size, A(body_limit), "16k", 256, 1024 * 1024, "size",
	  "oauthtoken and WebTicket request bodies read to find the user; larger ones get 413",
	  false },
	{ SEC_AUTH_GUARD, "min_answer_time", set_duration, A(min_answer_time), "500ms", 0,
	  60000, "duration", "a local answer to a locked attempt is never sent sooner (no timing "
	  "oracle)", false },
	{ SEC_AUTH_GUARD, "instances", set_uint, A(instances), "1", 1, 1000, "number",
	  "instances behind the balancer that count locally: user and address thresholds are "
	  "divided by it (at least 1), so N instances never allow more than the threshold in "
	  "total; the always-safe default without a store", false },
	{ SEC_AUTH_GUARD, "store", set_guard_store, 0, NULL, 0, 0, "redis://HOST:PORT",
	  "count user and address failures in Redis, shared by every instance (sliding windows "
	  "that expire in Redis); only failed attempts reach it (optional)", false },
	{ SEC_AUTH_GUARD, "store_unreachable", set_guard_unreachable, A(store_fail_closed),
	  "open", 0, 0, "open | closed", "Redis unreachable: open counts locally against the "
	  "per-instance thresholds (instances), closed locks the key at its first failure; "
	  "logged and counted either way", false },
	{ SEC_AUTH_GUARD, "store_timeout", set_duration, A(store_timeout), "100ms", 1, 10000,
	  "duration", "bound on connecting to the store and on each command", false },

	{ SEC_ACME, "directory", set_acme_directory, AC(directory), NULL, 0, 0, "https:// URL",
	  "the ACME server's directory (required)", false },
	{ SEC_ACME, "accept_terms", set_bool, AC(accept_terms), "off", 0, 0, "yes | no",
	  "you accept the ACME server's terms of service; must be yes", false },
	{ SEC_ACME, "contact", set_acme_contact, AC(contact), NULL, 0, 0, "e-mail",
	  "contact address of the ACME account (expiry notices)", false },
	{ SEC_ACME, "account_key", set_acme_path, AC(account_key), NULL, 0, 0, "file",
	  "PEM account key (ECDSA P-256 or RSA); created (P-256, mode 0600) when missing; "
	  "default STATE_DIR/NAME.account.key", false },
	{ SEC_ACME, "key_type", set_acme_key_type, AC(key_type), "ecdsa", 0, 0,
	  "ecdsa | rsa2048 | rsa3072", "key of the certificate (ecdsa = P-256)", false },
	{ SEC_ACME, "names", set_acme_names, 0, NULL, 0, 0, "name[,name...]",
	  "DNS names of the certificate, first = CN; default: the exact host names of the routes "
	  "of the listeners with acme = NAME", false },
	{ SEC_ACME, "state_dir", set_acme_path, AC(state_dir), "/var/lib/ringedge/acme", 0, 0,
	  "directory", "where NAME.crt and NAME.key are written (created 0700)", false },
	{ SEC_ACME, "ca", set_file, AC(ca), NULL, 0, 0, "file",
	  "CA bundle trusted for the ACME server; default: system CAs", false },
	{ SEC_ACME, "challenge", set_acme_challenge, AC(challenges), "http-01 tls-alpn-01", 0, 0,
	  "http-01 and/or tls-alpn-01", "challenge types answered (http-01 preferred: every plain "
	  "listener; tls-alpn-01: the TLS listener)", false },
	{ SEC_ACME, "retry_min", set_duration, AC(retry_min), "1m", 1000, DUR_MAX, "duration",
	  "first retry after a failed issuance; doubles up to retry_max", false },
	{ SEC_ACME, "retry_max", set_duration, AC(retry_max), "24h", 1000, DUR_MAX, "duration",
	  "longest delay between two attempts", false },

	{ SEC_ADMIN, "listen", set_admin_listen, 0, NULL, 0, 0, "ADDRESS:PORT",
	  "admin listener (/healthz, /metrics, /status, /status.json), served by its own thread "
	  "outside the workers; unset: no admin listener. Must differ from every listener's bind; "
	  "127.0.0.1:9100 keeps it on the host", false },
	{ SEC_ADMIN, "allow", set_cidr_list, AD(allow), NULL, 0, 0, "CIDR[,CIDR...]",
	  "clients allowed on the admin listener; others get 403. Unset: any client that can "
	  "reach the address", false },
	{ SEC_ADMIN, "max_connections", set_uint, AD(max_connections), "16", 1, 1024, "number",
	  "admin connections open at once; more wait in the listen backlog (scrapes never take "
	  "a worker's time)", false },
	{ SEC_ADMIN, "drain_delay", set_duration, AD(drain_delay), "0s", 0, DUR_MAX, "duration",
	  "on SIGTERM, /healthz answers 503 at once and the listeners keep accepting this long "
	  "(so a balancer's health check takes the host out) before the drain (drain_timeout) "
	  "starts", false },
};

_Static_assert(RE_ARRAY_SIZE(keys) <= 256, "the seen-key bitmap is 256 bits");

static const char *
sec_name(unsigned sec)
{
	switch (sec) {
	case SEC_GLOBAL:	return "global";
	case SEC_TLS:		return "tls";
	case SEC_LISTENER:	return "listener";
	case SEC_POOL:		return "pool";
	case SEC_ROUTE:		return "route";
	case SEC_AUTH_GUARD:	return "auth_guard";
	case SEC_ACME:		return "acme";
	case SEC_ADMIN:		return "admin";
	}
	return "?";
}

static void
apply_defaults(struct loader *ld, unsigned sec, void *obj)
{
	for (size_t i = 0; i < RE_ARRAY_SIZE(keys); i++) {
		const char *e;

		if (keys[i].sec != sec || keys[i].def == NULL)
			continue;
		e = keys[i].set(ld, obj, &keys[i], keys[i].def);
		if (e != NULL)	/* a bad default is our bug, not the user's */
			cfg_error(ld->err, ld->file, 0, "internal: default of %s: %s", keys[i].name, e);
	}
}

/* ---- sections ---- */

static bool
valid_name(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return false;
	return true;
}


/*
 * A named section [KIND NAME] (inside begin_section): refused if NAME is taken (pointing at
 * the first), else appended to ARR (N entries) and made the current object. Evaluates to
 * the new entry, or NULL after the error.
 */
#define NEW_NAMED(ARR, N, KIND, SEC) ({ \
	__typeof__(&(ARR)[0]) _e = NULL; \
	int _i = 0; \
	while (_i < (N) && strcmp((ARR)[_i].name, name) != 0) \
		_i++; \
	if (_i < (N)) { \
		cfg_error(ld->err, ld->file, ld->line, \
			  "duplicate section [" KIND " %s] (first at line %d)", name, \
			  (ARR)[_i].line); \
	} else { \
		(ARR) = xgrow((ARR), (N), sizeof(*(ARR))); \
		_e = &(ARR)[(N)++]; \
		_e->name = xstrdup(name); \
		_e->line = ld->line; \
		ld->obj = _e; \
		ld->sec = (SEC); \
	} \
	_e; \
})

static void
begin_section(struct loader *ld, const char *hdr)
{
	struct config *c = ld->c;
	char kind[32];
	const char *sp, *name;
	size_t klen;

	ld->sec = 0;
	ld->obj = NULL;
	memset(ld->seen, 0, sizeof(ld->seen));
	ld->sec_bad = true;

	sp = strchr(hdr, ' ');
	klen = sp ? (size_t)(sp - hdr) : strlen(hdr);
	name = sp ? sp + 1 : "";
	while (*name == ' ' || *name == '\t')
		name++;
	if (klen >= sizeof(kind)) {
		cfg_error(ld->err, ld->file, ld->line, "unknown section [%s]", hdr);
		return;
	}
	memcpy(kind, hdr, klen);
	kind[klen] = '\0';

	if (strcmp(kind, "auth_guard") == 0 || strcmp(kind, "admin") == 0) {
		bool guard = kind[1] == 'u';
		bool *saw = guard ? &ld->saw_auth_guard : &ld->saw_admin;

		if (*name) {
			cfg_error(ld->err, ld->file, ld->line, "section [%s] takes no name", kind);
			return;
		}
		if (*saw) {
			cfg_error(ld->err, ld->file, ld->line, "duplicate section [%s]", kind);
			return;
		}
		*saw = true;
		ld->sec = guard ? SEC_AUTH_GUARD : SEC_ADMIN;
		ld->obj = guard ? (void *)&c->auth_guard : (void *)&c->admin;
		if (guard)
			c->auth_guard.line = ld->line;
		else
			c->admin.line = ld->line;
		ld->sec_bad = false;
		return;
	}
	if (strcmp(kind, "global") == 0 || strcmp(kind, "tls") == 0) {
		bool *saw = kind[0] == 'g' ? &ld->saw_global : &ld->saw_tls;

		if (*name) {
			cfg_error(ld->err, ld->file, ld->line, "section [%s] takes no name", kind);
			return;
		}
		if (*saw) {
			cfg_error(ld->err, ld->file, ld->line, "duplicate section [%s]", kind);
			return;
		}
		*saw = true;
		ld->sec = kind[0] == 'g' ? SEC_GLOBAL : SEC_TLS;
		ld->obj = kind[0] == 'g' ? (void *)&c->global : (void *)&c->tls;
		ld->sec_bad = false;
		return;
	}

	if (strcmp(kind, "listener") != 0 && strcmp(kind, "pool") != 0 &&
	    strcmp(kind, "route") != 0 && strcmp(kind, "acme") != 0) {
		cfg_error(ld->err, ld->file, ld->line,
			  "unknown section [%s] (expected global, tls, auth_guard, admin, listener NAME, "
			  "pool NAME, route NAME or acme NAME)", hdr);
		return;
	}
	if (!valid_name(name)) {
		cfg_error(ld->err, ld->file, ld->line,
			  *name ? "[%s %s]: bad name (letters, digits, - _ . only)"
				: "[%s%s]: a name is required", kind, name);
		return;
	}

	if (kind[0] == 'l') {
		struct cfg_listener *l;
		int i = 0;

		while (i < c->nlisteners && strcmp(c->listeners[i].name, name) != 0)
			i++;
		if (i == c->nlisteners && c->nlisteners == CFG_MAX_LISTENERS) {
			cfg_error(ld->err, ld->file, ld->line, "too many listeners (max %d)",
				  CFG_MAX_LISTENERS);
			return;
		}
		if ((l = NEW_NAMED(c->listeners, c->nlisteners, "listener", SEC_LISTENER)) == NULL)
			return;
		l->acme_idx = -1;
	} else if (kind[0] == 'a') {
		if (NEW_NAMED(c->acmes, c->nacmes, "acme", SEC_ACME) == NULL)
			return;
	} else if (kind[0] == 'p') {
		if (NEW_NAMED(c->pools, c->npools, "pool", SEC_POOL) == NULL)
			return;
	} else {
		struct cfg_route *r = NEW_NAMED(c->routes, c->nroutes, "route", SEC_ROUTE);

		if (r == NULL)
			return;
		r->pool = -1;
	}
	ld->sec_bad = false;
	apply_defaults(ld, ld->sec, ld->obj);
}

/* ---- inih glue ---- */

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* Notices section headers as lines go by, so that sections without keys exist too. */
static void
see_line(struct loader *ld, const char *line)
{
	char buf[CFG_MAX_LINE];
	char *s, *close;

	while (*line == ' ' || *line == '\t')
		line++;
	if (*line != '[')
		return;
	snprintf(buf, sizeof(buf), "%s", line + 1);
	close = strchr(buf, ']');
	if (close == NULL)
		return;		/* inih reports the syntax error */
	*close = '\0';
	s = trim(buf);
	begin_section(ld, s);
}

static char *
reader(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	size_t n = 0, max = (size_t)num - 1;
	bool nl = false;

	if (ld->fp) {
		if (fgets(str, num, ld->fp) == NULL)
			return NULL;
		n = strlen(str);
		nl = n > 0 && str[n - 1] == '\n';
		if (!nl && !feof(ld->fp)) {
			int ch;

			while ((ch = fgetc(ld->fp)) != EOF && ch != '\n')
				;
			ld->line++;
			cfg_error(ld->err, ld->file, ld->line, "line too long (max %d bytes)",
				  CFG_MAX_LINE - 3);
			str[0] = '\0';
			return str;
		}
	} else {
		if (ld->pos >= ld->len)
			return NULL;
		while (ld->pos < ld->len && n < max) {
			char ch = ld->text[ld->pos++];

			str[n++] = ch;
			if (ch == '\n') {
				nl = true;
				break;
			}
		}
		str[n] = '\0';
		if (!nl && ld->pos < ld->len) {
			while (ld->pos < ld->len && ld->text[ld->pos++] != '\n')
				;
			ld->line++;
			cfg_error(ld->err, ld->file, ld->line, "line too long (max %d bytes)",
				  CFG_MAX_LINE - 3);
			str[0] = '\0';
			return str;
		}
	}
	ld->line++;
	if (memchr(str, '\0', n) != NULL || strlen(str) != n) {
		cfg_error(ld->err, ld->file, ld->line, "NUL byte in line");
		str[0] = '\0';
		return str;
	}
	see_line(ld, str);
	return str;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct loader *ld = user;
	const char *e;
	size_t i;

	(void)section;	/* the reader already tracked it, with its line */
	if (ld->sec == 0) {
		if (!ld->sec_bad)
			cfg_error(ld->err, ld->file, ld->line,
				  "key \"%s\" outside of any section", name);
		return 1;
	}
	for (i = 0; i < RE_ARRAY_SIZE(keys); i++)
		if (keys[i].sec == ld->sec && strcmp(keys[i].name, name) == 0)
			break;
	if (i == RE_ARRAY_SIZE(keys)) {
		cfg_error(ld->err, ld->file, ld->line, "unknown key \"%s\" in [%s]", name,
			  sec_name(ld->sec));
		return 1;
	}
	if (!keys[i].repeatable && (ld->seen[i / 64] & (1ULL << (i % 64)))) {
		cfg_error(ld->err, ld->file, ld->line, "duplicate key \"%s\" in [%s]", name,
			  sec_name(ld->sec));
		return 1;
	}
	ld->seen[i / 64] |= 1ULL << (i % 64);
	if ((e = keys[i].set(ld, ld->obj, &keys[i], value)) != NULL)
		cfg_error(ld->err, ld->file, ld->line, "%s", e);
	return 1;
}

/* ---- checks across sections ---- */

static bool
same_addr(const struct cfg_bind *a, const struct cfg_bind *b)
{
	return a->addrlen == b->addrlen && memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

static void
check_listeners(struct loader *ld)
{
	struct config *c = ld->c;

	if (c->nlisteners == 0)
		cfg_error(ld->err, ld->file, 0, "no [listener NAME] section: nothing to serve");
	for (int i = 0; i < c->nlisteners; i++) {
		struct cfg_listener *l = &c->listeners[i];

		l->protocols = c->tls.protocols;
		l->session_tickets = c->tls.session_tickets;
		if (l->nbinds == 0)
			cfg_error(ld->err, ld->file, l->line, "[listener %s] has no bind", l->name);
		for (int j = 0; j < l->ncerts; j++)
			if (l->certs[j].private_key == NULL)
				cfg_error(ld->err, ld->file, l->certs[j].line,
					  "[listener %s]: certificate without private_key", l->name);
		if (l->tls && l->ncerts == 0 && c->tls.cert.certificate == NULL && l->acme == NULL)
			cfg_error(ld->err, ld->file, l->line,
				  "[listener %s] has tls = on but no certificate (set certificate and "
				  "private_key here or in [tls], or acme = NAME)", l->name);
		if (l->proxy_protocol_from.n > 0 && !l->proxy_protocol)
			cfg_error(ld->err, ld->file, l->proxy_protocol_from_line,
				  "[listener %s]: proxy_protocol_from without proxy_protocol = on",
				  l->name);
		if (l->proxy_protocol && l->proxy_protocol_from.n == 0)
			cfg_error(ld->err, ld->file, l->line,
				  "[listener %s]: proxy_protocol = on needs proxy_protocol_from = "
				  "CIDR[,CIDR...] (the balancers' addresses)", l->name);
		if (l->ticket_keys != NULL && !l->tls)
			cfg_error(ld->err, ld->file, l->ticket_keys_line,
				  "[listener %s]: ticket_keys needs tls = on", l->name);
		else if (l->ticket_keys != NULL && !c->tls.session_tickets)
			cfg_error(ld->err, ld->file, l->ticket_keys_line,
				  "[listener %s]: ticket_keys, but session_tickets = off in [tls]",
				  l->name);
		if (!l->tls && l->ncerts > 0)
			log_warn("%s:%d: [listener %s] has a certificate but tls = off", ld->file,
				 l->certs[0].line, l->name);
		/* the same address twice cannot be bound (SO_REUSEPORT would hide the mistake) */
		for (int b = 0; b < l->nbinds; b++)
			for (int j = 0; j <= i; j++)
				for (int d = 0; d < (j == i ? b : c->listeners[j].nbinds); d++)
					if (same_addr(&l->binds[b], &c->listeners[j].binds[d]))
						cfg_error(ld->err, ld->file, l->binds[b].line,
							  "bind %s: address already used by [listener %s] "
							  "at line %d", l->binds[b].text,
							  c->listeners[j].name,
							  c->listeners[j].binds[d].line);
	}
	if (c->tls.cert.certificate != NULL && c->tls.cert.private_key == NULL)
		cfg_error(ld->err, ld->file, c->tls.cert.line, "[tls]: certificate without private_key");
	if (c->tls.cert.certificate == NULL && c->tls.cert.private_key != NULL)
		cfg_error(ld->err, ld->file, 0, "[tls]: private_key without certificate");
}

static void
check_pools(struct loader *ld)
{
	struct config *c = ld->c;

	for (int i = 0; i < c->npools; i++) {
		struct cfg_pool *p = &c->pools[i];
		bool primary = false;

		if (p->nservers == 0) {
			cfg_error(ld->err, ld->file, p->line, "[pool %s] has no server", p->name);
			continue;
		}
		for (int j = 0; j < p->nservers; j++)
			primary |= !p->servers[j].backup;
		if (!primary)
			cfg_error(ld->err, ld->file, p->line,
				  "[pool %s]: every server is a backup; at least one must not be",
				  p->name);
		if (p->tls && !p->verify)
			log_warn("%s:%d: [pool %s] verify = off: backend certificates are NOT "
				 "checked", ld->file, p->line, p->name);
		if (!p->tls && (p->ca || p->sni))
			log_warn("%s:%d: [pool %s] sets ca/sni but tls = off", ld->file, p->line,
				 p->name);
	}
}

static int
find_listener(const struct config *c, const char *name, size_t len)
{
	for (int i = 0; i < c->nlisteners; i++)
		if (strlen(c->listeners[i].name) == len &&
		    memcmp(c->listeners[i].name, name, len) == 0)
			return i;
	return -1;
}

/* Same vDir prefix as the trie sees it: ASCII case-insensitive, one trailing '/' ignored. */
static bool
path_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 1 && a[la - 1] == '/')
		la--;
	if (lb > 1 && b[lb - 1] == '/')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

static void
check_routes(struct loader *ld)
{
	struct config *c = ld->c;
	uint64_t all = c->nlisteners >= 64 ? UINT64_MAX : (1ULL << c->nlisteners) - 1;

	if (c->nroutes == 0 && c->nlisteners > 0)
		log_warn("%s: no [route NAME] section: every request will get 404", ld->file);

	for (int i = 0; i < c->nroutes; i++) {
		struct cfg_route *r = &c->routes[i];

		/* listeners */
		r->listeners = all;
		if (r->listeners_text != NULL) {
			const char *s = r->listeners_text;

			r->listeners = 0;
			while (*s) {
				const char *e = s + strcspn(s, ",");
				const char *a = s, *b = e;
				int idx;

				while (a < b && (*a == ' ' || *a == '\t'))
					a++;
				while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
					b--;
				idx = find_listener(c, a, (size_t)(b - a));
				if (idx < 0)
					cfg_error(ld->err, ld->file, r->listeners_line,
						  "[route %s]: unknown listener \"%.*s\"", r->name,
						  (int)(b - a), a);
				else
					r->listeners |= 1ULL << idx;
				s = *e ? e + 1 : e;
			}
		}

		/* target */
		if (r->kind == CFG_ROUTE_REDIRECT_HTTPS && r->pool_name != NULL)
			cfg_error(ld->err, ld->file, r->line,
				  "[route %s]: both pool and redirect; choose one", r->name);
		else if (r->kind == CFG_ROUTE_POOL && r->pool_name == NULL)
			cfg_error(ld->err, ld->file, r->line,
				  "[route %s]: needs pool = NAME or redirect = https", r->name);
		if (r->pool_name != NULL) {
			for (int j = 0; j < c->npools; j++)
				if (strcmp(c->pools[j].name, r->pool_name) == 0)
					r->pool = j;
			if (r->pool < 0)
				cfg_error(ld->err, ld->file, r->pool_line,
					  "[route %s]: unknown pool \"%s\"", r->name, r->pool_name);
		}

		/* duplicates: the same host + path on a listener both routes apply to */
		for (int j = 0; j < i; j++) {
			struct cfg_route *o = &c->routes[j];
			uint64_t common = o->listeners & r->listeners;

			if (common == 0 || strcmp(o->host, r->host) != 0 || !path_eq(o->path, r->path))
				continue;
			cfg_error(ld->err, ld->file, r->line,
				  "[route %s]: duplicate route: host %s path %s already routed by "
				  "[route %s] at line %d on listener %s", r->name, r->host, r->path,
				  o->name, o->line, c->listeners[__builtin_ctzll(common)].name);
			break;
		}
	}
}

static void
check_auth_guard(struct loader *ld)
{
	struct cfg_auth_guard *a = &ld->c->auth_guard;

	if (a->lock_time_max < a->lock_time)
		cfg_error(ld->err, ld->file, a->line,
			  "[auth_guard]: lock_time_max (%llums) is shorter than lock_time (%llums)",
			  (unsigned long long)a->lock_time_max, (unsigned long long)a->lock_time);
}

/* [admin]: never on an address a proxied listener binds */
static void
check_admin(struct loader *ld)
{
	const struct cfg_admin *a = &ld->c->admin;

	if (a->bind.addrlen == 0) {
		if (a->line > 0 && a->allow.n > 0)
			log_warn("%s:%d: [admin] has no listen: no admin listener", ld->file, a->line);
		return;
	}
	for (int i = 0; i < ld->c->nlisteners; i++) {
		const struct cfg_listener *l = &ld->c->listeners[i];

		for (int j = 0; j < l->nbinds; j++)
			if (l->binds[j].addrlen == a->bind.addrlen &&
			    memcmp(&l->binds[j].addr, &a->bind.addr, a->bind.addrlen) == 0)
				cfg_error(ld->err, ld->file, a->bind.line,
					  "[admin]: listen %s is also a bind of [listener %s] (line "
					  "%d): the admin listener is never served on a proxied "
					  "listener", a->bind.text, l->name, l->binds[j].line);
	}
}

/* ---- [acme NAME] ---- */

/* Where a path could be created: the longest existing prefix must be a writable directory. */
static const char *
creatable_dir(struct loader *ld, const char *key, const char *path)
{
	char buf[4096];
	struct stat st;
	char *slash;

	snprintf(buf, sizeof(buf), "%s", path);
	for (;;) {
		if (stat(buf, &st) == 0) {
			if (!S_ISDIR(st.st_mode))
				return msgf(ld, "%s %s: %s is not a directory", key, path, buf);
			if (access(buf, W_OK | X_OK) < 0)
				return msgf(ld, "%s %s: %s is not writable: %s", key, path, buf,
					    strerror(errno));
			return NULL;
		}
		if (errno != ENOENT && strcmp(buf, path) == 0)
			return msgf(ld, "%s %s: %s", key, path, strerror(errno));
		if (errno != ENOENT)
			return msgf(ld, "%s %s: %s: %s", key, path, buf, strerror(errno));
		slash = strrchr(buf, '/');
		if (slash == NULL || slash == buf)
			return NULL;	/* relative or "/": created from the working directory */
		*slash = '\0';
	}
}

static void
check_acme(struct loader *ld)
{
	struct config *c = ld->c;

	for (int i = 0; i < c->nlisteners; i++) {
		struct cfg_listener *l = &c->listeners[i];

		if (l->acme == NULL)
			continue;
		for (int j = 0; j < c->nacmes; j++)
			if (strcmp(c->acmes[j].name, l->acme) == 0)
				l->acme_idx = j;
		if (l->acme_idx < 0)
			cfg_error(ld->err, ld->file, l->acme_line,
				  "[listener %s]: unknown acme section \"%s\"", l->name, l->acme);
		else if (!l->tls)
			cfg_error(ld->err, ld->file, l->acme_line,
				  "[listener %s]: acme = %s needs tls = on", l->name, l->acme);
	}
	for (int j = 0; j < c->nacmes; j++) {
		struct cfg_acme *a = &c->acmes[j];
		bool used = false;
		const char *e;

		if (a->directory == NULL)
			cfg_error(ld->err, ld->file, a->line, "[acme %s] has no directory", a->name);
		if (!a->accept_terms)
			cfg_error(ld->err, ld->file, a->line,
				  "[acme %s]: accept_terms = yes is required (you agree to the ACME "
				  "server's terms of service)", a->name);
		if (a->retry_max < a->retry_min)
			cfg_error(ld->err, ld->file, a->line,
				  "[acme %s]: retry_max is shorter than retry_min", a->name);
		if (a->account_key == NULL) {
			char p[4096];

			snprintf(p, sizeof(p), "%s/%s.account.key", a->state_dir, a->name);
			a->account_key = xstrdup(p);
		}
		/* default names: exact hosts of the routes of the listeners using this section */
		for (int i = 0; i < c->nlisteners; i++) {
			if (c->listeners[i].acme_idx != j)
				continue;
			used = true;
			for (int r = 0; a->names_text == NULL && r < c->nroutes; r++) {
				const char *h = c->routes[r].host;

				if ((c->routes[r].listeners & (1ULL << i)) && h[0] != '*' &&
				    strchr(h, '.') != NULL)
					acme_add_name(a, h, strlen(h));
			}
		}
		if (a->nnames == 0)
			cfg_error(ld->err, ld->file, a->line,
				  "[acme %s] has no names (set names, or give the routes of a TLS "
				  "listener with acme = %s exact host names)", a->name, a->name);
		if (!used)
			log_warn("%s:%d: [acme %s] is not used by any listener (acme = %s)", ld->file,
				 a->line, a->name, a->name);
		if (ld->flags & CONFIG_NO_FILES)
			continue;
		if ((e = creatable_dir(ld, "state_dir", a->state_dir)) != NULL)
			cfg_error(ld->err, ld->file, a->line, "[acme %s]: %s", a->name, e);
		if (access(a->account_key, F_OK) == 0 && access(a->account_key, R_OK) < 0)
			cfg_error(ld->err, ld->file, a->line, "[acme %s]: account_key %s: cannot read: "
				  "%s", a->name, a->account_key, strerror(errno));
	}
}

/* ---- entry points ---- */

static struct config *
load(struct loader *ld)
{
	int rc;

	ld->c = calloc(1, sizeof(*ld->c));
	if (ld->c == NULL)
		return NULL;
	ld->c->file = xstrdup(ld->file);
	apply_defaults(ld, SEC_GLOBAL, &ld->c->global);
	apply_defaults(ld, SEC_TLS, &ld->c->tls);
	apply_defaults(ld, SEC_AUTH_GUARD, &ld->c->auth_guard);
	apply_defaults(ld, SEC_ADMIN, &ld->c->admin);

	/* Debian's inih exposes its options as variables; set the ones we depend on */
	ini_max_line = CFG_MAX_LINE;
	ini_allow_multiline = false;	/* an indented key is a key, not a continuation */
	ini_allow_inline_comments = true;
	ini_stop_on_first_error = false;
	ini_allow_no_value = false;

	rc = ini_parse_stream(reader, ld, handler, ld);
	if (rc > 0)
		cfg_error(ld->err, ld->file, rc,
			  "syntax error (expected [section], key = value, or a ; or # comment)");
	else if (rc < 0)
		cfg_error(ld->err, ld->file, 0, "cannot parse: out of memory");

	check_listeners(ld);
	check_pools(ld);
	check_routes(ld);
	check_acme(ld);
	check_auth_guard(ld);
	check_admin(ld);

	if (ld->err->count > 0) {
		config_free(ld->c);
		return NULL;
	}
	return ld->c;
}

struct config *
config_load(const char *file, unsigned flags, struct cfg_errors *err)
{
	struct loader ld = { .err = err, .file = file, .flags = flags };
	struct config *c;

	ld.fp = fopen(file, "re");
	if (ld.fp == NULL) {
		cfg_error(err, file, 0, "cannot open configuration: %s", strerror(errno));
		return NULL;
	}
	c = load(&ld);
	fclose(ld.fp);
	return c;
}

struct config *
config_load_string(const char *name, const char *text, unsigned flags, struct cfg_errors *err)
{
	struct loader ld = { .err = err, .file = name, .flags = flags, .text = text,
			     .len = strlen(text) };

	return load(&ld);
}

static void
free_names(struct cfg_names *n)
{
	for (int i = 0; i < n->n; i++)
		free(n->names[i]);
	free(n->names);
}

void
config_free(struct config *c)
{
	if (c == NULL)
		return;
	free(c->file);
	free(c->global.access_log);
	free(c->global.error_log);
	free(c->global.user);
	free(c->tls.cert.certificate);
	free(c->tls.cert.private_key);
	free(c->auth_guard.default_domain);
	free(c->admin.bind.text);
	cidr_list_free(&c->admin.allow);
	free(c->auth_guard.store);
	free(c->auth_guard.store_host);
	for (int i = 0; i < c->nlisteners; i++) {
		struct cfg_listener *l = &c->listeners[i];

		free(l->name);
		for (int j = 0; j < l->nbinds; j++)
			free(l->binds[j].text);
		free(l->binds);
		for (int j = 0; j < l->ncerts; j++) {
			free(l->certs[j].certificate);
			free(l->certs[j].private_key);
		}
		free(l->certs);
		free(l->acme);
		cidr_list_free(&l->proxy_protocol_from);
		cidr_list_free(&l->real_ip_from);
		cidr_list_free(&l->client_limits_exempt);
		free(l->ticket_keys);
	}
	free(c->listeners);
	for (int i = 0; i < c->nacmes; i++) {
		struct cfg_acme *a = &c->acmes[i];

		free(a->name);
		free(a->directory);
		free(a->contact);
		free(a->account_key);
		free(a->names_text);
		for (int j = 0; j < a->nnames; j++)
			free(a->names[j]);
		free(a->names);
		free(a->state_dir);
		free(a->ca);
	}
	free(c->acmes);
	for (int i = 0; i < c->npools; i++) {
		struct cfg_pool *p = &c->pools[i];

		free(p->name);
		for (int j = 0; j < p->nservers; j++)
			free(p->servers[j].host);
		free(p->servers);
		free(p->ca);
		free(p->sni);
		free(p->health_check);
		free_names(&p->hide_headers);
	}
	free(c->pools);
	for (int i = 0; i < c->nroutes; i++) {
		struct cfg_route *r = &c->routes[i];

		free(r->name);
		free(r->listeners_text);
		free(r->host);
		free(r->path);
		free(r->pool_name);
		free_names(&r->hide_headers);
	}
	free(c->routes);
	free(c);
}

/* ---- reference and dump ---- */

/* Markdown table cell: '|' would end the cell */
static void
put_cell(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputc('\\', f);
		fputc(*s, f);
	}
}

/* the sections of both references (Markdown and man), in order */
static const struct { unsigned sec; const char *title; } secs[] = {
	{ SEC_GLOBAL, "[global]" }, { SEC_TLS, "[tls]" },
	{ SEC_LISTENER, "[listener NAME]" }, { SEC_POOL, "[pool NAME]" },
	{ SEC_ROUTE, "[route NAME]" }, { SEC_AUTH_GUARD, "[auth_guard]" },
	{ SEC_ACME, "[acme NAME]" }, { SEC_ADMIN, "[admin]" },
};

void
config_write_reference(FILE *f)
{
	for (size_t s = 0; s < RE_ARRAY_SIZE(secs); s++) {
		fprintf(f, "### %s\n\n", secs[s].title);
		fprintf(f, "| key | value | default | meaning |\n|---|---|---|---|\n");
		for (size_t i = 0; i < RE_ARRAY_SIZE(keys); i++) {
			if (keys[i].sec != secs[s].sec)
				continue;
			fprintf(f, "| `%s`%s | ", keys[i].name,
				keys[i].repeatable ? " (repeatable)" : "");
			put_cell(f, keys[i].type);
			fprintf(f, " | %s | ", keys[i].def ? keys[i].def : "-");
			put_cell(f, keys[i].help);
			fprintf(f, " |\n");
		}
		fprintf(f, "\n");
	}
}

/* roff text: a backslash is \e, a '-' is \- (a real minus/hyphen, as in option and key names),
 * and a line never starts with a control character ('.' or '\'') */
static void
put_roff(FILE *f, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", f);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
	}
}

void
config_write_reference_man(FILE *f)
{

	for (size_t s = 0; s < RE_ARRAY_SIZE(secs); s++) {
		fprintf(f, ".SS %s\n", secs[s].title);
		for (size_t i = 0; i < RE_ARRAY_SIZE(keys); i++) {
			if (keys[i].sec != secs[s].sec)
				continue;
			fputs(".TP\n\\fB", f);
			put_roff(f, keys[i].name);
			fputs("\\fR = \\fI", f);
			put_roff(f, keys[i].type);
			fputs("\\fR", f);
			if (keys[i].repeatable)
				fputs(" (repeatable)", f);
			fputc('\n', f);
			put_roff(f, keys[i].help);
			fputs(".\nDefault: ", f);
			put_roff(f, keys[i].def ? keys[i].def : "none");
			fputs(".\n", f);
		}
	}
}

static void
dump_dur(FILE *f, const char *k, uint64_t ms)
{
	if (ms % 1000 == 0)
		fprintf(f, "%s = %llus\n", k, (unsigned long long)(ms / 1000));
	else
		fprintf(f, "%s = %llums\n", k, (unsigned long long)ms);
}

static void
dump_cidrs(FILE *f, const char *k, const struct cidr_list *l)
{
	char buf[64];

	if (l->n == 0)
		return;
	fprintf(f, "%s = ", k);
	for (int i = 0; i < l->n; i++)
		fprintf(f, "%s%s", i ? "," : "", cidr_format(&l->v[i], buf, sizeof(buf)));
	fputc('\n', f);
}

static void
dump_protocols(FILE *f, unsigned p)
{
	fprintf(f, "protocols =%s%s%s%s\n", p & CFG_TLS10 ? " TLSv1" : "",
		p & CFG_TLS11 ? " TLSv1.1" : "", p & CFG_TLS12 ? " TLSv1.2" : "",
		p & CFG_TLS13 ? " TLSv1.3" : "");
}

void
config_dump(const struct config *c, FILE *f)
{
	static const char *const bal[] = { "round_robin", "least_conn", "source_hash", "cookie" };

	fprintf(f, "; effective configuration of %s\n[global]\n", c->file);
	if (c->global.workers)
		fprintf(f, "workers = %d\n", c->global.workers);
	else
		fprintf(f, "workers = auto\n");
	fprintf(f, "max_connections = %llu\naccess_log = %s\naccess_log_format = %s\n"
		"error_log = %s\nlog_level = %s\n", (unsigned long long)c->global.max_connections,
		c->global.access_log, c->global.access_log_json ? "json" : "line",
		c->global.error_log, log_level_name(c->global.log_level));
	if (c->global.user)
		fprintf(f, "user = %s\n", c->global.user);
	dump_dur(f, "drain_timeout", c->global.drain_timeout);

	fprintf(f, "\n[tls]\n");
	if (c->tls.cert.certificate)
		fprintf(f, "certificate = %s\nprivate_key = %s\n", c->tls.cert.certificate,
			c->tls.cert.private_key);
	dump_protocols(f, c->tls.protocols);
	fprintf(f, "session_tickets = %s\n", c->tls.session_tickets ? "on" : "off");

	fprintf(f, "\n[auth_guard]\nuser_failures = %llu\n",
		(unsigned long long)c->auth_guard.user_failures);
	dump_dur(f, "user_window", c->auth_guard.user_window);
	fprintf(f, "addr_failures = %llu\n", (unsigned long long)c->auth_guard.addr_failures);
	dump_dur(f, "addr_window", c->auth_guard.addr_window);
	fprintf(f, "familiar_failures = %llu\n",
		(unsigned long long)c->auth_guard.familiar_failures);
	dump_dur(f, "familiar_time", c->auth_guard.familiar_time);
	dump_dur(f, "lock_time", c->auth_guard.lock_time);
	dump_dur(f, "lock_time_max", c->auth_guard.lock_time_max);
	if (c->auth_guard.default_domain)
		fprintf(f, "default_domain = %s\n", c->auth_guard.default_domain);
	fprintf(f, "max_tracked_keys = %llu\nbody_limit = %llu\n",
		(unsigned long long)c->auth_guard.max_tracked_keys,
		(unsigned long long)c->auth_guard.body_limit);
	dump_dur(f, "min_answer_time", c->auth_guard.min_answer_time);
	fprintf(f, "instances = %llu\n", (unsigned long long)c->auth_guard.instances);
	if (c->auth_guard.store)
		fprintf(f, "store = %s\n", c->auth_guard.store);
	fprintf(f, "store_unreachable = %s\n", c->auth_guard.store_fail_closed ? "closed" : "open");
	dump_dur(f, "store_timeout", c->auth_guard.store_timeout);

	fprintf(f, "\n[admin]\n");
	if (c->admin.bind.text)
		fprintf(f, "listen = %s\n", c->admin.bind.text);
	dump_cidrs(f, "allow", &c->admin.allow);
	fprintf(f, "max_connections = %llu\n", (unsigned long long)c->admin.max_connections);
	dump_dur(f, "drain_delay", c->admin.drain_delay);

	for (int i = 0; i < c->nlisteners; i++) {
		const struct cfg_listener *l = &c->listeners[i];

		fprintf(f, "\n[listener %s]\n", l->name);
		for (int j = 0; j < l->nbinds; j++)
			fprintf(f, "bind = %s\n", l->binds[j].text);
		fprintf(f, "tls = %s\n", l->tls ? "on" : "off");
		for (int j = 0; j < l->ncerts; j++)
			fprintf(f, "certificate = %s\nprivate_key = %s\n", l->certs[j].certificate,
				l->certs[j].private_key);
		dump_dur(f, "header_timeout", l->header_timeout);
		dump_dur(f, "idle_timeout", l->idle_timeout);
		fprintf(f, "proxy_protocol = %s\n", l->proxy_protocol ? "on" : "off");
		dump_cidrs(f, "proxy_protocol_from", &l->proxy_protocol_from);
		dump_cidrs(f, "real_ip_from", &l->real_ip_from);
		if (l->ticket_keys)
			fprintf(f, "ticket_keys = %s\n", l->ticket_keys);
		if (l->acme)
			fprintf(f, "acme = %s\n", l->acme);
		fprintf(f, "client_max_connections = %llu\nclient_request_rate = %llu\n"
			"client_request_burst = %llu\n",
			(unsigned long long)l->client_max_connections,
			(unsigned long long)l->client_request_rate,
			(unsigned long long)l->client_request_burst);
		dump_cidrs(f, "client_limits_exempt", &l->client_limits_exempt);
	}
	for (int i = 0; i < c->npools; i++) {
		const struct cfg_pool *p = &c->pools[i];

		fprintf(f, "\n[pool %s]\n", p->name);
		for (int j = 0; j < p->nservers; j++) {
			const struct cfg_server *s = &p->servers[j];
			char addr[INET6_ADDRSTRLEN] = "?";

			if (s->addr.ss_family == AF_INET)
				inet_ntop(AF_INET, &((struct sockaddr_in *)&s->addr)->sin_addr, addr,
					  sizeof(addr));
			else if (s->addr.ss_family == AF_INET6)
				inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&s->addr)->sin6_addr, addr,
					  sizeof(addr));
			fprintf(f, "server = %s:%u weight=%d%s ; resolves to %s\n", s->host, s->port,
				s->weight, s->backup ? " backup" : "", addr);
		}
		fprintf(f, "tls = %s\n", p->tls ? "on" : "off");
		if (p->ca)
			fprintf(f, "ca = %s\n", p->ca);
		fprintf(f, "verify = %s\n", p->verify ? "on" : "off");
		if (p->sni)
			fprintf(f, "sni = %s\n", p->sni);
		fprintf(f, "balance = %s\n", bal[p->balance]);
		dump_dur(f, "connect_timeout", p->connect_timeout);
		dump_dur(f, "response_timeout", p->response_timeout);
		dump_dur(f, "idle_timeout", p->idle_timeout);
		fprintf(f, "keepalive = %llu\nforwarded_for = %s\n",
			(unsigned long long)p->keepalive, p->forwarded_for ? "on" : "off");
		if (p->health_check)
			fprintf(f, "health_check = %s\n", p->health_check);
		dump_dur(f, "health_interval", p->health_interval);
		fprintf(f, "max_fails = %llu\n", (unsigned long long)p->max_fails);
		dump_dur(f, "fail_timeout", p->fail_timeout);
		fprintf(f, "max_conns = %llu\nmax_queue = %llu\n",
			(unsigned long long)p->max_conns, (unsigned long long)p->max_queue);
		dump_dur(f, "queue_timeout", p->queue_timeout);
		fprintf(f, "retries = %llu\n", (unsigned long long)p->retries);
		dump_dur(f, "slow_start", p->slow_start);
		for (int j = 0; j < p->hide_headers.n; j++)
			fprintf(f, "hide_response_header = %s\n", p->hide_headers.names[j]);
	}
	for (int i = 0; i < c->nroutes; i++) {
		const struct cfg_route *r = &c->routes[i];
		const char *sep = "";

		fprintf(f, "\n[route %s]\nlisteners = ", r->name);
		for (int j = 0; j < c->nlisteners; j++)
			if (r->listeners & (1ULL << j)) {
				fprintf(f, "%s%s", sep, c->listeners[j].name);
				sep = ",";
			}
		fprintf(f, "\nhost = %s\npath = %s\n", r->host, r->path);
		if (r->kind == CFG_ROUTE_REDIRECT_HTTPS)
			fprintf(f, "redirect = https\n");
		else
			fprintf(f, "pool = %s\n", r->pool_name);
		fprintf(f, "auth_guard = %s\n", r->auth_guard == CFG_GUARD_ON ? "on" :
			r->auth_guard == CFG_GUARD_LOG_ONLY ? "log_only" : "off");
		if (r->auth_schemes == CFG_AUTH_ANY) {
			fprintf(f, "auth_schemes = any\n");
		} else if (r->auth_schemes == 0) {
			fprintf(f, "auth_schemes = none\n");
		} else {
			static const char *const sn[] = { "ntlm", "negotiate", "basic", "bearer",
							   "other" };

			sep = "";
			fprintf(f, "auth_schemes = ");
			for (int j = 0; j < 5; j++)
				if (r->auth_schemes & (1u << j)) {
					fprintf(f, "%s%s", sep, sn[j]);
					sep = ",";
				}
			fprintf(f, "\n");
		}
		for (int j = 0; j < r->hide_headers.n; j++)
			fprintf(f, "hide_response_header = %s\n", r->hide_headers.names[j]);
		fprintf(f, "client_request_rate = %llu\nclient_request_burst = %llu\n",
			(unsigned long long)r->client_request_rate,
			(unsigned long long)r->client_request_burst);
	}
	for (int i = 0; i < c->nacmes; i++) {
		static const char *const kt[] = { "ecdsa", "rsa2048", "rsa3072" };
		const struct cfg_acme *a = &c->acmes[i];

		fprintf(f, "\n[acme %s]\ndirectory = %s\naccept_terms = %s\n", a->name,
			a->directory, a->accept_terms ? "yes" : "no");
		if (a->contact)
			fprintf(f, "contact = %s\n", a->contact);
		fprintf(f, "account_key = %s\nkey_type = %s\nnames = ", a->account_key,
			kt[a->key_type]);
		for (int j = 0; j < a->nnames; j++)
			fprintf(f, "%s%s", j ? "," : "", a->names[j]);
		fprintf(f, "%s\nstate_dir = %s\n", a->names_text ? "" : " ; from the routes",
			a->state_dir);
		if (a->ca)
			fprintf(f, "ca = %s\n", a->ca);
		fprintf(f, "challenge =%s%s\n", a->challenges & CFG_ACME_HTTP01 ? " http-01" : "",
			a->challenges & CFG_ACME_TLSALPN01 ? " tls-alpn-01" : "");
		dump_dur(f, "retry_min", a->retry_min);
		dump_dur(f, "retry_max", a->retry_max);
	}
}
