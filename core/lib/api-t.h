/*
 * ringedge return conventions, written down once (see ../shared STYLE.md).
 *
 * - I/O and ring functions return -errno (as liburing does); errno is never read after a
 *   liburing call.
 * - Progress functions are tri-state: < 0 error, 0 would block / need more, > 0 progress.
 * - If a call that takes a callback fails, the callback never fires.
 * - Configuration errors come back as "FILE:LINE: message" lines collected in a
 *   struct cfg_errors (config/config-t.h; cfg_error appends one, the loader collects them all
 *   and does not stop at the first), never through stderr directly.
 * - Cleanup goes through `goto fail` labels in reverse order of acquisition.
 */
#ifndef RINGEDGE_CORE_LIB_API_T_H
#define RINGEDGE_CORE_LIB_API_T_H

#include <stddef.h>
#include <stdint.h>

#define RE_OK		0
#define RE_AGAIN	0	/* progress functions: would block / need more input */

#define RE_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define RE_LIKELY(x)	__builtin_expect(!!(x), 1)
#define RE_UNLIKELY(x)	__builtin_expect(!!(x), 0)
#define RE_PRINTF(f, a)	__attribute__((format(printf, f, a)))
#else
#define RE_LIKELY(x)	(x)
#define RE_UNLIKELY(x)	(x)
#define RE_PRINTF(f, a)
#endif

#define RE_CACHELINE	64

#endif
