#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int log_threshold = LOG_INFO;

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
	/* one write per line: lines from several threads never interleave */
	if (write(STDERR_FILENO, buf, n) < 0)
		return;
}

int
log_open(const char *path)
{
	int fd;

	if (path == NULL || strcmp(path, "stderr") == 0)
		return 0;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	/* dup2 swaps fd 2 atomically: a line being written goes to the old file or the new */
	if (dup2(fd, STDERR_FILENO) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	close(fd);
	return 0;
}
