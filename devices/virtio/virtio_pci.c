/* virtio_pci.c: the virtio 1.x modern PCI transport (virtio spec 4.1). */
#include "devices/virtio/virtio_pci.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/ioeventfd.h"
#include "vmm/irq.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"
#include "vmm/vm.h"

#define POLL_STOP	     UINT32_MAX
#define VIRTIO_PCI_ISR_QUEUE 0x1 /* 4.1.4.5: ISR bit 0, queue interrupt */

struct vpci_queue {
	uint16_t size;	 /* queue_size: starts at queue_max, the driver may shrink it */
	uint16_t vector; /* queue_msix_vector */
	bool enabled;	 /* queue_enable */
	uint64_t desc, driver, device;
	int kick_fd, call_fd;
	uint64_t ioev_addr; /* doorbell the kick fd is assigned to in KVM, 0 = none */
	int irqfd_gsi;	    /* GSI the call fd is bound to by irqfd, -1 = polled */
	bool polled;	    /* call fd is in the poller's epoll set */
};

struct virtio_pci {
	struct pci_dev pci;
	struct msix msix;
	struct virtio_dev *vdev;
	struct virtio_pci_kvm_ops kops;
	/* Guards the register and lifecycle state below. Held only for register work: device ops
	 * that wait on other threads (start, stop) run outside it, on the main thread
	 * (virtio_pci_lifecycle_run), so a vCPU taking it never waits on a datapath. Device threads
	 * only use lock-free paths (kick_fd, call_fd) or the atomics (needs_reset, isr,
	 * config_generation). Lock order: the PCI config lock, then this, then the MSI-X lock. */
	pthread_mutex_t lock;
	uint32_t dfselect, gfselect;
	uint64_t driver_features;
	uint16_t msix_config;
	uint8_t status;		   /* without NEEDS_RESET, which lives in needs_reset */
	bool needs_reset;	   /* atomic */
	uint8_t config_generation; /* atomic */
	uint8_t isr;		   /* atomic */
	uint16_t queue_select;
	/* Lifecycle (virtio_pci.h): vCPUs record what the driver asked for, the main thread brings
	 * the device there. */
	int lc_fd;	    /* eventfd: a lifecycle request is pending */
	bool reset_pending; /* status 0 written while the device may run; status reads the old value */
	bool failed;	    /* DRIVER_OK could not be honoured (NEEDS_RESET) until the next reset */
	bool vqs_built;	    /* vdev->vq[] built from the queue registers since the last reset */
	bool busy;	    /* the main thread is in ops->start/stop, outside the lock */
	bool bus_master;    /* PCI_COMMAND_MASTER: without it the device does no DMA (stopped) */
	bool vm_paused;	    /* the VM is stopped (QMP stop): the device quiesces with it */
	bool started;	    /* ops->start succeeded and ops->stop not yet called */
	struct vpci_queue q[VIRTIO_MAX_QUEUES];
	uint8_t cfg_cap; /* offset of the VIRTIO_PCI_CAP_PCI_CFG capability */
	int epfd, stop_fd;
	pthread_t poller;
	bool poller_running;
	char poller_name[16]; /* its thread name (comm: 15 characters and the NUL) */
};

static struct virtio_pci *vpci_of(struct virtio_dev *vdev)
{
	return vdev->transport;
}

static uint64_t offered_features(struct virtio_pci *vp)
{
	/* The modern transport is VERSION_1 by definition (4.1.2.1). */
	return vp->vdev->ops->features(vp->vdev) | (1ull << VIRTIO_F_VERSION_1);
}

static uint8_t status_read(struct virtio_pci *vp)
{
	bool nr = __atomic_load_n(&vp->needs_reset, __ATOMIC_ACQUIRE);
	return vp->status | (nr ? VIRTIO_CONFIG_S_NEEDS_RESET : 0);
}

/* --- interrupts --- */

static void poll_watch(struct virtio_pci *vp, int q, bool on)
{
	struct vpci_queue *vq = &vp->q[q];
	if (vq->polled == on)
		return;
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = q};
	epoll_ctl(vp->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, vq->call_fd, &ev);
	vq->polled = on;
}

/* Puts queue q's call fd where it can be delivered fastest: an irqfd on its vector's MSI route
 * while KVM may inject it directly, else the poller (pending bit, ISR + INTx). */
static void call_route(struct virtio_pci *vp, int q)
{
	struct vpci_queue *vq = &vp->q[q];
	int gsi = -1;
	if (vq->vector != VIRTIO_MSI_NO_VECTOR && msix_enabled(&vp->msix))
		gsi = msix_vector_gsi(&vp->msix, vq->vector);
	if (gsi == vq->irqfd_gsi)
		return;
	if (vq->irqfd_gsi >= 0) {
		vp->kops.irqfd(vq->call_fd, vq->irqfd_gsi, 0);
		vq->irqfd_gsi = -1;
		poll_watch(vp, q, true);
	}
	/* KVM injects at once if the fd already counts (irqfd assign), so nothing is lost. */
	if (gsi >= 0) {
		poll_watch(vp, q, false);
		if (vp->kops.irqfd(vq->call_fd, gsi, 1) == 0)
			vq->irqfd_gsi = gsi;
		else
			poll_watch(vp, q, true);
	}
}

