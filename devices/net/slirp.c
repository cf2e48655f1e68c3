/* slirp.c: the `--net user` backend: libslirp driven from the NIC's I/O-thread epoll loop.
 *
 * One round of the loop, and why it is ordered this way (see slirp_prepoll()):
 *   prepoll:  1. slirp_pollfds_poll() with the revents the fd callbacks recorded during the last
 *                wait (slirp reads/writes/accepts its sockets and runs its TCP timers);
 *             2. expired slirp timers fire;
 *             3. rx_ready if slirp queued guest-bound frames since the last signal;
 *             4. slirp_pollfds_fill(): slirp names the fds it wants and the longest it may sleep;
 *             5. the epoll set is brought in line with that list (one watch per fd).
 *   wait:     epoll_wait; each fd callback only records its events, it never calls slirp.
 *   callbacks of other fds (e.g. the device's TX kick -> send() -> slirp_input()).
 * The fill is the last thing before the wait, so the wait always sees the fd set and the timeout
 * left by every slirp call so far, including send()s made by callbacks of the previous round.
 * epoll is level-triggered, so an fd that fired is reported again until slirp acts on it; slirp
 * acts on it in step 1 of the very next round, then stops asking for events it cannot take (a
 * full socket buffer drops POLLIN from its list), and a watch it no longer names is deleted.
 * Hence no 0 ms wait when idle: the timeout is slirp's own (at most 1 s, 2 ms while a delayed
 * ACK is pending) or the next timer's.
 * A socket slirp creates between fill and poll (slirp_input() of a SYN) has no poll index yet and
 * gets no revents; one it closes is unregistered (unregister_poll_fd) before the close, so its fd
 * number can be reused safely. */
#include "devices/net/slirp.h"

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <linux/virtio_net.h>
#include <slirp/libslirp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "vmm/config.h"
#include "vmm/iov.h"
#include "vmm/log.h"
#include "vmm/loop.h"

#define SLIRP_HDR_LEN	  sizeof(struct virtio_net_hdr_v1)
#define SLIRP_ETH_HLEN	  14
#define SLIRP_FRAME_MAX	  (65535 + SLIRP_ETH_HLEN)
#define SLIRP_TIMER_BURST 64 /* timers fired per round at most, against a re-arm-in-the-past loop */

struct slirp_timer {
	SlirpTimerCb cb;
	void *cb_opaque;
	bool armed;
	int64_t expire_ms; /* CLOCK_MONOTONIC */
	struct slirp_timer *next;
};

/* One fd on the loop; the loop callback's opaque. */
struct slirp_watch {
	struct slirp_be *sb;
	int fd;
	bool on_loop;	  /* registered with the loop */
	uint32_t events;  /* as registered */
	uint32_t want;	  /* union of what this round's fill asked for */
	uint32_t revents; /* seen since the last slirp_pollfds_poll() */
	uint64_t round;	  /* last round whose fill named this fd */
};

struct slirp_pollfd {
	int fd;
	int events; /* SLIRP_POLL_* */
};

struct slirp_frame {
	size_t len;
	uint8_t data[];
};

struct slirp_be {
	Slirp *slirp;
	struct loop *loop;
	void (*rx_ready)(void *);
	void *rx_opaque;
	bool rx_signal; /* frames queued since rx_ready was last called */

	/* Guest-bound frames, a ring. */
	struct slirp_frame *rxq[SLIRP_RXQ_FRAMES];
	unsigned rxq_head, rxq_count;

	struct slirp_timer *timers;

	/* The latest fill: slirp's poll index -> fd. */
	struct slirp_pollfd *pfds;
	int npfds, cap_pfds;
	bool filled; /* a fill is waiting for its poll */
	uint64_t round;

	/* Watches indexed by fd. */
	struct slirp_watch **byfd;
	int nbyfd;

	struct slirp_stats stats;
	uint8_t txbuf[SLIRP_FRAME_MAX];
};

/* ---- slirp callbacks ---- */

static ssize_t slirp_cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct slirp_be *sb = opaque;
	/* slirp's contract: a guest that cannot take a frame just loses it, TCP retransmits. */
	if (sb->rxq_count == SLIRP_RXQ_FRAMES || len > SLIRP_FRAME_MAX) {
		sb->stats.rx_dropped_full++;
		return (ssize_t)len;
	}
	struct slirp_frame *f = malloc(sizeof(*f) + len);
	if (!f) {
		sb->stats.rx_dropped_full++;
		return (ssize_t)len;
	}
	f->len = len;
	memcpy(f->data, buf, len);
	sb->rxq[(sb->rxq_head + sb->rxq_count) % SLIRP_RXQ_FRAMES] = f;
	sb->rxq_count++;
	sb->rx_signal = true;
	return (ssize_t)len;
}

