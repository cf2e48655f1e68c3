/* fuzz_virtio_pci.c: libFuzzer target for everything a guest reaches of a virtio-net NIC: the
 * virtio-pci transport's BAR 4 (common cfg, ISR, device cfg, notify), the MSI-X table and PBA
 * (BAR 1), PCI config space (directly and through the conf1 ports) with the VIRTIO_PCI_CAP_PCI_CFG
 * window, interleaved with the device's datapath (its I/O thread's rounds, the transport's
 * interrupt poller) over fenced guest memory, the real virtio-net device on a socketpair
 * backend, and fake KVM ops (fake_kvm.h) for ioeventfds, irqfds and MSI routes.
 *
 * Input: offloads:u8 (backend offloads, as fuzz_net.c), then ops until the input ends:
 *   op:u8 % 16
 *    0,1 access  how:u8 off:u16 value:u64. how & 3: 0 BAR 4, 1 BAR 1, 2 config space,
 *                3 config space via conf1 (how & 0x40: the latch from value >> 32 instead of
 *                our device); how & 4 write; size {1,2,4,8,3,5,6,7}[how >> 3 & 7]
 *    2 I/O thread round   3 poller round   4 lifecycle (device start/stop requests)
 *    5 scribble off:u16 bytes[8]   6 wire frame len:u16 bytes   7 drain the wire
 *    8 negotiate features:u64 (masked to the offer unless bit 63), after setting Bus Master
 *      Enable and memory decode
 *    9 queue q:u8 size:u8 flags:u8 [desc:u64 avail:u64 used:u64 if flags & 1]: program and
 *      enable queue q (q 3 does not exist) at its home in memory or the given addresses
 *   10 DRIVER_OK   11 chain q:u8 <chain> (fuzz_ring.h)   12 kick q:u8
 *   13 MSI-X on, vector v:u8 data:u16 mask:u8, bound to queue q:u8 (q >= 3: config)
 *   14 reset   15 host side how:u8 % 4: 0 toggle backend EAGAIN, 1-2 QMP stop if running else
 *      cont (virtio_pci_pause), 3 flip the link (QMP set_link)
 * Invariants: as fuzz_net.c (fuzz_work.h, fuzz_mem.h), for every step; no chain taken while the
 * guest has Bus Master Enable cleared (once the lifecycle step ran the stop that asked for) or
 * while the VM is paused; the device config never changes without config_generation. */
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>

#include "devices/pci.h"
#include "devices/virtio/virtio_pci.h"
#include "devices/net/net_loop.h"
#include "tests/fuzz/fuzz_mem.h"
#include "tests/fuzz/fuzz_net_dev.h"
#include "tests/fuzz/fuzz_ring.h"
#include "tests/fuzz/fuzz_work.h"
#include "tests/unit/fake_kvm.h"
#include "vmm/bus.h"

#define MEM_SIZE 0x10000
#define Q_BLOCK	 0x2000 /* queue q's home: desc at q * Q_BLOCK, avail +0x1000, used +0x1400 */
#define DATA_LO	 (NET_NUM_QUEUES * Q_BLOCK)
#define MAX_OPS	 512
#define CONF1	 0xcf8

static const struct virtio_pci_kvm_ops fake_ops = {
    .ioeventfd = fake_kvm_ioeventfd,
    .irqfd = fake_kvm_irqfd,
    .msix = &fake_msix_kvm_ops,
};

static const uint8_t sizes[8] = {1, 2, 4, 8, 3, 5, 6, 7};

struct h {
	uint8_t cfg[64]; /* device config and config_generation after the last step */
	int gen;	 /* -1: not known (BAR 4 unmapped) */
	bool paused;	 /* virtio_pci_pause(true) in force */
	struct fuzz_mem fm;
	struct fake_net *t;
	struct virtio_dev *vdev;
	struct pci_dev *pd;
	struct fuzz_ring ring[NET_NUM_QUEUES];
};

