/* test_guest_mem.c: guest RAM as guest_mem_init() maps it: split around the PCI hole, and every
 * region's host address 2 MiB aligned like its guest address, so THP (and KVM's huge-page EPT/NPT
 * mappings) can back it. */
#include <check.h>
#include <stdint.h>

#include "firmware/layout.h"
#include "tests/unit/unit.h"
#include "vmm/guest_mem.h"

#define MIB (1ULL << 20)

/* Sizes that are not a multiple of 2 MiB are the ones the kernel does not align by itself. */
static const uint64_t sizes[] = {64 * MIB, 65 * MIB, 127 * MIB, LAYOUT_PCI_HOLE + 65 * MIB};

START_TEST(every_region_is_2mib_aligned_on_the_host)
{
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		/* Several mappings in a row: whatever the address space looks like, each is aligned. */
		struct guest_mem m[4];
		for (int j = 0; j < 4; j++) {
			ck_assert_int_eq(guest_mem_init(&m[j], sizes[i]), 0);
			ck_assert_int_eq(m[j].nr, sizes[i] > LAYOUT_PCI_HOLE ? 2 : 1);
			for (int r = 0; r < m[j].nr; r++) {
				ck_assert_msg((uintptr_t)m[j].r[r].hva % (2 * MIB) == 0,
					      "%llu MiB: region %d at %p",
					      (unsigned long long)(sizes[i] / MIB), r, (void *)m[j].r[r].hva);
				ck_assert_uint_eq(m[j].r[r].gpa % (2 * MIB), 0);
			}
		}
		for (int j = 0; j < 4; j++)
			guest_mem_free(&m[j]);
	}
}
END_TEST

START_TEST(regions_split_around_the_pci_hole_and_are_usable)
{
	struct guest_mem m;
	uint64_t size = LAYOUT_PCI_HOLE + 65 * MIB;
	ck_assert_int_eq(guest_mem_init(&m, size), 0);
	ck_assert_uint_eq(m.r[0].gpa, 0);
	ck_assert_uint_eq(m.r[0].size, LAYOUT_PCI_HOLE);
	ck_assert_uint_eq(m.r[1].gpa, LAYOUT_HIGH_RAM);
	ck_assert_uint_eq(m.r[1].size, 65 * MIB);
	ck_assert_uint_eq(m.ram_size, size);
	/* The first and last byte of each region are mapped and writable. */
	uint8_t *p = guest_ptr(&m, 0, 1), *q = guest_ptr(&m, LAYOUT_HIGH_RAM + 65 * MIB - 1, 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(q);
	*p = 1;
	*q = 2;
	ck_assert_ptr_null(guest_ptr(&m, LAYOUT_HIGH_RAM + 65 * MIB, 1));
	guest_mem_free(&m);
}
END_TEST

UNIT_MAIN("guest_mem", every_region_is_2mib_aligned_on_the_host,
	  regions_split_around_the_pci_hole_and_are_usable)