/* Guest misbehaviour slirp noticed (bad DHCP, bad TFTP...): counted, never printed, so a guest
 * cannot flood the VMM's stderr. */
static void slirp_cb_guest_error(const char *msg, void *opaque)
{
	(void)msg;
	struct slirp_be *sb = opaque;
	sb->stats.guest_errors++;
}

static int64_t slirp_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t slirp_cb_clock_get_ns(void *opaque)
{
	(void)opaque;
	return slirp_now_ns();
}

static void *slirp_cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct slirp_be *sb = opaque;
	struct slirp_timer *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cb = cb;
	t->cb_opaque = cb_opaque;
	t->next = sb->timers;
	sb->timers = t;
	return t;
}

static void slirp_cb_timer_free(void *timer, void *opaque)
{
	struct slirp_be *sb = opaque;
	for (struct slirp_timer **p = &sb->timers; *p; p = &(*p)->next) {
		if (*p == timer) {
			*p = (*p)->next;
			free(timer);
			return;
		}
	}
}

/* expire_time is in ms on clock_get_ns()'s clock. */
static void slirp_cb_timer_mod(void *timer, int64_t expire_time, void *opaque)
{
	(void)opaque;
	struct slirp_timer *t = timer;
	t->armed = true;
	t->expire_ms = expire_time;
}

/* The fd set is learnt from slirp_pollfds_fill() every round, so registration needs nothing. */
static void slirp_cb_register_poll_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
}

static void slirp_watch_drop(struct slirp_be *sb, int fd)
{
	if (fd < 0 || fd >= sb->nbyfd || !sb->byfd[fd])
		return;
	if (sb->loop && sb->byfd[fd]->on_loop)
		loop_del(sb->loop, fd);
	free(sb->byfd[fd]);
	sb->byfd[fd] = NULL;
}

/* Called before slirp closes fd: forget the watch now, the number may be reused at once. */
static void slirp_cb_unregister_poll_fd(int fd, void *opaque)
{
	slirp_watch_drop(opaque, fd);
}

/* slirp can take more data: every slirp call runs on the loop's thread, and the loop refills
 * slirp's wishes before each wait, so there is nobody to wake. */
static void slirp_cb_notify(void *opaque)
{
	(void)opaque;
}

static const SlirpCb slirp_callbacks = {
    .send_packet = slirp_cb_send_packet,
    .guest_error = slirp_cb_guest_error,
    .clock_get_ns = slirp_cb_clock_get_ns,
    .timer_new = slirp_cb_timer_new,
    .timer_free = slirp_cb_timer_free,
    .timer_mod = slirp_cb_timer_mod,
    .register_poll_fd = slirp_cb_register_poll_fd,
    .unregister_poll_fd = slirp_cb_unregister_poll_fd,
    .notify = slirp_cb_notify,
};

/* ---- the loop side ---- */

/* SLIRP_POLL_* and the epoll bits they stand for. */
static const struct {
	int slirp;
	uint32_t epoll;
} slirp_poll_bits[] = {
    {SLIRP_POLL_IN, EPOLLIN},	{SLIRP_POLL_OUT, EPOLLOUT}, {SLIRP_POLL_PRI, EPOLLPRI},
    {SLIRP_POLL_ERR, EPOLLERR}, {SLIRP_POLL_HUP, EPOLLHUP},
};

static uint32_t slirp_to_epoll(int ev)
{
	uint32_t e = 0;
	for (size_t i = 0; i < sizeof(slirp_poll_bits) / sizeof(slirp_poll_bits[0]); i++)
		if (ev & slirp_poll_bits[i].slirp)
			e |= slirp_poll_bits[i].epoll;
	return e & ~(uint32_t)(EPOLLERR | EPOLLHUP); /* always reported: not ours to ask for */
}

static int slirp_from_epoll(uint32_t e)
{
	int ev = 0;
	for (size_t i = 0; i < sizeof(slirp_poll_bits) / sizeof(slirp_poll_bits[0]); i++)
		if (e & slirp_poll_bits[i].epoll)
			ev |= slirp_poll_bits[i].slirp;
	return ev;
}

