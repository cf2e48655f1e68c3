/*
 * net_opts.h: the --net SPEC mini-language, parsed into struct net_opts (vmm/config.h).
 *
 *   tap[,ifname=NAME][,mac=XX:XX:XX:XX:XX:XX][,mtu=N][,vhost=on|off|auto][,queue_size=N]
 *       [,queues=N]
 *   user[,net=A.B.C.D/NN][,host=A.B.C.D][,dns=A.B.C.D][,dhcpstart=A.B.C.D][,mac=..][,mtu=..]
 *       [,queue_size=N]
 *       [,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...
 *   none
 *
 * hostfwd follows QEMU's -netdev user syntax ("tcp::2222-:22", "udp:127.0.0.1:53-:53"); an
 * empty protocol means tcp, an empty host address INADDR_ANY, an empty guest address the
 * guest's DHCP address. user defaults: net 10.0.2.0/24, host .2, dns .3, dhcpstart .15 of net.
 * queue_size: the rx/tx ring size the device offers, a power of two in 64..1024 (default 1024).
 * queues: queue pairs (VIRTIO_NET_F_MQ), one tap queue each, 1..16 (default 1). user takes only 1:
 * libslirp runs on one thread, so a second pair would have nothing of its own to do.
 */
#ifndef MINIVMM_NET_OPTS_H
#define MINIVMM_NET_OPTS_H
#include <stdbool.h>
#include "vmm/config.h"

/*
 * Parses one SPEC. Returns 0 with *out filled, 1 for "none" (*out zeroed), or -EINVAL after
 * printing exactly one "minivmm: --net: ..." line that names the offending key and value.
 */
int net_opts_parse(const char *spec, struct net_opts *out);

/* True if both rules would listen on the same host socket (same protocol and port, and the same
 * address or either one bound to INADDR_ANY). */
bool hostfwd_overlap(const struct hostfwd *a, const struct hostfwd *b);

#endif
