/* Accept under resource limits (core/accept_limit.h). */
#include "core/accept_limit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

bool
accept_limit_is_limit(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

static const char *
limit_name(int err)
{
	switch (err) {
	case EMFILE:
		return "the process's fd limit (RLIMIT_NOFILE)";
	case ENFILE:
		return "the system's fd limit (fs.file-max)";
	default:
		return "memory";
	}
}

/* Counts a limit failure; true when a log line is due (the caller writes it, then
 * logged() starts the next period). */
static bool
count_due(struct accept_limit *al, int err, uint64_t now_ms)
{
	al->last_err = err;
	al->failures++;
	return al->last_log_ms == 0 || now_ms >= al->last_log_ms + ACCEPT_LIMIT_LOG_MS;
}

static void
logged(struct accept_limit *al, uint64_t now_ms, bool *log_now)
{
	al->failures = 0;
	al->last_log_ms = now_ms ? now_ms : 1;
	*log_now = true;
}

bool
accept_limit_fail(struct accept_limit *al, int err, uint64_t now_ms, const char *who,
		  char *msg, size_t msglen, bool *log_now)
{
	*log_now = false;
	if (!accept_limit_is_limit(err))
		return false;
	al->paused = true;
	if (!count_due(al, err, now_ms))
		return true;
	snprintf(msg, msglen, "%s: accept failed %llu time%s: out of %s (%s); new clients wait "
		 "in the listen backlog until connections close", who,
		 (unsigned long long)al->failures, al->failures == 1 ? "" : "s",
		 limit_name(err), strerror(err));
	logged(al, now_ms, log_now);
	return true;
}

bool
accept_limit_backend_fail(struct accept_limit *al, int err, uint64_t now_ms, const char *who,
			  char *msg, size_t msglen, bool *log_now)
{
	*log_now = false;
	if (!accept_limit_is_limit(err))
		return false;
	if (!count_due(al, err, now_ms))
		return true;
	snprintf(msg, msglen, "%s: no socket for %llu request%s: out of %s (%s); answered 503 "
		 "until connections close", who, (unsigned long long)al->failures,
		 al->failures == 1 ? "" : "s", limit_name(err), strerror(err));
	logged(al, now_ms, log_now);
	return true;
}

bool
accept_limit_tick(struct accept_limit *al)
{
	if (!al->paused)
		return false;
	al->paused = false;
	return true;
}

uint64_t
accept_limit_fds_needed(uint64_t max_connections)
{
	return 2 * max_connections + 256;
}

int
accept_limit_check_fds(uint64_t max_connections, uint64_t *have, char *msg, size_t msglen)
{
	struct rlimit rl;
	uint64_t need = accept_limit_fds_needed(max_connections);

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		*have = 0;
		return 0;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		struct rlimit up = rl;

		up.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ?
			(rlim_t)need : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
	}
	*have = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
	if (*have >= need)
		return 0;
	snprintf(msg, msglen, "the fd limit (RLIMIT_NOFILE) is %llu but max_connections = %llu "
		 "needs %llu (a client and a backend socket each): about %llu proxied connections "
		 "fit, then new clients wait in the listen backlog; raise LimitNOFILE (systemd) or "
		 "ulimit -Hn, or lower max_connections", (unsigned long long)*have,
		 (unsigned long long)max_connections, (unsigned long long)need,
		 (unsigned long long)(*have > 256 ? (*have - 256) / 2 : 0));
	return 1;
}
