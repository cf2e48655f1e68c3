/* Unit tests for devices/pci.c: conf1, BAR sizing/placement/moves, read-only and w1c bits,
 * capabilities, INTx. */
#include <check.h>
#include <errno.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci.h"
#include "firmware/layout.h"
#include "tests/unit/unit.h"
#include "vmm/bus.h"

static void conf1_select(int bus, int slot, int fn, int reg)
{
	uint32_t a = 0x80000000u | bus << 16 | slot << 11 | fn << 8 | (reg & 0xfc);
	bus_access(BUS_PIO, 0xcf8, (uint8_t *)&a, 4, true);
}

static uint32_t conf1_read(int slot, int reg, int len)
{
	uint32_t v = 0;
	conf1_select(0, slot, 0, reg);
	bus_access(BUS_PIO, 0xcfc + (reg & 3), (uint8_t *)&v, len, false);
	return v;
}

static void conf1_write(int slot, int reg, int len, uint32_t v)
{
	conf1_select(0, slot, 0, reg);
	bus_access(BUS_PIO, 0xcfc + (reg & 3), (uint8_t *)&v, len, true);
}

/* A device whose BARs record accesses and whose bar_moved hook counts calls. */
static int moved_calls[6];
static int bar_hits;
static void bar_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	(void)off;
	bar_hits++;
	if (!is_write)
		memset(data, 0x5a, len);
}
static void on_bar_moved(struct pci_dev *d, int bar)
{
	(void)d;
	moved_calls[bar]++;
}
static const struct pci_dev_ops test_ops = {.bar_moved = on_bar_moved};

static struct pci_dev dev;

static void setup(void)
{
	pci_reset_all();
	bus_reset();
	memset(moved_calls, 0, sizeof(moved_calls));
	bar_hits = 0;
	ck_assert_int_eq(pci_host_init(), 0);
	pci_dev_init(&dev, 0x1234, 0x5678, 0x020000, 3, 0xabcd, 0x0042);
	dev.ops = &test_ops;
	pci_bar_init(&dev, 0, 0x1000, false, false, false, bar_io, NULL);
	pci_bar_init(&dev, 2, 0x4000, false, true, true, bar_io, NULL);
}

static void teardown(void)
{
	pci_set_line_fn(NULL);
	pci_reset_all();
	bus_reset();
}

START_TEST(conf1_reads_host_bridge_at_slot_0)
{
	ck_assert_uint_eq(conf1_read(0, PCI_VENDOR_ID, 4), 0x29c08086);
	ck_assert_uint_eq(conf1_read(0, PCI_CLASS_REVISION, 4) >> 8, 0x060000);
	ck_assert_uint_eq(conf1_read(0, PCI_HEADER_TYPE, 1), 0);
}
END_TEST

START_TEST(conf1_address_register_reads_back)
{
	uint32_t a = 0x80000000u, r = 0;
	bus_access(BUS_PIO, 0xcf8, (uint8_t *)&a, 4, true);
	bus_access(BUS_PIO, 0xcf8, (uint8_t *)&r, 4, false);
	ck_assert_uint_eq(r, 0x80000000u);
	/* Linux's probe pokes a byte at 0xcfb: it must not disturb the latch. */
	uint8_t b = 1;
	bus_access(BUS_PIO, 0xcfb, &b, 1, true);
	bus_access(BUS_PIO, 0xcf8, (uint8_t *)&r, 4, false);
	ck_assert_uint_eq(r, 0x80000000u);
}
END_TEST

