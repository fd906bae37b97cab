/*
 * tls_info: the linked wolfSSL reports a version, and a build configured as the fast one
 * really has AES-NI and the assembly compiled in (a prefix that is not the output of
 * scripts/build-wolfssl.sh must not pass as fast).
 */
#include <wolfssl/options.h>
#include <wolfssl/version.h>

#include <stdbool.h>

#include "test/unit/check.h"
#include "tls/tlsinfo.h"

/* The defines of the wolfssl/options.h this test (and ringedge) compiled against. */
#ifdef WOLFSSL_AESNI
static const bool have_aesni = true;
#else
static const bool have_aesni = false;
#endif
#ifdef USE_INTEL_SPEEDUP
static const bool have_intelasm = true;
#else
static const bool have_intelasm = false;
#endif
#ifdef OPENSSL_EXTRA
static const bool have_opensslextra = true;
#else
static const bool have_opensslextra = false;
#endif

int
main(void)
{
	const char *v = tls_info_version();

	CHECK(v != NULL && v[0] != '\0');
	/* Library and headers from the same build: a mismatch means a stray libwolfssl. */
	CHECK_STR(v, LIBWOLFSSL_VERSION_STRING);
	CHECK(tls_info_fast() == (RINGEDGE_WOLFSSL_FAST == 1));

	if (RINGEDGE_WOLFSSL_FAST == 1) {
		CHECK(have_aesni);
		CHECK(have_intelasm);
		/* The lean build must stay lean: OpenSSL compat costs memory per connection. */
		CHECK(!have_opensslextra);
	}

	char buf[1024] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

	CHECK(f != NULL);
	if (f != NULL) {
		tls_info_print(f);
		fclose(f);
		CHECK(strstr(buf, v) != NULL);
		if (RINGEDGE_WOLFSSL_FAST == 1)
			CHECK(strstr(buf, " aesni") != NULL && strstr(buf, "WARNING") == NULL);
		else
			CHECK(strstr(buf, "WARNING: AES-NI is OFF") != NULL);
	}
	return check_done();
}
