/*
 * IP-address names (RFC 5280 4.2.1.6 iPAddress SANs) of a certificate, and IP literals in a
 * host name, for the name checks of RFC 6125 / RFC 9110 4.3.4: an IP literal matches only an
 * iPAddress SAN, never a DNS name or the CN. Pure: bytes in, results out, no wolfSSL, no
 * allocation; any thread. (Our wolfSSL build is not made with WOLFSSL_IP_ALT_NAME, so its
 * DecodedCert skips iPAddress entries: this reads them from the extensions' DER.)
 */
#ifndef RINGEDGE_TLS_TLSSAN_H
#define RINGEDGE_TLS_TLSSAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One address: len 4 (IPv4) or 16 (IPv6), network byte order. */
struct tls_ip {
	uint8_t		len;
	uint8_t		a[16];
};

/*
 * The iPAddress entries of the subjectAltName extension in der[0..len): a certificate's
 * extensions, either the [3] EXPLICIT wrapper (as wolfSSL's DecodedCert.extensions points
 * at) or the Extensions SEQUENCE itself. Stores up to max of them in out (entries of other
 * lengths, e.g. name-constraint address/mask pairs, are skipped). Returns how many were
 * found (may exceed max: only max were stored), 0 with no subjectAltName, or -1 if the DER
 * is malformed (lengths past the end, indefinite or over-long length forms, wrong tags).
 */
int tls_san_ips(const uint8_t *der, size_t len, struct tls_ip *out, int max);

/*
 * Is host[0..len) an IP literal? Accepts a Host header value or a server name:
 * "192.0.2.1", "192.0.2.1:8443", "[2001:db8::1]", "[2001:db8::1]:443", and a bare "::1"
 * (a server name). IPv4 is the dotted-quad form only (inet_pton: no "127.1", no octal).
 * Fills *ip and returns true, else false.
 */
bool tls_ip_literal(const char *host, size_t len, struct tls_ip *ip);

#endif
