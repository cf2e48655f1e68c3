/* slirp.h: the `--net user` backend: a user-mode TCP/IP stack (libslirp) behind the NIC.
 *
 * The guest sees a router at opts->host (10.0.2.2), a DNS server at opts->dns (10.0.2.3) that
 * forwards queries to the host's resolvers from /etc/resolv.conf, and a DHCP server leasing from
 * opts->dhcp_start (10.0.2.15). Connections the guest opens become host sockets; 10.0.2.2 reaches
 * the host's loopback. hostfwd rules listen on the host and connect into the guest.
 * Zero addresses in opts mean these defaults (net 10.0.2.0/24); opts->mtu 0 means 1500.
 *
 * Frames are plain Ethernet with valid checksums both ways, so the backend offers no offloads:
 * on send it completes a NEEDS_CSUM checksum and drops GSO frames (counted); on receive it writes
 * a zeroed virtio_net_hdr_v1.
 *
 * Threading: every op, and slirp itself, runs on the one loop given to attach() (the NIC's I/O
 * thread); the backend takes that loop's prepoll, so a loop carries at most one slirp backend.
 * rx_ready is only ever called from that prepoll, never from inside send() or recv(); it is
 * called once per batch of new frames, so a device that could not take them all must call recv()
 * again when the guest posts RX buffers. Close the backend before freeing its loop. */
#ifndef MINIVMM_SLIRP_H
#define MINIVMM_SLIRP_H
#include <stdint.h>

#include "devices/net/net_backend.h"

/* Guest-bound frames waiting for recv(); more are dropped (TCP retransmits) and counted. */
#define SLIRP_RXQ_FRAMES 256

struct slirp_stats {
	uint64_t tx_frames;	   /* handed to slirp */
	uint64_t tx_dropped_short; /* shorter than vnet header + Ethernet header */
	uint64_t tx_dropped_big;   /* longer than 65535 + 14 */
	uint64_t tx_dropped_gso;   /* GSO frames: never negotiated, so a guest bug */
	uint64_t tx_dropped_csum;  /* NEEDS_CSUM with csum_start/offset outside the frame */
	uint64_t rx_frames;	   /* delivered by recv() */
	uint64_t rx_dropped_full;  /* slirp produced a frame while the queue was full */
	uint64_t guest_errors;	   /* malformed guest requests slirp reported */
};

/* Opens a user-mode backend for opts (kind NET_USER) and sets up its hostfwd rules; registered
 * for NET_USER, so net_backend_open() reaches it.
 * 0, -EADDRINUSE when a rule cannot listen (one line naming the rule printed), other -errno. */
int slirp_backend_open(struct net_backend *be, const struct net_opts *opts);

/* Copies the counters of a backend opened by slirp_backend_open(). */
void slirp_backend_stats(const struct net_backend *be, struct slirp_stats *out);
#endif
