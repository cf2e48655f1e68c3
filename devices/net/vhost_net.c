/* vhost_net.c: the kernel datapath of virtio-net: sets vhost-net up on DRIVER_OK for each queue
 * pair's rx/tx queues and takes it down on reset (vhost_net.h). */
#include "devices/net/vhost_net.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/net/net_loop.h"
#include "vmm/guest_mem.h"
#include "vmm/log.h"
#include "vmm/loop.h"

#define BIT(f) (1ULL << (f))

/* vhost-net's queue numbers are fixed: 0 receives, 1 transmits, in each instance (one per pair);
 * the pair's virtqueues are net_rxq(pair) and net_txq(pair). */
enum { VHOST_RX = 0, VHOST_TX = 1, VHOST_NET_QUEUES = 2 };

/* The virtqueue of pair p that vhost ring vi serves. */
static int vhost_vq(const struct net_pair *p, int vi)
{
	return vi == VHOST_RX ? net_rxq(p->index) : net_txq(p->index);
}

static int vhost_real_open(void)
{
	int fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int vhost_real_ioctl(int fd, unsigned long req, void *arg)
{
	int r = ioctl(fd, req, arg);
	return r < 0 ? -errno : r;
}

static int vhost_real_close(int fd)
{
	return close(fd) < 0 ? -errno : 0;
}

const struct vhost_ops vhost_ops_real = {
    .open = vhost_real_open,
    .ioctl = vhost_real_ioctl,
    .close = vhost_real_close,
};

static const struct vhost_ops *vhost_ops = &vhost_ops_real;

void vhost_net_set_ops(const struct vhost_ops *ops)
{
	vhost_ops = ops ? ops : &vhost_ops_real;
}

uint64_t vhost_net_features(uint64_t driver, uint64_t vhost)
{
	/* Bit 27 is VHOST_NET_F_VIRTIO_NET_HDR for vhost (and VIRTIO_F_ANY_LAYOUT for virtio):
	 * set, vhost would add and strip headers itself, on top of the tap's vnet header. */
	return driver & vhost & VHOST_NET_RING_FEATURES & ~BIT(VHOST_NET_F_VIRTIO_NET_HDR);
}

/* A ring's error eventfd (VHOST_SET_VRING_ERR), watched on the pair's I/O thread. */
struct vhost_ring_err {
	struct virtio_net *n;
	int q;	/* the virtqueue */
	int fd; /* -1 if none */
};

/* The vhost instance of one started pair (p->dp); arrays by vhost ring (VHOST_RX, VHOST_TX). */
struct vhost_net {
	int fd;
	struct loop *loop;
	struct vhost_ring_err err[VHOST_NET_QUEUES];
	/* SET_VRING_BASE done by this start: the ring's state in vhost is ours to read back (the fd
	 * outlives starts, so before that vhost still holds an older start's position). */
	bool ring[VHOST_NET_QUEUES];
	bool backend[VHOST_NET_QUEUES]; /* NET_SET_BACKEND with the tap done */
};

static int vhost_call(struct virtio_net *n, int fd, unsigned long req, const char *name, void *arg)
{
	int r = vhost_ops->ioctl(fd, req, arg);
	if (r < 0)
		log_err("net%d: vhost %s: %s", n->index, name, strerror(-r));
	return r;
}
#define VHOST_CALL(n, fd, req, arg) vhost_call((n), (fd), (req), #req, (arg))

static int vhost_set_mem_table(struct virtio_net *n, int fd)
{
	const struct guest_mem *m = n->vdev.mem;
	struct vhost_memory *vm =
	    calloc(1, sizeof(*vm) + GUEST_MEM_MAX_REGIONS * sizeof(struct vhost_memory_region));
	if (!vm)
		return -ENOMEM;
	/* vhost translates ring and buffer addresses with this table itself: it is exactly the RAM
	 * guest_ptr() accepts, so the kernel can touch no more of us than we would. */
	for (int i = 0; i < m->nr; i++) {
		vm->regions[i].guest_phys_addr = m->r[i].gpa;
		vm->regions[i].memory_size = m->r[i].size;
		vm->regions[i].userspace_addr = (uintptr_t)m->r[i].hva;
	}
	vm->nregions = m->nr;
	int r = VHOST_CALL(n, fd, VHOST_SET_MEM_TABLE, vm);
	free(vm);
	return r;
}

/* vhost found the ring malformed (a bad descriptor, an address outside the memory table) and
 * stopped serving it: the device needs a reset (2.1.2), as the userspace loop does. */
static void vhost_on_ring_err(void *opaque, uint32_t events)
{
	struct vhost_ring_err *e = opaque;
	uint64_t v;
	(void)events;
	if (read(e->fd, &v, sizeof(v)) != sizeof(v))
		return;
	struct virtq *vq = &e->n->vdev.vq[e->q];
	if (vq->broken)
		return; /* already reported; the driver has yet to reset */
	virtq_break(vq, "vhost reported a ring error");
	virtio_net_needs_reset(e->n, e->q);
}

/* Gives ring q an error eventfd and watches it on the I/O thread's loop. */
static int vhost_set_ring_err(struct virtio_net *n, struct vhost_net *vh, int vi)
{
	struct vhost_ring_err *e = &vh->err[vi];
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), r;
	if (fd < 0)
		return -errno;
	e->fd = fd;
	struct vhost_vring_file err = {.index = vi, .fd = fd};
	if ((r = VHOST_CALL(n, vh->fd, VHOST_SET_VRING_ERR, &err)) < 0)
		return r;
	if (vh->loop && (r = loop_add(vh->loop, fd, EPOLLIN, vhost_on_ring_err, e)) < 0)
		log_err("net%d: cannot watch vhost's ring error fd: %s", n->index, strerror(-r));
	return r;
}

