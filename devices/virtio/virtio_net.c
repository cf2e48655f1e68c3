/* virtio_net.c: the virtio-net device (spec 5.1): features, config space, control queue, queue pairs
 * and their I/O threads; frames are moved by the datapath chosen at start (virtio_net.h). */
#include "devices/virtio/virtio_net.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <endian.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/net/net_loop.h"
#include "devices/net/vhost_net.h"
#include "vmm/json.h"
#include "vmm/log.h"
#include "vmm/loop.h"
#include "vmm/seccomp.h"
#include "vmm/vm.h"

#define BIT(f) (1ULL << (f))

/* The receive offloads the driver can switch with CTRL_GUEST_OFFLOADS_SET (5.1.6.5.6.1). */
#define NET_GUEST_OFFLOADS                                                                                   \
	(BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) |        \
	 BIT(VIRTIO_NET_F_GUEST_ECN) | BIT(VIRTIO_NET_F_GUEST_UFO))
/* Offloads offered only where the backend can honour them. */
#define NET_OFFLOADS                                                                                         \
	(NET_GUEST_OFFLOADS | BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) |                         \
	 BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_HOST_ECN) | BIT(VIRTIO_NET_F_HOST_UFO))

static struct virtio_net *to_net(struct virtio_dev *vdev)
{
	return vdev->priv;
}

void virtio_net_default_mac(int index, const char *ifname, uint8_t mac[6])
{
	/* FNV-1a over the tap name and the NIC index: the same command line gives the guest the
	 * same address on every boot, so its network configuration sticks. */
	uint64_t h = 0xcbf29ce484222325ULL;
	for (const char *p = ifname ? ifname : ""; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	for (int i = 0; i < 4; i++)
		h = (h ^ (uint8_t)(index >> (8 * i))) * 0x100000001b3ULL;
	mac[0] = 0x02; /* locally administered, unicast */
	for (int i = 1; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * i));
}

static uint64_t net_features(struct virtio_dev *vdev)
{
	return to_net(vdev)->offered;
}

/* 5.1.3.1: a feature the driver accepts may need another one. */
static const struct {
	uint8_t feature;
	uint64_t needs_any; /* at least one of these */
} net_feature_deps[] = {
    {VIRTIO_NET_F_GUEST_TSO4, BIT(VIRTIO_NET_F_GUEST_CSUM)},
    {VIRTIO_NET_F_GUEST_TSO6, BIT(VIRTIO_NET_F_GUEST_CSUM)},
    {VIRTIO_NET_F_GUEST_ECN, BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6)},
    {VIRTIO_NET_F_GUEST_UFO, BIT(VIRTIO_NET_F_GUEST_CSUM)},
    {VIRTIO_NET_F_HOST_TSO4, BIT(VIRTIO_NET_F_CSUM)},
    {VIRTIO_NET_F_HOST_TSO6, BIT(VIRTIO_NET_F_CSUM)},
    {VIRTIO_NET_F_HOST_ECN, BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6)},
    {VIRTIO_NET_F_HOST_UFO, BIT(VIRTIO_NET_F_CSUM)},
    {VIRTIO_NET_F_CTRL_RX, BIT(VIRTIO_NET_F_CTRL_VQ)},
    {VIRTIO_NET_F_CTRL_VLAN, BIT(VIRTIO_NET_F_CTRL_VQ)},
    {VIRTIO_NET_F_GUEST_ANNOUNCE, BIT(VIRTIO_NET_F_CTRL_VQ)},
    {VIRTIO_NET_F_MQ, BIT(VIRTIO_NET_F_CTRL_VQ)},
    {VIRTIO_NET_F_CTRL_MAC_ADDR, BIT(VIRTIO_NET_F_CTRL_VQ)},
    {VIRTIO_NET_F_CTRL_GUEST_OFFLOADS, BIT(VIRTIO_NET_F_CTRL_VQ)},
};

