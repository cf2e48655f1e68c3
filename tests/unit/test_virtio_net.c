/* test_virtio_net.c: the virtio-net device and its userspace datapath over fake guest memory,
 * with a socketpair standing in for the tap (vnet header + frame per SEQPACKET message). */
#include <check.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/net/net_loop.h"
#include "devices/virtio/virtio_net.h"
#include "tests/unit/fake_net.h"
#include "tests/unit/fake_ring.h"
#include "tests/unit/log_capture.h"
#include "tests/unit/unit.h"
#include "vmm/log.h"
#include "vmm/loop.h"

#define BIT(f)	   (1ULL << (f))
#define HDR	   12
#define DATA_BYTES (1u << 20)

/* The features a Linux guest typically accepts, minus ring features (added per test). */
#define BASE_FEATURES                                                                                        \
	(BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_CTRL_VQ) |                       \
	 BIT(VIRTIO_NET_F_CTRL_RX) | BIT(VIRTIO_NET_F_CTRL_MAC_ADDR) |                                       \
	 BIT(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) | BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |     \
	 BIT(VIRTIO_NET_F_GUEST_TSO4))
#define ALL_OFFLOADS                                                                                         \
	(BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) |               \
	 BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_GUEST_TSO6))

/* Everything one test needs (three rings, the device, the "wire", the transport's fds) and the
 * userspace datapath's loop over it. */
static struct fake_net *T;
static struct net_loop *NL;

/* A device whose backend offers be_offloads, set up as if the driver accepted `features` and
 * set up the three queues of qsize entries. */
static void tnet_open(uint64_t features, uint64_t be_offloads, uint16_t qsize)
{
	T = fake_net_new(qsize, DATA_BYTES);
	T->be_offloads = be_offloads;
	struct net_opts opts = {.kind = NET_TAP, .ifname = "tap7"};
	ck_assert_int_eq(fake_net_create(T, &opts), 0);
	fake_net_negotiate(T, features);
	NL = net_loop_new(&T->n.pair[0]);
	ck_assert_ptr_nonnull(NL);
}

static void tnet_close(void)
{
	net_loop_free(NL);
	NL = NULL;
	fake_net_free(T, true);
	T = NULL;
}

/* Interrupts raised on queue q since the last call (the call eventfd's counter). */
static uint64_t calls(int q)
{
	uint64_t v = 0;
	if (read(T->call[q], &v, sizeof(v)) < 0)
		return 0;
	return v;
}

static void fill_pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seed + (i >> 8));
}

/* ---- TX ---- */

START_TEST(tx_frames_of_1_to_65535_bytes_reach_the_backend_whole)
{
	static const uint32_t sizes[] = {1, 60, 1514, 4097, 65535};
	tnet_open(BASE_FEATURES, ALL_OFFLOADS, 64);
	uint8_t *frame = malloc(HDR + 65535), *got = malloc(HDR + 65536);
	uint64_t bytes = 0;
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint32_t len = sizes[i];
		fill_pattern(frame, HDR + len, i);
		/* Header and frame in separate descriptors, the frame split once more. */
		uint32_t half = len / 2;
		struct fake_seg s[] = {FAKE_OUT(frame, HDR), FAKE_OUT(frame + HDR, half),
				       FAKE_OUT(frame + HDR + half, len - half)};
		if (!half)
			s[1] = FAKE_OUT(frame + HDR, len);
		uint16_t head = fake_ring_send(&T->fr[NET_Q_TX], s, half ? 3 : 2);
		ck_assert_int_eq(net_loop_tx(NL), 1);
		ssize_t n = recv(T->wire, got, HDR + 65536, MSG_DONTWAIT);
		ck_assert_int_eq(n, HDR + len);
		ck_assert_mem_eq(got, frame, HDR + len);
		uint32_t id, ulen;
		ck_assert(fake_ring_get_used(&T->fr[NET_Q_TX], &id, &ulen));
		ck_assert_uint_eq(id, head);
		ck_assert_uint_eq(ulen, 0);
		bytes += len;
		fake_ring_recycle(&T->fr[NET_Q_TX]);
	}
	ck_assert_uint_eq(T->n.stats[NET_Q_TX].packets, 5);
	ck_assert_uint_eq(T->n.stats[NET_Q_TX].bytes, bytes);
	ck_assert_uint_eq(T->n.stats[NET_Q_TX].drops, 0);
	free(frame);
	free(got);
	tnet_close();
}
END_TEST

/* 5.1.6.2: a TX chain is a header then the frame, all device-readable. One that is not cannot be
 * used: the queue breaks (NEEDS_RESET, as QEMU's virtio_error does), nothing is sent. */
static const struct {
	const char *what;
	uint32_t out, in;
} bad_tx[] = {
    {"shorter than the header", HDR - 1, 0},
    {"empty", 0, 0},
    {"with a writable descriptor", HDR + 60, 16},
    {"only writable", 0, 64},
};

START_TEST(tx_chain_the_device_cannot_use_breaks_the_queue)
{
	tnet_open(BASE_FEATURES, 0, 16);
	uint8_t b[HDR + 60] = {0};
	struct fake_seg s[2];
	unsigned n = 0;
	if (bad_tx[_i].out)
		s[n++] = FAKE_OUT(b, bad_tx[_i].out);
	if (bad_tx[_i].in)
		s[n++] = FAKE_IN(bad_tx[_i].in);
	if (!n)
		s[n++] = FAKE_OUT(b, 0);
	fake_ring_send(&T->fr[NET_Q_TX], s, n);
	ck_assert_msg(net_loop_tx(NL) == 0, "%s", bad_tx[_i].what);
	ck_assert_int_lt(recv(T->wire, b, sizeof(b), MSG_DONTWAIT), 0);
	ck_assert_uint_eq(fake_ring_used_idx(&T->fr[NET_Q_TX]), 0);
	ck_assert_int_eq(T->needs_reset, 1);
	ck_assert_uint_eq(T->n.stats[NET_Q_TX].broken, 1);
	ck_assert_uint_eq(T->n.stats[NET_Q_TX].packets, 0);
	ck_assert_int_eq(net_loop_tx(NL), 0);
	ck_assert_int_eq(T->needs_reset, 1);
	tnet_close();
}
END_TEST

START_TEST(malformed_tx_chain_marks_the_device_needs_reset)
{
	tnet_open(BASE_FEATURES, 0, 16);
	struct fake_seg s[] = {{.len = 100, .gpa = 1ULL << 40}}; /* outside guest memory */
	fake_ring_send(&T->fr[NET_Q_TX], s, 1);
	net_loop_tx(NL);
	ck_assert_int_eq(T->needs_reset, 1);
	ck_assert_uint_eq(fake_ring_used_idx(&T->fr[NET_Q_TX]), 0);
	/* The broken queue is left alone afterwards. */
	ck_assert_int_eq(net_loop_tx(NL), 0);
	ck_assert_int_eq(T->needs_reset, 1);
	tnet_close();
}
END_TEST

START_TEST(tx_backend_full_keeps_the_chain_until_it_drains)
{
	tnet_open(BASE_FEATURES, 0, 16);
	uint8_t b[HDR + 60];
	fill_pattern(b, sizeof(b), 3);
	struct fake_seg s[] = {FAKE_OUT(b, sizeof(b))};
	fake_ring_send(&T->fr[NET_Q_TX], s, 1);
	T->eagain = true;
	ck_assert_int_eq(net_loop_tx(NL), 0);
	ck_assert_uint_eq(fake_ring_used_idx(&T->fr[NET_Q_TX]), 0);
	ck_assert_uint_eq(calls(NET_Q_TX), 0);
	T->eagain = false;
	ck_assert_int_eq(net_loop_tx(NL), 1); /* what EPOLLOUT does */
	uint8_t got[128];
	ck_assert_int_eq(recv(T->wire, got, sizeof(got), MSG_DONTWAIT), sizeof(b));
	ck_assert_mem_eq(got, b, sizeof(b));
	ck_assert_uint_eq(T->n.stats[NET_Q_TX].drops, 0);
	tnet_close();
}
END_TEST

/* Takes the TX kick eventfd's count: the device kicks itself to come back to a busy queue. */
static uint64_t self_kicks(void)
{
	uint64_t v = 0;
	if (read(T->kick[NET_Q_TX], &v, sizeof(v)) < 0)
		return 0;
	return v;
}

START_TEST(tx_round_ends_after_the_byte_budget_and_comes_back)
{
	/* As vhost-net's weight: 64 KiB frames one way must not hold the I/O thread for a ring's
	 * worth (16 MiB) before the other queue gets a turn. */
	tnet_open(BASE_FEATURES, ALL_OFFLOADS, 32);
	const uint32_t len = HDR + 65535;
	uint8_t *frame = calloc(1, len), *got = malloc(len);
	uint64_t gpa = fake_ring_alloc(&T->fr[NET_Q_TX], len, frame);
	for (int i = 0; i < 20; i++) {
		struct fake_seg seg[] = {{.len = len, .gpa = gpa}};
		fake_ring_send(&T->fr[NET_Q_TX], seg, 1);
	}
	const int per_round = (NET_BYTE_BUDGET + 65535 - 1) / 65535; /* the frame that crosses it counts */
	int rounds = 0, sent = 0;
	for (; sent < 20; rounds++) {
		int n = net_loop_tx(NL);
		ck_assert_int_eq(n, sent + per_round <= 20 ? per_round : 20 - sent);
		sent += n;
		ck_assert_uint_eq(self_kicks(), sent < 20 ? 1 : 0);
		while (recv(T->wire, got, len, MSG_DONTWAIT) > 0)
			;
	}
	ck_assert_int_eq(rounds, (20 + per_round - 1) / per_round);
	ck_assert_uint_eq(T->n.stats[NET_Q_TX].packets, 20);
	free(frame);
	free(got);
	tnet_close();
}
END_TEST

/* A device with 20 frames of 64 KiB waiting on its TX ring: over NET_BYTE_BUDGET, so more than
 * one round. FRAME is their contents, GOT a buffer for one off the wire (both the caller's). */
static uint32_t tnet_open_with_20_big_tx_frames(uint8_t **frame, uint8_t **got)
{
	tnet_open(BASE_FEATURES, ALL_OFFLOADS, 32);
	const uint32_t len = HDR + 65535;
	*frame = calloc(1, len);
	*got = malloc(len);
	uint64_t gpa = fake_ring_alloc(&T->fr[NET_Q_TX], len, *frame);
	for (int i = 0; i < 20; i++) {
		struct fake_seg seg[] = {{.len = len, .gpa = gpa}};
		fake_ring_send(&T->fr[NET_Q_TX], seg, 1);
	}
	return len;
}

