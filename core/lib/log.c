#include "core/lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
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
static void
log_write(const char *buf, size_t n)
{
	if (write(STDERR_FILENO, buf, n) < 0)
		return;
	if (tee_starting && early_len + n <= sizeof(early)) {
		/* only the main thread logs before log_open: no race on early[] */
		memcpy(early + early_len, buf, n);
		early_len += n;
	}
	if (tee_fd >= 0 && write(tee_fd, buf, n) < 0)
		return;
}

void
log_msg(int level, const char *fmt, ...)
{
	char buf[2048];
	struct timeval tv;
	struct tm tm;
	size_t n;
	va_list ap;
	int r;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(buf + n, sizeof(buf) - n, ".%03ldZ [%s] ", (long)tv.tv_usec / 1000,
		     log_level_name(level));
	n += (size_t)r;
	va_start(ap, fmt);
	r = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (r < 0)
		r = 0;
	n += (size_t)r < sizeof(buf) - n - 1 ? (size_t)r : sizeof(buf) - n - 2;
	buf[n++] = '\n';
	log_write(buf, n);
}

void
log_raw(const char *text)
{
	log_write(text, strlen(text));
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
	return 0;
}
