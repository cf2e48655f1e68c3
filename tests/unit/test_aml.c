/* test_aml.c: the AML encodings aml.c produces, against hand-assembled bytes (ACPI 6.4 20.2). */
#include <check.h>
#include <string.h>

#include "firmware/aml.h"
#include "tests/unit/unit.h"

static uint8_t buf[8192];
static struct aml a;

static void setup(void)
{
	memset(buf, 0, sizeof(buf));
	aml_init(&a, buf, sizeof(buf));
}

#define ck_assert_aml(...)                                                         \
	do {                                                                       \
		static const uint8_t want[] = { __VA_ARGS__ };                     \
		ck_assert_uint_eq(a.len, sizeof(want));                            \
		ck_assert_mem_eq(a.buf, want, sizeof(want));                       \
	} while (0)

START_TEST(integers_take_the_shortest_encoding)
{
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 0xff);
	aml_integer(&a, 0x100);
	aml_integer(&a, 0x10000);
	aml_integer(&a, 0x100000000ULL);
	ck_assert_aml(0x00, 0x01, 0x0a, 0xff, 0x0b, 0x00, 0x01, 0x0c, 0x00, 0x00, 0x01, 0x00,
		      0x0e, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00);
}
END_TEST

START_TEST(names_are_padded_and_prefixed)
{
	aml_namestring(&a, "\\_SB_.PCI0");
	aml_namestring(&a, "_S5");
	aml_namestring(&a, "\\A.B.C");
	ck_assert_aml('\\', 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', '_', 'S', '5', '_', '\\',
		      0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_');
}
END_TEST

START_TEST(short_package_has_one_byte_pkglength)
{
	size_t m = aml_package(&a, 2);
	aml_integer(&a, 5);
	aml_integer(&a, 0);
	aml_end(&a, m);
	/* PkgLength 5 = itself + count + 0A 05 + 00 */
	ck_assert_aml(0x12, 0x05, 0x02, 0x0a, 0x05, 0x00);
}
END_TEST

START_TEST(long_package_has_two_byte_pkglength)
{
	size_t m = aml_package(&a, 99);
	for (int i = 0; i < 99; i++)
		aml_integer(&a, 0);
	aml_end(&a, m);
	/* body 100 (count + 99 Zeros), PkgLength 102 = 0x66: lead 0x40 | 6, then 0x06 */
	ck_assert_uint_eq(a.len, 1 + 2 + 100);
	ck_assert_uint_eq(buf[0], 0x12);
	ck_assert_uint_eq(buf[1], 0x46);
	ck_assert_uint_eq(buf[2], 0x06);
	ck_assert_uint_eq(buf[3], 99);
	ck_assert_uint_eq(buf[4], 0x00);
}
END_TEST

START_TEST(pkglength_boundary_63_fits_one_byte_64_needs_two)
{
	size_t m = aml_package(&a, 61);
	for (int i = 0; i < 61; i++)
		aml_integer(&a, 0);
	aml_end(&a, m); /* body 62 + 1 = 63 */
	ck_assert_uint_eq(buf[1], 63);
	setup();
	m = aml_package(&a, 62);
	for (int i = 0; i < 62; i++)
		aml_integer(&a, 0);
	aml_end(&a, m); /* body 63 + 2 = 65 = 0x41 */
	ck_assert_uint_eq(buf[1], 0x41);
	ck_assert_uint_eq(buf[2], 0x04);
}
END_TEST

START_TEST(device_in_scope_nests_pkglengths)
{
	size_t s = aml_scope(&a, "\\_SB_");
	size_t d = aml_device(&a, "PCI0");
	aml_name(&a, "_UID");
	aml_integer(&a, 0);
	aml_end(&a, d);
	aml_end(&a, s);
	ck_assert_aml(0x10, 0x13, '\\', '_', 'S', 'B', '_', 0x5b, 0x82, 0x0b, 'P', 'C', 'I', '0',
		      0x08, '_', 'U', 'I', 'D', 0x00);
}
END_TEST

START_TEST(eisaid_compresses_vendor_and_product)
{
	ck_assert_uint_eq(aml_eisaid("PNP0A03"), 0x030ad041);
	ck_assert_uint_eq(aml_eisaid("PNP0501"), 0x0105d041);
}
END_TEST

START_TEST(buffer_with_end_tag)
{
	uint8_t tmp[16];
	struct aml r;
	aml_init(&r, tmp, sizeof(tmp));
	aml_res_io(&r, 0xcf8, 8);
	aml_res_end(&r);
	aml_buffer(&a, r.buf, r.len);
	ck_assert_aml(0x11, 0x0d, 0x0a, 0x0a, 0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08, 0x79,
		      0x00);
}
END_TEST

START_TEST(overflow_is_sticky_and_writes_nothing_past_the_end)
{
	uint8_t small[4] = { 0 };
	aml_init(&a, small, 3);
	aml_bytes(&a, "abcd", 4); /* does not fit: nothing is written */
	ck_assert(a.overflow);
	ck_assert_uint_eq(a.len, 0);
	aml_byte(&a, 1); /* would fit if the overflow were forgotten */
	ck_assert_uint_eq(a.len, 0);
	aml_integer(&a, 0x10000);
	ck_assert_uint_eq(a.len, 0);
	ck_assert_uint_eq(small[3], 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("aml");
	TCase *tc = tcase_create("aml");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, integers_take_the_shortest_encoding);
	tcase_add_test(tc, names_are_padded_and_prefixed);
	tcase_add_test(tc, short_package_has_one_byte_pkglength);
	tcase_add_test(tc, long_package_has_two_byte_pkglength);
	tcase_add_test(tc, pkglength_boundary_63_fits_one_byte_64_needs_two);
	tcase_add_test(tc, device_in_scope_nests_pkglengths);
	tcase_add_test(tc, eisaid_compresses_vendor_and_product);
	tcase_add_test(tc, buffer_with_end_tag);
	tcase_add_test(tc, overflow_is_sticky_and_writes_nothing_past_the_end);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
