/* acpi.c: the ACPI tables (ACPI 6.4): RSDP -> XSDT -> {FADT -> {FACS, DSDT}, MADT}, all in the
 * LAYOUT_ACPI area, which e820 reserves. A classic (not hardware-reduced) FADT so Linux powers
 * off through PM1a_CNT (\_S5 in the DSDT) and takes its SCI on IRQ 9; the DSDT describes the PCI
 * host bridge with its windows and INTx routing (_PRT). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/acpi_tables.h"
#include "firmware/aml.h"
#include "firmware/firmware.h"
#include "firmware/layout.h"

#define ACPI_OEM_ID "MINVMM"
#define ACPI_OEM_TABLE_ID "MINIVMM "
#define ACPI_CREATOR_ID "MVMM"

struct acpi_builder {
	uint8_t *buf; /* mirrors [LAYOUT_ACPI, LAYOUT_ACPI + LAYOUT_ACPI_MAX) */
	size_t len;
};

/* Reserves size bytes aligned to align; returns the offset into the area. The buffer is sized
 * so the fixed-size tables always fit (checked by the caller for the per-CPU part). */
static size_t acpi_alloc(struct acpi_builder *b, size_t size, size_t align)
{
	size_t off = (b->len + align - 1) & ~(align - 1);
	b->len = off + size;
	return off;
}

static uint64_t acpi_gpa(size_t off)
{
	return LAYOUT_ACPI + off;
}

static void acpi_header(struct acpi_table_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = 1;
}

/* The DSDT body. */
static void dsdt_build(struct aml *a, const struct machine_desc *md)
{
	/* \_S5: SLP_TYPa, SLP_TYPb, reserved, reserved (7.4.2). Only PM1a exists. */
	aml_name(a, "\\_S5_");
	size_t s5 = aml_package(a, 4);
	aml_integer(a, LAYOUT_S5_SLP_TYP);
	aml_integer(a, LAYOUT_S5_SLP_TYP);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_end(a, s5);

	size_t sb = aml_scope(a, "\\_SB_");
	size_t pci = aml_device(a, "PCI0");
	aml_name(a, "_HID");
	aml_integer(a, aml_eisaid("PNP0A03"));
	/* No _ADR: a device has a _HID or an _ADR, not both (6.1); iasl warns on both. */
	aml_name(a, "_SEG");
	aml_integer(a, 0);
	aml_name(a, "_BBN");
	aml_integer(a, 0);
	aml_name(a, "_UID");
	aml_integer(a, 0);

	/* What the root bus decodes: bus 0, the conf1 ports, and the windows the PCI model places
	 * BARs in. Legacy ports below 0xd00 (serial, PM) stay outside, claimed by their owners. */
	uint8_t crs_buf[256];
	struct aml crs;
	aml_init(&crs, crs_buf, sizeof(crs_buf));
	aml_res_bus(&crs, 0, 0);
	aml_res_io(&crs, 0xcf8, 8);
	aml_res_io_window(&crs, 0x0d00, 0xffff);
	aml_res_mem32(&crs, (uint32_t)LAYOUT_PCI_MMIO32, (uint32_t)LAYOUT_PCI_MMIO32_END);
	aml_res_mem64(&crs, md->mmio64_base, md->mmio64_base + md->mmio64_size - 1);
	aml_res_end(&crs);
	aml_name(a, "_CRS");
	aml_buffer(a, crs.buf, crs.len);
	if (crs.overflow)
		a->overflow = true;

	/* _PRT (6.2.13): {address (slot << 16 | 0xffff: any function), pin (0 = INTA#), source
	 * Zero (the index is a GSI), GSI}. The same swizzle as the PCI model and the MP table. */
	aml_name(a, "_PRT");
	size_t prt = aml_package(a, 31 * 4);
	for (int slot = 1; slot < 32; slot++) {
		for (int pin = 0; pin < 4; pin++) {
			size_t e = aml_package(a, 4);
			aml_integer(a, (uint64_t)slot << 16 | 0xffff);
			aml_integer(a, pin);
			aml_integer(a, 0);
			aml_integer(a, LAYOUT_PCI_INTX_GSI(slot, pin));
			aml_end(a, e);
		}
	}
	aml_end(a, prt);
	aml_end(a, pci);
	aml_end(a, sb);
}