/* vhost ring vi of instance vh from virtqueue q. */
static int vhost_set_ring(struct virtio_net *n, struct vhost_net *vh, int vi, int q)
{
	struct virtq *vq = &n->vdev.vq[q];
	const struct guest_mem *m = vq->mem ? vq->mem : n->vdev.mem;
	uint64_t sz = vq->size;
	int r;

	/* 2.7: the three parts of a split ring, used with avail_event (EVENT_IDX) at its end. */
	void *desc = guest_ptr(m, vq->desc_gpa, 16 * sz);
	void *avail = guest_ptr(m, vq->avail_gpa, 6 + 2 * sz);
	void *used = guest_ptr(m, vq->used_gpa, 6 + 8 * sz);
	if (!desc || !avail || !used)
		return -EFAULT; /* virtq_init() checked them: cannot happen */

	struct vhost_vring_state num = {.index = vi, .num = vq->size};
	if ((r = VHOST_CALL(n, vh->fd, VHOST_SET_VRING_NUM, &num)) < 0)
		return r;
	/* Where vhost resumes the avail ring: 0 after the driver set the queue up. */
	struct vhost_vring_state base = {.index = vi, .num = vq->last_avail};
	if ((r = VHOST_CALL(n, vh->fd, VHOST_SET_VRING_BASE, &base)) < 0)
		return r;
	vh->ring[vi] = true;
	struct vhost_vring_addr addr = {
	    .index = vi,
	    .desc_user_addr = (uintptr_t)desc,
	    .avail_user_addr = (uintptr_t)avail,
	    .used_user_addr = (uintptr_t)used,
	};
	if ((r = VHOST_CALL(n, vh->fd, VHOST_SET_VRING_ADDR, &addr)) < 0)
		return r;
	struct vhost_vring_file kick = {.index = vi, .fd = n->vdev.tops->kick_fd(&n->vdev, q)};
	if ((r = VHOST_CALL(n, vh->fd, VHOST_SET_VRING_KICK, &kick)) < 0)
		return r;
	/* Always the transport's call fd, which it routes (irqfd or poller): see vhost_net.h. */
	struct vhost_vring_file call = {.index = vi, .fd = n->vdev.tops->call_fd(&n->vdev, q)};
	if ((r = VHOST_CALL(n, vh->fd, VHOST_SET_VRING_CALL, &call)) < 0)
		return r;
	return vhost_set_ring_err(n, vh, vi);
}

/* Hands the pair's tap queue to vhost (on: for each ring the driver set up) or takes it back
 * (vh->backend says where it is). 0 or the first error: handing over stops there (the caller
 * takes back what was handed), taking back goes on with the other ring. */
