#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/version.h>

#include "tls/tlsinfo.h"

const char *
tls_info_version(void)
{
	return wolfSSL_lib_version();
}

bool
tls_info_fast(void)
{
	return RINGEDGE_WOLFSSL_FAST != 0;
}

/*
 * Features are the compile-time defines of the wolfssl/options.h we were built against (the
 * static library and its options.h come from the same prefix, so they agree). AES-NI and the
 * intel assembly are also chosen at run time by CPUID inside wolfSSL: say so when this CPU
 * lacks them, since the build then runs at C speed.
 */
void
tls_info_print(FILE *f)
{
	fprintf(f, "wolfSSL %s (%s)\n", tls_info_version(),
		tls_info_fast() ? "static, built by scripts/build-wolfssl.sh" : "system libwolfssl");
	fprintf(f, "wolfSSL features:");
#ifdef WOLFSSL_AESNI
	fprintf(f, " aesni");
#if defined(__x86_64__) && defined(__GNUC__)
	if (!__builtin_cpu_supports("aes") || !__builtin_cpu_supports("pclmul"))
		fprintf(f, "(cpu-lacks-it)");
#endif
#endif
#ifdef USE_INTEL_SPEEDUP
	fprintf(f, " intelasm");
#endif
#ifdef WOLFSSL_SP_X86_64_ASM
	fprintf(f, " sp-asm");
#endif
#ifdef WOLFSSL_TLS13
	fprintf(f, " tls13");
#endif
#ifndef WOLFSSL_NO_TLS12
	fprintf(f, " tls12");
#endif
#if !defined(NO_OLD_TLS) && defined(WOLFSSL_ALLOW_TLSV10)
	fprintf(f, " tls10-11");
#elif !defined(NO_OLD_TLS)
	fprintf(f, " tls11");
#endif
#ifdef HAVE_SNI
	fprintf(f, " sni");
#endif
#ifdef HAVE_ALPN
	fprintf(f, " alpn");
#endif
#ifdef HAVE_SESSION_TICKET
	fprintf(f, " tickets");
#endif
#ifndef NO_SESSION_CACHE
	fprintf(f, " session-cache");
#endif
#ifndef NO_RSA
	fprintf(f, " rsa");
#endif
#ifdef HAVE_ECC
	fprintf(f, " ecc");
#endif
#ifdef HAVE_CURVE25519
	fprintf(f, " x25519");
#endif
#ifdef HAVE_AESGCM
	fprintf(f, " aes-gcm");
#endif
#if defined(HAVE_CHACHA) && defined(HAVE_POLY1305)
	fprintf(f, " chacha20-poly1305");
#endif
#ifdef WOLFSSL_SYS_CA_CERTS
	fprintf(f, " sys-ca-certs");
#endif
#ifdef OPENSSL_EXTRA
	/* Costs per-connection memory; the lean build leaves it out (docs/wolfssl.md). */
	fprintf(f, " opensslextra");
#endif
	fprintf(f, "\n");
	if (!tls_info_fast())
		fprintf(f, "WARNING: AES-NI is OFF: linked against the system libwolfssl "
			   "(no AES-NI, no assembly; AES-GCM ~40x slower, ~15x more memory per idle "
			   "TLS connection). Build the fast one and reconfigure: "
			   "meson setup BUILD -Dwolfssl_prefix=$(scripts/build-wolfssl.sh | tail -1)\n");
}