/* A driver may offer features over and over: counted, rate-limited. */
static struct log_site net_features_refused = LOG_SITE_INIT("net_features_refused");

static int net_set_features(struct virtio_dev *vdev, uint64_t f)
{
	if (!(f & BIT(VIRTIO_F_VERSION_1))) {
		log_guest(&net_features_refused, "net%d: driver did not accept VIRTIO_F_VERSION_1",
			  to_net(vdev)->index);
		return -1;
	}
	for (size_t i = 0; i < sizeof(net_feature_deps) / sizeof(net_feature_deps[0]); i++) {
		if ((f & BIT(net_feature_deps[i].feature)) && !(f & net_feature_deps[i].needs_any)) {
			log_guest(&net_features_refused,
				  "net%d: driver feature %u lacks the feature it depends on (5.1.3.1)",
				  to_net(vdev)->index, net_feature_deps[i].feature);
			return -1;
		}
	}
	/* 5.1.6.5.5: a driver starts with multiqueue disabled, one pair in use; 5.1.6.5.6.1: with
	 * every negotiated receive offload on. Here, once per driver initialisation (FEATURES_OK, the
	 * device stopped), not at every start: a start after a Bus Master or QMP stop resumes with
	 * the pairs and offloads the driver asked for. */
	__atomic_store_n(&to_net(vdev)->active_pairs, 1, __ATOMIC_RELEASE);
	to_net(vdev)->guest_offloads = f & NET_GUEST_OFFLOADS;
	return 0;
}

static void net_config_read(struct virtio_dev *vdev, uint32_t off, void *data, uint32_t len)
{
	struct virtio_net *n = to_net(vdev);
	memset(data, 0, len);
	pthread_mutex_lock(&n->cfg_lock);
	if (off < n->cfg_len) {
		uint32_t k = n->cfg_len - off < len ? n->cfg_len - off : len;
		memcpy(data, (const uint8_t *)&n->cfg + off, k);
	}
	pthread_mutex_unlock(&n->cfg_lock);
}

static void net_config_write(struct virtio_dev *vdev, uint32_t off, const void *data, uint32_t len)
{
	(void)data;
	/* 5.1.4: every field is read-only for a VERSION_1 driver (the MAC changes through
	 * CTRL_MAC_ADDR_SET), so writes are ignored. */
	LOG_GUEST("net_config_write", "net%d: ignored config write of %u bytes at %u", to_net(vdev)->index,
		  len, off);
}

int net_pairs(const struct virtio_net *n)
{
	return n->vdev.features & BIT(VIRTIO_NET_F_MQ) ? n->max_pairs : 1;
}

int net_ctrlq(const struct virtio_net *n)
{
	return 2 * net_pairs(n);
}

/* Queue q's counters: the control queue's stay in one place whether or not F_MQ moved it. */
static struct net_queue_stats *net_stats_q(struct virtio_net *n, int q)
{
	return &n->stats[q == net_ctrlq(n) ? 2 * n->max_pairs : q];
}

void virtio_net_notify(struct virtio_net *n, int q)
{
	struct virtio_dev *vdev = &n->vdev;
	if (!virtq_need_interrupt(&vdev->vq[q]))
		return;
	int fd = vdev->tops->call_fd(vdev, q);
	uint64_t one = 1;
	if (fd >= 0 && write(fd, &one, sizeof(one)) == sizeof(one))
		net_stats_q(n, q)->interrupts++;
}

void virtio_net_needs_reset(struct virtio_net *n, int q)
{
	static struct log_site site = LOG_SITE_INIT("net_queue_broken");
	const char *why = n->vdev.vq[q].broken_why;
	log_guest(&site, "net%d: queue %d broken (%s): device needs reset", n->index, q,
		  why ? why : "malformed chain");
	net_stats_q(n, q)->drops++;
	net_stats_q(n, q)->broken++;
	n->vdev.tops->needs_reset(&n->vdev);
}

