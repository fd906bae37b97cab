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

void
tls_info_print(FILE *f)
{
	fprintf(f, "wolfSSL %s (%s)\n", tls_info_version(),
		tls_info_fast() ? "static, built by scripts/build-wolfssl.sh" : "system libwolfssl");
	fprintf(f, "wolfSSL features:");
#ifdef WOLFSSL_AESNI
	fprintf(f, " aesni");
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
#ifdef HAVE_SNI
	fprintf(f, " sni");
#endif
#ifdef HAVE_ALPN
	fprintf(f, " alpn");
#endif
#ifdef HAVE_SESSION_TICKET
	fprintf(f, " tickets");
#endif
#ifdef HAVE_CURVE25519
	fprintf(f, " x25519");
#endif
#ifdef HAVE_ECC
	fprintf(f, " ecc");
#endif
#ifdef HAVE_AESGCM
	fprintf(f, " aes-gcm");
#endif
#ifdef HAVE_CHACHA
	fprintf(f, " chacha20-poly1305");
#endif
	fprintf(f, "\n");
	if (!tls_info_fast())
		fprintf(f, "WARNING: AES-NI is OFF: linked against the system libwolfssl "
			   "(no AES-NI, no assembly; AES-GCM ~40x slower). "
			   "Run scripts/build-wolfssl.sh and rebuild.\n");
}