static void bar_access(struct h *h, int bar, uint64_t off, void *data, uint32_t len, bool w)
{
	bus_access(h->pd->bar[bar].io ? BUS_PIO : BUS_MMIO, h->pd->bar[bar].addr + off, data, len, w);
}

#define COMMON(f) (VIRTIO_PCI_COMMON_OFF + offsetof(struct virtio_pci_common_cfg, f))
#define CSIZE(f)  sizeof(((struct virtio_pci_common_cfg *)0)->f)
#define CW(h, f, v)                                                                                          \
	do {                                                                                                 \
		uint64_t v_ = (v);                                                                           \
		bar_access((h), VIRTIO_PCI_BAR, COMMON(f), &v_, CSIZE(f), true);                             \
	} while (0)

static uint64_t cr(struct h *h, uint64_t off, uint32_t len)
{
	uint64_t v = 0;
	bar_access(h, VIRTIO_PCI_BAR, off, &v, len, false);
	return v;
}

static void access(struct h *h, struct fuzz_in *in)
{
	uint8_t how = fuzz_u8(in);
	uint16_t off = fuzz_u16(in);
	uint64_t v = fuzz_u64(in);
	uint32_t len = sizes[how >> 3 & 7];
	bool w = how & 4;
	switch (how & 3) {
	case 0:
		bar_access(h, VIRTIO_PCI_BAR, off % (VIRTIO_PCI_BAR_SIZE + 16), &v, len, w);
		break;
	case 1:
		bar_access(h, VIRTIO_PCI_MSIX_BAR, off % (MSIX_BAR_SIZE + 16), &v, len, w);
		break;
	case 2:
		if (w)
			pci_cfg_write(h->pd, off % (PCI_CFG_SIZE + 8), len, v);
		else
			(void)pci_cfg_read(h->pd, off % (PCI_CFG_SIZE + 8), len);
		break;
	case 3: {
		uint32_t latch = how & 0x40 ? v >> 32 : 0x80000000u | h->pd->slot << 11 | (off & 0xfc);
		bus_access(BUS_PIO, CONF1, (uint8_t *)&latch, 4, true);
		bus_access(BUS_PIO, CONF1 + 4 + (off & 3), (uint8_t *)&v, len, w);
		break;
	}
	}
}

/* DMA is allowed while the guest lets the function master the bus, and also after it cleared Bus
 * Master Enable until the lifecycle owner (main thread) ran the stop that clearing requested
 * (the transport's design: the I/O thread is stopped from the main loop, not from the vCPU). */
static int dma_allowed(void *opaque)
{
	struct h *h = opaque;
	struct pollfd p = {.fd = virtio_pci_lifecycle_fd(h->vdev), .events = POLLIN};
	return !h->paused && (pci_bus_master(h->pd) || poll(&p, 1, 0) == 1);
}