static void net_apply_offloads(struct virtio_net *n)
{
	if (n->be.ops->set_offloads)
		n->be.ops->set_offloads(&n->be, n->guest_offloads);
	if (n->datapath && n->datapath->offloads_changed)
		n->datapath->offloads_changed(n);
}

/* The command-specific part of a control command, after its 2-byte class/cmd header. */
static uint8_t net_ctrl_rx(struct virtio_net *n, uint8_t cmd, const struct virtq_elem *e)
{
	uint8_t on;
	if (!(n->vdev.features & BIT(VIRTIO_NET_F_CTRL_RX)))
		return VIRTIO_NET_ERR;
	/* 5.1.6.5.1: PROMISC and ALLMULTI take one byte; the *UNI / NOBCAST commands need
	 * CTRL_RX_EXTRA, which we do not offer. */
	if (e->out_len != 2 + 1 || virtq_copy_from_out(e, 2, &on, 1) != 1)
		return VIRTIO_NET_ERR;
	if (cmd == VIRTIO_NET_CTRL_RX_PROMISC)
		n->promisc = on;
	else if (cmd == VIRTIO_NET_CTRL_RX_ALLMULTI)
		n->allmulti = on;
	else
		return VIRTIO_NET_ERR;
	return VIRTIO_NET_OK;
}

static uint8_t net_ctrl_mac(struct virtio_net *n, uint8_t cmd, const struct virtq_elem *e)
{
	if (cmd == VIRTIO_NET_CTRL_MAC_ADDR_SET) {
		uint8_t mac[6];
		if (!(n->vdev.features & BIT(VIRTIO_NET_F_CTRL_MAC_ADDR)))
			return VIRTIO_NET_ERR;
		if (e->out_len != 2 + 6 || virtq_copy_from_out(e, 2, mac, 6) != 6)
			return VIRTIO_NET_ERR;
		pthread_mutex_lock(&n->cfg_lock);
		memcpy(n->cfg.mac, mac, 6);
		pthread_mutex_unlock(&n->cfg_lock);
		/* 2.5.1: every config change moves config_generation (and is notified). */
		n->vdev.tops->config_changed(&n->vdev);
		return VIRTIO_NET_OK;
	}
	if (cmd != VIRTIO_NET_CTRL_MAC_TABLE_SET || !(n->vdev.features & BIT(VIRTIO_NET_F_CTRL_RX)))
		return VIRTIO_NET_ERR;
	/* 5.1.6.5.2: two struct virtio_net_ctrl_mac (unicast, multicast), each a le32 count and
	 * that many 6-byte addresses, filling the readable part exactly. The counts are the
	 * guest's word: all arithmetic is 64-bit so no count can wrap a check. */
	uint32_t uni, multi;
	uint64_t off = 2;
	if (virtq_copy_from_out(e, off, &uni, 4) != 4)
		return VIRTIO_NET_ERR;
	off += 4 + 6ULL * le32toh(uni);
	if (off + 4 > e->out_len || virtq_copy_from_out(e, off, &multi, 4) != 4)
		return VIRTIO_NET_ERR;
	off += 4 + 6ULL * le32toh(multi);
	if (off != e->out_len)
		return VIRTIO_NET_ERR;
	n->mac_table_uni = le32toh(uni);
	n->mac_table_multi = le32toh(multi);
	return VIRTIO_NET_OK;
}

static uint8_t net_ctrl_offloads(struct virtio_net *n, uint8_t cmd, const struct virtq_elem *e)
{
	uint64_t off;
	if (!(n->vdev.features & BIT(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS)) ||
	    cmd != VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET)
		return VIRTIO_NET_ERR;
	if (e->out_len != 2 + 8 || virtq_copy_from_out(e, 2, &off, 8) != 8)
		return VIRTIO_NET_ERR;
	off = le64toh(off);
	/* 5.1.6.5.6.2: only offloads whose feature was negotiated may be enabled. */
	if (off & ~(n->vdev.features & NET_GUEST_OFFLOADS))
		return VIRTIO_NET_ERR;
	n->guest_offloads = off;
	net_apply_offloads(n);
	return VIRTIO_NET_OK;
}

