/* test_acpi_pm.c: the PM1 event block's fixed-feature power button and the SCI it drives
 * (devices/acpi_pm.c), through the port I/O bus as a guest reaches it. */
#include <check.h>
#include <string.h>

#include "devices/acpi_pm.h"
#include "firmware/layout.h"
#include "tests/unit/unit.h"
#include "vmm/bus.h"
#include "vmm/vm.h"

static int sci_level = -1, sci_gsi = -1, sci_calls;

static int record_irq(uint32_t gsi, int level)
{
	sci_gsi = gsi;
	sci_level = level;
	sci_calls++;
	return 0;
}

static void setup(void)
{
	bus_reset();
	sci_level = sci_gsi = -1;
	sci_calls = 0;
	ck_assert_int_eq(acpi_pm_init_with(record_irq), 0);
}

static uint16_t rd16(uint64_t port)
{
	uint8_t d[2];
	bus_access(BUS_PIO, port, d, 2, false);
	return d[0] | d[1] << 8;
}

static void wr16(uint64_t port, uint16_t v)
{
	uint8_t d[2] = {v, v >> 8};
	bus_access(BUS_PIO, port, d, 2, true);
}

#define STS LAYOUT_PORT_PM1A_EVT
#define EN  (LAYOUT_PORT_PM1A_EVT + 2)
#define PWRBTN (1u << 8)

START_TEST(power_button_sets_status_but_no_sci_until_enabled)
{
	acpi_pm_power_button();
	ck_assert_uint_eq(rd16(STS) & PWRBTN, PWRBTN);
	ck_assert_int_eq(sci_calls, 0);
	wr16(EN, PWRBTN);
	ck_assert_int_eq(sci_gsi, LAYOUT_IRQ_SCI);
	ck_assert_int_eq(sci_level, 1);
	ck_assert_uint_eq(rd16(EN), PWRBTN);
}
END_TEST

START_TEST(writing_one_clears_the_status_and_lowers_the_sci)
{
	wr16(EN, PWRBTN);
	acpi_pm_power_button();
	ck_assert_int_eq(sci_level, 1);
	wr16(STS, 0); /* writing 0 changes nothing */
	ck_assert_uint_eq(rd16(STS) & PWRBTN, PWRBTN);
	ck_assert_int_eq(sci_level, 1);
	wr16(STS, PWRBTN);
	ck_assert_uint_eq(rd16(STS) & PWRBTN, 0);
	ck_assert_int_eq(sci_level, 0);
	ck_assert_int_eq(sci_calls, 2);
}
END_TEST

START_TEST(enable_bits_read_back_and_status_is_not_writable_to_one)
{
	wr16(EN, 0x0121);
	ck_assert_uint_eq(rd16(EN), 0x0121);
	wr16(STS, 0xffff);
	ck_assert_uint_eq(rd16(STS), 0);
	ck_assert_int_eq(sci_calls, 0);
}
END_TEST

START_TEST(s5_sleep_ends_the_vm_with_status_zero)
{
	wr16(LAYOUT_PORT_PM1A_CNT, (LAYOUT_S5_SLP_TYP << 10) | (1u << 13));
	ck_assert(vm_exiting());
	ck_assert_int_eq(vm_exit_status(), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acpi_pm");
	TCase *tc = tcase_create("acpi_pm");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, power_button_sets_status_but_no_sci_until_enabled);
	tcase_add_test(tc, writing_one_clears_the_status_and_lowers_the_sci);
	tcase_add_test(tc, enable_bits_read_back_and_status_is_not_writable_to_one);
	tcase_add_test(tc, s5_sleep_ends_the_vm_with_status_zero);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
