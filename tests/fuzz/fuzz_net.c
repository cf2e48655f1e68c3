/* fuzz_net.c: libFuzzer target for the virtio-net device's TX, RX and control queues (the
 * userspace datapath, devices/net/net_loop.c, and virtio_net_ctrl_process) against a socketpair
 * backend, with rings a hostile driver writes into fenced guest memory.
 *
 * Input: header, then ops until the input ends (at most MAX_OPS):
 *   header: features:u64 (masked to the offer unless flags bit 0) offloads:u8 (backend
 *           offloads: bit i = CSUM, GUEST_CSUM, TSO4, TSO6, ECN, UFO pairs) sizes:u8[3]
 *           (queue size 1 << (b % 9)) flags:u8
 *   op:u8 % 10: 0 TX round, 1 RX round, 2 RX kick, 3 control round, 4 chain q:u8 <chain>
 *           (fuzz_ring.h), 5 wire frame len:u16 bytes, 6 drain the wire, 7 scribble off:u16
 *           val:u64, 8 avail idx += u16 on q:u8, 9 toggle backend EAGAIN.
 * Invariants (fuzz_work.h, fuzz_mem.h): no access outside guest memory, bounded work per
 * round, used index never ahead of the chains taken, frames on the wire hold a vnet header, no
 * lost interrupt (without EVENT_IDX), at most FUZZ_LOG_MAX lines on stderr. */
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <endian.h>
#include <string.h>
#include <unistd.h>

#include "devices/net/net_loop.h"
#include "tests/fuzz/fuzz_mem.h"
#include "tests/fuzz/fuzz_net_dev.h"
#include "tests/fuzz/fuzz_ring.h"
#include "tests/fuzz/fuzz_work.h"

#define MEM_SIZE 0x10000
#define Q_BLOCK	 0x2000 /* queue q: desc at q * Q_BLOCK, avail +0x1000, used +0x1400 */
#define DATA_LO	 (NET_NUM_QUEUES * Q_BLOCK)
#define MAX_OPS	 256
#define BIT(b)	 (1ULL << (b))

static const uint64_t offload_bits[] = {
    BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM),
    BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO4),
    BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_GUEST_TSO6),
    BIT(VIRTIO_NET_F_HOST_ECN) | BIT(VIRTIO_NET_F_GUEST_ECN),
    BIT(VIRTIO_NET_F_HOST_UFO) | BIT(VIRTIO_NET_F_GUEST_UFO),
};

static uint64_t offloads_from(uint8_t b)
{
	uint64_t f = 0;
	for (unsigned i = 0; i < sizeof(offload_bits) / sizeof(offload_bits[0]); i++)
		if (b & (1u << i))
			f |= offload_bits[i];
	return f;
}

/* 2.7.10: a driver that did not negotiate EVENT_IDX and did not set VIRTQ_AVAIL_F_NO_INTERRUPT
 * gets an interrupt for every batch the device publishes; a lost one hangs it. Checked after each
 * round on queue q, whose used index was used0 before it. A queue that broke in the round is
 * exempt: the device then asks for a reset (NEEDS_RESET + config interrupt) instead. */