START_TEST(tx_round_over_the_byte_budget_comes_back_through_the_loop_without_a_kick)
{
	/* On the I/O thread's loop the next round is deferred in the loop (loop_defer): no write
	 * to the kick eventfd and no read of it, and still never more than a budget per round. */
	uint8_t *frame, *got;
	const uint32_t len = tnet_open_with_20_big_tx_frames(&frame, &got);
	uint64_t one = 1;
	const uint64_t per_round = (NET_BYTE_BUDGET + 65535 - 1) / 65535;
	struct net_pair *p = &T->n.pair[0];
	ck_assert_int_eq(net_loop_datapath.start(p), 0);
	ck_assert_int_eq(write(T->kick[NET_Q_TX], &one, sizeof(one)), sizeof(one));
	int rounds = 0;
	uint64_t *sent = &T->n.stats[NET_Q_TX].packets;
	while (*sent < 20) {
		uint64_t before = *sent;
		/* A round with frames waiting never waits (a lost come-back would end here). */
		ck_assert_int_gt(loop_run_once(p->loop, 0), 0);
		ck_assert_uint_gt(*sent, before);
		ck_assert_uint_le(*sent - before, per_round);
		ck_assert_uint_eq(self_kicks(), 0);
		while (recv(T->wire, got, len, MSG_DONTWAIT) > 0)
			;
		rounds++;
	}
	ck_assert_int_eq(rounds, (20 + per_round - 1) / per_round);
	/* Done: nothing comes back. */
	ck_assert_int_eq(loop_run_once(p->loop, 0), 0);
	net_loop_datapath.stop(p);
	free(frame);
	free(got);
	tnet_close();
}
END_TEST

START_TEST(tx_come_back_deferred_before_a_stop_never_runs_after_it)
{
	/* A TX round over its budget left its come-back on the pair's loop, which outlives the
	 * datapath. A stop (the driver's reset) must take it off: it would otherwise run on the
	 * freed state, against whatever rings the next driver set up. */
	uint8_t *frame, *got;
	const uint32_t len = tnet_open_with_20_big_tx_frames(&frame, &got);
	uint64_t one = 1;
	struct net_pair *p = &T->n.pair[0];
	uint64_t *sent = &T->n.stats[NET_Q_TX].packets;
	ck_assert_int_eq(net_loop_datapath.start(p), 0);
	ck_assert_int_eq(write(T->kick[NET_Q_TX], &one, sizeof(one)), sizeof(one));
	ck_assert_int_gt(loop_run_once(p->loop, 0), 0);
	uint64_t before = *sent;
	ck_assert_uint_lt(before, 20); /* the round stopped at its budget and deferred the rest */
	net_loop_datapath.stop(p);

	/* Reset and a new driver: the TX queue on a new ring elsewhere, nothing on it yet. */
	struct fake_ring nr;
	fake_ring_init_within(&nr, &T->fr[NET_Q_TX], 32, 4096);
	virtq_reset(&T->n.vdev.vq[NET_Q_TX]);
	ck_assert_int_eq(fake_ring_attach(&nr, &T->n.vdev.vq[NET_Q_TX], T->n.vdev.features), 0);
	ck_assert_int_eq(net_loop_datapath.start(p), 0);
	ck_assert_int_eq(loop_run_once(p->loop, 0), 0);
	ck_assert_uint_eq(*sent, before);
	ck_assert_uint_eq(fake_ring_used_idx(&nr), 0);
	net_loop_datapath.stop(p);
	while (recv(T->wire, got, len, MSG_DONTWAIT) > 0)
		;
	free(frame);
	free(got);
	tnet_close();
}
END_TEST

/* ---- interrupts and notifications ---- */

static void send_small_tx(int n)
{
	static uint8_t b[HDR + 60];
	for (int i = 0; i < n; i++) {
		struct fake_seg s[] = {FAKE_OUT(b, sizeof(b))};
		fake_ring_send(&T->fr[NET_Q_TX], s, 1);
	}
}

START_TEST(tx_batch_raises_one_interrupt)
{
	tnet_open(BASE_FEATURES, 0, 16);
	send_small_tx(5);
	ck_assert_int_eq(net_loop_tx(NL), 5);
	ck_assert_uint_eq(calls(NET_Q_TX), 1);
	ck_assert_uint_eq(T->n.stats[NET_Q_TX].interrupts, 1);
	/* Kicks are re-enabled once the ring is drained. */
	ck_assert_uint_eq(fake_ring_used_flags(&T->fr[NET_Q_TX]) & VRING_USED_F_NO_NOTIFY, 0);
	tnet_close();
}
END_TEST

START_TEST(no_interrupt_flag_is_honoured)
{
	tnet_open(BASE_FEATURES, 0, 16);
	fake_ring_set_avail_flags(&T->fr[NET_Q_TX], VRING_AVAIL_F_NO_INTERRUPT);
	send_small_tx(3);
	ck_assert_int_eq(net_loop_tx(NL), 3);
	ck_assert_uint_eq(calls(NET_Q_TX), 0);
	fake_ring_set_avail_flags(&T->fr[NET_Q_TX], 0);
	send_small_tx(1);
	ck_assert_int_eq(net_loop_tx(NL), 1);
	ck_assert_uint_eq(calls(NET_Q_TX), 1);
	tnet_close();
}
END_TEST

START_TEST(used_event_is_honoured_with_event_idx)
{
	tnet_open(BASE_FEATURES | BIT(VIRTIO_RING_F_EVENT_IDX), 0, 16);
	send_small_tx(2);
	net_loop_tx(NL); /* the first interrupt is always sent */
	ck_assert_uint_eq(calls(NET_Q_TX), 1);
	/* The driver wants an interrupt once used idx passes 5. */
	fake_ring_set_used_event(&T->fr[NET_Q_TX], 5);
	send_small_tx(2);
	net_loop_tx(NL); /* used idx 2 -> 4 */
	ck_assert_uint_eq(calls(NET_Q_TX), 0);
	send_small_tx(3);
	net_loop_tx(NL); /* 4 -> 7 crosses 5 */
	ck_assert_uint_eq(calls(NET_Q_TX), 1);
	/* avail_event re-armed at the end of the drain: the driver's next chain kicks. */
	ck_assert_uint_eq(fake_ring_avail_event(&T->fr[NET_Q_TX]), 7);
	tnet_close();
}
END_TEST

/* ---- RX ---- */

/* Posts n RX buffers of len bytes each as one-descriptor chains; returns the first head. */
static uint16_t post_rx(int n, uint32_t len)
{
	uint16_t first = 0;
	for (int i = 0; i < n; i++) {
		struct fake_seg s[] = {FAKE_IN(len)};
		uint16_t h = fake_ring_add_chain(&T->fr[NET_Q_RX], s, 1);
		if (i == 0)
			first = h;
		fake_ring_publish(&T->fr[NET_Q_RX], h);
	}
	return first;
}

/* Guest address of the buffer of a one-descriptor chain. */
static uint8_t *rx_buf(uint32_t head, uint32_t len)
{
	struct vring_desc *d = fake_ring_host(&T->fr[NET_Q_RX], T->fr[NET_Q_RX].desc_gpa + 16ULL * head, 16);
	return fake_ring_host(&T->fr[NET_Q_RX], le64toh(d->addr), len);
}

static void wire_send(const void *p, size_t len)
{
	ck_assert_int_eq(send(T->wire, p, len, 0), (ssize_t)len);
}

static uint16_t hdr_num_buffers(const uint8_t *h)
{
	uint16_t v;
	memcpy(&v, h + 10, 2);
	return le16toh(v);
}

START_TEST(rx_frames_of_1_to_65535_bytes_fill_one_big_buffer)
{
	static const uint32_t sizes[] = {1, 60, 1514, 4097, 65535};
	tnet_open(BASE_FEATURES, ALL_OFFLOADS, 16); /* no MRG_RXBUF: big buffers */
	uint8_t *frame = malloc(HDR + 65535);
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint32_t len = sizes[i];
		fill_pattern(frame, HDR + len, i + 10);
		frame[10] = frame[11] = 0xee; /* num_buffers: the device must overwrite it */
		uint16_t head = post_rx(1, NET_RX_MAX);
		wire_send(frame, HDR + len);
		/* The ring ran dry after the previous frame: the driver's refill kicks. */
		ck_assert_msg(net_loop_rx_kick(NL) == 1, "frame of %u bytes", len);
		uint32_t id, ulen;
		ck_assert(fake_ring_get_used(&T->fr[NET_Q_RX], &id, &ulen));
		ck_assert_uint_eq(id, head);
		ck_assert_uint_eq(ulen, HDR + len);
		uint8_t *b = rx_buf(id, HDR + len);
		ck_assert_mem_eq(b, frame, 10);
		ck_assert_uint_eq(hdr_num_buffers(b), 1);
		ck_assert_mem_eq(b + HDR, frame + HDR, len);
		fake_ring_recycle(&T->fr[NET_Q_RX]);
	}
	ck_assert_uint_eq(T->n.stats[NET_Q_RX].packets, 5);
	ck_assert_uint_eq(calls(NET_Q_RX), 5);
	free(frame);
	tnet_close();
}
END_TEST

START_TEST(rx_mergeable_frame_spans_buffers_and_sets_num_buffers)
{
	tnet_open(BASE_FEATURES | BIT(VIRTIO_NET_F_MRG_RXBUF), ALL_OFFLOADS, 64);
	const uint32_t blen = 1526, len = 65535;
	const uint32_t need = (HDR + len + blen - 1) / blen; /* 43 */
	uint16_t first = post_rx(50, blen);
	uint8_t *frame = malloc(HDR + len), *got = malloc(HDR + len);
	fill_pattern(frame, HDR + len, 77);
	wire_send(frame, HDR + len);
	uint8_t small[HDR + 42];
	fill_pattern(small, sizeof(small), 5);
	wire_send(small, sizeof(small));
	ck_assert_int_eq(net_loop_rx(NL), 2);
	ck_assert_uint_eq(fake_ring_used_idx(&T->fr[NET_Q_RX]), need + 1);
	/* The big frame: `need` adjacent used entries, in order, the last one partly filled. */
	size_t off = 0;
	for (uint32_t i = 0; i < need; i++) {
		uint32_t id, ulen;
		ck_assert(fake_ring_get_used(&T->fr[NET_Q_RX], &id, &ulen));
		ck_assert_uint_eq(id, (uint16_t)(first + i));
		ck_assert_uint_eq(ulen, i + 1 < need ? blen : HDR + len - blen * (need - 1));
		memcpy(got + off, rx_buf(id, ulen), ulen);
		off += ulen;
	}
	ck_assert_uint_eq(hdr_num_buffers(got), need);
	ck_assert_mem_eq(got, frame, 10);
	ck_assert_mem_eq(got + HDR, frame + HDR, len);
	/* The small frame took the next buffer, and only it. */
	uint32_t id, ulen;
	ck_assert(fake_ring_get_used(&T->fr[NET_Q_RX], &id, &ulen));
	ck_assert_uint_eq(id, (uint16_t)(first + need));
	ck_assert_uint_eq(ulen, sizeof(small));
	ck_assert_uint_eq(hdr_num_buffers(rx_buf(id, ulen)), 1);
	ck_assert_mem_eq(rx_buf(id, ulen) + HDR, small + HDR, sizeof(small) - HDR);
	ck_assert_uint_eq(calls(NET_Q_RX), 1); /* one interrupt for the batch */
	ck_assert_uint_eq(T->n.stats[NET_Q_RX].bytes, len + sizeof(small) - HDR);
	/* The buffers popped and not used are kept, in order, for the next frames. */
	wire_send(small, sizeof(small));
	ck_assert_int_eq(net_loop_rx(NL), 1);
	ck_assert(fake_ring_get_used(&T->fr[NET_Q_RX], &id, &ulen));
	ck_assert_uint_eq(id, (uint16_t)(first + need + 1));
	free(frame);
	free(got);
	tnet_close();
}
END_TEST

