/* Unit tests for devices/msix.c: capability, table accesses, masking and pending bits, routes. */
#include <check.h>
#include <errno.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>

#include "devices/msix.h"
#include "devices/pci.h"
#include "tests/unit/fake_kvm.h"
#include "tests/unit/unit.h"
#include "vmm/bus.h"

#define NVEC 4
#define BAR  1

static struct pci_dev dev;
static struct msix msix;
static int changed_calls, changed_last;

static void on_changed(void *opaque, int vector)
{
	ck_assert_ptr_eq(opaque, &msix);
	changed_calls++;
	changed_last = vector;
}

static void on_cfg_write(struct pci_dev *d, uint32_t off, uint32_t len, uint32_t val)
{
	(void)d;
	(void)val;
	msix_cfg_write(&msix, off, len);
}
static const struct pci_dev_ops ops = {.cfg_write = on_cfg_write};

static void setup(void)
{
	pci_reset_all();
	bus_reset();
	fake_kvm_reset();
	changed_calls = 0;
	changed_last = -2;
	pci_dev_init(&dev, 0x1af4, 0x1041, 0x020000, 1, 0x1af4, 0x1100);
	dev.ops = &ops;
	ck_assert_int_eq(msix_init(&msix, &dev, BAR, NVEC, &fake_msix_kvm_ops, on_changed, &msix), 0);
	ck_assert_int_eq(pci_register(&dev), 0);
}

static void teardown(void)
{
	msix_free(&msix);
	pci_reset_all();
	bus_reset();
}

static void tbl_write(uint64_t off, uint32_t v)
{
	bus_access(BUS_MMIO, dev.bar[BAR].addr + off, (uint8_t *)&v, 4, true);
}

static uint32_t tbl_read(uint64_t off)
{
	uint32_t v;
	bus_access(BUS_MMIO, dev.bar[BAR].addr + off, (uint8_t *)&v, 4, false);
	return v;
}

static void set_ctrl(uint16_t flags)
{
	pci_cfg_write(&dev, msix.cap + PCI_MSIX_FLAGS, 2, flags);
}

static void program(int v, uint64_t addr, uint32_t data)
{
	tbl_write(v * 16 + PCI_MSIX_ENTRY_LOWER_ADDR, (uint32_t)addr);
	tbl_write(v * 16 + PCI_MSIX_ENTRY_UPPER_ADDR, addr >> 32);
	tbl_write(v * 16 + PCI_MSIX_ENTRY_DATA, data);
}

START_TEST(capability_describes_table_and_pba)
{
	ck_assert_uint_eq(pci_cfg_read(&dev, msix.cap, 1), PCI_CAP_ID_MSIX);
	ck_assert_uint_eq(pci_cfg_read(&dev, PCI_CAPABILITY_LIST, 1), msix.cap);
	ck_assert_uint_eq(pci_cfg_read(&dev, msix.cap + PCI_MSIX_FLAGS, 2), NVEC - 1);
	ck_assert_uint_eq(pci_cfg_read(&dev, msix.cap + PCI_MSIX_TABLE, 4), MSIX_TABLE_OFF | BAR);
	ck_assert_uint_eq(pci_cfg_read(&dev, msix.cap + PCI_MSIX_PBA, 4), MSIX_PBA_OFF | BAR);
	ck_assert_uint_eq(dev.bar[BAR].size, MSIX_BAR_SIZE);
	ck_assert(!dev.bar[BAR].mem64);
	/* Table size is read-only; Enable and Function Mask are not. */
	set_ctrl(0xffff);
	ck_assert_uint_eq(pci_cfg_read(&dev, msix.cap + PCI_MSIX_FLAGS, 2),
			  PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | (NVEC - 1));
	ck_assert_int_eq(fake_kvm.nalloc, NVEC);
}
END_TEST

