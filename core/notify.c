#include "core/notify.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

/* STATUS= lines while serving; stopped by notify_stopping (the draining line stays). */
static bool status_on;
static uint64_t status_next_ms, status_period_ms;

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * sd_notify returns 0 when NOTIFY_SOCKET is unset and < 0 when the send fails; neither stops
 * the proxy (the service manager times the start out instead), so the result is not checked.
 * The environment is kept (unset_environment = 0): every later notification needs it.
 */
static void
send_state(const char *state)
{
	(void)sd_notify(0, state);
}

void
notify_ready(int workers)
{
	const char *e = getenv("RINGEDGE_NOTIFY_STATUS_MS");
	char buf[128];

	status_period_ms = e != NULL && atoll(e) > 0 ? (uint64_t)atoll(e) : NOTIFY_STATUS_MS;
	status_next_ms = mono_us() / 1000 + status_period_ms;
	status_on = true;
	snprintf(buf, sizeof(buf), "READY=1\nSTATUS=serving with %d worker%s", workers,
		 workers == 1 ? "" : "s");
	send_state(buf);
}

void
notify_reloading(void)
{
	char buf[96];

	/* systemd 253+ needs MONOTONIC_USEC with RELOADING=1 to match it to the reload job */
	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
		 (unsigned long long)mono_us());
	send_state(buf);
}

void
notify_reloaded(unsigned gen_id, const char *err)
{
	char buf[512];
	size_t n;

	if (err == NULL) {
		snprintf(buf, sizeof(buf), "READY=1\nSTATUS=reloaded: generation %u serving",
			 gen_id);
	} else {
		snprintf(buf, sizeof(buf), "READY=1\nSTATUS=reload refused: %s", err);
		/* one line: a newline would start another (unknown) assignment */
		n = strlen("READY=1\n");
		for (char *p = buf + n; *p != '\0'; p++)
			if (*p == '\n')
				*p = ' ';
	}
	send_state(buf);
}

void
notify_stopping(void)
{
	status_on = false;
	send_state("STOPPING=1\nSTATUS=draining: no new connections");
}

void
notify_tick(uint64_t conns, uint64_t requests)
{
	static uint64_t last_req, last_ms;
	uint64_t now = mono_us() / 1000;
	char buf[128];
	double rps;

	if (last_ms == 0) {	/* the first turn: the baseline of the first rate */
		last_req = requests;
		last_ms = now;
	}
	if (!status_on || now < status_next_ms)
		return;
	status_next_ms = now + status_period_ms;
	rps = last_ms != 0 && now > last_ms && requests >= last_req ?
	      (double)(requests - last_req) * 1000.0 / (double)(now - last_ms) : 0.0;
	last_req = requests;
	last_ms = now;
	snprintf(buf, sizeof(buf), "STATUS=serving: %llu client connection%s, %.0f requests/s",
		 (unsigned long long)conns, conns == 1 ? "" : "s", rps);
	send_state(buf);
}