static void negotiate(struct h *h, struct fuzz_in *in)
{
	uint64_t f = fuzz_u64(in);
	/* As Linux's virtio_pci_probe(): memory decode and bus mastering on. */
	pci_cfg_write(h->pd, PCI_COMMAND, 2,
		      pci_cfg_read(h->pd, PCI_COMMAND, 2) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	if (!(f >> 63))
		f &= h->vdev->ops->features(h->vdev) | (1ULL << VIRTIO_F_VERSION_1);
	CW(h, device_status, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	CW(h, device_status, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	CW(h, guest_feature_select, 0);
	CW(h, guest_feature, (uint32_t)f);
	CW(h, guest_feature_select, 1);
	CW(h, guest_feature, f >> 32);
	CW(h, device_status,
	   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
}

static void queue(struct h *h, struct fuzz_in *in)
{
	uint8_t q = fuzz_u8(in) % (NET_NUM_QUEUES + 1);
	uint16_t size = 1u << (fuzz_u8(in) % 9);
	uint8_t flags = fuzz_u8(in);
	uint64_t desc = (uint64_t)q * Q_BLOCK, avail = desc + 0x1000, used = desc + 0x1400;
	if (flags & 1) {
		desc = fuzz_u64(in);
		avail = fuzz_u64(in);
		used = fuzz_u64(in);
	}
	CW(h, queue_select, q);
	CW(h, queue_size, size);
	CW(h, queue_desc_lo, (uint32_t)desc);
	CW(h, queue_desc_hi, desc >> 32);
	CW(h, queue_avail_lo, (uint32_t)avail);
	CW(h, queue_avail_hi, avail >> 32);
	CW(h, queue_used_lo, (uint32_t)used);
	CW(h, queue_used_hi, used >> 32);
	CW(h, queue_enable, 1);
	if (q < NET_NUM_QUEUES)
		fuzz_ring_place(&h->ring[q], &h->fm, cr(h, COMMON(queue_size), 2), desc, avail, used, DATA_LO,
				MEM_SIZE);
}

static void msix(struct h *h, struct fuzz_in *in)
{
	uint8_t v = fuzz_u8(in), mask = fuzz_u8(in), q = fuzz_u8(in);
	uint16_t data = fuzz_u16(in);
	uint8_t cap = 0;
	for (uint8_t p = pci_cfg_read(h->pd, PCI_CAPABILITY_LIST, 1); p; p = pci_cfg_read(h->pd, p + 1, 1))
		if (pci_cfg_read(h->pd, p, 1) == PCI_CAP_ID_MSIX)
			cap = p;
	FUZZ_CHECK(cap, "no MSI-X capability");
	pci_cfg_write(h->pd, cap + PCI_MSIX_FLAGS, 2,
		      PCI_MSIX_FLAGS_ENABLE | (mask & 2 ? PCI_MSIX_FLAGS_MASKALL : 0));
	v %= NET_NUM_QUEUES + 1;
	uint32_t e[4] = {0xfee00000, 0, data, mask & 1};
	for (int i = 0; i < 4; i++)
		bar_access(h, VIRTIO_PCI_MSIX_BAR, MSIX_TABLE_OFF + PCI_MSIX_ENTRY_SIZE * v + 4 * i, &e[i], 4,
			   true);
	if (q % 4 < NET_NUM_QUEUES) {
		CW(h, queue_select, q % 4);
		CW(h, queue_msix_vector, v);
	} else {
		CW(h, msix_config, v);
	}
}

/* 2.5.1 / 4.1.4.3: the device changes config_generation whenever the device config changes (MAC
 * set through the control queue, link status), so a driver never mixes old and new fields. */
static void config_check(struct h *h)
{
	uint8_t cfg[sizeof(h->cfg)] = {0};
	uint32_t len = h->vdev->config_len < sizeof(cfg) ? h->vdev->config_len : sizeof(cfg);
	h->vdev->ops->config_read(h->vdev, 0, cfg, len);
	int gen = h->pd->bar[VIRTIO_PCI_BAR].mapped ? (int)cr(h, COMMON(config_generation), 1) : -1;
	FUZZ_CHECK(gen < 0 || h->gen < 0 || gen != h->gen || !memcmp(cfg, h->cfg, len),
		   "device config changed, config_generation stayed %d", gen);
	memcpy(h->cfg, cfg, len);
	h->gen = gen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct h h = {0};
	pci_reset_all();
	bus_reset();
	fake_kvm_reset();
	pci_set_line_fn(fake_kvm_line);
	FUZZ_CHECK(pci_host_init() == 0, "pci_host_init");
	fuzz_mem_init(&h.fm, MEM_SIZE, 1);
	/* Offloads as fuzz_net.c: bit i offers the i-th host/guest pair. */
	uint8_t off = fuzz_u8(&in);
	uint64_t offloads = (off & 1 ? 1ULL << VIRTIO_NET_F_CSUM | 1ULL << VIRTIO_NET_F_GUEST_CSUM : 0) |
			    (off & 2 ? 1ULL << VIRTIO_NET_F_HOST_TSO4 | 1ULL << VIRTIO_NET_F_GUEST_TSO4 : 0) |
			    (off & 4 ? 1ULL << VIRTIO_NET_F_HOST_TSO6 | 1ULL << VIRTIO_NET_F_GUEST_TSO6 : 0);
	h.t = fuzz_net_new(&h.fm.gm, offloads);
	h.vdev = &h.t->n.vdev;
	FUZZ_CHECK(virtio_pci_create(h.vdev, 0x020000, &fake_ops) == 0, "virtio_pci_create");
	h.pd = virtio_pci_dev(h.vdev);
	fuzz_work_set_dma(dma_allowed, &h);
	h.gen = -1;
	config_check(&h);

	bool verbose = getenv("FUZZ_VERBOSE"); /* a trace of the steps, for triage */
	for (int k = 0; k < MAX_OPS && in.n; k++) {
		uint8_t op = fuzz_u8(&in) % 16;
		if (verbose)
			fprintf(stderr, "step %d: op %u\n", k, op);
		if (op <= 1 || op == 8 || op == 9 || op == 10 || op == 12 || op == 13 || op == 14)
			/* A vCPU thread: device start/stop is the lifecycle owner's job (main thread), so
			 * a register access does no datapath work at all. */
			fuzz_work_begin("register access", 0, 0, 0);
		else if (op == 4 || op == 15)
			/* Start (lifecycle, resume) runs a TX and an RX round; stop none. */
			fuzz_work_begin("lifecycle", 2 * fuzz_work_max_pops(NET_RX_BUDGET, VIRTQ_MAX_SIZE),
					NET_TX_BUDGET + 1, 2 * (NET_RX_BUDGET + 1));
		else
			fuzz_work_begin("driver step", 0, 0, 0);
		switch (op) {
		case 0:
		case 1:
			access(&h, &in);
			break;
		case 2:
			fuzz_net_io_step(h.t, VIRTQ_MAX_SIZE);
			break;
		case 4:
			virtio_pci_lifecycle_run(h.vdev);
			break;
		case 3:
			virtio_pci_poll(h.vdev, 0);
			break;
		case 5: {
			uint16_t o = fuzz_u16(&in) % (MEM_SIZE - 7);
			fuzz_bytes(&in, h.fm.base + o, 8);
			break;
		}
		case 6:
			fuzz_net_wire_send(h.t, &in, 2048);
			break;
		case 7:
			fuzz_net_wire_drain(h.t);
			break;
		case 8:
			negotiate(&h, &in);
			break;
		case 9:
			queue(&h, &in);
			break;
		case 10:
			CW(&h, device_status, cr(&h, COMMON(device_status), 1) | VIRTIO_CONFIG_S_DRIVER_OK);
			break;
		case 11:
			fuzz_ring_chain(&h.ring[fuzz_u8(&in) % NET_NUM_QUEUES], &in);
			break;
		case 12: {
			uint16_t q = fuzz_u8(&in) % (NET_NUM_QUEUES + 1);
			bar_access(&h, VIRTIO_PCI_BAR, VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT * q, &q,
				   2, true);
			break;
		}
		case 13:
			msix(&h, &in);
			break;
		case 14:
			CW(&h, device_status, 0);
			break;
		case 15:
			switch (fuzz_u8(&in) % 4) {
			case 0:
				h.t->eagain = !h.t->eagain;
				break;
			case 1:
			case 2: /* as QMP: stop only a running VM, cont only a stopped one */
				h.paused = !h.paused;
				virtio_pci_pause(h.vdev, h.paused);
				break;
			case 3:
				virtio_net_set_link(&h.t->n, virtio_net_link_down(&h.t->n));
				break;
			}
			break;
		}
		fuzz_work_check_queues();
		fuzz_net_check_log();
		config_check(&h);
	}
	virtio_pci_destroy(h.vdev);
	fuzz_net_free(h.t);
	pci_set_line_fn(NULL);
	pci_reset_all();
	bus_reset();
	return 0;
}
