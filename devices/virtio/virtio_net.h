/* virtio_net.h: the virtio-net device (virtio 1.x spec 5.1), one queue pair plus a control queue.
 *
 * The device part (virtio_net.c) offers features, checks the driver's choice, serves the config
 * space and the control queue, and owns one I/O thread with an epoll loop. Moving frames between
 * the rx/tx queues and the backend is a datapath's job, chosen per device at start: the userspace
 * loop (devices/net/net_loop.c) or vhost-net (devices/net/vhost_net.c: it hands the rx/tx kick and
 * call fds and the tap fd to the kernel); the control queue stays here on the I/O thread either
 * way. */
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

enum { NET_Q_RX = 0, NET_Q_TX = 1, NET_Q_CTRL = 2, NET_NUM_QUEUES = 3 };

#define NET_QUEUE_SIZE 1024 /* queue_max offered to the driver unless queue_size= says */
#define NET_HDR_LEN    ((uint32_t)sizeof(struct virtio_net_hdr_v1)) /* 12: VERSION_1 (5.1.6) */
/* The largest Ethernet frame moved either way: a 64 KiB GSO (or jumbo) packet plus the Ethernet
 * header and a VLAN tag. */
#define NET_FRAME_MAX (65535u + 14u + 4u)
/* The most a backend may hand us for one frame: the vnet header and NET_FRAME_MAX. */
#define NET_RX_MAX (NET_HDR_LEN + NET_FRAME_MAX)

/* Per-queue counters. Written only by the I/O thread; other threads (--stats) may read them
 * without locking (64-bit loads do not tear on the hosts we run on). */
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

/* Who moves frames for the rx/tx queues. start() runs on the main thread (the transport's lifecycle,
 * after DRIVER_OK), before the I/O thread exists, and may add fds to the I/O thread's loop l; it
 * must not walk the rings (the device kicks both queues once the I/O thread runs). stop() runs
 * after that thread was joined and removes them again (the loop lives on: the next start reuses
 * it). */
struct net_datapath_ops {
	const char *name;
	int (*start)(struct virtio_net *n, struct loop *l);
	void (*stop)(struct virtio_net *n);
	/* The guest's receive offloads changed (start, CTRL_GUEST_OFFLOADS_SET); may be NULL. */
	void (*offloads_changed)(struct virtio_net *n);
	/* The kernel moves the rx/tx frames (vhost): the device keeps no rx/tx counters, and
	 * --stats says so instead of printing zeros. */
	bool in_kernel;
};

struct virtio_net {
	struct virtio_dev vdev; /* what the transport sees; vdev.priv == this */
	struct net_backend be;
	const struct net_datapath_ops *datapath; /* chosen at init by vhost_net_select() */
	/* /dev/vhost-net, opened and owned (VHOST_SET_OWNER) at init on the main thread, so the
	 * kernel's worker is "vhost-<our pid>"; kept across driver resets; -1 without vhost. */
	int vhost_fd;
	void *dp;				 /* the datapath's state while started */
	int index;				 /* NIC number on the command line */

	uint64_t offered;	      /* features() */
	uint64_t guest_offloads;      /* GUEST_* offloads in force (negotiated, then ctrl queue) */
	pthread_mutex_t cfg_lock;     /* config vs. CTRL_MAC_ADDR_SET on the I/O thread */
	struct virtio_net_config cfg; /* little-endian, as the driver reads it */
	uint32_t cfg_len;

	/* Receive filter state from the control queue. Frames are not filtered (the tap or slirp
	 * only sends us what is meant for us or broadcast); the state is kept for stats and tests. */
	bool promisc, allmulti;
	uint32_t mac_table_uni, mac_table_multi;

	struct loop *loop; /* the I/O thread's loop (for the device's whole life) */
	int wake_fd;	   /* eventfd that wakes the loop to see `stopping` */
	pthread_t thread;
	bool running, stopping;
	bool dp_started;   /* datapath->start succeeded, stop pending */
	bool ctrl_watched; /* the ctrl kick fd is on the loop */

	struct net_queue_stats stats[NET_NUM_QUEUES];
	struct virtq_elem ctrl_elem; /* the control command being served (I/O thread only) */
};

/* Creates NIC number `index` from opts: opens the backend (net_backend_open), chooses the
 * datapath (opts->vhost, vhost_net_select()) and fills n->vdev (ops, device id 1, 3 queues of
 * NET_QUEUE_SIZE, config length, mem) for a transport, which then sets vdev.tops and
 * vdev.transport. 0 or -errno (message printed). */
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

/* The link bit of the config space's status (VIRTIO_NET_F_STATUS), with a config change
 * notification when it changes (QMP set_link). Any thread. */
void virtio_net_set_link(struct virtio_net *n, bool up);
bool virtio_net_link_up(struct virtio_net *n);
/* The counters of virtio_net_stats_print() as one JSON object (QMP x-query-net-stats). */
struct jbuf;
void virtio_net_stats_json(const struct virtio_net *n, struct jbuf *b);

/* The MAC used when none is given: 02:xx:xx:xx:xx:xx (locally administered, unicast), stable for
 * a given NIC index and tap name. */
void virtio_net_default_mac(int index, const char *ifname, uint8_t mac[6]);

/* Serves every available control-queue command (5.1.6.5); called by the I/O thread on the ctrl
 * kick, and by tests. Returns the number of commands completed. */
int virtio_net_ctrl_process(struct virtio_net *n);

/* Interrupts the driver for queue q if 2.7.10 says it wants one; counted in stats. */
void virtio_net_notify(struct virtio_net *n, int q);
/* Marks the device NEEDS_RESET (malformed chain on queue q). */
void virtio_net_needs_reset(struct virtio_net *n, int q);
#endif
