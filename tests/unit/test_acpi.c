/* test_acpi.c: the ACPI tables acpi.c writes: RSDP and every table's checksum, the XSDT links,
 * MADT contents, the FADT's PM and boot-architecture fields, and the DSDT's \_S5, PCI0 and _PRT
 * (matched against hand-assembled AML, not against aml.c's output). */
#include <stdbool.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/acpi_tables.h"
#include "firmware/firmware.h"
#include "firmware/layout.h"
#include "tests/unit/unit.h"

#define RAM (2ULL << 20)
#define NCPUS 4

static uint8_t *ram;
static struct guest_mem mem;

static uint8_t sum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;
	while (n--)
		s += *b++;
	return s;
}

static struct machine_desc md; /* a guest with 39 physical address bits */

static void setup(void)
{
	ram = calloc(1, RAM);
	guest_mem_fake(&mem, ram, RAM);
	ck_assert_int_eq(machine_desc_init(&md, RAM, NCPUS, 39), 0);
	ck_assert_int_eq(firmware_build(&mem, &md), 0);
}

static void teardown(void)
{
	free(ram);
}

static struct acpi_rsdp *rsdp(void)
{
	return (struct acpi_rsdp *)(ram + LAYOUT_RSDP);
}

/* A table by address, checked: inside the reserved BIOS area, length sane, checksum zero. */
static struct acpi_table_header *table_at(uint64_t gpa, const char *sig)
{
	ck_assert_uint_ge(gpa, LAYOUT_BIOS_AREA);
	ck_assert_uint_lt(gpa, LAYOUT_BIOS_END);
	struct acpi_table_header *h = (void *)(ram + gpa);
	ck_assert_mem_eq(h->signature, sig, 4);
	ck_assert_uint_ge(h->length, sizeof(*h));
	ck_assert_uint_le(gpa + h->length, LAYOUT_BIOS_END);
	ck_assert_uint_eq(sum(h, h->length), 0);
	return h;
}

/* The XSDT entry whose signature is sig. */
static struct acpi_table_header *xsdt_find(const char *sig)
{
	struct acpi_table_header *x = table_at(rsdp()->xsdt_address, "XSDT");
	int n = (x->length - sizeof(*x)) / 8;
	for (int i = 0; i < n; i++) {
		uint64_t a;
		memcpy(&a, (uint8_t *)(x + 1) + 8 * i, 8);
		if (!memcmp(ram + a, sig, 4))
			return table_at(a, sig);
	}
	ck_abort_msg("%s not in the XSDT", sig);
	return NULL;
}

static struct acpi_fadt *fadt(void)
{
	return (struct acpi_fadt *)xsdt_find("FACP");
}

START_TEST(rsdp_is_v2_aligned_in_the_bios_area_with_both_checksums)
{
	struct acpi_rsdp *r = rsdp();
	ck_assert_uint_eq(LAYOUT_RSDP % 16, 0);
	ck_assert_uint_ge(LAYOUT_RSDP, 0xe0000);
	ck_assert_uint_lt(LAYOUT_RSDP, 0x100000);
	ck_assert_mem_eq(r->signature, "RSD PTR ", 8);
	ck_assert_uint_eq(r->revision, 2);
	ck_assert_uint_eq(r->length, 36);
	ck_assert_uint_eq(sum(r, 20), 0);
	ck_assert_uint_eq(sum(r, 36), 0);
}
END_TEST

START_TEST(every_table_checksums_to_zero)
{
	table_at(rsdp()->xsdt_address, "XSDT");
	xsdt_find("APIC");
	struct acpi_fadt *f = fadt();
	ck_assert_uint_eq(f->header.length, sizeof(*f));
	ck_assert_uint_eq(f->x_dsdt, f->dsdt);
	table_at(f->x_dsdt, "DSDT");
	struct acpi_facs *facs = (void *)(ram + f->firmware_ctrl);
	ck_assert_mem_eq(facs->signature, "FACS", 4);
	ck_assert_uint_eq(facs->length, 64);
	ck_assert_uint_eq(f->firmware_ctrl % 64, 0);
}
END_TEST

