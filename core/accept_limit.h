/*
 * Accept (and backend sockets) under resource limits. When accept() fails for lack of a
 * resource (the fd limit, kernel memory), retrying at once fails again at once: the worker
 * stops accepting for one timer tick, the clients wait in the kernel's backlog, and the log
 * says so at most once a second with the number of failures in between (not one line per
 * attempt). A backend socket() that fails the same way answers that request 503, logged the
 * same way. Pure: the caller owns the clock, the accept SQEs and the log call. Also the
 * start-up check that the fd limit covers max_connections.
 */
#ifndef CORE_ACCEPT_LIMIT_H
#define CORE_ACCEPT_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/accept_limit-t.h"

/* Is err (positive errno from accept) a resource limit that pauses accepting? */
bool accept_limit_is_limit(int err);

/*
 * An accept failed with err (positive errno) at now_ms. For a resource limit: sets paused
 * (the caller must not re-arm accept until accept_limit_tick says so) and returns true;
 * otherwise false. When a log line is due, writes it to msg (the worker and listener named
 * by the caller) and sets *log_now.
 */
bool accept_limit_fail(struct accept_limit *al, int err, uint64_t now_ms, const char *who,
		       char *msg, size_t msglen, bool *log_now);

/*
 * A backend socket() failed with err (positive errno): true when err is a resource limit
 * (counted in al; the caller answers that request 503 and logs nothing itself), false
 * otherwise (the caller logs it). When a line is due (at most one per ACCEPT_LIMIT_LOG_MS),
 * writes it to msg with the number of failures since the last one and sets *log_now.
 */
bool accept_limit_backend_fail(struct accept_limit *al, int err, uint64_t now_ms,
			       const char *who, char *msg, size_t msglen, bool *log_now);

/* A timer tick: true when accepting was paused and may be re-armed now (clears paused). */
bool accept_limit_tick(struct accept_limit *al);

/* File descriptors max_connections needs at most: a client and a backend socket each, plus
 * room for listeners, logs, rings and pools. */
uint64_t accept_limit_fds_needed(uint64_t max_connections);

/*
 * Start-up: raises the soft RLIMIT_NOFILE toward what max_connections needs (up to the hard
 * limit). Returns 0 when the limit covers it; 1 with a warning in msg when it does not (how
 * many connections the limit allows, and how to raise it); the limit found is in *have.
 */
int accept_limit_check_fds(uint64_t max_connections, uint64_t *have, char *msg, size_t msglen);

#endif
