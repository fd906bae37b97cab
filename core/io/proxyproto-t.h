/*
 * PROXY protocol header types (HAProxy doc/proxy-protocol.txt, v1 text and v2 binary).
 * Plain data filled by pp_parse(); owned by the caller (one per connection, one worker).
 */
#ifndef RINGEDGE_CORE_IO_PROXYPROTO_T_H
#define RINGEDGE_CORE_IO_PROXYPROTO_T_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define PP_V1_MAX	107	/* whole v1 line with CRLF, spec section 2.1 */
#define PP_V2_FIXED	16	/* signature 12 + ver_cmd + fam + len 2 */
#define PP_MAX_DEFAULT	4096	/* default cap on a whole v2 header (TLVs included) */
#define PP_AWS_VPCE_MAX	64	/* room for the AWS VPC endpoint id, NUL included */

/* Why a header was refused: pp_parse() returns -PP_E_*. */
enum pp_err {
	PP_E_NOT_PROXY = 1,	/* the bytes start with neither signature */
	PP_E_V1_SYNTAX,		/* v1 line malformed (see pp_hdr.why for the field) */
	PP_E_V1_TOO_LONG,	/* no CRLF within PP_V1_MAX bytes */
	PP_E_V2_VERSION,	/* v2 signature, version nibble not 2 */
	PP_E_V2_COMMAND,	/* command neither LOCAL nor PROXY */
	PP_E_V2_FAMILY,		/* PROXY over something else than TCP over IPv4/IPv6 */
	PP_E_V2_TOO_LONG,	/* header longer than the caller's cap */
	PP_E_V2_SHORT_ADDR,	/* length smaller than the address block of its family */
	PP_E_V2_TLV,		/* a TLV runs past the header, or a known TLV is malformed */
};

/* A parsed header. */
struct pp_hdr {
	uint8_t		 version;	/* 1 or 2 */
	bool		 local;		/* v2 LOCAL, v1 UNKNOWN or v2 AF_UNSPEC: keep the
					 * connection's own addresses (health checks) */
	struct sockaddr_storage src;	/* the client, when !local (port included) */
	struct sockaddr_storage dst;	/* the address the client connected to */
	socklen_t	 addrlen;	/* of src and dst; 0 when local */
	uint32_t	 len;		/* header length in bytes: application data follows */
	/* TLVs (v2): counted and skipped; the cloud ones kept for logs */
	uint16_t	 ntlvs;
	bool		 has_aws_vpce;
	bool		 has_azure_linkid;
	char		 aws_vpce[PP_AWS_VPCE_MAX];	/* 0xEA/0x01, printable ASCII only */
	uint32_t	 azure_linkid;			/* 0xEE/0x01, little-endian on the wire */
	const char	*why;		/* on error: a static detail for the log line */
};

/* pp_signature(): do these bytes start a PROXY header? */
enum pp_sig {
	PP_SIG_NO = 0,		/* no: application data (TLS ClientHello, an HTTP method) */
	PP_SIG_YES,		/* a whole v1 ("PROXY ") or v2 signature */
	PP_SIG_MAYBE,		/* a strict prefix of one: wait for more bytes to tell */
};

/* pp_conn_step(): what the connection layer does with a listener's first bytes. */
enum pp_verdict {
	PP_REJECT = -1,		/* close the connection, log `why` */
	PP_NEED_MORE = 0,	/* read more (the header cap bounds how much) */
	PP_ACCEPT = 1,		/* header consumed: the client address is known */
};

struct pp_conn {
	struct pp_hdr	 hdr;
	struct sockaddr_storage client;	/* hdr.src, or the peer for LOCAL / UNKNOWN */
	socklen_t	 client_len;
	uint32_t	 consumed;	/* bytes of the header: TLS/HTTP starts after them */
	const char	*why;		/* on PP_REJECT */
};

#endif
