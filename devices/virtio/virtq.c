/* virtq.c: the split virtqueue (virtio 1.x spec 2.7): popping descriptor chains a hostile guest
 * wrote, and handing used buffers back with the barriers and notification rules of 2.7.7-2.7.10.
 *
 * Rules kept throughout: every guest address goes through guest_ptr(); anything the guest can
 * change under us (a descriptor, an avail ring entry, an index) is read exactly once into a local
 * and only the local is checked and used. */
#include "devices/virtio/virtq.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include "vmm/iov.h"

/* The compiler must not re-load a guest value after we copied it (the guest may have changed it
 * since): a compiler barrier after each memcpy out of guest memory forbids that. */
#define barrier() __asm__ __volatile__("" ::: "memory")

/* Guest-visible u16 ring fields are naturally aligned (checked by virtq_init). */
static inline uint16_t ring_load16(const void *p, int order)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, order));
}

static inline void ring_store16(void *p, uint16_t v, int order)
{
	__atomic_store_n((uint16_t *)p, htole16(v), order);
}

static void *used_event_ptr(const struct virtq *vq)
{
	return &vq->avail->ring[vq->size];
}

static void *avail_event_ptr(const struct virtq *vq)
{
	return &vq->used->ring[vq->size];
}

static int vq_break(struct virtq *vq, const char *why)
{
	vq->broken = true;
	vq->ready = false;
	vq->broken_why = why;
	return -1;
}

void virtq_break(struct virtq *vq, const char *why)
{
	vq_break(vq, why);
}

int virtq_init(struct virtq *vq, const struct guest_mem *mem, uint16_t size, uint64_t desc,
	       uint64_t avail, uint64_t used, uint64_t features)
{
	memset(vq, 0, sizeof(*vq));
	/* 2.7: Queue Size is a power of two (split rings) and at most what we offered. */
	if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return -EINVAL;
	/* 2.7 table "Virtqueue Part / Alignment": desc 16, avail 2, used 4. */
	if ((desc & (VRING_DESC_ALIGN_SIZE - 1)) || (avail & (VRING_AVAIL_ALIGN_SIZE - 1)) ||
	    (used & (VRING_USED_ALIGN_SIZE - 1)))
		return -EINVAL;
	/* Sizes include used_event / avail_event, which exist whether or not EVENT_IDX is used. */
	struct vring_desc *d = guest_ptr(mem, desc, sizeof(struct vring_desc) * size);
	struct vring_avail *a = guest_ptr(mem, avail, 6 + 2 * (uint64_t)size);
	struct vring_used *u = guest_ptr(mem, used, 6 + sizeof(struct vring_used_elem) * size);
	if (!d || !a || !u)
		return -EINVAL;

	vq->mem = mem;
	vq->size = size;
	vq->desc_gpa = desc;
	vq->avail_gpa = avail;
	vq->used_gpa = used;
	vq->desc = d;
	vq->avail = a;
	vq->used = u;
	vq->event_idx = features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	/* No interrupt sent yet: the first virtq_need_interrupt() says yes (an extra interrupt
	 * is harmless, a lost one hangs the driver). */
	vq->signalled_valid = false;
	vq->ready = true;
	return 0;
}

void virtq_reset(struct virtq *vq)
{
	memset(vq, 0, sizeof(*vq));
}

uint16_t virtq_avail_count(const struct virtq *vq)
{
	if (!vq->ready)
		return 0;
	return (uint16_t)(ring_load16(&vq->avail->idx, __ATOMIC_ACQUIRE) - vq->last_avail);
}

/* Reads avail->idx (once per batch). The acquire pairs with the driver's write barrier before
 * its idx update (2.7.13), so ring entries read after it are the ones it published. */
static int avail_refresh(struct virtq *vq)
{
	uint16_t idx = ring_load16(&vq->avail->idx, __ATOMIC_ACQUIRE);
	/* A driver never has more than size chains outstanding (2.7.6). */
	if ((uint16_t)(idx - vq->last_avail) > vq->size)
		return vq_break(vq, "avail idx moved more than queue size ahead");
	vq->shadow_avail = idx;
	return 0;
}

/* 2.7.10: ask for a kick when avail idx passes last_avail; the full barrier orders that store
 * before our re-read of avail->idx, else a driver adding a buffer just now might read the old
 * avail_event, skip the kick, and we would sleep with work pending. */