START_TEST(absent_functions_read_all_ones)
{
	ck_assert_int_eq(pci_register(&dev), 0);
	uint32_t v = 0;
	ck_assert_uint_eq(conf1_read(7, 0, 4), 0xffffffffu); /* empty slot */
	conf1_select(1, dev.slot, 0, 0);		     /* other bus */
	bus_access(BUS_PIO, 0xcfc, (uint8_t *)&v, 4, false);
	ck_assert_uint_eq(v, 0xffffffffu);
	conf1_select(0, dev.slot, 1, 0); /* function 1 */
	bus_access(BUS_PIO, 0xcfc, (uint8_t *)&v, 4, false);
	ck_assert_uint_eq(v, 0xffffffffu);
	uint32_t a = (uint32_t)dev.slot << 11; /* enable bit clear */
	bus_access(BUS_PIO, 0xcf8, (uint8_t *)&a, 4, true);
	bus_access(BUS_PIO, 0xcfc, (uint8_t *)&v, 4, false);
	ck_assert_uint_eq(v, 0xffffffffu);
	/* ... while the device itself answers. */
	ck_assert_uint_eq(conf1_read(dev.slot, 0, 4), 0x56781234);
}
END_TEST

START_TEST(conf1_byte_and_word_accesses_hit_the_right_bytes)
{
	ck_assert_int_eq(pci_register(&dev), 0);
	ck_assert_uint_eq(conf1_read(dev.slot, PCI_DEVICE_ID, 2), 0x5678);
	ck_assert_uint_eq(conf1_read(dev.slot, PCI_CLASS_DEVICE + 1, 1), 0x02);
	ck_assert_uint_eq(conf1_read(dev.slot, PCI_REVISION_ID, 1), 3);
	ck_assert_uint_eq(conf1_read(dev.slot, PCI_SUBSYSTEM_ID, 2), 0x0042);
	conf1_write(dev.slot, PCI_INTERRUPT_LINE, 1, 0x0b);
	ck_assert_uint_eq(conf1_read(dev.slot, PCI_INTERRUPT_LINE, 1), 0x0b);
	ck_assert_uint_eq(conf1_read(dev.slot, PCI_INTERRUPT_PIN, 1), 1);
}
END_TEST

START_TEST(ids_and_class_are_read_only)
{
	ck_assert_int_eq(pci_register(&dev), 0);
	conf1_write(dev.slot, PCI_VENDOR_ID, 4, 0xdeadbeef);
	conf1_write(dev.slot, PCI_CLASS_REVISION, 4, 0xffffffff);
	conf1_write(dev.slot, PCI_INTERRUPT_PIN, 1, 4);
	ck_assert_uint_eq(conf1_read(dev.slot, PCI_VENDOR_ID, 4), 0x56781234);
	ck_assert_uint_eq(conf1_read(dev.slot, PCI_CLASS_REVISION, 4), 0x02000003);
	ck_assert_uint_eq(conf1_read(dev.slot, PCI_INTERRUPT_PIN, 1), 1);
}
END_TEST

START_TEST(status_error_bits_are_write_one_to_clear)
{
	uint8_t cap[4] = {0x09, 0, 4, 0};
	ck_assert_uint_ne(pci_cap_add(&dev, cap, sizeof(cap)), 0);
	ck_assert_int_eq(pci_register(&dev), 0);
	dev.cfg[PCI_STATUS + 1] |= (PCI_STATUS_DETECTED_PARITY | PCI_STATUS_REC_MASTER_ABORT) >> 8;
	uint32_t st = conf1_read(dev.slot, PCI_STATUS, 2);
	ck_assert_uint_eq(st, PCI_STATUS_DETECTED_PARITY | PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_CAP_LIST);
	/* Writing 0 changes nothing; writing 1 clears just that bit; read-only bits stay. */
	conf1_write(dev.slot, PCI_STATUS, 2, 0);
	ck_assert_uint_eq(conf1_read(dev.slot, PCI_STATUS, 2), st);
	conf1_write(dev.slot, PCI_STATUS, 2, PCI_STATUS_DETECTED_PARITY | PCI_STATUS_CAP_LIST);
	ck_assert_uint_eq(conf1_read(dev.slot, PCI_STATUS, 2),
			  PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_CAP_LIST);
	/* A dword write to the command register with zero status leaves status alone too. */
	conf1_write(dev.slot, PCI_COMMAND, 4, PCI_COMMAND_MASTER);
	ck_assert_uint_eq(conf1_read(dev.slot, PCI_STATUS, 2),
			  PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_CAP_LIST);
	ck_assert(pci_bus_master(&dev));
}
END_TEST

