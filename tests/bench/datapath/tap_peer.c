/* tap_peer.c: the tap, its namespace and the kernel-side sockets of the datapath bench
 * (tap_peer.h). */
#include "tests/bench/datapath/tap_peer.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <arpa/inet.h>
#include <net/ethernet.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/bench/datapath/dp_frame.h"
#include "tests/bench/datapath/tcp_ack.h"

static void write_proc(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return; /* no IPv6 in this kernel: nothing to turn off */
	if (write(fd, val, strlen(val)) < 0) {
		/* Best effort, as above. */
	}
	close(fd);
}

int tap_peer_netns(void)
{
	if (unshare(CLONE_NEWNET) < 0) {
		int err = -errno;
		fprintf(stderr, "datapath: cannot create a network namespace: %s\n", strerror(errno));
		return err;
	}
	write_proc("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	write_proc("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	return 0;
}

static int tun_open(const char *ifname, bool persist_only)
{
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct ifreq ifr = {0};
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	int hdr = DP_HDR_LEN;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || (!persist_only && ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0)) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int tap_peer_open(const struct tap_peer *p, unsigned int tun_offloads)
{
	int fd = tun_open(p->ifname, false);
	if (fd >= 0 && ioctl(fd, TUNSETOFFLOAD, tun_offloads) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int packet_socket(const struct tap_peer *p, bool source, int sink_bytes)
{
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, source ? 0 : htons(ETH_P_ALL));
	if (s < 0)
		return -errno;
	int one = 1, big = 64 << 20;
	if (sink_bytes > 0)
		big = sink_bytes;
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
				  .sll_protocol = source ? 0 : htons(ETH_P_ALL),
				  .sll_ifindex = p->ifindex};
	if (setsockopt(s, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0 ||
	    (source && setsockopt(s, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0) ||
	    (!source && sink_bytes > 0 && setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0) ||
	    (source && setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) < 0) ||
	    bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		int err = -errno;
		close(s);
		return err;
	}
	if (!source) {
		/* Frames the guest sent only: not what the host itself sends on the tap. */
		if (setsockopt(s, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0) {
			int err = -errno;
			close(s);
			return err;
		}
	}
	return s;
}

int tap_peer_create(struct tap_peer *p, const char *ifname, int sink_bytes)
{
	memset(p, 0, sizeof(*p));
	p->sink = p->source = -1;
	strncpy(p->ifname, ifname, IFNAMSIZ - 1);
	const char *step = "/dev/net/tun";
	int err, fd = tun_open(ifname, true);
	if (fd < 0) {
		err = fd;
		goto fail;
	}
	step = "TUNSETPERSIST";
	err = ioctl(fd, TUNSETPERSIST, 1) < 0 ? -errno : 0;
	close(fd);
	if (err)
		goto fail;
	p->ifindex = (int)if_nametoindex(ifname);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {0};
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	step = "link up";
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0)) {
		err = -errno;
		if (s >= 0)
			close(s);
		goto fail;
	}
	/* The TCP source's route and neighbour: 10.99.0.1/24 here, the guest at 10.99.0.2. */
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0x0a630001);
	step = "address";
	if (ioctl(s, SIOCSIFADDR, &ifr) < 0) {
		err = -errno;
		close(s);
		goto fail;
	}
	sin->sin_addr.s_addr = htonl(0xffffff00);
	if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0) {
		err = -errno;
		close(s);
		goto fail;
	}
	struct arpreq arp = {0};
	struct sockaddr_in *pa = (struct sockaddr_in *)&arp.arp_pa;
	static const uint8_t guest_mac[6] = {0x02, 0xdd, 0, 0, 0, 0x02};
	pa->sin_family = AF_INET;
	pa->sin_addr.s_addr = htonl(0x0a630002);
	arp.arp_ha.sa_family = ARPHRD_ETHER;
	memcpy(arp.arp_ha.sa_data, guest_mac, 6);
	arp.arp_flags = ATF_PERM | ATF_COM;
	strncpy(arp.arp_dev, ifname, sizeof(arp.arp_dev) - 1);
	step = "neighbour";
	if (ioctl(s, SIOCSARP, &arp) < 0) {
		err = -errno;
		close(s);
		goto fail;
	}
	close(s);
	step = "AF_PACKET sink";
	if ((p->sink = packet_socket(p, false, sink_bytes)) < 0) {
		err = p->sink;
		goto fail;
	}
	step = "AF_PACKET source";
	if ((p->source = packet_socket(p, true, 0)) < 0) {
		err = p->source;
		goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "datapath: tap %s: %s: %s\n", ifname, step, strerror(-err));
	tap_peer_destroy(p);
	return err;
}

void tap_peer_destroy(struct tap_peer *p)
{
	if (p->sink >= 0)
		close(p->sink);
	if (p->source >= 0)
		close(p->source);
	p->sink = p->source = -1;
	if (!p->ifname[0])
		return;
	int fd = tun_open(p->ifname, true);
	if (fd >= 0) {
		if (ioctl(fd, TUNSETPERSIST, 0) < 0) {
			/* The namespace goes away with the process, and the tap with it. */
		}
		close(fd);
	}
	p->ifname[0] = 0;
}