static size_t dsdt_write(struct acpi_builder *b, const struct machine_desc *md)
{
	size_t off = acpi_alloc(b, sizeof(struct acpi_table_header), 16);
	struct aml a;

	aml_init(&a, b->buf + b->len, LAYOUT_ACPI_MAX - b->len);
	dsdt_build(&a, md);
	if (a.overflow)
		return 0;
	b->len += a.len;
	struct acpi_table_header *h = (void *)(b->buf + off);
	acpi_header(h, "DSDT", sizeof(*h) + a.len, 2); /* revision 2: 64-bit integers */
	h->checksum = firmware_checksum(h, h->length);
	return off;
}

static size_t madt_write(struct acpi_builder *b, const struct machine_desc *md)
{
	size_t len = sizeof(struct acpi_madt) + md->ncpus * sizeof(struct acpi_madt_local_apic) +
		     sizeof(struct acpi_madt_io_apic) + sizeof(struct acpi_madt_interrupt_override) +
		     sizeof(struct acpi_madt_local_apic_nmi);
	size_t off = acpi_alloc(b, len, 16);
	struct acpi_madt *madt = (void *)(b->buf + off);
	uint8_t *p = (uint8_t *)(madt + 1);

	acpi_header(&madt->header, "APIC", len, 5);
	madt->local_apic_address = (uint32_t)LAYOUT_LAPIC;
	madt->flags = ACPI_MADT_PCAT_COMPAT;
	for (int i = 0; i < md->ncpus; i++) {
		struct acpi_madt_local_apic lapic = {
			.type = ACPI_MADT_LOCAL_APIC, .length = sizeof(lapic),
			.processor_uid = (uint8_t)i, .apic_id = (uint8_t)i, .flags = 1,
		};
		memcpy(p, &lapic, sizeof(lapic));
		p += sizeof(lapic);
	}
	struct acpi_madt_io_apic ioapic = {
		.type = ACPI_MADT_IO_APIC, .length = sizeof(ioapic),
		.io_apic_id = (uint8_t)md->ncpus, .io_apic_address = (uint32_t)LAYOUT_IOAPIC,
		.global_system_interrupt_base = 0,
	};
	memcpy(p, &ioapic, sizeof(ioapic));
	p += sizeof(ioapic);
	/* The SCI is level triggered, active high (5.2.9: "active low" is for non-ISA SCIs);
	 * without this override Linux would program ISA IRQ 9 as edge. ISA IRQ 0 needs none:
	 * KVM's default routing sends GSI 0 to IOAPIC pin 0. */
	struct acpi_madt_interrupt_override sci = {
		.type = ACPI_MADT_INTERRUPT_OVERRIDE, .length = sizeof(sci), .bus = 0,
		.source = LAYOUT_IRQ_SCI, .global_system_interrupt = LAYOUT_IRQ_SCI,
		.flags = ACPI_MPS_INTI_ACTIVE_HIGH | ACPI_MPS_INTI_LEVEL,
	};
	memcpy(p, &sci, sizeof(sci));
	p += sizeof(sci);
	struct acpi_madt_local_apic_nmi nmi = {
		.type = ACPI_MADT_LOCAL_APIC_NMI, .length = sizeof(nmi), .processor_uid = 0xff,
		.flags = 0, .lint = 1,
	};
	memcpy(p, &nmi, sizeof(nmi));
	madt->header.checksum = firmware_checksum(madt, len);
	return off;
}

static struct acpi_gas acpi_gas_io(uint8_t bits, uint64_t port)
{
	/* access_size 2: the PM1 registers are 16 bits wide (4.8.3.1). */
	return (struct acpi_gas){ .space_id = ACPI_GAS_SYSTEM_IO, .bit_width = bits,
				  .access_size = 2, .address = port };
}

