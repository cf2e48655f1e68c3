/* net_loop.h: the userspace datapath of virtio-net: each queue pair's I/O thread moves frames between
 * the pair's rx/tx virtqueues and its queue of the backend with readv/writev straight on guest
 * memory.
 *
 * It watches the TX kick fd, the RX kick fd and the backend fd on the pair's loop (the backend fd
 * only while the pair's tap queue is attached: a detached one polls as an error). TX chains are
 * written to the backend as they are (vnet header first); RX frames are read into one chain, or
 * with MRG_RXBUF into as many chains as the frame needs (5.1.6.4). RX chains popped ahead of need
 * are kept for the next frames; a stop (Bus Master off, QMP stop, reset) gives them back to the
 * ring, with a TX chain held for a full backend, so the next start pops the same chains again (a
 * frame read aside for them is dropped). One interrupt per drained batch, and kicks are
 * suppressed while a queue is being drained (2.7.10).
 *
 * A chain the device cannot use (malformed, a TX chain with a writable part or shorter than the
 * vnet header, an RX buffer with a readable part or shorter than the header) breaks the queue:
 * NEEDS_RESET, and the queue is left alone until the driver resets the device. */
#ifndef MINIVMM_NET_LOOP_H
#define MINIVMM_NET_LOOP_H
#include <stdbool.h>

#include "devices/virtio/virtio_net.h"

extern const struct net_datapath_ops net_loop_datapath;

/* Work per round. Every step of a round counts against its budget, whatever its outcome (a frame
 * moved or dropped, a chain found unusable, buffers that raced a re-enabled kick), so no guest
 * can keep the I/O thread in one round. */
#define NET_TX_BUDGET 256 /* chains per TX round before the RX side gets a turn */
#define NET_RX_BUDGET 256 /* steps per RX round (an fd backend's loop comes back while readable) */
/* And at most about this many frame bytes per round either way (vhost-net's weight, 512 KiB), so
 * that a stream of 64 KiB frames one way does not hold the other queue for 16 MiB. */
#define NET_BYTE_BUDGET 0x80000

struct net_loop;

/* The datapath state of pair p for the negotiated features, not attached to any loop (tests drive
 * it with the functions below; start() attaches it). NULL on allocation failure. */
struct net_loop *net_loop_new(struct net_pair *p);
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
