/* Types of the auth guard's counting table (core/guard/guard.c). */
#ifndef RINGEDGE_CORE_GUARD_GUARD_T_H
#define RINGEDGE_CORE_GUARD_GUARD_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUARD_NAME_MAX	64	/* user / address text kept for lock and unlock log lines */
#define GUARD_EVENTS_MAX 6

/* Thresholds and durations (ms); built from the [auth_guard] section. */
struct guard_params {
	uint32_t	 user_failures;		/* per user, from unfamiliar addresses ... */
	uint64_t	 user_window;		/* ... within this sliding window */
	uint32_t	 addr_failures;		/* per client address ... */
	uint64_t	 addr_window;		/* ... within this sliding window */
	uint32_t	 familiar_failures;	/* per (user, familiar address), in user_window */
	uint64_t	 familiar_time;		/* a success keeps the address familiar this long */
	uint64_t	 lock_time;		/* first lock; each further lock doubles it ... */
	uint64_t	 lock_time_max;		/* ... up to this */
	uint64_t	 max_tracked_keys;	/* users + addresses + pairs; LRU beyond it */
	uint32_t	 instances;		/* local counting: the user and address
						 * thresholds are divided by it (0 = 1) */
};

/*
 * A counting backend beyond this process (core/guard/store.h: Redis). fail() records one
 * failure of a user ('u') or client address ('a') and returns its count within window_ms on
 * every instance, or -1 when unavailable. Then fail_closed locks at once; otherwise the
 * local count decides against the per-instance threshold (the always-safe local mode).
 */
struct guard_counter {
	int64_t	(*fail)(void *ctx, char kind, const char *name, size_t len, uint64_t window_ms);
	void	*ctx;
	bool	 fail_closed;
};

enum guard_action {
	GUARD_ALLOW = 0,	/* forward */
	GUARD_LOCKED,		/* answer locally with the kind's failure, after the floor */
	GUARD_REPEAT,		/* this user's password failed just now: answer locally, as failed */
};

/* What is locked (the reason of a verdict or event). */
enum guard_what {
	GUARD_USER = 0,		/* too many failures for the user from unfamiliar addresses */
	GUARD_ADDR,		/* too many failures from the client address */
	GUARD_PAIR,		/* too many failures for the user from one of its familiar addresses */
};

enum guard_ev_type {
	GUARD_EV_LOCK = 1,
	GUARD_EV_UNLOCK,
};

/* One lock or unlock; reported exactly once, to be logged by the caller. */
struct guard_event {
	enum guard_ev_type type;
	enum guard_what	 what;
	uint32_t	 failures;	/* window count that caused a lock */
	uint32_t	 nlocks;	/* how many locks in a row (1 = first) */
	uint64_t	 until;		/* lock end (ms, caller's clock) */
	char		 user[GUARD_NAME_MAX];	/* "" for an address lock */
	char		 addr[GUARD_NAME_MAX];	/* "" for a user lock */
};

struct guard_events {
	int		 n;
	struct guard_event ev[GUARD_EVENTS_MAX];
};

/* One password attempt as the guard sees it; guard_attempt_init() fills it. Kept by the
 * stream from the request head to the response head (about 200 bytes, no pointers). */
struct guard_attempt {
	uint64_t	 user_h;	/* 0: anonymous (address only) */
	uint64_t	 addr_h;
	uint64_t	 pair_h;
	uint64_t	 pw_hash;
	bool		 has_pw;
	char		 user[GUARD_NAME_MAX];
	char		 addr[GUARD_NAME_MAX];
};

struct guard_verdict {
	enum guard_action action;	/* what to do (GUARD_ALLOW in log_only mode) */
	enum guard_action would;	/* what `on` mode would do: log it in log_only mode */
	enum guard_what	 what;		/* reason, when would != GUARD_ALLOW */
	uint64_t	 until;		/* lock end, when would == GUARD_LOCKED */
	bool		 familiar;	/* the user succeeded from this address recently */
	struct guard_events events;	/* unlocks noticed on the way */
};

#endif
