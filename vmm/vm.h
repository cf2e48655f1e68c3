/* vm.h: the VM's lifetime: any thread may ask it to end with an exit status; the main thread
 * waits for that and tears everything down. */
#ifndef MINIVMM_VM_H
#define MINIVMM_VM_H
#include <stdbool.h>

/* Records the exit status (the first request wins) and wakes the main thread. */
void vm_request_exit(int status, const char *why);
/* SIGTERM, SIGINT or SIGHUP: the user ends the VM. That is not a failure: status 0 (as QEMU), with
 * "terminated by signal N" as the reason. */
void vm_request_signal_exit(int signo);
/* The signal that ended the VM, or 0. */
int vm_exit_signal(void);
bool vm_exiting(void);
int vm_exit_status(void);
const char *vm_exit_reason(void);
/* Eventfd that becomes readable once an exit was requested. -1 before vm_lifecycle_init. */
int vm_exit_fd(void);
int vm_lifecycle_init(void);
#endif
