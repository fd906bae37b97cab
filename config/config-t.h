/*
 * The parsed configuration: plain data, built by config_load() on the control thread and
 * immutable afterwards. Workers only read it (through the generation that owns it). Every
 * string and array is owned by the struct config and freed by config_free().
 *
 * Durations are milliseconds; sizes are bytes. `line` fields remember where an object was
 * declared so later checks can still say FILE:LINE.
 */
#ifndef RINGEDGE_CONFIG_CONFIG_T_H
#define RINGEDGE_CONFIG_CONFIG_T_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/lib/cidr-t.h"

#define CFG_MAX_LISTENERS	64	/* routes name listeners in a 64-bit set */

enum cfg_proto {
	CFG_TLS10 = 1 << 0,
	CFG_TLS11 = 1 << 1,
	CFG_TLS12 = 1 << 2,
	CFG_TLS13 = 1 << 3,
};

enum cfg_balance {
	CFG_BALANCE_ROUND_ROBIN = 0,
	CFG_BALANCE_LEAST_CONN,
	CFG_BALANCE_SOURCE_HASH,
	CFG_BALANCE_COOKIE,
};

/* auth_guard = on | off | log_only (per route) */
enum cfg_guard_mode {
	CFG_GUARD_OFF = 0,
	CFG_GUARD_ON,
	CFG_GUARD_LOG_ONLY,
};

/* auth_schemes bits (per route): which Authorization schemes may pass */
enum cfg_auth_scheme {
	CFG_AUTH_NTLM		= 1 << 0,
	CFG_AUTH_NEGOTIATE	= 1 << 1,
	CFG_AUTH_BASIC		= 1 << 2,
	CFG_AUTH_BEARER		= 1 << 3,
	CFG_AUTH_OTHER		= 1 << 4,	/* any scheme not named above */
	CFG_AUTH_ANY		= (1 << 5) - 1,
};

enum cfg_route_kind {
	CFG_ROUTE_POOL = 0,		/* proxy to route->pool */
	CFG_ROUTE_REDIRECT_HTTPS,	/* 301 to https://host/target */
};

struct cfg_global {
	int		 workers;		/* 0 = auto: online CPUs */
	uint64_t	 max_connections;
	char		*access_log;		/* path, "stderr" or "off" */
	bool		 access_log_json;	/* access_log_format = json */
	char		*error_log;		/* path or "stderr" */
	int		 log_level;		/* enum log_level */
	char		*user;			/* NULL: keep running as we are */
	uint64_t	 drain_timeout;
};

/* One certificate + key pair; several on a listener form an SNI set, first = default. */
struct cfg_cert {
	char		*certificate;
	char		*private_key;
	int		 line;
};

struct cfg_tls_defaults {
	struct cfg_cert	 cert;			/* certificate/private_key may be NULL */
	unsigned	 protocols;		/* enum cfg_proto bits */
	bool		 session_tickets;
};

/* [auth_guard]: the process-wide thresholds of the auth guard (core/guard/). */
struct cfg_auth_guard {
	uint64_t	 user_failures;
	uint64_t	 user_window;
	uint64_t	 addr_failures;
	uint64_t	 addr_window;
	uint64_t	 familiar_failures;
	uint64_t	 familiar_time;
	uint64_t	 lock_time;
	uint64_t	 lock_time_max;
	char		*default_domain;	/* NULL: bare user names have no domain */
	uint64_t	 max_tracked_keys;
	uint64_t	 body_limit;
	uint64_t	 min_answer_time;
	/* scale-out (docs/scale-out.md): several instances behind a balancer */
	uint64_t	 instances;		/* local counting: thresholds / instances */
	char		*store;			/* "redis://HOST:PORT" as written, NULL: none */
	char		*store_host;		/* parsed from store */
	int		 store_port;
	bool		 store_fail_closed;	/* store_unreachable = closed */
	uint64_t	 store_timeout;		/* ms, connect and each command */
	int		 line;			/* of the [auth_guard] header, 0 if none */
};

/* hide_response_header values, in the order written */
struct cfg_names {
	char		**names;
	int		 n;
};

struct cfg_bind {
	struct sockaddr_storage addr;
	socklen_t	 addrlen;
	char		*text;			/* as written, for logs */
	int		 line;
};

/* [admin]: the admin listener (core/admin/): /healthz, /metrics, /status. Off unless bound. */
struct cfg_admin {
	struct cfg_bind	 bind;			/* addrlen 0: no admin listener */
	struct cidr_list allow;			/* empty: every client may ask */
	uint64_t	 max_connections;	/* open admin connections at once */
	uint64_t	 drain_delay;		/* ms /healthz says 503 before the drain starts */
	int		 line;			/* of the [admin] header, 0 if none */
};

/* [acme NAME]: the values mirror enum acme_key_type / enum acme_chall of core/acme. */
enum cfg_acme_key {
	CFG_ACME_KEY_EC256 = 0,
	CFG_ACME_KEY_RSA2048,
	CFG_ACME_KEY_RSA3072,
};

enum cfg_acme_chall {
	CFG_ACME_HTTP01		= 1 << 0,
	CFG_ACME_TLSALPN01	= 1 << 1,
};

