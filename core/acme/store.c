/*
 * ACME state directory and configuration: the files of STATE_DIR (created 0700, written
 * atomically, NAME.lock for a shared directory), reading NAME.crt back, and the offline
 * checks of `ringedge -t`. See acme.h and docs/acme.md.
 */
#include "core/acme/acme.h"
#include "core/acme/acme-int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "core/acme/certgen.h"
#include "core/acme/jws.h"

/* ---- files ---- */

int
acme_mkdirs(const char *path, mode_t mode)
{
	char buf[4096];
	size_t n = strlen(path);

	struct stat st;

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	/* there already (a user may not be allowed to mkdir, even EEXIST, in its parents) */
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		/* parents 0755 like /var/lib: only the last one is private */
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* dir/name <- data, atomically: write dir/.name.tmp, fsync, rename, fsync dir. */
int
acme_write_atomic(const char *dir, const char *name, const void *data, size_t len, mode_t mode)
{
	char tmp[4096], dst[4096];
	const char *p = data;
	int fd, dfd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= (int)sizeof(tmp) ||
	    snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= (int)sizeof(dst))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		p += w;
		len -= (size_t)w;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, dst) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* Creates the state directory and proves it writable before anything is asked of the server. */
int
acme_state_dir_ready(const char *dir, char *why, size_t whylen)
{
	char probe[4096];
	int rc, fd;

	if ((rc = acme_mkdirs(dir, 0700)) < 0) {
		snprintf(why, whylen, "state directory %s: cannot create: %s", dir, strerror(-rc));
		return rc;
	}
	snprintf(probe, sizeof(probe), "%s/.probe.%d", dir, (int)getpid());
	fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(why, whylen, "state directory %s: not writable: %s", dir, strerror(errno));
		return rc;
	}
	close(fd);
	unlink(probe);
	return 0;
}

/*
 * STATE_DIR/NAME.lock, flock'ed for the whole issuance: with a state directory shared by
 * several instances (a file share), one renews and the others pick its files up. Returns the
 * fd (closing it releases the lock), -EBUSY when another process holds it, or -errno.
 */
int
acme_take_lock(const struct acme_cert_cfg *cfg, char *why, size_t whylen)
{
	char path[1024];
	int fd;

	snprintf(path, sizeof(path), "%s/%s.lock", cfg->state_dir, cfg->name);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, whylen, "state directory %s: cannot create %s.lock: %s",
			 cfg->state_dir, cfg->name, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		close(fd);
		if (e == EWOULDBLOCK) {
			snprintf(why, whylen, "%s is locked by another instance, which renews; "
				 "this one picks up its files", path);
			return -EBUSY;
		}
		snprintf(why, whylen, "%s: cannot lock: %s", path, strerror(e));
		return -e;
	}
	return fd;
}

char *
acme_read_file(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = malloc(max + 1);
	if (buf == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, max, f);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

int
acme_load_info(const struct acme_cert_cfg *cfg, struct acme_cert_info *ci)
{
	char path[4096];
	size_t len;
	char *pem;
	int rc;

	snprintf(path, sizeof(path), "%s/%s.crt", cfg->state_dir, cfg->name);
	pem = acme_read_file(path, ACME_BODY_MAX, &len);
	if (pem == NULL)
		return errno == ENOENT ? -ENOENT : -EINVAL;
	rc = certgen_info(pem, len, ci);
	free(pem);
	return rc;
}

int
acme_check(const struct acme_cert_cfg *cfg, char *err, size_t errlen)
{
	struct jws_key k;
	char why[256];
	int rc;

	rc = jws_key_load(&k, cfg->account_key, why, sizeof(why));
	if (rc == 0) {
		jws_key_free(&k);
	} else if (rc != -ENOENT) {
		snprintf(err, errlen, "account_key %s: %s", cfg->account_key, why);
		return -EINVAL;
	}
	if (cfg->ca != NULL && access(cfg->ca, R_OK) < 0) {
		snprintf(err, errlen, "ca %s: cannot read: %s", cfg->ca, strerror(errno));
		return -EINVAL;
	}
	return 0;
}

void
acme_cfg_from(const struct cfg_acme *a, struct acme_cert_cfg *out)
{
	memset(out, 0, sizeof(*out));
	out->name = a->name;
	out->directory = a->directory;
	out->contact = a->contact;
	out->account_key = a->account_key;
	out->key_type = a->key_type;		/* enum cfg_acme_key == enum acme_key_type */
	out->names = (const char *const *)a->names;
	out->nnames = a->nnames;
	out->state_dir = a->state_dir;
	out->ca = a->ca;
	out->challenges = a->challenges;	/* enum cfg_acme_chall == enum acme_chall */
	out->retry_min_ms = a->retry_min;
	out->retry_max_ms = a->retry_max;
	out->timeout_ms = 30000;
	out->poll_max_ms = 300000;
}

int
acme_check_config(const struct config *c, struct cfg_errors *err)
{
	int n = 0;

	for (int i = 0; i < c->nacmes; i++) {
		struct acme_cert_cfg ac;
		char why[512];

		acme_cfg_from(&c->acmes[i], &ac);
		if (acme_check(&ac, why, sizeof(why)) < 0) {
			cfg_error(err, c->file, c->acmes[i].line, "[acme %s]: %s", ac.name, why);
			n++;
		}
	}
	return n;
}