static size_t fadt_write(struct acpi_builder *b, size_t dsdt, size_t facs)
{
	size_t off = acpi_alloc(b, sizeof(struct acpi_fadt), 16);
	struct acpi_fadt *f = (void *)(b->buf + off);

	acpi_header(&f->header, "FACP", sizeof(*f), 6);
	f->fadt_minor_version = 0;
	f->firmware_ctrl = (uint32_t)acpi_gpa(facs);
	f->dsdt = (uint32_t)acpi_gpa(dsdt);
	f->x_dsdt = acpi_gpa(dsdt);
	f->sci_int = LAYOUT_IRQ_SCI;
	/* SMI_CMD 0: no SMM to hand over from; OSPM takes the machine as already in ACPI mode. */
	f->smi_cmd = 0;
	f->pm1a_evt_blk = LAYOUT_PORT_PM1A_EVT;
	f->pm1_evt_len = 4;
	f->pm1a_cnt_blk = LAYOUT_PORT_PM1A_CNT;
	f->pm1_cnt_len = 2;
	f->x_pm1a_evt_blk = acpi_gas_io(32, LAYOUT_PORT_PM1A_EVT);
	f->x_pm1a_cnt_blk = acpi_gas_io(16, LAYOUT_PORT_PM1A_CNT);
	/* No PM timer, no GPE blocks; C2/C3 latencies above the limits mean "not supported". */
	f->p_lvl2_lat = 101;
	f->p_lvl3_lat = 1001;
	f->iapc_boot_arch = ACPI_BOOT_ARCH_NO_VGA | ACPI_BOOT_ARCH_NO_CMOS_RTC;
	/* PWR_BUTTON clear: the power button is the fixed-feature one in PM1 (QMP's
	 * system_powerdown presses it); there is no sleep button. */
	f->flags = ACPI_FADT_WBINVD | ACPI_FADT_PROC_C1 | ACPI_FADT_SLP_BUTTON;
	f->header.checksum = firmware_checksum(f, sizeof(*f));
	return off;
}

static size_t facs_write(struct acpi_builder *b)
{
	size_t off = acpi_alloc(b, sizeof(struct acpi_facs), 64); /* 64-byte aligned (5.2.10) */
	struct acpi_facs *facs = (void *)(b->buf + off);

	memcpy(facs->signature, "FACS", 4);
	facs->length = sizeof(*facs);
	facs->version = 2;
	return off;
}

int acpi_write(struct guest_mem *m, const struct machine_desc *md)
{
	struct acpi_builder b = { .buf = calloc(1, LAYOUT_ACPI_MAX) };
	if (!b.buf)
		return -ENOMEM;
	if (md->ncpus * sizeof(struct acpi_madt_local_apic) > LAYOUT_ACPI_MAX / 2) {
		free(b.buf);
		return -E2BIG;
	}

	size_t rsdp_off = acpi_alloc(&b, sizeof(struct acpi_rsdp), 16);
	size_t xsdt_off = acpi_alloc(&b, sizeof(struct acpi_table_header) + 2 * sizeof(uint64_t), 16);
	size_t facs = facs_write(&b);
	size_t dsdt = dsdt_write(&b, md);
	if (!dsdt) {
		free(b.buf);
		return -E2BIG;
	}
	size_t fadt = fadt_write(&b, dsdt, facs);
	size_t madt = madt_write(&b, md);

	struct acpi_table_header *xsdt = (void *)(b.buf + xsdt_off);
	uint64_t entries[2] = { acpi_gpa(fadt), acpi_gpa(madt) };
	acpi_header(xsdt, "XSDT", sizeof(*xsdt) + sizeof(entries), 1);
	memcpy(xsdt + 1, entries, sizeof(entries)); /* unaligned: entries start at offset 36 */
	xsdt->checksum = firmware_checksum(xsdt, xsdt->length);

	_Static_assert(LAYOUT_RSDP == LAYOUT_ACPI, "the RSDP opens the ACPI area");
	struct acpi_rsdp *rsdp = (void *)(b.buf + rsdp_off);
	memcpy(rsdp->signature, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, ACPI_OEM_ID, 6);
	rsdp->revision = 2;
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt_address = acpi_gpa(xsdt_off);
	rsdp->checksum = firmware_checksum(rsdp, 20);
	rsdp->extended_checksum = firmware_checksum(rsdp, sizeof(*rsdp));

	int r = guest_write(m, LAYOUT_ACPI, b.buf, b.len);
	free(b.buf);
	return r;
}