static void interrupt_check(struct fake_net *t, struct fuzz_mem *fm, const struct fuzz_ring *r, int q,
			    uint16_t used0)
{
	const struct virtq *vq = &t->n.vdev.vq[q];
	uint64_t v;
	bool signalled = read(t->call[q], &v, sizeof(v)) == sizeof(v);
	uint16_t flags;
	memcpy(&flags, fm->base + r->avail, sizeof(flags));
	if (vq->used_idx == used0 || vq->broken || vq->event_idx ||
	    (le16toh(flags) & VRING_AVAIL_F_NO_INTERRUPT))
		return;
	FUZZ_CHECK(signalled, "queue %d: used index moved %u -> %u without an interrupt", q, used0,
		   vq->used_idx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct fuzz_mem fm;
	fuzz_mem_init(&fm, MEM_SIZE, 1);
	uint64_t features = fuzz_u64(&in);
	uint8_t offloads = fuzz_u8(&in);
	uint8_t sizes[NET_NUM_QUEUES];
	for (int q = 0; q < NET_NUM_QUEUES; q++)
		sizes[q] = fuzz_u8(&in);
	uint8_t flags = fuzz_u8(&in);

	struct fake_net *t = fuzz_net_new(&fm.gm, offloads_from(offloads));
	struct virtio_dev *vdev = &t->n.vdev;
	if (!(flags & 1))
		features &= vdev->ops->features(vdev);
	features |= BIT(VIRTIO_F_VERSION_1);
	if (vdev->ops->set_features(vdev, features) != 0) {
		fuzz_net_free(t);
		return 0;
	}
	vdev->features = features;

	struct fuzz_ring ring[NET_NUM_QUEUES];
	for (int q = 0; q < NET_NUM_QUEUES; q++) {
		uint16_t qs = 1u << (sizes[q] % 9);
		uint64_t base = (uint64_t)q * Q_BLOCK;
		fuzz_ring_place(&ring[q], &fm, qs, base, base + 0x1000, base + 0x1400, DATA_LO, MEM_SIZE);
		FUZZ_CHECK(
		    virtq_init(&vdev->vq[q], &fm.gm, qs, base, base + 0x1000, base + 0x1400, features) == 0,
		    "queue %d does not fit", q);
	}
	struct net_loop *nl = net_loop_new(&t->n.pair[0]);
	FUZZ_CHECK(nl, "net_loop_new");

	bool verbose = getenv("FUZZ_VERBOSE"); /* a trace of the steps, for triage */
	for (int k = 0; k < MAX_OPS && in.n; k++) {
		uint8_t op = fuzz_u8(&in) % 10;
		if (verbose)
			fprintf(stderr, "step %d: op %u\n", k, op);
		/* Steps that are not a datapath round may do no device work at all. */
		fuzz_work_begin("driver step", 0, 0, 0);
		uint16_t used0[NET_NUM_QUEUES];
		for (int q = 0; q < NET_NUM_QUEUES; q++) {
			uint64_t v;
			used0[q] = vdev->vq[q].used_idx;
			if (read(t->call[q], &v, sizeof(v)) < 0) {
				/* Nothing signalled yet. */
			}
		}
		switch (op) {
		case 0:
			fuzz_work_begin("TX round", 2 * (NET_TX_BUDGET + 2), NET_TX_BUDGET + 1, 0);
			net_loop_tx(nl);
			break;
		case 1:
		case 2:
			fuzz_work_begin("RX round", fuzz_work_max_pops(NET_RX_BUDGET, ring[NET_Q_RX].size), 0,
					2 * (NET_RX_BUDGET + 1));
			if (op == 1)
				net_loop_rx(nl);
			else
				net_loop_rx_kick(nl);
			break;
		case 3:
			fuzz_work_begin("control round", ring[NET_Q_CTRL].size + 1ULL, 0, 0);
			virtio_net_ctrl_process(&t->n);
			break;
		case 4:
			fuzz_ring_chain(&ring[fuzz_u8(&in) % NET_NUM_QUEUES], &in);
			break;
		case 5:
			fuzz_net_wire_send(t, &in, UINT16_MAX);
			break;
		case 6:
			fuzz_net_wire_drain(t);
			break;
		case 7: {
			uint16_t off = fuzz_u16(&in) % (MEM_SIZE - 7);
			fuzz_bytes(&in, fm.base + off, 8);
			break;
		}
		case 8: {
			uint8_t q = fuzz_u8(&in) % NET_NUM_QUEUES;
			fuzz_ring_avail_add(&ring[q], fuzz_u16(&in));
			break;
		}
		case 9:
			t->eagain = !t->eagain;
			break;
		}
		fuzz_work_check_queues();
		fuzz_net_check_log();
		for (int q = 0; q < NET_NUM_QUEUES; q++)
			interrupt_check(t, &fm, &ring[q], q, used0[q]);
	}
	net_loop_free(nl);
	fuzz_net_free(t);
	return 0;
}
