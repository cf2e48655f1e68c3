/* virtio_net.h: the virtio-net device (virtio 1.x spec 5.1): N queue pairs plus a control queue.
 *
 * The device part (virtio_net.c) offers features, checks the driver's choice, serves the config
 * space and the control queue, and owns one I/O thread with an epoll loop per queue pair. Moving
 * frames between a pair's rx/tx queues and the backend is a datapath's job, chosen per device at
 * start: the userspace loop (devices/net/net_loop.c) or vhost-net (devices/net/vhost_net.c: it hands
 * the rx/tx kick and call fds and the pair's tap queue fd to the kernel); the control queue stays
 * here on pair 0's I/O thread either way.
 *
 * Multiqueue (5.1.6.5.5, --net tap,queues=N): VIRTIO_NET_F_MQ is offered only when N > 1 (as
 * QEMU), so a one-pair device looks to the guest exactly as before. At DRIVER_OK every pair whose
 * queues the driver enabled gets its thread (and its vhost instance), but only pair 0 is in use
 * (multiqueue starts disabled at FEATURES_OK, and a stop/start for Bus Master or QMP stop keeps
 * what the driver chose); CTRL_MQ_VQ_PAIRS_SET then says how many are, and each pair's
 * thread attaches or detaches its own tap queue (TUNSETQUEUE), so the kernel steers frames only
 * into pairs the driver uses. A pair's tap queue: attached iff the pair is started and in use. */
#ifndef MINIVMM_VIRTIO_NET_H
#define MINIVMM_VIRTIO_NET_H
#include <linux/virtio_net.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "devices/net/net_backend.h"
#include "devices/virtio/virtio_dev.h"
#include "vmm/config.h"

/* The queue layout (5.1.2): receiveq1, transmitq1, ..., receiveqN, transmitqN, controlq, with
 * N = max_virtqueue_pairs when VIRTIO_NET_F_MQ is negotiated, else 1. Device code names queues only
 * through these helpers (net_ctrlq() in virtio_net.c). */
#define NET_MAX_PAIRS  CONFIG_MAX_QUEUES
#define NET_MAX_QUEUES (2 * NET_MAX_PAIRS + 1)
static inline int net_rxq(int pair)
{
	return 2 * pair;
}
static inline int net_txq(int pair)
{
	return 2 * pair + 1;
}
/* A one-pair device's layout (pair 0, and the control queue when F_MQ is not negotiated): what
 * tests, fuzzers and the datapath bench build. */
enum { NET_Q_RX = 0, NET_Q_TX = 1, NET_Q_CTRL = 2, NET_NUM_QUEUES = 3 };

#define NET_QUEUE_SIZE 1024 /* queue_max offered to the driver unless queue_size= says */
#define NET_HDR_LEN    ((uint32_t)sizeof(struct virtio_net_hdr_v1)) /* 12: VERSION_1 (5.1.6) */
/* The largest Ethernet frame moved either way: a 64 KiB GSO (or jumbo) packet plus the Ethernet
 * header and a VLAN tag. */
#define NET_FRAME_MAX (65535u + 14u + 4u)
/* The most a backend may hand us for one frame: the vnet header and NET_FRAME_MAX. */
#define NET_RX_MAX (NET_HDR_LEN + NET_FRAME_MAX)

/* Per-queue counters. Written only by the queue's pair's I/O thread (the control queue's by pair
 * 0's); other threads (--stats) may read them without locking (64-bit loads do not tear on the
 * hosts we run on). */
struct net_queue_stats {
	uint64_t kicks;	     /* kick-eventfd wakeups handled */
	uint64_t interrupts; /* call-eventfd writes */
	uint64_t packets;    /* frames (TX/RX) or commands (ctrl) completed */
	uint64_t bytes;	     /* frame bytes, vnet header excluded */
	uint64_t drops;	     /* frames or chains dropped (malformed, too big, backend error) */
	uint64_t broken;     /* times a chain the device cannot use broke the queue (NEEDS_RESET) */
};

