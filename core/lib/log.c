#include "core/lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int log_threshold = LOG_INFO;
/* the original stderr while start-up lines are copied there (see log_tee_end), else -1 */
static int tee_fd = -1;
static bool tee_starting = true;	/* the first log_open saves stderr */
/* lines logged before the first log_open (configuration warnings): replayed into error_log */
static char early[8192];
static size_t early_len;

static const char *const level_names[] = { "error", "warn", "info", "debug" };
/*
 * syslog priorities the journal reads from a "<N>" line prefix (sd-daemon.h SD_ERR, SD_WARNING,
 * SD_INFO, SD_DEBUG; written out here: this file includes nothing but libc).
 */
static const char *const journal_prefix[] = { "<3>", "<4>", "<6>", "<7>" };
#define JOURNAL_PREFIX_LEN	3
/* whether fd 2 / tee_fd is connected to the journal: set by log_open, read by every thread */
static _Atomic int journal_err = -1;	/* -1: not checked yet */
static int journal_tee;

/*
 * systemd's documented check (systemd.exec(5), JOURNAL_STREAM): the variable holds the
 * "device:inode" of the stream it connected; fd is the journal only if fstat matches, since a
 * shell redirection or error_log may have replaced it since.
 */
static int
is_journal(int fd)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (e == NULL || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(fd, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

const char *
log_level_name(int level)
{
	if (level < 0 || level > LOG_DEBUG)
		return "?";
	return level_names[level];
}

int
log_level_parse(const char *s)
{
	for (int i = 0; i <= LOG_DEBUG; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

/* One write per call (lines from several threads never interleave), kept for the error log
 * while it is not open yet, and copied to the original stderr while start-up lines are. */
/*
 * line: plen bytes of "<N>" priority prefix (0 or JOURNAL_PREFIX_LEN), then n bytes of text.
 * The prefix goes only to a destination that is the journal.
 */
static void
log_write(const char *line, size_t plen, size_t n)
{
	const char *buf = line + plen;
	int j = atomic_load_explicit(&journal_err, memory_order_relaxed);

	if (j < 0) {
		/* stderr untouched by log_open: check it once (a race only writes the same value) */
		j = is_journal(STDERR_FILENO);
		atomic_store_explicit(&journal_err, j, memory_order_relaxed);
	}
	if (write(STDERR_FILENO, j ? line : buf, j ? plen + n : n) < 0)
		return;
	if (tee_starting && early_len + n <= sizeof(early)) {
		/* only the main thread logs before log_open: no race on early[] */
		memcpy(early + early_len, buf, n);
		early_len += n;
	}
	if (tee_fd >= 0 && write(tee_fd, journal_tee ? line : buf, journal_tee ? plen + n : n) < 0)
		return;
}

void
log_msg(int level, const char *fmt, ...)
{
	char line[JOURNAL_PREFIX_LEN + 2048], *buf = line + JOURNAL_PREFIX_LEN;
	const size_t size = sizeof(line) - JOURNAL_PREFIX_LEN;
	struct timeval tv;
	struct tm tm;
	size_t n;
	va_list ap;
	int r;

	memcpy(line, journal_prefix[level >= 0 && level <= LOG_DEBUG ? level : LOG_ERROR],
	       JOURNAL_PREFIX_LEN);
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(buf + n, size - n, ".%03ldZ [%s] ", (long)tv.tv_usec / 1000,
		     log_level_name(level));
	n += (size_t)r;
	va_start(ap, fmt);
	r = vsnprintf(buf + n, size - n - 1, fmt, ap);
	va_end(ap);
	if (r < 0)
		r = 0;
	n += (size_t)r < size - n - 1 ? (size_t)r : size - n - 2;
	buf[n++] = '\n';
	log_write(line, JOURNAL_PREFIX_LEN, n);
}

void
log_raw(const char *text)
{
	log_write(text, 0, strlen(text));
}

void
log_tee_end(void)
{
	if (tee_fd >= 0)
		close(tee_fd);
	tee_fd = -1;
}

int
log_open(const char *path)
{
	int fd;

	if (path == NULL || strcmp(path, "stderr") == 0) {
		tee_starting = false;
		return 0;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (tee_starting) {
		tee_starting = false;
		tee_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
		journal_tee = tee_fd >= 0 && is_journal(tee_fd);
		/* the lines already shown on stderr (configuration warnings) go to the file too */
		if (early_len > 0 && write(fd, early, early_len) < 0)
			early_len = 0;
	}
	/* dup2 swaps fd 2 atomically: a line being written goes to the old file or the new */
	if (dup2(fd, STDERR_FILENO) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	close(fd);
	atomic_store_explicit(&journal_err, is_journal(STDERR_FILENO), memory_order_relaxed);
	return 0;
}
