/* fake_net.h: a virtio-net device as the unit tests of its datapaths (the userspace net_loop in
 * test_virtio_net.c, vhost-net in test_vhost_net.c) need it: three fake rings, a socketpair in
 * place of the tap, and a fake transport with an eventfd per queue for kicks and interrupts.
 *
 * The backend ("socketpair") sends and receives a SEQPACKET message per frame (vnet header +
 * frame), just as a tap does; `wire` is the far end, what the tap's network would see. It records
 * what the device asks of it (set_offloads() values, close() calls) and can pretend to be full
 * (eagain). Like a tap, recv() of a frame longer than the buffers offered returns the frame's whole
 * length (the rest is cut). The transport answers kick_fd/call_fd with the per-queue eventfds and counts
 * needs_reset() calls.
 *
 * Typical use:
 *
 *     struct fake_net *t = fake_net_new(16, 1 << 20);
 *     t->be_offloads = ...;                            // what the "tap" can offload
 *     struct net_opts o = {.kind = NET_TAP, .ifname = "tap7"};
 *     ck_assert_int_eq(fake_net_create(t, &o), 0);     // virtio_net_init_backend()
 *     fake_net_negotiate(t, features);                 // what the driver does before DRIVER_OK
 *     ... fake_ring_send(&t->fr[NET_Q_TX], ...), write(t->kick[NET_Q_TX], ...), recv(t->wire) ...
 *     fake_net_free(t, true);
 *
 * fake_net_new_pairs() makes a device of several queue pairs (opts->queues must say as many): a
 * socketpair per pair (wires[p]; wire == wires[0]) and a backend whose queue_enable() records each
 * pair's attached state in attached[] and signals attach_fd (an eventfd) on every change.
 *
 * Misuse (out of fds, out of memory) fails the running Check test. */
#ifndef MINIVMM_FAKE_NET_H
#define MINIVMM_FAKE_NET_H
#include <stdbool.h>
#include <stdint.h>

#include "devices/net/net_backend.h"
#include "devices/virtio/virtio_net.h"
#include "tests/unit/fake_ring.h"

struct fake_net {
	struct fake_ring fr[NET_MAX_QUEUES]; /* the driver's side of each queue (2 * pairs + 1) */
	struct virtio_net n;
	int pairs;
	int wire;  /* the far end of the socketpair; -1 until fake_net_create() */
	int wires[NET_MAX_PAIRS]; /* each pair's far end (wires[0] == wire) */
	int be_fds[NET_MAX_PAIRS]; /* the device's ends */
	int mem_q; /* the queue whose ring memory is the device's guest memory (default 0) */
	int kick[NET_MAX_QUEUES], call[NET_MAX_QUEUES];
	/* queue_enable() (more than one pair): each pair's state, calls, an eventfd per change. */
	bool attached[NET_MAX_PAIRS];
	int attach_calls;
	int attach_fd;
	int needs_reset;    /* needs_reset() calls */
	int config_changes; /* config_changed() calls */
	/* The backend. */
	bool eagain;		  /* send() pretends the tap is full */
	uint64_t be_offloads;	  /* offload_features() answer */
	uint64_t offloads_set[8]; /* set_offloads() values, in order (the first 8) */
	int n_offloads_set;
	int be_closes;
	int recvs; /* recv() calls (bounded-work tests count them) */
};

/* Backend and transport ops over a struct fake_net (be->priv, vdev->transport), for tests that
 * build a device by hand. */
extern const struct net_backend_ops fake_net_backend_ops;
extern const struct virtio_transport_ops fake_net_transport_ops;

/* Allocates the rings (qsize entries, data_bytes of data area each) and the eventfds; no device
 * yet. */
struct fake_net *fake_net_new(uint16_t qsize, uint64_t data_bytes);
/* The same for a device of `pairs` queue pairs (2 * pairs + 1 rings). */
struct fake_net *fake_net_new_pairs(int pairs, uint16_t qsize, uint64_t data_bytes);
/* Creates the socketpair and the device over it (virtio_net_init_backend() with ring mem_q's
 * memory as guest memory) and returns its result; on success the device uses the fake transport.
 * On failure the device has already closed its end of the socketpair. */
int fake_net_create(struct fake_net *t, const struct net_opts *opts);
/* Attaches every ring and sets `features` as the driver would before DRIVER_OK. */
void fake_net_negotiate(struct fake_net *t, uint64_t features);
/* virtio_net_free() if the device was created (and not freed yet), then frees everything else. */
void fake_net_free(struct fake_net *t, bool created);
#endif