struct virtio_net;
struct loop;

struct net_pair;

/* Who moves frames for one pair's rx/tx queues. start() runs on the main thread (the transport's
 * lifecycle, after DRIVER_OK), before the pair's I/O thread exists, with the pair's backend queue
 * attached, and may add fds to the pair's loop (p->loop); it must not walk the rings (the device
 * kicks both queues once the I/O thread runs). stop() runs after that thread was joined and removes
 * them again (the loop lives on: the next start reuses it); it leaves each virtq's last_avail just
 * past the chains it used, so that a start without a reset (Bus Master, QMP cont) takes the others
 * again. */
struct net_datapath_ops {
	const char *name;
	int (*start)(struct net_pair *p);
	void (*stop)(struct net_pair *p);
	/* The pair's backend queue was attached (true) or detached (false) while it runs, on its I/O
	 * thread: a detached tap queue reads nothing and polls as an error, so it is not watched.
	 * May be NULL. */
	void (*attached)(struct net_pair *p, bool on);
	/* The guest's receive offloads changed (start, CTRL_GUEST_OFFLOADS_SET); may be NULL. */
	void (*offloads_changed)(struct virtio_net *n);
	/* The link went down or up (QMP set_link) while the pair is started, on the main thread.
	 * Down, no frame moves either way, as a pulled cable: NULL for a datapath that looks at
	 * virtio_net_link_down() for each frame. */
	void (*link_changed)(struct net_pair *p, bool up);
	/* The kernel moves the rx/tx frames (vhost): the device keeps no rx/tx counters, and
	 * --stats says so instead of printing zeros. */
	bool in_kernel;
};

/* One queue pair: its queues net_rxq(index), net_txq(index), its view of the backend, its I/O
 * thread and loop, its datapath state. */
struct net_pair {
	struct virtio_net *n;
	int index;
	/* The backend as this pair uses it: the same ops, its own fd (tap queue `index`). */
	struct net_backend be;
	/* /dev/vhost-net for this pair, opened at init (root may be needed) and owned
	 * (VHOST_SET_OWNER) at the first start, on the main thread, so the kernel's worker is
	 * "vhost-<our pid>" with the dropped credentials; kept across driver resets; -1 without
	 * vhost. */
	int vhost_fd;
	bool vhost_owned;
	void *dp;	   /* the datapath's state while started */
	struct loop *loop; /* the pair's I/O thread's loop (for the device's whole life) */
	int wake_fd;	   /* eventfd that wakes the loop: `stopping`, or active_pairs changed */
	pthread_t thread;
	bool running, stopping;
	bool dp_started; /* datapath->start succeeded, stop pending */
	/* The backend queue is attached (receives frames). Changed by the pair's I/O thread while
	 * it runs, by the main thread otherwise. */
	bool attached;
};

struct virtio_net {
	struct virtio_dev vdev; /* what the transport sees; vdev.priv == this */
	struct net_backend be;	/* the backend (queue 0's fd); pair[i].be are views of it */
	const struct net_datapath_ops *datapath; /* chosen at init by vhost_net_select() */
	int index;				 /* NIC number on the command line */
	int max_pairs;				 /* --net queues= (max_virtqueue_pairs) */
	/* Pairs in use (CTRL_MQ_VQ_PAIRS_SET; 1 from FEATURES_OK on). Atomic: written by pair 0's
	 * thread, read by every pair's thread. */
	int active_pairs;
	struct net_pair pair[NET_MAX_PAIRS];

	uint64_t offered;	      /* features() */
	uint64_t guest_offloads;      /* GUEST_* offloads in force (negotiated, then ctrl queue) */
	pthread_mutex_t cfg_lock;     /* config vs. CTRL_MAC_ADDR_SET on the I/O thread */
	bool link_down;		      /* atomic: set_link's state, for the datapaths */
	struct virtio_net_config cfg; /* little-endian, as the driver reads it */
	uint32_t cfg_len;

