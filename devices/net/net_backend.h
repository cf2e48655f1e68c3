/* net_backend.h: where a virtio-net queue pair's frames go: a tap or libslirp.
 *
 * A multi-queue backend (a tap with queues=N) has one fd per queue pair; each pair uses a copy of
 * the struct with fd set to its own qfd[] (the same ops and priv), and only the backend itself
 * (qfd[0]'s copy, the one that was opened) is closed.
 *
 * A backend moves whole Ethernet frames, each preceded by a 12-byte struct virtio_net_hdr_v1
 * (a backend without a vnet header, like slirp, strips it on send and writes a zero one on
 * receive, completing checksums itself). The device never knows which backend it has.
 * vhost-net is not a backend: it replaces the datapath and takes the tap's fd (net_backend_fd). */
#ifndef MINIVMM_NET_BACKEND_H
#define MINIVMM_NET_BACKEND_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "vmm/config.h"

struct loop;
struct net_backend;
struct net_opts;

struct net_backend_ops {
	const char *name;
	/* Sends one frame (vnet header + Ethernet frame in iov). Returns bytes, or -EAGAIN when the
	 * backend is full (wait for EPOLLOUT on the fd), or another -errno (the frame is dropped). */
	ssize_t (*send)(struct net_backend *be, const struct iovec *iov, int iovcnt);
	/* Receives one frame into iov (vnet header first). Returns bytes, -EAGAIN when none. The caller
	 * offers room for the largest frame the guest's offloads allow (NET_RX_MAX with GSO, an MTU's
	 * worth without); a longer frame is cut and returns its whole length (as a tap's read does) or
	 * an error, and the caller drops it. */
	ssize_t (*recv)(struct net_backend *be, const struct iovec *iov, int iovcnt);
	/* Offloads the guest accepted (VIRTIO_NET_F_GUEST_* bits): the tap programs TUNSETOFFLOAD. */
	int (*set_offloads)(struct net_backend *be, uint64_t guest_features);
	/* Which VIRTIO_NET_F_* offload bits this backend can honour (offered to the guest). */
	uint64_t (*offload_features)(struct net_backend *be);
	/* Registers the backend's own fds/timers (slirp) on the I/O thread's loop; rx_ready is called
	 * whenever frames may be waiting for recv(). NULL for fd backends. */
	int (*attach)(struct net_backend *be, struct loop *l, void (*rx_ready)(void *), void *opaque);
	/* Attaches (on) or detaches this queue (be->fd) from the backend, so that it gets frames
	 * or none (a multi-queue tap's TUNSETQUEUE). 0 or -errno. NULL for one-queue backends. */
	int (*queue_enable)(struct net_backend *be, bool on);
	void (*close)(struct net_backend *be);
};

struct net_backend {
	const struct net_backend_ops *ops;
	int fd;        /* pollable fd (tap fd), or -1: queue 0's */
	void *priv;
	/* Queues (one per queue pair) and their fds, qfd[0] == fd. A backend that leaves queues 0
	 * has one queue (the device fills them in). */
	int queues;
	int qfd[CONFIG_MAX_QUEUES];
};

/* Creates the backend described by opts (tap or user). 0 or -errno with a message printed. */
int net_backend_open(struct net_backend *be, const struct net_opts *opts);

/* Backends register themselves (Solo5-style), so net_backend.c never lists them:
 *
 *	static int tap_open(struct net_backend *be, const struct net_opts *opts) { ... }
 *	NET_BACKEND_REGISTER(tap, NET_TAP, tap_open);
 *
 * kind is an enum net_kind (vmm/config.h). Registration runs from an ELF constructor, before
 * main(). */
struct net_backend_type {
	const char *name;
	int kind;
	int (*open)(struct net_backend *be, const struct net_opts *opts);
	struct net_backend_type *next;
};
void net_backend_register(struct net_backend_type *t);

#define NET_BACKEND_REGISTER(id, kind_, open_)                                              \
	static struct net_backend_type net_backend_type_##id = {                            \
		.name = #id, .kind = (kind_), .open = (open_)                               \
	};                                                                                  \
	__attribute__((constructor)) static void net_backend_register_##id(void)            \
	{                                                                                   \
		net_backend_register(&net_backend_type_##id);                               \
	}
#endif
