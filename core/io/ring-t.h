/*
 * Per-worker io_uring types (core/io/ring.c): the ring, what the kernel supports, the provided
 * buffer ring and the typed user_data every submission carries.
 */
#ifndef RINGEDGE_CORE_IO_RING_T_H
#define RINGEDGE_CORE_IO_RING_T_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * user_data = op (8 bits) | slot (24 bits) | generation (32 bits).
 * slot: connection slot in the worker's pool (or listener index for OP_ACCEPT); generation:
 * the slot's generation when the op was submitted, so a completion for a slot that has since
 * been reused is recognised as stale and dropped.
 */
enum ring_op {
	OP_NONE = 0,
	OP_ACCEPT,	/* multishot accept on a listener; slot = listener index */
	OP_RECV,	/* conn recv (maybe buffer-select) */
	OP_SEND,	/* conn send */
	OP_CONNECT,	/* backend connect */
	OP_POLLIN,	/* conn POLLIN poll (splice readiness of its rpump) */
	OP_POLLOUT,	/* conn POLLOUT poll (splice readiness of its wpump) */
	OP_TICK,	/* the worker's recurring timeout */
	OP_EVENT,	/* read of the worker's eventfd (stop, reopen) */
	OP_CANCEL,	/* async cancel: completion ignored */
};

#define UD_SLOT_MAX	((1u << 24) - 1)

static inline uint64_t
ud_pack(unsigned op, uint32_t slot, uint32_t gen)
{
	return (uint64_t)op << 56 | (uint64_t)(slot & UD_SLOT_MAX) << 32 | gen;
}

static inline unsigned ud_op(uint64_t ud) { return (unsigned)(ud >> 56); }
static inline uint32_t ud_slot(uint64_t ud) { return (uint32_t)(ud >> 32) & UD_SLOT_MAX; }
static inline uint32_t ud_gen(uint64_t ud) { return (uint32_t)ud; }

/* Provided receive buffers: one buffer ring per worker (group RING_BGID). */
#define RING_BGID	1
#define RING_BUF_SIZE	16384
#define RING_NBUFS	256	/* power of two */

struct ring {
	struct io_uring		 uring;
	unsigned		 setup_flags;	/* what io_uring_queue_init_params accepted */
	bool			 has_buf_ring;	/* provided buffer ring registered */
	bool			 has_multishot_accept; /* cleared when the kernel says EINVAL */
	bool			 has_send_zc;
	bool			 has_splice;
	bool			 ring_fd_registered;	/* io_uring_register_ring_fd worked */
	struct io_uring_buf_ring *br;
	char			*bufs;		/* RING_NBUFS * RING_BUF_SIZE */
	unsigned		 bufs_out;	/* buffers handed to us and not returned */
	unsigned long long	 nobufs;	/* recvs that found the ring empty (ENOBUFS) */
	unsigned		 pending;	/* SQEs prepared since the last submit */
	unsigned		 cq_next;	/* CQ index after the CQE being dispatched */
};

#endif
