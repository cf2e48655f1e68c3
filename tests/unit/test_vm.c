/* Unit tests for vmm/vm.c: exit requests and the status they give minivmm. Check runs each test
 * in its own process, so each starts with no exit requested. */
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "vmm/log.h"
#include "vmm/vm.h"

START_TEST(sigterm_ends_the_vm_with_status_0_and_says_which_signal)
{
	ck_assert_int_eq(vm_lifecycle_init(), 0);
	vm_request_signal_exit(SIGTERM);
	ck_assert(vm_exiting());
	ck_assert_int_eq(vm_exit_status(), 0);
	ck_assert_int_eq(vm_exit_signal(), SIGTERM);
	ck_assert_str_eq(vm_exit_reason(), "terminated by signal 15");
	uint64_t v;
	ck_assert_int_eq(read(vm_exit_fd(), &v, sizeof(v)), sizeof(v));
}
END_TEST

START_TEST(first_exit_request_wins_over_a_later_signal)
{
	vm_request_exit(EXIT_RUNTIME, "guest triple fault");
	vm_request_signal_exit(SIGINT);
	ck_assert_int_eq(vm_exit_status(), EXIT_RUNTIME);
	ck_assert_int_eq(vm_exit_signal(), 0);
	ck_assert_str_eq(vm_exit_reason(), "guest triple fault");
}
END_TEST

UNIT_MAIN("vm", sigterm_ends_the_vm_with_status_0_and_says_which_signal,
	  first_exit_request_wins_over_a_later_signal)
