/* guest_driver.h: an in-process virtio-net driver that plays the guest for the datapath bench and
 * its test: it drives the real device model (devices/virtio/virtio_net.c with the userspace loop
 * or vhost-net) over a tap, with no KVM and no guest kernel.
 *
 * It does what Linux's virtio_net + virtio_ring do with a modern device, so the device sees the
 * same traffic pattern as under a Linux guest:
 * - features: the device's offer intersected with Linux's (VERSION_1, EVENT_IDX, INDIRECT_DESC,
 *   MRG_RXBUF, CSUM/GUEST_CSUM, HOST_/GUEST_TSO4/6, ECN, UFO, CTRL_*, MAC, STATUS, MTU);
 * - split rings in its own fake guest memory, set up as the transport's queue_enable does;
 * - TX: one descriptor for a linear frame (vnet header pushed in front), an indirect table for a
 *   GSO frame (head + 32 KiB page frags), as virtqueue_add_split() chooses; start_xmit's "free old
 *   buffers, then virtqueue_enable_cb_delayed()" on every frame; the queue stops below
 *   2 + MAX_SKB_FRAGS free descriptors and waits for the TX interrupt;
 * - RX: mergeable buffers of one descriptor each (1536 bytes, 4096 for GSO-sized frames, as
 *   Linux's EWMA settles), refilled when more than 32 are free; NAPI: an interrupt disables
 *   callbacks, up to 64 frames are taken per poll, then virtqueue_enable_cb_prepare() +
 *   virtqueue_poll();
 * - kicks through the queue's kick eventfd (what KVM's ioeventfd does on the doorbell write)
 *   when virtqueue_kick_prepare() says the device wants one (avail_event, 2.7.10), interrupts
 *   from the call eventfd (read blocking), used_event written as Linux writes it.
 *
 * The transport is the driver's own: two eventfds per queue, status changes by direct calls
 * (start = what virtio_pci_lifecycle_run() does on DRIVER_OK, on the caller's thread).
 *
 * Threads: gd_open/gd_close on one thread (the bench's main); gd_tx_main or gd_rx_main on the
 * driver's thread; counters may be read from anywhere (relaxed loads). */
#ifndef MINIVMM_DP_GUEST_DRIVER_H
#define MINIVMM_DP_GUEST_DRIVER_H
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/virtio_net.h"
#include "tests/bench/datapath/credit.h"
#include "tests/bench/datapath/tcp_ack.h"

/* The driver's side of one split ring (Linux's struct vring_virtqueue, split part). */
struct gd_ring {
	uint16_t size;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx;  /* avail_idx_shadow */
	uint16_t kicked_idx; /* avail idx at the last kick_prepare (its "old") */
	uint16_t last_used;
	bool cb_disabled; /* avail_flags_shadow has VRING_AVAIL_F_NO_INTERRUPT */
	uint16_t nfree, free_head;
	uint16_t free[VIRTQ_MAX_SIZE]; /* FIFO of free slots (descriptor i <-> buffer slot i) */
	bool busy[VIRTQ_MAX_SIZE];
};

struct guest_driver {
	/* Fake guest memory: rings, RX buffers, TX slots, shared GSO page frags. */
	uint8_t *ram;
	size_t ram_size;
	struct guest_mem mem;
	uint16_t max_qsize; /* cap on the queue size (the device's queue_max otherwise) */

	struct virtio_net n;
	bool open;
	int kick[NET_NUM_QUEUES], call[NET_NUM_QUEUES];
	int needs_reset;
	uint64_t features;
	struct gd_ring ring[NET_NUM_QUEUES];

	/* What gd_open() set up for. */
	uint32_t frame_len, rx_buf_len;
	bool verify;	       /* build and check every byte (the test), else only count */
	uint64_t limit;	       /* TX: frames to send (0: until stopped); RX: frames to take */
	struct credit *credit; /* TX: taken per frame sent; RX: returned per frame received */
	uint32_t tx_burst;     /* frames added per kick_prepare (xmit_more); 1 as a TCP stack */
	struct tcp_ack *tcp;   /* RX is a TCP stream: answer it on TX (tcp_ack.h), else frames */

	bool stop;
	/* Counters (the driver thread writes; relaxed loads elsewhere). */
	uint64_t tx_sent, tx_done;	       /* frames added / completed by the device */
	uint64_t rx_frames, rx_bytes, rx_bufs; /* frames / frame bytes / buffers taken */
	uint64_t kicks, irqs;
	uint64_t tx_acks_lost; /* TCP replies with no TX slot free */
	uint64_t bad;	       /* frames that failed a check, device misbehaviour */
	char why[256];	       /* the first of those */
};

/* Allocates the fake guest memory (for rings up to VIRTQ_MAX_SIZE). 0 or -errno. */
int gd_init(struct guest_driver *g);
void gd_free(struct guest_driver *g);

/* Creates the device on tap `ifname` (virtio_net_init(), as minivmm does for --net
 * tap,ifname=..,vhost=on|off), negotiates, sets the rings up for frames of frame_len bytes,
 * fills the RX ring, starts the device (DRIVER_OK) and kicks RX. Counters start at 0.
 * 0 or -errno (message printed). */
int gd_open(struct guest_driver *g, const char *ifname, bool vhost, uint32_t frame_len);
/* Stops the device (reset) and frees it (the tap is closed). */
void gd_close(struct guest_driver *g);

/* Driver thread bodies: send (or receive) until gd_stop() or limit. */
void *gd_tx_main(void *g);
void *gd_rx_main(void *g);
/* Makes the thread body return soon (wakes it from an interrupt or credit wait). */
void gd_stop(struct guest_driver *g);

/* The device's I/O thread (userspace datapath), for its CPU clock. false if not running. */
bool gd_io_thread(struct guest_driver *g, pthread_t *t);

/* Relaxed read of a counter another thread writes. */
static inline uint64_t gd_read(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}
#endif
