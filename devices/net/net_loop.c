/* net_loop.c: the userspace datapath: guest TX chains -> backend, backend frames -> guest RX
 * chains, on the device's I/O thread (net_loop.h). */
#include "devices/net/net_loop.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "vmm/iov.h"
#include "vmm/log.h"
#include "vmm/loop.h"

#define NET_TX_BUDGET 256  /* chains per round before the RX side gets a turn */
#define NET_RX_BUDGET 256  /* frames per round (fd backends; the loop comes back while readable) */
#define NET_MAX_IOV   1024 /* UIO_MAXIOV: the most a readv takes */

struct net_rx_chain {
	uint16_t head;
	uint32_t len; /* writable bytes */
};

struct net_loop {
	struct virtio_net *n;
	struct loop *loop;  /* NULL when driven by tests */
	bool mrg;	    /* VIRTIO_NET_F_MRG_RXBUF negotiated */
	bool rx_starved;    /* no RX buffers: backend not read until the RX kick */
	bool tx_blocked;    /* backend said EAGAIN: waiting for EPOLLOUT */
	bool be_dead;	    /* backend fd hung up */
	uint32_t be_events; /* what the loop watches on the backend fd */

	/* RX chains popped and not yet used: always the last nb chains popped, so that
	 * virtq_unpop() gives back exactly them. iov holds their writable iovecs in order. */
	int nb, niov;
	size_t cap;
	struct net_rx_chain chains[VIRTQ_MAX_SIZE];
	struct iovec iov[NET_MAX_IOV];

	/* A frame read before there were buffers to hold it all (only when the driver's buffers
	 * cannot take any frame, i.e. less than NET_RX_MAX bytes were available). */
	uint8_t *bounce;
	size_t pend_len;

	struct virtq_elem elem;
};

static struct virtq *net_vq(struct net_loop *nl, int q)
{
	return &nl->n->vdev.vq[q];
}

static void net_be_update(struct net_loop *nl)
{
	struct net_backend *be = &nl->n->be;
	if (!nl->loop || be->fd < 0 || nl->be_dead)
		return;
	uint32_t ev = (nl->rx_starved ? 0 : EPOLLIN) | (nl->tx_blocked ? EPOLLOUT : 0);
	if (ev != nl->be_events && loop_mod(nl->loop, be->fd, ev) == 0)
		nl->be_events = ev;
}

static void net_kick(struct net_loop *nl, int q)
{
	struct virtio_dev *vdev = &nl->n->vdev;
	uint64_t one = 1;
	if (write(vdev->tops->kick_fd(vdev, q), &one, sizeof(one)) < 0) {
		/* An eventfd only fails to count past 2^64-2: a kick is pending anyway. */
	}
}

int net_loop_tx(struct net_loop *nl)
{
	struct virtio_net *n = nl->n;
	struct virtq *vq = net_vq(nl, NET_Q_TX);
	struct net_queue_stats *st = &n->stats[NET_Q_TX];
	struct virtq_elem *e = &nl->elem;
	int pushed = 0, r = 0;
	bool more = false;
	if (!vq->ready)
		return 0;
	for (;;) {
		/* 2.7.10: no kicks while we drain; re-enable and re-check before sleeping. */
		virtq_set_notify(vq, false);
		while ((r = virtq_pop(vq, e)) == 1) {
			/* 5.1.6.2: a TX chain is the header then the frame, all device-readable. */
			if (e->nr_in || e->in_len || e->out_len < NET_HDR_LEN) {
				st->drops++;
			} else {
				ssize_t s = n->be.ops->send(&n->be, e->iov, e->nr_out);
				if (s == -EAGAIN && n->be.fd >= 0) {
					virtq_unpop(vq, 1);
					nl->tx_blocked = true;
					net_be_update(nl);
					goto out;
				}
				if (s < 0) {
					st->drops++;
				} else {
					st->packets++;
					st->bytes += e->out_len - NET_HDR_LEN;
				}
			}
			virtq_push(vq, e->head, 0);
			if (++pushed >= NET_TX_BUDGET) {
				more = true;
				goto out;
			}
		}
		if (r < 0 || !virtq_set_notify(vq, true))
			break;
	}
out:
	if (pushed) {
		virtq_flush(vq, pushed);
		virtio_net_notify(n, NET_Q_TX);
	}
	if (r < 0)
		virtio_net_needs_reset(n, NET_Q_TX);
	else if (more)
		net_kick(nl, NET_Q_TX); /* come back after the other fds had their turn */
	return pushed;
}

