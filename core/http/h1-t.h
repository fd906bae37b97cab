/*
 * HTTP/1.1 parser types (core/http/h1.c). No I/O, no allocation: the caller owns every buffer and
 * the parser only hands back offsets into it. Rules and rationale: docs/http1.md.
 */
#ifndef RINGEDGE_CORE_HTTP_H1_T_H
#define RINGEDGE_CORE_HTTP_H1_T_H

#include "core/lib/api-t.h"

/* Limits (docs/http1.md). A head needs at most H1_MAX_REQLINE + H1_MAX_FIELDS_LEN bytes. */
#define H1_MAX_REQLINE		8192	/* start line incl. CRLF (and leading empty lines): 414 */
#define H1_MAX_FIELDS_LEN	32768	/* field lines + final CRLF: 431 */
#define H1_MAX_FIELDS		100	/* field lines: 431 */
#define H1_MAX_CONN_NAMES	16	/* field names listed in Connection (not close/keep-alive/upgrade) */
#define H1_MAX_CHUNK_LINE	4096	/* chunk-size line incl. extensions and CRLF */
#define H1_MAX_TRAILERS		8192	/* trailer section incl. final CRLF */

/* A byte range of the caller's buffer; offsets, never pointers, so the buffer may move. */
struct h1_span {
	uint32_t	off;
	uint32_t	len;
};

/* Methods the proxy treats specially; any other valid token is H1_M_OTHER. */
enum h1_method {
	H1_M_OTHER = 0,
	H1_M_GET,
	H1_M_HEAD,
	H1_M_POST,
	H1_M_PUT,
	H1_M_DELETE,
	H1_M_CONNECT,
	H1_M_OPTIONS,
	H1_M_TRACE,
	H1_M_PATCH,
};

enum h1_target_form {
	H1_TF_ORIGIN = 0,	/* "/path?query" */
	H1_TF_ABSOLUTE,		/* "http://host/path"; abs_host, abs_path set */
	H1_TF_AUTHORITY,	/* "host:port", CONNECT only; abs_host = whole target */
	H1_TF_ASTERISK,		/* "*", OPTIONS only */
};

/* Fields the parser recognises (case-insensitive name match). */
enum h1_hdr_id {
	H1_H_OTHER = 0,
	H1_H_HOST,
	H1_H_CONTENT_LENGTH,
	H1_H_TRANSFER_ENCODING,
	H1_H_CONNECTION,
	H1_H_KEEP_ALIVE,
	H1_H_PROXY_CONNECTION,
	H1_H_TE,
	H1_H_TRAILER,
	H1_H_UPGRADE,
	H1_H_EXPECT,
};

/* Per-field flags: what the proxy does with the field when it rewrites the head. */
enum h1_hdr_flag {
	H1_HF_HOP	= 0x01,	/* hop-by-hop: always strip (Connection, Keep-Alive,
				 * Proxy-Connection, TE, Trailer, fields named in Connection) */
	H1_HF_UPGRADE	= 0x02,	/* Upgrade: strip unless the proxy is upgrading */
	H1_HF_FRAMING	= 0x04,	/* Content-Length / Transfer-Encoding: the proxy regenerates
				 * framing from h1_body_framing() */
};

struct h1_header {
	struct h1_span	name;
	struct h1_span	value;	/* leading and trailing OWS excluded */
	uint8_t		id;	/* enum h1_hdr_id */
	uint8_t		flags;	/* enum h1_hdr_flag */
};

/* Message-level flags (h1_msg.flags). */
enum h1_msg_flag {
	H1_MF_CONN_CLOSE	= 0x0001,	/* Connection: close */
	H1_MF_CONN_KEEPALIVE	= 0x0002,	/* Connection: keep-alive */
	H1_MF_CONN_UPGRADE	= 0x0004,	/* Connection: upgrade */
	H1_MF_UPGRADE		= 0x0008,	/* an Upgrade field is present */
	H1_MF_EXPECT_CONTINUE	= 0x0010,	/* Expect: 100-continue */
	H1_MF_HAS_CL		= 0x0020,	/* Content-Length present (content_length valid) */
	H1_MF_HAS_TE		= 0x0040,	/* Transfer-Encoding present */
	H1_MF_CHUNKED		= 0x0080,	/* Transfer-Encoding ends with chunked */
	H1_MF_HAS_HOST		= 0x0100,	/* Host present (host_idx valid) */
	H1_MF_VER11		= 0x0200,	/* HTTP/1.1 (else HTTP/1.0) */
};

/* Head parser states; one per syntactic position so parsing resumes at any byte. */
enum h1_head_state {
	H1_S_START = 0,		/* before the start line: leading CRLFs skipped */
	H1_S_START_LF,		/* CR of a leading empty line seen */
	H1_S_METHOD,		/* request: inside the method token */
	H1_S_TARGET,		/* request: inside the request-target */
	H1_S_RQ_VERSION,	/* request: inside HTTP-version, ends at CR */
	H1_S_RS_VERSION,	/* response: inside HTTP-version, ends at SP */
	H1_S_RS_STATUS,		/* response: the three status digits */
	H1_S_RS_REASON,		/* response: reason-phrase, ends at CR */
	H1_S_LINE_LF,		/* start line's CR seen, LF expected */
	H1_S_FIELD_START,	/* at the first byte of a field line (or of the final CRLF) */
	H1_S_FIELD_NAME,	/* inside a field name */
	H1_S_FIELD_OWS,		/* after the colon, skipping OWS */
	H1_S_FIELD_VALUE,	/* inside a field value, ends at CR */
	H1_S_FIELD_LF,		/* field line's CR seen, LF expected */
	H1_S_END_LF,		/* final CR seen, LF expected */
	H1_S_DONE,		/* head complete: h1_msg.head_len valid */
	H1_S_ERROR,		/* error reported: h1_msg.err_* valid; the parser stays here */
};