uint64_t tap_peer_sink_count(const struct tap_peer *p)
{
	struct tpacket_stats st = {0};
	socklen_t len = sizeof(st);
	if (getsockopt(p->sink, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
		return 0;
	/* tp_packets already includes tp_drops. */
	return st.tp_packets;
}

#define SRC_BATCH 32

void *tap_peer_source_main(void *opaque)
{
	struct tap_source *src = opaque;
	uint32_t len = src->len;
	struct virtio_net_hdr vh[SRC_BATCH];
	struct iovec iov[SRC_BATCH][2];
	struct mmsghdr msg[SRC_BATCH];
	uint8_t *frames = malloc((size_t)SRC_BATCH * len);
	if (!frames) {
		src->err = ENOMEM;
		return NULL;
	}
	struct virtio_net_hdr_v1 h1;
	dp_frame_hdr(len, &h1);
	for (int i = 0; i < SRC_BATCH; i++) {
		memcpy(&vh[i], &h1, sizeof(vh[i]));
		dp_frame_build(frames + (size_t)i * len, len, 0, len);
		iov[i][0] = (struct iovec){&vh[i], sizeof(vh[i])};
		iov[i][1] = (struct iovec){frames + (size_t)i * len, len};
		memset(&msg[i], 0, sizeof(msg[i]));
		msg[i].msg_hdr.msg_iov = iov[i];
		msg[i].msg_hdr.msg_iovlen = 2;
	}
	uint64_t seq = 0;
	for (;;) {
		uint32_t n = SRC_BATCH;
		if (src->limit && src->limit - seq < n)
			n = (uint32_t)(src->limit - seq);
		if (n == 0 || !credit_take(src->credit, n))
			break;
		for (uint32_t i = 0; i < n; i++) {
			uint8_t *f = frames + (size_t)i * len;
			if (src->verify)
				dp_frame_build(f, len, (uint32_t)(seq + i), len);
			else
				dp_frame_set_seq(f, (uint32_t)(seq + i));
		}
		uint32_t done = 0;
		while (done < n) {
			int r = sendmmsg(src->peer->source, msg + done, n - done, 0);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				if (!src->err)
					src->err = errno;
				/* Not sent: give the credit back so the window does not shrink. */
				src->errors += n - done;
				credit_return(src->credit, n - done);
				break;
			}
			done += (uint32_t)r;
		}
		__atomic_add_fetch(&src->sent, done, __ATOMIC_RELAXED);
		seq += n;
	}
	free(frames);
	return NULL;
}

void tap_peer_tcp_init(struct tcp_source *src)
{
	*src = (struct tcp_source){.fd = -1};
}

void *tap_peer_tcp_main(void *opaque)
{
	struct tcp_source *src = opaque;
	uint8_t *buf = malloc(TCP_ACK_PERIOD);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!buf || s < 0) {
		src->err = buf ? errno : ENOMEM;
		free(buf);
		if (s >= 0)
			close(s);
		return NULL;
	}
	for (uint32_t i = 0; i < TCP_ACK_PERIOD; i++)
		buf[i] = tcp_ack_byte(i);
	__atomic_store_n(&src->fd, s, __ATOMIC_SEQ_CST);
	struct sockaddr_in to = {
	    .sin_family = AF_INET, .sin_port = htons(TCP_ACK_PORT), .sin_addr.s_addr = htonl(0x0a630002)};
	if (__atomic_load_n(&src->stop, __ATOMIC_SEQ_CST) ||
	    connect(s, (struct sockaddr *)&to, sizeof(to)) < 0) {
		if (!__atomic_load_n(&src->stop, __ATOMIC_SEQ_CST))
			src->err = errno;
		goto out;
	}
	uint64_t off = 0;
	while (!__atomic_load_n(&src->stop, __ATOMIC_ACQUIRE)) {
		uint32_t at = (uint32_t)(off % TCP_ACK_PERIOD);
		ssize_t r = send(s, buf + at, TCP_ACK_PERIOD - at, MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (!__atomic_load_n(&src->stop, __ATOMIC_SEQ_CST))
				src->err = errno;
			break;
		}
		off += (uint64_t)r;
		__atomic_store_n(&src->sent, off, __ATOMIC_RELAXED);
	}
out:
	free(buf);
	return NULL;
}

void tap_peer_tcp_stop(struct tcp_source *src)
{
	__atomic_store_n(&src->stop, true, __ATOMIC_SEQ_CST);
	int fd = __atomic_load_n(&src->fd, __ATOMIC_SEQ_CST);
	/* Ends a blocked connect() or send(); the socket stays open until tap_peer_tcp_done(). */
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

void tap_peer_tcp_done(struct tcp_source *src)
{
	/* A reset, not a FIN the kernel would retransmit into later runs. */
	struct linger l = {.l_onoff = 1, .l_linger = 0};
	if (src->fd >= 0) {
		setsockopt(src->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		close(src->fd);
	}
	src->fd = -1;
}