enum net_gather {
	GATHER_ENOUGH,	 /* cap >= need */
	GATHER_EMPTY,	 /* the ring ran out first */
	GATHER_LIMIT,	 /* no more chains can be used for one frame */
	GATHER_BAD_NEXT, /* the next chain is not an RX buffer (dropped once it is first) */
	GATHER_BROKEN,	 /* malformed chain: NEEDS_RESET */
};

/* Pops RX chains onto the held ones until they hold `need` bytes. */
static enum net_gather net_rx_gather(struct net_loop *nl, size_t need)
{
	struct virtq *vq = net_vq(nl, NET_Q_RX);
	struct virtq_elem *e = &nl->elem;
	/* 5.1.6.4: one chain per frame unless the driver merges buffers. */
	int max_chains = nl->mrg ? vq->size : 1;
	while (nl->cap < need) {
		if (nl->nb >= max_chains)
			return GATHER_LIMIT;
		int r = virtq_pop(vq, e);
		if (r < 0)
			return GATHER_BROKEN;
		if (r == 0)
			return GATHER_EMPTY;
		if (e->nr_out || e->out_len || !e->in_len) {
			/* 5.1.6.3: RX buffers are device-writable. A bad one is completed empty at
			 * once, but only when nothing is held: a frame's buffers must be adjacent
			 * in the used ring and the held chains the last ones popped. */
			if (nl->nb) {
				virtq_unpop(vq, 1);
				return GATHER_BAD_NEXT;
			}
			nl->n->stats[NET_Q_RX].drops++;
			virtq_push(vq, e->head, 0);
			virtq_flush(vq, 1);
			continue;
		}
		if (nl->niov + e->nr_in > NET_MAX_IOV) {
			virtq_unpop(vq, 1);
			return GATHER_LIMIT;
		}
		memcpy(&nl->iov[nl->niov], &e->iov[e->nr_out], e->nr_in * sizeof(struct iovec));
		nl->niov += e->nr_in;
		nl->chains[nl->nb++] = (struct net_rx_chain){.head = e->head, .len = e->in_len};
		nl->cap += e->in_len;
	}
	return GATHER_ENOUGH;
}

/* Forgets the held chains, giving back all but the first `used` to the ring. */
static void net_rx_release(struct net_loop *nl, int used)
{
	virtq_unpop(net_vq(nl, NET_Q_RX), nl->nb - used);
	nl->nb = 0;
	nl->niov = 0;
	nl->cap = 0;
}

/* The held chains got a frame of len bytes (header included): complete as many as it filled. */
static void net_rx_complete(struct net_loop *nl, size_t len)
{
	struct virtq *vq = net_vq(nl, NET_Q_RX);
	struct net_queue_stats *st = &nl->n->stats[NET_Q_RX];
	size_t left = len;
	uint16_t used = 0;
	while (left) {
		uint32_t take = nl->chains[used].len < left ? nl->chains[used].len : left;
		virtq_push(vq, nl->chains[used].head, take);
		left -= take;
		used++;
	}
	/* 5.1.6.4: num_buffers is always written with VERSION_1; the tap skips it on read. */
	uint16_t nbuf = htole16(used);
	iov_from_buf(nl->iov, nl->niov, offsetof(struct virtio_net_hdr_v1, num_buffers), &nbuf,
		     sizeof(nbuf));
	net_rx_release(nl, used);
	virtq_flush(vq, used);
	st->packets++;
	st->bytes += len - NET_HDR_LEN;
}

enum net_rx { RX_DONE, RX_AGAIN, RX_EMPTY, RX_NO_BUFFERS, RX_BROKEN };