static void net_pair_wake(struct net_pair *p)
{
	uint64_t one = 1;
	if (write(p->wake_fd, &one, sizeof(one)) < 0) {
		/* An eventfd at its limit is readable already. */
	}
}

/* 5.1.6.5.5: how many pairs the driver uses. The answer is at once (Linux waits for it, spinning,
 * under the RTNL); each pair's own thread then attaches or detaches its tap queue (net_pair_sync),
 * as only that thread touches its fd's watch. */
static uint8_t net_ctrl_mq(struct virtio_net *n, uint8_t cmd, const struct virtq_elem *e)
{
	uint16_t pairs;
	if (!(n->vdev.features & BIT(VIRTIO_NET_F_MQ)) || cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET)
		return VIRTIO_NET_ERR;
	if (e->out_len != 2 + 2 || virtq_copy_from_out(e, 2, &pairs, 2) != 2)
		return VIRTIO_NET_ERR;
	pairs = le16toh(pairs);
	/* 5.1.6.5.5.1: VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN (1) .. max_virtqueue_pairs. */
	if (pairs < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || pairs > n->max_pairs)
		return VIRTIO_NET_ERR;
	__atomic_store_n(&n->active_pairs, pairs, __ATOMIC_RELEASE);
	/* Every pair, running or not: one whose thread main is about to create finds the wake
	 * waiting, so a command racing its start is not lost. */
	for (int i = 1; i < n->max_pairs; i++)
		net_pair_wake(&n->pair[i]);
	return VIRTIO_NET_OK;
}

int virtio_net_ctrl_process(struct virtio_net *n)
{
	int ctrlq = net_ctrlq(n);
	struct virtq *vq = &n->vdev.vq[ctrlq];
	struct net_queue_stats *st = net_stats_q(n, ctrlq);
	struct virtq_elem *e = &n->ctrl_elem;
	int done = 0, r = 0;
	if (vq->broken)
		return 0; /* reported once; left alone until the driver resets the device */
	/* At most a ring's worth per round: a driver adding commands as fast as we serve them
	 * cannot keep the I/O thread here. */
	while (done < vq->size && (r = virtq_pop(vq, e)) == 1) {
		struct virtio_net_ctrl_hdr h;
		uint8_t ack = VIRTIO_NET_ERR;
		/* 5.1.6.5: class + cmd readable, then at least the one writable ack byte. Without it
		 * the device cannot even answer: the queue is broken, as QEMU does. */
		if (e->in_len < 1) {
			virtq_break(vq, "control command without a writable ack byte");
			r = -1;
			break;
		}
		if (virtq_copy_from_out(e, 0, &h, sizeof(h)) == sizeof(h)) {
			switch (h.class) {
			case VIRTIO_NET_CTRL_RX:
				ack = net_ctrl_rx(n, h.cmd, e);
				break;
			case VIRTIO_NET_CTRL_MAC:
				ack = net_ctrl_mac(n, h.cmd, e);
				break;
			case VIRTIO_NET_CTRL_GUEST_OFFLOADS:
				ack = net_ctrl_offloads(n, h.cmd, e);
				break;
			case VIRTIO_NET_CTRL_MQ:
				ack = net_ctrl_mq(n, h.cmd, e);
				break;
			default:
				break;
			}
		}
		if (ack != VIRTIO_NET_OK)
			st->drops++;
		virtq_copy_to_in(e, 0, &ack, 1);
		virtq_push(vq, e->head, 1);
		st->packets++;
		done++;
	}
	if (done)
		virtq_flush(vq, done);
	if (r < 0)
		virtio_net_needs_reset(n, ctrlq);
	if (done)
		virtio_net_notify(n, ctrlq);
	return done;
}