START_TEST(madt_lists_each_cpu_the_ioapic_and_the_sci_override)
{
	struct acpi_madt *madt = (struct acpi_madt *)xsdt_find("APIC");
	ck_assert_uint_eq(madt->local_apic_address, LAYOUT_LAPIC);
	uint8_t *p = (uint8_t *)(madt + 1), *end = (uint8_t *)madt + madt->header.length;
	int cpus = 0, ioapics = 0, sci = 0;
	while (p < end) {
		ck_assert_uint_ge(p[1], 2);
		if (p[0] == ACPI_MADT_LOCAL_APIC) {
			struct acpi_madt_local_apic *l = (void *)p;
			ck_assert_uint_eq(l->apic_id, cpus);
			ck_assert_uint_eq(l->flags & 1, 1);
			cpus++;
		} else if (p[0] == ACPI_MADT_IO_APIC) {
			struct acpi_madt_io_apic *io = (void *)p;
			ck_assert_uint_eq(io->io_apic_id, NCPUS);
			ck_assert_uint_eq(io->io_apic_address, LAYOUT_IOAPIC);
			ck_assert_uint_eq(io->global_system_interrupt_base, 0);
			ioapics++;
		} else if (p[0] == ACPI_MADT_INTERRUPT_OVERRIDE) {
			struct acpi_madt_interrupt_override *o = (void *)p;
			ck_assert_uint_eq(o->source, 9); /* the only override: no IRQ0 -> 2 */
			ck_assert_uint_eq(o->global_system_interrupt, 9);
			ck_assert_uint_eq(o->flags, 0xd); /* level, active high */
			sci++;
		}
		p += p[1];
	}
	ck_assert(p == end);
	ck_assert_int_eq(cpus, NCPUS);
	ck_assert_int_eq(ioapics, 1);
	ck_assert_int_eq(sci, 1);
}
END_TEST

START_TEST(fadt_is_classic_with_pm1a_blocks_and_sci_9)
{
	struct acpi_fadt *f = fadt();
	ck_assert_uint_eq(f->flags & ACPI_FADT_HW_REDUCED, 0);
	ck_assert_uint_eq(f->sci_int, 9);
	ck_assert_uint_eq(f->smi_cmd, 0);
	ck_assert_uint_eq(f->pm1a_evt_blk, LAYOUT_PORT_PM1A_EVT);
	ck_assert_uint_eq(f->pm1_evt_len, 4);
	ck_assert_uint_eq(f->pm1a_cnt_blk, LAYOUT_PORT_PM1A_CNT);
	ck_assert_uint_eq(f->pm1_cnt_len, 2);
	ck_assert_uint_eq(f->x_pm1a_cnt_blk.space_id, ACPI_GAS_SYSTEM_IO);
	ck_assert_uint_eq(f->x_pm1a_cnt_blk.address, LAYOUT_PORT_PM1A_CNT);
	ck_assert_uint_eq(f->x_pm1a_cnt_blk.bit_width, 16);
	ck_assert_uint_eq(f->x_pm1a_evt_blk.address, LAYOUT_PORT_PM1A_EVT);
	ck_assert_uint_eq(f->x_pm1a_evt_blk.bit_width, 32);
	ck_assert_uint_eq(f->pm_tmr_blk, 0);
	ck_assert_uint_eq(f->pm_tmr_len, 0);
	ck_assert_uint_eq(f->iapc_boot_arch & ACPI_BOOT_ARCH_8042, 0);
	ck_assert(f->iapc_boot_arch & ACPI_BOOT_ARCH_NO_VGA);
	ck_assert(f->iapc_boot_arch & ACPI_BOOT_ARCH_NO_CMOS_RTC);
	ck_assert_uint_ne(f->x_dsdt, 0);
}
END_TEST

static const uint8_t *dsdt(size_t *len)
{
	struct acpi_table_header *h = table_at(fadt()->x_dsdt, "DSDT");
	*len = h->length;
	return (const uint8_t *)h;
}

static bool dsdt_has(const void *needle, size_t n)
{
	size_t len;
	const uint8_t *d = dsdt(&len);
	return memmem(d, len, needle, n) != NULL;
}

START_TEST(dsdt_s5_package_starts_with_slp_typ)
{
	/* Name(\_S5_, Package(4) { 5, ... }): NameOp, RootChar, name, PackageOp, PkgLength,
	 * NumElements 4, BytePrefix 5 (PkgLength 8: itself, count, 0A 05, 0A 05, 00, 00). */
	static const uint8_t s5[] = { 0x08, '\\', '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a,
				      LAYOUT_S5_SLP_TYP };
	ck_assert(dsdt_has(s5, sizeof(s5)));
}
END_TEST