static int avail_event_arm(struct virtq *vq)
{
	ring_store16(avail_event_ptr(vq), vq->last_avail, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return avail_refresh(vq);
}

struct chain_walk {
	struct virtq_elem *e;
	uint64_t total; /* bytes so far, both directions */
	bool seen_in;   /* a writable descriptor was seen: no readable one may follow (2.7.4.2) */
};

static int chain_add(struct virtq *vq, struct chain_walk *w, const struct vring_desc *d,
		     uint16_t flags)
{
	uint32_t len = le32toh(d->len);
	bool in = flags & VRING_DESC_F_WRITE;
	if (in)
		w->seen_in = true;
	else if (w->seen_in)
		return vq_break(vq, "readable descriptor after a writable one");
	w->total += len;
	if (w->total > UINT32_MAX)
		return vq_break(vq, "chain length overflows 32 bits");
	/* Zero-length buffers carry nothing, so they get no iovec and their address is never
	 * dereferenced (and so not checked). */
	if (len == 0)
		return 0;
	void *p = guest_ptr(vq->mem, le64toh(d->addr), len);
	if (!p)
		return vq_break(vq, "buffer outside guest memory");
	struct virtq_elem *e = w->e;
	unsigned n = e->nr_out + e->nr_in;
	if (n >= VIRTQ_MAX_SIZE)
		return vq_break(vq, "too many buffers in chain");
	e->iov[n] = (struct iovec){ .iov_base = p, .iov_len = len };
	if (in) {
		e->nr_in++;
		e->in_len += len;
	} else {
		e->nr_out++;
		e->out_len += len;
	}
	return 0;
}

/* Walks the chain at head. A chain is at most size direct descriptors, the last of which may
 * point to an indirect table of at most VIRTQ_MAX_SIZE entries chained from entry 0 (2.7.5.3).
 * Counting descriptors against those caps is also what stops loops. */
static int chain_walk(struct virtq *vq, struct virtq_elem *e, uint16_t head)
{
	struct chain_walk w = { .e = e };
	/* Bytes, not struct vring_desc: an indirect table may be misaligned in guest memory. */
	const uint8_t *table = (const uint8_t *)vq->desc;
	uint32_t table_len = vq->size, seen = 0;
	bool indirect = false;
	uint32_t idx = head;

	e->head = head;
	e->nr_out = e->nr_in = 0;
	e->out_len = e->in_len = 0;
	for (;;) {
		if (idx >= table_len)
			return vq_break(vq, "descriptor index out of range");
		if (++seen > table_len)
			return vq_break(vq, "descriptor chain loops or is longer than its table");
		struct vring_desc d;
		memcpy(&d, table + idx * sizeof(d), sizeof(d));
		barrier();
		uint16_t flags = le16toh(d.flags);

		if (flags & VRING_DESC_F_INDIRECT) {
			/* 2.7.5.3.1: only if negotiated, never with NEXT, never inside a table.
			 * The WRITE flag of this descriptor is ignored (2.7.5.3.2). */
			if (!vq->indirect)
				return vq_break(vq, "indirect descriptor not negotiated");
			if (indirect)
				return vq_break(vq, "nested indirect descriptor");
			if (flags & VRING_DESC_F_NEXT)
				return vq_break(vq, "indirect descriptor with NEXT");
			uint32_t len = le32toh(d.len);
			if (len == 0 || len % sizeof(struct vring_desc) ||
			    len / sizeof(struct vring_desc) > VIRTQ_MAX_SIZE)
				return vq_break(vq, "bad indirect table length");
			table = guest_ptr(vq->mem, le64toh(d.addr), len);
			if (!table)
				return vq_break(vq, "indirect table outside guest memory");
			table_len = len / sizeof(struct vring_desc);
			indirect = true;
			seen = 0;
			idx = 0;
			continue;
		}
		if (chain_add(vq, &w, &d, flags) < 0)
			return -1;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		idx = le16toh(d.next);
	}
}

int virtq_pop(struct virtq *vq, struct virtq_elem *e)
{
	if (vq->broken)
		return -1;
	if (!vq->ready)
		return 0;
	if (vq->last_avail == vq->shadow_avail) {
		if (avail_refresh(vq) < 0)
			return -1;
		if (vq->last_avail == vq->shadow_avail) {
			if (!vq->event_idx || vq->notify_off)
				return 0;
			if (avail_event_arm(vq) < 0)
				return -1;
			if (vq->last_avail == vq->shadow_avail)
				return 0;
		}
	}
	/* Ring entries are read after the acquire load of avail->idx in avail_refresh(). */
	uint16_t head = ring_load16(&vq->avail->ring[vq->last_avail & (vq->size - 1)],
				    __ATOMIC_RELAXED);
	if (head >= vq->size)
		return vq_break(vq, "avail ring head out of range");
	if (chain_walk(vq, e, head) < 0)
		return -1;
	vq->last_avail++;
	return 1;
}

void virtq_unpop(struct virtq *vq, uint16_t n)
{
	vq->last_avail -= n;
}

void virtq_fill(struct virtq *vq, uint16_t head, uint32_t len, uint16_t i)
{
	if (!vq->ready)
		return;
	struct vring_used_elem *u = &vq->used->ring[(uint16_t)(vq->used_idx + i) & (vq->size - 1)];
	u->id = htole32(head);
	u->len = htole32(len);
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	virtq_fill(vq, head, len, vq->pending_used);
	vq->pending_used++;
}

void virtq_flush(struct virtq *vq, uint16_t count)
{
	if (!vq->ready)
		return;
	uint16_t old = vq->used_idx, new = old + count;
	/* 2.7.8.2 / 2.7.13: the entries must be visible before the index that publishes them:
	 * the release store orders the ring writes above before it. */
	ring_store16(&vq->used->idx, new, __ATOMIC_RELEASE);
	vq->used_idx = new;
	vq->pending_used = count >= vq->pending_used ? 0 : vq->pending_used - count;
	/* If used idx ran past the mark of the last interrupt (65536 entries without one), the
	 * mark means nothing any more: interrupt next time. */
	if ((uint16_t)(new - vq->signalled_used) < (uint16_t)(new - old))
		vq->signalled_valid = false;
}

bool virtq_need_interrupt(struct virtq *vq)
{
	if (!vq->ready)
		return false;
	/* 2.7.10: the used idx we just published must be visible before we read the driver's
	 * suppression state, or driver and device could both decide the other will act. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t old = vq->signalled_used, new = vq->used_idx;
	bool valid = vq->signalled_valid;
	if (!vq->event_idx) {
		/* 2.7.7.2: without EVENT_IDX only the avail flags count. */
		vq->signalled_used = new;
		vq->signalled_valid = true;
		return !(ring_load16(&vq->avail->flags, __ATOMIC_RELAXED) &
			 VRING_AVAIL_F_NO_INTERRUPT);
	}
	uint16_t event = ring_load16(used_event_ptr(vq), __ATOMIC_RELAXED);
	vq->signalled_used = new;
	vq->signalled_valid = true;
	/* 2.7.10: interrupt if used_event lies in [old, new) (u16 arithmetic). */
	return !valid || vring_need_event(event, new, old);
}

