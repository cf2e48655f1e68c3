/* tap.c: the tap backend: frames with a 12-byte vnet header to and from /dev/net/tun.
 *
 * IFF_VNET_HDR makes the kernel carry the virtio_net_hdr in front of every frame, so the device
 * can hand guest buffers to readv/writev untouched and checksum/segmentation offloads pass
 * through in both directions. The interface's link state and addresses are left alone: whoever
 * created or owns the tap (the user, an e2e script) brings it up, as with QEMU's tap without a
 * script.
 *
 * queues=N > 1 opens the tap N times with IFF_MULTI_QUEUE (a new tap is made multi-queue; an
 * existing one must be): one fd per queue pair, each attached, and TUNSETQUEUE detaches and
 * re-attaches a queue as the guest's use of pairs changes. Vnet header size and offloads belong to
 * the interface, so they are set through queue 0's fd. */
#include "devices/net/net_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/config.h"
#include "vmm/log.h"

struct tap {
	char ifname[IFNAMSIZ];
	unsigned int tun_offloads; /* TUN_F_* bits the kernel accepted when probed */
};

static ssize_t tap_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	ssize_t n = writev(be->fd, iov, iovcnt);
	return n < 0 ? -errno : n;
}

static ssize_t tap_recv(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	ssize_t n = readv(be->fd, iov, iovcnt);
	return n < 0 ? -errno : n;
}

/* The guest's receive offloads (VIRTIO_NET_F_GUEST_*) are what the tap may send us. */
static unsigned int tap_tun_flags(uint64_t guest_features)
{
	unsigned int f = 0;
	if (guest_features & (1ULL << VIRTIO_NET_F_GUEST_CSUM))
		f |= TUN_F_CSUM;
	if (guest_features & (1ULL << VIRTIO_NET_F_GUEST_TSO4))
		f |= TUN_F_TSO4;
	if (guest_features & (1ULL << VIRTIO_NET_F_GUEST_TSO6))
		f |= TUN_F_TSO6;
	if (guest_features & (1ULL << VIRTIO_NET_F_GUEST_ECN))
		f |= TUN_F_TSO_ECN;
	if (guest_features & (1ULL << VIRTIO_NET_F_GUEST_UFO))
		f |= TUN_F_UFO;
	/* The kernel refuses segmentation offloads without checksum offload. */
	if (!(f & TUN_F_CSUM))
		f = 0;
	return f;
}

static int tap_set_offloads(struct net_backend *be, uint64_t guest_features)
{
	struct tap *t = be->priv;
	unsigned int f = tap_tun_flags(guest_features) & t->tun_offloads;
	if (ioctl(be->fd, TUNSETOFFLOAD, f) < 0) {
		int err = -errno;
		log_warn("net: tap %s: TUNSETOFFLOAD 0x%x: %s", t->ifname, f, strerror(-err));
		return err;
	}
	return 0;
}

static uint64_t tap_offload_features(struct net_backend *be)
{
	struct tap *t = be->priv;
	uint64_t f = 0;
	if (!(t->tun_offloads & TUN_F_CSUM))
		return 0;
	/* Transmit offloads: the tap takes partial checksums and GSO frames from us whenever it has
	 * a vnet header; we still offer each only where the kernel knows the matching receive
	 * offload, so one probe answers both directions. */
	f |= 1ULL << VIRTIO_NET_F_CSUM | 1ULL << VIRTIO_NET_F_GUEST_CSUM;
	if (t->tun_offloads & TUN_F_TSO4)
		f |= 1ULL << VIRTIO_NET_F_HOST_TSO4 | 1ULL << VIRTIO_NET_F_GUEST_TSO4;
	if (t->tun_offloads & TUN_F_TSO6)
		f |= 1ULL << VIRTIO_NET_F_HOST_TSO6 | 1ULL << VIRTIO_NET_F_GUEST_TSO6;
	if (t->tun_offloads & TUN_F_UFO)
		f |= 1ULL << VIRTIO_NET_F_HOST_UFO | 1ULL << VIRTIO_NET_F_GUEST_UFO;
	return f;
}

/* A detached queue gets no frames (the kernel steers only to attached ones), and reads, writes and
 * polls on it fail (EBADFD, EPOLLERR) until it is attached again. */
static int tap_queue_enable(struct net_backend *be, bool on)
{
	struct ifreq ifr = {.ifr_flags = on ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE};
	return ioctl(be->fd, TUNSETQUEUE, &ifr) < 0 ? -errno : 0;
}

static void tap_close(struct net_backend *be)
{
	for (int q = 1; q < be->queues; q++)
		if (be->qfd[q] >= 0)
			close(be->qfd[q]);
	if (be->fd >= 0)
		close(be->fd);
	be->fd = -1;
	be->queues = 0;
	free(be->priv);
	be->priv = NULL;
}

static const struct net_backend_ops tap_ops = {
    .name = "tap",
    .send = tap_send,
    .recv = tap_recv,
    .set_offloads = tap_set_offloads,
    .offload_features = tap_offload_features,
    .queue_enable = tap_queue_enable,
    .close = tap_close,
};

