/* Unit tests for devices/virtio/virtio_pci.c: identity and capabilities, feature negotiation,
 * queue setup, DRIVER_OK / reset / NEEDS_RESET, doorbells, the PCI_CFG window, ISR and the two
 * interrupt paths (irqfd on unmasked MSI-X vectors, the poller otherwise). A fake device records
 * what the transport asks of it; fake_kvm stands in for KVM. */
#include <check.h>
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/msix.h"
#include "devices/pci.h"
#include "devices/virtio/virtio_pci.h"
#include "firmware/layout.h"
#include "tests/unit/fake_kvm.h"
#include "tests/unit/fake_net.h"
#include "tests/unit/log_capture.h"
#include "tests/unit/unit.h"
#include "vmm/bus.h"
#include "vmm/log.h"

#define NQ	  2
#define QMAX	  256
#define MEM_SIZE  0x10000
#define OFFER	  ((1ull << 5) | (1ull << VIRTIO_RING_F_EVENT_IDX)) /* + VERSION_1 by the transport */
#define VERSION_1 (1ull << VIRTIO_F_VERSION_1)

/* --- the fake device --- */
static struct {
	int set_features_calls, start_calls, stop_calls, irq_changed_calls, irq_changed_q;
	uint64_t set_features_arg;
	int refuse_features, start_ret;
	uint8_t config[8];
	bool vq0_ready_at_start;
	/* With stop_gate set (a pipe's read end), stop() signals stop_entered (an eventfd) and
	 * blocks until a byte arrives: an I/O thread that takes its time to join. */
	int stop_gate, stop_entered;
	bool flip_bus_master; /* start() and stop() toggle Bus Master Enable, as a racing vCPU could */
} fd;

static uint64_t fd_features(struct virtio_dev *v)
{
	(void)v;
	return OFFER;
}
static int fd_set_features(struct virtio_dev *v, uint64_t f)
{
	(void)v;
	fd.set_features_calls++;
	fd.set_features_arg = f;
	return fd.refuse_features ? -1 : 0;
}
static void fd_config_read(struct virtio_dev *v, uint32_t off, void *data, uint32_t len)
{
	(void)v;
	memcpy(data, fd.config + off, len);
}
static void fd_config_write(struct virtio_dev *v, uint32_t off, const void *data, uint32_t len)
{
	(void)v;
	memcpy(fd.config + off, data, len);
}
static void bus_master(bool on);
static void bus_master_flip(void);

static int fd_start(struct virtio_dev *v)
{
	fd.start_calls++;
	if (fd.flip_bus_master)
		bus_master_flip();
	fd.vq0_ready_at_start = v->vq[0].ready;
	return fd.start_ret;
}
static void fd_stop(struct virtio_dev *v)
{
	(void)v;
	fd.stop_calls++;
	if (fd.flip_bus_master)
		bus_master_flip();
	if (fd.stop_gate > 0) {
		char c;
		eventfd_write(fd.stop_entered, 1);
		ck_assert_int_eq(read(fd.stop_gate, &c, 1), 1);
	}
}
static void fd_irq_changed(struct virtio_dev *v, int q)
{
	(void)v;
	fd.irq_changed_calls++;
	fd.irq_changed_q = q;
}
static const struct virtio_dev_ops fd_ops = {
    .features = fd_features,
    .set_features = fd_set_features,
    .config_read = fd_config_read,
    .config_write = fd_config_write,
    .start = fd_start,
    .stop = fd_stop,
    .irq_changed = fd_irq_changed,
};

static const struct virtio_pci_kvm_ops fake_ops = {
    .ioeventfd = fake_kvm_ioeventfd,
    .irqfd = fake_kvm_irqfd,
    .msix = &fake_msix_kvm_ops,
};

static uint8_t *ram;
static struct pci_dev *pd;

static void bus_master(bool on)
{
	uint16_t cmd = pci_cfg_read(pd, PCI_COMMAND, 2);
	pci_cfg_write(pd, PCI_COMMAND, 2, on ? cmd | PCI_COMMAND_MASTER : cmd & ~PCI_COMMAND_MASTER);
}

static void bus_master_flip(void)
{
	bus_master(!pci_bus_master(pd));
}

static struct guest_mem mem;
static struct virtio_dev vdev;

static void setup(void)
{
	pci_reset_all();
	bus_reset();
	fake_kvm_reset();
	pci_set_line_fn(fake_kvm_line);
	memset(&fd, 0, sizeof(fd));
	memcpy(fd.config, "\x52\x54\x00\x12\x34\x56\x01\x00", 8);
	ram = calloc(1, MEM_SIZE);
	guest_mem_fake(&mem, ram, MEM_SIZE);
	memset(&vdev, 0, sizeof(vdev));
	vdev.ops = &fd_ops;
	vdev.mem = &mem;
	vdev.device_id = 1;
	vdev.num_queues = NQ;
	vdev.queue_max = QMAX;
	vdev.config_len = 8;
	ck_assert_int_eq(virtio_pci_create(&vdev, 0x020000, &fake_ops), 0);
	pd = virtio_pci_dev(&vdev);
	bus_master(true); /* as Linux's virtio_pci_probe does (pci_set_master) */
}

static void teardown(void)
{
	virtio_pci_destroy(&vdev);
	pci_set_line_fn(NULL);
	pci_reset_all();
	bus_reset();
	free(ram);
}

/* --- driver-side helpers: accesses through the bus at BAR 4 --- */
static uint64_t bar4(void)
{
	return pd->bar[VIRTIO_PCI_BAR].addr;
}

static void wr(uint64_t off, uint32_t len, uint32_t v)
{
	ck_assert(bus_access(BUS_MMIO, bar4() + off, (uint8_t *)&v, len, true));
}

static uint32_t rd(uint64_t off, uint32_t len)
{
	uint32_t v = 0;
	ck_assert(bus_access(BUS_MMIO, bar4() + off, (uint8_t *)&v, len, false));
	return v;
}

#define C(field)     (VIRTIO_PCI_COMMON_OFF + offsetof(struct virtio_pci_common_cfg, field))
#define CS(field)    sizeof(((struct virtio_pci_common_cfg *)0)->field)
#define CW(field, v) wr(C(field), CS(field), (v))
#define CR(field)    rd(C(field), CS(field))

static void driver_features(uint64_t f)
{
	CW(guest_feature_select, 0);
	CW(guest_feature, (uint32_t)f);
	CW(guest_feature_select, 1);
	CW(guest_feature, f >> 32);
}

static uint64_t device_features(void)
{
	CW(device_feature_select, 0);
	uint64_t f = CR(device_feature);
	CW(device_feature_select, 1);
	return f | (uint64_t)CR(device_feature) << 32;
}

