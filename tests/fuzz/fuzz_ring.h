/* fuzz_ring.h: the driver's side of a split virtqueue as a fuzz input writes it: chains of
 * descriptors (direct, indirect, looping, pointing anywhere) built from input bytes into fenced
 * guest memory and published on the avail ring.
 *
 * Chain program, read from the input:
 *   count:u8                          1 + count % 8 descriptors, from the ring's cursor on
 *   per descriptor: flags:u8 len:u16 addr:u16 [next:u16 if RAW_NEXT] [addr:u64 if RAW_ADDR]
 * Addresses fold into the data area and lengths into what is left of it, unless the flags ask for
 * the raw values; an INDIRECT descriptor is followed by its table (1 + len % 8 entries, each in
 * the per-descriptor format) placed in the data area. */
#ifndef MINIVMM_FUZZ_RING_H
#define MINIVMM_FUZZ_RING_H
#include <stdint.h>

#include "tests/fuzz/fuzz_in.h"
#include "tests/fuzz/fuzz_mem.h"

/* Flags byte of a descriptor in the chain program (bits 0-2 are VRING_DESC_F_*'s). */
#define FUZZ_DESC_WRITE	   0x01 /* VRING_DESC_F_WRITE */
#define FUZZ_DESC_RAW_NEXT 0x02 /* next from the input, NEXT flag kept on the last one */
#define FUZZ_DESC_INDIRECT 0x04 /* VRING_DESC_F_INDIRECT + a table */
#define FUZZ_DESC_RAW_ADDR 0x08
#define FUZZ_DESC_RAW_LEN  0x10
#define FUZZ_DESC_STOP	   0x20 /* no NEXT flag: the chain ends here */

struct fuzz_ring {
	struct fuzz_mem *fm;
	uint16_t size;
	uint64_t desc, avail, used;
	uint64_t data_lo, data_hi; /* where buffers and tables go */
	uint64_t data_next;	   /* bump pointer for tables (wraps) */
	uint16_t cursor;	   /* next descriptor index to use */
};

void fuzz_ring_place(struct fuzz_ring *r, struct fuzz_mem *fm, uint16_t size, uint64_t desc, uint64_t avail,
		     uint64_t used, uint64_t data_lo, uint64_t data_hi);
/* Builds one chain from the input and publishes its head (avail idx as the guest memory holds
 * it, + 1). Does nothing for a ring of size 0 or outside memory. */
void fuzz_ring_chain(struct fuzz_ring *r, struct fuzz_in *in);
/* Sets avail->idx to avail->idx + delta (runaway or backwards indices). */
void fuzz_ring_avail_add(struct fuzz_ring *r, uint16_t delta);
#endif
