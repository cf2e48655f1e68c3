/* config.h: what the command line asks for; cli.c fills it, everything else reads it. */
#ifndef MINIVMM_CONFIG_H
#define MINIVMM_CONFIG_H
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#define CONFIG_MAX_NICS 4
#define CONFIG_MAX_HOSTFWD 16
#define CONFIG_MAX_CPUS 64
#define CONFIG_MIN_MEM (64ULL << 20)
#define CONFIG_MAX_MEM (64ULL << 30)
#define CONFIG_ID_MAX 32 /* --net id=: QMP's name for the NIC */
#define CONFIG_MAX_QUEUES 16 /* --net tap,queues=: queue pairs of one NIC (tap queues) */

enum net_kind { NET_TAP, NET_USER };
enum vhost_mode { VHOST_OFF, VHOST_ON, VHOST_AUTO };

struct hostfwd {
	bool udp;
	struct in_addr host_addr; /* INADDR_ANY when omitted */
	uint16_t host_port;
	struct in_addr guest_addr; /* 0 = the DHCP address */
	uint16_t guest_port;
};

struct net_opts {
	enum net_kind kind;
	/* tap */
	char ifname[16];          /* "" = let the kernel pick */
	char id[CONFIG_ID_MAX];   /* "" = none: QMP then knows it as netN only */
	enum vhost_mode vhost;
	/* both */
	uint8_t mac[6];
	bool mac_set;
	uint16_t mtu;             /* 0 = not offered */
	uint16_t queue_size;      /* rx/tx queue size offered, 0 = NET_QUEUE_SIZE */
	uint8_t queues;           /* queue pairs (tap queues), 1..CONFIG_MAX_QUEUES; 0 = 1 */
	/* user */
	struct in_addr net, mask, host, dns, dhcp_start;
	struct hostfwd fwd[CONFIG_MAX_HOSTFWD];
	int nfwd;
};

struct vm_config {
	const char *kernel;
	const char *initrd;       /* NULL = none */
	const char *cmdline;
	uint64_t mem;             /* bytes */
	int cpus;
	struct net_opts nic[CONFIG_MAX_NICS];
	int nnics;
	bool no_net;              /* --net none */
	bool stats;
	const char *dump_dtb;     /* --dump-dtb FILE: write the device tree, do not run; NULL = run */
	const char *runas;        /* --runas USER: drop root to USER after setup; NULL = stay */
	bool seccomp;             /* --seccomp on|off */
	const char *qmp;          /* --qmp unix:PATH: the socket's path; NULL = no QMP */
};
#endif