static void negotiate(uint64_t f)
{
	CW(device_status, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	CW(device_status, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	driver_features(f);
	CW(device_status, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
}

/* A status write, then what the main loop does when the lifecycle eventfd fires. */
static void set_status(uint8_t v)
{
	CW(device_status, v);
	virtio_pci_lifecycle_run(&vdev);
}

#define ST_ALL_OK                                                                                            \
	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |                \
	 VIRTIO_CONFIG_S_DRIVER_OK)

/* A valid ring for queue q of size 8 in fake RAM. */
static void queue_setup(int q, uint64_t base)
{
	CW(queue_select, q);
	CW(queue_size, 8);
	CW(queue_desc_lo, base);
	CW(queue_desc_hi, 0);
	CW(queue_avail_lo, base + 0x100);
	CW(queue_avail_hi, 0);
	CW(queue_used_lo, base + 0x200);
	CW(queue_used_hi, 0);
	CW(queue_enable, 1);
}

static uint8_t find_vendor_cap(uint8_t type)
{
	for (uint8_t p = pci_cfg_read(pd, PCI_CAPABILITY_LIST, 1); p; p = pci_cfg_read(pd, p + 1, 1))
		if (pci_cfg_read(pd, p, 1) == PCI_CAP_ID_VNDR && pci_cfg_read(pd, p + 3, 1) == type)
			return p;
	return 0;
}

static void msix_enable(void)
{
	uint8_t cap = 0;
	for (uint8_t p = pci_cfg_read(pd, PCI_CAPABILITY_LIST, 1); p; p = pci_cfg_read(pd, p + 1, 1))
		if (pci_cfg_read(pd, p, 1) == PCI_CAP_ID_MSIX)
			cap = p;
	ck_assert_uint_ne(cap, 0);
	pci_cfg_write(pd, cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
}

static void msix_entry(int v, uint32_t data, bool masked)
{
	uint64_t t = pd->bar[VIRTIO_PCI_MSIX_BAR].addr + v * PCI_MSIX_ENTRY_SIZE;
	uint32_t w[4] = {0xfee00000, 0, data, masked};
	for (int i = 0; i < 4; i++)
		bus_access(BUS_MMIO, t + 4 * i, (uint8_t *)&w[i], 4, true);
}

static bool fd_readable(int efd)
{
	uint64_t v;
	return read(efd, &v, sizeof(v)) == sizeof(v);
}

/* --- tests --- */

START_TEST(identity_is_modern_virtio)
{
	ck_assert_uint_eq(pci_cfg_read(pd, PCI_VENDOR_ID, 2), 0x1af4);
	ck_assert_uint_eq(pci_cfg_read(pd, PCI_DEVICE_ID, 2), 0x1041);
	ck_assert_uint_eq(pci_cfg_read(pd, PCI_REVISION_ID, 1), 1);
	ck_assert_uint_eq(pci_cfg_read(pd, PCI_CLASS_REVISION, 4) >> 8, 0x020000);
	ck_assert_uint_eq(pci_cfg_read(pd, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	ck_assert_uint_eq(pci_cfg_read(pd, PCI_SUBSYSTEM_ID, 2), 0x1100);
	ck_assert(pd->bar[VIRTIO_PCI_BAR].mem64 && pd->bar[VIRTIO_PCI_BAR].prefetch);
	ck_assert(pd->bar[VIRTIO_PCI_BAR].mapped);
}
END_TEST

START_TEST(capabilities_locate_every_structure)
{
	static const struct {
		uint8_t type;
		uint32_t off;
	} want[] = {
	    {VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF},
	    {VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF},
	    {VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFF},
	    {VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF},
	};
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint8_t p = find_vendor_cap(want[i].type);
		ck_assert_uint_ne(p, 0);
		ck_assert_uint_eq(pci_cfg_read(pd, p + offsetof(struct virtio_pci_cap, bar), 1),
				  VIRTIO_PCI_BAR);
		ck_assert_uint_eq(pci_cfg_read(pd, p + offsetof(struct virtio_pci_cap, offset), 4),
				  want[i].off);
	}
	uint8_t n = find_vendor_cap(VIRTIO_PCI_CAP_NOTIFY_CFG);
	ck_assert_uint_eq(
	    pci_cfg_read(pd, n + offsetof(struct virtio_pci_notify_cap, notify_off_multiplier), 4), 4);
	ck_assert_uint_eq(pci_cfg_read(pd, find_vendor_cap(VIRTIO_PCI_CAP_DEVICE_CFG) + 12, 4), 8);
	ck_assert_uint_ne(find_vendor_cap(VIRTIO_PCI_CAP_PCI_CFG), 0);
	/* Device config reads go to the device. */
	ck_assert_uint_eq(rd(VIRTIO_PCI_DEVICE_OFF, 4), 0x12005452);
	ck_assert_uint_eq(rd(VIRTIO_PCI_DEVICE_OFF + 6, 2), 1);
	ck_assert_uint_eq(rd(VIRTIO_PCI_DEVICE_OFF + 8, 4), 0); /* past config_len */
}
END_TEST

START_TEST(features_ok_accepted_for_subset_with_version_1)
{
	ck_assert_uint_eq(device_features(), OFFER | VERSION_1);
	ck_assert_uint_eq(CR(num_queues), NQ);
	negotiate(VERSION_1 | (1ull << 5));
	ck_assert(CR(device_status) & VIRTIO_CONFIG_S_FEATURES_OK);
	ck_assert_int_eq(fd.set_features_calls, 1);
	ck_assert_uint_eq(fd.set_features_arg, VERSION_1 | (1ull << 5));
	ck_assert_uint_eq(vdev.features, VERSION_1 | (1ull << 5));
	/* Features cannot change after FEATURES_OK. */
	driver_features(VERSION_1);
	ck_assert_uint_eq(vdev.features, VERSION_1 | (1ull << 5));
	CW(guest_feature_select, 1);
	ck_assert_uint_eq(CR(guest_feature), VERSION_1 >> 32);
}
END_TEST

START_TEST(features_ok_refused_without_version_1)
{
	negotiate(1ull << 5);
	ck_assert(!(CR(device_status) & VIRTIO_CONFIG_S_FEATURES_OK));
	ck_assert_uint_eq(CR(device_status), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	ck_assert_int_eq(fd.set_features_calls, 0);
}
END_TEST

START_TEST(features_ok_refused_for_bits_not_offered)
{
	negotiate(VERSION_1 | (1ull << 6));
	ck_assert(!(CR(device_status) & VIRTIO_CONFIG_S_FEATURES_OK));
	ck_assert_int_eq(fd.set_features_calls, 0);
	ck_assert_uint_eq(vdev.features, 0);
}
END_TEST

START_TEST(features_ok_refused_when_device_refuses)
{
	fd.refuse_features = 1;
	negotiate(VERSION_1);
	ck_assert_int_eq(fd.set_features_calls, 1);
	ck_assert(!(CR(device_status) & VIRTIO_CONFIG_S_FEATURES_OK));
}
END_TEST

START_TEST(queue_size_shrinks_only_to_powers_of_two)
{
	CW(queue_select, 1);
	ck_assert_uint_eq(CR(queue_size), QMAX);
	ck_assert_uint_eq(CR(queue_notify_off), 1);
	CW(queue_size, 100);
	ck_assert_uint_eq(CR(queue_size), QMAX);
	CW(queue_size, QMAX * 2);
	ck_assert_uint_eq(CR(queue_size), QMAX);
	CW(queue_size, 64);
	ck_assert_uint_eq(CR(queue_size), 64);
	/* No such queue: size 0. */
	CW(queue_select, NQ);
	ck_assert_uint_eq(CR(queue_size), 0);
}
END_TEST

START_TEST(driver_ok_inits_enabled_queues_and_starts_device)
{
	negotiate(VERSION_1 | (1ull << VIRTIO_RING_F_EVENT_IDX));
	queue_setup(0, 0x1000);
	CW(queue_select, 0);
	ck_assert_uint_eq(CR(queue_enable), 1);
	ck_assert_uint_eq(CR(queue_avail_lo), 0x1100);
	/* An enabled queue's addresses are frozen. */
	CW(queue_desc_lo, 0x8000);
	ck_assert_uint_eq(CR(queue_desc_lo), 0x1000);
	ck_assert_int_eq(fd.start_calls, 0);
	set_status(ST_ALL_OK);
	ck_assert_int_eq(fd.start_calls, 1);
	ck_assert(fd.vq0_ready_at_start);
	ck_assert_uint_eq(vdev.vq[0].size, 8);
	ck_assert_uint_eq(vdev.vq[0].desc_gpa, 0x1000);
	ck_assert_uint_eq(vdev.vq[0].avail_gpa, 0x1100);
	ck_assert_uint_eq(vdev.vq[0].used_gpa, 0x1200);
	ck_assert(vdev.vq[0].event_idx);
	ck_assert(!vdev.vq[1].ready); /* never enabled */
	ck_assert_uint_eq(CR(device_status), ST_ALL_OK);
}
END_TEST

START_TEST(bad_queue_address_sets_needs_reset)
{
	negotiate(VERSION_1);
	queue_setup(0, MEM_SIZE - 0x100); /* used ring past the end of RAM */
	set_status(ST_ALL_OK);
	ck_assert_int_eq(fd.start_calls, 0);
	ck_assert(CR(device_status) & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* Config change notification, INTx mode: ISR bit 1 and the line. */
	ck_assert_int_eq(fake_kvm.line[pd->intx_gsi], 1);
	ck_assert_uint_eq(rd(VIRTIO_PCI_ISR_OFF, 1), VIRTIO_PCI_ISR_CONFIG);
	/* The driver's reset clears it. */
	set_status(0);
	ck_assert_uint_eq(CR(device_status), 0);
}
END_TEST

START_TEST(failed_start_sets_needs_reset)
{
	fd.start_ret = -1;
	negotiate(VERSION_1);
	queue_setup(0, 0x1000);
	set_status(ST_ALL_OK);
	ck_assert_int_eq(fd.start_calls, 1);
	ck_assert(CR(device_status) & VIRTIO_CONFIG_S_NEEDS_RESET);
	set_status(0);
	ck_assert_int_eq(fd.stop_calls, 0); /* never started */
}
END_TEST

START_TEST(device_needs_reset_raises_config_vector)
{
	msix_enable();
	msix_entry(2, 0x77, false);
	CW(msix_config, 2);
	ck_assert_uint_eq(CR(msix_config), 2);
	vdev.tops->needs_reset(&vdev);
	ck_assert(CR(device_status) & VIRTIO_CONFIG_S_NEEDS_RESET);
	ck_assert_int_eq(fake_kvm.nsignal, 1);
	ck_assert_uint_eq(fake_kvm.signal[0].data, 0x77);
	/* MSI-X mode: ISR bit 1 is set all the same (4.1.4.5.1), the INTx line stays low. */
	ck_assert_int_eq(fake_kvm.line[pd->intx_gsi], 0);
	ck_assert_uint_eq(rd(VIRTIO_PCI_ISR_OFF, 1), VIRTIO_PCI_ISR_CONFIG);
	ck_assert_uint_eq(rd(VIRTIO_PCI_ISR_OFF, 1), 0);
	/* The driver cannot set or clear NEEDS_RESET itself. */
	CW(device_status, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	ck_assert(CR(device_status) & VIRTIO_CONFIG_S_NEEDS_RESET);
}
END_TEST

START_TEST(config_changed_bumps_generation_and_interrupts)
{
	uint8_t g = CR(config_generation);
	vdev.tops->config_changed(&vdev);
	ck_assert_uint_eq(CR(config_generation), (uint8_t)(g + 1));
	ck_assert_int_eq(fake_kvm.line[pd->intx_gsi], 1);
	ck_assert_uint_eq(rd(VIRTIO_PCI_ISR_OFF, 1), VIRTIO_PCI_ISR_CONFIG);
}
END_TEST

START_TEST(config_change_under_msix_sets_isr_config_bit)
{
	msix_enable();
	msix_entry(2, 0x78, false);
	CW(msix_config, 2);
	uint8_t g = CR(config_generation);
	vdev.tops->config_changed(&vdev);
	ck_assert_uint_eq(CR(config_generation), (uint8_t)(g + 1));
	ck_assert_int_eq(fake_kvm.nsignal, 1);
	ck_assert_uint_eq(fake_kvm.signal[0].data, 0x78);
	ck_assert_int_eq(fake_kvm.line[pd->intx_gsi], 0);
	ck_assert_uint_eq(rd(VIRTIO_PCI_ISR_OFF, 1), VIRTIO_PCI_ISR_CONFIG);
	ck_assert_int_eq(fake_kvm.line[pd->intx_gsi], 0);
}
END_TEST

START_TEST(reset_returns_registers_to_initial_state)
{
	msix_enable();
	uint8_t before[sizeof(struct virtio_pci_common_cfg)];
	for (int q = 0; q < NQ; q++) {
		CW(queue_select, q);
		for (size_t i = 0; i < sizeof(before); i++)
			before[i] = rd(VIRTIO_PCI_COMMON_OFF + i, 1);
	}
	CW(queue_select, 0);
	for (size_t i = 0; i < sizeof(before); i++)
		before[i] = rd(VIRTIO_PCI_COMMON_OFF + i, 1);
	uint8_t gen = before[offsetof(struct virtio_pci_common_cfg, config_generation)];

	negotiate(VERSION_1 | (1ull << 5));
	CW(msix_config, 0);
	queue_setup(0, 0x1000);
	CW(queue_msix_vector, 1);
	queue_setup(1, 0x2000);
	set_status(ST_ALL_OK);
	CW(device_feature_select, 1);
	vdev.tops->config_changed(&vdev);
	ck_assert_int_eq(fd.start_calls, 1);
	ck_assert(vdev.vq[0].ready);

	set_status(0);
	ck_assert_int_eq(fd.stop_calls, 1);
	ck_assert(!vdev.vq[0].ready && !vdev.vq[1].ready);
	ck_assert_uint_eq(vdev.features, 0);
	for (int q = NQ - 1; q >= 0; q--) {
		CW(queue_select, q);
		ck_assert_uint_eq(CR(queue_size), QMAX);
		ck_assert_uint_eq(CR(queue_enable), 0);
		ck_assert_uint_eq(CR(queue_msix_vector), VIRTIO_MSI_NO_VECTOR);
		ck_assert_uint_eq(CR(queue_desc_lo) | CR(queue_avail_lo) | CR(queue_used_lo), 0);
	}
	/* Byte for byte the same as at power-on (queue 0 selected), except the generation. */
	for (size_t i = 0; i < sizeof(before); i++) {
		uint8_t now = rd(VIRTIO_PCI_COMMON_OFF + i, 1);
		if (i == offsetof(struct virtio_pci_common_cfg, config_generation))
			ck_assert_uint_ne(now, gen);
		else if (i >= offsetof(struct virtio_pci_common_cfg, guest_feature) &&
			 i < offsetof(struct virtio_pci_common_cfg, msix_config)) {
			CW(guest_feature_select, 0);
			ck_assert_uint_eq(CR(guest_feature), 0);
		} else
			ck_assert_msg(now == before[i], "common cfg byte %zu: %u != %u", i, now, before[i]);
	}
	ck_assert_uint_eq(rd(VIRTIO_PCI_ISR_OFF, 1), 0);
	ck_assert_int_eq(fake_kvm.line[pd->intx_gsi], 0);
	/* And the device can be brought up again. */
	negotiate(VERSION_1);
	queue_setup(0, 0x1000);
	set_status(ST_ALL_OK);
	ck_assert_int_eq(fd.start_calls, 2);
}
END_TEST

START_TEST(driver_ok_write_only_requests_the_start)
{
	negotiate(VERSION_1);
	queue_setup(0, 0x1000);
	CW(device_status, ST_ALL_OK);
	ck_assert_int_eq(fd.start_calls, 0);
	ck_assert(!vdev.vq[0].ready);
	ck_assert_uint_eq(CR(device_status), ST_ALL_OK);
	ck_assert(fd_readable(virtio_pci_lifecycle_fd(&vdev)));
	virtio_pci_lifecycle_run(&vdev);
	ck_assert_int_eq(fd.start_calls, 1);
	ck_assert(vdev.vq[0].ready);
}
END_TEST

START_TEST(reset_write_returns_at_once_and_status_reads_old_value_until_lifecycle_runs)
{
	negotiate(VERSION_1);
	queue_setup(0, 0x1000);
	set_status(ST_ALL_OK);
	ck_assert_int_eq(fd.start_calls, 1);
	/* The writing (vCPU) thread does not stop the device: that may wait on its I/O thread. */
	CW(device_status, 0);
	ck_assert_int_eq(fd.stop_calls, 0);
	/* Linux polls until it reads 0; meanwhile the device is untouched and writes are ignored. */
	ck_assert_uint_eq(CR(device_status), ST_ALL_OK);
	ck_assert(vdev.vq[0].ready);
	CW(queue_select, 1);
	ck_assert_uint_eq(CR(queue_select), 0);
	ck_assert(fd_readable(virtio_pci_lifecycle_fd(&vdev)));
	virtio_pci_lifecycle_run(&vdev);
	ck_assert_int_eq(fd.stop_calls, 1);
	ck_assert_uint_eq(CR(device_status), 0);
	ck_assert(!vdev.vq[0].ready);
	/* And a reset of a device that never ran is immediate (Linux's probe starts with one). */
	CW(device_status, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	CW(device_status, 0);
	ck_assert_uint_eq(CR(device_status), 0);
	ck_assert(!fd_readable(virtio_pci_lifecycle_fd(&vdev)));
}
END_TEST

START_TEST(reset_before_the_start_ran_cancels_it)
{
	negotiate(VERSION_1);
	queue_setup(0, 0x1000);
	CW(device_status, ST_ALL_OK);
	CW(device_status, 0);
	ck_assert_uint_eq(CR(device_status), ST_ALL_OK);
	virtio_pci_lifecycle_run(&vdev);
	ck_assert_int_eq(fd.start_calls, 0);
	ck_assert_int_eq(fd.stop_calls, 0);
	ck_assert_uint_eq(CR(device_status), 0);
}
END_TEST

static void *lifecycle_thread(void *arg)
{
	(void)arg;
	virtio_pci_lifecycle_run(&vdev);
	return NULL;
}

START_TEST(register_access_during_a_slow_stop_does_not_wait)
{
	int gate[2];
	ck_assert_int_eq(pipe(gate), 0);
	fd.stop_gate = gate[0];
	fd.stop_entered = eventfd(0, 0);
	negotiate(VERSION_1);
	queue_setup(0, 0x1000);
	set_status(ST_ALL_OK);
	CW(device_status, 0);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, lifecycle_thread, NULL), 0);
	eventfd_t v;
	ck_assert_int_eq(eventfd_read(fd.stop_entered, &v), 0); /* blocks until stop() runs */
	/* stop() is stuck: a vCPU's register accesses still complete (a hang fails by timeout). */
	ck_assert_uint_eq(CR(device_status), ST_ALL_OK);
	CW(msix_config, 1);
	ck_assert_uint_eq(CR(num_queues), NQ);
	ck_assert_int_eq(write(gate[1], "x", 1), 1);
	pthread_join(t, NULL);
	ck_assert_int_eq(fd.stop_calls, 1);
	ck_assert_uint_eq(CR(device_status), 0);
	close(gate[0]);
	close(gate[1]);
	close(fd.stop_entered);
}
END_TEST

/* --- the status state machine (2.1, 3.1.1, 4.1.4.3) --- */

#define ST_A   VIRTIO_CONFIG_S_ACKNOWLEDGE
#define ST_D   VIRTIO_CONFIG_S_DRIVER
#define ST_F   VIRTIO_CONFIG_S_FEATURES_OK
#define ST_OK  VIRTIO_CONFIG_S_DRIVER_OK
#define ST_NR  VIRTIO_CONFIG_S_NEEDS_RESET
#define ST_BAD VIRTIO_CONFIG_S_FAILED

/* Brings the device to `to` the way a driver does (queue 0 set up before DRIVER_OK). */
static void status_reach(uint8_t to)
{
	uint8_t st = 0;
	static const uint8_t order[] = {ST_A, ST_D, ST_F, ST_OK};
	for (unsigned i = 0; i < sizeof(order); i++) {
		if (!(to & order[i]))
			continue;
		if (order[i] == ST_F)
			driver_features(VERSION_1);
		if (order[i] == ST_OK)
			queue_setup(0, 0x1000);
		st |= order[i];
		set_status(st);
	}
	ck_assert_uint_eq(CR(device_status), to);
}

static const struct status_case {
	const char *name;
	uint8_t from, write, expect;
} status_cases[] = {
    {"clearing DRIVER_OK", ST_A | ST_D | ST_F | ST_OK, ST_A | ST_D | ST_F, ST_A | ST_D | ST_F | ST_OK | ST_NR},
    {"clearing FEATURES_OK", ST_A | ST_D | ST_F, ST_A | ST_D, ST_A | ST_D | ST_F | ST_NR},
    {"clearing ACKNOWLEDGE", ST_A | ST_D, ST_D, ST_A | ST_D | ST_NR},
    {"DRIVER_OK without FEATURES_OK", ST_A | ST_D, ST_A | ST_D | ST_OK, ST_A | ST_D | ST_OK | ST_NR},
    {"adding the next bit", ST_A, ST_A | ST_D, ST_A | ST_D},
    {"FAILED is the driver's to set", ST_A | ST_D, ST_A | ST_D | ST_BAD, ST_A | ST_D | ST_BAD},
    {"NEEDS_RESET is not the driver's", ST_A, ST_A | ST_NR, ST_A},
};

START_TEST(status_write_follows_the_state_machine)
{
	const struct status_case *c = &status_cases[_i];
	status_reach(c->from);
	set_status(c->write);
	ck_assert_msg(CR(device_status) == c->expect, "%s: status %#x, want %#x", c->name, CR(device_status),
		      c->expect);
}
END_TEST

START_TEST(clearing_driver_ok_without_reset_sets_needs_reset_and_keeps_queues)
{
	status_reach(ST_ALL_OK);
	ck_assert_int_eq(fd.start_calls, 1);
	vdev.vq[0].last_avail = 5; /* the running device's progress */
	set_status(ST_A | ST_D | ST_F);
	ck_assert(CR(device_status) & ST_NR);
	/* Setting it again re-initialises nothing: no second start, the live ring untouched. */
	set_status(ST_ALL_OK);
	ck_assert_int_eq(fd.start_calls, 1);
	ck_assert_int_eq(fd.stop_calls, 0);
	ck_assert(vdev.vq[0].ready);
	ck_assert_uint_eq(vdev.vq[0].last_avail, 5);
	ck_assert_uint_eq(vdev.vq[0].desc_gpa, 0x1000);
	/* Only a reset clears it. */
	set_status(0);
	ck_assert_uint_eq(CR(device_status), 0);
	ck_assert_int_eq(fd.stop_calls, 1);
}
END_TEST

START_TEST(driver_errors_are_counted_and_rate_limited)
{
	guest_log_capture();
	status_reach(ST_A | ST_D);
	for (int i = 0; i < 1000; i++)
		CW(device_status, ST_D); /* clears ACKNOWLEDGE: a driver error each time */
	ck_assert_int_eq(guest_log_lines("status bits cleared without a reset"), LOG_GUEST_BURST);
	ck_assert_int_eq(guest_event_count("virtio_driver_error"), 1000);
}
END_TEST

START_TEST(features_stay_fixed_after_features_ok_even_if_the_driver_clears_it)
{
	status_reach(ST_A | ST_D | ST_F);
	set_status(ST_A | ST_D); /* attempts to re-open negotiation */
	driver_features(VERSION_1 | (1ull << 5));
	set_status(ST_A | ST_D | ST_F);
	ck_assert_uint_eq(vdev.features, VERSION_1);
	CW(guest_feature_select, 0);
	ck_assert_uint_eq(CR(guest_feature), 0);
	ck_assert_int_eq(fd.set_features_calls, 1);
}
END_TEST

/* Each queue register write after DRIVER_OK, on a queue that was not enabled: all ignored. */
static const struct {
	size_t off, len;
	uint32_t v;
} late_queue_writes[] = {
    {C(queue_size), 2, 16},	 {C(queue_desc_lo), 4, 0x3000},	 {C(queue_desc_hi), 4, 1},
    {C(queue_avail_lo), 4, 0x3100}, {C(queue_avail_hi), 4, 1}, {C(queue_used_lo), 4, 0x3200},
    {C(queue_used_hi), 4, 1},	 {C(queue_enable), 2, 1},
};

START_TEST(queue_registers_are_frozen_after_driver_ok)
{
	status_reach(ST_ALL_OK);
	CW(queue_select, 1);
	uint32_t before = rd(late_queue_writes[_i].off, late_queue_writes[_i].len);
	wr(late_queue_writes[_i].off, late_queue_writes[_i].len, late_queue_writes[_i].v);
	ck_assert_uint_eq(rd(late_queue_writes[_i].off, late_queue_writes[_i].len), before);
	ck_assert(!(CR(device_status) & ST_NR));
	/* The vector is the exception (it may change at any time). */
	CW(queue_msix_vector, 1);
	ck_assert_uint_eq(CR(queue_msix_vector), 1);
}
END_TEST

/* Ring geometries queue_enable must refuse (size 8: desc 128 bytes, avail 22, used 70). */
static const struct {
	const char *name;
	uint64_t desc, avail, used;
} bad_rings[] = {
    {"descriptor table misaligned", 0x1008, 0x1100, 0x1200},
    {"avail ring misaligned", 0x1000, 0x1101, 0x1200},
    {"used ring misaligned", 0x1000, 0x1100, 0x1202},
    {"descriptor table past RAM", MEM_SIZE - 0x40, 0x1100, 0x1200},
    {"used ring past RAM", 0x1000, 0x1100, MEM_SIZE - 0x10},
    {"avail ring at 2^64 - 2", 0x1000, UINT64_MAX - 1, 0x1200},
};

START_TEST(queue_enable_with_bad_geometry_sets_needs_reset)
{
	status_reach(ST_A | ST_D | ST_F);
	CW(queue_select, 0);
	CW(queue_size, 8);
	CW(queue_desc_lo, (uint32_t)bad_rings[_i].desc);
	CW(queue_desc_hi, bad_rings[_i].desc >> 32);
	CW(queue_avail_lo, (uint32_t)bad_rings[_i].avail);
	CW(queue_avail_hi, bad_rings[_i].avail >> 32);
	CW(queue_used_lo, (uint32_t)bad_rings[_i].used);
	CW(queue_used_hi, bad_rings[_i].used >> 32);
	CW(queue_enable, 1);
	ck_assert_msg(CR(device_status) & ST_NR, "%s", bad_rings[_i].name);
	ck_assert_uint_eq(CR(queue_enable), 0);
	/* The device does not start on it. */
	set_status(ST_ALL_OK);
	ck_assert_int_eq(fd.start_calls, 0);
}
END_TEST

START_TEST(queue_enable_0_is_ignored)
{
	status_reach(ST_A | ST_D | ST_F);
	queue_setup(0, 0x1000);
	CW(queue_enable, 0);
	ck_assert_uint_eq(CR(queue_enable), 1);
	ck_assert(!(CR(device_status) & ST_NR));
}
END_TEST

/* --- Bus Master Enable --- */

START_TEST(bus_master_cleared_stops_the_device_and_set_resumes_it)
{
	status_reach(ST_ALL_OK);
	vdev.vq[0].last_avail = 3; /* the running device's progress */
	bus_master(false);
	ck_assert_int_eq(fd.stop_calls, 0); /* the vCPU only asks */
	virtio_pci_lifecycle_run(&vdev);
	ck_assert_int_eq(fd.stop_calls, 1);
	ck_assert_uint_eq(CR(device_status), ST_ALL_OK); /* the driver's state is untouched */
	bus_master(true);
	virtio_pci_lifecycle_run(&vdev);
	ck_assert_int_eq(fd.start_calls, 2);
	ck_assert(vdev.vq[0].ready);
	ck_assert_uint_eq(vdev.vq[0].last_avail, 3); /* resumed, not re-initialised */
	/* A reset while stopped that way stops nothing more. */
	bus_master(false);
	virtio_pci_lifecycle_run(&vdev);
	set_status(0);
	ck_assert_int_eq(fd.stop_calls, 2);
	ck_assert_uint_eq(CR(device_status), 0);
}
END_TEST

START_TEST(vm_pause_stops_the_device_at_once_and_resume_continues_it)
{
	status_reach(ST_ALL_OK);
	ck_assert_int_eq(fd.start_calls, 1);
	vdev.vq[0].last_avail = 5;
	virtio_pci_pause(&vdev, true); /* QMP stop, on the main thread: done when it returns */
	ck_assert_int_eq(fd.stop_calls, 1);
	ck_assert_uint_eq(CR(device_status), ST_ALL_OK);
	virtio_pci_pause(&vdev, false);
	ck_assert_int_eq(fd.start_calls, 2);
	ck_assert_uint_eq(vdev.vq[0].last_avail, 5);
	/* Paused before DRIVER_OK: the driver's DRIVER_OK waits for the resume. */
	set_status(0);
	virtio_pci_pause(&vdev, true);
	status_reach(ST_ALL_OK);
	virtio_pci_lifecycle_run(&vdev);
	ck_assert_int_eq(fd.start_calls, 2);
	virtio_pci_pause(&vdev, false);
	ck_assert_int_eq(fd.start_calls, 3);
}
END_TEST

START_TEST(driver_ok_without_bus_master_waits_for_it)
{
	bus_master(false);
	status_reach(ST_ALL_OK);
	ck_assert_int_eq(fd.start_calls, 0);
	bus_master(true);
	virtio_pci_lifecycle_run(&vdev);
	ck_assert_int_eq(fd.start_calls, 1);
}
END_TEST

START_TEST(lifecycle_run_does_a_bounded_number_of_transitions)
{
	status_reach(ST_ALL_OK);
	/* Every start and stop is answered with a BME flip: there is always more to do. */
	fd.flip_bus_master = true;
	bus_master(false);
	virtio_pci_lifecycle_run(&vdev);
	ck_assert_int_le(fd.start_calls + fd.stop_calls, 1 + 4);
	/* What is left is signalled, for the main loop's next round. */
	ck_assert(fd_readable(virtio_pci_lifecycle_fd(&vdev)));
}
END_TEST

/* virtio-net over this transport, with one queue (NQ_ONE: rx or tx) whose fake ring memory is the
 * guest memory, and a socketpair for the tap. */
static struct fake_net *NT;

static void net_setup(void)
{
	pci_reset_all();
	bus_reset();
	fake_kvm_reset();
	pci_set_line_fn(fake_kvm_line);
}

static void net_teardown(void)
{
	pci_set_line_fn(NULL);
	pci_reset_all();
	bus_reset();
}

static bool readable_within_2s(int fd_)
{
	struct pollfd p = {.fd = fd_, .events = POLLIN};
	return poll(&p, 1, 2000) == 1;
}

/* Virtio-net on a fake tap behind the PCI transport, Bus Master on; NT->fr[MEM_Q] is the ring
 * whose memory the test watches. */
static struct virtio_dev *net_pci_device(int mem_q)
{
	NT = fake_net_new(16, 1 << 16);
	NT->mem_q = mem_q;
	struct net_opts o = {.kind = NET_TAP, .ifname = "tap7"};
	ck_assert_int_eq(fake_net_create(NT, &o), 0);
	struct virtio_dev *v = &NT->n.vdev;
	ck_assert_int_eq(virtio_pci_create(v, 0x020000, &fake_ops), 0);
	pd = virtio_pci_dev(v);
	bus_master(true);
	return v;
}

/* Queue q's registers from the driver's side of ring fr, then queue_enable. */
static void net_queue_setup(int q, const struct fake_ring *fr)
{
	CW(queue_select, q);
	CW(queue_size, fr->size);
	CW(queue_desc_lo, fr->desc_gpa);
	CW(queue_avail_lo, fr->avail_gpa);
	CW(queue_used_lo, fr->used_gpa);
	CW(queue_enable, 1);
}

START_TEST(bus_master_cleared_stops_net_dma_until_set_again)
{
	int q = _i ? NET_Q_TX : NET_Q_RX;
	struct virtio_dev *v = net_pci_device(q);
	CW(device_status, ST_A | ST_D);
	driver_features(VERSION_1);
	CW(device_status, ST_A | ST_D | ST_F);
	struct fake_ring *fr = &NT->fr[q];
	net_queue_setup(q, fr);
	CW(device_status, ST_ALL_OK);
	virtio_pci_lifecycle_run(v);
	ck_assert(NT->n.pair[0].running);

	bus_master(false);
	virtio_pci_lifecycle_run(v);
	ck_assert(!NT->n.pair[0].running); /* the I/O thread is gone: nothing can touch the rings */
	uint8_t frame[NET_HDR_LEN + 60] = {0}, got[256];
	memset(frame + NET_HDR_LEN, 0xab, 60);
	if (q == NET_Q_RX) {
		struct fake_seg s[] = {FAKE_IN(2048)};
		fake_ring_send(fr, s, 1);
		ck_assert_int_eq(send(NT->wire, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	} else {
		struct fake_seg s[] = {FAKE_OUT(frame, sizeof(frame))};
		fake_ring_send(fr, s, 1);
	}
	wr(VIRTIO_PCI_NOTIFY_OFF + 4 * q, 2, q);
	ck_assert_uint_eq(fake_ring_used_idx(fr), 0);
	if (q == NET_Q_RX) /* the frame still waits in the "tap" */
		ck_assert_int_eq(recv(NT->n.be.fd, got, sizeof(got), MSG_PEEK | MSG_DONTWAIT), (ssize_t)sizeof(frame));
	else
		ck_assert_int_lt(recv(NT->wire, got, sizeof(got), MSG_DONTWAIT), 0);
	ck_assert_uint_eq(CR(device_status), ST_ALL_OK);

	/* Set again: the device resumes and does the work it was given. */
	bus_master(true);
	virtio_pci_lifecycle_run(v);
	ck_assert(NT->n.pair[0].running);
	if (q == NET_Q_RX) {
		ck_assert(readable_within_2s(v->tops->call_fd(v, NET_Q_RX)));
		ck_assert_uint_eq(fake_ring_used_idx(fr), 1);
	} else {
		ck_assert(readable_within_2s(NT->wire));
		ck_assert_int_eq(recv(NT->wire, got, sizeof(got), MSG_DONTWAIT), (ssize_t)sizeof(frame));
	}
	virtio_pci_destroy(v);
	fake_net_free(NT, true);
}
END_TEST

/* A driver's initialisation up to a running device with only the RX queue, on ring fr. */
static void net_driver_init(struct virtio_dev *v, const struct fake_ring *fr)
{
	CW(device_status, ST_A);
	CW(device_status, ST_A | ST_D);
	driver_features(VERSION_1 | (1ull << VIRTIO_NET_F_MRG_RXBUF) | (1ull << VIRTIO_RING_F_EVENT_IDX));
	CW(device_status, ST_A | ST_D | ST_F);
	net_queue_setup(NET_Q_RX, fr);
	CW(device_status, ST_ALL_OK);
	virtio_pci_lifecycle_run(v);
	ck_assert(NT->n.pair[0].running);
}

/* A vnet header and len bytes of `fill` on the "tap"'s wire. */
static void net_wire_frame(uint8_t fill, uint32_t len)
{
	uint8_t f[NET_HDR_LEN + 2048] = {0};
	ck_assert_uint_le(len, 2048);
	memset(f + NET_HDR_LEN, fill, len);
	ck_assert_int_eq(send(NT->wire, f, NET_HDR_LEN + len, 0), (ssize_t)(NET_HDR_LEN + len));
}

/* Until the device has read everything the wire sent (up to 2 s). */
static bool net_backend_drained(void)
{
	uint8_t b;
	for (int i = 0; i < 2000; i++) {
		if (recv(NT->n.be.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN)
			return true;
		usleep(1000);
	}
	return false;
}

/* The first byte of guest memory outside [skip, skip_end) that is not `v`, or -1. */
static long net_first_changed(const struct fake_ring *fr, uint64_t skip, uint64_t skip_end, uint8_t v)
{
	for (uint64_t i = 0; i < fr->mem_size; i++)
		if ((i < skip || i >= skip_end) && fr->buf[i] != v)
			return (long)i;
	return -1;
}

START_TEST(net_reset_forgets_held_rx_buffers_and_a_half_received_frame)
{
	/* The old driver's RX buffers are the device's to write until the reset is done (status
	 * reads 0); from then on the guest reuses that memory. The device held three 256-byte
	 * buffers (MRG_RXBUF: too few for an MTU frame) and a 1000-byte frame read aside for them;
	 * another frame waited in the tap. After the reset and a driver initialisation with rings
	 * elsewhere, nothing of the old driver's memory may change, and the waiting frame is the
	 * first the new ring gets. */
	struct virtio_dev *v = net_pci_device(NET_Q_RX);
	struct fake_ring *old = &NT->fr[NET_Q_RX];
	net_driver_init(v, old);
	for (int i = 0; i < 3; i++) {
		struct fake_seg s[] = {FAKE_IN(256)};
		fake_ring_send(old, s, 1);
	}
	wr(VIRTIO_PCI_NOTIFY_OFF + 4 * NET_Q_RX, 2, NET_Q_RX);
	net_wire_frame(0xaa, 1000);
	ck_assert(net_backend_drained());
	/* The I/O thread then asks for a kick past the three it popped, and holds them. */
	for (int i = 0; i < 2000 && fake_ring_avail_event(old) != 3; i++)
		usleep(1000);
	ck_assert_uint_eq(fake_ring_avail_event(old), 3);
	ck_assert_uint_eq(fake_ring_used_idx(old), 0);
	net_wire_frame(0xbb, 300);

	CW(device_status, 0);
	virtio_pci_lifecycle_run(v);
	ck_assert_uint_eq(CR(device_status), 0);
	ck_assert(!NT->n.pair[0].running);

	/* The guest reuses the old rings and buffers: all of memory but the new rings. */
	struct fake_ring nr;
	fake_ring_init_within(&nr, old, 16, 1 << 14);
	uint64_t nr_end = nr.used_gpa + 6 + 8ULL * nr.size;
	memset(old->buf, 0x5a, nr.desc_gpa);
	memset(old->buf + nr_end, 0x5a, old->mem_size - nr_end);
	net_driver_init(v, &nr);
	uint16_t head[2];
	for (int i = 0; i < 2; i++) {
		struct fake_seg s[] = {FAKE_IN(2048)};
		head[i] = fake_ring_send(&nr, s, 1);
	}
	wr(VIRTIO_PCI_NOTIFY_OFF + 4 * NET_Q_RX, 2, NET_Q_RX);
	for (int i = 0; i < 2000 && !fake_ring_used_idx(&nr); i++)
		usleep(1000);
	long at = net_first_changed(old, nr.desc_gpa, nr_end, 0x5a);
	ck_assert_msg(at < 0, "the device wrote old driver memory at 0x%lx after the reset", at);
	ck_assert_uint_eq(fake_ring_used_idx(&nr), 1);
	net_wire_frame(0xcc, 200);
	ck_assert(fake_ring_wait_used(&nr, 2));

	static const struct {
		uint8_t fill;
		uint32_t len;
	} want[2] = {{0xbb, 300}, {0xcc, 200}};
	for (int i = 0; i < 2; i++) {
		uint32_t id, len;
		ck_assert(fake_ring_get_used(&nr, &id, &len));
		ck_assert_uint_eq(id, head[i]);
		ck_assert_uint_eq(len, NET_HDR_LEN + want[i].len);
		struct vring_desc *d = fake_ring_host(&nr, nr.desc_gpa + 16ULL * id, sizeof(*d));
		const uint8_t *b = fake_ring_host(&nr, le64toh(d->addr), len);
		for (uint32_t k = NET_HDR_LEN; k < len; k++)
			ck_assert_msg(b[k] == want[i].fill, "frame %d byte %u: 0x%02x", i, k, b[k]);
	}
	at = net_first_changed(old, nr.desc_gpa, nr_end, 0x5a);
	ck_assert_msg(at < 0, "the device wrote old driver memory at 0x%lx after the reset", at);
	virtio_pci_destroy(v);
	fake_net_free(NT, true);
}
END_TEST

/* A stop and start that is no reset, as the guest (Bus Master Enable off then on, through the PCI
 * command register) or the VMM (QMP stop/cont: virtio_pci_pause) does it. */
static void net_stop_cont(struct virtio_dev *v, bool qmp)
{
	if (qmp) {
		virtio_pci_pause(v, true);
	} else {
		bus_master(false);
		virtio_pci_lifecycle_run(v);
	}
	ck_assert(!NT->n.pair[0].running);
	if (qmp) {
		virtio_pci_pause(v, false);
	} else {
		bus_master(true);
		virtio_pci_lifecycle_run(v);
	}
	ck_assert(NT->n.pair[0].running);
	ck_assert_uint_eq(CR(device_status), ST_ALL_OK);
}

/* Virtio-net over the transport, its driver up with the RX queue on NT->fr[NET_Q_RX]. */
static struct virtio_dev *net_rx_device(void)
{
	struct virtio_dev *v = net_pci_device(NET_Q_RX);
	net_driver_init(v, &NT->fr[NET_Q_RX]);
	return v;
}

/* Until the I/O thread has popped `n` RX chains (up to 2 s). */
static bool net_rx_popped(struct virtio_dev *v, uint16_t n)
{
	for (int i = 0; i < 2000; i++) {
		if (__atomic_load_n(&v->vq[NET_Q_RX].last_avail, __ATOMIC_ACQUIRE) == n)
			return true;
		usleep(1000);
	}
	return false;
}

/* Loop index: bit 0 QMP stop/cont (else Bus Master off/on), bit 1 a frame half received. */
START_TEST(net_stop_cont_gives_held_rx_buffers_back_in_order)
{
	/* A stop that is no reset keeps the rings, and the guest still counts every buffer it
	 * offered and got no used entry for as the device's. The device held three 256-byte
	 * buffers (MRG_RXBUF: too few for an MTU frame), maybe with a 1000-byte frame read aside
	 * for them. After the restart the first frame must land in head 0, the first buffer the
	 * guest offered; the frame read aside is dropped (counted). */
	bool qmp = _i & 1, partial = _i & 2;
	struct virtio_dev *v = net_rx_device();
	struct fake_ring *fr = &NT->fr[NET_Q_RX];
	for (int i = 0; i < 3; i++) {
		struct fake_seg s[] = {FAKE_IN(256)};
		ck_assert_uint_eq(fake_ring_send(fr, s, 1), i);
	}
	wr(VIRTIO_PCI_NOTIFY_OFF + 4 * NET_Q_RX, 2, NET_Q_RX);
	ck_assert(net_rx_popped(v, 3));
	if (partial) {
		net_wire_frame(0xaa, 1000);
		ck_assert(net_backend_drained());
		for (int i = 0; i < 2000 && fake_ring_avail_event(fr) != 3; i++)
			usleep(1000);
		ck_assert_uint_eq(fake_ring_avail_event(fr), 3); /* read aside, waiting for buffers */
	}
	ck_assert_uint_eq(fake_ring_used_idx(fr), 0);

	net_stop_cont(v, qmp);
	struct fake_seg s[] = {FAKE_IN(256)};
	ck_assert_uint_eq(fake_ring_send(fr, s, 1), 3);
	wr(VIRTIO_PCI_NOTIFY_OFF + 4 * NET_Q_RX, 2, NET_Q_RX);
	net_wire_frame(0xcc, 100);
	ck_assert(fake_ring_wait_used(fr, 1));
	uint32_t id, len;
	ck_assert(fake_ring_get_used(fr, &id, &len));
	ck_assert_msg(id == 0, "the first frame after the %s went to head %u, not head 0",
		      qmp ? "QMP stop/cont" : "Bus Master off/on", id);
	ck_assert_uint_eq(len, NET_HDR_LEN + 100);
	struct vring_desc *d = fake_ring_host(fr, fr->desc_gpa + 16ULL * id, sizeof(*d));
	const uint8_t *b = fake_ring_host(fr, le64toh(d->addr), len);
	for (uint32_t k = NET_HDR_LEN; k < len; k++)
		ck_assert_msg(b[k] == 0xcc, "byte %u: 0x%02x", k, b[k]);
	ck_assert_uint_eq(NT->n.stats[NET_Q_RX].drops, partial);
	virtio_pci_destroy(v);
	fake_net_free(NT, true);
}
END_TEST

/* Loop index: 1 QMP stop/cont, 0 Bus Master off/on. */
START_TEST(net_50_stop_conts_lose_no_rx_buffer)
{
	/* The guest offers a full ring of 256-byte buffers and gives each one back as soon as it
	 * is used, as a driver does; the device holds six (an MTU frame's worth). 50 stop/conts,
	 * a frame after each: every frame lands in the buffer the guest offered first, and then
	 * the guest still receives a whole ring's worth of frames. */
	bool qmp = _i;
	struct virtio_dev *v = net_rx_device();
	struct fake_ring *fr = &NT->fr[NET_Q_RX];
	uint16_t fifo[64], head = 0, tail = 0; /* heads offered, oldest first */
	for (int i = 0; i < fr->size; i++) {
		struct fake_seg s[] = {FAKE_IN(256)};
		fifo[tail++ % 64] = fake_ring_send(fr, s, 1);
	}
	wr(VIRTIO_PCI_NOTIFY_OFF + 4 * NET_Q_RX, 2, NET_Q_RX);
	ck_assert(net_rx_popped(v, 6));
	uint16_t frames = 0;
	for (int cycle = 0; cycle < 50; cycle++) {
		net_stop_cont(v, qmp);
		net_wire_frame((uint8_t)cycle, 100);
		ck_assert_msg(fake_ring_wait_used(fr, ++frames), "cycle %d: frame not received", cycle);
		uint32_t id, len;
		ck_assert(fake_ring_get_used(fr, &id, &len));
		ck_assert_msg(id == fifo[head % 64], "cycle %d: the frame went to head %u, not %u", cycle,
			      id, fifo[head % 64]);
		head++;
		fake_ring_publish(fr, (uint16_t)id);
		fifo[tail++ % 64] = (uint16_t)id;
		wr(VIRTIO_PCI_NOTIFY_OFF + 4 * NET_Q_RX, 2, NET_Q_RX);
	}
	for (int i = 0; i < fr->size; i++)
		net_wire_frame(0xee, 100);
	frames += fr->size;
	ck_assert_msg(fake_ring_wait_used(fr, frames), "a ring's worth of frames got %u buffers",
		      (unsigned)(fake_ring_used_idx(fr) - (frames - fr->size)));
	for (int i = 0; i < fr->size; i++) {
		uint32_t id, len;
		ck_assert(fake_ring_get_used(fr, &id, &len));
		ck_assert_uint_eq(id, fifo[head++ % 64]);
	}
	ck_assert_uint_eq(NT->n.stats[NET_Q_RX].drops, 0);
	virtio_pci_destroy(v);
	fake_net_free(NT, true);
}
END_TEST

START_TEST(trapped_notify_signals_the_kick_eventfd)
{
	int k0 = vdev.tops->kick_fd(&vdev, 0), k1 = vdev.tops->kick_fd(&vdev, 1);
	wr(VIRTIO_PCI_NOTIFY_OFF + 4 * 1, 2, 1);
	ck_assert(fd_readable(k1));
	ck_assert(!fd_readable(k0));
	wr(VIRTIO_PCI_NOTIFY_OFF, 4, 0);
	ck_assert(fd_readable(k0));
	/* Beyond the last queue: nothing. */
	wr(VIRTIO_PCI_NOTIFY_OFF + 4 * NQ, 2, NQ);
	ck_assert(!fd_readable(k0) && !fd_readable(k1));
}
END_TEST

START_TEST(ioeventfds_follow_the_bar)
{
	int k1 = vdev.tops->kick_fd(&vdev, 1);
	uint64_t old = bar4();
	ck_assert(fake_kvm_ioeventfd_at(k1, old + VIRTIO_PCI_NOTIFY_OFF + 4));
	ck_assert_int_eq(fake_kvm.nioev, NQ);
	/* Length 0 (any width, no datamatch): KVM's fast MMIO bus takes it. */
	for (int i = 0; i < fake_kvm.nioev; i++)
		ck_assert_uint_eq(fake_kvm.ioev[i].len, 0);
	/* Decode off: doorbells go away. */
	pci_cfg_write(pd, PCI_COMMAND, 2, 0);
	ck_assert_int_eq(fake_kvm.nioev, 0);
	uint64_t neu = LAYOUT_PCI_MMIO64 + 0x100000;
	pci_cfg_write(pd, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR, 4, (uint32_t)neu);
	pci_cfg_write(pd, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR + 4, 4, neu >> 32);
	pci_cfg_write(pd, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ck_assert_uint_eq(bar4(), neu);
	ck_assert_int_eq(fake_kvm.nioev, NQ);
	ck_assert(fake_kvm_ioeventfd_at(k1, neu + VIRTIO_PCI_NOTIFY_OFF + 4));
	ck_assert(!fake_kvm_ioeventfd_at(k1, old + VIRTIO_PCI_NOTIFY_OFF + 4));
	ck_assert_uint_eq(CR(num_queues), NQ);
}
END_TEST

START_TEST(pci_cfg_window_reaches_the_bar)
{
	uint8_t c = find_vendor_cap(VIRTIO_PCI_CAP_PCI_CFG);
	uint32_t data = c + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
	pci_cfg_write(pd, c + offsetof(struct virtio_pci_cap, bar), 1, VIRTIO_PCI_BAR);
	pci_cfg_write(pd, c + offsetof(struct virtio_pci_cap, offset), 4, C(num_queues));
	pci_cfg_write(pd, c + offsetof(struct virtio_pci_cap, length), 4, 2);
	ck_assert_uint_eq(pci_cfg_read(pd, data, 2), NQ);
	/* Writes go through too: select queue 1 via the window, read it back via the BAR. */
	pci_cfg_write(pd, c + offsetof(struct virtio_pci_cap, offset), 4, C(queue_select));
	pci_cfg_write(pd, data, 2, 1);
	ck_assert_uint_eq(CR(queue_select), 1);
	/* A doorbell through the window kicks. */
	pci_cfg_write(pd, c + offsetof(struct virtio_pci_cap, offset), 4, VIRTIO_PCI_NOTIFY_OFF + 4);
	pci_cfg_write(pd, data, 2, 1);
	ck_assert(fd_readable(vdev.tops->kick_fd(&vdev, 1)));
	/* Misaligned windows do nothing. */
	pci_cfg_write(pd, c + offsetof(struct virtio_pci_cap, offset), 4, C(num_queues) + 1);
	pci_cfg_write(pd, data, 4, 0);
	ck_assert_uint_eq(pci_cfg_read(pd, data, 2), 0);
}
END_TEST

START_TEST(isr_read_clears_and_deasserts_intx)
{
	int call = vdev.tops->call_fd(&vdev, 0);
	ck_assert_int_eq(fake_kvm_irqfd_gsi(call), -1); /* INTx: the poller owns the call fd */
	eventfd_write(call, 1);
	ck_assert_int_eq(virtio_pci_poll(&vdev, 1000), 1);
	ck_assert_int_eq(fake_kvm.line[pd->intx_gsi], 1);
	ck_assert_uint_eq(rd(VIRTIO_PCI_ISR_OFF, 1), 1);
	ck_assert_int_eq(fake_kvm.line[pd->intx_gsi], 0);
	ck_assert_uint_eq(rd(VIRTIO_PCI_ISR_OFF, 1), 0);
	ck_assert_int_eq(virtio_pci_poll(&vdev, 0), 0);
}
END_TEST

START_TEST(unmasked_vector_binds_call_fd_to_irqfd)
{
	int call = vdev.tops->call_fd(&vdev, 0);
	msix_enable();
	msix_entry(1, 0x61, true);
	negotiate(VERSION_1);
	queue_setup(0, 0x1000);
	CW(queue_select, 0);
	CW(queue_msix_vector, 1);
	ck_assert_uint_eq(CR(queue_msix_vector), 1);
	ck_assert_int_eq(fake_kvm_irqfd_gsi(call), -1); /* still masked */
	set_status(ST_ALL_OK);
	int before = fd.irq_changed_calls;
	msix_entry(1, 0x61, false);
	ck_assert_int_ge(fake_kvm_irqfd_gsi(call), 24);
	ck_assert_int_gt(fd.irq_changed_calls, before);
	ck_assert_int_eq(fd.irq_changed_q, 0);
	/* The route behind that GSI carries the vector's message. */
	ck_assert_uint_eq(fake_kvm.set[fake_kvm.nset - 1].gsi, (uint32_t)fake_kvm_irqfd_gsi(call));
	ck_assert_uint_eq(fake_kvm.set[fake_kvm.nset - 1].data, 0x61);
	/* Masking moves it back to the poller, which leaves the message pending. */
	msix_entry(1, 0x61, true);
	ck_assert_int_eq(fake_kvm_irqfd_gsi(call), -1);
	eventfd_write(call, 1);
	ck_assert_int_eq(virtio_pci_poll(&vdev, 1000), 1);
	ck_assert_int_eq(fake_kvm.nsignal, 0);
	uint32_t pba;
	bus_access(BUS_MMIO, pd->bar[VIRTIO_PCI_MSIX_BAR].addr + MSIX_PBA_OFF, (uint8_t *)&pba, 4, false);
	ck_assert_uint_eq(pba, 1u << 1);
	msix_entry(1, 0x61, false);
	ck_assert_int_eq(fake_kvm.nsignal, 1);
	ck_assert_uint_eq(fake_kvm.signal[0].data, 0x61);
	/* Reset unbinds. */
	set_status(0);
	ck_assert_int_eq(fake_kvm_irqfd_gsi(call), -1);
}
END_TEST

/* The most queues a device has (virtio-net with 16 pairs: 33 queues, 33 vectors): the last queue
 * has its doorbell and notify offset, the MSI-X table its 33 entries, and the last queue's
 * interrupt reaches the guest by INTx and by its own vector once unmasked (queues past 31 in the
 * transport's change mask). */
START_TEST(a_device_with_the_most_queues_reaches_the_last_one)
{
	virtio_pci_destroy(&vdev);
	pci_reset_all();
	bus_reset();
	vdev.num_queues = VIRTIO_MAX_QUEUES;
	vdev.msix_vectors = VIRTIO_MAX_QUEUES;
	ck_assert_int_eq(virtio_pci_create(&vdev, 0x020000, &fake_ops), 0);
	pd = virtio_pci_dev(&vdev);
	bus_master(true);
	int last = VIRTIO_MAX_QUEUES - 1;
	ck_assert_uint_eq(CR(num_queues), VIRTIO_MAX_QUEUES);
	uint8_t cap = 0;
	for (uint8_t p = pci_cfg_read(pd, PCI_CAPABILITY_LIST, 1); p; p = pci_cfg_read(pd, p + 1, 1))
		if (pci_cfg_read(pd, p, 1) == PCI_CAP_ID_MSIX)
			cap = p;
	ck_assert_uint_eq((pci_cfg_read(pd, cap + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1,
			  VIRTIO_MAX_QUEUES);
	CW(queue_select, last);
	ck_assert_uint_eq(CR(queue_notify_off), last);
	ck_assert_uint_eq(CR(queue_size), QMAX);
	wr(VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT * last, 2, last);
	ck_assert(fd_readable(vdev.tops->kick_fd(&vdev, last)));
	/* INTx. */
	int call = vdev.tops->call_fd(&vdev, last);
	eventfd_write(call, 1);
	ck_assert_int_eq(virtio_pci_poll(&vdev, 1000), 1);
	ck_assert_int_eq(fake_kvm.line[pd->intx_gsi], 1);
	ck_assert_uint_eq(rd(VIRTIO_PCI_ISR_OFF, 1), 1);
	/* MSI-X: its own vector, bound by irqfd when unmasked. */
	msix_enable();
	msix_entry(last, 0x62, true);
	CW(queue_msix_vector, last);
	ck_assert_uint_eq(CR(queue_msix_vector), last);
	ck_assert_int_eq(fake_kvm_irqfd_gsi(call), -1);
	msix_entry(last, 0x62, false);
	ck_assert_int_ge(fake_kvm_irqfd_gsi(call), 24);
	ck_assert_uint_eq(fake_kvm.set[fake_kvm.nset - 1].data, 0x62);
}
END_TEST

START_TEST(unmappable_vector_reads_back_no_vector)
{
	CW(queue_select, 0);
	CW(queue_msix_vector, NQ); /* the last valid one: one per queue plus config */
	ck_assert_uint_eq(CR(queue_msix_vector), NQ);
	CW(queue_msix_vector, NQ + 1);
	ck_assert_uint_eq(CR(queue_msix_vector), VIRTIO_MSI_NO_VECTOR);
	CW(msix_config, 500);
	ck_assert_uint_eq(CR(msix_config), VIRTIO_MSI_NO_VECTOR);
}
END_TEST

/* The thread with the comm `name` (what ps, top and /proc show), waiting for it to name itself. */
static bool thread_named(const char *name)
{
	for (int tries = 0; tries < 1000; tries++, usleep(1000)) {
		DIR *d = opendir("/proc/self/task");
		struct dirent *e;
		bool found = false;
		while (d && !found && (e = readdir(d))) {
			char path[300], comm[32] = "";
			snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
			FILE *f = fopen(path, "r");
			if (f && fgets(comm, sizeof(comm), f)) {
				comm[strcspn(comm, "\n")] = '\0';
				found = strcmp(comm, name) == 0;
			}
			if (f)
				fclose(f);
		}
		if (d)
			closedir(d);
		if (found)
			return true;
	}
	return false;
}

START_TEST(poller_thread_stops_on_destroy)
{
	ck_assert_int_eq(virtio_pci_poller_start(&vdev, "net7-irq"), 0);
	ck_assert_msg(thread_named("net7-irq"), "the poller thread is not named net7-irq");
	eventfd_write(vdev.tops->call_fd(&vdev, 1), 1);
	for (int i = 0; i < 1000 && !fake_kvm.line[pd->intx_gsi]; i++)
		usleep(1000);
	ck_assert_int_eq(fake_kvm.line[pd->intx_gsi], 1);
	virtio_pci_destroy(&vdev); /* joins the thread; teardown's second destroy is a no-op */
	ck_assert_ptr_null(vdev.transport);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("virtio_pci");
	TCase *tc = tcase_create("virtio_pci");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, identity_is_modern_virtio);
	tcase_add_test(tc, capabilities_locate_every_structure);
	tcase_add_test(tc, features_ok_accepted_for_subset_with_version_1);
	tcase_add_test(tc, features_ok_refused_without_version_1);
	tcase_add_test(tc, features_ok_refused_for_bits_not_offered);
	tcase_add_test(tc, features_ok_refused_when_device_refuses);
	tcase_add_test(tc, queue_size_shrinks_only_to_powers_of_two);
	tcase_add_test(tc, driver_ok_inits_enabled_queues_and_starts_device);
	tcase_add_test(tc, bad_queue_address_sets_needs_reset);
	tcase_add_test(tc, failed_start_sets_needs_reset);
	tcase_add_test(tc, device_needs_reset_raises_config_vector);
	tcase_add_test(tc, config_changed_bumps_generation_and_interrupts);
	tcase_add_test(tc, config_change_under_msix_sets_isr_config_bit);
	tcase_add_test(tc, reset_returns_registers_to_initial_state);
	tcase_add_test(tc, driver_ok_write_only_requests_the_start);
	tcase_add_test(tc, reset_write_returns_at_once_and_status_reads_old_value_until_lifecycle_runs);
	tcase_add_test(tc, reset_before_the_start_ran_cancels_it);
	tcase_add_test(tc, register_access_during_a_slow_stop_does_not_wait);
	tcase_add_test(tc, trapped_notify_signals_the_kick_eventfd);
	tcase_add_loop_test(tc, status_write_follows_the_state_machine, 0,
			    sizeof(status_cases) / sizeof(status_cases[0]));
	tcase_add_test(tc, clearing_driver_ok_without_reset_sets_needs_reset_and_keeps_queues);
	tcase_add_test(tc, features_stay_fixed_after_features_ok_even_if_the_driver_clears_it);
	tcase_add_test(tc, driver_errors_are_counted_and_rate_limited);
	tcase_add_loop_test(tc, queue_registers_are_frozen_after_driver_ok, 0,
			    sizeof(late_queue_writes) / sizeof(late_queue_writes[0]));
	tcase_add_loop_test(tc, queue_enable_with_bad_geometry_sets_needs_reset, 0,
			    sizeof(bad_rings) / sizeof(bad_rings[0]));
	tcase_add_test(tc, queue_enable_0_is_ignored);
	tcase_add_test(tc, ioeventfds_follow_the_bar);
	tcase_add_test(tc, pci_cfg_window_reaches_the_bar);
	tcase_add_test(tc, isr_read_clears_and_deasserts_intx);
	tcase_add_test(tc, unmasked_vector_binds_call_fd_to_irqfd);
	tcase_add_test(tc, unmappable_vector_reads_back_no_vector);
	tcase_add_test(tc, a_device_with_the_most_queues_reaches_the_last_one);
	tcase_add_test(tc, poller_thread_stops_on_destroy);
	tcase_add_test(tc, bus_master_cleared_stops_the_device_and_set_resumes_it);
	tcase_add_test(tc, driver_ok_without_bus_master_waits_for_it);
	tcase_add_test(tc, vm_pause_stops_the_device_at_once_and_resume_continues_it);
	tcase_add_test(tc, lifecycle_run_does_a_bounded_number_of_transitions);
	suite_add_tcase(s, tc);
	TCase *net = tcase_create("net");
	tcase_add_checked_fixture(net, net_setup, net_teardown);
	tcase_add_loop_test(net, bus_master_cleared_stops_net_dma_until_set_again, 0, 2);
	tcase_add_test(net, net_reset_forgets_held_rx_buffers_and_a_half_received_frame);
	tcase_add_loop_test(net, net_stop_cont_gives_held_rx_buffers_back_in_order, 0, 4);
	tcase_add_loop_test(net, net_50_stop_conts_lose_no_rx_buffer, 0, 2);
	suite_add_tcase(s, net);
	return unit_run(s);
}
