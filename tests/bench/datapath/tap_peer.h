/* tap_peer.h: the kernel's side of the datapath bench's tap: a private network namespace, a
 * persistent tap in it, and AF_PACKET sockets on that tap that sink what the guest sends and
 * source what it receives.
 *
 * tap_peer_netns() moves the whole process into a new network namespace (call it before any
 * thread exists): the tap, its sockets and anything the kernel says on them stay private, and
 * vanish with the process. IPv6 is off there, so the kernel sends nothing on the tap by itself.
 *
 * The tap is persistent, so the device under test (tap.c opens it by name, as minivmm does) and
 * the bare readv/writev ceiling loop can take turns on it while the sockets stay bound. The sink
 * is an AF_PACKET socket with PACKET_VNET_HDR: the test reads each frame with the vnet header the
 * kernel kept; the bench only counts (PACKET_STATISTICS) and lets the socket overflow. The source
 * sends frames with a vnet header (PACKET_VNET_HDR, so GSO frames stay whole) straight to the
 * tap's queue (PACKET_QDISC_BYPASS), in batches of sendmmsg(), paced by a credit window. */
#ifndef MINIVMM_DP_TAP_PEER_H
#define MINIVMM_DP_TAP_PEER_H
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "tests/bench/datapath/credit.h"

struct tap_peer {
	char ifname[IFNAMSIZ];
	int ifindex;
	int sink;   /* AF_PACKET, PACKET_VNET_HDR, incoming frames only */
	int source; /* AF_PACKET, PACKET_VNET_HDR, PACKET_QDISC_BYPASS */
};

/* unshare(CLONE_NEWNET) for this process, IPv6 off by default in it. 0 or -errno. */
int tap_peer_netns(void);
/* Creates the persistent tap `ifname` (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR), brings it up and
 * binds the sockets; sink_bytes > 0 sizes the sink's receive buffer (a reader that must miss
 * nothing), 0 keeps the default (a counter that overflows at once, so every run sees the same
 * steady state). 0 or -errno (one line printed). */
int tap_peer_create(struct tap_peer *p, const char *ifname, int sink_bytes);
/* Removes the tap (persistence off) and closes the sockets. */
void tap_peer_destroy(struct tap_peer *p);

/* An fd on the tap as tap.c opens one (non-blocking, 12-byte vnet header) with the given
 * TUN_F_* receive offloads: the ceiling loop's. -errno if the device holds it. */
int tap_peer_open(const struct tap_peer *p, unsigned int tun_offloads);

/* Frames the sink saw (queued or dropped for lack of room) since the last call. */
uint64_t tap_peer_sink_count(const struct tap_peer *p);

/* The source: sends frames of `len` bytes numbered from 0 until stopped (credit_stop()) or
 * `limit` (0: none) were sent; each takes one credit. verify builds every frame's whole content
 * (else only its number changes). Runs on a thread of its own: tap_peer_source_main(src). */
struct tap_source {
	const struct tap_peer *peer;
	uint32_t len;
	bool verify;
	uint64_t limit;
	struct credit *credit;
	uint64_t sent; /* frames the kernel accepted (read after join, or atomically) */
	uint64_t errors;
	int err; /* first sendmmsg() errno */
};
void *tap_peer_source_main(void *src);

/* The TCP source (RX of GSO frames, tcp_ack.h): the tap has 10.99.0.1/24 and a permanent
 * neighbour 10.99.0.2 (the guest, DP_GUEST_MAC); this connects there (port TCP_ACK_PORT) and
 * sends tcp_ack_byte() of the stream offset until tap_peer_tcp_stop(); after joining the thread,
 * tap_peer_tcp_done() closes the socket. */
struct tcp_source {
	uint64_t sent; /* bytes the socket took */
	int fd;	       /* -1 until created */
	bool stop;
	int err;
};
void tap_peer_tcp_init(struct tcp_source *src);
void *tap_peer_tcp_main(void *src);
void tap_peer_tcp_stop(struct tcp_source *src);
void tap_peer_tcp_done(struct tcp_source *src);
#endif