START_TEST(bar_sizing_32bit_reads_back_size_mask)
{
	ck_assert_int_eq(pci_register(&dev), 0);
	uint32_t orig = conf1_read(dev.slot, PCI_BASE_ADDRESS_0, 4);
	conf1_write(dev.slot, PCI_COMMAND, 2, 0);
	conf1_write(dev.slot, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	ck_assert_uint_eq(conf1_read(dev.slot, PCI_BASE_ADDRESS_0, 4), 0xfffff000u);
	conf1_write(dev.slot, PCI_BASE_ADDRESS_0, 4, orig);
	ck_assert_uint_eq(conf1_read(dev.slot, PCI_BASE_ADDRESS_0, 4), orig);
	/* Unused BARs size to zero. */
	conf1_write(dev.slot, PCI_BASE_ADDRESS_1, 4, 0xffffffff);
	ck_assert_uint_eq(conf1_read(dev.slot, PCI_BASE_ADDRESS_1, 4), 0);
	conf1_write(dev.slot, PCI_BASE_ADDRESS_5, 4, 0xffffffff);
	ck_assert_uint_eq(conf1_read(dev.slot, PCI_BASE_ADDRESS_5, 4), 0);
}
END_TEST

START_TEST(bar_sizing_64bit_keeps_type_bits)
{
	ck_assert_int_eq(pci_register(&dev), 0);
	conf1_write(dev.slot, PCI_COMMAND, 2, 0);
	conf1_write(dev.slot, PCI_BASE_ADDRESS_2, 4, 0xffffffff);
	conf1_write(dev.slot, PCI_BASE_ADDRESS_3, 4, 0xffffffff);
	ck_assert_uint_eq(conf1_read(dev.slot, PCI_BASE_ADDRESS_2, 4),
			  0xffffc000u | PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
	ck_assert_uint_eq(conf1_read(dev.slot, PCI_BASE_ADDRESS_3, 4), 0xffffffffu);
}
END_TEST

START_TEST(bars_are_placed_aligned_in_their_windows)
{
	static struct pci_dev second;
	pci_dev_init(&second, 0x1234, 0x1, 0, 0, 0, 0);
	pci_bar_init(&second, 0, 0x100000, false, false, false, bar_io, NULL);
	ck_assert_int_eq(pci_register(&dev), 0);
	ck_assert_int_eq(pci_register(&second), 0);
	ck_assert_int_eq(dev.slot, 1);
	ck_assert_int_eq(second.slot, 2);
	ck_assert_uint_ge(dev.bar[0].addr, LAYOUT_PCI_MMIO32);
	ck_assert_uint_le(dev.bar[0].addr + 0x1000 - 1, LAYOUT_PCI_MMIO32_END);
	ck_assert_uint_eq(dev.bar[0].addr % 0x1000, 0);
	ck_assert_uint_eq(second.bar[0].addr % 0x100000, 0);
	ck_assert(second.bar[0].addr >= dev.bar[0].addr + 0x1000 ||
		  second.bar[0].addr + 0x100000 <= dev.bar[0].addr);
	ck_assert_uint_ge(dev.bar[2].addr, LAYOUT_PCI_MMIO64);
	ck_assert_uint_eq(dev.bar[2].addr % 0x4000, 0);
	uint64_t cfg64 = conf1_read(dev.slot, PCI_BASE_ADDRESS_2, 4) & ~0xfull;
	cfg64 |= (uint64_t)conf1_read(dev.slot, PCI_BASE_ADDRESS_3, 4) << 32;
	ck_assert_uint_eq(cfg64, dev.bar[2].addr);
	/* Decode is on after registration, like firmware leaves it. */
	ck_assert(dev.bar[0].mapped && dev.bar[2].mapped);
	uint8_t b;
	ck_assert(bus_access(BUS_MMIO, dev.bar[2].addr + 0x3fff, &b, 1, false));
	ck_assert_uint_eq(b, 0x5a);
}
END_TEST

START_TEST(bar_move_reregisters_bus_range)
{
	ck_assert_int_eq(pci_register(&dev), 0);
	uint64_t old = dev.bar[0].addr, new = LAYOUT_PCI_MMIO32 + 0x800000;
	uint32_t v;
	ck_assert(bus_access(BUS_MMIO, old, (uint8_t *)&v, 4, false));
	int before = moved_calls[0];
	conf1_write(dev.slot, PCI_BASE_ADDRESS_0, 4, (uint32_t) new);
	ck_assert_uint_eq(dev.bar[0].addr, new);
	ck_assert_int_gt(moved_calls[0], before);
	ck_assert(!bus_access(BUS_MMIO, old, (uint8_t *)&v, 4, false));
	ck_assert_uint_eq(v, 0xffffffffu);
	bar_hits = 0;
	ck_assert(bus_access(BUS_MMIO, new + 8, (uint8_t *)&v, 4, false));
	ck_assert_int_eq(bar_hits, 1);
}
END_TEST

START_TEST(memory_space_enable_maps_and_unmaps_bars)
{
	ck_assert_int_eq(pci_register(&dev), 0);
	uint64_t a0 = dev.bar[0].addr, a2 = dev.bar[2].addr;
	uint32_t v;
	int before = moved_calls[2];
	conf1_write(dev.slot, PCI_COMMAND, 2, 0);
	ck_assert(!dev.bar[0].mapped && !dev.bar[2].mapped);
	ck_assert_int_eq(moved_calls[2], before + 1);
	ck_assert(!bus_access(BUS_MMIO, a0, (uint8_t *)&v, 4, false));
	ck_assert(!bus_access(BUS_MMIO, a2, (uint8_t *)&v, 4, false));
	conf1_write(dev.slot, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ck_assert(dev.bar[0].mapped && dev.bar[2].mapped);
	ck_assert(bus_access(BUS_MMIO, a0, (uint8_t *)&v, 4, false));
	ck_assert(bus_access(BUS_MMIO, a2, (uint8_t *)&v, 4, false));
}
END_TEST

START_TEST(capability_list_walk_visits_every_cap)
{
	uint8_t a[12] = {0x11}, b[16] = {0x09, 0, 16, 1}, c[5] = {0x09, 0, 5, 2};
	uint8_t oa = pci_cap_add(&dev, a, sizeof(a));
	uint8_t ob = pci_cap_add(&dev, b, sizeof(b));
	uint8_t oc = pci_cap_add(&dev, c, sizeof(c));
	ck_assert_uint_eq(oa, 0x40);
	ck_assert_uint_eq(oc % 4, 0);
	ck_assert_int_eq(pci_register(&dev), 0);
	ck_assert(conf1_read(dev.slot, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	uint8_t want[] = {oa, ob, oc}, ids[] = {0x11, 0x09, 0x09};
	uint32_t p = conf1_read(dev.slot, PCI_CAPABILITY_LIST, 1);
	int n = 0;
	while (p && n < 10) {
		ck_assert_uint_eq(p, want[n]);
		ck_assert_uint_eq(conf1_read(dev.slot, p, 1), ids[n]);
		p = conf1_read(dev.slot, p + 1, 1);
		n++;
	}
	ck_assert_int_eq(n, 3);
	ck_assert_uint_eq(conf1_read(dev.slot, ob + 3, 1), 1);
	/* Capabilities are read-only unless opened. */
	conf1_write(dev.slot, ob + 3, 1, 7);
	ck_assert_uint_eq(conf1_read(dev.slot, ob + 3, 1), 1);
	pci_cfg_set_wmask(&dev, ob + 3, 1, 0xff);
	conf1_write(dev.slot, ob + 3, 1, 7);
	ck_assert_uint_eq(conf1_read(dev.slot, ob + 3, 1), 7);
}
END_TEST

START_TEST(capability_that_does_not_fit_is_refused)
{
	uint8_t big[200] = {0x09};
	ck_assert_uint_ne(pci_cap_add(&dev, big, 180), 0);
	ck_assert_uint_eq(pci_cap_add(&dev, big, 40), 0);
}
END_TEST

static uint32_t line_gsi[8];
static int line_level[8], line_n;
static int fake_line(uint32_t gsi, int level)
{
	if (line_n < 8) {
		line_gsi[line_n] = gsi;
		line_level[line_n] = level;
	}
	line_n++;
	return 0;
}

START_TEST(intx_uses_slot_gsi_and_honours_intx_disable)
{
	pci_set_line_fn(fake_line);
	line_n = 0;
	ck_assert_int_eq(pci_register(&dev), 0);
	ck_assert_uint_eq(dev.intx_gsi, LAYOUT_PCI_INTX_GSI_BASE + dev.slot % 8);
	pci_intx(&dev, 1);
	ck_assert_int_eq(line_n, 1);
	ck_assert_uint_eq(line_gsi[0], dev.intx_gsi);
	ck_assert_int_eq(line_level[0], 1);
	ck_assert(conf1_read(dev.slot, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	/* INTx Disable drops the line while the device still asserts it (status bit stays). */
	conf1_write(dev.slot, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE);
	ck_assert_int_eq(line_level[line_n - 1], 0);
	ck_assert(conf1_read(dev.slot, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	pci_intx(&dev, 1);
	ck_assert_int_eq(line_level[line_n - 1], 0);
	/* Re-enabling raises it again. */
	conf1_write(dev.slot, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ck_assert_int_eq(line_level[line_n - 1], 1);
	pci_intx(&dev, 0);
	ck_assert_int_eq(line_level[line_n - 1], 0);
	ck_assert(!(conf1_read(dev.slot, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT));
}
END_TEST

START_TEST(devices_are_listed_with_the_host_bridge_first)
{
	ck_assert_int_eq(pci_dev_count(), 1);
	ck_assert_int_eq(pci_register(&dev), 0);
	ck_assert_int_eq(pci_dev_count(), 2);
	ck_assert_int_eq(pci_dev_at(0)->slot, 0);
	ck_assert_ptr_eq(pci_dev_at(1), &dev);
	ck_assert_ptr_null(pci_dev_at(2));
	ck_assert_int_eq(pci_host_init(), -EEXIST);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pci");
	TCase *tc = tcase_create("pci");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, conf1_reads_host_bridge_at_slot_0);
	tcase_add_test(tc, conf1_address_register_reads_back);
	tcase_add_test(tc, absent_functions_read_all_ones);
	tcase_add_test(tc, conf1_byte_and_word_accesses_hit_the_right_bytes);
	tcase_add_test(tc, ids_and_class_are_read_only);
	tcase_add_test(tc, status_error_bits_are_write_one_to_clear);
	tcase_add_test(tc, bar_sizing_32bit_reads_back_size_mask);
	tcase_add_test(tc, bar_sizing_64bit_keeps_type_bits);
	tcase_add_test(tc, bars_are_placed_aligned_in_their_windows);
	tcase_add_test(tc, bar_move_reregisters_bus_range);
	tcase_add_test(tc, memory_space_enable_maps_and_unmaps_bars);
	tcase_add_test(tc, capability_list_walk_visits_every_cap);
	tcase_add_test(tc, capability_that_does_not_fit_is_refused);
	tcase_add_test(tc, intx_uses_slot_gsi_and_honours_intx_disable);
	tcase_add_test(tc, devices_are_listed_with_the_host_bridge_first);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