static enum net_rx net_rx_one(struct net_loop *nl)
{
	struct net_backend *be = &nl->n->be;
	struct net_queue_stats *st = &nl->n->stats[NET_Q_RX];
	enum net_gather g = net_rx_gather(nl, nl->pend_len ? nl->pend_len : NET_RX_MAX);
	if (g == GATHER_BROKEN)
		return RX_BROKEN;
	if (nl->pend_len) {
		if (g == GATHER_ENOUGH) {
			iov_from_buf(nl->iov, nl->niov, 0, nl->bounce, nl->pend_len);
			net_rx_complete(nl, nl->pend_len);
			nl->pend_len = 0;
			return RX_DONE;
		}
		/* Keep the held chains and wait for more buffers (popping them moved avail_event
		 * past them, so the driver's next buffers kick us). */
		if (g == GATHER_EMPTY)
			return RX_NO_BUFFERS;
		net_rx_release(nl, 0);
		if (g == GATHER_BAD_NEXT)
			return RX_AGAIN;
		/* GATHER_LIMIT: the driver's buffers can never hold this frame (no MRG_RXBUF and a
		 * small buffer, or the whole ring too small). */
		st->drops++;
		nl->pend_len = 0;
		return RX_DONE;
	}
	if (nl->nb == 0)
		return RX_NO_BUFFERS;
	if (g == GATHER_ENOUGH) {
		/* The common case: straight into guest memory, one readv. */
		ssize_t len = be->ops->recv(be, nl->iov, nl->niov);
		if (len >= (ssize_t)NET_HDR_LEN) {
			net_rx_complete(nl, len);
			return RX_DONE;
		}
		net_rx_release(nl, 0);
		/* EAGAIN: nothing to read; 0: end of file; other errors count as lost frames. */
		if (len <= 0) {
			if (len < 0 && len != -EAGAIN)
				st->drops++;
			return RX_EMPTY;
		}
		st->drops++; /* a runt without a whole vnet header */
		return RX_DONE;
	}
	/* The buffers on offer might not hold the next frame: read it aside and deliver it when
	 * they do. */
	net_rx_release(nl, 0);
	struct iovec b = {.iov_base = nl->bounce, .iov_len = NET_RX_MAX};
	ssize_t len = be->ops->recv(be, &b, 1);
	if (len < 0 || len == 0) {
		if (len < 0 && len != -EAGAIN)
			st->drops++;
		return RX_EMPTY;
	}
	if (len < (ssize_t)NET_HDR_LEN) {
		st->drops++;
		return RX_DONE;
	}
	nl->pend_len = len;
	return RX_AGAIN;
}

int net_loop_rx(struct net_loop *nl)
{
	struct virtio_net *n = nl->n;
	struct virtq *vq = net_vq(nl, NET_Q_RX);
	uint16_t used0 = vq->used_idx;
	int done = 0;
	bool budget = n->be.fd >= 0;
	if (nl->rx_starved)
		return 0;
	if (!vq->ready) {
		/* Not set up, or broken until the driver resets us: stop polling the backend, or
		 * its level-triggered readiness would spin the loop. */
		nl->rx_starved = true;
		net_be_update(nl);
		return 0;
	}
	while (!budget || done < NET_RX_BUDGET) {
		enum net_rx r = net_rx_one(nl);
		if (r == RX_DONE) {
			done++;
			continue;
		}
		if (r == RX_AGAIN)
			continue;
		if (r == RX_EMPTY)
			break;
		if (r == RX_BROKEN) {
			virtio_net_needs_reset(n, NET_Q_RX);
			break;
		}
		/* RX_NO_BUFFERS: 2.7.10 ask for a kick, then re-check for buffers that raced it. */
		if (virtq_set_notify(vq, true))
			continue;
		nl->rx_starved = true;
		net_be_update(nl);
		break;
	}
	if (vq->used_idx != used0)
		virtio_net_notify(n, NET_Q_RX);
	return done;
}

int net_loop_rx_kick(struct net_loop *nl)
{
	nl->rx_starved = false;
	virtq_set_notify(net_vq(nl, NET_Q_RX), false);
	net_be_update(nl);
	return net_loop_rx(nl);
}

bool net_loop_rx_starved(const struct net_loop *nl)
{
	return nl->rx_starved;
}