/* 4.1.5.3 / 4.1.5.4: MSI-X message when enabled, else ISR bit + INTx. */
static void interrupt(struct virtio_pci *vp, uint16_t vector, uint8_t isr_bit)
{
	if (msix_enabled(&vp->msix)) {
		if (vector != VIRTIO_MSI_NO_VECTOR)
			msix_notify(&vp->msix, vector);
		return;
	}
	__atomic_fetch_or(&vp->isr, isr_bit, __ATOMIC_ACQ_REL);
	pci_intx(&vp->pci, 1);
}

static void config_interrupt(struct virtio_pci *vp)
{
	uint16_t vector = __atomic_load_n(&vp->msix_config, __ATOMIC_ACQUIRE);
	if (msix_enabled(&vp->msix)) {
		/* 4.1.4.5.1: the config bit is set before every configuration change notification,
		 * MSI-X or not (a driver may read ISR to learn what happened); INTx stays quiet. */
		__atomic_fetch_or(&vp->isr, VIRTIO_PCI_ISR_CONFIG, __ATOMIC_ACQ_REL);
		if (vector != VIRTIO_MSI_NO_VECTOR)
			msix_notify(&vp->msix, vector);
		return;
	}
	interrupt(vp, vector, VIRTIO_PCI_ISR_CONFIG);
}

static void on_msix_changed(void *opaque, int vector)
{
	struct virtio_pci *vp = opaque;
	uint64_t changed = 0;
	_Static_assert(VIRTIO_MAX_QUEUES <= 64, "one bit per queue in `changed`");
	pthread_mutex_lock(&vp->lock);
	for (int q = 0; q < vp->vdev->num_queues; q++) {
		if (vector >= 0 && vp->q[q].vector != vector)
			continue;
		call_route(vp, q);
		changed |= 1ull << q;
	}
	bool started = vp->started;
	pthread_mutex_unlock(&vp->lock);
	if (!started || !vp->vdev->ops->irq_changed)
		return;
	for (int q = 0; q < vp->vdev->num_queues; q++)
		if (changed & (1ull << q))
			vp->vdev->ops->irq_changed(vp->vdev, q);
}

/* --- doorbells --- */

/* Each doorbell's ioeventfd has length 0: it matches a write of any width at its address, with
 * no datamatch (each queue has an address of its own), and KVM then also puts it on its fast MMIO
 * bus (virt/kvm/eventfd.c, kvm_assign_ioeventfd), where a VMX EPT-misconfig exit signals the
 * eventfd without decoding the instruction. With any other length every kick is decoded and
 * emulated first. */
#define KICK_IOEVENTFD_LEN 0

/* Keeps each queue's ioeventfd on its doorbell inside BAR 4 wherever the guest put the BAR. */
static void kick_sync(struct virtio_pci *vp)
{
	const struct pci_bar *b = &vp->pci.bar[VIRTIO_PCI_BAR];
	for (int q = 0; q < vp->vdev->num_queues; q++) {
		struct vpci_queue *vq = &vp->q[q];
		uint64_t want = b->mapped ? b->addr + VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT * q : 0;
		if (want == vq->ioev_addr)
			continue;
		if (vq->ioev_addr)
			vp->kops.ioeventfd(vq->kick_fd, vq->ioev_addr, KICK_IOEVENTFD_LEN, false);
		vq->ioev_addr = 0;
		/* Linux writes the 16-bit queue index there; writes KVM does not catch trap and are
		 * signalled in vpci_bar_io(). */
		if (want && vp->kops.ioeventfd(vq->kick_fd, want, KICK_IOEVENTFD_LEN, true) == 0)
			vq->ioev_addr = want;
	}
}

static void fd_drain(int fd)
{
	uint64_t v;
	while (read(fd, &v, sizeof(v)) > 0)
		;
}

/* --- device status --- */

static void queue_init_state(struct virtio_pci *vp, int q)
{
	struct vpci_queue *vq = &vp->q[q];
	vq->size = vp->vdev->queue_max;
	vq->vector = VIRTIO_MSI_NO_VECTOR;
	vq->enabled = false;
	vq->desc = vq->driver = vq->device = 0;
}

static void lifecycle_signal(struct virtio_pci *vp)
{
	eventfd_write(vp->lc_fd, 1);
}

