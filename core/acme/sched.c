/*
 * The ACME thread: loads what the state directory holds, schedules each certificate's
 * renewal (ACME Renewal Information or a third of the lifetime left), runs acme_issue when
 * due, backs off on failure, warns of expiry in the log. See acme.h and docs/acme.md.
 */
#include "core/acme/acme.h"
#include "core/acme/acme-int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/acme/renew.h"
#include "core/acme/responder.h"
#include "core/lib/log.h"

atomic_bool acme_stopping;

/* ---- the ACME thread ---- */

struct sched_ent {
	const struct acme_cert_cfg *cfg;
	time_t		 next;
	unsigned	 failures;
	bool		 have;
	struct acme_cert_info info;
	struct acme_status pub;		/* under sched.mu: what acme_status reads */
};

static struct {
	pthread_t	 tid;
	bool		 running;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct sched_ent *ents;
	int		 n;
	acme_on_issued_fn on_issued;
	void		*arg;
} sched = { .mu = PTHREAD_MUTEX_INITIALIZER };

static uint64_t
rnd64(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint64_t)time(NULL) * 2654435761u;
	return v;
}

/* Publishes e's state for acme_status; success: a certificate was just issued or taken. */
static void
publish_status(struct sched_ent *e, bool success)
{
	pthread_mutex_lock(&sched.mu);
	e->pub.not_after = e->have ? e->info.not_after : 0;
	e->pub.failures = e->failures;
	if (success)
		e->pub.last_success = time(NULL);
	pthread_mutex_unlock(&sched.mu);
}

int
acme_status(int i, struct acme_status *st)
{
	int rc = -1;

	pthread_mutex_lock(&sched.mu);
	if (sched.running && i >= 0 && i < sched.n) {
		*st = sched.ents[i].pub;
		rc = 0;
	}
	pthread_mutex_unlock(&sched.mu);
	return rc;
}

