/* guest_driver.c: the datapath bench's in-process virtio-net driver (guest_driver.h). */
#include "tests/bench/datapath/guest_driver.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/bench/datapath/dp_frame.h"
#include "vmm/config.h"

#define BIT(f) (1ULL << (f))

/* What Linux's virtio_net accepts (its feature table, plus the ring features vring_transport_
 * features() keeps); the device's offer decides the rest. */
#define GD_LINUX_FEATURES                                                                                    \
	(BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_RING_F_INDIRECT_DESC) |         \
	 BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) |     \
	 BIT(VIRTIO_NET_F_MTU) | BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_GUEST_TSO4) |                      \
	 BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_GUEST_ECN) | BIT(VIRTIO_NET_F_GUEST_UFO) |          \
	 BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_HOST_ECN) |            \
	 BIT(VIRTIO_NET_F_HOST_UFO) | BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_STATUS) |               \
	 BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX) | BIT(VIRTIO_NET_F_CTRL_VLAN) |               \
	 BIT(VIRTIO_NET_F_GUEST_ANNOUNCE) | BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_CTRL_MAC_ADDR))

#define TX_STOP_FREE (2 + 17) /* 2 + MAX_SKB_FRAGS: start_xmit stops the queue below this */
#define NAPI_BUDGET  64
#define RX_REFILL    (NAPI_BUDGET / 2) /* refill once more than this many buffers are free */

/* Fake guest memory layout (guest-physical = offset), sized for VIRTQ_MAX_SIZE. */
#define RING_AREA  0x10000ULL				  /* per queue: desc, avail, used (4 KiB aligned) */
#define RX_BASE	   (NET_NUM_QUEUES * RING_AREA)		  /* RX buffers, in RX_FRAG pieces (rx_buf()) */
#define RX_STRIDE  4096ULL				  /* the largest RX buffer */
#define RX_FRAG	   32768ULL				  /* Linux's page_frag refill: a 32 KiB page */
#define TX_BASE	   (RX_BASE + VIRTQ_MAX_SIZE * RX_STRIDE) /* TX slot i: header + frame/head */
#define TX_STRIDE  2048ULL
#define TX_TABLE   1536ULL /* the slot's indirect table, at this offset in the slot */
#define FRAG_BASE  (TX_BASE + VIRTQ_MAX_SIZE * TX_STRIDE) /* a GSO frame's tail, shared */
#define FRAG_BYTES (DP_MAX_LEN - DP_LINEAR)
#define RAM_SIZE   (FRAG_BASE + ((FRAG_BYTES + DP_PAGE - 1) & ~(uint64_t)(DP_PAGE - 1)))
_Static_assert(DP_HDR_LEN + DP_GSO_MIN - 1 <= TX_TABLE, "a linear frame fits its TX slot");
_Static_assert(TX_TABLE + 17 * 16 <= TX_STRIDE, "the indirect table fits its TX slot");

static void *host(struct guest_driver *g, uint64_t gpa)
{
	return g->ram + gpa;
}

static void fail(struct guest_driver *g, const char *fmt, const char *detail)
{
	if (!g->bad)
		snprintf(g->why, sizeof(g->why), fmt, detail);
	__atomic_store_n(&g->bad, g->bad + 1, __ATOMIC_RELAXED);
}

