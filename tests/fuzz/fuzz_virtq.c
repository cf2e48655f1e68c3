/* fuzz_virtq.c: libFuzzer target for the split virtqueue: a hostile driver's rings and buffers
 * (from the fuzz input) popped, copied, pushed and notified over an exact-size fake guest memory,
 * so ASan catches any access outside it.
 *
 * Input: [4 header bytes][OPS op bytes][guest memory image]. The header picks the queue size,
 * the features, and whether descriptor addresses/lengths are folded into plausible ranges (so the
 * fuzzer reaches deep chains, not only "address outside memory"). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include "devices/virtio/virtq.h"

#define OPS	   32
#define DATA_BYTES 2048

static struct virtq_elem elem;

static void check_elem(const struct virtq_elem *e, const uint8_t *mem, uint64_t mem_size)
{
	uint64_t out = 0, in = 0;
	if (e->nr_out + e->nr_in > VIRTQ_MAX_SIZE)
		abort();
	for (unsigned i = 0; i < (unsigned)e->nr_out + e->nr_in; i++) {
		const uint8_t *p = e->iov[i].iov_base;
		if (e->iov[i].iov_len == 0 || p < mem || e->iov[i].iov_len > mem_size ||
		    p - mem > (ptrdiff_t)(mem_size - e->iov[i].iov_len))
			abort();
		*(i < e->nr_out ? &out : &in) += e->iov[i].iov_len;
	}
	if (out != e->out_len || in != e->in_len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4 + OPS)
		return 0;
	uint16_t qsize = 1u << (data[0] % 11);
	uint64_t features = 0;
	if (data[1] & 1)
		features |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (data[1] & 2)
		features |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	bool fold = !(data[1] & 4);
	bool wild_rings = data[1] & 8;
	uint16_t start_idx = data[2] | data[3] << 8;
	const uint8_t *ops = data + 4;
	const uint8_t *image = data + 4 + OPS;
	size_t image_len = size - 4 - OPS;

	uint64_t desc = 0, avail = 16ULL * qsize;
	uint64_t data_gpa = (avail + 6 + 2ULL * qsize + 15) & ~15ULL;
	uint64_t used = (data_gpa + DATA_BYTES + 3) & ~3ULL;
	uint64_t mem_size = used + 6 + 8ULL * qsize;
	uint8_t *mem = malloc(mem_size);
	if (!mem)
		return 0;
	memset(mem, 0, mem_size);
	memcpy(mem, image, image_len < mem_size ? image_len : mem_size);

	if (fold) {
		/* Descriptor addresses into memory (+ a little beyond), lengths small, avail idx
		 * close to start_idx, so most chains get past the first checks. */
		for (unsigned i = 0; i < qsize; i++) {
			struct vring_desc d;
			memcpy(&d, mem + 16ULL * i, sizeof(d));
			if (!(d.addr >> 63))
				d.addr %= mem_size + 64;
			if (!(d.len >> 31))
				d.len %= 600;
			if (!(d.next >> 15))
				d.next %= qsize + 1;
			memcpy(mem + 16ULL * i, &d, sizeof(d));
		}
		uint16_t *aidx = (uint16_t *)(mem + avail + 2);
		*aidx = start_idx + *aidx % (qsize + 2);
	}
	if (wild_rings) {
		/* Exercise virtq_init's checks with ring addresses from the image. */
		uint16_t w[3];
		memcpy(w, mem + data_gpa, sizeof(w));
		desc = w[0] % (mem_size + 32);
		avail = w[1] % (mem_size + 32);
		used = w[2] % (mem_size + 32);
	}

	struct guest_mem gm;
	guest_mem_fake(&gm, mem, mem_size);
	struct virtq vq;
	if (virtq_init(&vq, &gm, qsize, desc, avail, used, features) < 0) {
		free(mem);
		return 0;
	}
	vq.last_avail = vq.shadow_avail = start_idx;
	vq.used_idx = vq.signalled_used = start_idx;

	uint8_t scratch[700];
	unsigned popped = 0;
	for (unsigned k = 0; k < OPS; k++) {
		uint8_t op = ops[k];
		switch (op % 8) {
		case 0:
		case 1:
		case 2: {
			int r = virtq_pop(&vq, &elem);
			if (r < 0 && !(vq.broken && !vq.ready))
				abort();
			if (r != 1)
				break;
			popped++;
			check_elem(&elem, mem, mem_size);
			size_t off = op >> 3, n = sizeof(scratch) - off;
			size_t got = virtq_copy_from_out(&elem, off, scratch, n);
			if (got > elem.out_len)
				abort();
			size_t put = virtq_copy_to_in(&elem, off, scratch, n);
			if (put > elem.in_len)
				abort();
			virtq_push(&vq, elem.head, put);
			break;
		}
		case 3:
			virtq_flush(&vq, vq.pending_used);
			break;
		case 4:
			virtq_need_interrupt(&vq);
			break;
		case 5:
			virtq_set_notify(&vq, op & 8);
			break;
		case 6:
			if (popped && !vq.pending_used) {
				virtq_unpop(&vq, 1);
				popped--;
			}
			break;
		case 7:
			/* The guest scribbling on its ring meanwhile. */
			mem[(op >> 3) * 7 % mem_size] ^= op;
			(void)virtq_avail_count(&vq);
			break;
		}
	}
	virtq_reset(&vq);
	free(mem);
	return 0;
}