START_TEST(rx_kept_chains_deliver_thousands_of_frames_in_order_as_the_driver_recycles)
{
	/* A driver that recycles each buffer as it comes back, as Linux does, over many times the ring
	 * and the device's own bookkeeping: every frame arrives whole, in order, none dropped. Loop
	 * index 1: buffers back to back in memory, as Linux carves them from a page frag, so the held
	 * iovecs are joined across chains and trimmed mid-piece as chains complete. */
	tnet_open(BASE_FEATURES | BIT(VIRTIO_NET_F_MRG_RXBUF), 0, 256);
	struct fake_ring *fr = &T->fr[NET_Q_RX];
	const uint32_t blen = _i ? 1536 : 1526; /* fake_ring_alloc() aligns to 16 */
	for (uint16_t i = 0; i < fr->size; i++) {
		fake_ring_set_desc(fr, i, fake_ring_alloc(fr, blen, NULL), blen, VRING_DESC_F_WRITE, 0);
		fake_ring_publish(fr, i);
	}
	static uint8_t frame[HDR + 3000], got[HDR + 3000];
	unsigned sent = 0, seen = 0;
	while (seen < 4000) {
		for (int k = 0; k < 20; k++, sent++) {
			uint32_t len = HDR + 60 + (sent * 977) % 2900;
			fill_pattern(frame, len, sent);
			wire_send(frame, len);
		}
		net_loop_rx_kick(NL);
		uint32_t id, ulen;
		while (fake_ring_get_used(fr, &id, &ulen)) {
			uint32_t len = HDR + 60 + (seen * 977) % 2900, off = 0;
			uint16_t nbuf = hdr_num_buffers(rx_buf(id, ulen));
			ck_assert_uint_eq(nbuf, (len + blen - 1) / blen);
			for (uint16_t b = 0; b < nbuf; b++) {
				if (b)
					ck_assert(fake_ring_get_used(fr, &id, &ulen));
				ck_assert_uint_le(off + ulen, len);
				memcpy(got + off, rx_buf(id, ulen), ulen);
				off += ulen;
				fake_ring_publish(fr, (uint16_t)id);
			}
			ck_assert_uint_eq(off, len);
			fill_pattern(frame, len, seen);
			ck_assert_msg(memcmp(got + HDR, frame + HDR, len - HDR) == 0, "frame %u", seen);
			seen++;
		}
		ck_assert_uint_eq(seen, sent);
	}
	ck_assert_uint_eq(T->n.stats[NET_Q_RX].drops, 0);
	ck_assert_uint_eq(T->n.stats[NET_Q_RX].packets, 4000);
	tnet_close();
}
END_TEST

START_TEST(rx_without_buffers_keeps_the_frame_until_buffers_and_kick)
{
	tnet_open(BASE_FEATURES | BIT(VIRTIO_NET_F_MRG_RXBUF), 0, 16);
	uint8_t frame[HDR + 100];
	fill_pattern(frame, sizeof(frame), 9);
	wire_send(frame, sizeof(frame));
	ck_assert_int_eq(net_loop_rx(NL), 0);
	ck_assert(net_loop_rx_starved(NL));
	/* The frame was not read from the backend, and the driver is asked to kick. */
	uint8_t peek[256];
	ck_assert_int_eq(recv(T->n.be.fd, peek, sizeof(peek), MSG_PEEK | MSG_DONTWAIT), sizeof(frame));
	ck_assert_uint_eq(fake_ring_used_flags(&T->fr[NET_Q_RX]) & VRING_USED_F_NO_NOTIFY, 0);
	ck_assert_uint_eq(calls(NET_Q_RX), 0);
	/* Backend readiness alone does nothing while starved. */
	ck_assert_int_eq(net_loop_rx(NL), 0);
	uint16_t head = post_rx(4, 2048);
	ck_assert_int_eq(net_loop_rx_kick(NL), 1);
	ck_assert(!net_loop_rx_starved(NL));
	uint32_t id, len;
	ck_assert(fake_ring_get_used(&T->fr[NET_Q_RX], &id, &len));
	ck_assert_uint_eq(id, head);
	ck_assert_uint_eq(len, sizeof(frame));
	ck_assert_mem_eq(rx_buf(id, len) + HDR, frame + HDR, 100);
	ck_assert_uint_eq(calls(NET_Q_RX), 1);
	tnet_close();
}
END_TEST

START_TEST(rx_frame_larger_than_the_buffers_on_offer_waits_for_more)
{
	tnet_open(BASE_FEATURES | BIT(VIRTIO_NET_F_MRG_RXBUF), 0, 16);
	uint16_t first = post_rx(1, 1526);
	uint8_t frame[HDR + 3000];
	fill_pattern(frame, sizeof(frame), 1);
	wire_send(frame, sizeof(frame));
	ck_assert_int_eq(net_loop_rx(NL), 0);
	ck_assert(net_loop_rx_starved(NL));
	ck_assert_uint_eq(fake_ring_used_idx(&T->fr[NET_Q_RX]), 0);
	post_rx(2, 1526);
	ck_assert_int_eq(net_loop_rx_kick(NL), 1);
	ck_assert_uint_eq(fake_ring_used_idx(&T->fr[NET_Q_RX]), 2);
	uint8_t got[HDR + 3000];
	uint32_t id, len;
	ck_assert(fake_ring_get_used(&T->fr[NET_Q_RX], &id, &len));
	ck_assert_uint_eq(id, first);
	ck_assert_uint_eq(len, 1526);
	memcpy(got, rx_buf(id, len), len);
	ck_assert(fake_ring_get_used(&T->fr[NET_Q_RX], &id, &len));
	ck_assert_uint_eq(len, sizeof(frame) - 1526);
	memcpy(got + 1526, rx_buf(id, len), len);
	ck_assert_uint_eq(hdr_num_buffers(got), 2);
	ck_assert_mem_eq(got + HDR, frame + HDR, 3000);
	/* The third buffer is kept for the next frame. */
	wire_send(frame, HDR + 10);
	ck_assert_int_eq(net_loop_rx(NL), 1);
	ck_assert(fake_ring_get_used(&T->fr[NET_Q_RX], &id, &len));
	ck_assert_uint_eq(id, (uint16_t)(first + 2));
	ck_assert_uint_eq(len, HDR + 10);
	tnet_close();
}
END_TEST

/* A frame the guest's buffers cannot take is dropped and counted, and the buffer goes to the next
 * frame. */
static const struct {
	const char *what;
	uint64_t features;
	int nbuf;
	uint32_t blen, big;
} too_big[] = {
    /* GSO negotiated, so the frame is read aside first, then found too big for the buffer. */
    {"one small buffer without MRG_RXBUF", BASE_FEATURES, 1, HDR + 1514, HDR + 2000},
    /* No GSO: a host sending more than the MTU; the read into the buffers is cut. */
    {"more than the MTU without GSO",
     BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_MRG_RXBUF), 2, 1600, HDR + 4000},
};

START_TEST(rx_frame_too_big_for_the_buffers_is_dropped_and_the_buffer_reused)
{
	tnet_open(too_big[_i].features, 0, 16);
	uint16_t head = post_rx(too_big[_i].nbuf, too_big[_i].blen);
	uint8_t *big = calloc(1, too_big[_i].big), small[HDR + 64];
	fill_pattern(small, sizeof(small), 4);
	wire_send(big, too_big[_i].big);
	wire_send(small, sizeof(small));
	ck_assert_msg(net_loop_rx(NL) == 2, "%s", too_big[_i].what);
	ck_assert_uint_eq(T->n.stats[NET_Q_RX].drops, 1);
	uint32_t id, len;
	ck_assert(fake_ring_get_used(&T->fr[NET_Q_RX], &id, &len));
	ck_assert_uint_eq(id, head); /* the buffer went to the next frame */
	ck_assert_uint_eq(len, sizeof(small));
	ck_assert_mem_eq(rx_buf(id, len) + HDR, small + HDR, 64);
	ck_assert(!fake_ring_get_used(&T->fr[NET_Q_RX], &id, &len));
	free(big);
	tnet_close();
}
END_TEST

START_TEST(rx_buffer_with_a_readable_descriptor_breaks_the_queue)
{
	/* 5.1.6.3: RX buffers are device-writable; a chain with a readable part is one the device
	 * cannot use: NEEDS_RESET, not a silent skip the driver never learns about. */
	tnet_open(BASE_FEATURES | BIT(VIRTIO_NET_F_MRG_RXBUF), 0, 16);
	uint8_t junk[16] = {0};
	struct fake_seg s[] = {FAKE_OUT(junk, 16), FAKE_IN(2048)};
	fake_ring_send(&T->fr[NET_Q_RX], s, 2);
	post_rx(1, 2048);
	uint8_t frame[HDR + 50];
	fill_pattern(frame, sizeof(frame), 2);
	wire_send(frame, sizeof(frame));
	ck_assert_int_eq(net_loop_rx(NL), 0);
	ck_assert_int_eq(T->needs_reset, 1);
	ck_assert_uint_eq(fake_ring_used_idx(&T->fr[NET_Q_RX]), 0);
	ck_assert_int_eq(T->recvs, 0);
	ck_assert(net_loop_rx_starved(NL));
	ck_assert_uint_eq(T->n.stats[NET_Q_RX].broken, 1);
	/* --stats shows it, after the fields it always had. */
	char *st = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&st, &len);
	virtio_net_stats_print(&T->n, f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(
	    st, "stats: net0 rx (userspace) kicks=0 interrupts=0 packets=0 bytes=0 drops=1 broken=1\n"));
	free(st);
	tnet_close();
}
END_TEST

/* The RX spin of issue #8: with MRG_RXBUF, a small writable chain then a readable one. Today's
 * code popped the small one, gave both back on seeing the readable one, read the frame aside and
 * tried again, forever, without counting a round against the budget. */
static const uint32_t tiny_lens[] = {4, HDR, HDR + 2, 1000};

START_TEST(rx_readable_chain_after_tiny_chain_breaks_queue_without_spinning)
{
	tnet_open(BASE_FEATURES | BIT(VIRTIO_NET_F_MRG_RXBUF), 0, 16);
	uint8_t junk[64] = {0}, frame[HDR + 1400] = {0};
	struct fake_seg tiny[] = {FAKE_IN(tiny_lens[_i])};
	fake_ring_send(&T->fr[NET_Q_RX], tiny, 1);
	struct fake_seg bad[] = {FAKE_OUT(junk, sizeof(junk))};
	fake_ring_send(&T->fr[NET_Q_RX], bad, 1);
	for (int i = 0; i < 8; i++)
		wire_send(frame, sizeof(frame));
	net_loop_rx(NL);
	ck_assert_int_eq(T->needs_reset, 1);
	ck_assert_int_le(T->recvs, 1);
	ck_assert_uint_eq(fake_ring_used_idx(&T->fr[NET_Q_RX]), 0);
	/* Broken until reset: neither the ring nor the backend is touched again. */
	ck_assert_int_eq(net_loop_rx(NL), 0);
	ck_assert_int_eq(net_loop_rx_kick(NL), 0);
	ck_assert_int_le(T->recvs, 1);
	ck_assert_int_eq(T->needs_reset, 1);
	tnet_close();
}
END_TEST