static int slirp_add_poll(int fd, int events, void *opaque)
{
	struct slirp_be *sb = opaque;
	if (sb->npfds == sb->cap_pfds) {
		int cap = sb->cap_pfds ? 2 * sb->cap_pfds : 32;
		struct slirp_pollfd *p = realloc(sb->pfds, (size_t)cap * sizeof(*p));
		if (!p)
			return -1; /* slirp treats -1 as "not polled this round" */
		sb->pfds = p;
		sb->cap_pfds = cap;
	}
	sb->pfds[sb->npfds] = (struct slirp_pollfd){.fd = fd, .events = events};
	return sb->npfds++;
}

static int slirp_get_revents(int idx, void *opaque)
{
	struct slirp_be *sb = opaque;
	if (idx < 0 || idx >= sb->npfds)
		return 0;
	int fd = sb->pfds[idx].fd;
	if (fd >= sb->nbyfd || !sb->byfd[fd])
		return 0; /* closed (and unregistered) since the fill */
	return slirp_from_epoll(sb->byfd[fd]->revents);
}

/* Loop callback: only records; slirp hears about it in the next prepoll. */
static void slirp_fd_event(void *opaque, uint32_t events)
{
	struct slirp_watch *w = opaque;
	w->revents |= events;
}

static struct slirp_watch *slirp_watch_get(struct slirp_be *sb, int fd)
{
	if (fd >= sb->nbyfd) {
		int n = sb->nbyfd ? sb->nbyfd : 64;
		while (n <= fd)
			n *= 2;
		struct slirp_watch **p = realloc(sb->byfd, (size_t)n * sizeof(*p));
		if (!p)
			return NULL;
		memset(p + sb->nbyfd, 0, (size_t)(n - sb->nbyfd) * sizeof(*p));
		sb->byfd = p;
		sb->nbyfd = n;
	}
	if (!sb->byfd[fd]) {
		struct slirp_watch *w = calloc(1, sizeof(*w));
		if (!w)
			return NULL;
		w->sb = sb;
		w->fd = fd;
		sb->byfd[fd] = w;
	}
	return sb->byfd[fd];
}

/* Brings the loop's watches in line with the latest fill: one watch per fd, events = the union
 * of what slirp asked for it, fds slirp no longer names deleted. */
static void slirp_watches_sync(struct slirp_be *sb)
{
	sb->round++;
	for (int i = 0; i < sb->npfds; i++) {
		struct slirp_watch *w = slirp_watch_get(sb, sb->pfds[i].fd);
		if (!w)
			continue; /* out of memory: not polled this round */
		if (w->round != sb->round) {
			w->round = sb->round;
			w->want = 0;
		}
		w->want |= slirp_to_epoll(sb->pfds[i].events);
	}
	for (int fd = 0; fd < sb->nbyfd; fd++) {
		struct slirp_watch *w = sb->byfd[fd];
		if (!w)
			continue;
		if (w->round != sb->round) {
			slirp_watch_drop(sb, fd);
			continue;
		}
		if (w->on_loop && w->events == w->want)
			continue;
		/* A want of 0 still registers: epoll then reports only ERR/HUP, as poll() would. */
		int err = loop_add(sb->loop, fd, w->want, slirp_fd_event, w);
		if (err == -ENOENT) {
			/* The fd was closed without unregister and reused: start afresh. */
			loop_del(sb->loop, fd);
			err = loop_add(sb->loop, fd, w->want, slirp_fd_event, w);
		}
		if (err < 0) {
			log_warn("user net: cannot watch fd %d: %s", fd, strerror(-err));
			loop_del(sb->loop, fd);
			w->on_loop = false;
			continue;
		}
		w->on_loop = true;
		w->events = w->want;
	}
}

/* Fires expired timers; returns ms until the next one, -1 if none. */
static int slirp_timers_run(struct slirp_be *sb)
{
	int64_t now = slirp_now_ns() / 1000000;
	for (int n = 0; n < SLIRP_TIMER_BURST; n++) {
		struct slirp_timer *t = sb->timers;
		while (t && !(t->armed && t->expire_ms <= now))
			t = t->next;
		if (!t)
			break;
		t->armed = false;
		t->cb(t->cb_opaque); /* may mod or free any timer: rescan */
	}
	int64_t next = -1;
	for (struct slirp_timer *t = sb->timers; t; t = t->next) {
		if (!t->armed)
			continue;
		int64_t d = t->expire_ms > now ? t->expire_ms - now : 0;
		if (next < 0 || d < next)
			next = d;
	}
	return next > INT_MAX ? INT_MAX : (int)next;
}

