/*
 * io_uring setup with feature probing and fallbacks, SQE allocation that never fails
 * silently, and the provided-buffer ring. Owner: one worker thread (the ring is created on
 * it, as IORING_SETUP_SINGLE_ISSUER requires). Functions return 0 or -errno.
 */
#ifndef RINGEDGE_CORE_IO_RING_H
#define RINGEDGE_CORE_IO_RING_H

#include "core/io/ring-t.h"

/* Creates the ring (entries SQEs), probes features, registers the buffer ring. `id` is for
 * the log: worker 0 logs what was not available. */
int ring_init(struct ring *r, unsigned entries, int id);
void ring_exit(struct ring *r);

/*
 * Returns an SQE with user_data set. When the SQ is full it submits and retries; returns NULL
 * only if the kernel keeps refusing (then the caller treats it as -EBUSY).
 */
struct io_uring_sqe *ring_sqe(struct ring *r, uint64_t ud);

/* Buffer address of provided buffer bid. */
static inline char *
ring_buf(struct ring *r, unsigned bid)
{
	return r->bufs + (size_t)bid * RING_BUF_SIZE;
}

/*
 * Whether a completion with user_data ud is in the CQ, not yet dispatched (after the one being
 * dispatched now). Reads shared ring memory only: no syscall.
 */
bool ring_cqe_pending(struct ring *r, uint64_t ud);

/* Gives buffer bid back to the kernel. */
void ring_buf_put(struct ring *r, unsigned bid);

#endif
