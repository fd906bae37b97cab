#include "core/io/ring.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/lib/log.h"

static int
ring_setup(struct ring *r, unsigned entries, int id)
{
	/* best first; each later entry drops what an older kernel rejects with EINVAL */
	static const struct {
		unsigned	 flags;
		const char	*name;
	} tries[] = {
		{ IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, "SINGLE_ISSUER|DEFER_TASKRUN" },
		{ IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN, "SINGLE_ISSUER|COOP_TASKRUN" },
		{ IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN" },
		{ 0, "no setup flags" },
	};
	int rc = -EINVAL;

	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		struct io_uring_params p;

		memset(&p, 0, sizeof(p));
		p.flags = tries[i].flags | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
		p.cq_entries = entries * 4;
		rc = io_uring_queue_init_params(entries, &r->uring, &p);
		if (rc == -EINVAL) {
			/* SUBMIT_ALL/CQSIZE are older than any flag above; retry plain too */
			p.flags = tries[i].flags;
			rc = io_uring_queue_init_params(entries, &r->uring, &p);
		}
		if (rc == 0) {
			r->setup_flags = p.flags;
			if (i > 0 && id == 0)
				log_info("io_uring: fell back to %s (kernel refused the better "
					 "setup flags)", tries[i].name);
			return 0;
		}
		if (rc != -EINVAL)
			break;
	}
	return rc;
}

static void
ring_setup_bufs(struct ring *r, int id)
{
	struct io_uring_buf_reg reg;
	size_t brsz = RING_NBUFS * sizeof(struct io_uring_buf);
	int rc;

	/* liburing 2.3 has no io_uring_setup_buf_ring: allocate and register by hand */
	r->br = mmap(NULL, brsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->br == MAP_FAILED) {
		r->br = NULL;
		return;
	}
	r->bufs = malloc((size_t)RING_NBUFS * RING_BUF_SIZE);
	if (r->bufs == NULL)
		goto fail;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)r->br;
	reg.ring_entries = RING_NBUFS;
	reg.bgid = RING_BGID;
	rc = io_uring_register_buf_ring(&r->uring, &reg, 0);
	if (rc < 0) {
		if (id == 0)
			log_warn("io_uring: provided buffer rings unavailable (%s); receiving "
				 "into per-connection buffers", strerror(-rc));
		goto fail;
	}
	io_uring_buf_ring_init(r->br);
	for (unsigned i = 0; i < RING_NBUFS; i++)
		io_uring_buf_ring_add(r->br, ring_buf(r, i), RING_BUF_SIZE, (unsigned short)i,
			io_uring_buf_ring_mask(RING_NBUFS), (int)i);
	io_uring_buf_ring_advance(r->br, RING_NBUFS);
	r->has_buf_ring = true;
	return;
fail:
	free(r->bufs);
	r->bufs = NULL;
	munmap(r->br, brsz);
	r->br = NULL;
}

int
ring_init(struct ring *r, unsigned entries, int id)
{
	struct io_uring_probe *probe;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = ring_setup(r, entries, id);
	if (rc < 0)
		return rc;
	probe = io_uring_get_probe_ring(&r->uring);
	if (probe != NULL) {
		static const int need[] = { IORING_OP_ACCEPT, IORING_OP_RECV, IORING_OP_SEND,
			IORING_OP_CONNECT, IORING_OP_TIMEOUT, IORING_OP_READ, IORING_OP_POLL_ADD,
			IORING_OP_ASYNC_CANCEL };

		for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
			if (!io_uring_opcode_supported(probe, need[i])) {
				log_error("io_uring: kernel lacks opcode %d, which ringedge needs",
					  need[i]);
				io_uring_free_probe(probe);
				io_uring_queue_exit(&r->uring);
				return -ENOSYS;
			}
		}
		r->has_send_zc = io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
		r->has_splice = io_uring_opcode_supported(probe, IORING_OP_SPLICE);
		io_uring_free_probe(probe);
	}
	/* a registered ring fd spares the kernel an fd lookup on every io_uring_enter */
	rc = io_uring_register_ring_fd(&r->uring);
	r->ring_fd_registered = rc == 1;
	/* multishot accept has no opcode of its own: assume it and fall back on EINVAL */
	r->has_multishot_accept = true;
	ring_setup_bufs(r, id);
	if (id == 0) {
		log_info("io_uring: setup flags 0x%x%s%s; buffer ring %s; send_zc %s (unused: "
			 "loopback and small responses copy anyway); splice %s; ring fd %s",
			 r->setup_flags,
			 r->setup_flags & IORING_SETUP_SINGLE_ISSUER ? " SINGLE_ISSUER" : "",
			 r->setup_flags & IORING_SETUP_DEFER_TASKRUN ? " DEFER_TASKRUN" : "",
			 r->has_buf_ring ? "yes" : "no",
			 r->has_send_zc ? "available" : "unavailable",
			 r->has_splice ? "available" : "unavailable",
			 r->ring_fd_registered ? "registered" : "not registered");
	}
	return 0;
}

void
ring_exit(struct ring *r)
{
	io_uring_queue_exit(&r->uring);
	if (r->br != NULL)
		munmap(r->br, RING_NBUFS * sizeof(struct io_uring_buf));
	free(r->bufs);
}

struct io_uring_sqe *
ring_sqe(struct ring *r, uint64_t ud)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);

	for (int i = 0; sqe == NULL && i < 3; i++) {
		io_uring_submit(&r->uring);
		sqe = io_uring_get_sqe(&r->uring);
	}
	if (sqe == NULL)
		return NULL;
	io_uring_sqe_set_data64(sqe, ud);
	r->pending++;
	return sqe;
}

void
ring_buf_put(struct ring *r, unsigned bid)
{
	io_uring_buf_ring_add(r->br, ring_buf(r, bid), RING_BUF_SIZE, (unsigned short)bid,
		io_uring_buf_ring_mask(RING_NBUFS), 0);
	io_uring_buf_ring_advance(r->br, 1);
	r->bufs_out--;
}

bool
ring_cqe_pending(struct ring *r, uint64_t ud)
{
	struct io_uring *u = &r->uring;
	unsigned head = r->cq_next, tail = io_uring_smp_load_acquire(u->cq.ktail);
	unsigned mask = u->cq.ring_mask, shift = (u->flags & IORING_SETUP_CQE32) ? 1 : 0;

	for (; head != tail; head++)
		if (u->cq.cqes[(head & mask) << shift].user_data == ud)
			return true;
	return false;
}
