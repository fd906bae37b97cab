/* Accept (and backend socket()) under resource limits: which errors pause, one log line a second with the count,
 * the tick that re-arms, and the start-up fd check (with a lowered RLIMIT_NOFILE). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "test/unit/check.h"
#include "core/accept_limit.h"

int
main(void)
{
	struct accept_limit al;
	struct rlimit rl, low;
	char msg[512];
	bool log_now;
	uint64_t have;
	int i, lines = 0;

	memset(&al, 0, sizeof(al));
	CHECK(accept_limit_is_limit(EMFILE) && accept_limit_is_limit(ENFILE));
	CHECK(accept_limit_is_limit(ENOBUFS) && accept_limit_is_limit(ENOMEM));
	CHECK(!accept_limit_is_limit(ECONNABORTED) && !accept_limit_is_limit(EINVAL));

	/* not a limit: not paused, nothing to log here (the caller logs it) */
	CHECK(!accept_limit_fail(&al, ECONNABORTED, 1000, "w0", msg, sizeof(msg), &log_now));
	CHECK(!log_now && !al.paused);

	/* the first failure logs at once; 1,000 more within the second do not */
	CHECK(accept_limit_fail(&al, EMFILE, 1000, "worker 0: listener web", msg, sizeof(msg),
				&log_now));
	CHECK(log_now && al.paused);
	CHECK(strstr(msg, "worker 0: listener web: accept failed 1 time: out of the process's "
		     "fd limit (RLIMIT_NOFILE)") == msg);
	CHECK(strstr(msg, "wait in the listen backlog") != NULL);
	for (i = 0; i < 1000; i++) {
		CHECK(accept_limit_fail(&al, EMFILE, 1000 + (uint64_t)i % 999, "w", msg,
					sizeof(msg), &log_now));
		lines += log_now;
	}
	CHECK(lines == 0);
	/* the tick re-arms once */
	CHECK(accept_limit_tick(&al) && !al.paused && !accept_limit_tick(&al));
	/* a second later: one line that counts what was not logged */
	CHECK(accept_limit_fail(&al, ENOMEM, 2000, "w", msg, sizeof(msg), &log_now) && log_now);
	CHECK(strstr(msg, "accept failed 1001 times: out of memory") != NULL);

	/* backend socket(): the same once-a-second count, and it never pauses accepting */
	memset(&al, 0, sizeof(al));
	CHECK(!accept_limit_backend_fail(&al, ECONNREFUSED, 5000, "b", msg, sizeof(msg),
					 &log_now) && !log_now);
	lines = 0;
	for (i = 0; i < 500; i++) {
		CHECK(accept_limit_backend_fail(&al, EMFILE, 5000 + (uint64_t)i, "worker 1: backend "
						"127.0.0.1:80 (pool p)", msg, sizeof(msg), &log_now));
		lines += log_now;
	}
	CHECK(lines == 1 && !al.paused);
	CHECK(accept_limit_backend_fail(&al, ENFILE, 6000, "w", msg, sizeof(msg), &log_now) &&
	      log_now);
	CHECK(strstr(msg, "w: no socket for 500 requests: out of the system's fd limit "
		     "(fs.file-max)") == msg);

	/* start-up: with a soft and hard limit of 64, max_connections = 1000 does not fit */
	CHECK(accept_limit_fds_needed(1000) == 2256);
	getrlimit(RLIMIT_NOFILE, &rl);
	low.rlim_cur = low.rlim_max = 64;
	if (rl.rlim_max >= 64 && setrlimit(RLIMIT_NOFILE, &low) == 0) {
		CHECK(accept_limit_check_fds(1000, &have, msg, sizeof(msg)) == 1 && have == 64);
		CHECK(strstr(msg, "the fd limit (RLIMIT_NOFILE) is 64 but max_connections = 1000 "
			     "needs 2256") == msg);
		CHECK(accept_limit_check_fds(10, &have, msg, sizeof(msg)) == 1);
		low.rlim_cur = 32;
		setrlimit(RLIMIT_NOFILE, &low);
		/* the soft limit is raised up to the hard one */
		accept_limit_check_fds(1000, &have, msg, sizeof(msg));
		CHECK(have == 64);
	}
	return check_done();
}
