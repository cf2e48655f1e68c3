/* net_loop.h: the userspace datapath of virtio-net: the I/O thread moves frames between the rx/tx
 * virtqueues and the backend with readv/writev straight on guest memory.
 *
 * It watches the TX kick fd, the RX kick fd and the backend fd on the device's loop. TX chains are
 * written to the backend as they are (vnet header first); RX frames are read into one chain, or
 * with MRG_RXBUF into as many chains as the frame needs (5.1.6.4). One interrupt per drained
 * batch, and kicks are suppressed while a queue is being drained (2.7.10). */
#ifndef MINIVMM_NET_LOOP_H
#define MINIVMM_NET_LOOP_H
#include <stdbool.h>

#include "devices/virtio/virtio_net.h"

extern const struct net_datapath_ops net_loop_datapath;

struct net_loop;

/* The datapath state for n's negotiated features, not attached to any loop (tests drive it with
 * the functions below; start() attaches it). NULL on allocation failure. */
struct net_loop *net_loop_new(struct virtio_net *n);
void net_loop_free(struct net_loop *nl);

/* One TX round: sends available chains (up to a budget; more work re-kicks the TX eventfd).
 * Returns the chains completed. */
int net_loop_tx(struct net_loop *nl);
/* One RX round: delivers backend frames while RX buffers last. Returns the frames handled
 * (delivered or dropped). */
int net_loop_rx(struct net_loop *nl);
/* What the RX kick does: the driver added buffers, so resume reading the backend. */
int net_loop_rx_kick(struct net_loop *nl);
/* True while no RX buffers are left and the backend is not read (waiting for the RX kick). */
bool net_loop_rx_starved(const struct net_loop *nl);
#endif