static int vhost_backend_set(struct net_pair *p, struct vhost_net *vh, bool on)
{
	struct virtio_net *n = p->n;
	int err = 0;
	for (int vi = 0; vi < VHOST_NET_QUEUES; vi++) {
		struct vhost_vring_file be = {.index = vi, .fd = on ? p->be.fd : -1};
		int r;
		if (vh->backend[vi] == on || (on && !n->vdev.vq[vhost_vq(p, vi)].ready))
			continue;
		if ((r = VHOST_CALL(n, vh->fd, VHOST_NET_SET_BACKEND, &be)) < 0) {
			if (on)
				return r;
			err = err ? err : r;
			continue;
		}
		vh->backend[vi] = on;
	}
	return err;
}

/* Takes the tap away from vhost and brings each ring's position back into its virtq. The vhost fd
 * stays open and owned for the next start. */
static void vhost_release(struct net_pair *p, struct vhost_net *vh)
{
	struct virtio_net *n = p->n;
	vhost_backend_set(p, vh, false);
	for (int vi = 0; vi < VHOST_NET_QUEUES; vi++) {
		struct vhost_vring_state base = {.index = vi};
		struct virtq *vq = &n->vdev.vq[vhost_vq(p, vi)];
		if (!vh->ring[vi] || VHOST_CALL(n, vh->fd, VHOST_GET_VRING_BASE, &base) < 0)
			continue;
		/* The virtq continues where vhost stopped: next avail entry, and the used index
		 * vhost published (vhost itself reads it from the ring when it starts). The shadow
		 * equals last_avail so that the next pop re-reads avail->idx. */
		vq->last_avail = base.num;
		vq->shadow_avail = base.num;
		if (vq->used)
			vq->used_idx = le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
	}
	/* The I/O thread is joined (or was never started): nobody watches these any more. vhost
	 * keeps its reference to a closed eventfd until the next start replaces it. */
	for (int q = 0; q < VHOST_NET_QUEUES; q++) {
		if (vh->err[q].fd < 0)
			continue;
		if (vh->loop)
			loop_del(vh->loop, vh->err[q].fd);
		close(vh->err[q].fd);
	}
	free(vh);
}

static void vhost_dp_stop(struct net_pair *p)
{
	if (p->dp)
		vhost_release(p, p->dp);
	p->dp = NULL;
}

static int vhost_dp_start(struct net_pair *p)
{
	struct virtio_net *n = p->n;
	struct virtio_dev *vdev = &n->vdev;
	uint64_t offer = 0, want;
	int r;

	if (p->be.fd < 0 || p->vhost_fd < 0)
		return -EINVAL;
	/* Owned at the first start, not at creation: since Linux 6.4 SET_OWNER makes vhost's worker
	 * a thread of the caller, with its credentials and system call filter, so it must come
	 * after --runas dropped root and the main thread (the caller) entered its filter. */
	if (!p->vhost_owned) {
		if ((r = VHOST_CALL(n, p->vhost_fd, VHOST_SET_OWNER, NULL)) < 0)
			return r;
		p->vhost_owned = true;
	}
	struct vhost_net *vh = calloc(1, sizeof(*vh));
	if (!vh)
		return -ENOMEM;
	vh->fd = p->vhost_fd;
	/* The pair's I/O thread watches the rings' error fds (pair 0's also serves the control
	 * queue). */
	vh->loop = p->loop;
	for (int vi = 0; vi < VHOST_NET_QUEUES; vi++)
		vh->err[vi] = (struct vhost_ring_err){.n = n, .q = vhost_vq(p, vi), .fd = -1};
	if ((r = VHOST_CALL(n, vh->fd, VHOST_GET_FEATURES, &offer)) < 0)
		goto fail;
	want = vhost_net_features(vdev->features, offer);
	if (want != vhost_net_features(vdev->features, ~0ULL)) {
		/* vhost_net_select() made sure this vhost has every ring feature we offer. */
		log_err("net%d: vhost lacks negotiated ring features 0x%llx", n->index,
			(unsigned long long)(vhost_net_features(vdev->features, ~0ULL) & ~want));
		r = -EOPNOTSUPP;
		goto fail;
	}
	if ((r = VHOST_CALL(n, vh->fd, VHOST_SET_FEATURES, &want)) < 0)
		goto fail;
	if ((r = vhost_set_mem_table(n, vh->fd)) < 0)
		goto fail;
	for (int vi = 0; vi < VHOST_NET_QUEUES; vi++)
		if (vdev->vq[vhost_vq(p, vi)].ready && (r = vhost_set_ring(n, vh, vi, vhost_vq(p, vi))) < 0)
			goto fail;
	/* The tap queue last, when both rings are complete: from here on the kernel moves frames
	 * (not while the link is down: vhost_dp_link hands it over when it comes up). */
	if (!virtio_net_link_down(n) && (r = vhost_backend_set(p, vh, true)) < 0)
		goto fail;
	p->dp = vh;
	return 0;
fail:
	vhost_release(p, vh);
	return r;
}