/* Which TUN_F_* flags this kernel accepts, one at a time on top of TUN_F_CSUM. */
static unsigned int tap_probe_offloads(int fd)
{
	static const unsigned int extra[] = {TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN, TUN_F_UFO};
	unsigned int ok = 0;
	if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM) < 0)
		return 0;
	ok = TUN_F_CSUM;
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		unsigned int f = TUN_F_CSUM | extra[i];
		if (extra[i] == TUN_F_TSO_ECN)
			f |= TUN_F_TSO4;
		if (ioctl(fd, TUNSETOFFLOAD, f) == 0)
			ok |= extra[i];
	}
	return ok;
}

/* Attaches fd to the named tap (or a new one). No capability is needed for a tap owned by this
 * user or group; a tap created with multi_queue only takes a queue attach (IFF_MULTI_QUEUE), so
 * with one queue that is the second try, and with more (mq) the only one. */
static int tap_attach(int fd, const char *ifname, bool mq, struct ifreq *ifr)
{
	memset(ifr, 0, sizeof(*ifr));
	ifr->ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (mq ? IFF_MULTI_QUEUE : 0);
	/* ifname is at most 15 characters plus NUL (config.h), like IFNAMSIZ. */
	memcpy(ifr->ifr_name, ifname, sizeof(ifr->ifr_name) - 1);
	if (ioctl(fd, TUNSETIFF, ifr) == 0)
		return 0;
	if (errno != EINVAL || !ifname[0] || mq)
		return -1;
	int saved = errno;
	ifr->ifr_flags |= IFF_MULTI_QUEUE;
	if (ioctl(fd, TUNSETIFF, ifr) == 0)
		return 0;
	errno = saved;
	return -1;
}

static int tun_open(const char *want)
{
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int err = -errno;
		log_err("net: tap %s: cannot open /dev/net/tun: %s%s", want, strerror(-err),
			err == -EACCES ? " (it is normally mode 0666: chmod 666 /dev/net/tun)" : "");
		return err;
	}
	return fd;
}

/* Queues 1..queues-1 of the multi-queue tap `name` that queue 0 attached to (be->qfd[]). 0 or
 * -errno, one line printed; the fds opened so far stay in be->qfd[] for the caller to close. */
static int tap_open_queues(struct net_backend *be, const char *name, int queues)
{
	for (int q = 1; q < queues; q++) {
		struct ifreq ifr;
		int fd = tun_open(name);
		if (fd < 0)
			return fd;
		be->qfd[q] = fd;
		be->queues = q + 1;
		if (tap_attach(fd, name, true, &ifr) < 0) {
			int err = -errno;
			log_err("net: tap %s: TUNSETIFF for queue %d of %d: %s", name, q, queues,
				strerror(-err));
			return err;
		}
	}
	return 0;
}

static int tap_open(struct net_backend *be, const struct net_opts *opts)
{
	const char *want = opts->ifname[0] ? opts->ifname : "(new)";
	int queues = opts->queues > 1 ? opts->queues : 1;
	struct tap *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	int fd = tun_open(want);
	if (fd < 0) {
		free(t);
		return fd;
	}
	struct ifreq ifr = {0};
	const char *step = "TUNSETIFF";
	if (tap_attach(fd, opts->ifname, queues > 1, &ifr) < 0) {
		if (errno == EINVAL && queues > 1 && opts->ifname[0]) {
			/* The one mistake a user makes with queues=: an existing single-queue tap. */
			log_err("net: tap %s: queues=%d needs a multi-queue tap, and %s is not one "
				"(ip tuntap add dev %s mode tap multi_queue ...)",
				want, queues, opts->ifname, opts->ifname);
			close(fd);
			free(t);
			return -EINVAL;
		}
		if (errno == EPERM) {
			int err = -errno;
			/* The one step that may need a privilege: say which, and how to do without. */
			if (opts->ifname[0])
				log_err("net: tap %s: TUNSETIFF: %s: the tap must belong to this user (ip tuntap add dev %s "
					"mode tap user $USER) or minivmm needs CAP_NET_ADMIN", want, strerror(-err),
					opts->ifname);
			else
				log_err("net: tap (new): TUNSETIFF: %s: creating a tap needs CAP_NET_ADMIN; create one "
					"owned by this user (ip tuntap add dev tap0 mode tap user $USER) and pass ifname=tap0",
					strerror(-err));
			close(fd);
			free(t);
			return err;
		}
		goto fail;
	}
	memcpy(t->ifname, ifr.ifr_name, sizeof(t->ifname));
	t->ifname[IFNAMSIZ - 1] = 0;
	/* VERSION_1 means the 12-byte virtio_net_hdr_v1 (5.1.6); the kernel then skips the
	 * num_buffers field on reads, which the device fills in. */
	int hdr_sz = sizeof(struct virtio_net_hdr_v1);
	step = "TUNSETVNETHDRSZ";
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_sz) < 0)
		goto fail;
	t->tun_offloads = tap_probe_offloads(fd);
	/* Until the guest accepts receive offloads, the tap must send only complete frames. */
	step = "TUNSETOFFLOAD";
	if (ioctl(fd, TUNSETOFFLOAD, 0) < 0)
		goto fail;
	be->ops = &tap_ops;
	be->fd = fd;
	be->priv = t;
	be->queues = 1;
	be->qfd[0] = fd;
	int r = tap_open_queues(be, t->ifname, queues);
	if (r < 0) {
		tap_close(be);
		return r;
	}
	return 0;
fail:;
	int err = -errno;
	log_err("net: tap %s: %s: %s", want, step, strerror(-err));
	close(fd);
	free(t);
	return err;
}

NET_BACKEND_REGISTER(tap, NET_TAP, tap_open)
