/* console.h: stdin -> the UART, on the main loop. Ctrl-A x quits (Ctrl-A Ctrl-A sends one Ctrl-A),
 * as in QEMU, since raw mode hands Ctrl-C to the guest. */
#ifndef MINIVMM_CONSOLE_H
#define MINIVMM_CONSOLE_H
#include "devices/serial.h"
#include "vmm/loop.h"

/* Watches in_fd on l and feeds s. 0 or -errno. */
int console_attach(struct loop *l, int in_fd, struct serial *s);
#endif
