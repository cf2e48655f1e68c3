/* net_opts.c: parses one --net SPEC (grammar in net_opts.h) and checks it is usable. */
#include "vmm/net_opts.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "vmm/decimal.h"
#include "vmm/log.h"

#define net_err(fmt, ...) log_err("--net: " fmt, ##__VA_ARGS__)

enum net_key {
	K_IFNAME,
	K_MAC,
	K_MTU,
	K_VHOST,
	K_QUEUE_SIZE,
	K_QUEUES,
	K_NET,
	K_HOST,
	K_DNS,
	K_DHCPSTART,
	K_HOSTFWD,
	K_ID,
	K_N
};

#define TAP  (1u << NET_TAP)
#define USER (1u << NET_USER)

static const struct {
	const char *name;
	unsigned kinds; /* which backends accept the key */
} net_keys[K_N] = {
	[K_IFNAME] = { "ifname", TAP },	   [K_MAC] = { "mac", TAP | USER },
	[K_MTU] = { "mtu", TAP | USER },   [K_VHOST] = { "vhost", TAP },
	[K_QUEUE_SIZE] = { "queue_size", TAP | USER },
	[K_QUEUES] = { "queues", TAP | USER },
	[K_NET] = { "net", USER },	   [K_HOST] = { "host", USER },
	[K_DNS] = { "dns", USER },	   [K_DHCPSTART] = { "dhcpstart", USER },
	[K_HOSTFWD] = { "hostfwd", USER }, [K_ID] = { "id", TAP | USER },
};

static const char *const kind_name[] = { [NET_TAP] = "tap", [NET_USER] = "user" };
static const char *const kind_keys[] = {
	[NET_TAP] = "ifname, mac, mtu, vhost, queue_size, queues, id",
	[NET_USER] = "net, host, dns, dhcpstart, mac, mtu, queue_size, queues, hostfwd, id",
};

/* Dotted quad only; inet_pton() refuses the shorthand forms inet_aton() would take. */
static bool ipv4_parse(const char *s, struct in_addr *out)
{
	return inet_pton(AF_INET, s, out) == 1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int mac_parse(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		const char *pair = s + 3 * i;
		int hi = hexval(pair[0]), lo = hi < 0 ? -1 : hexval(pair[1]);

		if (lo < 0 || pair[2] != (i == 5 ? '\0' : ':')) {
			net_err("mac=%s is not a MAC address (use six hex pairs, e.g. "
				"52:54:00:12:34:56)",
				s);
			return -EINVAL;
		}
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	if (mac[0] & 1) {
		net_err("mac=%s is a multicast address (the low bit of the first byte must be 0)",
			s);
		return -EINVAL;
	}
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5])) {
		net_err("mac=%s is all zeros", s);
		return -EINVAL;
	}
	return 0;
}

/* The kernel's dev_valid_name() is looser; this keeps names that are safe in any shell. */
static int ifname_parse(const char *s, char out[IFNAMSIZ])
{
	size_t len = strlen(s);

	if (len >= IFNAMSIZ) {
		net_err("ifname=%s is too long (at most %d characters)", s, IFNAMSIZ - 1);
		return -EINVAL;
	}
	if (!strcmp(s, ".") || !strcmp(s, "..") ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz"
		      "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789_.-") != len) {
		net_err(
		    "ifname=%s is not a valid interface name (use letters, digits, '_', '.', '-')",
		    s);
		return -EINVAL;
	}
	memcpy(out, s, len + 1);
	return 0;
}

static int net_parse(const char *s, struct net_opts *o)
{
	const char *slash = strchr(s, '/');
	char addr[INET_ADDRSTRLEN];
	uint64_t prefix;
	uint32_t mask;

	if (!slash || (size_t)(slash - s) >= sizeof(addr)) {
		net_err("net=%s is not a network (use A.B.C.D/NN, e.g. 10.0.2.0/24)", s);
		return -EINVAL;
	}
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	if (!ipv4_parse(addr, &o->net) || decimal_parse(slash + 1, NULL, 32, &prefix)) {
		net_err("net=%s is not a network (use A.B.C.D/NN, e.g. 10.0.2.0/24)", s);
		return -EINVAL;
	}
	/* /31 and /32 leave no room for host, guest and broadcast; wider than /8 is surely a typo. */
	if (prefix < 8 || prefix > 30) {
		net_err("net=%s: prefix /%u is out of range (8..30)", s, (unsigned)prefix);
		return -EINVAL;
	}
	mask = ~0u << (32 - prefix);
	if (ntohl(o->net.s_addr) & ~mask) {
		struct in_addr base = { htonl(ntohl(o->net.s_addr) & mask) };

		net_err("net=%s has host bits set (did you mean %s/%u?)", s, inet_ntoa(base),
			(unsigned)prefix);
		return -EINVAL;
	}
	o->mask.s_addr = htonl(mask);
	return 0;
}

