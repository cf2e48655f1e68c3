/* vm.h: the VM's lifetime: any thread may ask it to end with an exit status; the main thread
 * waits for that and tears everything down. */
#ifndef MINIVMM_VM_H
#define MINIVMM_VM_H
#include <stdbool.h>

/* Records the exit status (the first request wins) and wakes the main thread. */
void vm_request_exit(int status, const char *why);
bool vm_exiting(void);
int vm_exit_status(void);
const char *vm_exit_reason(void);
/* Eventfd that becomes readable once an exit was requested. -1 before vm_lifecycle_init. */
int vm_exit_fd(void);
int vm_lifecycle_init(void);
#endif
