/* mptable.c: the Intel MultiProcessor Specification 1.4 tables, for kernels booted without ACPI
 * (acpi=off). They describe the same machine as the MADT and _PRT: APIC ids 0..n-1, one IOAPIC
 * with id n, ISA IRQs on IOAPIC pins 0-15 and PCI INTx per LAYOUT_PCI_INTX_GSI(). No uapi
 * header has these structures, so they are spelled out here with the spec's field names. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/firmware.h"
#include "firmware/layout.h"

struct mpf_intel { /* 4.1 MP Floating Pointer Structure */
	char signature[4]; /* "_MP_" */
	uint32_t physptr;
	uint8_t length;    /* in 16-byte units */
	uint8_t specification;
	uint8_t checksum;
	uint8_t feature1;  /* 0: a configuration table is present */
	uint8_t feature2;  /* bit 7 IMCR: 0 = virtual wire mode */
	uint8_t feature3[3];
} __attribute__((packed));

struct mpc_table { /* 4.2 MP Configuration Table Header */
	char signature[4]; /* "PCMP" */
	uint16_t length;
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t oemcount; /* entry count */
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

enum { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_INTSRC = 3, MP_LINTSRC = 4 };

struct mpc_cpu {
	uint8_t type, apicid, apicver, cpuflag;
	uint32_t cpufeature, featureflag, reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type, busid;
	char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type, apicid, apicver, flags;
	uint32_t apicaddr;
} __attribute__((packed));

struct mpc_intsrc { /* also the local interrupt entry */
	uint8_t type, irqtype;
	uint16_t irqflag;
	uint8_t srcbus, srcbusirq, dstapic, dstirq;
} __attribute__((packed));

_Static_assert(sizeof(struct mpf_intel) == 16 && sizeof(struct mpc_table) == 44 &&
		       sizeof(struct mpc_cpu) == 20 && sizeof(struct mpc_bus) == 8 &&
		       sizeof(struct mpc_ioapic) == 8 && sizeof(struct mpc_intsrc) == 8,
	       "MP structure sizes (spec 4.x)");

#define CPU_ENABLED 1
#define CPU_BOOTPROCESSOR 2
#define APIC_VERSION 0x14       /* integrated local APIC, as KVM reports */
#define IOAPIC_VERSION 0x11     /* KVM's IOAPIC */
#define CPU_SIGNATURE 0x600     /* family 6 */
#define CPU_FEATURES 0x201      /* FPU | APIC */
#define MP_IRQTYPE_INT 0
#define MP_IRQTYPE_NMI 1
#define MP_IRQTYPE_EXTINT 3
#define MP_IRQ_LEVEL_LOW 0x000f /* trigger 11b level, polarity 11b active low (table 4-10) */
#define MP_BUS_PCI 0
#define MP_BUS_ISA 1

struct mp_builder {
	uint8_t *buf;
	size_t len;
	uint16_t count;
};

static void *mp_add(struct mp_builder *b, size_t size)
{
	void *p = b->buf + b->len;
	b->len += size;
	b->count++;
	return p;
}

static void mp_intsrc(struct mp_builder *b, uint8_t type, uint8_t irqtype, uint16_t flag,
		      uint8_t bus, uint8_t busirq, uint8_t dstapic, uint8_t dstirq)
{
	struct mpc_intsrc *e = mp_add(b, sizeof(*e));
	*e = (struct mpc_intsrc){ type, irqtype, flag, bus, busirq, dstapic, dstirq };
}

int mptable_write(struct guest_mem *m, const struct machine_desc *md)
{
	uint8_t ioapic_id = (uint8_t)md->ncpus;
	size_t max = sizeof(struct mpf_intel) + sizeof(struct mpc_table) +
		     md->ncpus * sizeof(struct mpc_cpu) + 2 * sizeof(struct mpc_bus) +
		     sizeof(struct mpc_ioapic) + (16 + 31 * 4 + 2) * sizeof(struct mpc_intsrc);
	if (max > LAYOUT_MPTABLE_MAX)
		return -E2BIG;
	uint8_t *buf = calloc(1, max);
	if (!buf)
		return -ENOMEM;

	struct mpf_intel *mpf = (struct mpf_intel *)buf;
	struct mpc_table *mpc = (struct mpc_table *)(buf + sizeof(*mpf));
	struct mp_builder b = { .buf = buf, .len = sizeof(*mpf) + sizeof(*mpc) };

	for (int i = 0; i < md->ncpus; i++) {
		struct mpc_cpu *c = mp_add(&b, sizeof(*c));
		c->type = MP_PROCESSOR;
		c->apicid = (uint8_t)i;
		c->apicver = APIC_VERSION;
		c->cpuflag = CPU_ENABLED | (i == 0 ? CPU_BOOTPROCESSOR : 0);
		c->cpufeature = CPU_SIGNATURE;
		c->featureflag = CPU_FEATURES;
	}
	struct mpc_bus *bus = mp_add(&b, sizeof(*bus));
	*bus = (struct mpc_bus){ MP_BUS, MP_BUS_PCI, "PCI   " };
	bus = mp_add(&b, sizeof(*bus));
	*bus = (struct mpc_bus){ MP_BUS, MP_BUS_ISA, "ISA   " };
	struct mpc_ioapic *io = mp_add(&b, sizeof(*io));
	*io = (struct mpc_ioapic){ MP_IOAPIC, ioapic_id, IOAPIC_VERSION, 1, (uint32_t)LAYOUT_IOAPIC };

	/* ISA IRQ n on IOAPIC pin n: KVM's default GSI routing, so no override is needed. */
	for (int irq = 0; irq < 16; irq++)
		mp_intsrc(&b, MP_INTSRC, MP_IRQTYPE_INT, 0, MP_BUS_ISA, irq, ioapic_id, irq);
	/* PCI source bus IRQ = slot << 2 | pin (spec D.3). */
	for (int slot = 1; slot < 32; slot++)
		for (int pin = 0; pin < 4; pin++)
			mp_intsrc(&b, MP_INTSRC, MP_IRQTYPE_INT, MP_IRQ_LEVEL_LOW, MP_BUS_PCI,
				  (uint8_t)(slot << 2 | pin), ioapic_id,
				  LAYOUT_PCI_INTX_GSI(slot, pin));
	/* Virtual wire: the 8259 on LINT0, NMI on LINT1 of every local APIC (0xff). */
	mp_intsrc(&b, MP_LINTSRC, MP_IRQTYPE_EXTINT, 0, MP_BUS_ISA, 0, 0xff, 0);
	mp_intsrc(&b, MP_LINTSRC, MP_IRQTYPE_NMI, 0, MP_BUS_ISA, 0, 0xff, 1);

	memcpy(mpc->signature, "PCMP", 4);
	mpc->length = (uint16_t)(b.len - sizeof(*mpf));
	mpc->spec = 4;
	memcpy(mpc->oem, "MINIVMM ", 8);
	memcpy(mpc->productid, "MINIVMM     ", 12);
	mpc->oemcount = b.count;
	mpc->lapic = (uint32_t)LAYOUT_LAPIC;
	mpc->checksum = firmware_checksum(mpc, mpc->length);

	memcpy(mpf->signature, "_MP_", 4);
	mpf->physptr = (uint32_t)(LAYOUT_MPTABLE + sizeof(*mpf));
	mpf->length = 1;
	mpf->specification = 4;
	mpf->checksum = firmware_checksum(mpf, sizeof(*mpf));

	int r = guest_write(m, LAYOUT_MPTABLE, buf, b.len);
	free(buf);
	return r;
}
