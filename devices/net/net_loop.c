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

#define NET_MAX_IOV 1024 /* UIO_MAXIOV: the most one readv takes */

struct net_rx_chain {
	uint16_t head;
	uint16_t niov; /* its writable iovecs */
	uint32_t len;  /* its writable bytes */
};

/* RX chains popped and not used yet, oldest first: chains[c0..nc), holding niov writable iovecs
 * and cap bytes. They are kept across frames: a frame takes the oldest, the others wait for the
 * next frame; only a stop gives them back to the ring (net_loop_give_back).
 *
 * Their bytes, in order, are iov[j0..nj), kept joined: an iovec that starts where the one before
 * ends extends it. A Linux guest carves its RX buffers one after the other out of 32 KiB page
 * frags, so the ~43 1536-byte buffers held for a 64 KiB frame are a few pieces, and one readv of
 * at most UIO_FASTIOV (8) iovecs spares the kernel an allocation and a copy of the iovec array.
 * Joined as chains arrive and trimmed as they complete, not again for every frame (which cost a
 * walk of all ~43 per frame). At most NET_MAX_IOV iovecs are held before a pop, and a chain brings
 * at most VIRTQ_MAX_SIZE, hence the room for twice that. */
struct net_rx_held {
	unsigned c0, nc;
	unsigned niov; /* writable iovecs of the held chains, as popped (before joining) */
	unsigned j0, nj;
	size_t cap; /* writable bytes held */
	struct net_rx_chain chains[VIRTQ_MAX_SIZE];
	struct iovec iov[2 * NET_MAX_IOV];
};

struct net_loop {
	struct virtio_net *n;
	struct net_pair *p;
	struct net_backend *be; /* the pair's queue of the backend */
	int rxq, txq;		/* the pair's queues */
	struct loop *loop;  /* NULL when driven by tests */
	bool mrg;	    /* VIRTIO_NET_F_MRG_RXBUF negotiated */
	size_t rx_need;	    /* header + the largest frame the negotiated offloads allow */
	bool rx_starved;    /* no RX buffers (or RX broken): backend not read until the RX kick */
	bool tx_blocked;    /* backend said EAGAIN: waiting for EPOLLOUT */
	bool tx_held;	    /* tx_elem holds a chain popped and not sent yet (the backend was full) */
	bool be_dead;	    /* backend fd hung up */
	bool be_watched;    /* the backend fd is on the loop (not while its queue is detached) */
	uint32_t be_events; /* what the loop watches on the backend fd */

	struct net_rx_held rx;

	/* A frame read before there were buffers known to hold it (pend_len bytes, 0 if none). */
	uint8_t *bounce;
	size_t pend_len;

	struct virtq_elem rx_elem, tx_elem;
};

static struct virtq *net_vq(struct net_loop *nl, int q)
{
	return &nl->n->vdev.vq[q];
}

static void net_be_update(struct net_loop *nl)
{
	struct net_backend *be = nl->be;
	if (!nl->loop || be->fd < 0 || nl->be_dead || !nl->be_watched)
		return;
	uint32_t ev = (nl->rx_starved ? 0 : EPOLLIN) | (nl->tx_blocked ? EPOLLOUT : 0);
	if (ev != nl->be_events && loop_mod(nl->loop, be->fd, ev) == 0)
		nl->be_events = ev;
}

static void net_on_tx_resume(void *opaque);
static void net_on_rx_ready(void *opaque);

/* A round that used up its budget comes back once the loop's other fds had their turn: deferred
 * in the loop, which costs no system call, else (no loop: tests; or no room) through the queue's
 * own kick eventfd. A 64 KiB TX stream ends a round every 8 frames, and the eventfd's write and
 * read cost more there than the device's own work per frame. */
static void net_come_back(struct net_loop *nl, bool tx)
{
	loop_defer_fn fn = tx ? net_on_tx_resume : net_on_rx_ready;
	if (!nl->loop || loop_defer(nl->loop, fn, nl) < 0)
		virtio_net_kick(nl->n, tx ? nl->txq : nl->rxq);
}

/* ---- TX ---- */

/* What one TX step ended in; net_loop_tx says what each does to the round. */
enum net_tx {
	TX_SENT,       /* a frame went to the backend; chain completed */
	TX_DROPPED,    /* a frame was dropped (too big, backend error); chain completed */
	TX_BLOCKED,    /* the backend is full: the chain is kept for EPOLLOUT */
	TX_RING_EMPTY, /* no chain available */
	TX_BROKEN,     /* a chain the device cannot use: the queue is broken (NEEDS_RESET) */
};

