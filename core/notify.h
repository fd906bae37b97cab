/*
 * systemd service notifications (sd_notify(3), Type=notify): READY=1 once serving,
 * RELOADING=1 + MONOTONIC_USEC= on SIGHUP then READY=1 (with STATUS= naming the error when the
 * reload was refused), STOPPING=1 on SIGTERM, and STATUS= lines while running. Every call is
 * a no-op when NOTIFY_SOCKET is unset (started by hand or by a test). Control thread only.
 */
#ifndef RINGEDGE_CORE_NOTIFY_H
#define RINGEDGE_CORE_NOTIFY_H

#include <stdint.h>

/* Every listener is bound and the workers run: READY=1 and a first STATUS=. */
void notify_ready(int workers);
/* SIGHUP received, the reload starts: RELOADING=1, MONOTONIC_USEC=<CLOCK_MONOTONIC in us>. */
void notify_reloading(void);
/* The reload ended: READY=1, STATUS= "reloaded: generation N" (err NULL) or "reload refused:
 * ERR" (err: one line, the running generation stays). */
void notify_reloaded(unsigned gen_id, const char *err);
/* SIGTERM/SIGINT: STOPPING=1 and STATUS=draining. */
void notify_stopping(void);
/* Called every loop turn of the control thread; sends STATUS= with the client connections
 * and the requests per second since the last one (from the running request total), at most
 * every NOTIFY_STATUS_MS (RINGEDGE_NOTIFY_STATUS_MS overrides it for tests). */
void notify_tick(uint64_t conns, uint64_t requests);

#define NOTIFY_STATUS_MS	5000

#endif