static int port_parse(const char *rule, const char *what, const char *s, uint16_t *out)
{
	uint64_t v;

	if (decimal_parse(s, NULL, 65535, &v) || v == 0) {
		net_err("hostfwd=%s: %s port \"%s\" is not in 1..65535", rule, what, s);
		return -EINVAL;
	}
	*out = (uint16_t)v;
	return 0;
}

static int addr_parse(const char *rule, const char *what, const char *s, struct in_addr *out)
{
	if (!*s) {
		out->s_addr = htonl(INADDR_ANY);
		return 0;
	}
	if (!ipv4_parse(s, out)) {
		net_err("hostfwd=%s: %s address \"%s\" is not an IPv4 address", rule, what, s);
		return -EINVAL;
	}
	return 0;
}

/* Copies s[0..len) into buf, which must hold it (fields longer than any valid one are bad). */
static bool field_copy(char *buf, size_t size, const char *s, size_t len)
{
	if (len >= size)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return true;
}

/* [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, as QEMU's -netdev user,hostfwd= */
static int hostfwd_parse(const char *s, struct hostfwd *f)
{
	const char *c1 = strchr(s, ':'), *dash, *c2, *c3;
	char proto[8], haddr[INET_ADDRSTRLEN], hport[8], gaddr[INET_ADDRSTRLEN], gport[8];

	dash = c1 ? strchr(c1 + 1, '-') : NULL;
	c2 = dash ? memrchr(c1 + 1, ':', (size_t)(dash - c1 - 1)) : NULL;
	c3 = dash ? strchr(dash + 1, ':') : NULL;
	if (!c2 || !c3 || !field_copy(proto, sizeof(proto), s, (size_t)(c1 - s)) ||
	    !field_copy(haddr, sizeof(haddr), c1 + 1, (size_t)(c2 - c1 - 1)) ||
	    !field_copy(hport, sizeof(hport), c2 + 1, (size_t)(dash - c2 - 1)) ||
	    !field_copy(gaddr, sizeof(gaddr), dash + 1, (size_t)(c3 - dash - 1)) ||
	    !field_copy(gport, sizeof(gport), c3 + 1, strlen(c3 + 1))) {
		net_err("hostfwd=%s is malformed (use [tcp|udp]:[HOSTADDR]:HOSTPORT-"
			"[GUESTADDR]:GUESTPORT, e.g. tcp::2222-:22)",
			s);
		return -EINVAL;
	}
	memset(f, 0, sizeof(*f));
	if (!strcmp(proto, "udp")) {
		f->udp = true;
	} else if (*proto && strcmp(proto, "tcp")) {
		net_err("hostfwd=%s: protocol \"%s\" is not tcp or udp", s, proto);
		return -EINVAL;
	}
	if (addr_parse(s, "host", haddr, &f->host_addr) ||
	    port_parse(s, "host", hport, &f->host_port) ||
	    addr_parse(s, "guest", gaddr, &f->guest_addr) ||
	    port_parse(s, "guest", gport, &f->guest_port))
		return -EINVAL;
	return 0;
}

bool hostfwd_overlap(const struct hostfwd *a, const struct hostfwd *b)
{
	return a->udp == b->udp && a->host_port == b->host_port &&
	       (a->host_addr.s_addr == b->host_addr.s_addr || a->host_addr.s_addr == INADDR_ANY ||
		b->host_addr.s_addr == INADDR_ANY);
}

