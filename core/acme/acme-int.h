/*
 * Shared between the files of the ACME client (acme.c protocol, store.c state directory,
 * sched.c thread); not for the rest of ringedge, which uses acme.h.
 */
#ifndef RINGEDGE_CORE_ACME_ACME_INT_H
#define RINGEDGE_CORE_ACME_ACME_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/acme/acme-t.h"

#define ACME_BODY_MAX	(1024 * 1024)	/* certificate chains are a few KiB */

/* Set by acme_stop: aborts the HTTP request in flight and any polling. */
extern atomic_bool acme_stopping;

/* mkdir -p: path with mode, missing parents 0755. 0 or -errno. */
int acme_mkdirs(const char *path, mode_t mode);
/* dir/name <- data, atomically: write dir/.name.tmp, fsync, rename, fsync dir. */
int acme_write_atomic(const char *dir, const char *name, const void *data, size_t len,
		      mode_t mode);
/* Creates the state directory and proves it writable. 0 or -errno with why. */
int acme_state_dir_ready(const char *dir, char *why, size_t whylen);
/* Flocks STATE_DIR/NAME.lock: the fd, -EBUSY when another process holds it, or -errno. */
int acme_take_lock(const struct acme_cert_cfg *cfg, char *why, size_t whylen);
/* The file's first max bytes, NUL-terminated (free it), or NULL with errno. */
char *acme_read_file(const char *path, size_t max, size_t *len);

#endif
