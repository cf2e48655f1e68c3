/* pkt.h: test helper that builds and parses Ethernet/IPv4/ARP/UDP/TCP/DHCP frames.
 *
 * Builders write a whole Ethernet frame (no vnet header) into buf and return its length; IPv4
 * addresses are in_addr_t in network order (inet_addr("10.0.2.2")), ports in host order. IP,
 * UDP and TCP checksums are filled in, so the frames are what a real guest stack would send. */
#ifndef MINIVMM_TEST_PKT_H
#define MINIVMM_TEST_PKT_H
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKT_ETH_HLEN 14
#define PKT_IP_HLEN  20
#define PKT_UDP_HLEN 8
#define PKT_TCP_HLEN 20

#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10

extern const uint8_t pkt_bcast[6];

/* One's-complement sum of data added to sum (not folded, not complemented). */
uint32_t pkt_sum(const void *data, size_t len, uint32_t sum);
/* Folds and complements: the value to store in a checksum field. */
uint16_t pkt_fold(uint32_t sum);
/* The IPv4 pseudo-header sum for a UDP/TCP segment of len bytes (not folded). */
uint32_t pkt_pseudo_sum(in_addr_t src, in_addr_t dst, uint8_t proto, size_t len);

size_t pkt_eth(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6], uint16_t type);
/* IPv4 header (no options) for a payload of len bytes, header checksum filled in. */
size_t pkt_ip(uint8_t *buf, in_addr_t src, in_addr_t dst, uint8_t proto, size_t len);

/* Broadcast ARP request "who has tip, tell sip". */
size_t pkt_arp_request(uint8_t *buf, const uint8_t smac[6], in_addr_t sip, in_addr_t tip);
size_t pkt_udp(uint8_t *buf, const uint8_t dmac[6], const uint8_t smac[6], in_addr_t sip, in_addr_t dip,
	       uint16_t sport, uint16_t dport, const void *data, size_t len);
/* TCP segment; a SYN carries an MSS 1460 option. */
size_t pkt_tcp(uint8_t *buf, const uint8_t dmac[6], const uint8_t smac[6], in_addr_t sip, in_addr_t dip,
	       uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, const void *data,
	       size_t len);
/* DHCPDISCOVER from 0.0.0.0:68 to 255.255.255.255:67 for mac, transaction id xid. */
size_t pkt_dhcp_discover(uint8_t *buf, const uint8_t mac[6], uint32_t xid);

/* What pkt_parse() found in a frame; fields absent from the frame are 0. */
struct pkt_info {
	uint8_t dst[6], src[6];
	uint16_t type; /* ethertype */
	/* ARP */
	uint16_t arp_op;
	uint8_t arp_sha[6], arp_tha[6];
	in_addr_t arp_sip, arp_tip;
	/* IPv4 */
	in_addr_t ip_src, ip_dst;
	uint8_t proto;
	bool ip_csum_ok, l4_csum_ok;
	uint16_t sport, dport; /* host order */
	uint32_t seq, ack;     /* TCP, host order */
	uint8_t tcp_flags;
	const uint8_t *data; /* L4 payload */
	size_t len;
};
/* Parses an Ethernet frame. false if it is too short for the headers it announces. */
bool pkt_parse(const uint8_t *frame, size_t len, struct pkt_info *pi);

/* Finds DHCP option code in a BOOTP payload (after the magic cookie); its length in *olen. */
const uint8_t *pkt_dhcp_option(const uint8_t *bootp, size_t len, uint8_t code, uint8_t *olen);
#endif
