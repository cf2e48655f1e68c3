/* test_mptable.c: the MP floating pointer and configuration table (mptable.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/firmware.h"
#include "firmware/layout.h"
#include "tests/unit/unit.h"

#define RAM (2ULL << 20)

static uint8_t *ram;
static struct guest_mem mem;

static void setup(void)
{
	ram = calloc(1, RAM);
	guest_mem_fake(&mem, ram, RAM);
}

static void teardown(void)
{
	free(ram);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

static uint16_t le16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
	return le16(p) | (uint32_t)le16(p + 2) << 16;
}

/* Returns the config table and checks the floating pointer on the way. */
static uint8_t *mp_config(int ncpus)
{
	struct machine_desc md = { .ram_size = RAM, .ncpus = ncpus };
	ck_assert_int_eq(mptable_write(&mem, &md), 0);
	uint8_t *mpf = ram + LAYOUT_MPTABLE;
	ck_assert_mem_eq(mpf, "_MP_", 4);
	ck_assert_uint_eq(mpf[8], 1); /* length in paragraphs */
	ck_assert_uint_eq(mpf[9], 4); /* spec 1.4 */
	ck_assert_uint_eq(sum(mpf, 16), 0);
	ck_assert_uint_eq(mpf[11], 0); /* feature1: a config table, no default config */
	uint32_t phys = le32(mpf + 4);
	ck_assert_uint_lt(phys, RAM);
	uint8_t *mpc = ram + phys;
	ck_assert_mem_eq(mpc, "PCMP", 4);
	ck_assert_uint_eq(sum(mpc, le16(mpc + 4)), 0);
	return mpc;
}

START_TEST(floating_pointer_lies_where_linux_scans)
{
	mp_config(1);
	/* Linux's smp_scan_config() looks at 0xf0000-0xfffff on 16-byte boundaries. */
	ck_assert_uint_ge(LAYOUT_MPTABLE, 0xf0000);
	ck_assert_uint_le(LAYOUT_MPTABLE, 0xffff0);
	ck_assert_uint_eq(LAYOUT_MPTABLE % 16, 0);
}
END_TEST

/* Walks the entries, counting processors (checking their ids) and finding the IOAPIC. */
START_TEST(config_table_lists_each_cpu_and_the_ioapic)
{
	for (int n = 1; n <= 64; n *= 4) {
		uint8_t *mpc = mp_config(n);
		ck_assert_uint_eq(le32(mpc + 36), LAYOUT_LAPIC);
		int count = le16(mpc + 34), cpus = 0, ioapics = 0;
		uint8_t *p = mpc + 44, *end = mpc + le16(mpc + 4);
		for (int i = 0; i < count; i++) {
			ck_assert(p < end);
			switch (p[0]) {
			case 0:
				ck_assert_uint_eq(p[1], cpus); /* APIC ids 0..n-1 in order */
				ck_assert_uint_eq(p[3] & 1, 1);
				ck_assert_uint_eq(!!(p[3] & 2), cpus == 0); /* BP is cpu 0 only */
				cpus++;
				p += 20;
				break;
			case 2:
				ck_assert_uint_eq(p[1], n);
				ck_assert_uint_eq(le32(p + 4), LAYOUT_IOAPIC);
				ioapics++;
				p += 8;
				break;
			default:
				ck_assert_uint_le(p[0], 4);
				p += 8;
			}
		}
		ck_assert_ptr_eq(p, end);
		ck_assert_int_eq(cpus, n);
		ck_assert_int_eq(ioapics, 1);
	}
}
END_TEST

/* Finds the I/O interrupt entry for (bus, busirq); returns NULL if none. */
static uint8_t *mp_intsrc(uint8_t *mpc, int bus, int busirq)
{
	uint8_t *p = mpc + 44;
	for (int i = 0; i < le16(mpc + 34); i++) {
		if (p[0] == 3 && p[4] == bus && p[5] == busirq)
			return p;
		p += p[0] == 0 ? 20 : 8;
	}
	return NULL;
}

START_TEST(isa_irqs_and_pci_intx_route_to_the_agreed_gsis)
{
	uint8_t *mpc = mp_config(2);
	int pci_bus = -1, isa_bus = -1;
	uint8_t *p = mpc + 44;
	for (int i = 0; i < le16(mpc + 34); i++) {
		if (p[0] == 1 && !memcmp(p + 2, "PCI   ", 6))
			pci_bus = p[1];
		if (p[0] == 1 && !memcmp(p + 2, "ISA   ", 6))
			isa_bus = p[1];
		p += p[0] == 0 ? 20 : 8;
	}
	ck_assert_int_ge(pci_bus, 0);
	ck_assert_int_ge(isa_bus, 0);

	for (int irq = 0; irq < 16; irq++) {
		uint8_t *e = mp_intsrc(mpc, isa_bus, irq);
		ck_assert_ptr_nonnull(e);
		ck_assert_uint_eq(e[6], 2);   /* IOAPIC id = ncpus */
		ck_assert_uint_eq(e[7], irq); /* identity: no IRQ0 override */
	}
	/* slot 3 INTA# -> 19, slot 5 INTC# -> 16 + 7 = 23, slot 6 INTD# -> 16 + 9 % 8 = 17 */
	uint8_t *e = mp_intsrc(mpc, pci_bus, 3 << 2 | 0);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e[7], 19);
	ck_assert_uint_eq(le16(e + 2), 0xf); /* level, active low */
	ck_assert_uint_eq(mp_intsrc(mpc, pci_bus, 5 << 2 | 2)[7], 23);
	ck_assert_uint_eq(mp_intsrc(mpc, pci_bus, 6 << 2 | 3)[7], 17);
	ck_assert_ptr_null(mp_intsrc(mpc, pci_bus, 0)); /* the host bridge has no INTx */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mptable");
	TCase *tc = tcase_create("mptable");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, floating_pointer_lies_where_linux_scans);
	tcase_add_test(tc, config_table_lists_each_cpu_and_the_ioapic);
	tcase_add_test(tc, isa_irqs_and_pci_intx_route_to_the_agreed_gsis);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
