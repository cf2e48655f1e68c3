/* dp_frame.h: the frames the datapath bench and its test move, and the vnet header a Linux guest
 * puts in front of each.
 *
 * A frame of `len` bytes (Ethernet header included, no FCS, no vnet header) is IPv4/UDP up to
 * 1514 bytes and one IPv4/TCP GSO frame above that (gso_size 1448, as TCP sends it with TSO),
 * both with a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM), as Linux sends them with CSUM and
 * TSO negotiated. The destination MAC is nobody's, so the kernel behind the tap drops what the
 * guest sends right after the packet taps, and the cost measured is the datapath's.
 *
 * Content: the headers, then a 4-byte sequence number and a 4-byte magic at byte DP_SEQ_OFF,
 * then a pattern. Up to DP_LINEAR the pattern depends on the sequence number; beyond it (the
 * page frags of a GSO frame, which the bench's driver shares between frames) it depends on the
 * offset only. dp_frame_check() compares a received frame with what was sent, byte for byte. */
#ifndef MINIVMM_DP_FRAME_H
#define MINIVMM_DP_FRAME_H
#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define DP_HDR_LEN  ((uint32_t)sizeof(struct virtio_net_hdr_v1)) /* 12 */
#define DP_MIN_LEN  64u
#define DP_MAX_LEN  65536u
#define DP_GSO_MIN  1515u /* from here on a frame is a TCP GSO frame */
#define DP_GSO_SIZE 1448u
#define DP_LINEAR   128u /* frame bytes in a GSO frame's head (Linux's skb linear part) */
#define DP_PAGE	    4096u
/* A GSO frame's tail comes in frags of this size: TCP copies what it sends into 32 KiB page frags
 * (sk_page_frag) and grows the skb's last frag while the copy is contiguous. */
#define DP_TX_FRAG 32768u
#define DP_SEQ_OFF 54u /* after Ethernet + IPv4 + TCP (UDP frames keep the same offset) */
#define DP_MAGIC   0x6d76646bu

/* The Internet checksum (RFC 1071): add bytes to a running sum, then fold it (not inverted). */
uint32_t dp_csum_add(uint32_t sum, const uint8_t *p, size_t n);
uint16_t dp_csum_fold(uint32_t sum);

/* The vnet header sent with a frame of len bytes (num_buffers 0). */
void dp_frame_hdr(uint32_t len, struct virtio_net_hdr_v1 *h);
/* Writes the first n bytes (n <= len) of frame `seq` of len bytes into f. */
void dp_frame_build(uint8_t *f, uint32_t len, uint32_t seq, uint32_t n);
/* The pattern byte at frame offset off >= DP_LINEAR (the same in every frame). */
uint8_t dp_frame_tail_byte(uint32_t off);
/* Changes only the sequence number of a frame built by dp_frame_build() (bench mode). */
void dp_frame_set_seq(uint8_t *f, uint32_t seq);

/* Checks a received frame: iov[0..n) holds it from byte `skip` of iov[0] on (a vnet header
 * before it is skipped), total bytes `len`. Returns true and the sequence number if it is
 * frame *seq of len bytes exactly; else false with a reason in why (size whylen). */
bool dp_frame_check(const struct iovec *iov, int n, size_t skip, uint32_t len, uint32_t *seq, char *why,
		    size_t whylen);
/* Checks a vnet header received with a frame of len bytes against what dp_frame_hdr() sends:
 * flags, gso_type, gso_size, csum_start, csum_offset (hdr_len and num_buffers are the
 * receiver's business). false + why on a difference. h is a struct virtio_net_hdr (10 bytes). */
bool dp_frame_hdr_check(const struct virtio_net_hdr *h, uint32_t len, char *why, size_t whylen);
#endif
