/* Types of core/accept_limit.h (included by the worker struct). */
#ifndef CORE_ACCEPT_LIMIT_T_H
#define CORE_ACCEPT_LIMIT_T_H

#include <stdbool.h>
#include <stdint.h>

#define ACCEPT_LIMIT_LOG_MS	1000	/* at most one log line per worker per this period */

struct accept_limit {
	bool		paused;		/* accepting stopped until the next tick */
	int		last_err;	/* errno of the last failure */
	uint64_t	failures;	/* failures since the last log line */
	uint64_t	last_log_ms;	/* 0 = never logged */
};

#endif
