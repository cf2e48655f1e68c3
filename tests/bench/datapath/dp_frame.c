/* dp_frame.c: numbered test frames and their vnet headers (dp_frame.h). */
#include "tests/bench/datapath/dp_frame.h"

#include <endian.h>
#include <stdio.h>
#include <string.h>

#define ETH_LEN 14u
#define IP_LEN	20u
#define UDP_LEN 8u
#define TCP_LEN 20u
#define CSUM_AT (ETH_LEN + IP_LEN) /* csum_start: the transport header */

static bool is_gso(uint32_t len)
{
	return len >= DP_GSO_MIN;
}

void dp_frame_hdr(uint32_t len, struct virtio_net_hdr_v1 *h)
{
	memset(h, 0, sizeof(*h));
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->csum_start = htole16(CSUM_AT);
	if (is_gso(len)) {
		h->csum_offset = htole16(16); /* struct tcphdr.check */
		h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		h->gso_size = htole16(DP_GSO_SIZE);
		h->hdr_len = htole16(ETH_LEN + IP_LEN + TCP_LEN);
	} else {
		h->csum_offset = htole16(6); /* struct udphdr.check */
		h->gso_type = VIRTIO_NET_HDR_GSO_NONE;
	}
}

static uint8_t head_byte(uint32_t off, uint32_t seq)
{
	return (uint8_t)(off * 7 + seq * 13 + 1);
}

uint8_t dp_frame_tail_byte(uint32_t off)
{
	return (uint8_t)(off * 31 + (off >> 9));
}

static uint8_t body_byte(uint32_t off, uint32_t seq)
{
	return off < DP_LINEAR ? head_byte(off, seq) : dp_frame_tail_byte(off);
}

uint16_t dp_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint32_t dp_csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

/* The headers (the first DP_SEQ_OFF bytes) of a frame of len bytes. */
static void frame_headers(uint8_t *f, uint32_t len, uint32_t seq)
{
	static const uint8_t dst[6] = {0x02, 0xdd, 0, 0, 0, 0x01}, src[6] = {0x02, 0xdd, 0, 0, 0, 0x02};
	uint8_t *ip = f + ETH_LEN, *l4 = ip + IP_LEN;
	uint32_t ip_len = len - ETH_LEN, proto = is_gso(len) ? 6 : 17;
	memset(f, 0, DP_SEQ_OFF);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08; /* IPv4 */
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[4] = (uint8_t)(seq >> 8);
	ip[5] = (uint8_t)seq;
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = (uint8_t)proto;
	const uint8_t addr[8] = {10, 99, 0, 2, 10, 99, 0, 1};
	memcpy(ip + 12, addr, 8);
	uint16_t c = (uint16_t)~dp_csum_fold(dp_csum_add(0, ip, IP_LEN));
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	/* CHECKSUM_PARTIAL: the transport checksum field holds the pseudo-header sum, the rest is
	 * the device's (or the tap's) to finish. */
	uint32_t l4_len = len - ETH_LEN - IP_LEN;
	uint8_t pseudo[4] = {0, (uint8_t)proto, (uint8_t)(l4_len >> 8), (uint8_t)l4_len};
	uint16_t ps = dp_csum_fold(dp_csum_add(dp_csum_add(0, addr, 8), pseudo, 4));
	l4[0] = 0x30;
	l4[1] = 0x39;
	l4[2] = 0x00;
	l4[3] = 0x09;
	if (proto == 17) {
		l4[4] = (uint8_t)(l4_len >> 8);
		l4[5] = (uint8_t)l4_len;
		l4[6] = (uint8_t)(ps >> 8);
		l4[7] = (uint8_t)ps;
	} else {
		uint32_t tseq = seq * 65536u;
		l4[4] = (uint8_t)(tseq >> 24);
		l4[5] = (uint8_t)(tseq >> 16);
		l4[6] = (uint8_t)(tseq >> 8);
		l4[7] = (uint8_t)tseq;
		l4[12] = 0x50; /* data offset 5 */
		l4[13] = 0x18; /* ACK | PSH */
		l4[14] = 0xff;
		l4[15] = 0xff;
		l4[16] = (uint8_t)(ps >> 8);
		l4[17] = (uint8_t)ps;
	}
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &(uint32_t){htobe32(v)}, 4);
}