static enum net_tx net_tx_step(struct net_loop *nl)
{
	struct virtio_net *n = nl->n;
	struct virtq *vq = net_vq(nl, nl->txq);
	struct net_queue_stats *st = &n->stats[nl->txq];
	struct virtq_elem *e = &nl->tx_elem;
	if (!nl->tx_held) {
		int r = virtq_pop(vq, e);
		if (r <= 0)
			return r < 0 ? TX_BROKEN : TX_RING_EMPTY;
		/* 5.1.6.2: a TX chain is the header then the frame, all device-readable. */
		if (e->nr_in || e->in_len) {
			virtq_break(vq, "TX chain with a device-writable buffer");
			return TX_BROKEN;
		}
		if (e->out_len < NET_HDR_LEN) {
			virtq_break(vq, "TX chain shorter than the vnet header");
			return TX_BROKEN;
		}
		nl->tx_held = true;
	}
	ssize_t s = -EMSGSIZE;
	if (virtio_net_link_down(n))
		s = -ENETDOWN; /* a pulled cable: the frame goes nowhere */
	else if (e->out_len - NET_HDR_LEN <= NET_FRAME_MAX)
		s = nl->be->ops->send(nl->be, e->iov, e->nr_out);
	else
		LOG_GUEST("net_tx_too_big", "net%d: TX frame of %u bytes dropped: larger than %u", n->index,
			  e->out_len - NET_HDR_LEN, NET_FRAME_MAX);
	if (s == -EAGAIN && nl->be->fd >= 0)
		return TX_BLOCKED;
	nl->tx_held = false;
	virtq_push(vq, e->head, 0);
	if (s < 0) {
		st->drops++;
		return TX_DROPPED;
	}
	st->packets++;
	st->bytes += e->out_len - NET_HDR_LEN;
	return TX_SENT;
}

int net_loop_tx(struct net_loop *nl)
{
	struct virtio_net *n = nl->n;
	struct virtq *vq = net_vq(nl, nl->txq);
	uint64_t bytes0 = n->stats[nl->txq].bytes;
	int pushed = 0, steps;
	bool broken = false;
	if (!vq->ready)
		return 0;
	/* 2.7.10: no kicks while we drain. */
	virtq_set_notify(vq, false);
	for (steps = 0; steps < NET_TX_BUDGET; steps++) {
		enum net_tx r = net_tx_step(nl);
		if (r == TX_SENT || r == TX_DROPPED) {
			pushed++;
			if (n->stats[nl->txq].bytes - bytes0 >= NET_BYTE_BUDGET)
				steps = NET_TX_BUDGET - 1; /* this was the round's last step */
			continue;
		}
		if (r == TX_RING_EMPTY) {
			/* Re-enable kicks, then re-check for chains that raced it. */
			if (!virtq_set_notify(vq, true))
				break;
			virtq_set_notify(vq, false);
			continue;
		}
		if (r == TX_BLOCKED) {
			nl->tx_blocked = true;
			net_be_update(nl);
		}
		broken = r == TX_BROKEN;
		break;
	}
	if (pushed) {
		virtq_flush(vq, pushed);
		virtio_net_notify(n, nl->txq);
	}
	if (broken)
		virtio_net_needs_reset(n, nl->txq);
	else if (steps == NET_TX_BUDGET)
		net_come_back(nl, true);
	return pushed;
}

/* ---- RX ---- */

/* The most an RX frame can be (5.1.6.3.1): 64 KiB with a receive offload, else an MTU's worth
 * (the MTU the device offered, 1500 without one) plus Ethernet and VLAN headers. A backend frame
 * longer than that is cut by the read and dropped. */
static size_t net_rx_need(const struct virtio_net *n)
{
	uint64_t f = n->vdev.features;
	if (f & ((1ULL << VIRTIO_NET_F_GUEST_TSO4) | (1ULL << VIRTIO_NET_F_GUEST_TSO6) |
		 (1ULL << VIRTIO_NET_F_GUEST_UFO)))
		return NET_RX_MAX;
	uint32_t mtu = 1500;
	if ((f & (1ULL << VIRTIO_NET_F_MTU)) && le16toh(n->cfg.mtu) > mtu)
		mtu = le16toh(n->cfg.mtu);
	return NET_HDR_LEN + mtu + 14 + 4;
}