START_TEST(vectors_start_masked_and_table_reads_back)
{
	for (int v = 0; v < NVEC; v++)
		ck_assert_uint_eq(tbl_read(v * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL), 1);
	program(2, 0xfee01000, 0x4041);
	ck_assert_uint_eq(tbl_read(2 * 16 + PCI_MSIX_ENTRY_LOWER_ADDR), 0xfee01000);
	ck_assert_uint_eq(tbl_read(2 * 16 + PCI_MSIX_ENTRY_UPPER_ADDR), 0);
	ck_assert_uint_eq(tbl_read(2 * 16 + PCI_MSIX_ENTRY_DATA), 0x4041);
	/* Reserved control bits read as zero. */
	tbl_write(2 * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 0xfffffffe);
	ck_assert_uint_eq(tbl_read(2 * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL), 0);
}
END_TEST

START_TEST(qword_accesses_cover_two_fields)
{
	uint64_t a = 0x00000001fee02000ull, dc = 0x0000000000004055ull, r = 0;
	bus_access(BUS_MMIO, dev.bar[BAR].addr + 16, (uint8_t *)&a, 8, true);
	bus_access(BUS_MMIO, dev.bar[BAR].addr + 24, (uint8_t *)&dc, 8, true);
	ck_assert_uint_eq(msix.table[1].addr_lo, 0xfee02000);
	ck_assert_uint_eq(msix.table[1].addr_hi, 1);
	ck_assert_uint_eq(msix.table[1].data, 0x4055);
	ck_assert_uint_eq(msix.table[1].ctrl, 0); /* unmasked by the high dword */
	bus_access(BUS_MMIO, dev.bar[BAR].addr + 16, (uint8_t *)&r, 8, false);
	ck_assert_uint_eq(r, a);
	/* Unaligned accesses do nothing. */
	uint32_t x = 0x12345678;
	bus_access(BUS_MMIO, dev.bar[BAR].addr + 17, (uint8_t *)&x, 4, true);
	ck_assert_uint_eq(msix.table[1].addr_lo, 0xfee02000);
}
END_TEST

START_TEST(notify_while_disabled_is_refused)
{
	ck_assert_int_eq(msix_notify(&msix, 0), -EINVAL);
	set_ctrl(PCI_MSIX_FLAGS_ENABLE);
	ck_assert_int_eq(msix_notify(&msix, NVEC), -EINVAL);
	ck_assert_int_eq(fake_kvm.nsignal, 0);
}
END_TEST