static void
warn_expiry(struct sched_ent *e, time_t now)
{
	int64_t left;
	int lvl;
	char when[32];
	struct tm tm;

	if (!e->have)
		return;
	lvl = renew_expiry(&e->info, now, &left);
	gmtime_r(&e->info.not_after, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (left <= 0)
		log_error("acme[%s]: certificate EXPIRED at %s", e->cfg->name, when);
	else if (lvl == RENEW_EXPIRY_CRIT)
		log_error("acme[%s]: certificate expires in %lld s (%s) and is not renewed yet",
			  e->cfg->name, (long long)left, when);
	else if (lvl == RENEW_EXPIRY_WARN)
		log_warn("acme[%s]: certificate expires in %lld h (%s) and is not renewed yet",
			 e->cfg->name, (long long)(left / 3600), when);
}

static void
schedule_renewal(struct sched_ent *e)
{
	time_t s = 0, t = 0;
	char err[1024], when[32];
	struct tm tm;
	int rc;

	rc = acme_renewal_info(e->cfg, &e->info, &s, &t, err, sizeof(err));
	if (rc < 0 && rc != -ENOTSUP)
		log_warn("acme[%s]: renewal information unavailable (%s); renewing at a third of "
			 "the lifetime", e->cfg->name, err);
	e->next = renew_at(&e->info, rc == 0 ? s : 0, rc == 0 ? t : 0, rnd64());
	gmtime_r(&e->next, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	log_info("acme[%s]: renewal scheduled at %s (%s)", e->cfg->name, when,
		 rc == 0 ? "ACME Renewal Information window" : "a third of the lifetime left");
}

/* Another instance sharing the state directory may have renewed: take its files. */
static void
pick_up(struct sched_ent *e)
{
	struct acme_cert_info ci;
	char when[32];
	struct tm tm;

	if (acme_load_info(e->cfg, &ci) < 0 || (e->have && ci.not_after == e->info.not_after))
		return;
	e->info = ci;
	e->have = true;
	publish_status(e, true);
	gmtime_r(&ci.not_after, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	log_info("acme[%s]: picked up a new certificate in %s (valid until %s), written by "
		 "another instance", e->cfg->name, e->cfg->state_dir, when);
	if (sched.on_issued)
		sched.on_issued(e->cfg, sched.arg);
	schedule_renewal(e);
}

static void
attempt(struct sched_ent *e)
{
	char err[4096];
	uint64_t delay;
	int rc;

	log_info("acme[%s]: requesting a certificate for %d names from %s", e->cfg->name,
		 e->cfg->nnames, e->cfg->directory);
	rc = acme_issue(e->cfg, err, sizeof(err));
	if (rc == -EBUSY) {
		/* not a failure: the lock holder renews; look for its files at retry_min */
		log_info("acme[%s]: %s; looking again in %llu s", e->cfg->name, err,
			 (unsigned long long)((e->cfg->retry_min_ms + 999) / 1000));
		e->next = time(NULL) + (time_t)((e->cfg->retry_min_ms + 999) / 1000);
		pick_up(e);
		return;
	}
	if (rc == 0) {
		e->failures = 0;
		e->have = acme_load_info(e->cfg, &e->info) == 0;
		publish_status(e, true);
		log_info("acme[%s]: certificate issued and saved to %s/%s.crt", e->cfg->name,
			 e->cfg->state_dir, e->cfg->name);
		if (sched.on_issued)
			sched.on_issued(e->cfg, sched.arg);
		if (e->have)
			schedule_renewal(e);
		else
			e->next = time(NULL) + 3600;
		return;
	}
	if (atomic_load(&acme_stopping))
		return;
	e->failures++;
	delay = renew_backoff_ms(e->failures, e->cfg->retry_min_ms, e->cfg->retry_max_ms);
	e->next = time(NULL) + (time_t)((delay + 999) / 1000);
	publish_status(e, false);
	log_error("acme[%s]: %s; retry %u in %llu s", e->cfg->name, err, e->failures,
		  (unsigned long long)((delay + 999) / 1000));
	warn_expiry(e, time(NULL));
}

static void *
acme_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < sched.n; i++) {
		struct sched_ent *e = &sched.ents[i];

		e->have = acme_load_info(e->cfg, &e->info) == 0;
		publish_status(e, false);
		if (e->have) {
			warn_expiry(e, time(NULL));
			schedule_renewal(e);
		} else {
			log_info("acme[%s]: no certificate in %s yet", e->cfg->name,
				 e->cfg->state_dir);
			e->next = 0;
		}
	}
	while (!atomic_load(&acme_stopping)) {
		struct sched_ent *due = NULL;
		time_t now = time(NULL), first = 0;
		struct timespec ts;

		for (int i = 0; i < sched.n; i++) {
			struct sched_ent *e = &sched.ents[i];

			if (e->next <= now && due == NULL)
				due = e;
			if (first == 0 || e->next < first)
				first = e->next;
		}
		if (due != NULL) {
			attempt(due);
			continue;
		}
		/* sleep until the next due time (at most an hour: re-check expiry warnings) */
		if (first - now > 3600)
			first = now + 3600;
		ts.tv_sec = first;
		ts.tv_nsec = 0;
		pthread_mutex_lock(&sched.mu);
		if (!atomic_load(&acme_stopping))
			pthread_cond_timedwait(&sched.cv, &sched.mu, &ts);
		pthread_mutex_unlock(&sched.mu);
		if (first - now >= 3600)
			for (int i = 0; i < sched.n; i++)
				warn_expiry(&sched.ents[i], time(NULL));
	}
	return NULL;
}

int
acme_start(const struct acme_cert_cfg *cfgs, int n, acme_on_issued_fn on_issued, void *arg)
{
	pthread_condattr_t ca;
	int rc;

	if (sched.running)
		return -EALREADY;
	/* libcurl's global state: before any other thread can use it */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	sched.ents = calloc((size_t)n, sizeof(*sched.ents));
	if (sched.ents == NULL)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		sched.ents[i].cfg = &cfgs[i];
	sched.n = n;
	sched.on_issued = on_issued;
	sched.arg = arg;
	atomic_store(&acme_stopping, false);
	/* CLOCK_REALTIME on purpose: due times are wall-clock certificate dates */
	pthread_condattr_init(&ca);
	pthread_cond_init(&sched.cv, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&sched.tid, NULL, acme_main, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&sched.cv);
		free(sched.ents);
		sched.ents = NULL;
		return -rc;
	}
	pthread_mutex_lock(&sched.mu);
	sched.running = true;
	pthread_mutex_unlock(&sched.mu);
	return 0;
}

void
acme_stop(void)
{
	if (!sched.running)
		return;
	pthread_mutex_lock(&sched.mu);
	atomic_store(&acme_stopping, true);
	pthread_cond_broadcast(&sched.cv);
	pthread_mutex_unlock(&sched.mu);
	pthread_join(sched.tid, NULL);
	pthread_cond_destroy(&sched.cv);
	pthread_mutex_lock(&sched.mu);
	free(sched.ents);
	sched.ents = NULL;
	sched.running = false;
	pthread_mutex_unlock(&sched.mu);
	responder_clear();
}

