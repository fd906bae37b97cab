/* Per-worker pool of pipes for splice (core/io/pipe.c). */
#ifndef RINGEDGE_CORE_IO_PIPE_T_H
#define RINGEDGE_CORE_IO_PIPE_T_H

#define PIPE_POOL_MAX	64		/* pipes per worker; beyond it bodies are copied */
#define PIPE_SIZE	(256 * 1024)	/* F_SETPIPE_SZ request; the kernel may give less */

struct pipe_pool {
	int	 fds[PIPE_POOL_MAX][2];	/* [0] read end, [1] write end; -1 when not created */
	int	 free[PIPE_POOL_MAX];	/* stack of free indexes */
	int	 nfree;
	int	 ncreated;
	int	 size;			/* capacity the kernel granted */
};

#endif