/* xorshift32: a reproducible stream of garbage. */
static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Fills the RX ring with what a hostile driver might leave there: descriptors with random
 * flags, lengths, links and mostly valid addresses, random heads, an avail idx up to size on. */
static void rx_ring_garbage(uint32_t seed)
{
	struct fake_ring *fr = &T->fr[NET_Q_RX];
	uint32_t s = seed * 2654435761u + 1;
	for (uint16_t i = 0; i < fr->size; i++) {
		uint64_t addr = fr->data_gpa + (rnd(&s) % 8192);
		if (rnd(&s) % 16 == 0)
			addr = (uint64_t)rnd(&s) << (rnd(&s) % 32);
		uint32_t len = rnd(&s) % 4 ? rnd(&s) % 64 : rnd(&s) % 3000;
		uint16_t flags = rnd(&s) % 8; /* NEXT | WRITE | INDIRECT */
		fake_ring_set_desc(fr, i, addr, len, flags, (uint16_t)(rnd(&s) % (fr->size + 2)));
		fake_ring_set_avail_entry(fr, i, (uint16_t)(rnd(&s) % (fr->size + 1)));
	}
	fake_ring_set_avail_idx(fr, (uint16_t)(rnd(&s) % (fr->size + 1)));
}

START_TEST(rx_pass_is_bounded_on_garbage_ring_with_frames_waiting)
{
	for (uint32_t seed = 1; seed <= 64; seed++) {
		tnet_open(BASE_FEATURES | BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_RING_F_EVENT_IDX), 0, 32);
		uint8_t frame[HDR + 200] = {0};
		for (int i = 0; i < 600; i++)
			wire_send(frame, sizeof(frame));
		rx_ring_garbage(seed);
		uint16_t avail =
		    le16toh(*(uint16_t *)fake_ring_host(&T->fr[NET_Q_RX], T->fr[NET_Q_RX].avail_gpa + 2, 2));
		for (int pass = 0; pass < 3; pass++) {
			int before = T->recvs;
			int n = net_loop_rx(NL);
			ck_assert_int_le(n, NET_RX_BUDGET);
			ck_assert_msg(T->recvs - before <= NET_RX_BUDGET, "seed %u: %d reads in one pass",
				      seed, T->recvs - before);
			/* The device never hands back more buffers than the driver offered. */
			ck_assert_uint_le(fake_ring_used_idx(&T->fr[NET_Q_RX]), avail);
		}
		tnet_close();
	}
}
END_TEST

START_TEST(rx_64k_gso_frame_with_a_vlan_tag_fits_NET_RX_MAX)
{
	/* 5.1.6.3.1: with GUEST_TSO* a frame is up to 64 KiB of IP packet plus the Ethernet header and
	 * a VLAN tag: 65535 + 14 + 4, after the vnet header. */
	tnet_open(BASE_FEATURES, ALL_OFFLOADS, 16);
	const uint32_t len = HDR + 65535 + 14 + 4;
	ck_assert_uint_ge(NET_RX_MAX, len);
	uint8_t *frame = malloc(len);
	fill_pattern(frame, len, 3);
	uint16_t head = post_rx(1, NET_RX_MAX);
	wire_send(frame, len);
	ck_assert_int_eq(net_loop_rx(NL), 1);
	uint32_t id, ulen;
	ck_assert(fake_ring_get_used(&T->fr[NET_Q_RX], &id, &ulen));
	ck_assert_uint_eq(id, head);
	ck_assert_uint_eq(ulen, len);
	ck_assert_mem_eq(rx_buf(id, len) + HDR, frame + HDR, len - HDR);
	ck_assert_uint_eq(T->n.stats[NET_Q_RX].drops, 0);
	free(frame);
	tnet_close();
}
END_TEST

START_TEST(rx_without_gso_reads_straight_into_mtu_sized_buffers)
{
	/* Without GUEST_TSO4/6 or UFO the largest frame is an MTU's worth plus Ethernet and VLAN headers:
	 * a 1530-byte buffer takes it in place (one read, no frame read aside first). */
	tnet_open(BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MAC), 0, 16);
	const uint32_t blen = HDR + 1500 + 14 + 4;
	uint16_t head = post_rx(1, blen);
	uint8_t frame[HDR + 1518];
	fill_pattern(frame, sizeof(frame), 8);
	wire_send(frame, sizeof(frame));
	ck_assert_int_eq(net_loop_rx(NL), 1);
	ck_assert_int_eq(T->recvs, 1);
	uint32_t id, ulen;
	ck_assert(fake_ring_get_used(&T->fr[NET_Q_RX], &id, &ulen));
	ck_assert_uint_eq(id, head);
	ck_assert_uint_eq(ulen, sizeof(frame));
	ck_assert_mem_eq(rx_buf(id, ulen) + HDR, frame + HDR, 1518);
	tnet_close();
}
END_TEST

/* QMP set_link down is a pulled cable (QEMU's link_down): a guest TX frame is completed and
 * dropped, a frame from the backend is read and dropped without using the guest's buffer; up
 * again, both ways work. */
START_TEST(link_down_drops_frames_both_ways_and_link_up_moves_them_again)
{
	tnet_open(BASE_FEATURES | BIT(VIRTIO_NET_F_STATUS), ALL_OFFLOADS, 16);
	uint8_t frame[HDR + 60], got[HDR + 64];
	fill_pattern(frame, sizeof(frame), 3);
	struct fake_seg s[] = {FAKE_OUT(frame, sizeof(frame))};
	uint32_t id, ulen;
	virtio_net_set_link(&T->n, false);
	ck_assert_int_eq(T->config_changes, 1);

	uint16_t head = fake_ring_send(&T->fr[NET_Q_TX], s, 1);
	ck_assert_int_eq(net_loop_tx(NL), 1);
	ck_assert_int_eq(recv(T->wire, got, sizeof(got), MSG_DONTWAIT), -1);
	ck_assert(fake_ring_get_used(&T->fr[NET_Q_TX], &id, &ulen));
	ck_assert_uint_eq(id, head);
	fake_ring_recycle(&T->fr[NET_Q_TX]);
	ck_assert_uint_eq(T->n.stats[NET_Q_TX].drops, 1);
	ck_assert_uint_eq(T->n.stats[NET_Q_TX].packets, 0);

	uint16_t rx = post_rx(1, NET_RX_MAX);
	wire_send(frame, sizeof(frame));
	ck_assert_int_eq(net_loop_rx_kick(NL), 1);
	ck_assert(!fake_ring_get_used(&T->fr[NET_Q_RX], &id, &ulen));
	ck_assert_uint_eq(T->n.stats[NET_Q_RX].drops, 1);
	ck_assert_uint_eq(T->n.stats[NET_Q_RX].packets, 0);
	ck_assert_int_eq(net_loop_rx(NL), 0); /* it was read: nothing is left */

	virtio_net_set_link(&T->n, true);
	ck_assert_int_eq(T->config_changes, 2);
	fake_ring_send(&T->fr[NET_Q_TX], s, 1);
	ck_assert_int_eq(net_loop_tx(NL), 1);
	ck_assert_int_eq(recv(T->wire, got, sizeof(got), MSG_DONTWAIT), sizeof(frame));
	wire_send(frame, sizeof(frame));
	ck_assert_int_eq(net_loop_rx(NL), 1);
	ck_assert(fake_ring_get_used(&T->fr[NET_Q_RX], &id, &ulen));
	ck_assert_uint_eq(id, rx);
	ck_assert_uint_eq(ulen, sizeof(frame));
	ck_assert_mem_eq(rx_buf(id, ulen) + HDR, frame + HDR, 60);
	ck_assert_uint_eq(T->n.stats[NET_Q_TX].packets, 1);
	ck_assert_uint_eq(T->n.stats[NET_Q_RX].packets, 1);
	tnet_close();
}
END_TEST

START_TEST(malformed_rx_chain_marks_the_device_needs_reset)
{
	tnet_open(BASE_FEATURES | BIT(VIRTIO_NET_F_MRG_RXBUF), 0, 16);
	struct fake_seg s[] = {{.len = 4096, .in = true, .gpa = 1ULL << 40}};
	fake_ring_send(&T->fr[NET_Q_RX], s, 1);
	uint8_t frame[HDR + 50] = {0};
	wire_send(frame, sizeof(frame));
	net_loop_rx(NL);
	ck_assert_int_eq(T->needs_reset, 1);
	/* The broken queue is not touched again, and the backend is no longer polled for it. */
	ck_assert_int_eq(net_loop_rx(NL), 0);
	ck_assert(net_loop_rx_starved(NL));
	ck_assert_int_eq(T->needs_reset, 1);
	tnet_close();
}
END_TEST

/* ---- control queue ---- */

/* Sends one command (class, cmd, data) on ring q, the control queue, and returns the ack written. */
static uint8_t ctrl_on(int q, uint8_t class, uint8_t cmd, const void *data, uint32_t len)
{
	uint8_t buf[256];
	buf[0] = class;
	buf[1] = cmd;
	ck_assert_uint_le(len, sizeof(buf) - 2);
	if (len)
		memcpy(buf + 2, data, len);
	struct fake_seg s[] = {FAKE_OUT(buf, 2 + len), FAKE_IN(1)};
	fake_ring_send(&T->fr[q], s, 2);
	/* Poison the ack so a device that does not write it is caught. */
	*(uint8_t *)fake_ring_host(&T->fr[q], s[1].gpa, 1) = 0xaa;
	ck_assert_int_eq(virtio_net_ctrl_process(&T->n), 1);
	uint32_t id, ulen;
	ck_assert(fake_ring_get_used(&T->fr[q], &id, &ulen));
	ck_assert_uint_eq(ulen, 1);
	return *(uint8_t *)fake_ring_host(&T->fr[q], s[1].gpa, 1);
}

/* The same on a one-pair device's control queue. */
static uint8_t ctrl(uint8_t class, uint8_t cmd, const void *data, uint32_t len)
{
	return ctrl_on(NET_Q_CTRL, class, cmd, data, len);
}

START_TEST(ctrl_rx_promisc_and_allmulti_are_acked)
{
	tnet_open(BASE_FEATURES, 0, 16);
	uint8_t on = 1;
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1), VIRTIO_NET_OK);
	ck_assert(T->n.promisc);
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &on, 1), VIRTIO_NET_OK);
	ck_assert(T->n.allmulti);
	/* NOUNI needs CTRL_RX_EXTRA, which is not offered. */
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOUNI, &on, 1), VIRTIO_NET_ERR);
	/* Missing the on/off byte. */
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, NULL, 0), VIRTIO_NET_ERR);
	ck_assert_uint_eq(calls(NET_Q_CTRL), 4);
	tnet_close();
}
END_TEST

