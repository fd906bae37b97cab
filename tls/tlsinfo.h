/*
 * What wolfSSL ringedge was linked with: version, whether it is the fast build (AES-NI and
 * assembly) and the features compiled in. Any thread; no state.
 */
#ifndef RINGEDGE_TLS_TLSINFO_H
#define RINGEDGE_TLS_TLSINFO_H

#include <stdbool.h>
#include <stdio.h>

/* wolfSSL version string of the linked library. */
const char *tls_info_version(void);

/* True when linked against the fast static build (AES-NI, intel asm, SP asm). */
bool tls_info_fast(void);

/* Prints "wolfSSL X.Y.Z (static|system), features: ..." and, for the system build, a loud
 * AES-NI-off warning, to f. */
void tls_info_print(FILE *f);

#endif
