/* fake_ring.h: the driver's side of one split virtqueue over fake guest memory, for unit tests of
 * virtq.c and of the devices built on it (virtio-net).
 *
 * Memory: one malloc of exactly the guest memory size, at guest-physical 0 (guest_mem_fake), so
 * ASan reports any read or write past its end. Layout, in guest-physical order:
 *
 *     desc table (16 * size) | avail ring (6 + 2 * size) | data area | used ring (6 + 8 * size)
 *
 * The used ring (with avail_event) ends exactly at the end of memory. The data area is where
 * buffers and indirect tables go (a bump allocator, 16-byte aligned).
 *
 * Typical use:
 *
 *     struct fake_ring fr; struct virtq vq; struct virtq_elem e;
 *     fake_ring_init(&fr, 8, 4096);
 *     fake_ring_attach(&fr, &vq, 1ULL << VIRTIO_RING_F_EVENT_IDX);
 *     struct fake_seg s[] = { FAKE_OUT("hello", 5), FAKE_IN(64) };
 *     uint16_t head = fake_ring_send(&fr, s, 2);       // chain built and published
 *     ... device code: virtq_pop(&vq, &e), write into e, virtq_push/flush ...
 *     uint32_t id, len; fake_ring_get_used(&fr, &id, &len);  // what the device gave back
 *     memcmp(fake_ring_host(&fr, s[1].gpa, len), expected, len);
 *     fake_ring_free(&fr);
 *
 * Descriptors are handed out round-robin from 0 and never freed: at most `size` of them may be
 * outstanding at once (call fake_ring_recycle() to start again from 0). The low-level setters
 * (fake_ring_set_desc & co) let a test write anything a hostile driver could. Misuse of the helper
 * itself (data area exhausted, ...) fails the running Check test. */
#ifndef MINIVMM_FAKE_RING_H
#define MINIVMM_FAKE_RING_H
#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

#include "devices/virtio/virtq.h"
#include "vmm/guest_mem.h"

/* Feature bits for fake_ring_attach(). */
#define FAKE_RING_F_INDIRECT (1ULL << VIRTIO_RING_F_INDIRECT_DESC)
#define FAKE_RING_F_EVENT_IDX (1ULL << VIRTIO_RING_F_EVENT_IDX)

struct fake_ring {
	uint8_t *buf;          /* the fake guest memory (exact-size malloc) */
	uint64_t mem_size;
	struct guest_mem mem;
	uint16_t size;         /* queue size */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint64_t data_gpa, data_end, data_next; /* data area and its bump pointer */
	uint16_t next_desc;    /* next descriptor index to hand out */
	uint16_t avail_idx;    /* the driver's avail idx (as last published) */
	uint16_t used_seen;    /* used entries the driver has consumed via fake_ring_get_used() */
};

/* One buffer of a chain. Set data/len/in; fake_ring_add_*() allocate it in the data area (copying
 * data for readable buffers, zeroing writable ones) and store its guest address in gpa. If gpa is
 * already non-zero, that address is used as is and nothing is allocated or copied (hostile
 * addresses). data may be NULL (zero-filled). */
struct fake_seg {
	const void *data;
	uint32_t len;
	bool in; /* device-writable (VRING_DESC_F_WRITE) */
	uint64_t gpa;
};
#define FAKE_OUT(d, l) ((struct fake_seg){ .data = (d), .len = (l), .in = false })
#define FAKE_IN(l) ((struct fake_seg){ .len = (l), .in = true })

/* Allocates memory for a ring of `size` descriptors (any u16, so bad sizes can be tested) with
 * data_bytes of data area. Everything starts zeroed, indices 0. */
void fake_ring_init(struct fake_ring *fr, uint16_t size, uint64_t data_bytes);
void fake_ring_free(struct fake_ring *fr);
/* A ring `in` of `size` descriptors and data_bytes of data area carved out of fr's data area: the
 * same guest memory at other addresses, as a driver that re-initialises a device sets up new rings.
 * It shares fr's memory: never fake_ring_free() it. */
void fake_ring_init_within(struct fake_ring *in, struct fake_ring *fr, uint16_t size, uint64_t data_bytes);

/* virtq_init() on this ring's addresses; returns its result. */
int fake_ring_attach(struct fake_ring *fr, struct virtq *vq, uint64_t features);

/* Host pointer to [gpa, gpa+len) of the fake memory (fails the test if outside). */
void *fake_ring_host(struct fake_ring *fr, uint64_t gpa, uint64_t len);
/* Waits (up to about 2 s) until the device's used index reaches idx, for tests where the device
 * runs on its own thread. */
bool fake_ring_wait_used(struct fake_ring *fr, uint16_t idx);
/* len bytes of the data area (16-aligned), filled from init or zeroed; returns the gpa. */
uint64_t fake_ring_alloc(struct fake_ring *fr, uint64_t len, const void *init);

/* Builds a chain of n buffers from descriptors next_desc.. (NEXT-linked); returns its head. Not
 * yet published. */
uint16_t fake_ring_add_chain(struct fake_ring *fr, struct fake_seg *segs, unsigned n);
/* Builds an indirect table of n buffers in the data area and one descriptor pointing at it
 * (VRING_DESC_F_INDIRECT); returns that descriptor's index. Not yet published. Returns the
 * table's gpa in *table_gpa if not NULL (to corrupt it). */
uint16_t fake_ring_add_indirect(struct fake_ring *fr, struct fake_seg *segs, unsigned n,
				uint64_t *table_gpa);
/* Puts head in the avail ring and publishes it (avail->idx + 1). */
void fake_ring_publish(struct fake_ring *fr, uint16_t head);
/* fake_ring_add_chain() + fake_ring_publish(). */
uint16_t fake_ring_send(struct fake_ring *fr, struct fake_seg *segs, unsigned n);
/* Starts handing out descriptors from 0 again and empties the data area. */
void fake_ring_recycle(struct fake_ring *fr);

/* Raw writes, as a hostile driver would do them. */
void fake_ring_set_desc(struct fake_ring *fr, uint16_t i, uint64_t addr, uint32_t len,
			uint16_t flags, uint16_t next);
/* Writes one entry of an indirect table at table_gpa. */
void fake_ring_set_table_desc(struct fake_ring *fr, uint64_t table_gpa, uint16_t i, uint64_t addr,
			      uint32_t len, uint16_t flags, uint16_t next);
void fake_ring_set_avail_entry(struct fake_ring *fr, uint16_t pos, uint16_t head);
void fake_ring_set_avail_idx(struct fake_ring *fr, uint16_t idx);
void fake_ring_set_avail_flags(struct fake_ring *fr, uint16_t flags);
void fake_ring_set_used_event(struct fake_ring *fr, uint16_t v);

/* What the device wrote. */
uint16_t fake_ring_used_idx(struct fake_ring *fr);
uint16_t fake_ring_used_flags(struct fake_ring *fr);
uint16_t fake_ring_avail_event(struct fake_ring *fr);
/* The used entry at position pos (any u16; taken modulo size). */
void fake_ring_used_elem(struct fake_ring *fr, uint16_t pos, uint32_t *id, uint32_t *len);
/* Next used entry the driver has not consumed yet: true and *id, *len set; false if none. */
bool fake_ring_get_used(struct fake_ring *fr, uint32_t *id, uint32_t *len);

/* Moves both sides' indices to idx as if idx chains had already gone round (u16 wraparound
 * tests): avail->idx, used->idx, and the virtq's last_avail/used_idx and its private shadows. */
void fake_ring_warp(struct fake_ring *fr, struct virtq *vq, uint16_t idx);
#endif