START_TEST(ctrl_mac_addr_set_changes_the_config_mac)
{
	tnet_open(BASE_FEATURES, 0, 16);
	const uint8_t mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 6), VIRTIO_NET_OK);
	uint8_t got[6];
	T->n.vdev.ops->config_read(&T->n.vdev, 0, got, 6);
	ck_assert_mem_eq(got, mac, 6);
	/* A config change: the transport bumps config_generation and notifies (2.5.1). */
	ck_assert_int_eq(T->config_changes, 1);
	/* Five bytes are not an address. */
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 5), VIRTIO_NET_ERR);
	ck_assert_int_eq(T->config_changes, 1);
	tnet_close();
}
END_TEST

START_TEST(ctrl_mac_table_with_lying_lengths_is_refused)
{
	tnet_open(BASE_FEATURES, 0, 16);
	uint8_t t[64] = {0};
	/* 1 unicast + 2 multicast: 4 + 6 + 4 + 12 = 26 bytes. */
	uint32_t one = htole32(1), two = htole32(2), three = htole32(3), huge = htole32(0xffffffff);
	memcpy(t, &one, 4);
	memcpy(t + 10, &two, 4);
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, t, 26), VIRTIO_NET_OK);
	ck_assert_uint_eq(T->n.mac_table_uni, 1);
	ck_assert_uint_eq(T->n.mac_table_multi, 2);
	/* Multicast count says 3 but only 2 addresses follow. */
	memcpy(t + 10, &three, 4);
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, t, 26), VIRTIO_NET_ERR);
	/* Trailing bytes after the tables. */
	memcpy(t + 10, &two, 4);
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, t, 27), VIRTIO_NET_ERR);
	/* A count whose byte size would wrap 32 bits. */
	memcpy(t, &huge, 4);
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, t, 26), VIRTIO_NET_ERR);
	/* Truncated before the multicast count. */
	memcpy(t, &one, 4);
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, t, 12), VIRTIO_NET_ERR);
	ck_assert_uint_eq(T->n.mac_table_uni, 1);
	ck_assert_uint_eq(T->n.mac_table_multi, 2);
	tnet_close();
}
END_TEST

START_TEST(ctrl_unknown_class_or_short_command_gets_err)
{
	tnet_open(BASE_FEATURES, 0, 16);
	uint8_t x = 0;
	ck_assert_uint_eq(ctrl(42, 0, &x, 1), VIRTIO_NET_ERR);
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, &x, 1), VIRTIO_NET_ERR);
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_MAC, 77, &x, 1), VIRTIO_NET_ERR);
	/* Only the class byte. */
	struct fake_seg s[] = {FAKE_OUT(&x, 1), FAKE_IN(1)};
	fake_ring_send(&T->fr[NET_Q_CTRL], s, 2);
	*(uint8_t *)fake_ring_host(&T->fr[NET_Q_CTRL], s[1].gpa, 1) = 0xaa;
	ck_assert_int_eq(virtio_net_ctrl_process(&T->n), 1);
	ck_assert_uint_eq(*(uint8_t *)fake_ring_host(&T->fr[NET_Q_CTRL], s[1].gpa, 1), VIRTIO_NET_ERR);
	ck_assert_int_eq(T->needs_reset, 0);
	tnet_close();
}
END_TEST

START_TEST(ctrl_command_without_an_ack_byte_breaks_the_queue)
{
	/* 5.1.6.5: the device answers in the writable ack byte; a command without one is a chain it
	 * cannot use (NEEDS_RESET), not one to complete silently. */
	tnet_open(BASE_FEATURES, 0, 16);
	uint8_t cmd[3] = {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 1};
	struct fake_seg s[] = {FAKE_OUT(cmd, 3)};
	fake_ring_send(&T->fr[NET_Q_CTRL], s, 1);
	ck_assert_int_eq(virtio_net_ctrl_process(&T->n), 0);
	ck_assert_uint_eq(fake_ring_used_idx(&T->fr[NET_Q_CTRL]), 0);
	ck_assert_int_eq(T->needs_reset, 1);
	ck_assert_uint_eq(T->n.stats[NET_Q_CTRL].broken, 1);
	ck_assert(!T->n.promisc);
	/* Broken until reset. */
	ck_assert_int_eq(virtio_net_ctrl_process(&T->n), 0);
	ck_assert_int_eq(T->needs_reset, 1);
	tnet_close();
}
END_TEST

/* The log flood of issue #8: one run of random config writes printed 5,594 lines. */
START_TEST(config_writes_are_counted_and_printed_rate_limited)
{
	tnet_open(BASE_FEATURES, 0, 16);
	struct virtio_dev *v = &T->n.vdev;
	FILE *tmp = tmpfile();
	ck_assert_ptr_nonnull(tmp);
	fflush(stderr);
	int saved = dup(2);
	ck_assert_int_eq(dup2(fileno(tmp), 2), 2);
	uint32_t x = 0;
	for (int i = 0; i < 10000; i++)
		v->ops->config_write(v, (uint32_t)i % 16, &x, 1u << (i % 3));
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	int lines = 0, c;
	while ((c = fgetc(tmp)) != EOF)
		lines += c == '\n';
	fclose(tmp);
	ck_assert_int_le(lines, LOG_GUEST_BURST);
	char *st = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&st, &len);
	log_guest_stats_print(f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(st, " net_config_write=10000"));
	free(st);
	tnet_close();
}
END_TEST

START_TEST(ctrl_guest_offloads_must_be_negotiated)
{
	tnet_open(BASE_FEATURES, ALL_OFFLOADS, 16); /* GUEST_CSUM + GUEST_TSO4, not GUEST_TSO6 */
	uint64_t off = htole64(BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_GUEST_CSUM));
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, &off, 8),
			  VIRTIO_NET_ERR);
	ck_assert_int_eq(T->n_offloads_set, 0);
	off = htole64(BIT(VIRTIO_NET_F_GUEST_CSUM));
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, &off, 8),
			  VIRTIO_NET_OK);
	ck_assert_int_eq(T->n_offloads_set, 1);
	ck_assert_uint_eq(T->offloads_set[0], BIT(VIRTIO_NET_F_GUEST_CSUM));
	/* Short payload. */
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, &off, 4),
			  VIRTIO_NET_ERR);
	ck_assert_int_eq(T->n_offloads_set, 1);
	tnet_close();
}
END_TEST

/* The offloads the driver set on the control queue stay its choice until it initialises the device
 * again (FEATURES_OK, 5.1.6.5.6.1): a stop that is no reset (Bus Master off, QMP stop) and the
 * start after it program the tap with them, not with the negotiated ones. */
START_TEST(a_stop_and_start_keeps_the_offloads_the_driver_chose)
{
	tnet_open(BASE_FEATURES, ALL_OFFLOADS, 16);
	struct virtio_dev *v = &T->n.vdev;
	const uint64_t negotiated = BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4);
	uint64_t off = htole64(BIT(VIRTIO_NET_F_GUEST_CSUM));
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, &off, 8),
			  VIRTIO_NET_OK);
	for (int round = 0; round < 2; round++) {
		ck_assert_int_eq(v->ops->start(v), 0);
		ck_assert_uint_eq(T->offloads_set[T->n_offloads_set - 1], BIT(VIRTIO_NET_F_GUEST_CSUM));
		v->ops->stop(v);
	}
	/* A driver's new initialisation starts from what it negotiated. */
	ck_assert_int_eq(v->ops->set_features(v, BASE_FEATURES), 0);
	ck_assert_int_eq(v->ops->start(v), 0);
	ck_assert_uint_eq(T->offloads_set[T->n_offloads_set - 1], negotiated);
	v->ops->stop(v);
	tnet_close();
}
END_TEST

START_TEST(ctrl_command_needs_its_feature)
{
	tnet_open(BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_CTRL_VQ), 0, 16);
	uint8_t on = 1;
	const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
	uint64_t off = 0;
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1), VIRTIO_NET_ERR);
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 6), VIRTIO_NET_ERR);
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, &off, 8),
			  VIRTIO_NET_ERR);
	tnet_close();
}
END_TEST

/* ---- features, config, lifecycle ---- */

START_TEST(set_features_refuses_missing_dependencies)
{
	tnet_open(BASE_FEATURES, ALL_OFFLOADS, 16);
	const struct virtio_dev_ops *ops = T->n.vdev.ops;
	struct virtio_dev *v = &T->n.vdev;
	uint64_t v1 = BIT(VIRTIO_F_VERSION_1);
	ck_assert_int_eq(ops->set_features(v, v1 | BIT(VIRTIO_NET_F_GUEST_TSO4)), -1);
	ck_assert_int_eq(ops->set_features(v, v1 | BIT(VIRTIO_NET_F_GUEST_TSO6)), -1);
	ck_assert_int_eq(ops->set_features(v, v1 | BIT(VIRTIO_NET_F_HOST_TSO4)), -1);
	ck_assert_int_eq(ops->set_features(v, v1 | BIT(VIRTIO_NET_F_HOST_TSO6)), -1);
	ck_assert_int_eq(ops->set_features(v, v1 | BIT(VIRTIO_NET_F_CTRL_RX)), -1);
	ck_assert_int_eq(ops->set_features(v, v1 | BIT(VIRTIO_NET_F_CTRL_MAC_ADDR)), -1);
	ck_assert_int_eq(ops->set_features(v, v1 | BIT(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS)), -1);
	ck_assert_int_eq(ops->set_features(v, BIT(VIRTIO_NET_F_MAC)), -1); /* no VERSION_1 */
	ck_assert_int_eq(ops->set_features(v, v1 | BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4)), 0);
	ck_assert_int_eq(ops->set_features(v, ops->features(v)), 0);
	tnet_close();
}
END_TEST

START_TEST(offloads_are_offered_only_where_the_backend_can)
{
	tnet_open(BASE_FEATURES, 0, 16);
	uint64_t f = T->n.vdev.ops->features(&T->n.vdev);
	ck_assert_uint_eq(f & ALL_OFFLOADS, 0);
	ck_assert(f & BIT(VIRTIO_F_VERSION_1));
	ck_assert(f & BIT(VIRTIO_NET_F_MRG_RXBUF));
	ck_assert(f & BIT(VIRTIO_NET_F_CTRL_VQ));
	ck_assert(f & BIT(VIRTIO_RING_F_EVENT_IDX));
	ck_assert(f & BIT(VIRTIO_RING_F_INDIRECT_DESC));
	ck_assert(!(f & BIT(VIRTIO_NET_F_MTU)));
	ck_assert(!(f & BIT(VIRTIO_NET_F_HOST_UFO)));
	tnet_close();
	tnet_open(BASE_FEATURES, ALL_OFFLOADS, 16);
	f = T->n.vdev.ops->features(&T->n.vdev);
	ck_assert_uint_eq(f & ALL_OFFLOADS, ALL_OFFLOADS);
	ck_assert(!(f & BIT(VIRTIO_NET_F_GUEST_UFO)));
	tnet_close();
}
END_TEST