static int slirp_prepoll(void *opaque)
{
	struct slirp_be *sb = opaque;

	if (sb->filled) {
		slirp_pollfds_poll(sb->slirp, 0, slirp_get_revents, sb);
		for (int fd = 0; fd < sb->nbyfd; fd++)
			if (sb->byfd[fd])
				sb->byfd[fd]->revents = 0;
	}
	int timeout = slirp_timers_run(sb);

	if (sb->rx_signal && sb->rx_ready) {
		sb->rx_signal = false;
		sb->rx_ready(sb->rx_opaque);
	}

	uint32_t t = UINT32_MAX;
	sb->npfds = 0;
	slirp_pollfds_fill(sb->slirp, &t, slirp_add_poll, sb);
	sb->filled = true;
	slirp_watches_sync(sb);

	if (t != UINT32_MAX) {
		int st = t > INT_MAX ? INT_MAX : (int)t;
		if (timeout < 0 || st < timeout)
			timeout = st;
	}
	return timeout;
}

/* ---- net_backend_ops ---- */

/* 5.1.6.2: the field at csum_start + csum_offset holds the pseudo-header sum; the device (here
 * the backend) sums from csum_start to the end and stores the complement there. */
static void slirp_csum_complete(uint8_t *f, size_t len, size_t start, size_t off)
{
	uint32_t sum = 0;
	size_t i = start;
	for (; i + 1 < len; i += 2)
		sum += (uint32_t)f[i] << 8 | f[i + 1];
	if (i < len)
		sum += (uint32_t)f[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	uint16_t c = (uint16_t)~sum;
	f[start + off] = c >> 8;
	f[start + off + 1] = c & 0xff;
}

static ssize_t slirp_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	struct slirp_be *sb = be->priv;
	size_t total = iov_size(iov, iovcnt);
	if (total < SLIRP_HDR_LEN + SLIRP_ETH_HLEN) {
		sb->stats.tx_dropped_short++;
		return -EINVAL;
	}
	size_t len = total - SLIRP_HDR_LEN;
	if (len > SLIRP_FRAME_MAX) {
		sb->stats.tx_dropped_big++;
		return -EMSGSIZE;
	}
	struct virtio_net_hdr_v1 hdr;
	iov_to_buf(iov, iovcnt, 0, &hdr, sizeof(hdr));
	/* offload_features() is 0, so no GSO was negotiated: a GSO frame is a guest bug. */
	if (hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		sb->stats.tx_dropped_gso++;
		return -EINVAL;
	}
	iov_to_buf(iov, iovcnt, SLIRP_HDR_LEN, sb->txbuf, len);
	if (hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		size_t start = le16toh(hdr.csum_start), off = le16toh(hdr.csum_offset);
		if (start + off + 2 > len) {
			sb->stats.tx_dropped_csum++;
			return -EINVAL;
		}
		slirp_csum_complete(sb->txbuf, len, start, off);
	}
	sb->stats.tx_frames++;
	slirp_input(sb->slirp, sb->txbuf, (int)len);
	return (ssize_t)total;
}

static ssize_t slirp_recv(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	struct slirp_be *sb = be->priv;
	if (!sb->rxq_count)
		return -EAGAIN;
	struct slirp_frame *f = sb->rxq[sb->rxq_head];
	sb->rxq_head = (sb->rxq_head + 1) % SLIRP_RXQ_FRAMES;
	sb->rxq_count--;
	size_t total = SLIRP_HDR_LEN + f->len;
	if (iov_size(iov, iovcnt) < total) {
		/* The caller promised room for any frame; never hand over a truncated one. */
		free(f);
		sb->stats.rx_dropped_full++;
		return -EMSGSIZE;
	}
	/* num_buffers is the device's to fill; every other field 0: no offloads, checksums valid. */
	static const struct virtio_net_hdr_v1 zero;
	iov_from_buf(iov, iovcnt, 0, &zero, sizeof(zero));
	iov_from_buf(iov, iovcnt, SLIRP_HDR_LEN, f->data, f->len);
	free(f);
	sb->stats.rx_frames++;
	return (ssize_t)total;
}

static int slirp_set_offloads(struct net_backend *be, uint64_t guest_features)
{
	(void)be;
	(void)guest_features;
	return 0;
}

/* slirp takes and makes plain frames with valid checksums: nothing to offer. */
static uint64_t slirp_offload_features(struct net_backend *be)
{
	(void)be;
	return 0;
}

