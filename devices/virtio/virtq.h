/* virtq.h: the split virtqueue (virtio 1.x spec 2.7), independent of KVM and of any transport.
 *
 * Hostile-guest safe by construction: every ring and buffer address goes through guest_ptr();
 * each descriptor is copied out of guest memory before it is looked at; a chain is capped at the
 * queue size; loops, bad addresses, length overflow, a readable descriptor after a writable one,
 * nested indirect tables and bad queue sizes make virtq_pop() fail and mark the queue broken
 * (the transport then sets NEEDS_RESET). Buffers are handed out as iovecs pointing straight into
 * guest memory so a backend can readv/writev without a bounce copy.
 *
 * Threads: a queue is used by one thread at a time (its device's datapath thread); nothing here
 * locks. The guest's vCPUs are the other side and are synchronised with by the barriers of 2.7.
 *
 * Draining a queue (2.7.10): set_notify(false); while (virtq_pop() == 1) ...; push/flush; then
 * if (virtq_set_notify(true)) drain again, else wait for the next kick. A device that only pops
 * until the ring is empty also works: with EVENT_IDX an empty pop re-arms avail_event itself. */
#ifndef MINIVMM_VIRTQ_H
#define MINIVMM_VIRTQ_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include "vmm/guest_mem.h"

#define VIRTQ_MAX_SIZE 1024 /* largest queue size a device may offer */

struct virtq {
	const struct guest_mem *mem;
	uint16_t size;        /* number of descriptors (power of two) */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool event_idx;       /* VIRTIO_F_RING_EVENT_IDX negotiated */
	bool indirect;        /* VIRTIO_F_INDIRECT_DESC negotiated */
	bool ready;           /* virtq_init succeeded and not broken */
	bool broken;          /* malformed guest input seen: device needs reset */
	uint16_t last_avail;  /* next avail ring index to consume */
	uint16_t used_idx;    /* our copy of used->idx */
	uint16_t signalled_used; /* used_idx at the last interrupt (event idx) */
	bool signalled_valid;

	/* Private to virtq.c. */
	uint16_t shadow_avail;  /* avail->idx as last read: avail->idx is read once per batch */
	uint16_t pending_used;  /* entries virtq_push()ed and not yet flushed */
	bool notify_off;        /* virtq_set_notify(false) in effect */
	const char *broken_why; /* what was malformed (for logs and tests), NULL if not broken */
	/* Host pointers to the rings, checked once by virtq_init (guest memory never moves). */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
};

/* One popped chain: iov[0..nr_out) are driver->device (readable), iov[nr_out..nr_out+nr_in) are
 * device->driver (writable). */
struct virtq_elem {
	uint16_t head;
	uint16_t nr_out, nr_in;
	uint32_t out_len, in_len; /* total bytes each way */
	struct iovec iov[VIRTQ_MAX_SIZE];
};

/* Validates size (power of two, 1..VIRTQ_MAX_SIZE), alignment (desc 16, avail 2, used 4) and that
 * all three rings lie in guest memory. 0 or -EINVAL. features = the negotiated feature bits. */
int virtq_init(struct virtq *vq, const struct guest_mem *mem, uint16_t size, uint64_t desc,
	       uint64_t avail, uint64_t used, uint64_t features);
void virtq_reset(struct virtq *vq);

/* Number of chains the driver has made available and we have not popped. */
uint16_t virtq_avail_count(const struct virtq *vq);
/* Pops the next chain into e. Returns 1 (got one), 0 (ring empty or queue not set up) or -1
 * (malformed: the queue is now broken, vq->broken set and vq->ready cleared, until reset).
 * Zero-length descriptors are accepted and produce no iovec. A chain may be direct descriptors
 * (at most size of them), optionally ending in one indirect descriptor whose table holds at most
 * VIRTQ_MAX_SIZE entries; it may hold at most VIRTQ_MAX_SIZE non-empty buffers in all. */
int virtq_pop(struct virtq *vq, struct virtq_elem *e);
/* Marks the queue broken (as a malformed chain does) because the device cannot use what the
 * driver put in it, e.g. a chain in the wrong direction: pops fail from now on until reset. */
void virtq_break(struct virtq *vq, const char *why);
/* Gives back the last n popped chains (pop undone), e.g. when the backend had no room. */
void virtq_unpop(struct virtq *vq, uint16_t n);
/* Adds head with `len` bytes written to the used ring after the entries already pushed (not yet
 * visible: call virtq_flush with the number pushed). */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);
/* Adds an entry at used ring position used_idx+i without publishing (mergeable RX fills several
 * before one flush). Do not mix with virtq_push() in one batch. */
void virtq_fill(struct virtq *vq, uint16_t head, uint32_t len, uint16_t i);
/* Publishes count filled entries: used->idx += count, with the write barrier the spec requires. */
void virtq_flush(struct virtq *vq, uint16_t count);
/* 2.7.10: whether the driver wants an interrupt for what was published since the last one
 * (used_event with u16 wraparound, or VIRTQ_AVAIL_F_NO_INTERRUPT). Updates the signalled mark. */
bool virtq_need_interrupt(struct virtq *vq);
/* 2.7.10: ask the driver not to kick (false) or to kick again (true): VIRTQ_USED_F_NO_NOTIFY or
 * avail_event. Enabling returns true if buffers arrived meanwhile (the caller must re-check). */
bool virtq_set_notify(struct virtq *vq, bool enable);

/* TinyEMU-style copies between a flat buffer and the chain's readable / writable parts, starting
 * at byte `off` of that part. Return the bytes copied. */
size_t virtq_copy_from_out(const struct virtq_elem *e, size_t off, void *dst, size_t len);
size_t virtq_copy_to_in(const struct virtq_elem *e, size_t off, const void *src, size_t len);
#endif
