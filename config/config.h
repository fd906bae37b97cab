/*
 * The INI loader. Runs on the control thread only (start-up, `-t`, reload); never on a worker.
 *
 * config_load() parses the whole file, applies defaults, checks every cross-reference and
 * collects *all* errors as "FILE:LINE: message" lines in `err` (it does not stop at the first).
 * It returns the new configuration, or NULL when there was any error; the caller's running
 * configuration is never touched, so a bad reload keeps serving with the old one.
 */
#ifndef RINGEDGE_CONFIG_CONFIG_H
#define RINGEDGE_CONFIG_CONFIG_H

#include <stdio.h>

#include "config/config-t.h"
#include "core/lib/api-t.h"

enum config_flags {
	CONFIG_NO_RESOLVE = 1 << 0,	/* don't resolve backend hosts (fuzzing, docs) */
	CONFIG_NO_FILES   = 1 << 1,	/* don't open referenced files or look up users */
};

/* Loads FILE. Returns NULL and fills err on any error; warnings go to the error log. */
struct config *config_load(const char *file, unsigned flags, struct cfg_errors *err);

/* Same, from memory; `name` is used in messages in place of a file name. */
struct config *config_load_string(const char *name, const char *text, unsigned flags,
				  struct cfg_errors *err);

void config_free(struct config *c);

/* Appends one "FILE:LINE: message" line (line 0: "FILE: message"). */
void cfg_error(struct cfg_errors *err, const char *file, int line, const char *fmt, ...)
	RE_PRINTF(4, 5);
void cfg_errors_free(struct cfg_errors *err);

/* Value parsers shared by the loader and its tests. Return 0, or -EINVAL / -ERANGE. */
int cfg_parse_duration(const char *s, uint64_t *ms);	/* 250ms 5s 30m 2h; bare = seconds */
int cfg_parse_size(const char *s, uint64_t *bytes);	/* 512 16k 4m; bare = bytes */
int cfg_parse_bool(const char *s, bool *b);		/* on|off (yes|no, true|false, 1|0) */

/* Writes the generated key reference (Markdown) built from the same table the loader uses. */
void config_write_reference(FILE *f);
/* The same reference as roff (.SS per section, .TP per key): the KEYS part of ringedge.ini(5),
 * man/ringedge.ini.5 carries it between its generated-part markers. */
void config_write_reference_man(FILE *f);

/* Writes the effective configuration, defaults filled in, as INI (like `nginx -T`). */
void config_dump(const struct config *c, FILE *f);

#endif