struct net_loop *net_loop_new(struct virtio_net *n)
{
	struct net_loop *nl = calloc(1, sizeof(*nl));
	if (!nl)
		return NULL;
	nl->bounce = malloc(NET_RX_MAX);
	if (!nl->bounce) {
		free(nl);
		return NULL;
	}
	nl->n = n;
	nl->mrg = n->vdev.features & (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	return nl;
}

void net_loop_free(struct net_loop *nl)
{
	if (!nl)
		return;
	free(nl->bounce);
	free(nl);
}

static bool net_eventfd_drain(struct net_loop *nl, int q)
{
	struct virtio_dev *vdev = &nl->n->vdev;
	uint64_t v;
	if (read(vdev->tops->kick_fd(vdev, q), &v, sizeof(v)) != sizeof(v))
		return false;
	nl->n->stats[q].kicks++;
	return true;
}

static void net_on_tx_kick(void *opaque, uint32_t events)
{
	struct net_loop *nl = opaque;
	(void)events;
	if (net_eventfd_drain(nl, NET_Q_TX))
		net_loop_tx(nl);
}

static void net_on_rx_kick(void *opaque, uint32_t events)
{
	struct net_loop *nl = opaque;
	(void)events;
	if (net_eventfd_drain(nl, NET_Q_RX))
		net_loop_rx_kick(nl);
}

static void net_on_backend(void *opaque, uint32_t events)
{
	struct net_loop *nl = opaque;
	if ((events & EPOLLOUT) && nl->tx_blocked) {
		nl->tx_blocked = false;
		net_be_update(nl);
		net_loop_tx(nl);
	}
	if (events & EPOLLIN)
		net_loop_rx(nl);
	if (events & (EPOLLHUP | EPOLLERR)) {
		log_warn("net%d: backend %s hung up", nl->n->index, nl->n->be.ops->name);
		loop_del(nl->loop, nl->n->be.fd);
		nl->be_dead = true;
	}
}

static void net_on_rx_ready(void *opaque)
{
	net_loop_rx(opaque);
}

static void net_loop_dp_stop(struct virtio_net *n)
{
	struct virtio_dev *vdev = &n->vdev;
	struct net_loop *nl = n->dp;
	if (nl && nl->loop) {
		loop_del(nl->loop, vdev->tops->kick_fd(vdev, NET_Q_TX));
		loop_del(nl->loop, vdev->tops->kick_fd(vdev, NET_Q_RX));
		if (n->be.fd >= 0)
			loop_del(nl->loop, n->be.fd);
	}
	net_loop_free(nl);
	n->dp = NULL;
}

static int net_loop_dp_start(struct virtio_net *n, struct loop *l)
{
	struct virtio_dev *vdev = &n->vdev;
	struct net_loop *nl = net_loop_new(n);
	int err = 0;
	if (!nl)
		return -ENOMEM;
	n->dp = nl;
	nl->loop = l;
	if (vdev->vq[NET_Q_TX].ready)
		err = loop_add(l, vdev->tops->kick_fd(vdev, NET_Q_TX), EPOLLIN, net_on_tx_kick, nl);
	if (!err && vdev->vq[NET_Q_RX].ready)
		err = loop_add(l, vdev->tops->kick_fd(vdev, NET_Q_RX), EPOLLIN, net_on_rx_kick, nl);
	if (!err && n->be.fd >= 0) {
		nl->rx_starved = !vdev->vq[NET_Q_RX].ready;
		nl->be_events = nl->rx_starved ? 0 : EPOLLIN;
		err = loop_add(l, n->be.fd, nl->be_events, net_on_backend, nl);
	}
	if (!err && n->be.ops->attach)
		err = n->be.ops->attach(&n->be, l, net_on_rx_ready, nl);
	if (err) {
		net_loop_dp_stop(n);
		return err;
	}
	/* RX kicks only matter once we run out of buffers. Chains the driver queued before
	 * DRIVER_OK are the I/O thread's first work: net_start() kicks both queues. */
	virtq_set_notify(&vdev->vq[NET_Q_RX], false);
	return 0;
}

const struct net_datapath_ops net_loop_datapath = {
    .name = "userspace",
    .start = net_loop_dp_start,
    .stop = net_loop_dp_stop,
};
