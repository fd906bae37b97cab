/*
 * Error log. Lines go to stderr (or the file set by log_open) as
 * "YYYY-mm-ddTHH:MM:SS.mmmZ [level] message". Safe from any thread: each line is built in a
 * stack buffer and written with one write(2), so lines never interleave and no lock is taken.
 * When a destination is the journal (JOURNAL_STREAM names its device:inode, systemd.exec(5)),
 * each line there starts with its syslog priority, "<3>" error to "<7>" debug (sd-daemon.h),
 * so `journalctl -p err` shows the errors only.
 */
#ifndef RINGEDGE_CORE_LIB_LOG_H
#define RINGEDGE_CORE_LIB_LOG_H

#include "core/lib/api-t.h"

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

/* Current threshold; lines above it are dropped. Set once at start-up or reload. */
extern int log_threshold;

void log_msg(int level, const char *fmt, ...) RE_PRINTF(2, 3);

#define log_error(...)	log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)	do { if (log_threshold >= LOG_WARN) log_msg(LOG_WARN, __VA_ARGS__); } while (0)
#define log_info(...)	do { if (log_threshold >= LOG_INFO) log_msg(LOG_INFO, __VA_ARGS__); } while (0)
#define log_debug(...)	do { if (log_threshold >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

/*
 * [global] error_log: a path makes it the destination of every later line (and of anything
 * else written to stderr) by opening it for appending and dup2-ing it over fd 2; "stderr" or
 * NULL keeps stderr. Called again on SIGUSR1 to reopen a rotated file. 0 or -errno (the
 * previous destination stays).
 */
int log_open(const char *path);

/*
 * Start-up: while on, every line also goes to the stderr ringedge was started with (the
 * terminal, the service manager), so a start-up warning or error is seen there as well as in
 * error_log. log_open saves that stderr; log_tee_end stops copying (after "serving").
 */
void log_tee_end(void);
/* Writes text as is (several lines) to the error log, and to the saved stderr while teeing. */
void log_raw(const char *text);

/* Parses "error|warn|info|debug"; returns the level or -1. */
int log_level_parse(const char *s);
const char *log_level_name(int level);

#endif