static void net_rx_hold(struct net_rx_held *h, const struct virtq_elem *e)
{
	if (h->nc == VIRTQ_MAX_SIZE || h->nj + VIRTQ_MAX_SIZE > 2 * NET_MAX_IOV) {
		memmove(h->chains, &h->chains[h->c0], (h->nc - h->c0) * sizeof(h->chains[0]));
		memmove(h->iov, &h->iov[h->j0], (h->nj - h->j0) * sizeof(h->iov[0]));
		h->nc -= h->c0;
		h->nj -= h->j0;
		h->c0 = h->j0 = 0;
	}
	for (unsigned i = e->nr_out; i < e->nr_out + e->nr_in; i++) {
		struct iovec *last = h->nj > h->j0 ? &h->iov[h->nj - 1] : NULL;
		if (last && (uint8_t *)last->iov_base + last->iov_len == e->iov[i].iov_base)
			last->iov_len += e->iov[i].iov_len;
		else
			h->iov[h->nj++] = e->iov[i];
	}
	h->niov += e->nr_in;
	h->chains[h->nc++] = (struct net_rx_chain){.head = e->head, .niov = e->nr_in, .len = e->in_len};
	h->cap += e->in_len;
}

/* The first bytes of the held iovecs went with completed chains. */
static void net_rx_trim(struct net_rx_held *h, size_t bytes)
{
	while (bytes) {
		struct iovec *v = &h->iov[h->j0];
		if (v->iov_len > bytes) {
			v->iov_base = (uint8_t *)v->iov_base + bytes;
			v->iov_len -= bytes;
			return;
		}
		bytes -= v->iov_len;
		h->j0++;
	}
}

static void net_rx_forget(struct net_loop *nl)
{
	struct net_rx_held *h = &nl->rx;
	h->c0 = h->nc = h->niov = h->j0 = h->nj = 0;
	h->cap = 0;
	nl->pend_len = 0;
}

enum net_gather {
	GATHER_ENOUGH,	   /* the held chains hold `need` bytes */
	GATHER_RING_EMPTY, /* the ring ran out first */
	GATHER_FULL,	   /* no more chains for one frame (one without MRG_RXBUF, or no room) */
	GATHER_BROKEN,	   /* a malformed or unusable chain: the queue is broken */
};

/* Pops RX chains onto the held ones until they hold `need` bytes. Each pop either holds a chain
 * or breaks the queue, so this ends within VIRTQ_MAX_SIZE pops. */
static enum net_gather net_rx_gather(struct net_loop *nl, size_t need)
{
	struct net_rx_held *h = &nl->rx;
	struct virtq *vq = net_vq(nl, nl->rxq);
	struct virtq_elem *e = &nl->rx_elem;
	/* 5.1.6.4: one chain per frame unless the driver merges buffers. */
	unsigned max_chains = nl->mrg ? VIRTQ_MAX_SIZE : 1;
	while (h->cap < need) {
		if (h->nc - h->c0 >= max_chains || h->niov >= NET_MAX_IOV)
			return GATHER_FULL;
		int r = virtq_pop(vq, e);
		if (r <= 0)
			return r < 0 ? GATHER_BROKEN : GATHER_RING_EMPTY;
		/* 5.1.6.3: RX buffers are device-writable; 5.1.6.3.1: each at least a header long
		 * (with MRG_RXBUF the header must fit in the first; without, nothing smaller fits). */
		if (e->nr_out || e->out_len) {
			virtq_break(vq, "RX buffer with a device-readable part");
			return GATHER_BROKEN;
		}
		if (e->in_len < NET_HDR_LEN) {
			virtq_break(vq, "RX buffer shorter than the vnet header");
			return GATHER_BROKEN;
		}
		net_rx_hold(h, e);
	}
	return GATHER_ENOUGH;
}

/* The oldest held chains got a frame of len bytes (NET_HDR_LEN <= len <= cap, header included):
 * completes as many as it filled. */
