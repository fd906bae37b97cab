/*
 * The control thread's side of the ACME client; see ctl.h and docs/acme.md.
 */
#include "core/acme/ctl.h"

#include <errno.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/acme/acme-int.h"
#include "core/acme/acme.h"
#include "core/lib/log.h"

/* The sections the thread runs with: deep copies (strings owned here). */
static struct {
	struct acme_cert_cfg	*cfgs;
	int			 n;
	bool			 running;
} ctl;

static atomic_bool issued;

static char *
dup0(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static void
cfgs_free(struct acme_cert_cfg *cfgs, int n)
{
	for (int i = 0; cfgs != NULL && i < n; i++) {
		struct acme_cert_cfg *a = &cfgs[i];

		free((char *)a->name);
		free((char *)a->directory);
		free((char *)a->contact);
		free((char *)a->account_key);
		free((char *)a->state_dir);
		free((char *)a->ca);
		for (int j = 0; j < a->nnames; j++)
			free((char *)a->names[j]);
		free((char **)a->names);
	}
	free(cfgs);
}

/* c's sections as acme_cert_cfg copies, or NULL (n = 0 when there are none). */
static struct acme_cert_cfg *
cfgs_copy(const struct config *c)
{
	struct acme_cert_cfg *out = calloc((size_t)c->nacmes + 1, sizeof(*out));

	for (int i = 0; out != NULL && i < c->nacmes; i++) {
		struct acme_cert_cfg v, *a = &out[i];
		char **names = calloc((size_t)c->acmes[i].nnames + 1, sizeof(*names));

		acme_cfg_from(&c->acmes[i], &v);
		*a = v;
		a->name = dup0(v.name);
		a->directory = dup0(v.directory);
		a->contact = dup0(v.contact);
		a->account_key = dup0(v.account_key);
		a->state_dir = dup0(v.state_dir);
		a->ca = dup0(v.ca);
		a->names = (const char *const *)names;
		a->nnames = 0;
		if (names == NULL || a->name == NULL || a->directory == NULL ||
		    a->state_dir == NULL || a->account_key == NULL) {
			a->nnames = 0;
			cfgs_free(out, i + 1);
			return NULL;
		}
		for (int j = 0; j < v.nnames; j++)
			if ((names[a->nnames] = strdup(v.names[j])) != NULL)
				a->nnames++;
	}
	return out;
}

static bool
str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool
cfg_eq(const struct acme_cert_cfg *a, const struct acme_cert_cfg *b)
{
	if (!str_eq(a->name, b->name) || !str_eq(a->directory, b->directory) ||
	    !str_eq(a->contact, b->contact) || !str_eq(a->account_key, b->account_key) ||
	    !str_eq(a->state_dir, b->state_dir) || !str_eq(a->ca, b->ca) ||
	    a->key_type != b->key_type || a->challenges != b->challenges ||
	    a->retry_min_ms != b->retry_min_ms || a->retry_max_ms != b->retry_max_ms ||
	    a->nnames != b->nnames)
		return false;
	for (int j = 0; j < a->nnames; j++)
		if (!str_eq(a->names[j], b->names[j]))
			return false;
	return true;
}

void
acmectl_prepare(const struct config *c)
{
	const struct passwd *pw = NULL;

	if (c->nacmes == 0)
		return;
	if (c->global.user != NULL && geteuid() == 0)
		pw = getpwnam(c->global.user);	/* unknown user: drop_privileges says so */
	for (int i = 0; i < c->nacmes; i++) {
		const char *d = c->acmes[i].state_dir;
		int rc = acme_mkdirs(d, 0700);

		if (rc < 0) {
			log_error("[acme %s]: state directory %s: cannot create: %s",
				  c->acmes[i].name, d, strerror(-rc));
			continue;
		}
		if (pw != NULL && chown(d, pw->pw_uid, pw->pw_gid) < 0)
			log_warn("[acme %s]: state directory %s: cannot give it to user %s: %s",
				 c->acmes[i].name, d, c->global.user, strerror(errno));
	}
}

/* ACME thread: the files are in place; the control loop rebuilds the generation. */
static void
on_issued(const struct acme_cert_cfg *cfg, void *arg)
{
	(void)cfg;
	(void)arg;
	atomic_store_explicit(&issued, true, memory_order_release);
}

int
acmectl_start(const struct config *c)
{
	int rc;

	if (c->nacmes == 0 || ctl.running)
		return 0;
	ctl.cfgs = cfgs_copy(c);
	if (ctl.cfgs == NULL) {
		log_error("acme: out of memory; certificates are not renewed");
		return -1;
	}
	ctl.n = c->nacmes;
	rc = acme_start(ctl.cfgs, ctl.n, on_issued, NULL);
	if (rc < 0) {
		log_error("acme: cannot start the ACME thread: %s; certificates are not renewed",
			  strerror(-rc));
		cfgs_free(ctl.cfgs, ctl.n);
		ctl.cfgs = NULL;
		ctl.n = 0;
		return -1;
	}
	ctl.running = true;
	log_info("acme: thread started for %d certificate%s", ctl.n, ctl.n == 1 ? "" : "s");
	return 0;
}

void
acmectl_stop(void)
{
	if (!ctl.running)
		return;
	acme_stop();
	cfgs_free(ctl.cfgs, ctl.n);
	ctl.cfgs = NULL;
	ctl.n = 0;
	ctl.running = false;
}

void
acmectl_reload(const struct config *c)
{
	struct acme_cert_cfg *now;
	bool same;

	if (!ctl.running && c->nacmes == 0)
		return;
	now = cfgs_copy(c);
	if (now == NULL)
		return;
	same = ctl.running && c->nacmes == ctl.n;
	for (int i = 0; same && i < ctl.n; i++)
		same = cfg_eq(&now[i], &ctl.cfgs[i]);
	cfgs_free(now, c->nacmes);
	if (same)
		return;
	log_info("reload: [acme] sections changed: restarting the ACME thread");
	acmectl_stop();
	acmectl_start(c);
}

bool
acmectl_take_issued(void)
{
	if (!atomic_load_explicit(&issued, memory_order_acquire))
		return false;
	return atomic_exchange_explicit(&issued, false, memory_order_acq_rel);
}

int
acmectl_status(int i, struct acmectl_status *st)
{
	struct acme_status s;

	if (!ctl.running || i < 0 || i >= ctl.n || acme_status(i, &s) < 0)
		return -1;
	st->name = ctl.cfgs[i].name;
	st->not_after = s.not_after;
	st->last_success = s.last_success;
	st->failures = s.failures;
	return 0;
}