/* 4.1.4.3.1: the register side of a reset (status 0); the device is not running. */
static void vpci_reset(struct virtio_pci *vp)
{
	struct virtio_dev *vdev = vp->vdev;
	for (int q = 0; q < vdev->num_queues; q++) {
		virtq_reset(&vdev->vq[q]);
		queue_init_state(vp, q);
		call_route(vp, q);
		fd_drain(vp->q[q].kick_fd);
		fd_drain(vp->q[q].call_fd);
	}
	vp->dfselect = vp->gfselect = 0;
	vp->driver_features = 0;
	vdev->features = 0;
	__atomic_store_n(&vp->msix_config, VIRTIO_MSI_NO_VECTOR, __ATOMIC_RELEASE);
	vp->queue_select = 0;
	vp->status = 0;
	vp->reset_pending = vp->failed = vp->vqs_built = false;
	__atomic_store_n(&vp->needs_reset, false, __ATOMIC_RELEASE);
	/* 4.1.4.3.1: config_generation must differ across a reset so a driver re-reads config. */
	__atomic_fetch_add(&vp->config_generation, 1, __ATOMIC_ACQ_REL);
	__atomic_store_n(&vp->isr, 0, __ATOMIC_RELEASE);
	pci_intx(&vp->pci, 0);
}

static void vpci_needs_reset(struct virtio_pci *vp)
{
	/* 2.1.2: set DEVICE_NEEDS_RESET and send a configuration change notification. */
	__atomic_store_n(&vp->needs_reset, true, __ATOMIC_RELEASE);
	config_interrupt(vp);
}

/* A driver broke the rules (2.1.2): counted, rate-limited, then NEEDS_RESET. */
static void vpci_driver_error(struct virtio_pci *vp, const char *what)
{
	LOG_GUEST("virtio_driver_error", "virtio-pci %02x.0: %s: device needs reset", vp->pci.slot, what);
	vpci_needs_reset(vp);
}

/* 3.1.1 step 5, 2.2.1: FEATURES_OK sticks only for a subset of the offer that includes
 * VERSION_1 and that the device accepts. */
static bool features_acceptable(struct virtio_pci *vp)
{
	uint64_t f = vp->driver_features;
	if (f & ~offered_features(vp))
		return false;
	if (!(f & (1ull << VIRTIO_F_VERSION_1)))
		return false;
	if (vp->vdev->ops->set_features && vp->vdev->ops->set_features(vp->vdev, f) != 0)
		return false;
	vp->vdev->features = f;
	return true;
}