static void net_rx_complete(struct net_loop *nl, size_t len)
{
	struct net_rx_held *h = &nl->rx;
	struct virtq *vq = net_vq(nl, nl->rxq);
	struct net_queue_stats *st = &nl->n->stats[nl->rxq];
	unsigned used = 0;
	for (size_t left = len; left; used++) {
		uint32_t l = h->chains[h->c0 + used].len;
		left -= l < left ? l : left;
	}
	/* 5.1.6.4: num_buffers is always written with VERSION_1; the tap skips it on read. */
	uint16_t nbuf = htole16((uint16_t)used);
	iov_from_buf(&h->iov[h->j0], (int)(h->nj - h->j0), offsetof(struct virtio_net_hdr_v1, num_buffers),
		     &nbuf, sizeof(nbuf));
	size_t left = len, done = 0;
	for (unsigned i = 0; i < used; i++) {
		const struct net_rx_chain *c = &h->chains[h->c0++];
		uint32_t take = c->len < left ? c->len : (uint32_t)left;
		virtq_push(vq, c->head, take);
		left -= take;
		done += c->len;
		h->niov -= c->niov;
		h->cap -= c->len;
	}
	if (h->c0 == h->nc)
		h->c0 = h->nc = h->j0 = h->nj = 0;
	else
		net_rx_trim(h, done);
	virtq_flush(vq, (uint16_t)used);
	st->packets++;
	st->bytes += len - NET_HDR_LEN;
}

/* What one RX step ended in; net_loop_rx says what each does to the round. */
enum net_rx {
	RX_DELIVERED,	  /* a frame went into the guest's buffers */
	RX_DROPPED,	  /* a frame was read and dropped (runt, cut, too big for the buffers) */
	RX_STASHED,	  /* (inside a step) a frame was read aside, to wait for buffers */
	RX_NO_BUFFERS,	  /* too few buffers for the next frame */
	RX_BACKEND_EMPTY, /* nothing to read (or a read error, counted) */
	RX_BROKEN,	  /* a chain the device cannot use: the queue is broken (NEEDS_RESET) */
};

/* Reads a frame of at most max bytes into iov: delivered or dropped, or the backend is empty. */
static enum net_rx net_rx_read(struct net_loop *nl, const struct iovec *iov, int iovcnt, size_t max,
			       ssize_t *got)
{
	struct net_backend *be = nl->be;
	struct net_queue_stats *st = &nl->n->stats[nl->rxq];
	ssize_t len = be->ops->recv(be, iov, iovcnt);
	*got = len;
	if (len == -EAGAIN || len == 0)
		return RX_BACKEND_EMPTY;
	st->drops += len < (ssize_t)NET_HDR_LEN || (size_t)len > max;
	if (len < 0)
		return RX_BACKEND_EMPTY; /* a read error: try again when the loop says readable */
	if (len < (ssize_t)NET_HDR_LEN || (size_t)len > max)
		return RX_DROPPED; /* a runt without a whole header, or a frame the read cut */
	return RX_DELIVERED;
}

/* Delivers the frame read aside into held chains, popping more as it needs. */
static enum net_rx net_rx_deliver_pending(struct net_loop *nl)
{
	struct net_rx_held *h = &nl->rx;
	switch (net_rx_gather(nl, nl->pend_len)) {
	case GATHER_ENOUGH:
		iov_from_buf(&h->iov[h->j0], (int)(h->nj - h->j0), 0, nl->bounce, nl->pend_len);
		net_rx_complete(nl, nl->pend_len);
		nl->pend_len = 0;
		return RX_DELIVERED;
	case GATHER_RING_EMPTY:
		/* Keep it and the held chains: popping moved avail_event past them, so the
		 * driver's next buffers kick us. */
		return RX_NO_BUFFERS;
	case GATHER_FULL:
		/* The driver's buffers can never hold it (no MRG_RXBUF and a small buffer); the
		 * held chain waits for the next frame. */
		nl->n->stats[nl->rxq].drops++;
		nl->pend_len = 0;
		return RX_DROPPED;
	case GATHER_BROKEN:
		break;
	}
	return RX_BROKEN;
}

/* With the link down, the next frame is read aside and dropped, or the one read aside before. */
static enum net_rx net_rx_drop(struct net_loop *nl)
{
	struct iovec b = {.iov_base = nl->bounce, .iov_len = NET_RX_MAX};
	ssize_t len;
	if (nl->pend_len) {
		nl->pend_len = 0;
	} else {
		enum net_rx r = net_rx_read(nl, &b, 1, NET_RX_MAX, &len);
		if (r != RX_DELIVERED)
			return r; /* none, or dropped and counted already */
	}
	nl->n->stats[nl->rxq].drops++;
	return RX_DROPPED;
}