START_TEST(masked_vector_sets_pending_and_unmask_delivers)
{
	set_ctrl(PCI_MSIX_FLAGS_ENABLE);
	program(1, 0xfee00000, 0x21);
	ck_assert_int_eq(msix_notify(&msix, 1), 0);
	ck_assert_int_eq(fake_kvm.nsignal, 0);
	ck_assert_uint_eq(tbl_read(MSIX_PBA_OFF), 1u << 1);
	/* The PBA is read-only. */
	tbl_write(MSIX_PBA_OFF, 0);
	ck_assert_uint_eq(tbl_read(MSIX_PBA_OFF), 1u << 1);
	tbl_write(1 * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	ck_assert_int_eq(fake_kvm.nsignal, 1);
	ck_assert_uint_eq(fake_kvm.signal[0].addr, 0xfee00000);
	ck_assert_uint_eq(fake_kvm.signal[0].data, 0x21);
	ck_assert_uint_eq(tbl_read(MSIX_PBA_OFF), 0);
	/* Now unmasked: delivered at once. */
	ck_assert_int_eq(msix_notify(&msix, 1), 1);
	ck_assert_int_eq(fake_kvm.nsignal, 2);
}
END_TEST

START_TEST(function_mask_holds_every_vector)
{
	set_ctrl(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	program(0, 0xfee00000, 0x30);
	program(3, 0xfee00000, 0x33);
	tbl_write(0 * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	tbl_write(3 * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	ck_assert_int_eq(msix_notify(&msix, 0), 0);
	ck_assert_int_eq(msix_notify(&msix, 3), 0);
	ck_assert_int_eq(msix_vector_gsi(&msix, 0), -1);
	ck_assert_int_eq(fake_kvm.nsignal, 0);
	ck_assert_uint_eq(tbl_read(MSIX_PBA_OFF), 0x9);
	int before = changed_calls;
	set_ctrl(PCI_MSIX_FLAGS_ENABLE);
	ck_assert_int_eq(changed_calls, before + 1);
	ck_assert_int_eq(changed_last, -1);
	ck_assert_int_eq(fake_kvm.nsignal, 2);
	ck_assert_uint_eq(fake_kvm.signal[0].data, 0x30);
	ck_assert_uint_eq(fake_kvm.signal[1].data, 0x33);
	ck_assert_uint_eq(tbl_read(MSIX_PBA_OFF), 0);
}
END_TEST

START_TEST(route_follows_table_writes)
{
	set_ctrl(PCI_MSIX_FLAGS_ENABLE);
	/* Masked: no route is committed while the driver programs the entry. */
	program(2, 0xfee00000, 0x41);
	ck_assert_int_eq(fake_kvm.nset, 0);
	ck_assert_int_eq(msix_vector_gsi(&msix, 2), -1);
	tbl_write(2 * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	ck_assert_int_eq(changed_last, 2);
	ck_assert_int_eq(fake_kvm.nset, 1);
	ck_assert_uint_eq(fake_kvm.set[0].gsi, msix.gsi[2]);
	ck_assert_uint_eq(fake_kvm.set[0].addr, 0xfee00000);
	ck_assert_uint_eq(fake_kvm.set[0].data, 0x41);
	ck_assert_int_eq(msix_vector_gsi(&msix, 2), msix.gsi[2]);
	/* Retargeting an unmasked vector updates the live route. */
	tbl_write(2 * 16 + PCI_MSIX_ENTRY_DATA, 0x42);
	ck_assert_int_eq(fake_kvm.nset, 2);
	ck_assert_uint_eq(fake_kvm.set[1].data, 0x42);
	/* Rewriting the same value commits nothing. */
	tbl_write(2 * 16 + PCI_MSIX_ENTRY_DATA, 0x42);
	ck_assert_int_eq(fake_kvm.nset, 2);
	/* Masking takes the vector away from direct delivery. */
	tbl_write(2 * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 1);
	ck_assert_int_eq(msix_vector_gsi(&msix, 2), -1);
	ck_assert_int_eq(changed_last, 2);
}
END_TEST

START_TEST(disabling_msix_stops_direct_delivery)
{
	set_ctrl(PCI_MSIX_FLAGS_ENABLE);
	program(0, 0xfee00000, 0x50);
	tbl_write(PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	ck_assert_int_ge(msix_vector_gsi(&msix, 0), 24);
	set_ctrl(0);
	ck_assert_int_eq(changed_last, -1);
	ck_assert(!msix_enabled(&msix));
	ck_assert_int_eq(msix_vector_gsi(&msix, 0), -1);
}
END_TEST

START_TEST(free_releases_every_gsi)
{
	msix_free(&msix);
	ck_assert_int_eq(fake_kvm.nfree, NVEC);
	msix_free(&msix);
	ck_assert_int_eq(fake_kvm.nfree, NVEC);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("msix");
	TCase *tc = tcase_create("msix");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, capability_describes_table_and_pba);
	tcase_add_test(tc, vectors_start_masked_and_table_reads_back);
	tcase_add_test(tc, qword_accesses_cover_two_fields);
	tcase_add_test(tc, notify_while_disabled_is_refused);
	tcase_add_test(tc, masked_vector_sets_pending_and_unmask_delivers);
	tcase_add_test(tc, function_mask_holds_every_vector);
	tcase_add_test(tc, route_follows_table_writes);
	tcase_add_test(tc, disabling_msix_stops_direct_delivery);
	tcase_add_test(tc, free_releases_every_gsi);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