/* DRIVER_OK: the main thread starts the device (virtio_pci_lifecycle_run). */
static void driver_ok(struct virtio_pci *vp)
{
	if (!(vp->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		vp->failed = true;
		vpci_driver_error(vp, "DRIVER_OK without FEATURES_OK");
		return;
	}
	lifecycle_signal(vp);
}

static void status_write(struct virtio_pci *vp, uint8_t v)
{
	if (v == 0) {
		/* A device that runs, or may be starting, is stopped by the main thread; until then
		 * device_status reads the old value and the driver keeps polling (4.1.4.3.2). One
		 * that cannot run is reset here: it is register work only. */
		if (vp->started || vp->busy || (vp->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
			vp->reset_pending = true;
			lifecycle_signal(vp);
		} else {
			vpci_reset(vp);
		}
		return;
	}
	uint8_t old = vp->status;
	uint8_t neu = v & ~VIRTIO_CONFIG_S_NEEDS_RESET; /* the device's bit, not the driver's */
	if (old & ~neu) {
		/* 2.1.1, 3.1.1: only a reset clears status bits. Taking one back (DRIVER_OK,
		 * FEATURES_OK) would re-open what the running device relies on: it is a driver
		 * error, and nothing else changes. */
		vpci_driver_error(vp, "status bits cleared without a reset");
		return;
	}
	if ((neu & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !features_acceptable(vp))
		neu &= ~VIRTIO_CONFIG_S_FEATURES_OK;
	vp->status = neu;
	if ((neu & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK))
		driver_ok(vp);
}

/* --- lifecycle: the main thread starts and stops the device --- */

/* Whether the device should run: the driver set DRIVER_OK, no reset is waiting, the queues could
 * be set up, and the function may master the bus. A bus-master stop keeps the queues as they are
 * (vqs_built): setting the bit again resumes where the device left off, as QEMU does. */
static bool want_running(struct virtio_pci *vp)
{
	return (vp->status & VIRTIO_CONFIG_S_DRIVER_OK) && !vp->reset_pending && !vp->failed &&
	       vp->bus_master && !vp->vm_paused;
}

/* vdev->vq[] from the queue registers, once per DRIVER_OK: every enabled queue must be valid in
 * guest memory before the device runs. */
static bool queues_build(struct virtio_pci *vp)
{
	struct virtio_dev *vdev = vp->vdev;
	for (int q = 0; q < vdev->num_queues; q++) {
		struct vpci_queue *vq = &vp->q[q];
		virtq_reset(&vdev->vq[q]);
		if (vq->enabled && virtq_init(&vdev->vq[q], vdev->mem, vq->size, vq->desc, vq->driver,
					      vq->device, vdev->features) != 0)
			return false;
	}
	vp->vqs_built = true;
	return true;
}

/* Transitions per call: a guest flipping its requests cannot keep the main loop here. */
#define LIFECYCLE_STEPS 4

int virtio_pci_lifecycle_fd(struct virtio_dev *vdev)
{
	return vpci_of(vdev)->lc_fd;
}

void virtio_pci_lifecycle_run(struct virtio_dev *vdev)
{
	struct virtio_pci *vp = vpci_of(vdev);
	fd_drain(vp->lc_fd);
	for (int step = 0;; step++) {
		pthread_mutex_lock(&vp->lock);
		bool want = want_running(vp);
		if (want == vp->started) {
			if (vp->reset_pending)
				vpci_reset(vp);
			pthread_mutex_unlock(&vp->lock);
			return;
		}
		if (step == LIFECYCLE_STEPS) {
			lifecycle_signal(vp); /* come back after the main loop's other work */
			pthread_mutex_unlock(&vp->lock);
			return;
		}
		if (want && !vp->vqs_built && !queues_build(vp)) {
			vp->failed = true;
			vpci_driver_error(vp, "a queue does not fit in guest memory");
			pthread_mutex_unlock(&vp->lock);
			continue;
		}
		vp->busy = true;
		pthread_mutex_unlock(&vp->lock);
		int r = 0;
		if (want)
			r = vdev->ops->start(vdev);
		else
			vdev->ops->stop(vdev);
		pthread_mutex_lock(&vp->lock);
		vp->busy = false;
		if (r == 0) {
			vp->started = want;
		} else {
			vp->failed = true;
			vpci_needs_reset(vp);
		}
		pthread_mutex_unlock(&vp->lock);
	}
}

/* --- common configuration (4.1.4.3) --- */

#define COMMON_SIZE sizeof(struct virtio_pci_common_cfg)

static void put(uint8_t *img, size_t off, size_t len, uint64_t v)
{
	for (size_t i = 0; i < len; i++)
		img[off + i] = v >> (8 * i);
}

static uint64_t get(const uint8_t *img, size_t off, size_t len)
{
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++)
		v |= (uint64_t)img[off + i] << (8 * i);
	return v;
}

#define F(field)     offsetof(struct virtio_pci_common_cfg, field)
#define FSIZE(field) sizeof(((struct virtio_pci_common_cfg *)0)->field)

static void common_image(struct virtio_pci *vp, uint8_t *img)
{
	memset(img, 0, COMMON_SIZE);
	uint64_t off = offered_features(vp);
	put(img, F(device_feature_select), 4, vp->dfselect);
	put(img, F(device_feature), 4, vp->dfselect < 2 ? off >> (32 * vp->dfselect) : 0);
	put(img, F(guest_feature_select), 4, vp->gfselect);
	put(img, F(guest_feature), 4, vp->gfselect < 2 ? vp->driver_features >> (32 * vp->gfselect) : 0);
	put(img, F(msix_config), 2, vp->msix_config);
	put(img, F(num_queues), 2, vp->vdev->num_queues);
	put(img, F(device_status), 1, status_read(vp));
	put(img, F(config_generation), 1, __atomic_load_n(&vp->config_generation, __ATOMIC_ACQUIRE));
	put(img, F(queue_select), 2, vp->queue_select);
	if (vp->queue_select >= vp->vdev->num_queues)
		return; /* queue_size 0: no such queue */
	const struct vpci_queue *vq = &vp->q[vp->queue_select];
	put(img, F(queue_size), 2, vq->size);
	put(img, F(queue_msix_vector), 2, vq->vector);
	put(img, F(queue_enable), 2, vq->enabled);
	put(img, F(queue_notify_off), 2, vp->queue_select);
	put(img, F(queue_desc_lo), 8, vq->desc);
	put(img, F(queue_avail_lo), 8, vq->driver);
	put(img, F(queue_used_lo), 8, vq->device);
}

/* queue_enable = 1: the ring must fit the 2.7 rules (power-of-two size, alignment, inside guest
 * RAM) now, or the device needs a reset and will not start (a driver error, 2.1.2). */
static void queue_enable(struct virtio_pci *vp, int q)
{
	struct vpci_queue *vq = &vp->q[q];
	struct virtq probe;
	if (virtq_init(&probe, vp->vdev->mem, vq->size, vq->desc, vq->driver, vq->device, 0) != 0) {
		vp->failed = true;
		vpci_driver_error(vp, "queue enabled with a bad size or ring address");
		return;
	}
	vq->enabled = true;
}

static uint16_t vector_checked(struct virtio_pci *vp, uint32_t v)
{
	/* 4.1.5.1.2: a vector the device cannot map reads back NO_VECTOR. */
	return v < vp->msix.nvec ? v : VIRTIO_MSI_NO_VECTOR;
}

static void set_half(uint64_t *r, unsigned hi, uint32_t v)
{
	*r = hi ? (*r & 0xffffffffull) | (uint64_t)v << 32 : (*r & ~0xffffffffull) | v;
}

/* One field of the common config, with its new value; returns a queue whose vector changed. */
static int common_field_write(struct virtio_pci *vp, size_t f, uint64_t v)
{
	uint16_t qs = vp->queue_select;
	struct vpci_queue *vq = qs < vp->vdev->num_queues ? &vp->q[qs] : NULL;
	/* 4.1.4.3.2: no reconfiguring an enabled queue, and none at all once DRIVER_OK is set
	 * (3.1.1: queue setup comes before it). The vector may change at any time. */
	bool locked = vq && (vq->enabled || (vp->status & VIRTIO_CONFIG_S_DRIVER_OK));
	switch (f) {
	case F(device_feature_select):
		vp->dfselect = v;
		break;
	case F(guest_feature_select):
		vp->gfselect = v;
		break;
	case F(guest_feature):
		if (vp->gfselect < 2 && !(vp->status & VIRTIO_CONFIG_S_FEATURES_OK))
			set_half(&vp->driver_features, vp->gfselect, v);
		break;
	case F(msix_config):
		__atomic_store_n(&vp->msix_config, vector_checked(vp, v), __ATOMIC_RELEASE);
		break;
	case F(device_status):
		status_write(vp, v);
		break;
	case F(queue_select):
		vp->queue_select = v;
		break;
	case F(queue_size):
		/* 2.7: split queue sizes are powers of two; the driver may only shrink. */
		if (vq && !locked && v && !(v & (v - 1)) && v <= vp->vdev->queue_max)
			vq->size = v;
		break;
	case F(queue_msix_vector):
		if (vq) {
			vq->vector = vector_checked(vp, v);
			call_route(vp, qs);
			return qs;
		}
		break;
	case F(queue_enable):
		/* 4.1.4.3.2: writing 0 is not allowed, and is ignored. */
		if (vq && !locked && v == 1)
			queue_enable(vp, qs);
		break;
	case F(queue_desc_lo):
	case F(queue_desc_hi):
		if (vq && !locked)
			set_half(&vq->desc, f == F(queue_desc_hi), v);
		break;
	case F(queue_avail_lo):
	case F(queue_avail_hi):
		if (vq && !locked)
			set_half(&vq->driver, f == F(queue_avail_hi), v);
		break;
	case F(queue_used_lo):
	case F(queue_used_hi):
		if (vq && !locked)
			set_half(&vq->device, f == F(queue_used_hi), v);
		break;
	default: /* read-only fields */
		break;
	}
	return -1;
}

static const struct {
	uint8_t off, len;
} common_fields[] = {
    {F(device_feature_select), 4}, {F(device_feature), 4},
    {F(guest_feature_select), 4},  {F(guest_feature), 4},
    {F(msix_config), 2},	   {F(num_queues), 2},
    {F(device_status), 1},	   {F(config_generation), 1},
    {F(queue_select), 2},	   {F(queue_size), 2},
    {F(queue_msix_vector), 2},	   {F(queue_enable), 2},
    {F(queue_notify_off), 2},	   {F(queue_desc_lo), 4},
    {F(queue_desc_hi), 4},	   {F(queue_avail_lo), 4},
    {F(queue_avail_hi), 4},	   {F(queue_used_lo), 4},
    {F(queue_used_hi), 4},
};

/* Any width and alignment: the access is applied to an image of the registers and each field it
 * touched is written with its new value (drivers use the natural widths, 4.1.3.1). */
static int common_access(struct virtio_pci *vp, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	uint8_t img[COMMON_SIZE];
	if (off >= COMMON_SIZE) {
		if (!is_write)
			memset(data, 0, len);
		return -1;
	}
	uint32_t n = off + len > COMMON_SIZE ? COMMON_SIZE - off : len;
	common_image(vp, img);
	if (!is_write) {
		memset(data, 0, len);
		memcpy(data, img + off, n);
		return -1;
	}
	/* 4.1.4.3.2: after writing 0 the driver waits for status 0 before touching anything. */
	if (vp->reset_pending)
		return -1;
	memcpy(img + off, data, n);
	int vq_changed = -1;
	for (size_t i = 0; i < sizeof(common_fields) / sizeof(common_fields[0]); i++) {
		size_t f = common_fields[i].off, fl = common_fields[i].len;
		if (f + fl <= off || f >= off + n)
			continue;
		int r = common_field_write(vp, f, get(img, f, fl));
		if (r >= 0)
			vq_changed = r;
	}
	return vq_changed;
}

/* --- BAR 4 --- */

static void vpci_bar_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_pci *vp = opaque;
	struct virtio_dev *vdev = vp->vdev;
	if (off >= VIRTIO_PCI_NOTIFY_OFF) {
		uint64_t n = off - VIRTIO_PCI_NOTIFY_OFF;
		/* A doorbell write KVM did not catch (odd width, PCI_CFG window, no ioeventfd). */
		if (is_write && n % VIRTIO_PCI_NOTIFY_MULT == 0 &&
		    n / VIRTIO_PCI_NOTIFY_MULT < vdev->num_queues)
			eventfd_write(vp->q[n / VIRTIO_PCI_NOTIFY_MULT].kick_fd, 1);
		if (!is_write)
			memset(data, 0, len);
	} else if (off >= VIRTIO_PCI_DEVICE_OFF) {
		/* Device config runs outside the transport lock: the device has its own. */
		uint64_t o = off - VIRTIO_PCI_DEVICE_OFF;
		bool in = o + len <= vdev->config_len;
		if (is_write && in && vdev->ops->config_write)
			vdev->ops->config_write(vdev, o, data, len);
		else if (!is_write && in && vdev->ops->config_read)
			vdev->ops->config_read(vdev, o, data, len);
		else if (!is_write)
			memset(data, 0, len);
	} else if (off >= VIRTIO_PCI_ISR_OFF) {
		if (is_write)
			return;
		memset(data, 0, len);
		if (off == VIRTIO_PCI_ISR_OFF) {
			/* 4.1.4.5: reading ISR clears it and deasserts INTx. Setters OR the bit in
			 * before raising the line, so a bit that arrived after the exchange raises it
			 * again here or by its own pci_intx(). */
			data[0] = __atomic_exchange_n(&vp->isr, 0, __ATOMIC_ACQ_REL);
			pci_intx(&vp->pci, 0);
			if (__atomic_load_n(&vp->isr, __ATOMIC_ACQUIRE) && !msix_enabled(&vp->msix))
				pci_intx(&vp->pci, 1);
		}
	} else {
		pthread_mutex_lock(&vp->lock);
		int q = common_access(vp, off, data, len, is_write);
		bool started = vp->started;
		pthread_mutex_unlock(&vp->lock);
		if (q >= 0 && started && vdev->ops->irq_changed)
			vdev->ops->irq_changed(vdev, q);
	}
}

/* --- config space hooks: MSI-X control and the PCI_CFG window (4.1.4.9) --- */

static bool window_hit(struct virtio_pci *vp, uint32_t off, uint32_t len)
{
	uint32_t d = vp->cfg_cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
	return vp->cfg_cap && off < d + 4 && off + len > d;
}

/* Runs the BAR access the window describes, on the window's data bytes. Called under the PCI
 * config lock, which serialises window users. */
static void window_access(struct virtio_pci *vp, bool is_write)
{
	struct pci_dev *d = &vp->pci;
	uint8_t *c = &d->cfg[vp->cfg_cap];
	uint8_t bar = c[offsetof(struct virtio_pci_cap, bar)];
	uint32_t off = get(c, offsetof(struct virtio_pci_cap, offset), 4);
	uint32_t len = get(c, offsetof(struct virtio_pci_cap, length), 4);
	uint8_t *data = c + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
	/* 4.1.4.9.1: lengths 1, 2, 4, aligned, within the BAR. Anything else does nothing. */
	if ((len != 1 && len != 2 && len != 4) || off % len || bar > 5 || !d->bar[bar].size ||
	    off + len > d->bar[bar].size)
		return;
	d->bar[bar].fn(d->bar[bar].opaque, off, data, len, is_write);
}

void virtio_pci_pause(struct virtio_dev *vdev, bool paused)
{
	struct virtio_pci *vp = vpci_of(vdev);
	pthread_mutex_lock(&vp->lock);
	vp->vm_paused = paused;
	pthread_mutex_unlock(&vp->lock);
	/* At once, on this (the lifecycle owner's) thread: when stop returns, nothing moves. */
	virtio_pci_lifecycle_run(vdev);
}

/* Bus Master Enable (PCI command bit 2) changed: a device that may not master the bus must not
 * touch guest memory (the datapath stops; kexec and driver unbind clear it). */
static void bus_master_update(struct virtio_pci *vp)
{
	bool on = pci_bus_master(&vp->pci);
	pthread_mutex_lock(&vp->lock);
	if (on != vp->bus_master) {
		vp->bus_master = on;
		if (vp->status & VIRTIO_CONFIG_S_DRIVER_OK)
			lifecycle_signal(vp);
	}
	pthread_mutex_unlock(&vp->lock);
}

static void vpci_cfg_write(struct pci_dev *d, uint32_t off, uint32_t len, uint32_t val)
{
	(void)val;
	struct virtio_pci *vp = d->opaque;
	if (off < PCI_COMMAND + 2 && off + len > PCI_COMMAND)
		bus_master_update(vp);
	msix_cfg_write(&vp->msix, off, len);
	if (window_hit(vp, off, len))
		window_access(vp, true);
}

static void vpci_cfg_read(struct pci_dev *d, uint32_t off, uint32_t len, uint32_t *val)
{
	struct virtio_pci *vp = d->opaque;
	if (!window_hit(vp, off, len))
		return;
	window_access(vp, false);
	*val = get(d->cfg, off, len);
}

static void vpci_bar_moved(struct pci_dev *d, int bar)
{
	struct virtio_pci *vp = d->opaque;
	if (bar != VIRTIO_PCI_BAR)
		return;
	pthread_mutex_lock(&vp->lock);
	kick_sync(vp);
	pthread_mutex_unlock(&vp->lock);
}

static const struct pci_dev_ops vpci_pci_ops = {
    .cfg_write = vpci_cfg_write,
    .cfg_read = vpci_cfg_read,
    .bar_moved = vpci_bar_moved,
};

/* --- what the device sees --- */

static int tops_kick_fd(struct virtio_dev *vdev, int q)
{
	return q >= 0 && q < vdev->num_queues ? vpci_of(vdev)->q[q].kick_fd : -1;
}

static int tops_call_fd(struct virtio_dev *vdev, int q)
{
	return q >= 0 && q < vdev->num_queues ? vpci_of(vdev)->q[q].call_fd : -1;
}

static void tops_config_changed(struct virtio_dev *vdev)
{
	struct virtio_pci *vp = vpci_of(vdev);
	/* 2.5.1: a driver re-reads config when the generation moved. */
	__atomic_fetch_add(&vp->config_generation, 1, __ATOMIC_ACQ_REL);
	config_interrupt(vp);
}

static void tops_needs_reset(struct virtio_dev *vdev)
{
	vpci_needs_reset(vpci_of(vdev));
}

static const struct virtio_transport_ops vpci_tops = {
    .kick_fd = tops_kick_fd,
    .call_fd = tops_call_fd,
    .config_changed = tops_config_changed,
    .needs_reset = tops_needs_reset,
};

/* --- the poller --- */

int virtio_pci_poll_fd(struct virtio_dev *vdev)
{
	return vpci_of(vdev)->epfd;
}

int virtio_pci_poll(struct virtio_dev *vdev, int timeout_ms)
{
	struct virtio_pci *vp = vpci_of(vdev);
	struct epoll_event ev[VIRTIO_MAX_QUEUES + 1];
	int n = epoll_wait(vp->epfd, ev, VIRTIO_MAX_QUEUES + 1, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	int handled = 0;
	for (int i = 0; i < n; i++) {
		uint32_t q = ev[i].data.u32;
		if (q == POLL_STOP)
			return -ECANCELED;
		uint64_t cnt;
		/* Nonblocking: the fd may have moved to an irqfd since epoll_wait returned. */
		if (read(vp->q[q].call_fd, &cnt, sizeof(cnt)) != sizeof(cnt))
			continue;
		pthread_mutex_lock(&vp->lock);
		interrupt(vp, vp->q[q].vector, VIRTIO_PCI_ISR_QUEUE);
		pthread_mutex_unlock(&vp->lock);
		handled++;
	}
	return handled;
}

static void *poller_main(void *opaque)
{
	struct virtio_dev *vdev = opaque;
	pthread_setname_np(pthread_self(), vpci_of(vdev)->poller_name);
	if (seccomp_enter(SECCOMP_IRQ_POLLER)) {
		vm_request_exit(EXIT_RUNTIME, "cannot install an interrupt poller's system call filter");
		return NULL;
	}
	while (virtio_pci_poll(vdev, -1) >= 0)
		;
	return NULL;
}

int virtio_pci_poller_start(struct virtio_dev *vdev, const char *name)
{
	struct virtio_pci *vp = vpci_of(vdev);
	snprintf(vp->poller_name, sizeof(vp->poller_name), "%s", name);
	int r = pthread_create(&vp->poller, NULL, poller_main, vdev);
	if (r)
		return -r;
	vp->poller_running = true;
	return 0;
}

/* --- creation --- */

static int ioeventfd_real(int efd, uint64_t addr, uint32_t len, bool assign)
{
	return ioeventfd_mmio(efd, addr, len, assign);
}

static void cap_add(struct virtio_pci *vp, uint8_t type, uint32_t off, uint32_t len, uint8_t *out)
{
	struct virtio_pci_notify_cap c = {0};
	uint8_t size = sizeof(struct virtio_pci_cap);
	if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
		size = sizeof(struct virtio_pci_notify_cap);
		c.notify_off_multiplier = VIRTIO_PCI_NOTIFY_MULT;
	} else if (type == VIRTIO_PCI_CAP_PCI_CFG) {
		size = sizeof(struct virtio_pci_cfg_cap);
	}
	c.cap.cap_vndr = PCI_CAP_ID_VNDR;
	c.cap.cap_len = size;
	c.cap.cfg_type = type;
	c.cap.bar = type == VIRTIO_PCI_CAP_PCI_CFG ? 0 : VIRTIO_PCI_BAR;
	c.cap.offset = off;
	c.cap.length = len;
	uint8_t at = pci_cap_add(&vp->pci, &c, size);
	if (out)
		*out = at;
}

static void vpci_free(struct virtio_pci *vp)
{
	for (int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (vp->q[q].kick_fd >= 0)
			close(vp->q[q].kick_fd);
		if (vp->q[q].call_fd >= 0)
			close(vp->q[q].call_fd);
	}
	if (vp->epfd >= 0)
		close(vp->epfd);
	if (vp->stop_fd >= 0)
		close(vp->stop_fd);
	if (vp->lc_fd >= 0)
		close(vp->lc_fd);
	msix_free(&vp->msix);
	pthread_mutex_destroy(&vp->lock);
	free(vp);
}

int virtio_pci_create(struct virtio_dev *vdev, uint32_t class_code, const struct virtio_pci_kvm_ops *kops)
{
	if (!vdev->ops || vdev->num_queues == 0 || vdev->num_queues > VIRTIO_MAX_QUEUES || !vdev->queue_max ||
	    vdev->queue_max > VIRTQ_MAX_SIZE || (vdev->queue_max & (vdev->queue_max - 1)) ||
	    vdev->config_len > 0x1000)
		return -EINVAL;
	struct virtio_pci *vp = calloc(1, sizeof(*vp));
	if (!vp)
		return -ENOMEM;
	vp->vdev = vdev;
	vp->kops.ioeventfd = kops && kops->ioeventfd ? kops->ioeventfd : ioeventfd_real;
	vp->kops.irqfd = kops && kops->irqfd ? kops->irqfd : irq_irqfd;
	vp->kops.msix = kops ? kops->msix : NULL;
	pthread_mutex_init(&vp->lock, NULL);
	vp->stop_fd = vp->lc_fd = -1;
	for (int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		vp->q[q].kick_fd = vp->q[q].call_fd = -1;
		vp->q[q].irqfd_gsi = -1;
	}
	int r;
	vp->epfd = epoll_create1(EPOLL_CLOEXEC);
	vp->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vp->lc_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vp->epfd < 0 || vp->stop_fd < 0 || vp->lc_fd < 0)
		goto fail_errno;
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = POLL_STOP};
	if (epoll_ctl(vp->epfd, EPOLL_CTL_ADD, vp->stop_fd, &ev))
		goto fail_errno;
	for (int q = 0; q < vdev->num_queues; q++) {
		vp->q[q].kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		vp->q[q].call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (vp->q[q].kick_fd < 0 || vp->q[q].call_fd < 0)
			goto fail_errno;
		queue_init_state(vp, q);
		poll_watch(vp, q, true);
	}
	vp->msix_config = VIRTIO_MSI_NO_VECTOR;

	struct pci_dev *d = &vp->pci;
	pci_dev_init(d, VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE_BASE + vdev->device_id, class_code, 1,
		     VIRTIO_PCI_VENDOR, VIRTIO_PCI_SUBSYS_ID);
	d->ops = &vpci_pci_ops;
	d->opaque = vp;
	/* By default one vector per queue plus one for config changes, as Linux asks for first;
	 * a device whose queues do not all take interrupts asks for fewer (msix_vectors). */
	r = msix_init(&vp->msix, d, VIRTIO_PCI_MSIX_BAR,
		      vdev->msix_vectors ? vdev->msix_vectors : vdev->num_queues + 1, vp->kops.msix, on_msix_changed,
		      vp);
	if (r)
		goto fail;
	pci_bar_init(d, VIRTIO_PCI_BAR, VIRTIO_PCI_BAR_SIZE, false, true, true, vpci_bar_io, vp);
	cap_add(vp, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF, COMMON_SIZE, NULL);
	cap_add(vp, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF, 1, NULL);
	if (vdev->config_len)
		cap_add(vp, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFF, vdev->config_len, NULL);
	cap_add(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF,
		VIRTIO_PCI_NOTIFY_MULT * vdev->num_queues, NULL);
	cap_add(vp, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, &vp->cfg_cap);
	if (!vp->cfg_cap) {
		r = -ENOSPC;
		goto fail;
	}
	/* 4.1.4.9: bar, offset, length and the data are the driver's to write. */
	pci_cfg_set_wmask(d, vp->cfg_cap + offsetof(struct virtio_pci_cap, bar), 1, 0xff);
	pci_cfg_set_wmask(d, vp->cfg_cap + offsetof(struct virtio_pci_cap, offset), 8, 0xff);
	pci_cfg_set_wmask(d, vp->cfg_cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data), 4, 0xff);

	vdev->transport = vp;
	vdev->tops = &vpci_tops;
	r = pci_register(d);
	if (r) {
		vdev->transport = NULL;
		vdev->tops = NULL;
		goto fail;
	}
	return 0;