/* One frame's worth of work. */
static enum net_rx net_rx_step(struct net_loop *nl)
{
	struct net_rx_held *h = &nl->rx;
	ssize_t len;
	if (virtio_net_link_down(nl->n))
		return net_rx_drop(nl);
	if (!nl->pend_len) {
		enum net_gather g = net_rx_gather(nl, nl->rx_need);
		if (g == GATHER_BROKEN)
			return RX_BROKEN;
		if (g == GATHER_ENOUGH && h->nj - h->j0 <= NET_MAX_IOV) {
			/* The common case: straight into guest memory, one readv. */
			enum net_rx r = net_rx_read(nl, &h->iov[h->j0], (int)(h->nj - h->j0), h->cap, &len);
			if (r == RX_DELIVERED)
				net_rx_complete(nl, (size_t)len);
			return r;
		}
		if (!h->cap)
			return RX_NO_BUFFERS;
		/* The held buffers might not hold the next frame (or are in too many pieces for
		 * one read): read it aside and deliver it once they do. */
		struct iovec b = {.iov_base = nl->bounce, .iov_len = NET_RX_MAX};
		enum net_rx r = net_rx_read(nl, &b, 1, NET_RX_MAX, &len);
		if (r != RX_DELIVERED)
			return r;
		nl->pend_len = (size_t)len;
	}
	return net_rx_deliver_pending(nl);
}

int net_loop_rx(struct net_loop *nl)
{
	struct virtio_net *n = nl->n;
	struct virtq *vq = net_vq(nl, nl->rxq);
	uint16_t used0 = vq->used_idx;
	uint64_t bytes0 = n->stats[nl->rxq].bytes;
	int frames = 0, steps;
	bool broken = false;
	if (nl->rx_starved)
		return 0;
	if (!vq->ready) {
		/* Not set up, or broken until the driver resets us: stop polling the backend, or
		 * its level-triggered readiness would spin the loop. */
		nl->rx_starved = true;
		net_be_update(nl);
		return 0;
	}
	/* Every step costs one, whatever it ended in. */
	for (steps = 0; steps < NET_RX_BUDGET; steps++) {
		enum net_rx r = net_rx_step(nl);
		if (r == RX_DELIVERED || r == RX_DROPPED) {
			frames++;
			if (n->stats[nl->rxq].bytes - bytes0 >= NET_BYTE_BUDGET)
				steps = NET_RX_BUDGET - 1; /* this was the round's last step */
			continue;
		}
		if (r == RX_NO_BUFFERS) {
			/* 2.7.10: ask for a kick, then re-check for buffers that raced it. */
			if (virtq_set_notify(vq, true))
				continue;
			nl->rx_starved = true;
			net_be_update(nl);
		}
		if (r == RX_BROKEN) {
			/* Nothing held is used again: the driver must reset the device. */
			net_rx_forget(nl);
			nl->rx_starved = true;
			net_be_update(nl);
			broken = true;
		}
		break; /* RX_NO_BUFFERS, RX_BACKEND_EMPTY, RX_BROKEN */
	}
	if (vq->used_idx != used0)
		virtio_net_notify(n, nl->rxq);
	if (broken)
		virtio_net_needs_reset(n, nl->rxq);
	else if (steps == NET_RX_BUDGET && nl->be->fd < 0)
		net_come_back(nl, false); /* a backend without an fd (slirp) does not signal again */
	return frames;
}

int net_loop_rx_kick(struct net_loop *nl)
{
	nl->rx_starved = false;
	virtq_set_notify(net_vq(nl, nl->rxq), false);
	net_be_update(nl);
	return net_loop_rx(nl);
}

bool net_loop_rx_starved(const struct net_loop *nl)
{
	return nl->rx_starved;
}

struct net_loop *net_loop_new(struct net_pair *p)
{
	struct virtio_net *n = p->n;
	struct net_loop *nl = calloc(1, sizeof(*nl));
	if (!nl)
		return NULL;
	nl->bounce = malloc(NET_RX_MAX);
	if (!nl->bounce) {
		free(nl);
		return NULL;
	}
	nl->n = n;
	nl->p = p;
	nl->be = &p->be;
	nl->rxq = net_rxq(p->index);
	nl->txq = net_txq(p->index);
	nl->mrg = n->vdev.features & (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	nl->rx_need = net_rx_need(n);
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
	if (net_eventfd_drain(nl, nl->txq))
		net_loop_tx(nl);
}

static void net_on_rx_kick(void *opaque, uint32_t events)
{
	struct net_loop *nl = opaque;
	(void)events;
	if (net_eventfd_drain(nl, nl->rxq))
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
		log_warn("net%d: backend %s hung up", nl->n->index, nl->be->ops->name);
		loop_del(nl->loop, nl->be->fd);
		nl->be_dead = true;
	}
}