static void bump(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

/* ---- the transport: one kick and one call eventfd per queue ---- */

static int gdt_kick_fd(struct virtio_dev *vdev, int q)
{
	return ((struct guest_driver *)vdev->transport)->kick[q];
}

static int gdt_call_fd(struct virtio_dev *vdev, int q)
{
	return ((struct guest_driver *)vdev->transport)->call[q];
}

static void gdt_config_changed(struct virtio_dev *vdev)
{
	(void)vdev;
}

static void gdt_needs_reset(struct virtio_dev *vdev)
{
	struct guest_driver *g = vdev->transport;
	__atomic_add_fetch(&g->needs_reset, 1, __ATOMIC_RELAXED);
}

static const struct virtio_transport_ops gd_transport = {
    .kick_fd = gdt_kick_fd,
    .call_fd = gdt_call_fd,
    .config_changed = gdt_config_changed,
    .needs_reset = gdt_needs_reset,
};

/* ---- virtio_ring, driver side (Linux's split ring, for the parts a NIC uses) ---- */

static uint16_t *used_event(struct gd_ring *r)
{
	return &r->avail->ring[r->size];
}

static uint16_t *avail_event(struct gd_ring *r)
{
	return (uint16_t *)&r->used->ring[r->size];
}

static uint16_t used_idx(struct gd_ring *r)
{
	return le16toh(__atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE));
}

static void ring_setup(struct guest_driver *g, int q, uint16_t size)
{
	struct gd_ring *r = &g->ring[q];
	memset(r, 0, sizeof(*r));
	r->size = size;
	r->desc_gpa = q * RING_AREA;
	r->avail_gpa = r->desc_gpa + 16ULL * size;
	r->used_gpa = (r->avail_gpa + 6 + 2ULL * size + DP_PAGE - 1) & ~(uint64_t)(DP_PAGE - 1);
	memset(host(g, r->desc_gpa), 0, RING_AREA);
	r->desc = host(g, r->desc_gpa);
	r->avail = host(g, r->avail_gpa);
	r->used = host(g, r->used_gpa);
	for (uint16_t i = 0; i < size; i++)
		r->free[i] = i;
	r->nfree = size;
}

/* Free slots leave in the order they came back: with RX, the order the device used them, which
 * is the order they were posted in, so buffers are posted in address order as Linux's page frag
 * hands them out. */
static uint16_t free_pop(struct gd_ring *r)
{
	uint16_t i = r->free[r->free_head];
	r->free_head = (r->free_head + 1) & (r->size - 1);
	r->nfree--;
	return i;
}

static void ring_add(struct gd_ring *r, uint16_t head)
{
	/* virtqueue_add_split(): the ring entry, a write barrier, then the index. */
	r->avail->ring[r->avail_idx & (r->size - 1)] = htole16(head);
	r->avail_idx++;
	__atomic_store_n(&r->avail->idx, htole16(r->avail_idx), __ATOMIC_RELEASE);
}

/* virtqueue_kick_prepare() + virtqueue_notify(): the write to the doorbell that KVM's ioeventfd
 * turns into an eventfd signal. */
static void ring_kick(struct guest_driver *g, int q)
{
	struct gd_ring *r = &g->ring[q];
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t old = r->kicked_idx, new = r->avail_idx;
	bool need;
	r->kicked_idx = new;
	if (g->features & BIT(VIRTIO_RING_F_EVENT_IDX))
		need = vring_need_event(le16toh(__atomic_load_n(avail_event(r), __ATOMIC_RELAXED)), new, old);
	else
		need =
		    !(le16toh(__atomic_load_n(&r->used->flags, __ATOMIC_RELAXED)) & VRING_USED_F_NO_NOTIFY);
	if (!need)
		return;
	uint64_t one = 1;
	if (write(g->kick[q], &one, sizeof(one)) == sizeof(one))
		bump(&g->kicks, 1);
}

/* virtqueue_disable_cb(): with EVENT_IDX Linux writes used_event 0 ("a hack", its comment says),
 * else the NO_INTERRUPT flag. */
static void ring_disable_cb(struct guest_driver *g, struct gd_ring *r)
{
	if (r->cb_disabled)
		return;
	r->cb_disabled = true;
	if (g->features & BIT(VIRTIO_RING_F_EVENT_IDX))
		__atomic_store_n(used_event(r), 0, __ATOMIC_RELAXED);
	else
		__atomic_store_n(&r->avail->flags, htole16(VRING_AVAIL_F_NO_INTERRUPT), __ATOMIC_RELAXED);
}

