/* vhost_net.h: the kernel datapath of virtio-net: vhost-net moves the rx/tx queues' frames between
 * guest memory and the tap inside the kernel; the VMM only hands it the rings and fds and takes
 * them back. The control queue stays in the VMM, on pair 0's I/O thread, as with the userspace
 * loop (devices/net/net_loop.c, the other implementation of struct net_datapath_ops).
 *
 * Everything below is per queue pair (--net tap,queues=N, as QEMU): each pair has its own
 * /dev/vhost-net instance (so its own kernel worker), whose rings 0 and 1 are the pair's virtqueues
 * net_rxq(p) and net_txq(p), with their kick/call/err eventfds, and whose backend is the pair's own
 * tap queue fd. A pair's tap queue must be attached for NET_SET_BACKEND (virtio_net.c attaches it
 * for the start and detaches it after, when the driver does not use the pair).
 *
 * Selection (--net tap,vhost=on|off|auto) happens once, when the NIC is created
 * (vhost_net_select(), before --runas drops root): it opens /dev/vhost-net once per pair and
 * checks GET_FEATURES has every ring feature the device offers. The fds are kept in
 * pair[i].vhost_fd for the NIC's life. If any of that fails, the fd is closed: on fails the NIC's
 * creation, auto falls back to the userspace loop with one warning; off never touches
 * /dev/vhost-net. Only a tap can be handed to vhost (it needs a socket it can read and write in
 * the kernel); vhost with user networking is an error.
 *
 * The first start takes each instance with SET_OWNER, on the main thread, so that the kernel's
 * workers are named "vhost-<our pid>"; since Linux 6.4 a worker is a thread of its owner, created
 * with the owner's credentials and filter, and the first start comes after both are final.
 * Start (DRIVER_OK) then uses that owned fd (no open) and does, in this order:
 * GET_FEATURES, SET_FEATURES, SET_MEM_TABLE; for rx then tx: SET_VRING_NUM, _BASE, _ADDR, _KICK,
 * _CALL, _ERR; then NET_SET_BACKEND (tap fd) for rx then tx. Each ring's _ERR eventfd is watched on
 * the pair's I/O thread: vhost signals it when the guest's ring is malformed, and the device then
 * breaks that queue and sets NEEDS_RESET, as the userspace loop does. Stop (reset, reboot, exit), and a start
 * that fails, detach the tap from each queue (backend -1) and read back (GET_VRING_BASE) the
 * last_avail of each ring whose base was set, into the virtq; the fd stays open and owned, and the
 * next start programs it all again. vhost_net_release() (virtio_net_free) closes it.
 *
 * Features: vhost is told only the ring and header layout bits the driver negotiated
 * (VHOST_NET_RING_FEATURES), intersected with what vhost offers. The offloads (CSUM, TSO, ...) and
 * the device bits (MAC, STATUS, MTU, CTRL_VQ, ...) stay the device's own: vhost only copies
 * headers, and the tap is programmed with TUNSETOFFLOAD from the driver's GUEST_* offloads by
 * virtio_net.c as for the userspace loop. VHOST_NET_F_VIRTIO_NET_HDR is never set: the tap has
 * IFF_VNET_HDR with a 12-byte header, so vhost passes the guest's header through untouched. That
 * bit is bit 27, the same as the legacy VIRTIO_F_ANY_LAYOUT, so ANY_LAYOUT (implied by VERSION_1,
 * and never offered by the device) is never passed either.
 *
 * Interrupts: vhost always signals the transport's call_fd (tops->call_fd).
 * The transport routes that eventfd itself, as an irqfd on the queue's MSI-X route while KVM can
 * inject it, else through its poller (pending bit, or ISR + INTx). So a vector being masked,
 * unmasked or changed, or INTx, needs nothing from vhost: irq_changed is a no-op for this datapath,
 * and no interrupt can be lost in a window where vhost and the transport disagree on the fd.
 *
 * --stats: the kernel moves (and counts) the rx/tx frames, so the device's rx/tx counters stay
 * zero; vhost_net_datapath.in_kernel makes virtio_net_stats_print() say "in kernel (vhost)". */
#ifndef MINIVMM_VHOST_NET_H
#define MINIVMM_VHOST_NET_H
#include <stdint.h>

#include "devices/virtio/virtio_net.h"
#include "vmm/config.h"

/* The bits of the driver's features vhost may be told about: ring layout and header layout. */
#define VHOST_NET_RING_FEATURES                                                                              \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX) |                                  \
	 (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | (1ULL << VIRTIO_NET_F_MRG_RXBUF) |                          \
	 (1ULL << VIRTIO_F_NOTIFY_ON_EMPTY))

/* The seam every vhost system call goes through (unit tests record them). Each returns >= 0 or
 * -errno. open() opens /dev/vhost-net. */
struct vhost_ops {
	int (*open)(void);
	int (*ioctl)(int fd, unsigned long req, void *arg);
	int (*close)(int fd);
};
/* The real ones: open(2) /dev/vhost-net O_RDWR|O_CLOEXEC, ioctl(2), close(2). */
extern const struct vhost_ops vhost_ops_real;
/* Replaces the seam for every NIC (NULL: back to vhost_ops_real). Tests only. */
void vhost_net_set_ops(const struct vhost_ops *ops);

extern const struct net_datapath_ops vhost_net_datapath;

/* Chooses n's datapath from opts->vhost (n->offered must be set: vhost must support every ring
 * feature the device offers). Sets n->datapath to &vhost_net_datapath, with every pair's vhost_fd
 * open and owned by the calling (main) thread, or to &net_loop_datapath, with them all left -1.
 * 0, or -errno with one line printed (vhost=on and /dev/vhost-net unusable; vhost with a
 * non-tap backend). */
int vhost_net_select(struct virtio_net *n, const struct net_opts *opts);

/* Closes the NIC's vhost instance (virtio_net_free). */
void vhost_net_release(struct virtio_net *n);

/* What VHOST_SET_FEATURES gets: the ring/header bits of the driver's features that vhost offers.
 * Never VHOST_NET_F_VIRTIO_NET_HDR. */
uint64_t vhost_net_features(uint64_t driver, uint64_t vhost);
#endif
