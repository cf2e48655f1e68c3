/* pkt.c: test helper that builds and parses Ethernet/IPv4/ARP/UDP/TCP/DHCP frames. */
#include "tests/unit/pkt.h"

#include <arpa/inet.h>
#include <string.h>

const uint8_t pkt_bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

uint32_t pkt_sum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	size_t i = 0;
	for (; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (i < len)
		sum += (uint32_t)p[i] << 8;
	return sum;
}

uint16_t pkt_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint32_t pkt_pseudo_sum(in_addr_t src, in_addr_t dst, uint8_t proto, size_t len)
{
	uint32_t sum = pkt_sum(&src, 4, 0);
	sum = pkt_sum(&dst, 4, sum);
	return sum + proto + (uint32_t)len;
}

size_t pkt_eth(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	put16(buf + 12, type);
	return PKT_ETH_HLEN;
}

size_t pkt_ip(uint8_t *buf, in_addr_t src, in_addr_t dst, uint8_t proto, size_t len)
{
	memset(buf, 0, PKT_IP_HLEN);
	buf[0] = 0x45;
	put16(buf + 2, (uint16_t)(PKT_IP_HLEN + len));
	put16(buf + 4, 0x1234); /* id */
	put16(buf + 6, 0x4000); /* DF */
	buf[8] = 64;
	buf[9] = proto;
	memcpy(buf + 12, &src, 4);
	memcpy(buf + 16, &dst, 4);
	put16(buf + 10, pkt_fold(pkt_sum(buf, PKT_IP_HLEN, 0)));
	return PKT_IP_HLEN;
}

size_t pkt_arp_request(uint8_t *buf, const uint8_t smac[6], in_addr_t sip, in_addr_t tip)
{
	size_t n = pkt_eth(buf, pkt_bcast, smac, 0x0806);
	uint8_t *a = buf + n;
	put16(a, 1);	      /* Ethernet */
	put16(a + 2, 0x0800); /* IPv4 */
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1); /* request */
	memcpy(a + 8, smac, 6);
	memcpy(a + 14, &sip, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, &tip, 4);
	n += 28;
	/* Pad to the Ethernet minimum, as a NIC would. */
	memset(buf + n, 0, 60 - n);
	return 60;
}

size_t pkt_udp(uint8_t *buf, const uint8_t dmac[6], const uint8_t smac[6], in_addr_t sip, in_addr_t dip,
	       uint16_t sport, uint16_t dport, const void *data, size_t len)
{
	size_t n = pkt_eth(buf, dmac, smac, 0x0800);
	n += pkt_ip(buf + n, sip, dip, IPPROTO_UDP, PKT_UDP_HLEN + len);
	uint8_t *u = buf + n;
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(PKT_UDP_HLEN + len));
	put16(u + 6, 0);
	if (len)
		memcpy(u + PKT_UDP_HLEN, data, len);
	uint32_t sum = pkt_pseudo_sum(sip, dip, IPPROTO_UDP, PKT_UDP_HLEN + len);
	uint16_t c = pkt_fold(pkt_sum(u, PKT_UDP_HLEN + len, sum));
	put16(u + 6, c ? c : 0xffff); /* RFC 768: 0 means "no checksum" */
	return n + PKT_UDP_HLEN + len;
}

size_t pkt_tcp(uint8_t *buf, const uint8_t dmac[6], const uint8_t smac[6], in_addr_t sip, in_addr_t dip,
	       uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, const void *data,
	       size_t len)
{
	size_t hl = PKT_TCP_HLEN + ((flags & PKT_TCP_SYN) ? 4 : 0);
	size_t n = pkt_eth(buf, dmac, smac, 0x0800);
	n += pkt_ip(buf + n, sip, dip, IPPROTO_TCP, hl + len);
	uint8_t *t = buf + n;
	memset(t, 0, hl);
	put16(t, sport);
	put16(t + 2, dport);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = (uint8_t)((hl / 4) << 4);
	t[13] = flags;
	put16(t + 14, 65535); /* window */
	if (flags & PKT_TCP_SYN) {
		t[20] = 2; /* MSS */
		t[21] = 4;
		put16(t + 22, 1460);
	}
	if (len)
		memcpy(t + hl, data, len);
	uint32_t sum = pkt_pseudo_sum(sip, dip, IPPROTO_TCP, hl + len);
	put16(t + 16, pkt_fold(pkt_sum(t, hl + len, sum)));
	return n + hl + len;
}

