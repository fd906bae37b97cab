/*
 * The ACME client as the control thread (core/main.c) drives it: create the state
 * directories before privileges are dropped, start the ACME thread after, restart it on a
 * reload that changed the [acme NAME] sections, and learn (by polling a flag) that a
 * certificate was issued so the control thread rebuilds the generation. The thread keeps its
 * own copy of the sections, so no configuration has to outlive a reload for it.
 * Control thread only, except acmectl_status (any thread). docs/acme.md "How it works".
 */
#ifndef RINGEDGE_CORE_ACME_CTL_H
#define RINGEDGE_CORE_ACME_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config/config-t.h"

#if RINGEDGE_ACME

/* As root, before drop_privileges: mkdir -p each state_dir (0700) and give it to
 * [global] user (when set). Problems are logged; the ACME thread reports them again. */
void acmectl_prepare(const struct config *c);
/* Starts the ACME thread for c's sections (none: nothing runs). 0 or -1 (logged). */
int acmectl_start(const struct config *c);
/* After a reload published c: restarts the thread when the sections differ. */
void acmectl_reload(const struct config *c);
/* true once after the thread saved (or picked up) new certificate files. */
bool acmectl_take_issued(void);
void acmectl_stop(void);

/* For metrics (core/admin): the state of section i of the running thread. */
struct acmectl_status {
	const char	*name;		/* valid until the next acmectl_stop/reload */
	time_t		 not_after;	/* 0: no certificate yet */
	time_t		 last_success;	/* 0: none since start */
	unsigned	 failures;	/* consecutive */
};
/* Fills st for section i; 0, or -1 when i is out of range (or nothing runs). */
int acmectl_status(int i, struct acmectl_status *st);
#else	/* built without the ACME client: config refuses nothing, nothing runs */
static inline void acmectl_prepare(const struct config *c) { (void)c; }
static inline int acmectl_start(const struct config *c) { (void)c; return 0; }
static inline void acmectl_reload(const struct config *c) { (void)c; }
static inline bool acmectl_take_issued(void) { return false; }
static inline void acmectl_stop(void) { }
#endif

#endif