fail_errno:
	r = -errno;
fail:
	vpci_free(vp);
	return r;
}

struct pci_dev *virtio_pci_dev(struct virtio_dev *vdev)
{
	return &vpci_of(vdev)->pci;
}

void virtio_pci_destroy(struct virtio_dev *vdev)
{
	struct virtio_pci *vp = vpci_of(vdev);
	if (!vp)
		return;
	eventfd_write(vp->stop_fd, 1);
	if (vp->poller_running)
		pthread_join(vp->poller, NULL);
	/* The vCPUs are gone: nothing else touches the lifecycle state now. */
	if (vp->started) {
		vdev->ops->stop(vdev);
		vp->started = false;
	}
	pthread_mutex_lock(&vp->lock);
	for (int q = 0; q < vdev->num_queues; q++) {
		struct vpci_queue *vq = &vp->q[q];
		if (vq->ioev_addr)
			vp->kops.ioeventfd(vq->kick_fd, vq->ioev_addr, KICK_IOEVENTFD_LEN, false);
		vq->ioev_addr = 0;
		if (vq->irqfd_gsi >= 0)
			vp->kops.irqfd(vq->call_fd, vq->irqfd_gsi, 0);
		vq->irqfd_gsi = -1;
	}
	pthread_mutex_unlock(&vp->lock);
	pci_unregister(&vp->pci);
	vdev->tops = NULL;
	vdev->transport = NULL;
	vpci_free(vp);
}