/*
 * One parsed message head. Initialise with h1_msg_init(); feed with h1_parse_head(). All spans
 * are offsets into the caller's head buffer (from its first byte).
 */
struct h1_msg {
	/* parser state */
	uint32_t	pos;		/* bytes of the buffer already examined */
	uint32_t	tok;		/* start of the token in progress */
	uint32_t	limit;		/* the current section must end before this offset */
	uint32_t	fields_start;	/* offset of the first field line */
	uint8_t		state;		/* enum h1_head_state */
	uint8_t		is_response;
	uint8_t		nconn;		/* entries used in conn_names */

	/* results: start line */
	uint8_t		method;		/* enum h1_method */
	uint8_t		target_form;	/* enum h1_target_form */
	uint16_t	status;		/* response status code */
	uint16_t	flags;		/* enum h1_msg_flag */
	struct h1_span	method_s;	/* request */
	struct h1_span	target;		/* request, byte-exact, never decoded */
	struct h1_span	version;	/* "HTTP/1.x" */
	struct h1_span	reason;		/* response, may be empty */
	struct h1_span	abs_host;	/* absolute-form authority, or the authority-form target */
	struct h1_span	abs_path;	/* absolute-form path+query (len 0: none, means "/") */

	/* results: fields */
	uint32_t	head_len;	/* bytes of the whole head incl. the final CRLF */
	uint64_t	content_length;	/* valid with H1_MF_HAS_CL */
	int16_t		host_idx;	/* index in hdr[] of Host, or -1 */
	uint16_t	nhdr;
	uint8_t		te_chunked;	/* times "chunked" seen in Transfer-Encoding */
	uint8_t		te_last_chunked;/* last coding seen was chunked */
	uint8_t		te_other;	/* a coding other than chunked seen */

	/* error (state H1_S_ERROR) */
	uint16_t	err_status;	/* 400, 414, 431, 501, 505; 502 for every response error */
	uint32_t	err_off;	/* offset of the offending byte */
	const char	*err_reason;	/* static string, short, for the log */

	/* arrays last: h1_msg_init() clears only what precedes them */
	struct h1_span	conn_names[H1_MAX_CONN_NAMES];	/* field names listed in Connection */
	struct h1_header hdr[H1_MAX_FIELDS];		/* hdr[0..nhdr) valid */
};

/* How the body after a head is delimited (RFC 9112 section 6.3). */
enum h1_body {
	H1_BODY_NONE = 0,	/* no body */
	H1_BODY_LENGTH,		/* exactly content_length bytes */
	H1_BODY_CHUNKED,	/* chunked: feed h1_chunk_parse() */
	H1_BODY_CLOSE,		/* response only: until the server closes */
};

/* Chunked decoder states. */
enum h1_chunk_state {
	H1_C_SIZE_START = 0,	/* first hex digit of a chunk size expected */
	H1_C_SIZE,		/* inside the hex size */
	H1_C_EXT_BWS,		/* whitespace after size or ext value: more, or ';' */
	H1_C_EXT_NAME_BWS,	/* after ';': BWS then ext name */
	H1_C_EXT_NAME,		/* inside ext name */
	H1_C_EXT_AFTER_NAME,	/* whitespace after ext name: more, '=' or ';' */
	H1_C_EXT_VAL_BWS,	/* after '=': BWS then token or quoted-string */
	H1_C_EXT_TOKEN,		/* inside a token ext value */
	H1_C_EXT_QSTR,		/* inside a quoted-string ext value */
	H1_C_EXT_QPAIR,		/* after a backslash in a quoted-string */
	H1_C_EXT_END,		/* after a quoted-string: BWS, ';' or CR */
	H1_C_SIZE_LF,		/* size line CR seen, LF expected */
	H1_C_DATA,		/* inside chunk data */
	H1_C_DATA_CR,		/* CR after data expected */
	H1_C_DATA_LF,		/* LF after data expected */
	H1_C_TRAILER_START,	/* at a trailer field line or the final CRLF */
	H1_C_TRAILER_NAME,	/* inside a trailer field name */
	H1_C_TRAILER_VALUE,	/* inside a trailer field value (incl. OWS) */
	H1_C_TRAILER_LF,	/* trailer line CR seen, LF expected */
	H1_C_END_LF,		/* final CR seen, LF expected */
	H1_C_DONE,		/* the message body is complete */
	H1_C_ERROR,		/* error reported: err_* valid */
};

/* Resumable chunked-body decoder; h1_chunk_init() before the first body byte. */
struct h1_chunk {
	uint64_t	remaining;	/* data bytes left in the current chunk / size so far */
	uint64_t	total;		/* body bytes consumed so far (for err_off) */
	uint64_t	data_total;	/* decoded data bytes so far */
	uint32_t	line_len;	/* bytes in the current size line */
	uint32_t	trailer_len;	/* bytes of the trailer section */
	uint8_t		state;		/* enum h1_chunk_state */
	uint8_t		is_response;
	uint16_t	err_status;	/* 400 (request) or 502 (response) */
	uint64_t	err_off;	/* offset of the offending byte from the first body byte */
	const char	*err_reason;
};

#endif