static int hostfwd_add(const char *s, struct net_opts *o)
{
	struct hostfwd f;

	if (hostfwd_parse(s, &f))
		return -EINVAL;
	if (o->nfwd == CONFIG_MAX_HOSTFWD) {
		net_err("hostfwd=%s: too many hostfwd rules (at most %d)", s, CONFIG_MAX_HOSTFWD);
		return -EINVAL;
	}
	for (int i = 0; i < o->nfwd; i++) {
		if (hostfwd_overlap(&o->fwd[i], &f)) {
			net_err("hostfwd=%s: %s host port %u is already forwarded", s,
				f.udp ? "udp" : "tcp", f.host_port);
			return -EINVAL;
		}
	}
	o->fwd[o->nfwd++] = f;
	return 0;
}

/* A usable address in net: inside it, and neither its network nor its broadcast address. */
static bool addr_in_net(struct in_addr a, const struct net_opts *o)
{
	uint32_t h = ntohl(a.s_addr), net = ntohl(o->net.s_addr), mask = ntohl(o->mask.s_addr);

	return (h & mask) == net && h != net && h != (net | ~mask);
}

/* what is "host=" or "hostfwd: guest address ", so the message names what the user wrote. */
static int user_addr_check(const char *what, struct in_addr a, const struct net_opts *o)
{
	char net[INET_ADDRSTRLEN];

	if (addr_in_net(a, o))
		return 0;
	inet_ntop(AF_INET, &o->net, net, sizeof(net));
	net_err("%s%s is not a usable address in net %s/%d", what, inet_ntoa(a), net,
		__builtin_popcount(o->mask.s_addr));
	return -EINVAL;
}

/* Fills in what the user left out (from net, like QEMU) and checks the addresses fit together. */
static int user_finish(struct net_opts *o, const bool *seen)
{
	uint32_t net;

	if (!seen[K_NET]) {
		inet_pton(AF_INET, "10.0.2.0", &o->net);
		o->mask.s_addr = htonl(0xffffff00u);
	}
	net = ntohl(o->net.s_addr);
	if (!seen[K_HOST])
		o->host.s_addr = htonl(net | 2);
	if (!seen[K_DNS])
		o->dns.s_addr = htonl(net | 3);
	if (!seen[K_DHCPSTART])
		o->dhcp_start.s_addr = htonl(net | 15);
	if (user_addr_check("host=", o->host, o) || user_addr_check("dns=", o->dns, o) ||
	    user_addr_check("dhcpstart=", o->dhcp_start, o))
		return -EINVAL;
	if (o->dhcp_start.s_addr == o->host.s_addr || o->dhcp_start.s_addr == o->dns.s_addr) {
		net_err("dhcpstart=%s collides with the host or dns address",
			inet_ntoa(o->dhcp_start));
		return -EINVAL;
	}
	for (int i = 0; i < o->nfwd; i++) {
		if (o->fwd[i].guest_addr.s_addr != INADDR_ANY &&
		    user_addr_check("hostfwd: guest address ", o->fwd[i].guest_addr, o))
			return -EINVAL;
	}
	return 0;
}

/* QEMU's rule for ids: a letter, then letters, digits, '-', '.', '_'. */
static int id_parse(const char *s, char out[CONFIG_ID_MAX])
{
	size_t n = strlen(s);
	bool ok = n > 0 && n < CONFIG_ID_MAX && isalpha((unsigned char)s[0]);
	for (size_t i = 1; ok && i < n; i++)
		ok = isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '.' || s[i] == '_';
	if (!ok) {
		net_err("id=%s is not a valid id (a letter, then letters, digits, '-', '.', '_'; at most %d)", s,
			CONFIG_ID_MAX - 1);
		return -EINVAL;
	}
	memcpy(out, s, n + 1);
	return 0;
}

