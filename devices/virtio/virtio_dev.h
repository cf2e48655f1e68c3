/* virtio_dev.h: the contract between a virtio transport and a virtio device.
 *
 * A device (virtio-net) fills a struct virtio_dev_ops and never sees PCI; the transport
 * (virtio_pci.c) calls those ops and never sees networking. The transport gives each queue two
 * eventfds: a kick fd that becomes readable when the driver notifies the queue (KVM_IOEVENTFD on
 * the doorbell, or written by the transport for notifications it traps), and a call fd that the
 * device writes to interrupt the driver (irqfd on the queue's MSI-X route, or a transport poller
 * that sets the pending bit / ISR and raises INTx). vhost-net uses the same two fds. */
#ifndef MINIVMM_VIRTIO_DEV_H
#define MINIVMM_VIRTIO_DEV_H
#include <stdbool.h>
#include <stdint.h>
#include "devices/virtio/virtq.h"
#include "vmm/guest_mem.h"

struct virtio_dev;

struct virtio_dev_ops {
	/* Feature bits offered (VIRTIO_F_VERSION_1 is required by the modern transport). */
	uint64_t (*features)(struct virtio_dev *vdev);
	/* Driver features (already a subset of the offer). Return 0 to accept, -1 to refuse
	 * FEATURES_OK (a spec dependency is missing). */
	int (*set_features)(struct virtio_dev *vdev, uint64_t features);
	/* Device config space (the DEVICE_CFG capability), byte-addressed. */
	void (*config_read)(struct virtio_dev *vdev, uint32_t off, void *data, uint32_t len);
	void (*config_write)(struct virtio_dev *vdev, uint32_t off, const void *data, uint32_t len);
	/* DRIVER_OK: all enabled queues are set up in vdev->vq[]. Start the datapath. 0 or -1
	 * (the transport then sets NEEDS_RESET). Also after a stop for Bus Master Enable, with the
	 * queues as they were left. Runs on the lifecycle owner's thread (main), never on a vCPU,
	 * and may block (thread creation, vhost ioctls). */
	int (*start)(struct virtio_dev *vdev);
	/* Driver reset (status 0), Bus Master Enable cleared, or VMM exit: stop the datapath (no
	 * guest memory access after it returns); on a reset the transport then clears the queues.
	 * Same thread as start; may join the device's threads. */
	void (*stop)(struct virtio_dev *vdev);
	/* The MSI-X vector of a queue or config changed, or was masked/unmasked (vhost re-binds). */
	void (*irq_changed)(struct virtio_dev *vdev, int queue);
};

/* What the transport offers the device. */
struct virtio_transport_ops {
	/* Eventfd readable on each driver notification of queue q. */
	int (*kick_fd)(struct virtio_dev *vdev, int q);
	/* Eventfd the device (or vhost) writes 1 to interrupt the driver for queue q. The transport
	 * routes it: irqfd on the queue's MSI-X route while KVM can inject it, else its poller. */
	int (*call_fd)(struct virtio_dev *vdev, int q);
	/* Config space changed (link status): raise the config interrupt. */
	void (*config_changed)(struct virtio_dev *vdev);
	/* The device hit malformed guest input: set DEVICE_NEEDS_RESET and notify. */
	void (*needs_reset)(struct virtio_dev *vdev);
};

/* virtio-net's 16 queue pairs and its control queue (virtio_net.h). */
#define VIRTIO_MAX_QUEUES 33

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	const struct virtio_transport_ops *tops;
	void *transport;           /* the transport's state */
	void *priv;                /* the device's state */
	const struct guest_mem *mem;
	uint16_t device_id;        /* virtio device id (1 = net) */
	uint16_t num_queues;
	uint16_t queue_max;        /* largest queue size offered */
	uint16_t msix_vectors;     /* MSI-X table size; 0 = one per queue plus config */
	uint32_t config_len;       /* bytes of device config */
	uint64_t features;         /* negotiated (valid from FEATURES_OK) */
	struct virtq vq[VIRTIO_MAX_QUEUES];
};
#endif