static void net_ctrl_kick(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;
	uint64_t v;
	(void)events;
	if (read(n->vdev.tops->kick_fd(&n->vdev, n->ctrl_q), &v, sizeof(v)) < 0)
		return;
	net_stats_q(n, n->ctrl_q)->kicks++;
	virtio_net_ctrl_process(n);
}

void virtio_net_kick(struct virtio_net *n, int q)
{
	uint64_t one = 1;
	if (write(n->vdev.tops->kick_fd(&n->vdev, q), &one, sizeof(one)) < 0) {
		/* An eventfd only fails to count past 2^64-2: a kick is pending anyway. */
	}
}

/* Attaches or detaches pair p's backend queue (a multi-queue tap's TUNSETQUEUE). The pair's own
 * thread while it runs, else main. A backend of one queue has nothing to switch. */
static void net_pair_attach(struct net_pair *p, bool on)
{
	static struct log_site site = LOG_SITE_INIT("net_queue_attach");
	if (p->attached == on || !p->be.ops->queue_enable)
		return;
	int r = p->be.ops->queue_enable(&p->be, on);
	if (r < 0) {
		/* The guest asked for it (VQ_PAIRS_SET) but the host refused: counted, not fatal. */
		log_guest(&site, "net%d: cannot %s backend queue %d: %s", p->n->index,
			  on ? "attach" : "detach", p->index, strerror(-r));
		return;
	}
	p->attached = on;
	if (p->dp_started && p->n->datapath->attached)
		p->n->datapath->attached(p, on);
}

/* Brings pair p's backend queue where active_pairs says: attached iff the pair is in use. */
static void net_pair_sync(struct net_pair *p)
{
	net_pair_attach(p, p->index < __atomic_load_n(&p->n->active_pairs, __ATOMIC_ACQUIRE));
}

static void *net_io_thread(void *opaque)
{
	struct net_pair *p = opaque;
	char name[16];
	/* Named so top and the bench tell the datapath's CPU time from the other threads'; one pair
	 * keeps the name it always had. */
	if (p->n->max_pairs == 1)
		snprintf(name, sizeof(name), "net%d-io", p->n->index);
	else
		snprintf(name, sizeof(name), "net%d-io%d", p->n->index, p->index);
	pthread_setname_np(pthread_self(), name);
	if (seccomp_enter(SECCOMP_NET_IO)) {
		vm_request_exit(EXIT_RUNTIME, "cannot install a net I/O thread's system call filter");
		return NULL;
	}
	while (!__atomic_load_n(&p->stopping, __ATOMIC_ACQUIRE))
		loop_run_once(p->loop, -1);
	return NULL;
}

static void net_wake(void *opaque, uint32_t events)
{
	struct net_pair *p = opaque;
	uint64_t v;
	(void)events;
	if (read(p->wake_fd, &v, sizeof(v)) < 0) {
		/* Spurious: the flags are what the thread looks at. */
	}
	if (!__atomic_load_n(&p->stopping, __ATOMIC_ACQUIRE))
		net_pair_sync(p);
}

static void net_pair_stop(struct net_pair *p)
{
	if (p->running) {
		__atomic_store_n(&p->stopping, true, __ATOMIC_RELEASE);
		net_pair_wake(p);
		pthread_join(p->thread, NULL);
		p->running = false;
	}
	if (p->dp_started)
		p->n->datapath->stop(p);
	p->dp_started = false;
}

static void net_stop(struct virtio_dev *vdev)
{
	struct virtio_net *n = to_net(vdev);
	for (int i = 0; i < n->max_pairs; i++)
		net_pair_stop(&n->pair[i]);
	if (n->ctrl_watched)
		loop_del(n->pair[0].loop, vdev->tops->kick_fd(vdev, n->ctrl_q));
	n->ctrl_watched = false;
}

/* Whether pair i runs: pair 0 always (its thread serves the control queue), another when the
 * driver can use it (F_MQ) and enabled one of its queues. */
