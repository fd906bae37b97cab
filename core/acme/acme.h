/*
 * The ACME client: one thread (the "ACME thread"), started by the control thread next to the
 * health thread, that obtains and renews the certificates of the [acme NAME] sections. It
 * never runs on a worker ring: every request to the ACME server is a blocking libcurl call
 * on this thread (with a timeout), so a slow or unreachable server delays nothing but
 * itself. Pending challenges go through the responder table (responder.h); issued
 * certificates are written to STATE_DIR/NAME.key and NAME.crt (write tmp, fsync, rename) and
 * announced through the on_issued callback (which runs on the ACME thread; the control
 * thread's generation reload picks the files up). docs/acme.md has the design.
 */
#ifndef RINGEDGE_CORE_ACME_ACME_H
#define RINGEDGE_CORE_ACME_ACME_H

#include <stddef.h>
#include <time.h>

#include "config/config-t.h"
#include "core/acme/acme-t.h"

/* Called on the ACME thread after NAME.key and NAME.crt were replaced. */
typedef void (*acme_on_issued_fn)(const struct acme_cert_cfg *cfg, void *arg);

/*
 * One complete issuance for cfg, synchronously on the calling thread (the ACME thread, or a
 * test): account (key created when missing), order, challenges, finalize, download, save.
 * 0, or < 0 with one sentence in err (what failed, the server's problem document if any).
 */
int acme_issue(const struct acme_cert_cfg *cfg, char *err, size_t errlen);

/*
 * RFC 9773: asks the server's renewalInfo (when its directory offers one) for the suggested
 * window of the certificate ci describes. 0 with start and end set, -ENOTSUP when the server has no
 * renewalInfo, other < 0 on error (err says why).
 */
int acme_renewal_info(const struct acme_cert_cfg *cfg, const struct acme_cert_info *ci,
		      time_t *start, time_t *end, char *err, size_t errlen);

/* Reads STATE_DIR/NAME.crt. 0, -ENOENT or -EINVAL. */
int acme_load_info(const struct acme_cert_cfg *cfg, struct acme_cert_info *ci);

/*
 * Starts the ACME thread for n certificates (cfgs must stay valid until acme_stop). Call from
 * the control thread, before or after the workers start. 0 or -errno (then nothing runs).
 */
int acme_start(const struct acme_cert_cfg *cfgs, int n, acme_on_issued_fn on_issued, void *arg);
/* What the ACME thread knows about certificate i (index into acme_start's cfgs). */
struct acme_status {
	time_t		 not_after;	/* 0: no certificate yet */
	time_t		 last_success;	/* issued or picked up since the start; 0: not yet */
	unsigned	 failures;	/* consecutive failed attempts */
};
/* Any thread (locked copy). 0, or -1 when nothing runs or i is out of range. */
int acme_status(int i, struct acme_status *st);
/* Stops it: an HTTP request in flight is aborted; returns when the thread has exited. */
void acme_stop(void);

/* Offline checks for `ringedge -t`: account key parses (when it exists), CA bundle readable,
 * state directory creatable. 0 or -EINVAL with err. Never contacts the server. */
int acme_check(const struct acme_cert_cfg *cfg, char *err, size_t errlen);

/* Fills out from an [acme NAME] section (strings point into a, which must outlive out), with
 * the client's fixed settings (per-request timeout 30 s, polling up to 5 min). */
void acme_cfg_from(const struct cfg_acme *a, struct acme_cert_cfg *out);

/* `ringedge -t`: acme_check on every [acme NAME] section of c; errors as "FILE:LINE:
 * [acme NAME]: why" into err. Returns the number of errors. */
int acme_check_config(const struct config *c, struct cfg_errors *err);

#endif
