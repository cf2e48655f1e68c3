/* test_machine.c: the computed parts of the machine description (firmware/machine.c): the 64-bit
 * PCI window lies below 2^phys_bits for the guest's phys_bits, clear of RAM and of every e820 RAM
 * range, so the DSDT's _CRS, the DTB and e820 agree on one map. */
#include <check.h>
#include <errno.h>

#include "firmware/e820.h"
#include "firmware/layout.h"
#include "firmware/machine.h"
#include "tests/unit/unit.h"

#define GIB (1ULL << 30)

/* The window of a guest with bits physical address bits and ram bytes, checked against both. */
static struct machine_desc desc(unsigned bits, uint64_t ram)
{
	struct machine_desc md;
	ck_assert_int_eq(machine_desc_init(&md, ram, 1, bits), 0);
	ck_assert_uint_gt(md.mmio64_size, 0);
	ck_assert_uint_eq(md.mmio64_size & (md.mmio64_size - 1), 0);
	ck_assert_uint_eq(md.mmio64_base % md.mmio64_size, 0);
	ck_assert_uint_le(md.mmio64_base + md.mmio64_size, 1ULL << bits);
	ck_assert_uint_ge(md.mmio64_base, LAYOUT_HIGH_RAM);
	struct e820_range r[8];
	int n = e820_build(&md, r);
	for (int i = 0; i < n; i++)
		ck_assert(r[i].addr + r[i].size <= md.mmio64_base ||
			  r[i].addr >= md.mmio64_base + md.mmio64_size);
	return md;
}

START_TEST(window_of_a_39_bit_guest_is_below_512_gib)
{
	struct machine_desc md = desc(39, 512ULL << 20);
	ck_assert_uint_eq(md.mmio64_base, 256 * GIB);
	ck_assert_uint_eq(md.mmio64_size, LAYOUT_PCI_MMIO64_SIZE);
	desc(39, 64 * GIB); /* the largest --mem */
}
END_TEST

START_TEST(window_of_a_48_bit_guest_stays_below_2_to_the_46)
{
	struct machine_desc md = desc(48, 512ULL << 20);
	ck_assert_uint_eq(md.mmio64_base, 1ULL << 45);
	ck_assert_uint_eq(md.mmio64_size, LAYOUT_PCI_MMIO64_SIZE);
	desc(52, 64 * GIB);
}
END_TEST

START_TEST(window_of_a_40_bit_guest_is_the_layout_default)
{
	struct machine_desc md = desc(40, 2 * GIB);
	ck_assert_uint_eq(md.mmio64_base, LAYOUT_PCI_MMIO64);
	ck_assert_uint_eq(md.mmio64_size, LAYOUT_PCI_MMIO64_SIZE);
}
END_TEST

START_TEST(small_address_spaces_shrink_the_window_or_refuse)
{
	/* 36 bits: 64 GiB of address space, an 8 GiB window at 32 GiB. */
	struct machine_desc md = desc(36, 2 * GIB);
	ck_assert_uint_eq(md.mmio64_base, 32 * GIB);
	ck_assert_uint_eq(md.mmio64_size, 8 * GIB);
	/* RAM past 32 GiB pushes the window above it. */
	md = desc(36, 40 * GIB);
	ck_assert_uint_ge(md.mmio64_base, LAYOUT_HIGH_RAM + 40 * GIB - LAYOUT_PCI_HOLE);
	/* 64 GiB of RAM does not fit in 36 bits with any window. */
	ck_assert_int_eq(machine_desc_init(&md, 64 * GIB, 1, 36), -E2BIG);
	ck_assert_int_eq(machine_desc_init(&md, 2 * GIB, 1, 32), -EINVAL);
}
END_TEST

UNIT_MAIN("machine", window_of_a_39_bit_guest_is_below_512_gib,
	  window_of_a_48_bit_guest_stays_below_2_to_the_46, window_of_a_40_bit_guest_is_the_layout_default,
	  small_address_spaces_shrink_the_window_or_refuse)