static bool net_pair_used(struct virtio_net *n, int i)
{
	struct virtio_dev *vdev = &n->vdev;
	return i == 0 || (i < net_pairs(n) && (vdev->vq[net_rxq(i)].ready || vdev->vq[net_txq(i)].ready));
}

static int net_pair_start(struct net_pair *p)
{
	struct virtio_net *n = p->n;
	struct virtio_dev *vdev = &n->vdev;
	int err;
	/* vhost's NET_SET_BACKEND wants an attached tap queue (a detached one polls as an error):
	 * attach for start, then detach what the driver does not use yet. */
	net_pair_attach(p, true);
	err = n->datapath->start(p);
	if (err < 0)
		return err;
	p->dp_started = true;
	net_pair_sync(p);
	p->stopping = false;
	err = -pthread_create(&p->thread, NULL, net_io_thread, p);
	if (err < 0)
		return err;
	p->running = true;
	/* Buffers and frames the driver queued before DRIVER_OK are the I/O thread's first work,
	 * as if the driver had kicked: start() itself never walks a ring. */
	for (int q = net_rxq(p->index); q <= net_txq(p->index); q++)
		if (vdev->vq[q].ready)
			virtio_net_kick(n, q);
	return 0;
}

static int net_start(struct virtio_dev *vdev)
{
	struct virtio_net *n = to_net(vdev);
	int err;
	net_stop(vdev);
	/* guest_offloads and active_pairs: as FEATURES_OK set them (net_set_features), or as the
	 * driver's control commands changed them since. */
	if (n->be.ops->set_offloads)
		n->be.ops->set_offloads(&n->be, n->guest_offloads);
	n->ctrl_q = net_ctrlq(n);
	if ((vdev->features & BIT(VIRTIO_NET_F_CTRL_VQ)) && vdev->vq[n->ctrl_q].ready) {
		int fd = vdev->tops->kick_fd(vdev, n->ctrl_q);
		err = loop_add(n->pair[0].loop, fd, EPOLLIN, net_ctrl_kick, n);
		if (err < 0)
			goto fail;
		n->ctrl_watched = true;
	}
	for (int i = 0; i < n->max_pairs; i++) {
		if (!net_pair_used(n, i)) {
			/* No frames for a pair nobody reads. */
			net_pair_attach(&n->pair[i], false);
			continue;
		}
		if ((err = net_pair_start(&n->pair[i])) < 0)
			goto fail;
	}
	return 0;
fail:
	log_err("net%d: cannot start the %s datapath: %s", n->index, n->datapath->name, strerror(-err));
	net_stop(vdev);
	return -1;
}

static void net_irq_changed(struct virtio_dev *vdev, int queue)
{
	/* Nothing to re-bind: the userspace datapath asks for call_fd on every interrupt, and vhost
	 * always signals call_fd, which the transport routes (vhost_net.h). */
	(void)vdev;
	(void)queue;
}

static const struct virtio_dev_ops net_ops = {
    .features = net_features,
    .set_features = net_set_features,
    .config_read = net_config_read,
    .config_write = net_config_write,
    .start = net_start,
    .stop = net_stop,
    .irq_changed = net_irq_changed,
};

/* One loop per pair for the device's life: backends that attach to it (slirp) keep their watches
 * across driver resets, and it outlives the backend's close. */
static int net_pair_init(struct virtio_net *n, int i)
{
	struct net_pair *p = &n->pair[i];
	p->n = n;
	p->index = i;
	p->be = n->be;
	p->be.fd = n->be.qfd[i];
	p->attached = true; /* a backend opens with every queue attached */
	p->loop = loop_new();
	p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!p->loop || p->wake_fd < 0 || loop_add(p->loop, p->wake_fd, EPOLLIN, net_wake, p) < 0)
		return -ENOMEM;
	return 0;
}