/* One certificate obtained and renewed over ACME (docs/acme.md). */
struct cfg_acme {
	char		*name;
	int		 line;
	char		*directory;		/* https:// URL of the ACME directory */
	char		*contact;		/* e-mail address, NULL = none */
	char		*account_key;		/* PEM; default STATE_DIR/NAME.account.key */
	int		 key_type;		/* enum cfg_acme_key, of the certificate */
	char		*names_text;		/* as written, NULL = from the routes */
	char		**names;		/* DNS names requested, first = CN */
	int		 nnames;
	char		*state_dir;
	char		*ca;			/* CA bundle for the ACME server, NULL = system */
	unsigned	 challenges;		/* enum cfg_acme_chall bits */
	bool		 accept_terms;
	uint64_t	 retry_min;		/* first retry after a failure (ms), doubling */
	uint64_t	 retry_max;
};

struct cfg_listener {
	char		*name;
	int		 line;			/* of the [listener NAME] header */
	struct cfg_bind	*binds;
	int		 nbinds;
	bool		 tls;
	struct cfg_cert	*certs;			/* listener's own pairs; none = [tls] default */
	int		 ncerts;
	unsigned	 protocols;		/* copied from [tls] */
	bool		 session_tickets;	/* copied from [tls] */
	uint64_t	 header_timeout;
	uint64_t	 idle_timeout;
	/* scale-out behind balancers */
	bool		 proxy_protocol;	/* a PROXY v1/v2 header precedes TLS/HTTP */
	struct cidr_list proxy_protocol_from;	/* peers allowed to send it (n = 0: unset) */
	int		 proxy_protocol_from_line;
	struct cidr_list real_ip_from;		/* trusted X-Forwarded-For hops (n = 0: off) */
	char		*ticket_keys;		/* HAProxy-format ticket key file, NULL: own keys */
	int		 ticket_keys_line;
	char		*acme;			/* [acme NAME] serving this listener, or NULL */
	int		 acme_line;
	int		 acme_idx;		/* index into config.acmes, -1 = none */
	/* client limits per client address (core/proxy/limits.c), 0 = off */
	uint64_t	 client_max_connections;
	uint64_t	 client_request_rate;		/* requests per second */
	uint64_t	 client_request_burst;
	struct cidr_list client_limits_exempt;	/* networks exempt from both */
};

struct cfg_server {
	char		*host;			/* as written: also the default SNI / verify name */
	uint16_t	 port;
	int		 weight;		/* 1..256 */
	bool		 backup;
	struct sockaddr_storage addr;		/* first address the resolver returned */
	socklen_t	 addrlen;
	int		 line;
};

struct cfg_pool {
	char		*name;
	int		 line;
	struct cfg_server *servers;
	int		 nservers;
	bool		 tls;
	char		*ca;			/* NULL: system CAs */
	bool		 verify;
	char		*sni;			/* NULL: each server's host name */
	int		 balance;		/* enum cfg_balance */
	uint64_t	 connect_timeout;
	uint64_t	 response_timeout;
	uint64_t	 idle_timeout;
	uint64_t	 keepalive;
	bool		 forwarded_for;
	char		*health_check;		/* NULL: no active checks */
	uint64_t	 health_interval;
	uint64_t	 max_fails;
	uint64_t	 fail_timeout;
	/* backend protection (core/proxy/queue.c, docs/pools.md "Backend protection") */
	uint64_t	 max_conns;		/* per server, all workers; 0 = unlimited */
	uint64_t	 max_queue;		/* requests waiting per pool (per worker share) */
	uint64_t	 queue_timeout;		/* ms a request waits at most */
	uint64_t	 retries;		/* failed connects retried */
	uint64_t	 slow_start;		/* ms of weight ramp after a server comes up; 0 off */
	struct cfg_names hide_headers;		/* response fields removed */
};

struct cfg_route {
	char		*name;
	int		 line;
	uint64_t	 listeners;		/* bit i = config.listeners[i]; all set by default */
	char		*listeners_text;	/* as written, NULL = all */
	int		 listeners_line;
	char		*host;
	char		*path;
	int		 kind;			/* enum cfg_route_kind */
	char		*pool_name;
	int		 pool_line;
	int		 pool;			/* index into config.pools, -1 for redirects */
	int		 auth_guard;		/* enum cfg_guard_mode */
	unsigned	 auth_schemes;		/* enum cfg_auth_scheme bits */
	struct cfg_names hide_headers;		/* response fields removed (and the pool's) */
	uint64_t	 client_request_rate;	/* per client address on this route, 0 = off */
	uint64_t	 client_request_burst;
};

struct config {
	char		*file;
	struct cfg_global global;
	struct cfg_tls_defaults tls;
	struct cfg_auth_guard auth_guard;
	struct cfg_admin admin;
	struct cfg_listener *listeners;
	int		 nlisteners;
	struct cfg_pool	*pools;
	int		 npools;
	struct cfg_route *routes;
	int		 nroutes;
	struct cfg_acme	*acmes;
	int		 nacmes;
};

/* Accumulated "FILE:LINE: message" lines, newline-separated. */
struct cfg_errors {
	char		*text;
	size_t		 len;
	size_t		 cap;
	int		 count;
};

#endif