/* The link (QMP set_link): down, the tap is taken away from vhost, so no frame moves; its frames
 * wait in the tap's queue (which drops past its length) and the guest's in its TX ring. Up, the
 * tap is handed back and TX kicked for what the ring holds, as no guest kick may come. */
static void vhost_dp_link(struct net_pair *p, bool up)
{
	struct vhost_net *vh = p->dp;
	if (vhost_backend_set(p, vh, up) == 0 && up && vh->backend[VHOST_TX])
		virtio_net_kick(p->n, vhost_vq(p, VHOST_TX));
}

const struct net_datapath_ops vhost_net_datapath = {
    .name = "vhost",
    .start = vhost_dp_start,
    .stop = vhost_dp_stop,
    /* virtio_net.c programs the tap (TUNSETOFFLOAD); vhost has nothing to change. */
    .offloads_changed = NULL,
    .link_changed = vhost_dp_link,
    .in_kernel = true,
};

/* Opens /dev/vhost-net and checks it can drive the rings the device offers (p->vhost_fd; owned
 * at the first start). 0 or -errno, one line printed. */
static int vhost_probe(struct virtio_net *n, struct net_pair *p, const char *spec, bool fatal)
{
	uint64_t offer = 0, need = n->offered & VHOST_NET_RING_FEATURES & ~BIT(VHOST_NET_F_VIRTIO_NET_HDR);
	int fd = vhost_ops->open(), r;
	const char *use = fatal ? "; load vhost_net or use vhost=off" : "; using the userspace datapath";
	if (fd == -EACCES || fd == -EPERM)
		use = fatal ? "; give this user access through a group owning /dev/vhost-net (README) or use vhost=off"
			    : "; using the userspace datapath (README: give this user a group owning /dev/vhost-net)";
	if (fd < 0) {
		if (fatal)
			log_err("--net %s: cannot open /dev/vhost-net: %s%s", spec, strerror(-fd), use);
		else
			log_warn("--net %s: cannot open /dev/vhost-net: %s%s", spec, strerror(-fd), use);
		return fd;
	}
	r = vhost_ops->ioctl(fd, VHOST_GET_FEATURES, &offer);
	if (r >= 0 && (offer & need) != need)
		r = -EOPNOTSUPP;
	if (r < 0) {
		const char *what = "cannot drive virtio 1.x rings";
		if (fatal)
			log_err("--net %s: /dev/vhost-net %s: %s%s", spec, what, strerror(-r), use);
		else
			log_warn("--net %s: /dev/vhost-net %s: %s%s", spec, what, strerror(-r), use);
		vhost_ops->close(fd);
		return r;
	}
	p->vhost_fd = fd;
	return 0;
}

void vhost_net_release(struct virtio_net *n)
{
	for (int i = 0; i < NET_MAX_PAIRS; i++) {
		if (n->pair[i].vhost_fd >= 0)
			vhost_ops->close(n->pair[i].vhost_fd);
		n->pair[i].vhost_fd = -1;
	}
}

int vhost_net_select(struct virtio_net *n, const struct net_opts *opts)
{
	n->datapath = &net_loop_datapath;
	if (opts->vhost == VHOST_OFF)
		return 0;
	const char *spec = opts->vhost == VHOST_ON ? "tap,vhost=on" : "tap,vhost=auto";
	if (opts->kind != NET_TAP || n->be.fd < 0) {
		log_err("--net: vhost=%s needs a tap backend", opts->vhost == VHOST_ON ? "on" : "auto");
		return -EINVAL;
	}
	/* One instance (and one kernel worker) per pair, as QEMU: each pair's rings move in
	 * parallel. All or none: auto falls back to the userspace loop for every pair. */
	for (int i = 0; i < n->max_pairs; i++) {
		int r = vhost_probe(n, &n->pair[i], spec, opts->vhost == VHOST_ON);
		if (r < 0) {
			vhost_net_release(n);
			return opts->vhost == VHOST_ON ? r : 0;
		}
	}
	n->datapath = &vhost_net_datapath;
	return 0;
}
