/*
 * LD_PRELOAD shim for test_proxy_http.py: splice(2) into a socket moves at most
 * SPLICE_CAP bytes per call (default 4096), as a kernel does when the socket's send buffer
 * has only that much room while the peer keeps reading. Every drain of the proxy's pipe is
 * then partial but never EAGAIN, a state that real load produces only now and then.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>

ssize_t
splice(int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len, unsigned int flags)
{
	static ssize_t (*real)(int, loff_t *, int, loff_t *, size_t, unsigned int);
	static size_t cap;
	struct stat st;

	if (real == NULL) {
		const char *e = getenv("SPLICE_CAP");

		real = (ssize_t (*)(int, loff_t *, int, loff_t *, size_t, unsigned int))
			dlsym(RTLD_NEXT, "splice");
		cap = e != NULL ? strtoul(e, NULL, 10) : 4096;
	}
	if (cap > 0 && len > cap && fstat(fd_out, &st) == 0 && S_ISSOCK(st.st_mode))
		len = cap;
	return real(fd_in, off_in, fd_out, off_out, len, flags);
}
