/* tcp_ack.c: the guest's side of the bench's TCP stream (tcp_ack.h). */
#include "tests/bench/datapath/tcp_ack.h"

#include "tests/bench/datapath/dp_frame.h"

#include <endian.h>
#include <stdio.h>
#include <string.h>

#define ETH 14u
#define SYN 0x02
#define RST 0x04
#define ACK 0x10
#define FIN 0x01

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* The checksum field's value: the folded sum, inverted. */
static uint16_t fold(uint32_t s)
{
	return (uint16_t)~dp_csum_fold(s);
}

static void bad(struct tcp_ack *t, const char *why)
{
	if (!t->bad)
		snprintf(t->why, sizeof(t->why), "%s", why);
	t->bad++;
}

/* Checks len payload bytes at stream offset off, from iov[i] byte at on. */
static bool payload_ok(const struct iovec *iov, int n, int i, size_t at, uint64_t off, uint32_t len,
		       char *why, size_t whylen)
{
	uint32_t seen = 0;
	for (; i < n && seen < len; i++, at = 0) {
		const uint8_t *p = (const uint8_t *)iov[i].iov_base + at;
		size_t k = iov[i].iov_len - at;
		for (size_t j = 0; j < k && seen < len; j++, seen++)
			if (p[j] != tcp_ack_byte(off + seen)) {
				snprintf(why, whylen, "stream byte %llu is 0x%02x, sent 0x%02x",
					 (unsigned long long)(off + seen), p[j], tcp_ack_byte(off + seen));
				return false;
			}
	}
	if (seen != len) {
		snprintf(why, whylen, "segment shorter than its IP length says");
		return false;
	}
	return true;
}

size_t tcp_ack_rx(struct tcp_ack *t, const struct virtio_net_hdr *h, const struct iovec *iov, int n,
		  size_t skip, uint8_t *out)
{
	const uint8_t *f = (const uint8_t *)iov[0].iov_base + skip;
	size_t have = iov[0].iov_len - skip;
	if (have < ETH + 20 + 20 || f[12] != 0x08 || f[13] != 0x00)
		return 0;
	const uint8_t *ip = f + ETH;
	size_t ihl = (ip[0] & 15u) * 4;
	if (ip[9] != 6 || ihl < 20 || have < ETH + ihl + 20)
		return 0;
	const uint8_t *tcp = ip + ihl;
	size_t doff = (tcp[12] >> 4) * 4u;
	uint32_t ip_len = (uint32_t)ip[2] << 8 | ip[3];
	if ((tcp[2] << 8 | tcp[3]) != TCP_ACK_PORT || doff < 20 || have < ETH + ihl + doff ||
	    ip_len < ihl + doff)
		return 0;
	uint8_t flags = tcp[13];
	uint32_t seq = get32(tcp + 4), plen = ip_len - (uint32_t)(ihl + doff);
	if (flags & RST)
		return 0;
	bool syn = flags & SYN;
	if (syn) {
		t->irs = seq;
		t->rcv_nxt = seq + 1;
		t->isn = 0x10000;
		t->established = true;
	} else if (!t->established) {
		return 0;
	} else if (seq == t->rcv_nxt) {
		if (plen && t->verify) {
			char why[200];
			struct virtio_net_hdr_v1 w = {0};
			w.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
			w.csum_start = htole16((uint16_t)(ETH + ihl));
			w.csum_offset = htole16(16);
			if (plen > TCP_ACK_MSS) {
				w.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
				w.gso_size = htole16(TCP_ACK_MSS);
			}
			if (h->flags != w.flags || h->csum_start != w.csum_start ||
			    h->csum_offset != w.csum_offset || h->gso_type != w.gso_type ||
			    (w.gso_type && h->gso_size != w.gso_size)) {
				snprintf(why, sizeof(why),
					 "vnet header of a %u-byte segment: flags %u gso %u/%u csum %u+%u",
					 plen, h->flags, h->gso_type, le16toh(h->gso_size),
					 le16toh(h->csum_start), le16toh(h->csum_offset));
				bad(t, why);
			} else if (!payload_ok(iov, n, 0, skip + ETH + ihl + doff, t->rcv_nxt - t->irs - 1,
					       plen, why, sizeof(why))) {
				bad(t, why);
			}
		}
		t->rcv_nxt += plen + ((flags & FIN) ? 1 : 0);
		if (plen)
			t->data_frames++;
		if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE)
			t->gso_frames++;
	} else {
		t->out_of_order++;
	}
	/* The reply: addresses and ports swapped. */
	size_t opt = syn ? 8 : 0, tl = 20 + opt, len = ETH + 20 + tl;
	memset(out, 0, len);
	memcpy(out, f + 6, 6);
	memcpy(out + 6, f, 6);
	out[12] = 0x08;
	uint8_t *oip = out + ETH, *otcp = oip + 20;
	oip[0] = 0x45;
	put16(oip + 2, (uint16_t)(20 + tl));
	oip[6] = 0x40;
	oip[8] = 64;
	oip[9] = 6;
	memcpy(oip + 12, ip + 16, 4);
	memcpy(oip + 16, ip + 12, 4);
	put16(oip + 10, fold(dp_csum_add(0, oip, 20)));
	memcpy(otcp, tcp + 2, 2);
	memcpy(otcp + 2, tcp, 2);
	put32(otcp + 4, syn ? t->isn : t->isn + 1);
	put32(otcp + 8, t->rcv_nxt);
	otcp[12] = (uint8_t)((tl / 4) << 4);
	otcp[13] = syn ? (SYN | ACK) : ACK;
	put16(otcp + 14, 0xffff); /* << 7 once scaled: 8 MiB in flight */
	if (syn) {
		const uint8_t o[8] = {2, 4, 0x05, 0xb4, 1, 3, 3, 7}; /* MSS 1460, NOP, WS 7 */
		memcpy(otcp + 20, o, sizeof(o));
	}
	uint8_t pseudo[12];
	memcpy(pseudo, oip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 6;
	put16(pseudo + 10, (uint16_t)tl);
	put16(otcp + 16, fold(dp_csum_add(dp_csum_add(0, pseudo, 12), otcp, tl)));
	return len;
}