START_TEST(dsdt_has_pci0_host_bridge_with_windows)
{
	static const uint8_t dev[] = { 0x5b, 0x82 };
	static const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03 };
	static const uint8_t seg[] = { 0x08, '_', 'S', 'E', 'G', 0x00 };
	static const uint8_t bbn[] = { 0x08, '_', 'B', 'B', 'N', 0x00 };
	/* DWord memory producer: type 0, flags 0x0c, RW, gran 0, min, max, tra 0, len. */
	static const uint8_t mmio32[] = { 0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0, 0, 0, 0,
					  0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xbf, 0xfe };
	static const uint8_t io_window[] = { 0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0,
					     0x00, 0x0d, 0xff, 0xff };
	static const uint8_t cf8[] = { 0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08 };
	uint8_t mmio64[2 + 1 + 3 + 8 * 5] = { 0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x03 };
	/* The 64-bit window as machine_desc_init() placed it, below 2^39: Linux drops a _CRS window
	 * it cannot address, and then has nowhere for 64-bit BARs. */
	uint64_t q[5] = { 0, md.mmio64_base, md.mmio64_base + md.mmio64_size - 1, 0, md.mmio64_size };
	ck_assert_uint_le(q[2], (1ULL << 39) - 1);
	memcpy(mmio64 + 6, q, sizeof(q));

	ck_assert(dsdt_has("PCI0", 4));
	ck_assert(dsdt_has(dev, sizeof(dev)));
	ck_assert(dsdt_has(hid, sizeof(hid)));
	ck_assert(dsdt_has(seg, sizeof(seg)));
	ck_assert(dsdt_has(bbn, sizeof(bbn)));
	ck_assert(dsdt_has("_CRS", 4));
	ck_assert(dsdt_has(mmio32, sizeof(mmio32)));
	ck_assert(dsdt_has(mmio64, sizeof(mmio64)));
	ck_assert(dsdt_has(io_window, sizeof(io_window)));
	ck_assert(dsdt_has(cf8, sizeof(cf8)));
}
END_TEST

START_TEST(dsdt_prt_routes_every_slot_and_pin_by_the_swizzle)
{
	size_t len;
	const uint8_t *d = dsdt(&len);
	const uint8_t *prt = memmem(d, len, "_PRT\x12", 5);
	ck_assert_ptr_nonnull(prt);
	ck_assert_uint_eq(prt[5] >> 6, 1); /* two-byte PkgLength */
	ck_assert_uint_eq(prt[7], 31 * 4);

	for (int slot = 1; slot < 32; slot++) {
		for (int pin = 0; pin < 4; pin++) {
			/* Package(4) { 0xSSSSFFFF, pin, Zero, GSI } */
			uint8_t e[16];
			size_t n = 0;
			e[n++] = 0x12;
			e[n++] = 0; /* PkgLength, filled below */
			e[n++] = 4;
			e[n++] = 0x0c;
			e[n++] = 0xff;
			e[n++] = 0xff;
			e[n++] = (uint8_t)slot;
			e[n++] = 0;
			if (pin < 2) {
				e[n++] = (uint8_t)pin; /* ZeroOp / OneOp */
			} else {
				e[n++] = 0x0a;
				e[n++] = (uint8_t)pin;
			}
			e[n++] = 0x00;
			e[n++] = 0x0a;
			e[n++] = (uint8_t)(16 + (slot + pin) % 8);
			e[1] = (uint8_t)(n - 1);
			ck_assert_msg(memmem(prt, len - (prt - d), e, n), "no _PRT entry for slot %d pin %d",
				      slot, pin);
		}
	}
}
END_TEST

START_TEST(too_many_cpus_are_refused)
{
	struct machine_desc many = md;
	many.ncpus = 255;
	ck_assert_int_lt(firmware_build(&mem, &many), 0);
	many.ncpus = 0;
	ck_assert_int_lt(firmware_build(&mem, &many), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acpi");
	TCase *tc = tcase_create("acpi");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, rsdp_is_v2_aligned_in_the_bios_area_with_both_checksums);
	tcase_add_test(tc, every_table_checksums_to_zero);
	tcase_add_test(tc, madt_lists_each_cpu_the_ioapic_and_the_sci_override);
	tcase_add_test(tc, fadt_is_classic_with_pm1a_blocks_and_sci_9);
	tcase_add_test(tc, dsdt_s5_package_starts_with_slp_typ);
	tcase_add_test(tc, dsdt_has_pci0_host_bridge_with_windows);
	tcase_add_test(tc, dsdt_prt_routes_every_slot_and_pin_by_the_swizzle);
	tcase_add_test(tc, too_many_cpus_are_refused);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