size_t pkt_dhcp_discover(uint8_t *buf, const uint8_t mac[6], uint32_t xid)
{
	uint8_t b[300];
	memset(b, 0, sizeof(b));
	b[0] = 1; /* BOOTREQUEST */
	b[1] = 1; /* Ethernet */
	b[2] = 6;
	put32(b + 4, xid);
	put16(b + 10, 0x8000); /* broadcast flag */
	memcpy(b + 28, mac, 6);
	put32(b + 236, 0x63825363); /* magic cookie */
	uint8_t *o = b + 240;
	*o++ = 53; /* message type */
	*o++ = 1;
	*o++ = 1;  /* DISCOVER */
	*o++ = 55; /* parameter request list */
	*o++ = 3;
	*o++ = 1; /* subnet mask */
	*o++ = 3; /* router */
	*o++ = 6; /* DNS */
	*o++ = 255;
	return pkt_udp(buf, pkt_bcast, mac, htonl(INADDR_ANY), htonl(INADDR_BROADCAST), 68, 67, b, sizeof(b));
}

bool pkt_parse(const uint8_t *f, size_t len, struct pkt_info *pi)
{
	memset(pi, 0, sizeof(*pi));
	if (len < PKT_ETH_HLEN)
		return false;
	memcpy(pi->dst, f, 6);
	memcpy(pi->src, f + 6, 6);
	pi->type = get16(f + 12);
	f += PKT_ETH_HLEN;
	len -= PKT_ETH_HLEN;
	if (pi->type == 0x0806) {
		if (len < 28)
			return false;
		pi->arp_op = get16(f + 6);
		memcpy(pi->arp_sha, f + 8, 6);
		memcpy(&pi->arp_sip, f + 14, 4);
		memcpy(pi->arp_tha, f + 18, 6);
		memcpy(&pi->arp_tip, f + 24, 4);
		return true;
	}
	if (pi->type != 0x0800)
		return true;
	if (len < PKT_IP_HLEN || (f[0] >> 4) != 4)
		return false;
	size_t ihl = (size_t)(f[0] & 0xf) * 4, tot = get16(f + 2);
	if (ihl < PKT_IP_HLEN || tot < ihl || tot > len)
		return false;
	pi->ip_csum_ok = pkt_fold(pkt_sum(f, ihl, 0)) == 0;
	memcpy(&pi->ip_src, f + 12, 4);
	memcpy(&pi->ip_dst, f + 16, 4);
	pi->proto = f[9];
	const uint8_t *l4 = f + ihl;
	size_t l4len = tot - ihl;
	uint32_t pseudo = pkt_pseudo_sum(pi->ip_src, pi->ip_dst, pi->proto, l4len);
	if (pi->proto == IPPROTO_UDP) {
		if (l4len < PKT_UDP_HLEN)
			return false;
		pi->sport = get16(l4);
		pi->dport = get16(l4 + 2);
		pi->l4_csum_ok = get16(l4 + 6) == 0 || pkt_fold(pkt_sum(l4, l4len, pseudo)) == 0;
		pi->data = l4 + PKT_UDP_HLEN;
		pi->len = l4len - PKT_UDP_HLEN;
	} else if (pi->proto == IPPROTO_TCP) {
		if (l4len < PKT_TCP_HLEN)
			return false;
		size_t hl = (size_t)(l4[12] >> 4) * 4;
		if (hl < PKT_TCP_HLEN || hl > l4len)
			return false;
		pi->sport = get16(l4);
		pi->dport = get16(l4 + 2);
		pi->seq = get32(l4 + 4);
		pi->ack = get32(l4 + 8);
		pi->tcp_flags = l4[13];
		pi->l4_csum_ok = pkt_fold(pkt_sum(l4, l4len, pseudo)) == 0;
		pi->data = l4 + hl;
		pi->len = l4len - hl;
	} else {
		pi->data = l4;
		pi->len = l4len;
	}
	return true;
}

const uint8_t *pkt_dhcp_option(const uint8_t *bootp, size_t len, uint8_t code, uint8_t *olen)
{
	if (len < 240 || get32(bootp + 236) != 0x63825363)
		return NULL;
	for (size_t i = 240; i < len;) {
		uint8_t c = bootp[i];
		if (c == 255)
			break;
		if (c == 0) {
			i++;
			continue;
		}
		if (i + 2 > len || i + 2 + bootp[i + 1] > len)
			break;
		if (c == code) {
			*olen = bootp[i + 1];
			return bootp + i + 2;
		}
		i += 2 + (size_t)bootp[i + 1];
	}
	return NULL;
}