START_TEST(config_writes_are_counted_and_rate_limited)
{
	guest_log_capture();
	tnet_open(BASE_FEATURES, 0, 16);
	uint8_t junk[4] = {1, 2, 3, 4};
	for (int i = 0; i < 1000; i++)
		T->n.vdev.ops->config_write(&T->n.vdev, i % 8, junk, 1 + i % 4);
	ck_assert_int_eq(guest_log_lines("ignored config write"), LOG_GUEST_BURST);
	ck_assert_int_eq(guest_event_count("net_config_write"), 1000);
	tnet_close();
}
END_TEST

START_TEST(config_space_holds_mac_link_up_one_pair_and_mtu)
{
	struct fake_net t = {.wire = -1};
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	struct net_backend be = {.ops = &fake_net_backend_ops, .fd = sv[0], .priv = &t};
	struct net_opts o = {.kind = NET_TAP, .mac = {2, 1, 2, 3, 4, 5}, .mac_set = true, .mtu = 9000};
	struct virtio_net *n = calloc(1, sizeof(*n));
	ck_assert_int_eq(virtio_net_init_backend(n, &o, 3, NULL, &be), 0);
	ck_assert(n->vdev.ops->features(&n->vdev) & BIT(VIRTIO_NET_F_MTU));
	ck_assert_uint_eq(n->vdev.device_id, 1);
	ck_assert_uint_eq(n->vdev.num_queues, 3);
	ck_assert_uint_eq(n->vdev.config_len, 12);
	struct virtio_net_config c;
	memset(&c, 0xff, sizeof(c));
	n->vdev.ops->config_read(&n->vdev, 0, &c, 12);
	ck_assert_mem_eq(c.mac, o.mac, 6);
	ck_assert_uint_eq(le16toh(c.status), VIRTIO_NET_S_LINK_UP);
	ck_assert_uint_eq(le16toh(c.max_virtqueue_pairs), 1);
	ck_assert_uint_eq(le16toh(c.mtu), 9000);
	/* Byte access in the middle, and past the end reads zero. */
	uint8_t b[4];
	n->vdev.ops->config_read(&n->vdev, 5, b, 1);
	ck_assert_uint_eq(b[0], 5);
	n->vdev.ops->config_read(&n->vdev, 12, b, 4);
	ck_assert_uint_eq(b[0] | b[1] | b[2] | b[3], 0);
	/* The driver cannot overwrite the MAC. */
	const uint8_t zero[6] = {0};
	n->vdev.ops->config_write(&n->vdev, 0, zero, 6);
	n->vdev.ops->config_read(&n->vdev, 0, &c, 6);
	ck_assert_mem_eq(c.mac, o.mac, 6);
	virtio_net_free(n);
	free(n);
	close(sv[1]);
}
END_TEST

START_TEST(default_mac_is_stable_unicast_and_locally_administered)
{
	uint8_t a[6], b[6], c[6], d[6];
	virtio_net_default_mac(0, "tap0", a);
	virtio_net_default_mac(0, "tap0", b);
	virtio_net_default_mac(1, "tap0", c);
	virtio_net_default_mac(0, "tap1", d);
	ck_assert_mem_eq(a, b, 6);
	ck_assert_uint_eq(a[0], 0x02); /* locally administered, not multicast */
	ck_assert(memcmp(a, c, 6) != 0);
	ck_assert(memcmp(a, d, 6) != 0);
}
END_TEST

/* Waits up to 2 s for a message on fd; returns its length or -1. */
static ssize_t recv_timeout(int fd, void *buf, size_t len)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, 2000) != 1)
		return -1;
	return recv(fd, buf, len, MSG_DONTWAIT);
}

START_TEST(io_thread_moves_frames_both_ways_and_restarts_after_stop)
{
	tnet_open(BASE_FEATURES | BIT(VIRTIO_NET_F_MRG_RXBUF), ALL_OFFLOADS, 16);
	struct virtio_dev *v = &T->n.vdev;
	uint8_t frame[HDR + 200], got[512];
	uint64_t one = 1;
	for (int round = 0; round < 2; round++) {
		ck_assert_int_eq(v->ops->start(v), 0);
		/* Offloads programmed from the accepted GUEST_* features at every start. */
		ck_assert_int_eq(T->n_offloads_set, round + 1);
		ck_assert_uint_eq(T->offloads_set[round],
				  BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4));
		/* TX: chain + kick -> frame on the wire. */
		fill_pattern(frame, sizeof(frame), round);
		struct fake_seg s[] = {FAKE_OUT(frame, sizeof(frame))};
		fake_ring_send(&T->fr[NET_Q_TX], s, 1);
		ck_assert_int_eq(write(T->kick[NET_Q_TX], &one, 8), 8);
		ck_assert_int_eq(recv_timeout(T->wire, got, sizeof(got)), sizeof(frame));
		ck_assert_mem_eq(got, frame, sizeof(frame));
		/* RX: frame on the wire with no buffers, then buffers + kick. */
		wire_send(frame, sizeof(frame));
		usleep(20000);
		post_rx(1, 2048);
		ck_assert_int_eq(write(T->kick[NET_Q_RX], &one, 8), 8);
		ck_assert(fake_ring_wait_used(&T->fr[NET_Q_RX], round + 1));
		/* Control queue on the same thread. */
		uint8_t cmd[3] = {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 1};
		struct fake_seg c[] = {FAKE_OUT(cmd, 3), FAKE_IN(1)};
		fake_ring_send(&T->fr[NET_Q_CTRL], c, 2);
		ck_assert_int_eq(write(T->kick[NET_Q_CTRL], &one, 8), 8);
		ck_assert(fake_ring_wait_used(&T->fr[NET_Q_CTRL], round + 1));
		v->ops->stop(v);
		ck_assert(!T->n.pair[0].running);
		ck_assert_uint_ge(T->n.stats[NET_Q_TX].kicks, round + 1);
	}
	ck_assert_uint_eq(T->n.stats[NET_Q_TX].packets, 2);
	ck_assert_uint_eq(T->n.stats[NET_Q_RX].packets, 2);
	ck_assert_uint_eq(T->n.stats[NET_Q_CTRL].packets, 2);
	tnet_close();
}
END_TEST

START_TEST(device_over_an_attaching_backend_restarts_and_frees_cleanly)
{
	/* slirp attaches to the device's loop; the loop must survive stop/start and outlive the
	 * backend's close (ASan catches a use after free). */
	struct net_opts o = {.kind = NET_USER};
	struct fake_net *t = fake_net_new(16, 4096);
	struct virtio_net *n = &t->n;
	ck_assert_int_eq(virtio_net_init(n, &o, 0, NULL), 0);
	n->vdev.tops = &fake_net_transport_ops;
	n->vdev.transport = t;
	for (int q = 0; q < NET_NUM_QUEUES; q++)
		ck_assert_int_eq(fake_ring_attach(&t->fr[q], &n->vdev.vq[q], 0), 0);
	n->vdev.features = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_CTRL_VQ);
	for (int round = 0; round < 3; round++) {
		ck_assert_int_eq(n->vdev.ops->start(&n->vdev), 0);
		ck_assert(n->pair[0].running);
		usleep(5000);
		n->vdev.ops->stop(&n->vdev);
		ck_assert(!n->pair[0].running);
	}
	fake_net_free(t, true);
}
END_TEST

/* ---- stopping the datapath, whatever the guest did ---- */

/* Fills the wire's direction towards the device until the socket is full. */
static void wire_flood(void)
{
	uint8_t frame[HDR + 200] = {0};
	while (send(T->wire, frame, sizeof(frame), MSG_DONTWAIT) == (ssize_t)sizeof(frame))
		;
}

START_TEST(start_and_stop_return_on_a_garbage_rx_ring_with_frames_waiting)
{
	/* The e2e hang of issue #8: the first RX pass (DRIVER_OK) never returned on this ring with
	 * frames waiting, so neither it nor the teardown after it did. */
	tnet_open(BASE_FEATURES | BIT(VIRTIO_NET_F_MRG_RXBUF), 0, 16);
	struct virtio_dev *v = &T->n.vdev;
	uint8_t junk[64] = {0};
	struct fake_seg tiny[] = {FAKE_IN(HDR + 2)}, bad[] = {FAKE_OUT(junk, sizeof(junk))};
	fake_ring_send(&T->fr[NET_Q_RX], tiny, 1);
	fake_ring_send(&T->fr[NET_Q_RX], bad, 1);
	wire_flood();
	ck_assert_int_eq(v->ops->start(v), 0);
	/* The I/O thread's first RX pass finds the ring unusable (the tcase timeout is the failure
	 * if it never does, or never returns). */
	while (__atomic_load_n(&T->needs_reset, __ATOMIC_ACQUIRE) == 0)
		sched_yield();
	v->ops->stop(v);
	ck_assert(!T->n.pair[0].running);
	ck_assert_int_eq(T->needs_reset, 1);
	tnet_close();
}
END_TEST

/* A driver that never lets the device rest: every descriptor is a valid buffer, and it keeps
 * both rings full (avail idx = used idx + size), kicks, floods the wire and drains it. */
struct busy_driver {
	pthread_t thread;
	bool stop;
	unsigned rounds;
};

