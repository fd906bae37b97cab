/* Per-worker access log buffer (core/proxy/accesslog.c). */
#ifndef RINGEDGE_CORE_PROXY_ACCESSLOG_T_H
#define RINGEDGE_CORE_PROXY_ACCESSLOG_T_H

#include <stddef.h>

#define ALOG_BUF	65536

struct accesslog {
	int	 fd;		/* -1: off */
	int	 owned;		/* fd was opened by us (a path): reopened on SIGUSR1 */
	char	*path;
	char	*buf;		/* ALOG_BUF; whole lines only */
	size_t	 len;
};

#endif