static void net_on_rx_ready(void *opaque)
{
	net_loop_rx(opaque);
}

static void net_on_tx_resume(void *opaque)
{
	net_loop_tx(opaque);
}

/* A stop that is no reset (Bus Master off, QMP stop) keeps the queues, and the guest still counts
 * every chain popped and not used as the device's: the next start, with a fresh net_loop, must pop
 * them again or they are lost to the guest for good. So the pops are undone. The held RX chains
 * are the RX queue's last pops, oldest first (frames complete the oldest), and a held TX chain is
 * the TX queue's last pop: rewinding last_avail over them gives back exactly those, in order. A
 * frame read aside for the held chains is dropped (counted), as if lost on the wire. */
static void net_loop_give_back(struct net_loop *nl)
{
	struct net_rx_held *h = &nl->rx;
	virtq_unpop(net_vq(nl, nl->rxq), (uint16_t)(h->nc - h->c0));
	if (nl->pend_len)
		nl->n->stats[nl->rxq].drops++;
	net_rx_forget(nl);
	if (nl->tx_held)
		virtq_unpop(net_vq(nl, nl->txq), 1);
	nl->tx_held = false;
}

static void net_loop_dp_stop(struct net_pair *p)
{
	struct virtio_dev *vdev = &p->n->vdev;
	struct net_loop *nl = p->dp;
	if (nl && nl->loop) {
		loop_defer_cancel(nl->loop, net_on_tx_resume, nl);
		loop_defer_cancel(nl->loop, net_on_rx_ready, nl);
		loop_del(nl->loop, vdev->tops->kick_fd(vdev, nl->txq));
		loop_del(nl->loop, vdev->tops->kick_fd(vdev, nl->rxq));
		if (nl->be_watched)
			loop_del(nl->loop, nl->be->fd);
	}
	if (nl)
		net_loop_give_back(nl);
	net_loop_free(nl);
	p->dp = NULL;
}

/* Puts the backend fd on the loop (or takes it off) with what the queues wait for. */
static int net_be_watch(struct net_loop *nl, bool on)
{
	if (nl->be->fd < 0 || nl->be_dead || on == nl->be_watched)
		return 0;
	if (!on) {
		loop_del(nl->loop, nl->be->fd);
		nl->be_watched = false;
		return 0;
	}
	nl->be_events = (nl->rx_starved ? 0 : EPOLLIN) | (nl->tx_blocked ? EPOLLOUT : 0);
	int err = loop_add(nl->loop, nl->be->fd, nl->be_events, net_on_backend, nl);
	nl->be_watched = !err;
	return err;
}

static void net_loop_dp_attached(struct net_pair *p, bool on)
{
	struct net_loop *nl = p->dp;
	int err = net_be_watch(nl, on);
	if (err)
		log_warn("net%d: cannot watch backend queue %d: %s", p->n->index, p->index, strerror(-err));
}

static int net_loop_dp_start(struct net_pair *p)
{
	struct virtio_net *n = p->n;
	struct virtio_dev *vdev = &n->vdev;
	struct net_loop *nl = net_loop_new(p);
	struct loop *l = p->loop;
	int err = 0;
	if (!nl)
		return -ENOMEM;
	p->dp = nl;
	nl->loop = l;
	if (vdev->vq[nl->txq].ready)
		err = loop_add(l, vdev->tops->kick_fd(vdev, nl->txq), EPOLLIN, net_on_tx_kick, nl);
	if (!err && vdev->vq[nl->rxq].ready)
		err = loop_add(l, vdev->tops->kick_fd(vdev, nl->rxq), EPOLLIN, net_on_rx_kick, nl);
	nl->rx_starved = !vdev->vq[nl->rxq].ready;
	if (!err && p->attached)
		err = net_be_watch(nl, true);
	if (!err && nl->be->ops->attach)
		err = nl->be->ops->attach(nl->be, l, net_on_rx_ready, nl);
	if (err) {
		net_loop_dp_stop(p);
		return err;
	}
	/* RX kicks only matter once we run out of buffers. Chains the driver queued before
	 * DRIVER_OK are the I/O thread's first work: net_start() kicks both queues. */
	virtq_set_notify(&vdev->vq[nl->rxq], false);
	return 0;
}

const struct net_datapath_ops net_loop_datapath = {
    .name = "userspace",
    .start = net_loop_dp_start,
    .stop = net_loop_dp_stop,
    .attached = net_loop_dp_attached,
};