static void *busy_driver_run(void *opaque)
{
	struct busy_driver *d = opaque;
	uint8_t sink[HDR + 2048];
	uint64_t one = 1;
	while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE)) {
		for (int q = NET_Q_RX; q <= NET_Q_TX; q++) {
			struct fake_ring *fr = &T->fr[q];
			fake_ring_set_avail_idx(fr, (uint16_t)(fake_ring_used_idx(fr) + fr->size));
			if (write(T->kick[q], &one, sizeof(one)) < 0) {
				/* the counter is full: a kick is pending anyway */
			}
		}
		wire_flood();
		while (recv(T->wire, sink, sizeof(sink), MSG_DONTWAIT) > 0)
			;
		__atomic_add_fetch(&d->rounds, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

START_TEST(stop_returns_while_a_driver_keeps_both_queues_busy)
{
	tnet_open(BASE_FEATURES | BIT(VIRTIO_NET_F_MRG_RXBUF), 0, 64);
	struct virtio_dev *v = &T->n.vdev;
	uint8_t frame[HDR + 60] = {0};
	for (int q = NET_Q_RX; q <= NET_Q_TX; q++) {
		struct fake_ring *fr = &T->fr[q];
		uint64_t gpa = q == NET_Q_RX ? fake_ring_alloc(fr, 2048, NULL)
					     : fake_ring_alloc(fr, sizeof(frame), frame);
		for (uint16_t i = 0; i < fr->size; i++) {
			if (q == NET_Q_RX)
				fake_ring_set_desc(fr, i, gpa, 2048, VRING_DESC_F_WRITE, 0);
			else
				fake_ring_set_desc(fr, i, gpa, sizeof(frame), 0, 0);
			fake_ring_set_avail_entry(fr, i, i);
		}
	}
	struct busy_driver d = {0};
	ck_assert_int_eq(v->ops->start(v), 0);
	ck_assert_int_eq(pthread_create(&d.thread, NULL, busy_driver_run, &d), 0);
	/* Wait (on progress, not on time) until the device is visibly busy both ways. */
	while (T->n.stats[NET_Q_TX].packets < 10000 || T->n.stats[NET_Q_RX].packets < 10000)
		sched_yield();
	v->ops->stop(v);
	ck_assert(!T->n.pair[0].running);
	__atomic_store_n(&d.stop, true, __ATOMIC_RELEASE);
	pthread_join(d.thread, NULL);
	ck_assert_int_eq(T->needs_reset, 0);
	tnet_close();
}
END_TEST

/* ---- multiqueue ---- */

#define MQ_FEATURES (BASE_FEATURES | BIT(VIRTIO_NET_F_MQ))

/* A device of `pairs` queue pairs (a socketpair each) as if the driver accepted `features`. */
static void mq_open(int pairs, uint64_t features)
{
	T = fake_net_new_pairs(pairs, 16, DATA_BYTES);
	struct net_opts o = {.kind = NET_TAP, .ifname = "tap7", .queues = (uint8_t)pairs};
	ck_assert_int_eq(fake_net_create(T, &o), 0);
	fake_net_negotiate(T, features);
}

static void mq_close(void)
{
	fake_net_free(T, true);
	T = NULL;
}

/* Waits for the next attach/detach of a backend queue (each pair's own thread does it after the
 * command was answered). */
static bool attach_changed(void)
{
	struct pollfd p = {.fd = T->attach_fd, .events = POLLIN};
	uint64_t v;
	return poll(&p, 1, 5000) == 1 && read(T->attach_fd, &v, sizeof(v)) == sizeof(v);
}

/* Sends VQ_PAIRS_SET on the running device's control queue (ring 2N) and waits for the ack. */
static uint8_t mq_pairs_set_running(int pairs, uint16_t used)
{
	uint8_t cmd[4] = {VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, (uint8_t)pairs, 0};
	struct fake_seg c[] = {FAKE_OUT(cmd, 4), FAKE_IN(1)};
	int q = 2 * T->pairs;
	uint64_t one = 1;
	fake_ring_send(&T->fr[q], c, 2);
	ck_assert_int_eq(write(T->kick[q], &one, 8), 8);
	ck_assert(fake_ring_wait_used(&T->fr[q], used));
	return *(uint8_t *)fake_ring_host(&T->fr[q], c[1].gpa, 1);
}

/* 5.1.3: F_MQ only with more than one pair (as QEMU): one pair looks as it always did, 3 queues
 * and 3 MSI-X vectors; N pairs have 2N+1 of each (the control queue has no callback in Linux, so
 * 2N+1 vectors: one per rx/tx queue and config). */
START_TEST(mq_is_offered_with_more_than_one_pair_only)
{
	static const int pairs[] = {1, 2, 16};
	for (unsigned i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		int n = pairs[i];
		mq_open(n, BASE_FEATURES);
		struct virtio_dev *v = &T->n.vdev;
		ck_assert_int_eq(!!(v->ops->features(v) & BIT(VIRTIO_NET_F_MQ)), n > 1);
		ck_assert_uint_eq(v->num_queues, 2 * n + 1);
		ck_assert_uint_eq(v->msix_vectors, 2 * n + 1);
		struct virtio_net_config c;
		v->ops->config_read(v, 0, &c, v->config_len);
		ck_assert_uint_eq(le16toh(c.max_virtqueue_pairs), n);
		mq_close();
	}
}
END_TEST

/* 5.1.2: receiveq1, transmitq1, ..., receiveqN, transmitqN, controlq; N = 1 without F_MQ. */
START_TEST(queue_layout_is_rx_tx_pairs_then_ctrl_last)
{
	ck_assert_int_eq(net_rxq(0), 0);
	ck_assert_int_eq(net_txq(0), 1);
	ck_assert_int_eq(net_rxq(1), 2);
	ck_assert_int_eq(net_txq(1), 3);
	ck_assert_int_eq(net_rxq(15), 30);
	ck_assert_int_eq(net_txq(15), 31);
	mq_open(3, MQ_FEATURES);
	ck_assert_int_eq(net_pairs(&T->n), 3);
	ck_assert_int_eq(net_ctrlq(&T->n), 6);
	T->n.vdev.features = BASE_FEATURES; /* a driver without F_MQ: the ctrl queue is queue 2 */
	ck_assert_int_eq(net_pairs(&T->n), 1);
	ck_assert_int_eq(net_ctrlq(&T->n), 2);
	mq_close();
}
END_TEST

/* 5.1.6.5.5: VQ_PAIRS_SET takes 1..max_virtqueue_pairs in a le16; anything else is an error and
 * changes nothing. */
static const struct {
	uint16_t pairs;
	uint32_t len;
	uint8_t ack;
} pairs_set[] = {
    {1, 2, VIRTIO_NET_OK}, {2, 2, VIRTIO_NET_OK},  {3, 2, VIRTIO_NET_OK},	 {0, 2, VIRTIO_NET_ERR},
    {4, 2, VIRTIO_NET_ERR}, {0x8000, 2, VIRTIO_NET_ERR}, {0xffff, 2, VIRTIO_NET_ERR}, {2, 1, VIRTIO_NET_ERR},
    {2, 4, VIRTIO_NET_ERR},
};

START_TEST(ctrl_mq_pairs_set_takes_1_to_max_pairs)
{
	mq_open(3, MQ_FEATURES);
	uint8_t d[4] = {(uint8_t)pairs_set[_i].pairs, (uint8_t)(pairs_set[_i].pairs >> 8), 0, 0};
	ck_assert_uint_eq(
	    ctrl_on(6, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, d, pairs_set[_i].len),
	    pairs_set[_i].ack);
	ck_assert_int_eq(T->n.active_pairs, pairs_set[_i].ack == VIRTIO_NET_OK ? pairs_set[_i].pairs : 1);
	mq_close();
}
END_TEST

START_TEST(ctrl_mq_needs_f_mq_and_a_known_command)
{
	uint8_t one[2] = {1, 0};
	/* Two pairs offered, F_MQ not taken: the control queue is queue 2, and MQ commands fail. */
	mq_open(2, BASE_FEATURES);
	ck_assert_uint_eq(ctrl_on(2, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, one, 2),
			  VIRTIO_NET_ERR);
	mq_close();
	/* One pair: nothing to set. */
	mq_open(1, BASE_FEATURES);
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, one, 2), VIRTIO_NET_ERR);
	mq_close();
	/* RSS and hash reports are not offered. */
	mq_open(2, MQ_FEATURES);
	ck_assert_uint_eq(ctrl_on(4, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, one, 2),
			  VIRTIO_NET_ERR);
	ck_assert_uint_eq(ctrl_on(4, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_HASH_CONFIG, one, 2),
			  VIRTIO_NET_ERR);
	ck_assert_uint_eq(ctrl_on(4, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, one, 2),
			  VIRTIO_NET_OK);
	mq_close();
}
END_TEST

/* Each pair has its own I/O thread and backend queue. Multiqueue starts disabled: at start only
 * pair 0's queue stays attached; VQ_PAIRS_SET 2 attaches pair 1's (its thread then moves frames
 * both ways on its own socketpair), VQ_PAIRS_SET 1 detaches it again. */
