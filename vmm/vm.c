/* vm.c: exit requests from vCPU and device threads to the main thread. */
#include "vmm/vm.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

static atomic_int exiting;
static int exit_status;
static const char *exit_why = "";
static int exit_efd = -1;
static int exit_signo;
static char signal_why[32];

int vm_lifecycle_init(void)
{
	exit_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return exit_efd < 0 ? -errno : 0;
}

void vm_request_exit(int status, const char *why)
{
	int expected = 0;
	if (!atomic_compare_exchange_strong(&exiting, &expected, 1))
		return;
	exit_status = status;
	exit_why = why;
	uint64_t one = 1;
	if (exit_efd >= 0 && write(exit_efd, &one, sizeof(one)) < 0) {
		/* An eventfd only fails to take one increment when it is closed: nothing to wake. */
	}
}

void vm_request_signal_exit(int signo)
{
	if (vm_exiting())
		return;
	/* Only the main thread takes signals (signalfd), so nothing races this buffer. */
	snprintf(signal_why, sizeof(signal_why), "terminated by signal %d", signo);
	exit_signo = signo;
	vm_request_exit(0, signal_why);
}

int vm_exit_signal(void)
{
	return vm_exiting() && exit_why == signal_why ? exit_signo : 0;
}

bool vm_exiting(void)
{
	return atomic_load(&exiting);
}

int vm_exit_status(void)
{
	return exit_status;
}

const char *vm_exit_reason(void)
{
	return exit_why;
}

int vm_exit_fd(void)
{
	return exit_efd;
}