	/* Receive filter state from the control queue. Frames are not filtered (the tap or slirp
	 * only sends us what is meant for us or broadcast); the state is kept for stats and tests. */
	bool promisc, allmulti;
	uint32_t mac_table_uni, mac_table_multi;

	bool ctrl_watched; /* the ctrl kick fd is on pair 0's loop */
	int ctrl_q;	   /* its index while watched (net_ctrlq() then) */

	/* By queue: stats[net_rxq(p)], stats[net_txq(p)], and the control queue's at
	 * stats[2 * max_pairs] whatever its index (net_stats_q()). */
	struct net_queue_stats stats[NET_MAX_QUEUES];
	struct virtq_elem ctrl_elem; /* the control command being served (I/O thread only) */
};

/* Creates NIC number `index` from opts: opens the backend (net_backend_open), chooses the
 * datapath (opts->vhost, vhost_net_select()) and fills n->vdev (ops, device id 1, 2N+1 queues of
 * NET_QUEUE_SIZE, 2N+1 MSI-X vectors, config length, mem) for a transport, which then sets
 * vdev.tops and vdev.transport. 0 or -errno (message printed). */
int virtio_net_init(struct virtio_net *n, const struct net_opts *opts, int index,
		    const struct guest_mem *mem);
/* The same with a backend the caller opened (tests; n takes it over and closes it on free, or
 * at once if this fails). */
int virtio_net_init_backend(struct virtio_net *n, const struct net_opts *opts, int index,
			    const struct guest_mem *mem, const struct net_backend *be);
/* Stops the device if running and closes the backend. */
void virtio_net_free(struct virtio_net *n);

/* --stats: one line per queue (kicks, interrupts, packets, bytes, drops); rx/tx of a datapath
 * that runs in the kernel say "in kernel (<datapath>)" instead. */
void virtio_net_stats_print(const struct virtio_net *n, FILE *f);

/* The link (QMP set_link): the status bit of the config space (VIRTIO_NET_F_STATUS), with a
 * config change notification when it changes, and the datapath's: down, frames are dropped both
 * ways (QEMU's link_down), whatever the driver negotiated. The main thread, or a test's only one. */
void virtio_net_set_link(struct virtio_net *n, bool up);
/* Whether frames must be dropped: any thread, per frame (an atomic load). */
static inline bool virtio_net_link_down(const struct virtio_net *n)
{
	return __atomic_load_n(&n->link_down, __ATOMIC_ACQUIRE);
}
/* Queue q's kick eventfd counts one, as if the driver had kicked it: the datapath looks at the
 * ring again (after a start, a come-back, the link coming up). Any thread. */
void virtio_net_kick(struct virtio_net *n, int q);
/* The counters of virtio_net_stats_print() as one JSON object (QMP x-query-net-stats). */
struct jbuf;
void virtio_net_stats_json(const struct virtio_net *n, struct jbuf *b);

/* The MAC used when none is given: 02:xx:xx:xx:xx:xx (locally administered, unicast), stable for
 * a given NIC index and tap name. */
void virtio_net_default_mac(int index, const char *ifname, uint8_t mac[6]);

/* Serves every available control-queue command (5.1.6.5); called by pair 0's I/O thread on the ctrl
 * kick, and by tests. Returns the number of commands completed. */
int virtio_net_ctrl_process(struct virtio_net *n);

/* The control queue's index: 2N with VIRTIO_NET_F_MQ negotiated, else 2 (5.1.2). */
int net_ctrlq(const struct virtio_net *n);
/* The pairs the driver can use: max_pairs with VIRTIO_NET_F_MQ negotiated, else 1. */
int net_pairs(const struct virtio_net *n);

/* Interrupts the driver for queue q if 2.7.10 says it wants one; counted in stats. */
void virtio_net_notify(struct virtio_net *n, int q);
/* Marks the device NEEDS_RESET (malformed chain on queue q). */
void virtio_net_needs_reset(struct virtio_net *n, int q);
#endif