void dp_frame_set_seq(uint8_t *f, uint32_t seq)
{
	put32(f + DP_SEQ_OFF, seq);
}

void dp_frame_build(uint8_t *f, uint32_t len, uint32_t seq, uint32_t n)
{
	uint8_t head[DP_SEQ_OFF + 8];
	frame_headers(head, len, seq);
	put32(head + DP_SEQ_OFF, seq);
	put32(head + DP_SEQ_OFF + 4, DP_MAGIC);
	memcpy(f, head, n < sizeof(head) ? n : sizeof(head));
	for (uint32_t off = sizeof(head); off < n; off++)
		f[off] = body_byte(off, seq);
}

bool dp_frame_check(const struct iovec *iov, int n, size_t skip, uint32_t len, uint32_t *seq, char *why,
		    size_t whylen)
{
	uint8_t head[DP_SEQ_OFF + 8], want[DP_SEQ_OFF + 8];
	size_t got = 0;
	int i = 0;
	size_t at = skip;
	/* First the fixed part, to learn the sequence number. */
	while (got < sizeof(head) && i < n) {
		size_t k = iov[i].iov_len - at;
		if (k > sizeof(head) - got)
			k = sizeof(head) - got;
		memcpy(head + got, (const uint8_t *)iov[i].iov_base + at, k);
		got += k;
		at += k;
		if (at == iov[i].iov_len) {
			i++;
			at = 0;
		}
	}
	if (got < sizeof(head)) {
		snprintf(why, whylen, "frame of %zu bytes is shorter than its headers", got);
		return false;
	}
	uint32_t s;
	memcpy(&s, head + DP_SEQ_OFF, 4);
	s = be32toh(s);
	*seq = s;
	dp_frame_build(want, len, s, sizeof(want));
	for (size_t k = 0; k < sizeof(want); k++)
		if (head[k] != want[k]) {
			snprintf(why, whylen, "frame %u (%u bytes): byte %zu is 0x%02x, sent 0x%02x", s, len,
				 k, head[k], want[k]);
			return false;
		}
	uint32_t off = sizeof(head);
	for (; i < n; i++, at = 0) {
		const uint8_t *p = (const uint8_t *)iov[i].iov_base + at;
		size_t k = iov[i].iov_len - at;
		for (size_t j = 0; j < k; j++, off++) {
			if (off >= len) {
				snprintf(why, whylen, "frame %u: longer than the %u bytes sent", s, len);
				return false;
			}
			if (p[j] != body_byte(off, s)) {
				snprintf(why, whylen, "frame %u (%u bytes): byte %u is 0x%02x, sent 0x%02x",
					 s, len, off, p[j], body_byte(off, s));
				return false;
			}
		}
	}
	if (off != len) {
		snprintf(why, whylen, "frame %u: %u bytes arrived, %u sent", s, off, len);
		return false;
	}
	return true;
}

bool dp_frame_hdr_check(const struct virtio_net_hdr *h, uint32_t len, char *why, size_t whylen)
{
	struct virtio_net_hdr_v1 w;
	dp_frame_hdr(len, &w);
	if (h->flags != w.flags || h->gso_type != w.gso_type || h->gso_size != w.gso_size ||
	    h->csum_start != w.csum_start || h->csum_offset != w.csum_offset) {
		snprintf(why, whylen,
			 "vnet header of a %u-byte frame: flags %u gso %u/%u csum %u+%u, sent flags "
			 "%u gso %u/%u csum %u+%u",
			 len, h->flags, h->gso_type, le16toh(h->gso_size), le16toh(h->csum_start),
			 le16toh(h->csum_offset), w.flags, w.gso_type, le16toh(w.gso_size),
			 le16toh(w.csum_start), le16toh(w.csum_offset));
		return false;
	}
	return true;
}