static void net_pairs_free(struct virtio_net *n)
{
	for (int i = 0; i < NET_MAX_PAIRS; i++) {
		struct net_pair *p = &n->pair[i];
		loop_free(p->loop);
		p->loop = NULL;
		if (p->wake_fd >= 0)
			close(p->wake_fd);
		p->wake_fd = -1;
	}
}

int virtio_net_init_backend(struct virtio_net *n, const struct net_opts *opts, int index,
			    const struct guest_mem *mem, const struct net_backend *be)
{
	memset(n, 0, sizeof(*n));
	n->be = *be;
	n->max_pairs = opts->queues > 1 ? opts->queues : 1;
	n->active_pairs = 1;
	for (int i = 0; i < NET_MAX_PAIRS; i++)
		n->pair[i].wake_fd = n->pair[i].vhost_fd = -1;
	/* A backend of one queue fills neither queues nor qfd. */
	if (n->be.queues < 1) {
		n->be.queues = 1;
		n->be.qfd[0] = n->be.fd;
	}
	int err = 0;
	if (n->be.queues != n->max_pairs) {
		log_err("net%d: the %s backend has %d queues for %d queue pairs", index, be->ops->name,
			n->be.queues, n->max_pairs);
		err = -EINVAL;
	}
	for (int i = 0; !err && i < n->max_pairs; i++)
		err = net_pair_init(n, i);
	if (err) {
		if (err == -ENOMEM)
			log_err("net%d: cannot create the I/O loop", index);
		net_pairs_free(n);
		if (be->ops->close)
			be->ops->close(&n->be);
		return err;
	}
	n->index = index;
	n->datapath = &net_loop_datapath;
	pthread_mutex_init(&n->cfg_lock, NULL);

	uint64_t offloads = be->ops->offload_features ? be->ops->offload_features(&n->be) : 0;
	n->offered = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) |
		     BIT(VIRTIO_RING_F_INDIRECT_DESC) | BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) |
		     BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX) |
		     BIT(VIRTIO_NET_F_CTRL_MAC_ADDR) | BIT(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) |
		     (offloads & NET_OFFLOADS);
	if (opts->mtu)
		n->offered |= BIT(VIRTIO_NET_F_MTU);
	/* Only with more than one pair (as QEMU): one pair keeps the guest's view as it always was. */
	if (n->max_pairs > 1)
		n->offered |= BIT(VIRTIO_NET_F_MQ);

	if (opts->mac_set)
		memcpy(n->cfg.mac, opts->mac, 6);
	else
		virtio_net_default_mac(index, opts->kind == NET_TAP ? opts->ifname : "", n->cfg.mac);
	n->cfg.status = htole16(VIRTIO_NET_S_LINK_UP);
	n->cfg.max_virtqueue_pairs = htole16((uint16_t)n->max_pairs);
	n->cfg.mtu = htole16(opts->mtu);
	n->cfg_len = offsetof(struct virtio_net_config, mtu) + sizeof(n->cfg.mtu);

	struct virtio_dev *vdev = &n->vdev;
	vdev->ops = &net_ops;
	vdev->priv = n;
	vdev->mem = mem;
	vdev->device_id = 1; /* VIRTIO_ID_NET */
	vdev->num_queues = 2 * n->max_pairs + 1;
	vdev->queue_max = opts->queue_size ? opts->queue_size : NET_QUEUE_SIZE;
	/* Each rx and tx queue, and config: Linux gives the control queue no callback, so no vector
	 * (as QEMU): 2N+1, 3 for one pair. */
	vdev->msix_vectors = 2 * n->max_pairs + 1;
	vdev->config_len = n->cfg_len;

	err = vhost_net_select(n, opts);
	if (err < 0) {
		virtio_net_free(n);
		return err;
	}
	return 0;
}

int virtio_net_init(struct virtio_net *n, const struct net_opts *opts, int index, const struct guest_mem *mem)
{
	struct net_backend be;
	int err = net_backend_open(&be, opts);
	if (err < 0)
		return err;
	return virtio_net_init_backend(n, opts, index, mem, &be);
}