static int slirp_attach(struct net_backend *be, struct loop *l, void (*rx_ready)(void *), void *opaque)
{
	struct slirp_be *sb = be->priv;
	if (sb->loop && sb->loop != l)
		return -EBUSY;
	sb->loop = l;
	sb->rx_ready = rx_ready;
	sb->rx_opaque = opaque;
	loop_set_prepoll(l, slirp_prepoll, sb);
	return 0;
}

static void slirp_close(struct net_backend *be)
{
	struct slirp_be *sb = be->priv;
	if (!sb)
		return;
	if (sb->loop)
		loop_set_prepoll(sb->loop, NULL, NULL);
	if (sb->slirp)
		slirp_cleanup(sb->slirp); /* unregisters its fds, frees its timers */
	for (int fd = 0; fd < sb->nbyfd; fd++)
		slirp_watch_drop(sb, fd);
	while (sb->timers) {
		struct slirp_timer *t = sb->timers;
		sb->timers = t->next;
		free(t);
	}
	for (; sb->rxq_count; sb->rxq_count--) {
		free(sb->rxq[sb->rxq_head]);
		sb->rxq_head = (sb->rxq_head + 1) % SLIRP_RXQ_FRAMES;
	}
	free(sb->byfd);
	free(sb->pfds);
	free(sb);
	be->priv = NULL;
}

static const struct net_backend_ops slirp_ops = {
    .name = "user",
    .send = slirp_send,
    .recv = slirp_recv,
    .set_offloads = slirp_set_offloads,
    .offload_features = slirp_offload_features,
    .attach = slirp_attach,
    .close = slirp_close,
};

/* ---- setup ---- */

static struct in_addr slirp_addr_or(struct in_addr a, struct in_addr net, uint32_t host)
{
	if (a.s_addr)
		return a;
	return (struct in_addr){.s_addr = htonl(ntohl(net.s_addr) | host)};
}

static int slirp_hostfwd_add(struct slirp_be *sb, const struct hostfwd *r, struct in_addr guest)
{
	struct in_addr ga = r->guest_addr.s_addr ? r->guest_addr : guest;
	if (slirp_add_hostfwd(sb->slirp, r->udp, r->host_addr, r->host_port, ga, r->guest_port) == 0)
		return 0;
	char h[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &r->host_addr, h, sizeof(h));
	inet_ntop(AF_INET, &ga, g, sizeof(g));
	log_err("hostfwd %s:%s:%u-%s:%u: cannot listen on the host port (already in use?)",
		r->udp ? "udp" : "tcp", h, r->host_port, g, r->guest_port);
	return -EADDRINUSE;
}

int slirp_backend_open(struct net_backend *be, const struct net_opts *opts)
{
	struct slirp_be *sb = calloc(1, sizeof(*sb));
	if (!sb)
		return -ENOMEM;

	SlirpConfig cfg = {.version = 4};
	cfg.restricted = 0;
	cfg.in_enabled = true;
	cfg.vnetwork = opts->net;
	if (!cfg.vnetwork.s_addr)
		cfg.vnetwork.s_addr = htonl(0x0a000200); /* 10.0.2.0 */
	cfg.vnetmask = opts->mask;
	if (!cfg.vnetmask.s_addr)
		cfg.vnetmask.s_addr = htonl(0xffffff00);
	cfg.vhost = slirp_addr_or(opts->host, cfg.vnetwork, 2);
	cfg.vnameserver = slirp_addr_or(opts->dns, cfg.vnetwork, 3);
	cfg.vdhcp_start = slirp_addr_or(opts->dhcp_start, cfg.vnetwork, 15);
	cfg.in6_enabled = false;
	cfg.if_mtu = opts->mtu ? opts->mtu : 1500;
	cfg.if_mru = cfg.if_mtu;

	sb->slirp = slirp_new(&cfg, &slirp_callbacks, sb);
	if (!sb->slirp) {
		free(sb);
		log_err("--net user: libslirp rejected the network configuration");
		return -EINVAL;
	}
	be->ops = &slirp_ops;
	be->fd = -1;
	be->priv = sb;
	for (int i = 0; i < opts->nfwd; i++) {
		int err = slirp_hostfwd_add(sb, &opts->fwd[i], cfg.vdhcp_start);
		if (err < 0) {
			slirp_close(be);
			be->ops = NULL;
			return err;
		}
	}
	return 0;
}

NET_BACKEND_REGISTER(user, NET_USER, slirp_backend_open);

void slirp_backend_stats(const struct net_backend *be, struct slirp_stats *out)
{
	const struct slirp_be *sb = be->priv;
	*out = sb->stats;
}