static void ring_cb_flag_clear(struct guest_driver *g, struct gd_ring *r)
{
	if (!r->cb_disabled)
		return;
	r->cb_disabled = false;
	if (!(g->features & BIT(VIRTIO_RING_F_EVENT_IDX)))
		__atomic_store_n(&r->avail->flags, 0, __ATOMIC_RELAXED);
}

/* virtqueue_enable_cb_prepare() + virtqueue_poll(): true if used entries are already waiting. */
static bool ring_enable_cb_poll(struct guest_driver *g, struct gd_ring *r)
{
	ring_cb_flag_clear(g, r);
	__atomic_store_n(used_event(r), htole16(r->last_used), __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return used_idx(r) != r->last_used;
}

/* virtqueue_enable_cb_delayed(): interrupt once 3/4 of what is outstanding is used. false if
 * that many are used already (the caller reclaims again). */
static bool ring_enable_cb_delayed(struct guest_driver *g, struct gd_ring *r)
{
	ring_cb_flag_clear(g, r);
	uint16_t bufs = (uint16_t)(r->avail_idx - r->last_used) * 3 / 4;
	__atomic_store_n(used_event(r), htole16(r->last_used + bufs), __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return (uint16_t)(used_idx(r) - r->last_used) <= bufs;
}

/* Blocks until the device interrupts queue q (or gd_stop()). */
static void wait_irq(struct guest_driver *g, int q)
{
	uint64_t v;
	if (read(g->call[q], &v, sizeof(v)) == sizeof(v))
		bump(&g->irqs, 1);
}

static bool stopping(struct guest_driver *g)
{
	return __atomic_load_n(&g->stop, __ATOMIC_ACQUIRE);
}

/* A used entry's id, checked: the device may only return what it was given. */
static bool used_take(struct guest_driver *g, struct gd_ring *r, uint16_t pos, uint16_t *id, uint32_t *len)
{
	struct vring_used_elem u = r->used->ring[pos & (r->size - 1)];
	uint32_t i = le32toh(u.id);
	*len = le32toh(u.len);
	if (i >= r->size || !r->busy[i]) {
		char d[48];
		snprintf(d, sizeof(d), "%u", i);
		fail(g, "device returned descriptor %s it did not own", d);
		return false;
	}
	r->busy[i] = false;
	r->free[(uint16_t)(r->free_head + r->nfree++) & (r->size - 1)] = (uint16_t)i;
	*id = (uint16_t)i;
	return true;
}

/* ---- TX ---- */

static uint64_t tx_slot(uint16_t i)
{
	return TX_BASE + i * TX_STRIDE;
}

/* free_old_xmit(): takes back what the device used. */
static void tx_reclaim(struct guest_driver *g)
{
	struct gd_ring *r = &g->ring[NET_Q_TX];
	uint16_t end = used_idx(r), n = 0;
	while (r->last_used != end) {
		uint16_t id;
		uint32_t len;
		used_take(g, r, r->last_used, &id, &len);
		r->last_used++;
		n++;
	}
	if (n)
		bump(&g->tx_done, n);
}

static void tx_add(struct guest_driver *g, uint32_t seq)
{
	struct gd_ring *r = &g->ring[NET_Q_TX];
	uint16_t i = free_pop(r);
	uint64_t slot = tx_slot(i);
	uint8_t *f = host(g, slot + DP_HDR_LEN);
	bool gso = g->frame_len > DP_LINEAR && g->frame_len >= DP_GSO_MIN;
	if (g->verify)
		dp_frame_build(f, g->frame_len, seq, gso ? DP_LINEAR : g->frame_len);
	else
		dp_frame_set_seq(f, seq);
	struct vring_desc *d = &r->desc[i];
	if (gso) {
		/* head + page frags: more than one sg entry, so virtqueue_add_split() goes
		 * indirect; the table was written by gd_open(). */
		uint32_t nfrags = (g->frame_len - DP_LINEAR + DP_TX_FRAG - 1) / DP_TX_FRAG;
		d->addr = htole64(slot + TX_TABLE);
		d->len = htole32(16 * (1 + nfrags));
		d->flags = htole16(VRING_DESC_F_INDIRECT);
	} else {
		d->addr = htole64(slot);
		d->len = htole32(DP_HDR_LEN + g->frame_len);
		d->flags = 0;
	}
	d->next = 0;
	r->busy[i] = true;
	ring_add(r, i);
	bump(&g->tx_sent, 1);
}

void *gd_tx_main(void *opaque)
{
	struct guest_driver *g = opaque;
	struct gd_ring *r = &g->ring[NET_Q_TX];
	uint32_t seq = 0, burst = g->tx_burst ? g->tx_burst : 1, pending = 0;
	while (!stopping(g) && (!g->limit || seq < g->limit)) {
		/* start_xmit() with napi_tx: disable callbacks, free old buffers, re-enable them
		 * delayed (again if more were used meanwhile). */
		do {
			ring_disable_cb(g, r);
			tx_reclaim(g);
		} while (!ring_enable_cb_delayed(g, r));
		if (r->nfree < TX_STOP_FREE) {
			/* Queue stopped: the TX interrupt (NAPI) wakes it. */
			if (pending)
				ring_kick(g, NET_Q_TX);
			pending = 0;
			wait_irq(g, NET_Q_TX);
			continue;
		}
		if (g->credit && !credit_take(g->credit, 1))
			break;
		tx_add(g, seq++);
		if (++pending >= burst) {
			ring_kick(g, NET_Q_TX);
			pending = 0;
		}
	}
	if (pending)
		ring_kick(g, NET_Q_TX);
	return NULL;
}

/* A frame of the driver's own (a TCP reply): one direct descriptor, no offloads. */
static void tx_send_raw(struct guest_driver *g, const uint8_t *frame, size_t len)
{
	struct gd_ring *r = &g->ring[NET_Q_TX];
	tx_reclaim(g);
	if (!r->nfree) {
		bump(&g->tx_acks_lost, 1);
		return;
	}
	uint16_t i = free_pop(r);
	uint64_t slot = tx_slot(i);
	memset(host(g, slot), 0, DP_HDR_LEN);
	memcpy(host(g, slot + DP_HDR_LEN), frame, len);
	r->desc[i] = (struct vring_desc){.addr = htole64(slot), .len = htole32(DP_HDR_LEN + (uint32_t)len)};
	r->busy[i] = true;
	ring_add(r, i);
	ring_kick(g, NET_Q_TX);
}

/* ---- RX ---- */

/* Where RX buffer i is. Linux carves mergeable buffers out of a 32 KiB page frag one after the
 * other (add_recvbuf_mergeable / virtnet_rq_alloc), so the buffers it posts in a row are adjacent
 * in guest memory, a frag at a time; the frag's tail that fits no buffer stays unused here. */
static uint64_t rx_buf(const struct guest_driver *g, uint16_t i)
{
	uint64_t per = RX_FRAG / g->rx_buf_len;
	return RX_BASE + (i / per) * RX_FRAG + (i % per) * g->rx_buf_len;
}

/* try_fill_recv() without its kick: every free buffer back on the ring. */
static void rx_fill(struct guest_driver *g)
{
	struct gd_ring *r = &g->ring[NET_Q_RX];
	while (r->nfree) {
		uint16_t i = free_pop(r);
		r->desc[i] = (struct vring_desc){.addr = htole64(rx_buf(g, i)),
						 .len = htole32(g->rx_buf_len),
						 .flags = htole16(VRING_DESC_F_WRITE)};
		r->busy[i] = true;
		ring_add(r, i);
	}
}

static void rx_refill(struct guest_driver *g)
{
	rx_fill(g);
	ring_kick(g, NET_Q_RX);
}

/* One received frame: num_buffers used entries from last_used on. 0 = not all there yet,
 * 1 = taken. */
static int rx_one(struct guest_driver *g, uint16_t end)
{
	struct gd_ring *r = &g->ring[NET_Q_RX];
	struct vring_used_elem u0 = r->used->ring[r->last_used & (r->size - 1)];
	uint32_t id0 = le32toh(u0.id);
	uint16_t nbuf = 1;
	if (id0 < r->size && (g->features & BIT(VIRTIO_NET_F_MRG_RXBUF))) {
		const struct virtio_net_hdr_v1 *h = host(g, rx_buf(g, (uint16_t)id0));
		nbuf = le16toh(h->num_buffers);
	}
	if (nbuf == 0 || nbuf > r->size) {
		fail(g, "%s", "received frame with a bad num_buffers");
		nbuf = 1;
	}
	if ((uint16_t)(end - r->last_used) < nbuf)
		return 0;
	struct iovec iov[VIRTQ_MAX_SIZE];
	uint64_t total = 0;
	bool ok = true;
	for (uint16_t k = 0; k < nbuf; k++) {
		uint16_t id;
		uint32_t len;
		if (!used_take(g, r, r->last_used + k, &id, &len) || len > g->rx_buf_len) {
			ok = false;
			continue;
		}
		iov[k] = (struct iovec){host(g, rx_buf(g, id)), len};
		total += len;
	}
	r->last_used += nbuf;
	bump(&g->rx_bufs, nbuf);
	if (ok && total < DP_HDR_LEN) {
		fail(g, "%s", "received frame shorter than its vnet header");
		ok = false;
	}
	if (ok && g->tcp) {
		uint8_t reply[TCP_ACK_MAX];
		size_t n = tcp_ack_rx(g->tcp, iov[0].iov_base, iov, nbuf, DP_HDR_LEN, reply);
		if (n)
			tx_send_raw(g, reply, n);
	} else if (ok && g->verify) {
		char why[200];
		uint32_t seq;
		const struct virtio_net_hdr *h = iov[0].iov_base;
		if (!dp_frame_hdr_check(h, g->frame_len, why, sizeof(why)) ||
		    !dp_frame_check(iov, nbuf, DP_HDR_LEN, g->frame_len, &seq, why, sizeof(why)))
			fail(g, "%s", why);
		else if (seq != (uint32_t)g->rx_frames) {
			snprintf(why, sizeof(why), "frame %u arrived where %u was due", seq,
				 (uint32_t)g->rx_frames);
			fail(g, "%s", why);
		}
	}
	bump(&g->rx_frames, 1);
	bump(&g->rx_bytes, total - (total >= DP_HDR_LEN ? DP_HDR_LEN : total));
	return 1;
}

/* virtnet_receive(): up to budget frames, refilling as Linux does. */
static int rx_poll(struct guest_driver *g, int budget)
{
	struct gd_ring *r = &g->ring[NET_Q_RX];
	int got = 0;
	while (got < budget && (!g->limit || g->rx_frames < g->limit)) {
		uint16_t end = used_idx(r);
		if (r->last_used == end || !rx_one(g, end))
			break;
		got++;
	}
	if (got && g->credit)
		credit_return(g->credit, (uint32_t)got);
	if (r->nfree > RX_REFILL)
		rx_refill(g);
	return got;
}

void *gd_rx_main(void *opaque)
{
	struct guest_driver *g = opaque;
	struct gd_ring *r = &g->ring[NET_Q_RX];
	while (!stopping(g) && (!g->limit || g->rx_frames < g->limit)) {
		/* NAPI: the interrupt handler disables callbacks and schedules the poll. */
		ring_disable_cb(g, r);
		for (;;) {
			if (rx_poll(g, NAPI_BUDGET) == NAPI_BUDGET)
				continue;
			/* napi_complete_done(): callbacks on, unless more came meanwhile. */
			if (!ring_enable_cb_poll(g, r))
				break;
			ring_disable_cb(g, r);
			if (stopping(g) || (g->limit && g->rx_frames >= g->limit))
				break;
		}
		if (stopping(g) || (g->limit && g->rx_frames >= g->limit))
			break;
		wait_irq(g, NET_Q_RX);
	}
	return NULL;
}

/* ---- set up, start, stop ---- */

int gd_init(struct guest_driver *g)
{
	memset(g, 0, sizeof(*g));
	g->ram_size = RAM_SIZE;
	g->ram = mmap(NULL, g->ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		      -1, 0);
	if (g->ram == MAP_FAILED) {
		g->ram = NULL;
		return -errno;
	}
	guest_mem_fake(&g->mem, g->ram, g->ram_size);
	/* A GSO frame's tail: page frags every TX slot points at. */
	for (uint32_t off = 0; off < FRAG_BYTES; off++)
		g->ram[FRAG_BASE + off] = dp_frame_tail_byte(DP_LINEAR + off);
	for (int q = 0; q < NET_NUM_QUEUES; q++)
		g->kick[q] = g->call[q] = -1;
	return 0;
}

void gd_free(struct guest_driver *g)
{
	if (g->open)
		gd_close(g);
	if (g->ram)
		munmap(g->ram, g->ram_size);
	g->ram = NULL;
}

static void tx_slots_build(struct guest_driver *g)
{
	struct virtio_net_hdr_v1 h;
	uint32_t len = g->frame_len;
	bool gso = len >= DP_GSO_MIN;
	dp_frame_hdr(len, &h);
	for (uint16_t i = 0; i < g->ring[NET_Q_TX].size; i++) {
		uint64_t slot = tx_slot(i);
		memcpy(host(g, slot), &h, sizeof(h));
		dp_frame_build(host(g, slot + DP_HDR_LEN), len, 0, gso ? DP_LINEAR : len);
		if (!gso)
			continue;
		struct vring_desc *t = host(g, slot + TX_TABLE);
		uint32_t nfrags = (len - DP_LINEAR + DP_TX_FRAG - 1) / DP_TX_FRAG;
		t[0] = (struct vring_desc){.addr = htole64(slot),
					   .len = htole32(DP_HDR_LEN + DP_LINEAR),
					   .flags = htole16(VRING_DESC_F_NEXT),
					   .next = htole16(1)};
		for (uint32_t k = 0; k < nfrags; k++) {
			uint32_t fl = len - DP_LINEAR - k * DP_TX_FRAG;
			bool last = k + 1 == nfrags;
			t[1 + k] = (struct vring_desc){.addr = htole64(FRAG_BASE + (uint64_t)k * DP_TX_FRAG),
						       .len = htole32(fl < DP_TX_FRAG ? fl : DP_TX_FRAG),
						       .flags = htole16(last ? 0 : VRING_DESC_F_NEXT),
						       .next = htole16(last ? 0 : (uint16_t)(k + 2))};
		}
	}
}

int gd_open(struct guest_driver *g, const char *ifname, bool vhost, uint32_t frame_len)
{
	struct virtio_dev *vdev = &g->n.vdev;
	int err;
	if (frame_len < DP_MIN_LEN || frame_len > DP_MAX_LEN)
		return -EINVAL;
	g->frame_len = frame_len;
	/* Linux's mergeable buffers: at least GOOD_PACKET_LEN + header, at most a page. */
	g->rx_buf_len = frame_len + DP_HDR_LEN <= 1536 ? 1536 : RX_STRIDE;
	g->tx_sent = g->tx_done = g->rx_frames = g->rx_bytes = g->rx_bufs = 0;
	g->kicks = g->irqs = g->bad = g->tx_acks_lost = 0;
	g->needs_reset = 0;
	g->why[0] = 0;
	g->stop = false;
	for (int q = 0; q < NET_NUM_QUEUES; q++) {
		/* Call fds block: the driver thread sleeps in read() until the interrupt. */
		g->kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		g->call[q] = eventfd(0, EFD_CLOEXEC);
		if (g->kick[q] < 0 || g->call[q] < 0) {
			err = -errno;
			goto fail_fds;
		}
	}

	struct net_opts o = {.kind = NET_TAP, .vhost = vhost ? VHOST_ON : VHOST_OFF};
	snprintf(o.ifname, sizeof(o.ifname), "%s", ifname);
	err = virtio_net_init(&g->n, &o, 0, &g->mem);
	if (err < 0)
		goto fail_fds;
	vdev->tops = &gd_transport;
	vdev->transport = g;

	/* FEATURES_OK: Linux's choice from the offer. */
	g->features = vdev->ops->features(vdev) & GD_LINUX_FEATURES;
	if (vdev->ops->set_features(vdev, g->features) < 0) {
		fprintf(stderr, "datapath: the device refused features 0x%llx\n",
			(unsigned long long)g->features);
		err = -EINVAL;
		goto fail_dev;
	}
	vdev->features = g->features;

	/* Queue setup (queue_size = the device's maximum, as Linux takes it), then
	 * queue_enable, which is where the transport calls virtq_init(). */
	uint16_t qsize = vdev->queue_max;
	if (g->max_qsize && g->max_qsize < qsize)
		qsize = g->max_qsize;
	for (int q = 0; q < NET_NUM_QUEUES; q++) {
		ring_setup(g, q, qsize);
		struct gd_ring *r = &g->ring[q];
		err = virtq_init(&vdev->vq[q], &g->mem, qsize, r->desc_gpa, r->avail_gpa, r->used_gpa,
				 g->features);
		if (err < 0) {
			fprintf(stderr, "datapath: queue %d rejected\n", q);
			goto fail_dev;
		}
	}
	tx_slots_build(g);
	/* virtnet_open(): RX filled before the device runs; the kick follows DRIVER_OK. */
	rx_fill(g);
	/* DRIVER_OK: what virtio_pci_lifecycle_run() does on the main thread. */
	if (vdev->ops->start(vdev) < 0) {
		err = -EIO;
		goto fail_dev;
	}
	g->open = true;
	ring_kick(g, NET_Q_RX);
	return 0;
fail_dev:
	virtio_net_free(&g->n);
fail_fds:
	for (int q = 0; q < NET_NUM_QUEUES; q++) {
		if (g->kick[q] >= 0)
			close(g->kick[q]);
		if (g->call[q] >= 0)
			close(g->call[q]);
		g->kick[q] = g->call[q] = -1;
	}
	return err;
}

void gd_close(struct guest_driver *g)
{
	if (!g->open)
		return;
	struct virtio_dev *vdev = &g->n.vdev;
	/* Reset: the device stops, then the transport forgets the queues. */
	vdev->ops->stop(vdev);
	for (int q = 0; q < NET_NUM_QUEUES; q++)
		virtq_reset(&vdev->vq[q]);
	virtio_net_free(&g->n);
	for (int q = 0; q < NET_NUM_QUEUES; q++) {
		close(g->kick[q]);
		close(g->call[q]);
		g->kick[q] = g->call[q] = -1;
	}
	g->open = false;
}

void gd_stop(struct guest_driver *g)
{
	uint64_t one = 1;
	__atomic_store_n(&g->stop, true, __ATOMIC_RELEASE);
	if (g->credit)
		credit_stop(g->credit);
	for (int q = 0; q < NET_NUM_QUEUES; q++)
		if (g->call[q] >= 0 && write(g->call[q], &one, sizeof(one)) < 0) {
			/* The counter cannot overflow here: a wakeup is pending anyway. */
		}
}

bool gd_io_thread(struct guest_driver *g, pthread_t *t)
{
	if (!g->open || !g->n.pair[0].running)
		return false;
	*t = g->n.pair[0].thread;
	return true;
}