/* The name of stats slot q: rx, tx and ctrl with one pair (as always), rxP/txP with more. */
static void net_stats_name(const struct virtio_net *n, int q, char *buf, size_t len)
{
	if (q == 2 * n->max_pairs)
		snprintf(buf, len, "ctrl");
	else if (n->max_pairs == 1)
		snprintf(buf, len, "%s", q & 1 ? "tx" : "rx");
	else
		snprintf(buf, len, "%s%u", q & 1 ? "tx" : "rx", (unsigned)q / 2 % 100);
}

void virtio_net_stats_print(const struct virtio_net *n, FILE *f)
{
	for (int q = 0; q <= 2 * n->max_pairs; q++) {
		const struct net_queue_stats *st = &n->stats[q];
		bool ctrl = q == 2 * n->max_pairs;
		bool kernel = !ctrl && n->datapath && n->datapath->in_kernel;
		char name[16];
		net_stats_name(n, q, name, sizeof(name));
		/* With vhost the kernel handles kicks and moves packets: the VMM's counts stay near
		 * zero, which is exactly what --stats is there to show. */
		fprintf(f, "stats: net%d %s (%s) kicks=%llu interrupts=%llu packets=%llu bytes=%llu drops=%llu broken=%llu%s\n",
			n->index, name, ctrl || !n->datapath ? "vmm" : n->datapath->name,
			(unsigned long long)st->kicks, (unsigned long long)st->interrupts,
			(unsigned long long)st->packets, (unsigned long long)st->bytes,
			(unsigned long long)st->drops, (unsigned long long)st->broken,
			kernel ? " (packets moved in the kernel)" : "");
	}
}

void virtio_net_set_link(struct virtio_net *n, bool up)
{
	pthread_mutex_lock(&n->cfg_lock);
	uint16_t old = le16toh(n->cfg.status);
	uint16_t neu = up ? old | VIRTIO_NET_S_LINK_UP : old & ~VIRTIO_NET_S_LINK_UP;
	n->cfg.status = htole16(neu);
	pthread_mutex_unlock(&n->cfg_lock);
	if (neu == old)
		return;
	__atomic_store_n(&n->link_down, !up, __ATOMIC_RELEASE);
	for (int i = 0; i < n->max_pairs; i++)
		if (n->pair[i].dp_started && n->datapath->link_changed)
			n->datapath->link_changed(&n->pair[i], up);
	/* 5.1.4.2: the driver learns of it through a configuration change notification. Only
	 * a driver that negotiated STATUS reads the bit. */
	if (n->vdev.tops)
		n->vdev.tops->config_changed(&n->vdev);
}

void virtio_net_stats_json(const struct virtio_net *n, struct jbuf *b)
{
	jbuf_printf(b, "{\"name\": \"net%d\", \"datapath\": \"%s\", \"queues\": [", n->index,
		    n->datapath ? n->datapath->name : "none");
	for (int q = 0; q <= 2 * n->max_pairs; q++) {
		const struct net_queue_stats *st = &n->stats[q];
		char name[16];
		net_stats_name(n, q, name, sizeof(name));
		jbuf_printf(b,
			    "%s{\"queue\": \"%s\", \"kicks\": %llu, \"interrupts\": %llu, \"packets\": %llu, "
			    "\"bytes\": %llu, \"drops\": %llu}",
			    q ? ", " : "", name, (unsigned long long)st->kicks,
			    (unsigned long long)st->interrupts, (unsigned long long)st->packets,
			    (unsigned long long)st->bytes, (unsigned long long)st->drops);
	}
	jbuf_raw(b, "]}");
}

void virtio_net_free(struct virtio_net *n)
{
	net_stop(&n->vdev);
	vhost_net_release(n);
	if (n->be.ops && n->be.ops->close)
		n->be.ops->close(&n->be);
	n->be.ops = NULL;
	net_pairs_free(n);
	pthread_mutex_destroy(&n->cfg_lock);
}