static int key_apply(enum net_key k, const char *val, struct net_opts *o)
{
	uint64_t v;

	switch (k) {
	case K_IFNAME: return ifname_parse(val, o->ifname);
	case K_ID: return id_parse(val, o->id);
	case K_MAC: o->mac_set = true; return mac_parse(val, o->mac);
	case K_MTU:
		/* 68 is IPv4's minimum MTU (RFC 791); 65535 is what virtio-net's mtu field holds.
		 */
		if (decimal_parse(val, NULL, 65535, &v) || v < 68) {
			net_err("mtu=%s is not in 68..65535", val);
			return -EINVAL;
		}
		o->mtu = (uint16_t)v;
		return 0;
	case K_QUEUE_SIZE:
		/* 2.7: a split ring's size is a power of two; 64 keeps a GSO frame's worth of
		 * mergeable buffers, 1024 is what virtq.c and vhost-net take (VIRTQ_MAX_SIZE). */
		if (decimal_parse(val, NULL, 1024, &v) || v < 64 || (v & (v - 1))) {
			net_err("queue_size=%s is not a power of two in 64..1024", val);
			return -EINVAL;
		}
		o->queue_size = (uint16_t)v;
		return 0;
	case K_QUEUES:
		if (decimal_parse(val, NULL, CONFIG_MAX_QUEUES, &v) || v < 1) {
			net_err("queues=%s is not in 1..%d", val, CONFIG_MAX_QUEUES);
			return -EINVAL;
		}
		/* libslirp is one thread's work: more pairs would only queue behind it. */
		if (o->kind == NET_USER && v > 1) {
			net_err("user: queues=%s: user networking has one queue pair (libslirp runs on one "
				"thread); use tap for more", val);
			return -EINVAL;
		}
		o->queues = (uint8_t)v;
		return 0;
	case K_VHOST:
		if (!strcmp(val, "on"))
			o->vhost = VHOST_ON;
		else if (!strcmp(val, "off"))
			o->vhost = VHOST_OFF;
		else if (!strcmp(val, "auto"))
			o->vhost = VHOST_AUTO;
		else {
			net_err("vhost=%s is not on, off or auto", val);
			return -EINVAL;
		}
		return 0;
	case K_NET: return net_parse(val, o);
	case K_HOST:
	case K_DNS:
	case K_DHCPSTART: {
		struct in_addr *a = k == K_HOST ? &o->host : k == K_DNS ? &o->dns : &o->dhcp_start;

		if (!ipv4_parse(val, a)) {
			net_err("%s=%s is not an IPv4 address", net_keys[k].name, val);
			return -EINVAL;
		}
		return 0;
	}
	case K_HOSTFWD: return hostfwd_add(val, o);
	case K_N: break;
	}
	return -EINVAL;
}

static int item_apply(char *item, struct net_opts *o, bool *seen)
{
	const char *kind = kind_name[o->kind];
	char *val = strchr(item, '=');
	int k;

	if (val)
		*val++ = '\0';
	for (k = 0; k < K_N; k++)
		if (!strcmp(item, net_keys[k].name) && (net_keys[k].kinds & (1u << o->kind)))
			break;
	if (k == K_N) {
		net_err("%s: unknown key \"%s\" (%s takes %s)", kind, item, kind,
			kind_keys[o->kind]);
		return -EINVAL;
	}
	if (!val || !*val) {
		net_err("%s: key %s needs a value (%s=...)", kind, item, item);
		return -EINVAL;
	}
	if (seen[k] && k != K_HOSTFWD) {
		net_err("%s: key %s is given twice", kind, item);
		return -EINVAL;
	}
	seen[k] = true;
	return key_apply((enum net_key)k, val, o);
}

int net_opts_parse(const char *spec, struct net_opts *out)
{
	bool seen[K_N] = { false };
	char *copy, *p, *kind, *item;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	copy = strdup(spec);
	if (!copy) {
		net_err("out of memory");
		return -ENOMEM;
	}
	p = copy;
	kind = strsep(&p, ",");
	if (!strcmp(kind, "none")) {
		bool bare = !p;

		free(copy);
		if (bare)
			return 1;
		net_err("none takes no options (\"%s\")", spec);
		return -EINVAL;
	} else if (!strcmp(kind, "tap")) {
		out->kind = NET_TAP;
	} else if (!strcmp(kind, "user")) {
		out->kind = NET_USER;
	} else {
		net_err("\"%s\" is not a network backend (use tap, user or none)", spec);
		ret = -EINVAL;
	}
	out->queues = 1;
	while (!ret && (item = strsep(&p, ","))) {
		if (!*item) {
			net_err("\"%s\" has an empty option (stray comma?)", spec);
			ret = -EINVAL;
		} else {
			ret = item_apply(item, out, seen);
		}
	}
	if (!ret && out->kind == NET_USER)
		ret = user_finish(out, seen);
	free(copy);
	return ret;
}
