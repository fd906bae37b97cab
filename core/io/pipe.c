#include <fcntl.h>
#include <stdbool.h>
#include <unistd.h>

#include "core/io/pipe.h"

void
pipe_pool_init(struct pipe_pool *pp)
{
	for (int i = 0; i < PIPE_POOL_MAX; i++)
		pp->fds[i][0] = pp->fds[i][1] = -1;
	pp->nfree = 0;
	pp->ncreated = 0;
	pp->size = 0;
}

void
pipe_pool_free(struct pipe_pool *pp)
{
	for (int i = 0; i < PIPE_POOL_MAX; i++) {
		if (pp->fds[i][0] >= 0) {
			close(pp->fds[i][0]);
			close(pp->fds[i][1]);
		}
	}
}

int
pipe_get(struct pipe_pool *pp)
{
	int idx;

	if (pp->nfree > 0)
		return pp->free[--pp->nfree];
	for (idx = 0; idx < PIPE_POOL_MAX; idx++)
		if (pp->fds[idx][0] < 0)
			break;
	if (idx == PIPE_POOL_MAX)
		return -1;
	if (pipe2(pp->fds[idx], O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	/* best effort: past pipe-user-pages-soft the kernel refuses and 64 KiB stays */
	int sz = fcntl(pp->fds[idx][1], F_SETPIPE_SZ, PIPE_SIZE);
	if (sz < 0)
		sz = fcntl(pp->fds[idx][1], F_GETPIPE_SZ);
	pp->size = sz > 0 ? sz : 65536;
	pp->ncreated++;
	return idx;
}

void
pipe_put(struct pipe_pool *pp, int idx, bool empty)
{
	if (idx < 0)
		return;
	if (!empty) {
		close(pp->fds[idx][0]);
		close(pp->fds[idx][1]);
		pp->fds[idx][0] = pp->fds[idx][1] = -1;
		pp->ncreated--;
		return;
	}
	pp->free[pp->nfree++] = idx;
}
