/* tcp_ack.h: the guest's half of a TCP stream, for receiving GSO frames in the datapath bench.
 *
 * A GSO frame can only reach a tap whole from the kernel's own TCP (frames an AF_PACKET or tap
 * writer injects are SKB_GSO_DODGY, which tun does not take, so the kernel segments them). So
 * RX of 64 KiB frames is a TCP stream from a socket behind the tap to 10.99.0.2, the "guest",
 * whose side is this: SYN -> SYN-ACK (MSS 1460, window scale 7), data -> an ACK for everything
 * received in order, FIN -> ACK. No retransmission, no timers: the guest never sends data.
 *
 * With verify, each in-order segment's payload is compared with the source's pattern
 * (tcp_ack_byte() of the stream offset) and its vnet header with what the kernel's TSO must give
 * (NEEDS_CSUM at the TCP checksum; GSO_TCPV4 with gso_size = MSS when it is more than one MSS). */
#ifndef MINIVMM_DP_TCP_ACK_H
#define MINIVMM_DP_TCP_ACK_H
#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define TCP_ACK_PORT   5001
#define TCP_ACK_MAX    80	    /* bytes of the longest reply frame */
#define TCP_ACK_MSS    1460	    /* 1500 - IPv4 - TCP: our SYN-ACK offers no timestamps */
#define TCP_ACK_PERIOD (128u << 10) /* the source's pattern repeats every this many bytes */

struct tcp_ack {
	bool verify;
	bool established;
	uint32_t isn;	  /* ours */
	uint32_t irs;	  /* the sender's initial sequence number */
	uint32_t rcv_nxt; /* next byte expected */
	uint64_t data_frames, gso_frames, out_of_order;
	uint64_t bad;
	char why[200];
};

/* The source's byte at stream offset off. */
static inline uint8_t tcp_ack_byte(uint64_t off)
{
	return (uint8_t)(off * 31 + ((off % TCP_ACK_PERIOD) >> 9));
}

/* A received frame (vnet header h, then the frame in iov[0..n) from byte skip of iov[0]; the
 * Ethernet + IP + TCP headers must be in iov[0]). Writes the reply frame to out (TCP_ACK_MAX
 * bytes) and returns its length, or 0 if none is due (not our stream). */
size_t tcp_ack_rx(struct tcp_ack *t, const struct virtio_net_hdr *h, const struct iovec *iov, int n,
		  size_t skip, uint8_t *out);
#endif
