/* virtio_pci.h: the virtio 1.x modern PCI transport (virtio spec 4.1) for any struct virtio_dev.
 *
 * Modern-only device 0x1040 + device id. BAR 1 holds the MSI-X table and PBA; BAR 4 (64-bit,
 * prefetchable) holds the virtio structures found through vendor capabilities:
 *   0x0000 common cfg, 0x1000 ISR, 0x2000 device cfg, 0x3000 notify (queue q at +4*q).
 * Each queue has a kick eventfd (KVM_IOEVENTFD on its doorbell, or written by the transport for
 * notifications that trap) and a call eventfd: bound by KVM irqfd to the queue's MSI-X route while
 * that vector is unmasked, otherwise watched by the transport's poller, which sets the MSI-X
 * pending bit or ISR bit 0 + INTx. The transport never knows what the device does.
 *
 * Lifecycle: a vCPU never starts or stops the device. A DRIVER_OK or reset (status 0) write only
 * records the request and signals the lifecycle eventfd; the owner of the device's lifecycle (the
 * main loop in vmm/main.c, or a test) calls virtio_pci_lifecycle_run() when it is readable, which
 * builds the queues and calls ops->start / ops->stop (joining I/O threads, vhost ioctls) outside
 * the transport's register lock. Until a reset is done device_status reads the old, non-zero value
 * and every other common-config write is ignored: the driver polls until it reads 0 (4.1.4.3.2).
 * Clearing Bus Master Enable in the PCI command register stops a running device the same way (no
 * DMA without it); setting it again resumes it with its queues as they were. */
#ifndef MINIVMM_VIRTIO_PCI_H
#define MINIVMM_VIRTIO_PCI_H
#include <stdbool.h>
#include <stdint.h>

#include "devices/msix.h"
#include "devices/pci.h"
#include "devices/virtio/virtio_dev.h"

#define VIRTIO_PCI_VENDOR      0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040 /* 4.1.2.1: 0x1040 + virtio device id */
#define VIRTIO_PCI_SUBSYS_ID   0x1100

#define VIRTIO_PCI_MSIX_BAR    1
#define VIRTIO_PCI_BAR	       4
#define VIRTIO_PCI_BAR_SIZE    0x4000
#define VIRTIO_PCI_COMMON_OFF  0x0000
#define VIRTIO_PCI_ISR_OFF     0x1000
#define VIRTIO_PCI_DEVICE_OFF  0x2000
#define VIRTIO_PCI_NOTIFY_OFF  0x3000
#define VIRTIO_PCI_NOTIFY_MULT 4

/* The KVM calls the transport makes, a seam for tests. NULL members / a NULL table mean the real
 * ones: ioeventfd_mmio(), irq_irqfd(), msix_kvm_irq. */
struct virtio_pci_kvm_ops {
	int (*ioeventfd)(int efd, uint64_t addr, uint32_t len, bool assign);
	int (*irqfd)(int efd, uint32_t gsi, int assign);
	const struct msix_kvm_ops *msix;
};

/* Wraps vdev (ops, device_id, num_queues, queue_max, config_len, mem already filled) in a PCI
 * function with the given class code and registers it; sets vdev->tops and vdev->transport.
 * Needs irq_init() and ioeventfd_init() done first (unless kops fakes them). 0 or -errno. */
int virtio_pci_create(struct virtio_dev *vdev, uint32_t class_code, const struct virtio_pci_kvm_ops *kops);
/* Stops the device if running, stops the poller, releases fds and routes. The PCI function stays
 * registered until pci_reset_all(). */
void virtio_pci_destroy(struct virtio_dev *vdev);

struct pci_dev *virtio_pci_dev(struct virtio_dev *vdev);

/* The lifecycle eventfd: readable when a start or stop is pending ... */
int virtio_pci_lifecycle_fd(struct virtio_dev *vdev);
/* ... which this performs (reads the eventfd first). Runs on the lifecycle owner's thread (the
 * main thread), never on a vCPU; may block on the device's I/O thread. Does a bounded number of
 * transitions per call and signals the eventfd again if work is left. */
void virtio_pci_lifecycle_run(struct virtio_dev *vdev);

/* The VM stopped (true) or resumes (false), e.g. QMP stop/cont: the device's datapath stops and
 * later resumes where it left off, like a Bus Master Enable round trip. Lifecycle owner only;
 * returns once done. */
void virtio_pci_pause(struct virtio_dev *vdev, bool paused);

/* The poller, for call fds KVM cannot deliver directly (masked vector, INTx mode):
 * an epoll fd that is readable when virtio_pci_poll() has work, for embedding in a loop ... */
int virtio_pci_poll_fd(struct virtio_dev *vdev);
/* ... handling readable call fds, waiting up to timeout_ms. Returns events handled, or -ECANCELED
 * once virtio_pci_destroy() began. */
int virtio_pci_poll(struct virtio_dev *vdev, int timeout_ms);
/* ... or a thread of its own named `name` (the transport does not know the device; the caller
 * says e.g. "net0-irq"), running virtio_pci_poll() until destroy. 0 or -errno. */
int virtio_pci_poller_start(struct virtio_dev *vdev, const char *name);
#endif