START_TEST(pairs_attach_and_detach_their_backend_queue_as_the_driver_says)
{
	mq_open(2, MQ_FEATURES);
	struct virtio_dev *v = &T->n.vdev;
	uint8_t frame[HDR + 100], got[512];
	uint64_t one = 1;
	ck_assert_int_eq(v->ops->start(v), 0);
	ck_assert(T->n.pair[0].running && T->n.pair[1].running);
	ck_assert(T->attached[0]);
	ck_assert(!T->attached[1]); /* detached by main before pair 1's thread ran */
	ck_assert(attach_changed()); /* that one (synchronous): the next is pair 1's thread's */
	ck_assert_uint_eq(mq_pairs_set_running(2, 1), VIRTIO_NET_OK);
	ck_assert(attach_changed());
	ck_assert(T->attached[1]);
	/* Pair 1 moves frames: tx1 -> its wire, its wire -> rx1. */
	fill_pattern(frame, sizeof(frame), 1);
	struct fake_seg s[] = {FAKE_OUT(frame, sizeof(frame))};
	fake_ring_send(&T->fr[net_txq(1)], s, 1);
	ck_assert_int_eq(write(T->kick[net_txq(1)], &one, 8), 8);
	ck_assert_int_eq(recv_timeout(T->wires[1], got, sizeof(got)), sizeof(frame));
	ck_assert_mem_eq(got, frame, sizeof(frame));
	struct fake_seg b[] = {FAKE_IN(2048)};
	fake_ring_send(&T->fr[net_rxq(1)], b, 1);
	ck_assert_int_eq(write(T->kick[net_rxq(1)], &one, 8), 8);
	ck_assert_int_eq(send(T->wires[1], frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	ck_assert(fake_ring_wait_used(&T->fr[net_rxq(1)], 1));
	ck_assert_uint_eq(mq_pairs_set_running(1, 2), VIRTIO_NET_OK);
	ck_assert(attach_changed());
	ck_assert(!T->attached[1]);
	v->ops->stop(v);
	ck_assert(!T->n.pair[0].running && !T->n.pair[1].running);
	ck_assert_uint_eq(T->n.stats[net_txq(1)].packets, 1);
	ck_assert_uint_eq(T->n.stats[net_rxq(1)].packets, 1);
	ck_assert_uint_eq(T->n.stats[net_txq(0)].packets, 0);
	ck_assert_uint_eq(T->n.stats[4].packets, 2); /* the control queue's slot */
	ck_assert_int_eq(T->attach_calls, 3);
	mq_close();
}
END_TEST

/* A stop and start that is no driver reset (Bus Master off and on, QMP stop/cont) resumes with the
 * pairs the driver chose; a new driver initialisation (FEATURES_OK) starts with one again. */
START_TEST(a_stop_and_start_keeps_the_pairs_the_driver_chose)
{
	mq_open(2, MQ_FEATURES);
	struct virtio_dev *v = &T->n.vdev;
	ck_assert_int_eq(v->ops->start(v), 0);
	ck_assert(attach_changed()); /* start's detach of pair 1 */
	ck_assert_uint_eq(mq_pairs_set_running(2, 1), VIRTIO_NET_OK);
	ck_assert(attach_changed());
	ck_assert(T->attached[1]);
	v->ops->stop(v);
	ck_assert_int_eq(v->ops->start(v), 0);
	ck_assert(T->attached[1]);
	ck_assert_int_eq(T->attach_calls, 2);
	v->ops->stop(v);
	ck_assert_int_eq(v->ops->set_features(v, MQ_FEATURES), 0);
	ck_assert_int_eq(v->ops->start(v), 0);
	ck_assert(!T->attached[1]);
	ck_assert_int_eq(T->attach_calls, 3);
	v->ops->stop(v);
	mq_close();
}
END_TEST

/* Runs pair p's loop (no thread) after kicking its RX and TX queues. */
static void mq_kick_and_run(struct net_pair *p)
{
	uint64_t one = 1;
	ck_assert_int_eq(write(T->kick[net_rxq(p->index)], &one, 8), 8);
	ck_assert_int_eq(write(T->kick[net_txq(p->index)], &one, 8), 8);
	for (int i = 0; i < 3; i++)
		ck_assert_int_ge(loop_run_once(p->loop, 0), 0);
}

/* A stop that is no reset (Bus Master off, QMP stop) keeps the rings: every pair's datapath gives
 * back the chains it popped and did not use (RX buffers held for the next frame, a TX chain held
 * while the tap was full), so the next start pops the same chains again, in order. */
START_TEST(a_stop_gives_every_pairs_held_chains_back_to_the_ring)
{
	mq_open(2, MQ_FEATURES | BIT(VIRTIO_NET_F_MRG_RXBUF));
	struct virtio_dev *v = &T->n.vdev;
	uint8_t frame[HDR + 60], got[128];
	fill_pattern(frame, sizeof(frame), 9);
	for (int i = 0; i < 2; i++) {
		struct net_pair *p = &T->n.pair[i];
		struct fake_ring *rx = &T->fr[net_rxq(i)], *tx = &T->fr[net_txq(i)];
		for (int k = 0; k < 3; k++) {
			struct fake_seg s[] = {FAKE_IN(256)};
			fake_ring_send(rx, s, 1);
		}
		struct fake_seg s[] = {FAKE_OUT(frame, sizeof(frame))};
		fake_ring_send(tx, s, 1);
		T->eagain = true;
		ck_assert_int_eq(net_loop_datapath.start(p), 0);
		mq_kick_and_run(p);
		ck_assert_uint_eq(v->vq[net_rxq(i)].last_avail, 3); /* held for a 64 KiB frame */
		ck_assert_uint_eq(v->vq[net_txq(i)].last_avail, 1); /* held for the full tap */
		net_loop_datapath.stop(p);
		ck_assert_uint_eq(v->vq[net_rxq(i)].last_avail, 0);
		ck_assert_uint_eq(v->vq[net_txq(i)].last_avail, 0);

		T->eagain = false;
		ck_assert_int_eq(net_loop_datapath.start(p), 0);
		mq_kick_and_run(p);
		ck_assert_int_eq(recv(T->wires[i], got, sizeof(got), MSG_DONTWAIT), sizeof(frame));
		ck_assert_mem_eq(got, frame, sizeof(frame));
		ck_assert_int_eq(send(T->wires[i], frame, sizeof(frame), 0), sizeof(frame));
		for (int k = 0; k < 3; k++)
			ck_assert_int_ge(loop_run_once(p->loop, 0), 0);
		uint32_t id, len;
		ck_assert(fake_ring_get_used(tx, &id, &len));
		ck_assert_uint_eq(id, 0);
		ck_assert(fake_ring_get_used(rx, &id, &len));
		ck_assert_uint_eq(id, 0);
		ck_assert_uint_eq(len, sizeof(frame));
		net_loop_datapath.stop(p);
	}
	ck_assert_uint_eq(T->n.stats[net_txq(0)].drops + T->n.stats[net_txq(1)].drops, 0);
	mq_close();
}
END_TEST

/* Without F_MQ the driver uses one pair (and queue 2 is the control queue): pair 1 gets no
 * thread and its backend queue is detached, so the kernel steers no frames where nobody reads. */
START_TEST(pairs_the_driver_cannot_use_are_detached_and_get_no_thread)
{
	mq_open(2, BASE_FEATURES);
	struct virtio_dev *v = &T->n.vdev;
	uint64_t one = 1;
	ck_assert_int_eq(v->ops->start(v), 0);
	ck_assert(T->n.pair[0].running);
	ck_assert(!T->n.pair[1].running);
	ck_assert(T->attached[0] && !T->attached[1]);
	/* The control queue at index 2 is served. */
	uint8_t cmd[3] = {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 1};
	struct fake_seg c[] = {FAKE_OUT(cmd, 3), FAKE_IN(1)};
	fake_ring_send(&T->fr[2], c, 2);
	ck_assert_int_eq(write(T->kick[2], &one, 8), 8);
	ck_assert(fake_ring_wait_used(&T->fr[2], 1));
	ck_assert_uint_eq(*(uint8_t *)fake_ring_host(&T->fr[2], c[1].gpa, 1), VIRTIO_NET_OK);
	v->ops->stop(v);
	ck_assert_uint_eq(T->n.stats[4].packets, 1); /* ctrl's slot, not rx1's */
	ck_assert_uint_eq(T->n.stats[2].packets, 0);
	mq_close();
}
END_TEST

/* --stats and QMP name every queue of every pair. */
START_TEST(stats_name_every_queue_of_every_pair)
{
	mq_open(2, MQ_FEATURES);
	T->n.stats[net_rxq(1)].packets = 7;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	virtio_net_stats_print(&T->n, f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "stats: net0 rx0 (userspace) "));
	ck_assert_ptr_nonnull(strstr(buf, "stats: net0 tx0 (userspace) "));
	ck_assert_ptr_nonnull(strstr(buf, "stats: net0 rx1 (userspace) kicks=0 interrupts=0 packets=7 "));
	ck_assert_ptr_nonnull(strstr(buf, "stats: net0 tx1 (userspace) "));
	ck_assert_ptr_nonnull(strstr(buf, "stats: net0 ctrl (vmm) "));
	free(buf);
	mq_close();
}
END_TEST

static Suite *virtio_net_suite(void)
{
	Suite *s = suite_create("virtio_net");
	TCase *tx = tcase_create("tx");
	tcase_add_test(tx, tx_frames_of_1_to_65535_bytes_reach_the_backend_whole);
	tcase_add_loop_test(tx, tx_chain_the_device_cannot_use_breaks_the_queue, 0,
			    sizeof(bad_tx) / sizeof(bad_tx[0]));
	tcase_add_test(tx, malformed_tx_chain_marks_the_device_needs_reset);
	tcase_add_test(tx, tx_backend_full_keeps_the_chain_until_it_drains);
	tcase_add_test(tx, tx_round_ends_after_the_byte_budget_and_comes_back);
	tcase_add_test(tx, tx_round_over_the_byte_budget_comes_back_through_the_loop_without_a_kick);
	tcase_add_test(tx, tx_come_back_deferred_before_a_stop_never_runs_after_it);
	suite_add_tcase(s, tx);
	TCase *irq = tcase_create("notify");
	tcase_add_test(irq, tx_batch_raises_one_interrupt);
	tcase_add_test(irq, no_interrupt_flag_is_honoured);
	tcase_add_test(irq, used_event_is_honoured_with_event_idx);
	suite_add_tcase(s, irq);
	TCase *rx = tcase_create("rx");
	tcase_add_test(rx, rx_frames_of_1_to_65535_bytes_fill_one_big_buffer);
	tcase_add_test(rx, rx_mergeable_frame_spans_buffers_and_sets_num_buffers);
	tcase_add_loop_test(rx, rx_kept_chains_deliver_thousands_of_frames_in_order_as_the_driver_recycles, 0, 2);
	tcase_add_test(rx, rx_without_buffers_keeps_the_frame_until_buffers_and_kick);
	tcase_add_test(rx, rx_frame_larger_than_the_buffers_on_offer_waits_for_more);
	tcase_add_loop_test(rx, rx_frame_too_big_for_the_buffers_is_dropped_and_the_buffer_reused, 0,
			    sizeof(too_big) / sizeof(too_big[0]));
	tcase_add_test(rx, rx_buffer_with_a_readable_descriptor_breaks_the_queue);
	tcase_add_test(rx, malformed_rx_chain_marks_the_device_needs_reset);
	tcase_add_loop_test(rx, rx_readable_chain_after_tiny_chain_breaks_queue_without_spinning, 0,
			    sizeof(tiny_lens) / sizeof(tiny_lens[0]));
	tcase_add_test(rx, rx_pass_is_bounded_on_garbage_ring_with_frames_waiting);
	tcase_add_test(rx, rx_64k_gso_frame_with_a_vlan_tag_fits_NET_RX_MAX);
	tcase_add_test(rx, rx_without_gso_reads_straight_into_mtu_sized_buffers);
	tcase_add_test(rx, link_down_drops_frames_both_ways_and_link_up_moves_them_again);
	tcase_set_timeout(rx, 10);
	suite_add_tcase(s, rx);
	TCase *c = tcase_create("ctrl");
	tcase_add_test(c, ctrl_rx_promisc_and_allmulti_are_acked);
	tcase_add_test(c, ctrl_mac_addr_set_changes_the_config_mac);
	tcase_add_test(c, ctrl_mac_table_with_lying_lengths_is_refused);
	tcase_add_test(c, ctrl_unknown_class_or_short_command_gets_err);
	tcase_add_test(c, ctrl_guest_offloads_must_be_negotiated);
	tcase_add_test(c, ctrl_command_without_an_ack_byte_breaks_the_queue);
	tcase_add_test(c, config_writes_are_counted_and_printed_rate_limited);
	tcase_add_test(c, a_stop_and_start_keeps_the_offloads_the_driver_chose);
	tcase_add_test(c, ctrl_command_needs_its_feature);
	suite_add_tcase(s, c);
	TCase *d = tcase_create("device");
	tcase_add_test(d, set_features_refuses_missing_dependencies);
	tcase_add_test(d, offloads_are_offered_only_where_the_backend_can);
	tcase_add_test(d, config_space_holds_mac_link_up_one_pair_and_mtu);
	tcase_add_test(d, config_writes_are_counted_and_rate_limited);
	tcase_add_test(d, default_mac_is_stable_unicast_and_locally_administered);
	tcase_add_test(d, io_thread_moves_frames_both_ways_and_restarts_after_stop);
	tcase_add_test(d, device_over_an_attaching_backend_restarts_and_frees_cleanly);
	tcase_set_timeout(d, 20);
	TCase *stop = tcase_create("stop");
	tcase_add_test(stop, start_and_stop_return_on_a_garbage_rx_ring_with_frames_waiting);
	tcase_add_test(stop, stop_returns_while_a_driver_keeps_both_queues_busy);
	/* A datapath that cannot be stopped hangs these tests: the timeout is the failure. */
	tcase_set_timeout(stop, 60);
	suite_add_tcase(s, d);
	suite_add_tcase(s, stop);
	TCase *mq = tcase_create("mq");
	tcase_add_test(mq, mq_is_offered_with_more_than_one_pair_only);
	tcase_add_test(mq, queue_layout_is_rx_tx_pairs_then_ctrl_last);
	tcase_add_loop_test(mq, ctrl_mq_pairs_set_takes_1_to_max_pairs, 0,
			    sizeof(pairs_set) / sizeof(pairs_set[0]));
	tcase_add_test(mq, ctrl_mq_needs_f_mq_and_a_known_command);
	tcase_add_test(mq, pairs_attach_and_detach_their_backend_queue_as_the_driver_says);
	tcase_add_test(mq, pairs_the_driver_cannot_use_are_detached_and_get_no_thread);
	tcase_add_test(mq, a_stop_and_start_keeps_the_pairs_the_driver_chose);
	tcase_add_test(mq, a_stop_gives_every_pairs_held_chains_back_to_the_ring);
	tcase_add_test(mq, stats_name_every_queue_of_every_pair);
	tcase_set_timeout(mq, 20);
	suite_add_tcase(s, mq);
	return s;
}

int main(void)
{
	return unit_run(virtio_net_suite());
}
