/*
 * The JSON access log line (access_log_format = json): one object per line, fixed keys in a
 * fixed order. Pure: fields in, bytes out; no connection, no I/O, no allocation (unit-tested
 * in test/unit/core/proxy/alog_json_test.c, fuzzed by test/fuzz/fuzz_alog_json.c).
 *
 * Strings are escaped for JSON (RFC 8259): '"' and '\\' with a backslash, control bytes and
 * DEL as \u00XX, valid UTF-8 copied as it is, and every byte that is not part of valid UTF-8
 * as \u00XX (the byte's value as a code point), so the line is always valid UTF-8 and JSON
 * whatever the client sent.
 */
#ifndef RINGEDGE_CORE_PROXY_ALOG_JSON_H
#define RINGEDGE_CORE_PROXY_ALOG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A byte string (not NUL-terminated); p == NULL: the key is written as null. */
struct alog_str {
	const char	*p;
	size_t		 len;
};

struct alog_fields {
	const char	*time;		/* "2026-12-03T11:00:00.123Z" */
	const char	*client_addr;
	unsigned	 client_port;
	const char	*listener;
	struct alog_str	 host, method, target, version, user_agent;
	unsigned	 status;	/* 0: no response */
	uint64_t	 bytes_in, bytes_out;
	int64_t		 request_ms;
	const char	*backend;	/* "host:port" or NULL */
	int64_t		 connect_ms;	/* -1: none (null) */
	int64_t		 response_ms;	/* -1: none (null) */
	const char	*termination;	/* "ok", "client_closed", or why ringedge answered */
	const char	*tls_version;	/* NULL: plain */
	const char	*tls_cipher;
	bool		 tls_resumed;
	bool		 ntlm_pinned;
	const char	*user;		/* the auth guard's user key of the attempt, or NULL */
	int64_t		 queue_ms;	/* time queued for a connection (max_conns) */
	unsigned	 retries;	/* connect retries */
};

/* Escaped JSON string body of s[0..n) into out (no quotes). Returns the bytes it needs; it
 * wrote min(that, cap) bytes and never splits an escape (a truncated result ends early). */
size_t alog_json_escape(char *out, size_t cap, const char *s, size_t n);

/* The whole line, '\n' included, into out. Returns its length, or 0 if cap is too small
 * (nothing usable written). */
size_t alog_json_line(char *out, size_t cap, const struct alog_fields *f);

#endif