bool virtq_set_notify(struct virtq *vq, bool enable)
{
	if (!vq->ready)
		return false;
	vq->notify_off = !enable;
	if (vq->event_idx) {
		/* With EVENT_IDX, "no kicks" is simply not moving avail_event forward: the driver
		 * kicks at most once more. VRING_USED_F_NO_NOTIFY is ignored then (2.7.10). */
		if (!enable)
			return false;
		if (avail_event_arm(vq) < 0)
			return true; /* broken: let the caller's pop report it */
	} else {
		uint16_t flags = enable ? 0 : VRING_USED_F_NO_NOTIFY;
		ring_store16(&vq->used->flags, flags, __ATOMIC_RELAXED);
		if (!enable)
			return false;
		/* Same race as avail_event: flag store before avail idx re-read. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (avail_refresh(vq) < 0)
			return true;
	}
	return vq->shadow_avail != vq->last_avail;
}

size_t virtq_copy_from_out(const struct virtq_elem *e, size_t off, void *dst, size_t len)
{
	return iov_to_buf(e->iov, e->nr_out, off, dst, len);
}

size_t virtq_copy_to_in(const struct virtq_elem *e, size_t off, const void *src, size_t len)
{
	return iov_from_buf(e->iov + e->nr_out, e->nr_in, off, src, len);
}
